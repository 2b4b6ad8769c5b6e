"""Policy against practice: what the zone's signing policy (``policy.yaml``) says the DNS should
show, compared with what the servers served — the DNSKEY TTL, the DS digest types, the
denial-of-existence method and NSEC3 opt-out, the signature validity, and (across the runs of
the history, :mod:`toolkit.history.signing`) the re-signing against the refresh interval. Each
policy value is the one the file states or, when absent, the documented default the policy
statement publishes (:data:`toolkit.inputs.policy_settings.POLICY_EXTRAS`).

The algorithms and the key scheme are compared by :mod:`toolkit.checks.keys`
(``dnskey_algorithm_in_policy``, ``key_scheme_matches_policy``) and the signature floor by
``rrsig_validity_above_floor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

from toolkit.checks.base import Context, Result, collector, zone_rows
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
from toolkit.checks.records import signing_history
from toolkit.history.rollover import rollover_methods
from toolkit.history.signing import LOOKBACK_DAYS, LateSignature, late_signatures
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


def _parent_ds(ctx: Context) -> Callable[[str], list[Row]]:
    """The parent's DS records of the run's ``records`` frame (source ``parent``), by zone: the
    TTL each parent server serves the DS RRset with (``ds_matches`` holds no TTL)."""
    records = ctx.frame("records")
    if records is None:
        return zone_rows(None)
    ds = records[(records["rrtype"] == "DS") & (records["source"] == "parent")]
    return zone_rows(ds[["zone", "server", "ttl", "key_tag", "algorithm", "digest_type"]])


@check(
    id="ds_ttl_matches_policy",
    title="DS TTL at the parent as the signing policy states",
    severity="low",
    pillar="technical",
    description="Every parent server serves the zone's DS RRset with the TTL the signing "
    "policy states (ds_ttl).",
    risk="A KSK rollover (RFC 7583 §3.3) waits on the DS TTL: after the parent publishes the "
    "new DS, the old KSK may go only once every cache has dropped the old DS set. With a DS TTL "
    "longer than the one the rollover plan assumes, the old key is removed while resolvers "
    "still hold a DS set that points only at it, and the zone turns bogus for them; the parent "
    "(registry) sets this TTL, so it drifts without the zone's operator changing anything.",
    remediation="Ask the registrar or registry which DS TTL it publishes and record it in the "
    "policy's ds_ttl, then re-derive the KSK rollover waiting times from it (RFC 7583 §3.3.2); "
    "the zone's operator cannot change the parent's TTL, only plan around it.",
    references=("RFC 7583 §3.3.2", "RFC 6781 §4.1.2", "RFC 6841 §4.6"),
    message="DS TTL {ttls} s at parent server(s) {servers}; policy {policy} states {expected} s.",
)
def ds_ttl_matches_policy(ctx: Context) -> Iterator[Result]:
    parent_ds = _parent_ds(ctx)

    def decide(ev: Evidence) -> Result:
        ref = f"records[{ev.zone} DS, parent]"
        judged = [r for r in parent_ds(ev.zone) if r["ttl"] is not None]
        if not judged:
            detail = "the parent's DS TTL was not recorded (no DS record row): not evidenced"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        policy = _policy(ctx, ev, ref)
        if isinstance(policy, Result):
            return policy
        bad = {(r["server"], r["ttl"]) for r in judged if r["ttl"] != policy.ds_ttl}
        why = [f"{ref} at {server}: TTL {ttl} vs {policy.ds_ttl}" for server, ttl in sorted(bad)]
        params = {
            "ttls": listing(ttl for _, ttl in bad),
            "servers": listing(server for server, _ in bad),
            "policy": policy.name,
            "expected": policy.ds_ttl,
        }
        servers = listing(r["server"] for r in judged)
        passed = f"DS TTL {policy.ds_ttl} s at {servers} as policy {policy.name} states"
        return ev.result(why, params, passed, ref)

    yield from each_zone(ctx, ["ds_matches"], (_ds_scope, Evidence.unprobed), decide)


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
        return float((r["expiration"] - r["inception"]).total_seconds()) / 86400

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


def _days(td: pd.Timedelta) -> float:
    return float(td.total_seconds()) / 86400


@check(
    id="signatures_refreshed_on_time",
    title="Signatures refreshed when the signing policy says",
    severity="medium",
    pillar="technical",
    description="Across the runs of the last quarter, no signature over the zone's own RRsets "
    "(SOA, DNSKEY, denial records, ...) was still served more than signature_validity_days "
    "minus signature_refresh_days after its inception (one day allowed for a back-dated "
    "inception): the signer re-signs (a new inception between runs) before the policy's refresh "
    "point. A pass covers the latest runs of the quarter no two of which are further apart than "
    "that interval (a late refresh between runs further apart would go unseen); with fewer "
    "than two such runs: indeterminate.",
    risk="A signer that re-signs late leaves less of the validity period to notice and repair a "
    "stopped signer before the signatures expire and the zone turns bogus for every validating "
    "user (RFC 6781 §4.4.2); it is often the first sign of a stalled signing job or a "
    "secondary that stopped transferring the zone.",
    remediation="Find why the signatures named were not replaced in time: check the signer's "
    "refresh setting (e.g. BIND sig-refresh-interval, Knot rrsig-refresh) against the policy, "
    "that the signing job runs, and that every secondary transfers the re-signed zone (a "
    "stale secondary keeps serving old signatures).",
    references=("RFC 6781 §4.4.2", "RFC 4033 §8.1", "RFC 4035 §5.3.1", "RFC 6841 §4.6"),
    message="Signatures not refreshed on time (policy {policy}: re-sign within {used:g} days of "
    "inception): {late}.",
)
def signatures_refreshed_on_time(ctx: Context) -> Iterator[Result]:
    sightings, _ = signing_history(ctx)
    since = pd.Timestamp(ctx.now) - pd.Timedelta(days=LOOKBACK_DAYS)
    recent = sightings[
        (sightings["observed_at"] >= since) & (sightings["observed_at"] <= pd.Timestamp(ctx.now))
    ]
    of = zone_rows(recent)

    def decide(ev: Evidence) -> Result:
        rows = of(ev.zone)
        runs = sorted({(r["observed_at"], r["run_id"]) for r in rows})
        ref = f"signature_history[{ev.zone}]: {len(runs)} run(s) since {since:%Y-%m-%d}"
        if len(runs) < 2:
            detail = (
                f"{len(runs)} run(s) of the last {LOOKBACK_DAYS:g} days saw the zone's "
                "signatures: re-signing is judged across at least two"
            )
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        policy = _policy(ctx, ev, ref)
        if isinstance(policy, Result):
            return policy
        used = max(policy.signature_validity_days - policy.signature_refresh_days, 0.0)
        late = late_signatures(rows, used, VALIDITY_SLACK_DAYS)
        if late:
            # one line per signing (the signatures of one inception seen late in the same
            # runs at the same servers), naming the RRsets and keys
            events: dict[
                tuple[pd.Timestamp, pd.Timestamp, tuple[str, ...], str], list[LateSignature]
            ] = {}
            for s in late:
                seen_in = tuple(run for run, _, _ in s.runs)
                events.setdefault((s.inception, s.due, seen_in, s.servers), []).append(s)
            shown = [
                f"{listing(f'{s.covered_type} {s.owner}' for s in sigs)} signed "
                f"{inception:%Y-%m-%d %H:%M} by key(s) {listing(s.key_tag for s in sigs)} (due "
                f"by {due:%Y-%m-%d}) still served at {servers.replace(';', ', ')} in run(s) "
                + listing(f"{run} ({at:%Y-%m-%d}, {age:.1f} days)" for run, at, age in sigs[0].runs)
                for (inception, due, _, servers), sigs in events.items()
            ]
            why = [f"{ref}; {line}" for line in shown]
            params = {"policy": policy.name, "used": used, "late": "; ".join(shown[:3])
                      + (f"; and {len(shown) - 3} more" if len(shown) > 3 else "")}  # fmt: skip
            return ev.result(why, params, "", ref)
        # a pass covers the latest runs no further apart than `used` (a signature late
        # between two runs further apart could be replaced before the second saw it)
        k = len(runs) - 1
        while k > 0 and _days(runs[k][0] - runs[k - 1][0]) <= used:
            k -= 1
        gap = ""
        if k > 0:
            (a_at, a_run), (b_at, b_run) = runs[k - 1], runs[k]
            gap = (
                f"runs {a_run} and {b_run} are {_days(b_at - a_at):.1f} days apart, more than "
                f"the {used:g} days policy {policy.name} lets a signature serve"
            )
        tail = runs[k:]
        if len(tail) < 2:
            detail = f"{gap}: a late refresh between them would go unseen"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        since_at, since_run = tail[0]
        soa = {r["inception"] for r in rows if r["covered_type"] == "SOA" and
               r["observed_at"] >= since_at}  # fmt: skip
        detail = (
            f"{len(tail)} runs over {_days(tail[-1][0] - since_at):.1f} days since run "
            f"{since_run} ({since_at:%Y-%m-%d}), {len(soa)} SOA signature inception(s) seen; "
            f"none served past {used:g} days (policy {policy.name})"
            + (f"; before them {gap}: not judged" if gap else "")
        )
        return Result(ev.zone, "pass", {"detail": detail}, ref)

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)


@check(
    id="rollover_method_matches_policy",
    title="Key rollovers done by the method the signing policy states",
    severity="low",
    pillar="technical",
    description="Across the stored runs, every ZSK rollover whose steps the runs showed used "
    "the policy's zsk_rollover_method (pre-publication: the new key published idle before it "
    "signs; double-signature: both keys sign for a while), and every KSK or CSK rollover the "
    "policy's ksk_rollover_method (double-ds: the new DS at the parent before the new key is "
    "published; double-ksk: the new key published before its DS; double-rrset: both at once). "
    "A rollover whose steps fell between two runs is not judged; with no rollover seen, or "
    "none judged: indeterminate. Algorithm rollovers (RFC 6781 §4.1.4) are not judged here.",
    risk="The waiting times of a rollover (RFC 7583 §3) are derived for one method: a rollover "
    "done another way than the policy and its runbook plan waits on other TTLs than the ones "
    "computed, and its steps were not the ones the change record approved — the procedure the "
    "organisation documented is not the one its operators (or signer) follow.",
    remediation="Find out why the rollover named was done by another method (a signer "
    "default such as a KASP/policy setting, a manual emergency roll, a registrar's process) and "
    "either configure the signer to the policy's method or amend the policy, its runbook and "
    "its timings through change control.",
    references=("RFC 6781 §4.1.1", "RFC 6781 §4.1.2", "RFC 7583 §3", "RFC 6841 §4.6"),
    message="Rollover(s) not by the method policy {policy} states ({expected}): {wrong}.",
)
def rollover_method_matches_policy(ctx: Context) -> Iterator[Result]:
    history = ctx.frame("rollovers")
    of = zone_rows(history)

    def decide(ev: Evidence) -> Result:
        ref = f"rollovers[{ev.zone}]"
        if history is None:
            detail = (
                "no rollover history in this context (an assessment of stored runs carries it): "
                "the method is judged across runs"
            )
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        policy = _policy(ctx, ev, ref)
        if isinstance(policy, Result):
            return policy
        verdicts = rollover_methods(of(ev.zone), policy)
        ref = f"{ref}: {len(verdicts)} ZSK/KSK/CSK rollover(s)"
        judged = [v for v in verdicts if v.judged]
        if not judged:
            detail = (
                "no ZSK, KSK or CSK rollover in the stored runs: the method cannot be judged"
                if not verdicts
                else f"{len(verdicts)} rollover(s) seen, but their steps fell between runs: "
                "the method was not observed"
            )
            return Result(ev.zone, "indeterminate", {"detail": detail}, ref)
        wrong = [v for v in judged if not v.matches]
        why = [f"{ref}; {v.text()}, policy {policy.name} states {v.expected}" for v in wrong]
        params = {
            "policy": policy.name,
            "expected": f"ZSK {policy.zsk_rollover_method}, KSK {policy.ksk_rollover_method}",
            "wrong": "; ".join(v.text() for v in wrong[:5])
            + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else ""),
        }
        unobserved = len(verdicts) - len(judged)
        passed = (
            f"{len(judged)} rollover(s) by the method policy {policy.name} states: "
            + "; ".join(v.text() for v in judged[-3:])
            + (f" (and {unobserved} whose steps fell between runs, not judged)" if unobserved
               else "")
        )  # fmt: skip
        return ev.result(why, params, passed, ref)

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)
