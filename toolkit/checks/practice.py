"""Policy against practice: what the zone's signing policy (``policy.yaml``) says the DNS should
show, compared with what the servers served — the DNSKEY TTL, the DS digest types, the
denial-of-existence method and NSEC3 opt-out, the signature validity. Each policy value is the
one the file states or, when absent, the documented default the policy statement publishes
(:data:`toolkit.inputs.policy_settings.POLICY_EXTRAS`).

The algorithms and the key scheme are compared by :mod:`toolkit.checks.keys`
(``dnskey_algorithm_in_policy``, ``key_scheme_matches_policy``) and the signature floor by
``rrsig_validity_above_floor``.
"""

from __future__ import annotations

from collections.abc import Iterator

from toolkit.checks.base import Context, Result, collector
from toolkit.checks.evidence import (
    SIGNED,
    Evidence,
    Row,
    each_zone,
    flag,
    key_ref,
    listing,
    sig_ref,
    zone_policy,
)
from toolkit.inputs.policy import SigningPolicy

CHECKS, check = collector()


def _policy(ctx: Context, ev: Evidence, evidence: str) -> SigningPolicy | Result:
    policy = zone_policy(ctx, ev.zone)
    if policy is None:
        detail = "no signing policy applies: nothing to compare with"
        return Result(ev.zone, "indeterminate", {"detail": detail}, evidence)
    return policy


@check(
    id="dnskey_ttl_matches_policy",
    title="DNSKEY TTL as the signing policy states",
    severity="low",
    pillar="technical",
    description="Every server serves the DNSKEY RRset with the TTL the signing policy states "
    "(dnskey_ttl).",
    risk="Key rollover timing (RFC 7583) waits on the DNSKEY TTL: with a TTL other than the "
    "one the rollover plan assumes, a key is removed or starts signing before caches have "
    "seen the new key set, and validating users get bogus answers during the rollover.",
    remediation="Set the signer's DNSKEY TTL to the policy's value, or amend the policy (and "
    "the rollover timings derived from it) through change control.",
    references=("RFC 7583 §3.3", "RFC 6781 §4.1", "RFC 6841 §4.6"),
    message="DNSKEY TTL {ttls} s at {servers}; policy {policy} states {expected} s.",
)
def dnskey_ttl_matches_policy(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        policy = _policy(ctx, ev, key_ref(keys[0]))
        if isinstance(policy, Result):
            return policy
        judged = [r for r in keys if r["ttl"] is not None]
        if not judged:
            detail = "no DNSKEY TTL recorded"
            return Result(ev.zone, "indeterminate", {"detail": detail}, key_ref(keys[0]))
        bad = [r for r in judged if r["ttl"] != policy.dnskey_ttl]
        why = [f"{key_ref(r)}: TTL {r['ttl']} vs {policy.dnskey_ttl}" for r in bad]
        params = {
            "ttls": listing(r["ttl"] for r in bad),
            "servers": listing(r["server"] for r in bad),
            "policy": policy.name,
            "expected": policy.dnskey_ttl,
        }
        passed = f"DNSKEY TTL {policy.dnskey_ttl} s as policy {policy.name} states"
        return ev.result(why, params, passed, key_ref(judged[0]))

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)


def _ds_scope(ev: Evidence) -> Result | None:
    if ev.has_ds:
        return None
    if ev.row.get("has_ds") is False:
        return Result(
            ev.zone, "not_applicable", {"detail": "no DS at the parent"}, f"zones[{ev.zone}]"
        )
    detail = "the parent's DS set was not recorded: not evidenced"
    return Result(ev.zone, "indeterminate", {"detail": detail}, f"ds_matches: none for {ev.zone}")


