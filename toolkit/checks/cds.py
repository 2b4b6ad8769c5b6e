"""Checks on CDS and CDNSKEY, the child's automation signal to its parent (RFC 7344, RFC
8078, RFC 9615): they must point at published keys, agree with each other and across servers,
be signed by a key the current DS vouches for, and a delete request must have its exact form.

They read the ``cds`` evidence frame (see :mod:`toolkit.schemas`).
"""

from __future__ import annotations

from collections.abc import Iterator

from toolkit.checks.base import Context, Result, collector
from toolkit.checks.evidence import (
    Evidence,
    Row,
    each_zone,
    flag,
    listing,
)

CHECKS, check = collector()


def _ref(r: Row) -> str:
    return f"cds[{r['server']} {r['rrtype']} {str(r['rdata'])[:48]}]"


def _no_cds(ev: Evidence) -> Result | None:
    if ev.rows("cds"):
        return None
    detail = "the zone publishes no CDS or CDNSKEY"
    return Result(ev.zone, "not_applicable", {"detail": detail}, f"cds: no row for {ev.zone}")


_SCOPE = (Evidence.unprobed, _no_cds)
"""Unprobed, then publishing no CDS or CDNSKEY: not_applicable."""


@check(
    id="cds_matches_dnskey",
    title="CDS/CDNSKEY match published keys and each other",
    severity="high",
    pillar="technical",
    description="Every CDS and CDNSKEY record (other than a delete request) points at a DNSKEY "
    "the zone publishes; CDS and CDNSKEY name the same keys; every server publishes the same.",
    risk="A parent that polls CDS/CDNSKEY (RFC 7344) would install a DS for a key the zone does "
    "not publish and make the zone bogus, or flip between servers' differing sets.",
    remediation="Regenerate CDS/CDNSKEY from the current KSK on the signer and make every "
    "server serve the same copy; remove records of retired keys.",
    references=("RFC 7344 §4.1", "RFC 7344 §5", "RFC 8078 §3"),
    message="CDS/CDNSKEY problems: {problems}.",
)
def cds_matches_dnskey(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        cds = ev.rows("cds")
        normal = [r for r in cds if not flag(r["delete"])]
        problems: list[str] = []
        why: list[str] = []
        stray = [r for r in normal if not flag(r["matches_dnskey"])]
        if stray:
            keys = listing(f"{r['rrtype']} {r['key_tag']}" for r in stray)
            problems.append(f"point at no published key ({keys})")
            why += [f"{_ref(r)}: matches no DNSKEY" for r in stray]
        named: dict[str, dict[str, set]] = {}
        for r in normal:
            named.setdefault(r["server"], {}).setdefault(r["rrtype"], set()).add(
                (r["key_tag"], r["algorithm"])
            )
        for server, kinds in sorted(named.items()):
            if len(kinds) == 2 and kinds["CDS"] != kinds["CDNSKEY"]:
                problems.append(f"CDS and CDNSKEY name different keys at {server}")
                why.append(f"cds[{server}]: CDS {kinds['CDS']} vs CDNSKEY {kinds['CDNSKEY']}")
        sets: dict[str, list[str]] = {}
        for r in cds:
            sets.setdefault(r["server"], []).append(str(r["rdata"]))
        if len({tuple(sorted(v)) for v in sets.values()}) > 1:
            problems.append(f"servers publish different sets ({listing(sets)})")
            why += [f"cds[{srv}]: {' | '.join(sorted(v))}" for srv, v in sorted(sets.items())]
        passed = f"{len(normal)} record(s) match published keys" if normal else "delete only"
        return ev.result(why, {"problems": "; ".join(problems)}, passed, _ref(cds[0]))

    yield from each_zone(ctx, ["cds"], _SCOPE, decide)


@check(
    id="cds_signed_by_ds_key",
    title="CDS/CDNSKEY signed by a key the DS vouches for",
    severity="medium",
    pillar="technical",
    description="When the parent already publishes DS records, the CDS and CDNSKEY RRsets are "
    "validly signed by a key one of those DS records points at.",
    risk="A parent applying RFC 7344 ignores CDS/CDNSKEY signed only by other keys: the "
    "automated DS update (or removal) silently never happens.",
    remediation="Sign CDS/CDNSKEY with the KSK (most signers do when told the key's role).",
    references=("RFC 7344 §4.1", "RFC 8078 §3.2"),
    message="CDS/CDNSKEY at {servers} are not signed by a key of the current DS set.",
)
def cds_signed_by_ds_key(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        cds = ev.rows("cds")
        judged = [r for r in cds if r["signed_by_ds_key"] is not None]
        if not judged:
            detail = "no DS at the parent yet: first enrolment is checked by other means"
            return Result(ev.zone, "not_applicable", {"detail": detail}, _ref(cds[0]))
        bad = [r for r in judged if not r["signed_by_ds_key"]]
        why = [f"{_ref(r)}: not signed by a DS key" for r in bad]
        params = {"servers": listing(r["server"] for r in bad)}
        return ev.result(why, params, "signed by a DS key", _ref(cds[0]))

    yield from each_zone(ctx, ["cds"], _SCOPE, decide)


@check(
    id="cds_delete_wellformed",
    title="CDS/CDNSKEY delete requests well formed",
    severity="medium",
    pillar="technical",
    description="A delete request (algorithm 0) is exactly `CDS 0 0 0 00` or "
    "`CDNSKEY 0 3 0 AA==` and alone in its RRset.",
    risk="A malformed or mixed delete request is ignored or misread by the parent: the zone "
    "stays signed at the parent when the operator meant to go insecure, or the reverse.",
    remediation="Publish exactly the RFC 8078 delete records, alone, or none at all.",
    references=("RFC 8078 §4",),
    message="Malformed delete request(s): {records}.",
)
def cds_delete_wellformed(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        cds = ev.rows("cds")
        deletes = [r for r in cds if flag(r["delete"])]
        if not deletes:
            return Result(ev.zone, "not_applicable", {"detail": "no delete request"}, _ref(cds[0]))
        bad = [r for r in deletes if not flag(r["delete_wellformed"]) or r["rrset_size"] > 1]
        why = [
            f"{_ref(r)}: "
            + ("not alone in its RRset" if r["rrset_size"] > 1 else "not the exact delete form")
            for r in bad
        ]
        params = {"records": listing(f"{r['rrtype']} {r['rdata']}" for r in bad)}
        return ev.result(why, params, "delete request well formed", _ref(deletes[0]))

    yield from each_zone(ctx, ["cds"], _SCOPE, decide)
