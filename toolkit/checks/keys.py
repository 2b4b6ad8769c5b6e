"""Checks on the zone's keys and their links to the parent: DS ↔ DNSKEY, DS digest types,
DNSKEY algorithms and sizes, the key scheme the policy asks for, unused keys.

They read the ``ds_matches`` and ``dnskeys`` evidence frames (see :mod:`toolkit.schemas`).
Algorithm status is named data (RFC 8624 tables as kept in IANA's registry by RFC 9904, with
RFC 9905's change to algorithms 5 and 7), not branches.
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
    policy_name,
)
from toolkit.policy import SigningPolicy

CHECKS, check = collector()

MUST_NOT_SIGN = {
    1: "RSAMD5 (MUST NOT, RFC 8624)",
    3: "DSA (MUST NOT, RFC 8624)",
    5: "RSASHA1 (MUST NOT sign, RFC 9905)",
    6: "DSA-NSEC3-SHA1 (MUST NOT, RFC 8624)",
    7: "RSASHA1-NSEC3-SHA1 (MUST NOT sign, RFC 9905)",
    12: "ECC-GOST (MUST NOT, RFC 8624)",
}
"""Algorithms a zone must not be signed with, and why."""

NOT_RECOMMENDED = {10: "RSASHA512 (NOT RECOMMENDED for signing, RFC 8624)"}
RSA = frozenset({1, 5, 7, 8, 10})
MIN_RSA_BITS = 2048
PROHIBITED_DIGESTS = {0: "0 (reserved)", 3: "3 (GOST R 34.11-94, MUST NOT, RFC 8624)"}
STRONG_DIGESTS = frozenset({2, 4})


def _ds_row(r: Row) -> str:
    return (
        f"ds_matches[{r['server']} DS {r['key_tag']} {r['algorithm']} "
        f"{r['digest_type']} {str(r['digest'])[:16]}…]"
    )


def _ds_scope(ev: Evidence) -> Result | None:
    """indeterminate when the parent's DS set is unknown, not_applicable without DS."""
    if ev.has_ds:
        return None
    has_ds = ev.row.get("has_ds")
    if has_ds is None:
        detail = "whether the parent publishes DS records is unknown"
        return Result(ev.zone, "indeterminate", {"detail": detail}, f"zones[{ev.zone}] has_ds=null")
    if has_ds:
        detail = "the parent publishes DS records but none was recorded: not evidenced"
        evidence = f"ds_matches: no row for {ev.zone}"
        return Result(ev.zone, "indeterminate", {"detail": detail}, evidence)
    return Result(ev.zone, "not_applicable", {"detail": "no DS at the parent"}, f"zones[{ev.zone}]")


_DS_AND_PROBED = (_ds_scope, Evidence.unprobed)
"""The scope of the DS checks that also read the zone's servers: the parent's DS set first,
then unprobed."""


