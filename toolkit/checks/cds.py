"""Checks on CDS and CDNSKEY, the child's automation signal to its parent (RFC 7344, RFC
8078, RFC 9615): they must point at published keys, agree with each other and across servers,
be signed by a key the current DS vouches for, and a delete request must have its exact form.

They read the ``cds`` evidence frame (see :mod:`toolkit.schemas`); ``cds_pending_not_stale``
also the ``cds_history`` of the runs before (:mod:`toolkit.history.signing`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from toolkit.checks.base import Context, Result, collector, zone_rows
from toolkit.checks.evidence import (
    Evidence,
    Row,
    each_zone,
    flag,
    listing,
)
from toolkit.checks.records import signing_history
from toolkit.history.signing import CDS_STALE_DAYS, pending_since

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


def _no_delete(ev: Evidence) -> Result | None:
    """not_applicable when the zone publishes no delete request."""
    cds = ev.rows("cds")
    if any(flag(r["delete"]) for r in cds):
        return None
    return Result(ev.zone, "not_applicable", {"detail": "no delete request"}, _ref(cds[0]))


def _deletes_only(ev: Evidence) -> Result | None:
    """not_applicable when every CDS/CDNSKEY is a delete request: no key is named."""
    cds = ev.rows("cds")
    if not all(flag(r["delete"]) for r in cds):
        return None
    detail = "delete request only (see cds_delete_while_ds)"
    return Result(ev.zone, "not_applicable", {"detail": detail}, _ref(cds[0]))


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
        named: dict[str, dict[str, set[tuple[int, int]]]] = {}
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
        deletes = [r for r in ev.rows("cds") if flag(r["delete"])]
        bad = [r for r in deletes if not flag(r["delete_wellformed"]) or r["rrset_size"] > 1]
        why = [
            f"{_ref(r)}: "
            + ("not alone in its RRset" if r["rrset_size"] > 1 else "not the exact delete form")
            for r in bad
        ]
        params = {"records": listing(f"{r['rrtype']} {r['rdata']}" for r in bad)}
        return ev.result(why, params, "delete request well formed", _ref(deletes[0]))

    yield from each_zone(ctx, ["cds"], (*_SCOPE, _no_delete), decide)


def _parent_ds(ev: Evidence) -> Result | None:
    """not_applicable when the parent holds no DS (first enrolment, RFC 8078 §3: checked by
    other means), indeterminate when whether it does could not be told, else None."""
    if ev.has_ds:
        return None
    if ev.row.get("has_ds") is False:
        detail = "no DS at the parent: a CDS/CDNSKEY here is an enrolment request"
        return Result(
            ev.zone, "not_applicable", {"detail": detail}, f"ds_matches: none for {ev.zone}"
        )
    detail = "whether the parent holds a DS could not be told: not evidenced"
    return Result(ev.zone, "indeterminate", {"detail": detail}, f"zones[{ev.zone}]: has_ds unknown")


@check(
    id="cds_pending_at_parent",
    title="CDS/CDNSKEY agree with the parent's DS (no pending change)",
    severity="low",
    pillar="technical",
    description="When the parent holds DS records, the zone's CDS/CDNSKEY (other than a delete "
    "request) describe exactly that DS set: every CDS/CDNSKEY corresponds to a DS, and every DS "
    "key is named by a CDS/CDNSKEY. A difference is a change the zone asks for that the parent "
    "has not made (Zonemaster DNSSEC15–16).",
    risk="A parent that polls CDS/CDNSKEY will change the DS set to what they say; if it does "
    "not poll, a rollover waiting on the DS change stalls, and removing the old key before the "
    "parent acts breaks the chain of trust.",
    remediation="Confirm the change is intended: if so, have the parent (registrar) update the "
    "DS, or check why its CDS scanning has not; if not, regenerate CDS/CDNSKEY from the keys the "
    "DS should vouch for. Do not retire a key until the parent's DS no longer needs it.",
    references=("RFC 7344 §4", "RFC 7344 §5", "RFC 8078 §3", "RFC 7583 §3.3.5"),
    message="CDS/CDNSKEY ask the parent for a change it has not made: {changes}.",
)
def cds_pending_at_parent(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        normal = [r for r in ev.rows("cds") if not flag(r["delete"])]
        ds_keys = {(r["key_tag"], r["algorithm"]) for r in ev.rows("ds_matches")}
        add = [r for r in normal if r["matches_ds"] is False]
        unknown = [r for r in normal if r["matches_ds"] is None]
        named: dict[str, set[tuple[int, int]]] = {}
        for r in normal:
            named.setdefault(r["server"], set()).add((r["key_tag"], r["algorithm"]))
        remove = {
            (server, tag, alg) for server, keys in named.items() for tag, alg in ds_keys - keys
        }
        changes: list[str] = []
        if add:
            changes.append("add " + listing(f"{r['rrtype']} {r['rdata']}" for r in add))
        if remove:
            changes.append("remove the DS of key(s) " + listing(f"{t}/{a}" for _, t, a in remove))
        why = [f"{_ref(r)}: no such DS at the parent" for r in add]
        why += [f"ds_matches[key {t}/{a}]: not named by CDS/CDNSKEY at {s}" for s, t, a in remove]
        if not why and unknown:
            detail = f"{len(unknown)} record(s) could not be compared with the DS set"
            return Result(ev.zone, "indeterminate", {"detail": detail}, _ref(unknown[0]))
        passed = f"{len(normal)} record(s) describe the parent's DS set"
        return ev.result(why, {"changes": "; ".join(changes)}, passed, _ref(normal[0]))

    yield from each_zone(ctx, ["cds", "ds_matches"], (*_SCOPE, _parent_ds, _deletes_only), decide)


@check(
    id="cds_delete_while_ds",
    title="No unanswered delete request (CDS/CDNSKEY algorithm 0)",
    severity="medium",
    pillar="technical",
    description="The zone does not publish a CDS/CDNSKEY delete request while the parent "
    "still holds DS records for it.",
    risk="The zone asks to become insecure (RFC 8078 §4) and the parent has not acted: either "
    "the request is a mistake that a polling parent will carry out (the zone loses DNSSEC), "
    "or the zone is about to be unsigned while its DS remains, which makes it bogus.",
    remediation="If the zone is to stay signed, remove the delete request now. If it is to "
    "become insecure, have the parent remove the DS and keep the zone signed until the DS TTL "
    "has passed after the removal.",
    references=("RFC 8078 §4", "RFC 7344 §4.1", "RFC 6781 §4.3.3"),
    message="A delete request ({records}) is published while the parent still holds DS "
    "records ({ds}).",
)
def cds_delete_while_ds(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        deletes = [r for r in ev.rows("cds") if flag(r["delete"])]
        ds = ev.rows("ds_matches")
        params = {
            "records": listing(f"{r['rrtype']} {r['rdata']} at {r['server']}" for r in deletes),
            "ds": listing(f"{r['key_tag']} {r['algorithm']} {r['digest_type']}" for r in ds),
        }
        why = [f"{_ref(r)}: delete request; parent DS count {len(ds)}" for r in deletes]
        return ev.result(why, params, "", _ref(deletes[0]))

    yield from each_zone(ctx, ["cds", "ds_matches"], (*_SCOPE, _parent_ds, _no_delete), decide)


@check(
    id="cds_and_cdnskey_published",
    title="CDS and CDNSKEY published together",
    severity="low",
    pillar="technical",
    description="Every server that publishes CDS also publishes CDNSKEY, and the reverse "
    "(Zonemaster DNSSEC15 DS15_HAS_CDS_NO_CDNSKEY / DS15_HAS_CDNSKEY_NO_CDS).",
    risk="Parents read one or the other (RFC 7344 §4 leaves the choice to them: some registries "
    "scan only CDS, others only CDNSKEY): a parent reading the missing type sees no request, so "
    "the automated DS update silently never happens there.",
    remediation="Configure the signer to publish both CDS and CDNSKEY for the same keys (or a "
    "delete request in both).",
    references=("RFC 7344 §4", "RFC 8078 §3", "Zonemaster DNSSEC15"),
    message="Only one of CDS/CDNSKEY is published: {missing}.",
)
def cds_and_cdnskey_published(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        cds = ev.rows("cds")
        kinds: dict[str, set[str]] = {}
        for r in cds:
            kinds.setdefault(r["server"], set()).add(r["rrtype"])
        lone = {s: k for s, k in kinds.items() if len(k) == 1}
        missing = [
            f"{next(iter(k))} without {'CDNSKEY' if 'CDS' in k else 'CDS'} at {s}"
            for s, k in sorted(lone.items())
        ]
        why = [f"cds[{s}]: {m}" for s, m in zip(sorted(lone), missing, strict=True)]
        return ev.result(why, {"missing": "; ".join(missing)}, "both published", _ref(cds[0]))

    yield from each_zone(ctx, ["cds"], _SCOPE, decide)


@check(
    id="cds_key_signs_dnskey",
    title="CDS/CDNSKEY point at a key that signs the DNSKEY RRset",
    severity="high",
    pillar="technical",
    description="Every key a CDS or CDNSKEY record (other than a delete request) points at is "
    "published and validly signs the DNSKEY RRset at that server (Zonemaster DNSSEC16–17 "
    "DS16_CDS_NOT_SIGNED_BY_CDS / DS17_CDNSKEY_NOT_SIGNED_BY_CDNSKEY).",
    risk="A parent acting on the record would install a DS for a key that does not sign the "
    "DNSKEY RRset: validators find no DNSKEY signature the DS vouches for and the zone becomes "
    "bogus for every validating user.",
    remediation="Publish CDS/CDNSKEY only for the KSK/CSK that signs the DNSKEY RRset (let the "
    "signer derive them from the active KSK); sign the DNSKEY RRset with the new KSK before "
    "publishing its CDS.",
    references=("RFC 7344 §4.1", "RFC 7344 §5", "RFC 4035 §5.2"),
    message="CDS/CDNSKEY point at key(s) that do not sign the DNSKEY RRset: {keys}.",
)
def cds_key_signs_dnskey(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        normal = [r for r in ev.rows("cds") if not flag(r["delete"])]
        signs = {
            (k["server"], k["key_tag"], k["algorithm"]): "DNSKEY"
            in str(k["signs"] or "").split(";")
            for k in ev.rows("dnskeys")
        }
        bad = [r for r in normal if not signs.get((r["server"], r["key_tag"], r["algorithm"]))]
        why = [
            f"{_ref(r)}: "
            + (
                "key not published"
                if (r["server"], r["key_tag"], r["algorithm"]) not in signs
                else f"dnskeys[{r['server']} key {r['key_tag']}/{r['algorithm']}]: no DNSKEY sig"
            )
            for r in bad
        ]
        params = {"keys": listing(f"{r['rrtype']} {r['key_tag']}/{r['algorithm']}" for r in bad)}
        return ev.result(why, params, "the keys named sign the DNSKEY RRset", _ref(normal[0]))

    yield from each_zone(ctx, ["cds", "dnskeys"], (*_SCOPE, _deletes_only), decide)


@check(
    id="cds_pending_not_stale",
    title="A pending CDS/CDNSKEY change is acted on within a week",
    severity="medium",
    pillar="technical",
    description="When the zone's CDS/CDNSKEY differ from the parent's DS (see "
    "cds_pending_at_parent), the same records have not differed for more than "
    f"{CDS_STALE_DAYS:g} days across the stored runs: the age runs from the first run that "
    "showed them pending. Indeterminate when the runs cannot bound the age on either side of "
    "the threshold (a single run, or a long gap before the first).",
    risk="Parents that scan CDS (RFC 7344 §6, RFC 9615) do so at least daily: a request "
    "unanswered for a week means the parent is not acting on it. The rollover waiting on it "
    "stalls, and an operator who retires the old key on schedule breaks the chain of trust.",
    remediation="Ask the registrar (or parent operator) whether it scans CDS/CDNSKEY for the "
    "zone and why the DS was not updated; submit the DS through the registrar if it does not "
    "scan. If the request is not intended, regenerate CDS/CDNSKEY from the keys the DS should "
    "vouch for. Keep the old key until the parent's DS no longer needs it.",
    references=("RFC 7344 §4", "RFC 7344 §6", "RFC 9615 §3", "RFC 7583 §3.3.5"),
    message="CDS/CDNSKEY have differed from the parent's DS for {age:.1f} days (threshold "
    f"{CDS_STALE_DAYS:g}), since run {{first_run}} of {{first_at}}: {{records}}.",
)
def cds_pending_not_stale(ctx: Context) -> Iterator[Result]:
    _, states = signing_history(ctx)
    states = states[states["observed_at"] <= pd.Timestamp(ctx.now)]
    of = zone_rows(states)

    def decide(ev: Evidence) -> Result:
        rows = of(ev.zone)
        ref = f"cds_history[{ev.zone}]: {len(rows)} run(s)"
        if not rows or (ctx.run_id and rows[-1]["run_id"] != ctx.run_id):
            detail = "the assessed run is not in the CDS history: not evidenced"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        if rows[-1]["pending"] is None:
            detail = "the CDS/CDNSKEY could not be compared with the DS set"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        p = pending_since(rows)
        if p is None:
            return Result(ev.zone, "pass", {"detail": "no pending change"}, ref)
        since = f"pending since run {p.first_run} ({p.first_at:%Y-%m-%d %H:%M})"
        ref = f"{ref}; {since}, seen in {p.runs} run(s)"
        if p.before_run is not None:
            ref += f"; not pending in run {p.before_run} ({p.before_at:%Y-%m-%d %H:%M})"
        if p.age_days > CDS_STALE_DAYS:
            params = {
                "age": p.age_days,
                "first_run": p.first_run,
                "first_at": f"{p.first_at:%Y-%m-%d %H:%M}",
                "records": p.records.replace("|", "; ")[:300],
            }
            return Result(ev.zone, "fail", params, ref)
        upper = p.max_age_days
        if upper is not None and upper <= CDS_STALE_DAYS:
            detail = f"{since}: at most {upper:.1f} days old"
            return Result(ev.zone, "pass", {"detail": detail}, ref)
        bound = "no earlier run" if upper is None else f"up to {upper:.1f} days"
        detail = f"{since}: at least {p.age_days:.1f} days old, {bound}: cannot tell"
        return Result(ev.zone, "indeterminate", {"detail": detail}, ref)

    yield from each_zone(ctx, ["cds", "ds_matches"], (*_SCOPE, _parent_ds, _deletes_only), decide)
