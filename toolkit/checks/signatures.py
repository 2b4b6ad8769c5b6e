"""Checks on the zone's RRSIGs, per RRset and server: expired, not yet valid, not verifying,
wrong signer, missing, missing for an algorithm, made by a revoked key; and their timing
against the TTLs and the SOA expire.

They read the ``signatures`` evidence frame (the zone's own RRsets, ``side == "child"``: the
apex SOA, DNSKEY, NS, CDS, CDNSKEY, NSEC3PARAM and the denial records; see
:mod:`toolkit.schemas`). Every status was decided at the time of the answer that carried it.
"""

from __future__ import annotations

from collections.abc import Iterator

from toolkit.checks.base import Context, Result, collector
from toolkit.checks.evidence import (
    SIGNED,
    Evidence,
    Row,
    each_zone,
    listing,
    sig_ref,
)

CHECKS, check = collector()

USABLE = (
    "valid",
    "revoked_key",
    "expired",
    "premature",
    "invalid",
    "unsupported_algorithm",
    "signer_mismatch",
)


def _sigs(ev: Evidence) -> list[Row]:
    return [r for r in ev.rows("signatures") if r["side"] == "child"]


def _rrset(r: Row) -> tuple[str, str, str]:
    return (r["server"], r["owner"], r["covered_type"])


def _unrecorded(ev: Evidence) -> Result | None:
    if _sigs(ev):
        return None
    detail = "no signature row recorded for a signed zone: not evidenced"
    evidence = f"signatures: none for {ev.zone}"
    return Result(ev.zone, "indeterminate", {"detail": detail}, evidence)


_SCOPE = (*SIGNED, _unrecorded)
"""Unprobed, unsigned, then signed but without a signature row: indeterminate."""


def _rrsets(rows: list[Row]) -> str:
    return listing(f"{r['owner']} {r['covered_type']}" for r in rows)


def _status_check(ctx: Context, status: str, what: str) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        sigs = _sigs(ev)
        bad = [r for r in sigs if r["status"] == status]
        why = [
            f"{sig_ref(r)}: {status}" + (f" ({r['detail']})" if r["detail"] else "") for r in bad
        ]
        servers = listing(r["server"] for r in bad)
        params = {"count": len(bad), "rrsets": _rrsets(bad), "servers": servers}
        passed = f"no {what} among {len(sigs)} signature(s)"
        return ev.result(why, params, passed, f"signatures[{ev.zone}]: {len(sigs)} rows")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


@check(
    id="rrsig_not_expired",
    title="No expired signature",
    severity="high",
    pillar="technical",
    description="No RRSIG served for the zone's RRsets is past its expiration time.",
    risk="An RRset whose only signatures expired is bogus: validating users cannot resolve it.",
    remediation="Re-sign the zone now and find out why the signer stopped re-signing.",
    references=("RFC 4035 §5.3.1", "RFC 6781 §4.4.2"),
    message="{count} expired signature(s) over {rrsets} at {servers}.",
)
def rrsig_not_expired(ctx: Context) -> Iterator[Result]:
    yield from _status_check(ctx, "expired", "expired signature")


@check(
    id="rrsig_not_premature",
    title="No signature that is not valid yet",
    severity="high",
    pillar="technical",
    description="No RRSIG served for the zone's RRsets has its inception in the future.",
    risk="Validators reject signatures before their inception: the RRset is bogus until then "
    "(a signer clock far ahead, or an inception set without margin).",
    remediation="Check the signer's clock and its inception offset (an hour in the past is "
    "common); re-sign.",
    references=("RFC 4035 §5.3.1",),
    message="{count} signature(s) not valid yet over {rrsets} at {servers}.",
)
def rrsig_not_premature(ctx: Context) -> Iterator[Result]:
    yield from _status_check(ctx, "premature", "premature signature")


