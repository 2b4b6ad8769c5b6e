"""Checks that compare servers and the two sides of the delegation: DNSKEY set, SOA serial
and NS set the same at every authoritative server, the parent's servers agreeing on the DS
set, parent and child NS sets agreeing; and the denial of existence: proofs that validate,
NSEC3 parameters as RFC 9276 asks, the same method and parameters at every server, and the
NSEC3PARAM record naming the chain served.

They read the ``nameservers`` and ``denial`` evidence frames (see :mod:`toolkit.schemas`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from toolkit.checks.base import Context, Result, collector
from toolkit.checks.evidence import (
    SIGNED,
    Evidence,
    Row,
    each_zone,
    flag,
    listing,
)

CHECKS, check = collector()


def _ns_ref(r: Row, column: str) -> str:
    value = "-" if r[column] is None else r[column]
    return f"nameservers[{r['side']} {r['server']} {column}={value}]"


def _disagreement(rows: list[Row], column: str, missing: str) -> str | None:
    """None when every row shows the same ``column`` (``missing`` standing for None), else
    who shows what."""
    values: dict[str, list[str]] = {}
    for r in rows:
        shown = missing if r[column] is None else str(r[column])
        values.setdefault(shown, []).append(str(r["server"]))
    if len(values) < 2:
        return None
    return "; ".join(f"{listing(servers)}: {v}" for v, servers in sorted(values.items()))


def _agree(column: str, what: str) -> Callable[[Evidence], Result]:
    """The decision: pass when every answering zone server shows the same ``column``;
    indeterminate when fewer than two of several servers answered; fail listing the values
    otherwise."""

    def decide(ev: Evidence) -> Result:
        child, answering = ev.child(), ev.answering()
        servers = {r["server"] for r in child}
        if len(answering) < 2 and len(servers) > 1:
            detail = f"only {len(answering)} of {len(servers)} servers answered"
            return Result(ev.zone, "indeterminate", {"detail": detail}, _ns_ref(child[0], column))
        refs = "; ".join(_ns_ref(r, column) for r in answering)
        seen = _disagreement(answering, column, "none")
        if seen:
            return Result(ev.zone, "fail", {"what": what, "seen": seen}, refs)
        return Result(ev.zone, "pass", {"detail": f"{len(answering)} server(s) agree"}, refs)

    return decide


@check(
    id="dnskey_consistent_across_servers",
    title="Same DNSKEY set on every server",
    severity="high",
    pillar="technical",
    description="Every authoritative server of the zone serves the same DNSKEY RRset.",
    risk="A stale or diverging server during a rollover is the classic DNSSEC outage: a "
    "resolver that mixes answers from two servers finds signatures by keys it does not have.",
    remediation="Find the server that lags (zone transfer, signer distribution) and resync it "
    "before the rollover goes on.",
    references=("RFC 6781 §4.1", "RFC 7583 §3.1", "NIST SP 800-53 SC-22"),
    message="The servers serve different {what}s: {seen}.",
)
def dnskey_consistent_across_servers(ctx: Context) -> Iterator[Result]:
    yield from each_zone(ctx, ["dnskeys"], SIGNED, _agree("dnskey_set", "DNSKEY set"))


@check(
    id="soa_serial_consistent_across_servers",
    title="Same SOA serial on every server",
    severity="medium",
    pillar="technical",
    description="Every authoritative server of the zone serves the same SOA serial.",
    risk="A server behind on serials serves old data and old signatures: users see different "
    "answers, and during a rollover old keys.",
    remediation="Check zone transfers (NOTIFY, IXFR/AXFR, ACLs) to the lagging server.",
    references=("RFC 1996", "RFC 2182 §3"),
    message="The servers serve different {what}s: {seen}.",
)
def soa_serial_consistent_across_servers(ctx: Context) -> Iterator[Result]:
    yield from each_zone(ctx, [], [Evidence.unprobed], _agree("soa_serial", "SOA serial"))


@check(
    id="ns_consistent_across_servers",
    title="Same NS set on every server",
    severity="medium",
    pillar="technical",
    description="Every authoritative server of the zone serves the same apex NS RRset.",
    risk="Diverging copies of the zone: which servers a resolver trusts depends on whom it "
    "asked first; a sign of a server serving a stale or hand-edited copy.",
    remediation="Resynchronise the servers from the primary and correct the zone source.",
    references=("RFC 1034 §4.2.2", "RFC 2182 §3"),
    message="The servers serve different {what}s: {seen}.",
)
def ns_consistent_across_servers(ctx: Context) -> Iterator[Result]:
    yield from each_zone(ctx, [], [Evidence.unprobed], _agree("ns_set", "NS set"))


@check(
    id="parent_child_ns_agree",
    title="Parent and zone agree on the NS set",
    severity="medium",
    pillar="technical",
    description="The NS set of the parent's delegation equals the apex NS set every server of "
    "the zone serves.",
    risk="Servers listed on one side only get no or unexpected traffic; a server missing at "
    "the parent cannot be reached at all, one missing in the zone is dropped by resolvers.",
    remediation="Update the delegation at the registrar or the zone's apex NS so they match.",
    references=("RFC 1034 §4.2.2", "RFC 7477 §1"),
    message="The parent delegates to {parent}; the zone's servers list {child}.",
)
def parent_child_ns_agree(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        parent_rows = [r for r in ev.rows("nameservers") if r["side"] == "parent"]
        parent = [r for r in parent_rows if r["ns_set"] is not None]
        if not parent_rows:
            return Result(ev.zone, "not_applicable", {"detail": "no parent (trust anchor)"})
        if not parent:
            detail = "no parent server returned the delegation's NS set"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"nameservers[{ev.zone}]")
        child = ev.answering()
        refs = "; ".join(_ns_ref(r, "ns_set") for r in [*parent, *child])
        if _disagreement([*parent, *child], "ns_set", "none"):
            params = {
                "parent": listing(r["ns_set"] for r in parent),
                "child": listing(r["ns_set"] or "none" for r in child),
            }
            return Result(ev.zone, "fail", params, refs)
        return Result(ev.zone, "pass", {"detail": "NS sets agree"}, refs)

    yield from each_zone(ctx, [], [Evidence.unprobed], decide)


@check(
    id="parent_servers_agree_on_ds",
    title="Every parent server serves the same DS set",
    severity="high",
    pillar="technical",
    description="Every authoritative server of the parent zone that answered serves the same "
    "DS RRset (or the same absence of one) for the zone.",
    risk="A DS change half-propagated at the parent makes the zone secure through some parent "
    "servers and bogus or insecure through others.",
    remediation="Tell the registry/parent operator; hold any key removal until every parent "
    "server serves the new DS set and its TTL has passed.",
    references=("RFC 7583 §3.3", "RFC 6781 §4.1.2"),
    message="The parent's servers serve different DS sets: {seen}.",
)
def parent_servers_agree_on_ds(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        parent = [r for r in ev.rows("nameservers") if r["side"] == "parent"]
        if not parent:
            return ev.unprobed() or Result(ev.zone, "not_applicable", {"detail": "no parent"})
        answered = [r for r in parent if flag(r["answered"])]
        servers = {r["server"] for r in parent}
        refs = "; ".join(_ns_ref(r, "ds_set") for r in parent)
        if not answered or (len(answered) < 2 and len(servers) > 1):
            detail = f"{len(answered)} of {len(servers)} parent servers answered"
            return Result(ev.zone, "indeterminate", {"detail": detail}, refs)
        seen = _disagreement(answered, "ds_set", "no DS")
        if seen:
            return Result(ev.zone, "fail", {"seen": seen}, refs)
        detail = f"{len(answered)} parent server(s) agree"
        return Result(ev.zone, "pass", {"detail": detail}, refs)

    yield from each_zone(ctx, [], [], decide)


def _denial_ref(r: Row) -> str:
    return f"denial[{r['server']} {r['qname']} {r['qtype']} {r['kind']}]"


@check(
    id="denial_proofs_valid",
    title="Denial-of-existence proofs validate",
    severity="high",
    pillar="technical",
    description="A random name under the zone (NXDOMAIN, or a wildcard NODATA when a wildcard "
    "without the type asked covers it) and the apex with a type it does not hold (NODATA) come, "
    "from every server, with a complete NSEC or NSEC3 proof whose signatures verify.",
    risk="Without a valid proof, validators turn every 'no such name' or 'no such record' into "
    "SERVFAIL: mail and service discovery lookups fail for validating users.",
    remediation="Re-sign the zone so its NSEC/NSEC3 chain is complete and signed; check the "
    "server serves the signed denial records.",
    references=("RFC 4035 §3.1.3", "RFC 4035 §5.4", "RFC 5155 §7.2.5", "RFC 5155 §8"),
    message="{count} denial answer(s) do not prove what they deny: {why}.",
)
def denial_proofs_valid(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        rows = [r for r in ev.rows("denial") if r.get("wildcard") is None]  # see wildcard_...
        judged = [r for r in rows if r["proof"] in ("valid", "invalid")]
        unverifiable = [r for r in rows if r["proof"] == "unverifiable"]
        if not any(r["proof"] == "invalid" for r in judged) and unverifiable:
            # signed only with an algorithm the toolkit does not validate: never a pass
            detail = (
                f"{len(unverifiable)} proof(s) signed only with an algorithm validators do not "
                "validate: whether they verify is unknown (see dnskey_algorithm_must_not_sign)"
            )
            evidence = "; ".join(f"{_denial_ref(r)}: {r['why']}" for r in unverifiable)
            return Result(ev.zone, "indeterminate", {"detail": detail}, evidence)
        if not judged:
            detail = "no denial answer of a signed server to judge"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"denial[{ev.zone}]")
        bad = [r for r in judged if r["proof"] == "invalid"]
        why = [f"{_denial_ref(r)}: {r['why']}" for r in bad]
        params = {"count": len(bad), "why": listing(r["why"] for r in bad)}
        passed = f"{len(judged)} proof(s) validate"
        return ev.result(why, params, passed, "; ".join(_denial_ref(r) for r in judged))

    yield from each_zone(ctx, ["dnskeys", "denial"], SIGNED, decide)


@check(
    id="nsec3_parameters_rfc9276",
    title="NSEC3 with no extra iterations and no salt",
    severity="medium",
    pillar="technical",
    description="A zone using NSEC3 uses 0 extra iterations and an empty salt.",
    risk="Iterations cost validators CPU and buy no protection against zone walking; validators "
    "may treat high counts as insecure (EDE 27) or fail them; a salt adds nothing.",
    remediation="Set NSEC3 parameters to 1 0 0 - (iterations 0, no salt) on the signer.",
    references=("RFC 9276 §3.1", "RFC 9276 §3.2", "RFC 5155 §10.3"),
    message="NSEC3 uses {iterations} extra iteration(s) and salt '{salt}'.",
)
def nsec3_parameters_rfc9276(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        denial = ev.rows("denial")
        nsec3 = [r for r in denial if r["kind"] == "nsec3"]
        if not nsec3:
            if any(r["kind"] == "nsec" for r in denial):
                detail = "the zone uses NSEC"
                return Result(ev.zone, "not_applicable", {"detail": detail}, f"denial[{ev.zone}]")
            detail = "no NSEC or NSEC3 record seen"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"denial[{ev.zone}]")
        bad = [r for r in nsec3 if (r["iterations"] or 0) > 0 or (r["salt"] or "") != ""]
        why = [f"{_denial_ref(r)}: iterations {r['iterations']}, salt '{r['salt']}'" for r in bad]
        params = {
            "iterations": listing(r["iterations"] or 0 for r in bad),
            "salt": listing(r["salt"] or "" for r in bad),
        }
        return ev.result(why, params, "iterations 0, no salt", _denial_ref(nsec3[0]))

    yield from each_zone(ctx, ["dnskeys", "denial"], SIGNED, decide)


def _denial_shape(r: Row) -> str:
    """How one denial answer denies: NSEC, or NSEC3 with its parameters and opt-out flag."""
    if r["kind"] == "nsec":
        return "NSEC"
    salt = (r["salt"] or "").lower() or "-"
    opt_out = ", opt-out" if flag(r["opt_out"]) else ""
    return f"NSEC3 iterations {r['iterations'] or 0} salt {salt}{opt_out}"


MIXED_IN_ONE = "NSEC and NSEC3 mixed in one response"
"""How :mod:`toolkit.collect.denial` starts the ``why`` of an answer holding both methods."""


def _denials(ev: Evidence) -> list[Row]:
    return [r for r in ev.rows("denial") if r["kind"] in ("nsec", "nsec3")]


@check(
    id="denial_consistent_across_servers",
    title="Every server denies existence the same way",
    severity="medium",
    pillar="technical",
    description="Every denial answer of every server of the zone uses the same method: NSEC "
    "everywhere, or NSEC3 with the same iterations, salt and opt-out flag everywhere; no answer "
    "holds NSEC and NSEC3 records together (RFC 5155 §7.2: NSEC3 instead of NSEC). The finding "
    "says when NSEC and NSEC3 are mixed, across servers or within one answer.",
    risk="Servers that deny with NSEC and NSEC3, or with NSEC3 chains of other parameters, serve "
    "different signed versions of the zone: a secondary that stopped transferring, or a change "
    "of denial method half rolled out. Which version a user gets depends on the server asked, "
    "and a later change (a key rollover, a re-sign) may reach only some of them.",
    remediation="Find the server(s) serving the other version (compare SOA serials), make them "
    "transfer the signer's current zone, and finish or roll back the change of denial method.",
    references=("RFC 5155 §4", "RFC 5155 §10.4", "RFC 4035 §3.1.3"),
    message="Servers deny existence differently: {seen}.",
)
def denial_consistent_across_servers(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        rows = _denials(ev)
        if not rows:
            detail = "no NSEC or NSEC3 record seen (see denial_proofs_valid)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"denial[{ev.zone}]")
        shapes: dict[str, list[Row]] = {}
        for r in rows:
            shapes.setdefault(_denial_shape(r), []).append(r)
        refs = "; ".join(f"{_denial_ref(r)}: {_denial_shape(r)}" for r in rows)
        # a response holding both (toolkit.collect.denial judges it by either proof, and its
        # why says so): one server mixing the methods in one answer
        both = [r for r in rows if str(r["why"] or "").startswith(MIXED_IN_ONE)]
        kinds = {r["kind"] for r in rows}
        if len(shapes) > 1 or both:
            seen = "; ".join(
                f"{listing(r['server'] + ' ' + r['purpose'] for r in rs)}: {shape}"
                for shape, rs in sorted(shapes.items())
            )
            mixed = []
            if kinds == {"nsec", "nsec3"}:
                mixed.append("NSEC and NSEC3 mixed across servers (RFC 5155 §10.4)")
            if both:
                where = listing(r["server"] + " " + r["purpose"] for r in both)
                mixed.append(f"NSEC and NSEC3 mixed in one answer at {where} (RFC 5155 §7.2)")
            if mixed:
                seen = "; ".join(mixed) + (f"; {seen}" if len(shapes) > 1 else "")
            return Result(ev.zone, "fail", {"seen": seen}, refs)
        servers = {r["server"] for r in rows}
        detail = f"{next(iter(shapes))} in {len(rows)} answer(s) of {len(servers)} server(s)"
        return Result(ev.zone, "pass", {"detail": detail}, refs)

    yield from each_zone(ctx, ["dnskeys", "denial"], SIGNED, decide)


def _nsec3params(text: str) -> list[tuple[int, str]]:
    """(iterations, salt hex in lower case, "" for none) of each NSEC3PARAM in ``text``."""
    out = []
    for record in filter(None, text.split(";")):
        _alg, _flags, iterations, salt = record.split()
        out.append((int(iterations), "" if salt == "-" else salt.lower()))
    return out


@check(
    id="nsec3param_matches_chain",
    title="The NSEC3PARAM record names the NSEC3 chain the server uses",
    severity="medium",
    pillar="technical",
    description="At every server, the apex NSEC3PARAM record and the NSEC3 records of the "
    "denial answers agree: an NSEC3PARAM has the iterations and salt of the chain served (a "
    "denial answer without any NSEC3 beside an NSEC3PARAM names no chain served), a zone "
    "denying with NSEC3 publishes an NSEC3PARAM, and a zone denying with NSEC publishes none.",
    risk="Authoritative servers (and secondaries loading the zone) choose the NSEC3 chain to "
    "answer from by the NSEC3PARAM (RFC 5155 §4): one that names no chain in the zone leaves "
    "them without a chain to prove 'no such name' from, and validators then fail those answers. "
    "A mismatch also shows the signer's denial configuration was changed by hand or half-way.",
    remediation="Re-sign the zone so that its NSEC3PARAM and its NSEC3 chain carry the same "
    "parameters (remove a stale NSEC3PARAM from an NSEC zone); RFC 9276 asks for 1 0 0 -.",
    references=("RFC 5155 §4", "RFC 5155 §7.1", "RFC 9276 §3.1"),
    message="NSEC3PARAM and the denial answers disagree: {why}.",
)
def nsec3param_matches_chain(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        rows = [
            r
            for r in ev.rows("denial")
            if r.get("nsec3param") is not None and r["proof"] not in ("unsigned", "not_denied")
        ]
        if not rows:
            detail = (
                "no NSEC3PARAM answer recorded beside an NSEC or NSEC3 denial (a run stored "
                "before the toolkit recorded it, or no proof seen)"
            )
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"denial[{ev.zone}]")
        bad: list[tuple[Row, str]] = []
        for r in rows:
            params = _nsec3params(r["nsec3param"])
            chain = (r["iterations"] or 0, (r["salt"] or "").lower())
            if r["kind"] == "nsec" and params:
                bad.append((r, f"NSEC proof, but NSEC3PARAM {r['nsec3param']}"))
            elif r["kind"] == "nsec3" and not params:
                bad.append((r, "NSEC3 proof, but no NSEC3PARAM"))
            elif r["kind"] == "none" and params:
                bad.append((r, f"no NSEC3 in the answer, NSEC3PARAM {r['nsec3param']}"))
            elif r["kind"] == "nsec3" and chain not in params:
                chain_text = f"iterations {chain[0]} salt {chain[1] or '-'}"
                bad.append((r, f"NSEC3 chain {chain_text}, NSEC3PARAM {r['nsec3param']}"))
        why = [f"{_denial_ref(r)}: {text}" for r, text in bad]
        shown = listing(f"{text} at {r['server']}" for r, text in bad)
        refs = "; ".join(f"{_denial_ref(r)}: NSEC3PARAM {r['nsec3param'] or 'none'}" for r in rows)
        return ev.result(why, {"why": shown}, f"{len(rows)} answer(s) agree", refs)

    yield from each_zone(ctx, ["dnskeys", "denial"], SIGNED, decide)


@check(
    id="wildcard_answers_proven",
    title="Wildcard answers prove the name asked does not exist",
    severity="high",
    pillar="technical",
    description="When a name that does not exist is answered from a wildcard (the RRSIG's "
    "Labels field below the owner's label count), the answer's signature verifies and an NSEC "
    "covering the name, or an NSEC3 covering its next closer name, proves that the name itself "
    "does not exist.",
    risk="Validators accept a wildcard-expanded answer only with that proof (RFC 4035 §5.3.4, "
    "RFC 5155 §8.8): without it every name served by the wildcard is bogus and fails for "
    "validating users, while the apex and the named records look fine.",
    remediation="Re-sign the zone so that its NSEC/NSEC3 chain is complete and signed, and make "
    "sure the servers add the covering NSEC/NSEC3 record to wildcard answers.",
    references=("RFC 4035 §5.3.4", "RFC 4035 §3.1.3.3", "RFC 5155 §8.8", "RFC 4592"),
    message="{count} wildcard answer(s) without a valid proof: {why}.",
)
def wildcard_answers_proven(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        rows = [r for r in ev.rows("denial") if r.get("wildcard") is not None]
        if not rows:
            data = [r for r in ev.rows("denial") if r["proof"] == "not_denied"]
            if data:
                detail = (
                    "a name that should not exist was answered with data the toolkit did not "
                    "trace to a wildcard (unsigned, or a run stored before wildcard answers were "
                    "recorded)"
                )
                return Result(ev.zone, "indeterminate", {"detail": detail}, _denial_ref(data[0]))
            detail = "no wildcard answered the random name asked"
            return Result(ev.zone, "not_applicable", {"detail": detail}, f"denial[{ev.zone}]")
        bad = [r for r in rows if r["proof"] == "invalid"]
        unverifiable = [r for r in rows if r["proof"] == "unverifiable"]
        refs = "; ".join(f"{_denial_ref(r)}: {r['why']}" for r in rows)
        if not bad and unverifiable:
            detail = "wildcard answer(s) signed only with an algorithm validators do not validate"
            return Result(ev.zone, "indeterminate", {"detail": detail}, refs)
        why = [f"{_denial_ref(r)}: {r['why']}" for r in bad]
        params = {"count": len(bad), "why": listing(f"{r['why']} at {r['server']}" for r in bad)}
        wildcards = listing(r["wildcard"] for r in rows)
        return ev.result(why, params, f"answers from {wildcards} proven", refs)

    yield from each_zone(ctx, ["dnskeys", "denial"], SIGNED, decide)