@check(
    id="ds_digest_types_in_policy",
    title="DS digest types as the signing policy states",
    severity="low",
    pillar="technical",
    description="Every DS record the parent publishes for the zone uses a digest type the "
    "signing policy lists (ds_digest_types).",
    risk="A DS of a digest type the policy does not list was submitted outside the agreed "
    "procedure (a registrar default, a manual upload): the organisation's cryptographic policy "
    "is not what the DNS shows, and a weak digest can stay unnoticed.",
    remediation="Replace the DS at the registrar with one of the policy's digest types (e.g. "
    "SHA-256), or amend the policy through change control.",
    references=("RFC 4509 §6", "RFC 9904", "RFC 6841 §4.6"),
    message="DS digest type(s) {types} are not in policy {policy} (allowed: {allowed}).",
)
def ds_digest_types_in_policy(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        ref = f"ds_matches[{ev.zone}]: {len(ds)} DS"
        policy = _policy(ctx, ev, ref)
        if isinstance(policy, Result):
            return policy
        bad = [r for r in ds if r["digest_type"] not in policy.ds_digest_types]
        why = [
            f"ds_matches[{r['server']} DS {r['key_tag']} {r['algorithm']} {r['digest_type']}]"
            for r in bad
        ]
        params = {
            "types": listing(r["digest_type"] for r in bad),
            "policy": policy.name,
            "allowed": ", ".join(str(t) for t in policy.ds_digest_types),
        }
        passed = f"digest types {listing(r['digest_type'] for r in ds)} allowed by {policy.name}"
        return ev.result(why, params, passed, ref)

    yield from each_zone(ctx, ["ds_matches"], (_ds_scope, Evidence.unprobed), decide)


@check(
    id="denial_matches_policy",
    title="Denial of existence as the signing policy states",
    severity="low",
    pillar="technical",
    description="The zone's denial-of-existence proofs use the method the signing policy states "
    "(denial: nsec or nsec3), and NSEC3 opt-out only where the policy allows it "
    "(nsec3_opt_out).",
    risk="NSEC3 where the policy chose NSEC adds cost without the protection it was meant to "
    "give (RFC 9276); opt-out the policy does not allow leaves unsigned delegations that can be "
    "inserted undetected (RFC 5155 §6) and is NOT RECOMMENDED for small zones (RFC 9276 §3.1).",
    remediation="Configure the signer's denial method and opt-out as the policy states, or "
    "amend the policy through change control.",
    references=("RFC 9276 §3.1", "RFC 5155 §6", "RFC 4035 §3.1.3", "RFC 6841 §4.6"),
    message="Denial of existence {seen} at {servers}; policy {policy} states {expected}.",
)
def denial_matches_policy(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        rows = [r for r in ev.rows("denial") if r["kind"] in ("nsec", "nsec3")]
        ref = f"denial[{ev.zone}]"
        if not rows:
            detail = "no NSEC or NSEC3 proof recorded (see denial_proofs_valid)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        policy = _policy(ctx, ev, ref)
        if isinstance(policy, Result):
            return policy
        wrong = [r for r in rows if r["kind"] != policy.denial]
        opt_out = [] if policy.nsec3_opt_out else [r for r in rows if flag(r["opt_out"])]
        seen = []
        if wrong:
            seen.append(f"by {listing(r['kind'].upper() for r in wrong)}")
        if opt_out:
            seen.append("with NSEC3 opt-out")
        why = [f"denial[{r['server']} {r['qname']} {r['qtype']}]: {r['kind']}" for r in wrong]
        why += [f"denial[{r['server']} {r['qname']} {r['qtype']}]: opt-out" for r in opt_out]
        expected = policy.denial.upper() + (
            ""
            if policy.denial != "nsec3"
            else (", opt-out " + ("allowed" if policy.nsec3_opt_out else "not allowed"))
        )
        params = {
            "seen": " and ".join(seen),
            "servers": listing(r["server"] for r in wrong + opt_out),
            "policy": policy.name,
            "expected": expected,
        }
        return ev.result(
            why, params, f"{policy.denial.upper()} as policy {policy.name} states", ref
        )

    yield from each_zone(ctx, ["denial", "dnskeys"], SIGNED, decide)


VALIDITY_SLACK_DAYS = 1.0
"""Allowance on the policy's signature validity for the inception signers set in the past (an
hour or two, against clock skew) and for rounding."""


@check(
    id="signature_validity_matches_policy",
    title="Signature validity as the signing policy states",
    severity="low",
    pillar="technical",
    description="The longest validity period (expiration minus inception) of the zone's valid "
    "signatures matches the policy's signature_validity_days: not longer than it (one day "
    "allowed for a back-dated inception), and not shorter than it minus signature_refresh_days "
    "(signers commonly spread expirations over the refresh interval, so only the "
    "longest period shows the configured validity).",
    risk="Signatures valid longer than the policy says widen the window in which old signed "
    "data can be replayed (RFC 6781 §4.4.2); shorter ones leave less time to notice and repair "
    "a signer that stopped before the zone turns bogus. Either way the signer is not configured "
    "as the organisation's policy says.",
    remediation="Set the signer's signature validity (e.g. BIND signatures-validity, Knot "
    "rrsig-lifetime) to the policy's value, or amend the policy through change control.",
    references=("RFC 6781 §4.4.2", "RFC 4033 §8.1", "RFC 6841 §4.6"),
    message="Signatures valid for up to {period:.1f} days at {servers}; policy {policy} states "
    "{expected:g} days (accepted: {low:g} to {high:g}).",
)
def signature_validity_matches_policy(ctx: Context) -> Iterator[Result]:
    def period(r: Row) -> float | None:
        if r["inception"] is None or r["expiration"] is None:
            return None
        return (r["expiration"] - r["inception"]).total_seconds() / 86400

    def decide(ev: Evidence) -> Result:
        valid: list[tuple[Row, float]] = []
        for r in ev.rows("signatures"):
            days = period(r)
            if (
                r["side"] == "child"
                and r["status"] in ("valid", "revoked_key")
                and days is not None
            ):
                valid.append((r, days))
        ref = f"signatures[{ev.zone}]"
        if not valid:
            detail = "no valid signature to measure (see the signature checks)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        policy = _policy(ctx, ev, ref)
        if isinstance(policy, Result):
            return policy
        high = policy.signature_validity_days + VALIDITY_SLACK_DAYS
        low = max(policy.signature_validity_days - policy.signature_refresh_days, 0.0)
        longest: dict[str, tuple[Row, float]] = {}
        for r, days in valid:
            if r["server"] not in longest or days > longest[r["server"]][1]:
                longest[r["server"]] = (r, days)
        bad = [(r, days) for r, days in longest.values() if not low <= days <= high]
        why = [f"{sig_ref(r)}: valid {days:.2f} days" for r, days in bad]
        params = {
            "period": max((days for _, days in bad), default=0.0),
            "servers": listing(r["server"] for r, _ in bad),
            "policy": policy.name,
            "expected": policy.signature_validity_days,
            "low": low,
            "high": high,
        }
        top = max(days for _, days in longest.values())
        stated = f"{policy.signature_validity_days:g}"
        passed = f"longest validity {top:.1f} days, policy {policy.name} states {stated}"
        return ev.result(why, params, passed, ref)

    yield from each_zone(ctx, ["dnskeys", "signatures"], SIGNED, decide)