@check(
    id="rrsig_verifies",
    title="Every signature verifies",
    severity="high",
    pillar="technical",
    description="Every RRSIG made with a published key verifies cryptographically over its RRset.",
    risk="A signature that does not verify makes its RRset bogus unless another one verifies: "
    "a sign of corruption in transfer, a broken signer or tampering.",
    remediation="Re-sign the RRset; compare the server's copy with the signer's output.",
    references=("RFC 4035 §5.3.3",),
    message="{count} signature(s) do not verify, over {rrsets} at {servers}.",
)
def rrsig_verifies(ctx: Context) -> Iterator[Result]:
    unverifiable = _unverifiable_rows(ctx)
    for result in _status_check(ctx, "invalid", "invalid signature"):
        if result.status == "pass":
            result = _unverifiable(unverifiable.get(result.zone, []), result) or result
        yield result


def _unverifiable(rows: list[Row], passed: Result) -> Result | None:
    """An indeterminate result in place of a pass when some signature of the zone (``rows``)
    is of an algorithm validators do not validate: the toolkit cannot say whether it
    verifies, and a check that cannot decide never passes."""
    if not rows:
        return None
    algs = listing(sorted({int(r["algorithm"]) for r in rows}))
    detail = f"{len(rows)} signature(s) of algorithm(s) {algs} cannot be verified (RFC 9904)"
    return Result(passed.zone, "indeterminate", {"detail": detail}, sig_ref(rows[0]))


def _unverifiable_rows(ctx: Context) -> dict[str, list[Row]]:
    df = ctx.frame("signatures")
    if df is None:
        return {}
    out: dict[str, list[Row]] = {}
    sub = df[(df["status"] == "unsupported_algorithm") & (df["side"] == "child")]
    for r in sub.to_dict("records"):
        out.setdefault(r["zone"], []).append(r)
    return out


@check(
    id="rrsig_signer_is_zone",
    title="Signatures name the zone as signer",
    severity="high",
    pillar="technical",
    description="Every RRSIG over the zone's RRsets names the zone itself as its signer.",
    risk="A signature naming another signer cannot validate the RRset (validators look for the "
    "key at the wrong name): the RRset is bogus if no other signature covers it.",
    remediation="Re-sign the zone with its own keys and name; check the signer configuration.",
    references=("RFC 4035 §5.3.1", "RFC 4034 §3.1.7"),
    message="{count} signature(s) over {rrsets} name another signer.",
)
def rrsig_signer_is_zone(ctx: Context) -> Iterator[Result]:
    yield from _status_check(ctx, "signer_mismatch", "signature by another signer")