@check(
    id="ds_matches_dnskey",
    title="Every DS at the parent matches a published key",
    severity="high",
    pillar="technical",
    description="Each DS record the parent publishes (of a digest type the toolkit computes: "
    "SHA-1, SHA-256, SHA-384) is the digest of a DNSKEY the zone publishes.",
    risk="A DS matching no key is a broken or stale link: if no DS matches, validators reject "
    "the zone; a stale DS left over from a rollover hides which key really anchors the zone.",
    remediation="Replace the DS at the registrar with the digest of the current KSK (check the "
    "key tag, algorithm and digest), and remove DS records of retired keys.",
    references=("RFC 4035 §5.2", "RFC 4034 §5.1", "RFC 6781 §4.1.2"),
    message="{count} DS record(s) at the parent match no published DNSKEY: {records}.",
)
def ds_matches_dnskey(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        verifiable = [r for r in ds if r["digest_verifies"] is not None]
        if not verifiable:
            detail = "no DS of a digest type the toolkit computes (SHA-1, SHA-256, SHA-384)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, _ds_row(ds[0]))
        bad = [r for r in verifiable if not r["digest_verifies"]]
        why = [
            _ds_row(r)
            + (": digest does not verify" if r["matches_key_tag"] else ": no such key published")
            for r in bad
        ]
        records = listing(f"{r['key_tag']} {r['algorithm']} {r['digest_type']}" for r in bad)
        return ev.result(
            why,
            {"count": len(bad), "records": records},
            f"{len(verifiable)} DS record(s) match published keys",
            "; ".join(_ds_row(r) for r in verifiable),
        )

    yield from each_zone(ctx, ["ds_matches", "dnskeys"], _DS_AND_PROBED, decide)


@check(
    id="ds_points_at_sep_key",
    title="DS records point at SEP keys",
    severity="low",
    pillar="technical",
    description="Each DS that matches a key points at a key with the Secure Entry Point flag "
    "(a KSK or CSK, flags 257) that is not revoked.",
    risk="Validators ignore the SEP flag, so the zone still validates, but a DS on a key marked "
    "as a ZSK defeats the KSK/ZSK split: a routine ZSK rollover would break the chain.",
    remediation="Publish the DS of the key-signing key (flags 257) and withdraw the other.",
    references=("RFC 4034 §2.1.1", "RFC 6781 §3.1", "RFC 5011 §2.1"),
    message="DS records point at keys without the SEP flag or revoked: {keys}.",
)
def ds_points_at_sep_key(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        matched = [r for r in ds if flag(r["digest_verifies"])]
        if not matched:
            detail = "no DS matches a published key (see ds_matches_dnskey)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, _ds_row(ds[0]))
        bad = [r for r in matched if not flag(r["key_has_sep"]) or flag(r["key_revoked"])]
        why = [f"{_ds_row(r)}: key flags {r['key_flags']}" for r in bad]
        keys = listing(f"{r['key_tag']} (flags {r['key_flags']})" for r in bad)
        return ev.result(why, {"keys": keys}, "every DS points at a SEP key", _ds_row(matched[0]))

    yield from each_zone(ctx, ["ds_matches"], _DS_AND_PROBED, decide)


@check(
    id="ds_not_only_revoked_keys",
    title="A DS points at a key that is not revoked",
    severity="high",
    pillar="technical",
    description="Among the DS records that match a published key, at least one points at a key "
    "without the REVOKE bit (RFC 5011).",
    risk="A validator must not use a revoked key for anything but checking its own revocation "
    "(RFC 5011 §2.1): when every DS points at revoked keys the chain of trust cannot be built and "
    "the zone is bogus for validating users (a KSK revoked before its successor's DS was added).",
    remediation="Publish at the parent the DS of the current, unrevoked KSK (and wait its TTL) "
    "before revoking the old one; remove the DS of the revoked key afterwards.",
    references=("RFC 5011 §2.1", "RFC 5011 §7", "RFC 4035 §5.2", "RFC 7583 §3.3.4"),
    message="Every DS that matches a key points at a revoked key: {keys}.",
)
def ds_not_only_revoked_keys(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        matched = [r for r in ds if flag(r["digest_verifies"])]
        if not matched:
            detail = "no DS matches a published key (see ds_matches_dnskey)"
            return Result(ev.zone, "indeterminate", {"detail": detail}, _ds_row(ds[0]))
        live = [r for r in matched if not flag(r["key_revoked"])]
        why = (
            [] if live else [f"{_ds_row(r)}: key flags {r['key_flags']} (REVOKE)" for r in matched]
        )
        keys = listing(f"{r['key_tag']} (flags {r['key_flags']})" for r in matched)
        passed = f"DS of unrevoked key(s) {listing(r['key_tag'] for r in live)}"
        return ev.result(why, {"keys": keys}, passed, _ds_row((live or matched)[0]))

    yield from each_zone(ctx, ["ds_matches"], _DS_AND_PROBED, decide)


@check(
    id="ds_digest_sha256",
    title="DS records use SHA-256 or stronger",
    severity="medium",
    pillar="technical",
    description="Every key the parent's DS set points at has a SHA-256 (2) or SHA-384 (4) "
    "digest, not only SHA-1 (1), which MUST NOT be created any more.",
    risk="SHA-1 is broken for collisions; a chain that rests on a SHA-1 digest only is weaker "
    "than the rest of the zone's cryptography and fails modern policy checks.",
    remediation="Submit a SHA-256 DS for the KSK at the registrar, then withdraw the SHA-1 DS.",
    references=("RFC 8624 §3.3", "RFC 4509 §3"),
    message="Key(s) {keys} have only a SHA-1 DS at the parent.",
)
def ds_digest_sha256(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        types: dict[tuple[int, int], set[int]] = {}
        for r in ds:
            types.setdefault((r["key_tag"], r["algorithm"]), set()).add(r["digest_type"])
        weak = {k for k, t in types.items() if 1 in t and not t & STRONG_DIGESTS}
        why = [_ds_row(r) for r in ds if (r["key_tag"], r["algorithm"]) in weak]
        keys = listing(f"{t}/{a}" for t, a in weak)
        return ev.result(why, {"keys": keys}, "every key has a SHA-256+ DS", _ds_row(ds[0]))

    yield from each_zone(ctx, ["ds_matches"], [_ds_scope], decide)


@check(
    id="ds_digest_type_prohibited",
    title="No DS of a prohibited digest type",
    severity="high",
    pillar="technical",
    description="The parent publishes no DS with digest type 0 (reserved) or 3 (GOST R 34.11-94), "
    "which MUST NOT be used.",
    risk="Validators that do not implement the type ignore the record; if it is the only DS "
    "of a key the zone is insecure for them, and the record signals an unmaintained delegation.",
    remediation="Withdraw the DS at the registrar and publish a SHA-256 DS instead.",
    references=("RFC 8624 §3.3", "RFC 9558"),
    message="The parent publishes DS records of prohibited digest type(s) {types}: {records}.",
)
def ds_digest_type_prohibited(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        bad = [r for r in ds if r["digest_type"] in PROHIBITED_DIGESTS]
        params = {
            "types": listing(PROHIBITED_DIGESTS[r["digest_type"]] for r in bad),
            "records": listing(r["key_tag"] for r in bad),
        }
        why = [_ds_row(r) for r in bad]
        return ev.result(why, params, "no prohibited digest type", _ds_row(ds[0]))

    yield from each_zone(ctx, ["ds_matches"], [_ds_scope], decide)


@check(
    id="dnskey_algorithm_must_not_sign",
    title="No key of an algorithm that must not sign",
    severity="high",
    pillar="technical",
    description="No DNSKEY of the zone uses an algorithm that MUST NOT be used for signing: "
    "1, 3, 6, 12 (RFC 8624) and, since RFC 9905, RSASHA1 (5, 7).",
    risk="Signatures made with broken or deprecated algorithms can be forged or will be "
    "treated as insecure by validators that drop them.",
    remediation="Roll the zone to ECDSAP256SHA256 (13) or ED25519 (15) with an algorithm "
    "rollover (RFC 6781 §4.1.4): sign with both algorithms before changing the DS.",
    references=("RFC 8624 §3.1", "RFC 9905", "RFC 9904", "RFC 6781 §4.1.4"),
    message="The zone is signed with {algorithms}.",
)
def dnskey_algorithm_must_not_sign(ctx: Context) -> Iterator[Result]:
    yield from _algorithm_table(ctx, MUST_NOT_SIGN)


@check(
    id="dnskey_algorithm_not_recommended",
    title="No key of a not-recommended algorithm",
    severity="low",
    pillar="technical",
    description="No DNSKEY of the zone uses an algorithm NOT RECOMMENDED for signing "
    "(RSASHA512, 10).",
    risk="Large, slow signatures with no security gain over the recommended algorithms; "
    "expected to be deprecated.",
    remediation="Plan an algorithm rollover to 13 or 15 at the next KSK rollover.",
    references=("RFC 8624 §3.1", "RFC 9904"),
    message="The zone is signed with {algorithms}.",
)
def dnskey_algorithm_not_recommended(ctx: Context) -> Iterator[Result]:
    yield from _algorithm_table(ctx, NOT_RECOMMENDED)


def _algorithm_table(ctx: Context, table: dict[int, str]) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        bad = [r for r in keys if r["algorithm"] in table]
        params = {"algorithms": listing(table[r["algorithm"]] for r in bad)}
        algs = listing(r["algorithm"] for r in keys)
        return ev.result([key_ref(r) for r in bad], params, f"algorithms {algs}", key_ref(keys[0]))

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)


def _policy_of(ctx: Context, zone: str) -> SigningPolicy | None:
    return ctx.policies.get(policy_name(ctx, zone))


@check(
    id="dnskey_algorithm_in_policy",
    title="Key algorithms allowed by the signing policy",
    severity="medium",
    pillar="technical",
    description="Every DNSKEY algorithm of the zone is among the signing policy's "
    "allowed_algorithms.",
    risk="A zone signed outside the organisation's cryptographic policy is an unmanaged "
    "exception (ISO 27001 A.8.24).",
    remediation="Roll the zone to an allowed algorithm, or record an approved exception.",
    references=("RFC 6781 §3.4", "ISO/IEC 27001:2022 A.8.24", "NIST SP 800-53 SC-13"),
    message="Algorithm(s) {algorithms} are not allowed by policy {policy} (allowed: {allowed}).",
)
def dnskey_algorithm_in_policy(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        policy = _policy_of(ctx, ev.zone)
        if policy is None:
            detail = "no signing policy applies: the allowed algorithms are not evidenced"
            return Result(ev.zone, "indeterminate", {"detail": detail}, key_ref(keys[0]))
        bad = [r for r in keys if r["algorithm"] not in policy.allowed_algorithms]
        params = {
            "algorithms": listing(r["algorithm"] for r in bad),
            "policy": policy.name,
            "allowed": ", ".join(str(a) for a in policy.allowed_algorithms),
        }
        why = [f"{key_ref(r)} vs policy {policy.name}" for r in bad]
        return ev.result(why, params, f"allowed by {policy.name}", key_ref(keys[0]))

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)


@check(
    id="rsa_key_length",
    title="RSA keys of 2048 bits or more",
    severity="medium",
    pillar="technical",
    description="Every RSA DNSKEY of the zone has a modulus of at least 2048 bits.",
    risk="1024-bit RSA is within reach of well-funded attackers; a forged ZSK signature lets "
    "them spoof any record of the zone.",
    remediation="Roll the short key to a 2048-bit RSA key, or better to ECDSA P-256 (13).",
    references=("RFC 6781 §3.4.2", "NIST SP 800-57 Part 1 §5.6.1"),
    message="RSA key(s) shorter than 2048 bits: {keys}.",
)
def rsa_key_length(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        rsa = [r for r in keys if r["algorithm"] in RSA]
        if not rsa:
            return Result(ev.zone, "not_applicable", {"detail": "no RSA key"}, key_ref(keys[0]))
        bad = [r for r in rsa if (r["key_bits"] or 0) < MIN_RSA_BITS]
        why = [f"{key_ref(r)}: {r['key_bits']} bits" for r in bad]
        params = {"keys": listing(f"{r['key_tag']} ({r['key_bits']} bits)" for r in bad)}
        return ev.result(why, params, "every RSA key has 2048+ bits", key_ref(rsa[0]))

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)


def key_scheme(sigs: list[Row]) -> str | None:
    """``split``, ``csk`` or ``mixed`` from the zone's ``signatures`` rows: which keys sign
    the DNSKEY RRset and which the zone's data (SOA), whatever the signatures' status. The
    same keys doing both make a CSK scheme, disjoint sets a split; None when either is empty."""

    def signers(rrtype: str) -> set[tuple[int, int]]:
        return {
            (r["key_tag"], r["algorithm"])
            for r in sigs
            if r["covered_type"] == rrtype and r["key_tag"] is not None
        }

    dnskey, data = signers("DNSKEY"), signers("SOA")
    if not dnskey or not data:
        return None
    if dnskey == data:
        return "csk"
    return "split" if not dnskey & data else "mixed"


@check(
    id="key_scheme_matches_policy",
    title="KSK/ZSK split or CSK as the policy says",
    severity="low",
    pillar="technical",
    description="The zone's keys play the roles the signing policy's key_scheme asks for: "
    "split (a KSK signs the DNSKEY set, a separate ZSK the data) or csk (one key signs all).",
    risk="A scheme other than the documented one means rollovers and key custody are not "
    "run as the policy and its procedures assume.",
    remediation="Align the signer's key configuration with the policy, or change the policy.",
    references=("RFC 6781 §3.1", "ISO/IEC 27001:2022 A.8.24"),
    message="The keys form a {seen} scheme; policy {policy} asks for {wanted}.",
)
def key_scheme_matches_policy(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        policy = _policy_of(ctx, ev.zone)
        wanted = getattr(policy, "key_scheme", None) if policy is not None else None
        ev_text = "; ".join(f"{key_ref(r)} signs {r['signs'] or '-'}" for r in keys)
        if policy is None or wanted is None:
            detail = "no key_scheme in the signing policy" if policy else "no signing policy"
            status = "not_applicable" if policy else "indeterminate"
            return Result(ev.zone, status, {"detail": detail}, ev_text)
        seen = key_scheme([r for r in ev.rows("signatures") if r["side"] == "child"])
        if seen is None:
            detail = "no signature over the DNSKEY set or the SOA: the key roles are unknown"
            return Result(ev.zone, "indeterminate", {"detail": detail}, ev_text)
        if seen == wanted:
            return Result(ev.zone, "pass", {"detail": f"{seen}, as policy {policy.name}"}, ev_text)
        params = {"seen": seen, "policy": policy.name, "wanted": wanted}
        return Result(ev.zone, "fail", params, ev_text)

    yield from each_zone(ctx, ["dnskeys", "signatures"], SIGNED, decide)


@check(
    id="dnskey_unused",
    title="Every published key is in use",
    severity="info",
    pillar="technical",
    description="Every DNSKEY of the zone either signs something (any RRSIG made with it, valid "
    "or not) or has a DS at the parent. A key that does neither is pre-published for a "
    "rollover, or a leftover.",
    risk="Expected half-way through a ZSK pre-publication rollover; otherwise a forgotten key "
    "that enlarges the DNSKEY set and muddies the key inventory.",
    remediation="Check the key against the rollover plan; remove it when it is not one.",
    references=("RFC 6781 §4.1.1.1", "RFC 7583 §3.2"),
    message="Key(s) published but neither signing nor referenced by a DS: {keys}.",
)
def dnskey_unused(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        signing = {
            (r["key_tag"], r["algorithm"])
            for r in ev.rows("signatures")
            if r["side"] == "child" and r["key_tag"] is not None
        }
        with_ds = {(r["key_tag"], r["algorithm"]) for r in keys if flag(r["ds_match"])}
        published = {(r["key_tag"], r["algorithm"]) for r in keys}
        idle = published - signing - with_ds
        why = [key_ref(r) for r in keys if (r["key_tag"], r["algorithm"]) in idle]
        params = {"keys": listing(f"{t}/{a}" for t, a in idle)}
        return ev.result(why, params, f"{len(published)} key(s) in use", key_ref(keys[0]))

    yield from each_zone(ctx, ["dnskeys", "signatures"], SIGNED, decide)