@check(
    id="rrsig_not_by_revoked_key",
    title="No signature by a revoked key",
    severity="medium",
    pillar="technical",
    description="No RRset other than the DNSKEY set (where a revoked key signs to announce its "
    "revocation, RFC 5011) carries a signature made with a key whose REVOKE bit is set.",
    risk="Validators must not use a revoked key: the signatures are dead weight, and if they "
    "are the only ones the RRset is bogus. A revoked key still in use means a rollover stalled.",
    remediation="Stop signing with the revoked key; complete the rollover and remove the key.",
    references=("RFC 5011 §2.1", "RFC 7583 §3.3.4"),
    message="{count} signature(s) by a revoked key over {rrsets}.",
)
def rrsig_not_by_revoked_key(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        bad = [
            r for r in _sigs(ev) if r["status"] == "revoked_key" and r["covered_type"] != "DNSKEY"
        ]
        why = [f"{sig_ref(r)}: revoked key" for r in bad]
        params = {"count": len(bad), "rrsets": _rrsets(bad)}
        return ev.result(why, params, "no revoked key signs", f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


@check(
    id="rrsig_present",
    title="Every RRset is signed",
    severity="high",
    pillar="technical",
    description="Every RRset of the signed zone the audit asked for (apex and denial records) "
    "carries at least one RRSIG made with a published key.",
    risk="An unsigned RRset in a signed zone is bogus to validators: the records it holds "
    "cannot be resolved by validating users.",
    remediation="Re-sign the zone; check that the server serves the signed version.",
    references=("RFC 4035 §2.2", "RFC 4035 §5.3"),
    message="RRsets without a usable signature: {rrsets} at {servers}.",
)
def rrsig_present(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        sigs = _sigs(ev)
        signed = {_rrset(r) for r in sigs if r["status"] in USABLE}
        rrsets = {_rrset(r) for r in sigs}
        rows = [r for r in sigs if _rrset(r) not in signed]
        why = [f"{sig_ref(r)}: {r['status']} ({r['detail']})" for r in rows]
        params = {"rrsets": _rrsets(rows), "servers": listing(r["server"] for r in rows)}
        return ev.result(why, params, f"{len(rrsets)} RRset(s) signed", f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


@check(
    id="rrsig_every_algorithm",
    title="Every algorithm of the key set signs every RRset",
    severity="medium",
    pillar="technical",
    description="For every algorithm in the zone's DNSKEY set, every signed RRset carries an "
    "RRSIG of that algorithm.",
    risk="Breaks the rule strict validators may enforce (RFC 4035 §2.2; RFC 6840 §5.11 lets "
    "validators accept one algorithm): typical of an algorithm rollover done in the wrong "
    "order, which then breaks when the DS changes.",
    remediation="Sign with every algorithm of the DNSKEY set before publishing its DS, or "
    "remove the key of the algorithm that does not sign.",
    references=("RFC 4035 §2.2", "RFC 6840 §5.11", "RFC 6781 §4.1.4"),
    message="Algorithm(s) {algorithms} do not sign {rrsets}.",
)
def rrsig_every_algorithm(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        sigs = _sigs(ev)
        signed = {_rrset(r) for r in sigs if r["status"] in USABLE}
        gaps = [
            r
            for r in sigs
            if r["status"] == "missing" and r["algorithm"] is not None and _rrset(r) in signed
        ]
        why = [f"{sig_ref(r)}: {r['detail']}" for r in gaps]
        params = {"algorithms": listing(r["algorithm"] for r in gaps), "rrsets": _rrsets(gaps)}
        return ev.result(why, params, "every algorithm signs", f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


def _valid(ev: Evidence) -> list[Row]:
    return [r for r in _sigs(ev) if r["status"] in ("valid", "revoked_key")]


@check(
    id="ttl_within_signature_validity",
    title="TTLs end before the signatures expire",
    severity="low",
    pillar="technical",
    description="For every valid signature, the RRset's TTL (as served and as the RRSIG's "
    "original TTL) ends before the signature expires.",
    risk="A cache that does not cap TTLs at the expiration (RFC 4035 §5.3.3 says validators "
    "should) keeps a record whose signature has expired: bogus answers after a re-sign.",
    remediation="Lower the TTL, or sign with a longer validity and re-sign earlier.",
    references=("RFC 4035 §5.3.3", "RFC 4033 §8.1", "RFC 6781 §4.4.2"),
    message="TTLs outlast the signatures of {rrsets} (TTL up to {ttl_days:.1f} days, "
    "signature left {days:.1f} days).",
)
def ttl_within_signature_validity(ctx: Context) -> Iterator[Result]:
    def ttl(r: Row) -> int:
        return max(r["original_ttl"] or 0, r["rrset_ttl"] or 0)

    def decide(ev: Evidence) -> Result:
        valid = _valid(ev)
        if not valid:
            detail = "no valid signature to compare (see the signature checks)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"signatures[{ev.zone}]")
        bad = [r for r in valid if ttl(r) > (r["days_left"] or 0) * 86400]
        why = [f"{sig_ref(r)}: TTL {ttl(r)} s > {r['days_left']} days" for r in bad]
        params = {
            "rrsets": _rrsets(bad),
            "ttl_days": max((ttl(r) / 86400 for r in bad), default=0.0),
            "days": min((r["days_left"] for r in bad), default=0.0),
        }
        return ev.result(why, params, "TTLs within validity", f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


@check(
    id="rrsig_outlives_soa_expire",
    title="Signatures outlive the SOA expire",
    severity="medium",
    pillar="technical",
    description="Every valid signature's remaining validity exceeds the zone's SOA expire, so "
    "secondaries that lose their primary stop serving the zone before its signatures expire.",
    risk="When the primary (or the signer) fails, secondaries keep serving the zone until SOA "
    "expire; signatures that expire first turn the zone bogus before anyone is paged.",
    remediation="Sign with a validity longer than the SOA expire plus the re-signing interval, "
    "or lower the SOA expire.",
    references=("RFC 1035 §3.3.13", "RFC 4033 §8.2", "RFC 6781 §4.4.2"),
    message="Signatures expire in {days:.1f} days, before the SOA expire of {expire_days:.1f} "
    "days (at {servers}).",
)
def rrsig_outlives_soa_expire(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        expire = {
            r["server"]: r["soa_expire"] / 86400
            for r in ev.answering()
            if r["soa_expire"] is not None
        }
        valid = [r for r in _valid(ev) if r["server"] in expire and r["days_left"] is not None]
        if not valid:
            detail = "no valid signature or no SOA expire to compare"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"signatures[{ev.zone}]")
        bad = [r for r in valid if r["days_left"] < expire[r["server"]]]
        why = [
            f"{sig_ref(r)}: {r['days_left']} days left < SOA expire {expire[r['server']]:.1f} days"
            for r in bad
        ]
        params = {
            "days": min((r["days_left"] for r in bad), default=0.0),
            "expire_days": max((expire[r["server"]] for r in bad), default=0.0),
            "servers": listing(r["server"] for r in bad),
        }
        ev_text = f"signatures[{ev.zone}]; nameservers soa_expire (days) {listing(expire.values())}"
        return ev.result(why, params, "signatures outlive SOA expire", ev_text)

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


@check(
    id="rrset_ttl_within_original_ttl",
    title="TTLs as served do not exceed the signatures' original TTL",
    severity="low",
    pillar="technical",
    description="For every signed RRset, the TTL the server serves is not above the Original "
    "TTL field of the RRSIGs that cover it.",
    risk="Validators cap the TTL at the original TTL (RFC 4035 §5.3.3) while other caches keep "
    "the served one: the zone's timing differs by resolver, and the mismatch shows the TTL was "
    "raised after signing (a server or secondary serving an edited copy without re-signing).",
    remediation="Re-sign the zone after changing TTLs, and serve the signer's output unchanged.",
    references=("RFC 4034 §3.1.4", "RFC 4035 §5.3.3"),
    message="RRsets served with a TTL above their signatures' original TTL: {rrsets} "
    "(up to {ttl} s against {original} s).",
)
def rrset_ttl_within_original_ttl(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        sigs = [
            r
            for r in _sigs(ev)
            if r["status"] in USABLE and None not in (r["rrset_ttl"], r["original_ttl"])
        ]
        if not sigs:
            detail = "no signature with both TTLs recorded"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"signatures[{ev.zone}]")
        bad = [r for r in sigs if r["rrset_ttl"] > r["original_ttl"]]
        why = [f"{sig_ref(r)}: TTL {r['rrset_ttl']} > original {r['original_ttl']}" for r in bad]
        params = {
            "rrsets": _rrsets(bad),
            "ttl": max((r["rrset_ttl"] for r in bad), default=0),
            "original": min((r["original_ttl"] for r in bad), default=0),
        }
        return ev.result(why, params, "TTLs within the original TTL", f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


@check(
    id="rrsig_ttl_matches_rrset_ttl",
    title="Signatures are served with the TTL of the RRset they cover",
    severity="low",
    pillar="technical",
    description="For every signed RRset, the TTL the server gives the RRSIG RRset equals the TTL "
    "it gives the RRset itself (RFC 4035 §2.2, RFC 4034 §3).",
    risk="Caches keep the RRset and its signatures for their own TTLs: when the signatures age "
    "out first, a cache holds the records without the signatures downstream validators need "
    "(they must ask again, or see the answer as bogus). A mismatch also shows the server does "
    "not serve the signer's output unchanged (a TTL edited after signing, a broken transfer).",
    remediation="Serve the zone exactly as the signer produced it; if TTLs were changed after "
    "signing, re-sign the zone so that each RRSIG carries its RRset's TTL.",
    references=("RFC 4035 §2.2", "RFC 4034 §3"),
    message="RRSIGs served with a TTL other than their RRset's: {rrsets} at {servers} ({pairs}).",
)
def rrsig_ttl_matches_rrset_ttl(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        # one entry per RRset and server (the RRSIG RRset has one TTL as served)
        sets = {
            _rrset(r): r
            for r in _sigs(ev)
            if r.get("rrsig_ttl") is not None and r["rrset_ttl"] is not None
        }
        if not sets:
            detail = (
                "no RRSIG TTL recorded (no signature served, or a run stored before the "
                "toolkit recorded it)"
            )
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"signatures[{ev.zone}]")
        bad = [r for r in sets.values() if r["rrsig_ttl"] != r["rrset_ttl"]]
        why = [
            f"signatures[{r['server']} {r['owner']} {r['covered_type']}]: RRSIG TTL "
            f"{r['rrsig_ttl']} s, RRset TTL {r['rrset_ttl']} s"
            for r in bad
        ]
        params = {
            "rrsets": _rrsets(bad),
            "servers": listing(r["server"] for r in bad),
            "pairs": listing(f"RRSIG {r['rrsig_ttl']} s / RRset {r['rrset_ttl']} s" for r in bad),
        }
        passed = f"{len(sets)} RRSIG RRset(s) served with their RRset's TTL"
        return ev.result(why, params, passed, f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)


LONG_VALIDITY_DAYS = 180.0
"""Zonemaster's limit (DNSSEC04 DURATION_LONG / REMAINING_LONG) on a signature's validity
period and remaining validity."""


@check(
    id="rrsig_validity_not_too_long",
    title="Signature validity not so long it widens the replay window",
    severity="low",
    pillar="technical",
    description=f"No valid signature has a validity period (expiration minus inception) or a "
    f"remaining validity above {LONG_VALIDITY_DAYS:.0f} days (Zonemaster DNSSEC04 "
    "DURATION_LONG / REMAINING_LONG).",
    risk="A signed answer can be replayed until its signature expires: with validity of months, "
    "records that were changed or removed (an old address, a retired key) can still be served "
    "as valid by an attacker long afterwards.",
    remediation="Sign with a validity of days to a few weeks (policy signature_validity_days) "
    "and re-sign on schedule; re-sign now to replace the long-lived signatures.",
    references=("RFC 6781 §4.4.2", "RFC 4033 §8.1", "Zonemaster DNSSEC04"),
    message="Signatures valid too long over {rrsets}: period up to {period:.0f} days, "
    "remaining up to {left:.0f} days (limit {limit:.0f}).",
)
def rrsig_validity_not_too_long(ctx: Context) -> Iterator[Result]:
    def period(r: Row) -> float | None:
        if r["inception"] is None or r["expiration"] is None:
            return None
        return float((r["expiration"] - r["inception"]).total_seconds()) / 86400

    def decide(ev: Evidence) -> Result:
        valid = [(r, days) for r in _valid(ev) if (days := period(r)) is not None]
        if not valid:
            detail = "no valid signature to measure (see the signature checks)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, f"signatures[{ev.zone}]")
        bad = [
            (r, days)
            for r, days in valid
            if days > LONG_VALIDITY_DAYS or (r["days_left"] or 0) > LONG_VALIDITY_DAYS
        ]
        why = [
            f"{sig_ref(r)}: period {days:.1f} days, {r['days_left']} days left" for r, days in bad
        ]
        params = {
            "rrsets": _rrsets([r for r, _ in bad]),
            "period": max((days or 0 for _, days in bad), default=0.0),
            "left": max((r["days_left"] or 0 for r, _ in bad), default=0.0),
            "limit": LONG_VALIDITY_DAYS,
        }
        longest = max(days or 0 for _, days in valid)
        passed = f"longest validity period {longest:.1f} days"
        return ev.result(why, params, passed, f"signatures[{ev.zone}]")

    yield from each_zone(ctx, ["dnskeys", "signatures"], _SCOPE, decide)
