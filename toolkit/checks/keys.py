"""Checks on the zone's keys and their links to the parent: DS ↔ DNSKEY, DS digest types,
DNSKEY algorithms and sizes, the key scheme the policy asks for, unused keys.

They read the ``ds_matches`` and ``dnskeys`` evidence frames (see :mod:`toolkit.schemas`).
Algorithm status is named data (RFC 8624 tables as kept in IANA's registry by RFC 9904, with
RFC 9905's change to algorithms 5 and 7 and RFC 9906's retirement of GOST), not branches:
:func:`algorithm_status` and :func:`digest_status` name a number and its IANA status in a finding.
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
    zone_policy,
)

CHECKS, check = collector()


def algorithm_status(number: int) -> str:
    """A DNSKEY algorithm number, its name and its status in IANA's registry (RFC 9904 keeps
    the recommendations RFC 8624 tabled; RFC 9905 changed 5 and 7, RFC 9906 retired 12)."""
    known = _ALGORITHMS.get(number)
    if known is not None:
        return f"{number} {known}"
    if 123 <= number <= 251:
        return f"{number} (reserved: no algorithm, no validator implements it)"
    return f"{number} (unassigned: no algorithm, no validator implements it)"


_ALGORITHMS = {
    0: "(reserved: CDS/CDNSKEY delete only, never a signing algorithm)",
    1: "RSAMD5 (MUST NOT sign, MUST NOT validate: RFC 9904)",
    2: "DH (not a zone signing algorithm)",
    3: "DSA (MUST NOT sign, MUST NOT validate: RFC 9904)",
    4: "(reserved)",
    5: "RSASHA1 (MUST NOT sign: RFC 9905)",
    6: "DSA-NSEC3-SHA1 (MUST NOT sign, MUST NOT validate: RFC 9904)",
    7: "RSASHA1-NSEC3-SHA1 (MUST NOT sign: RFC 9905)",
    8: "RSASHA256",
    9: "(reserved)",
    10: "RSASHA512",
    11: "(reserved)",
    12: "ECC-GOST (MUST NOT sign, MUST NOT validate: RFC 9906)",
    13: "ECDSAP256SHA256",
    14: "ECDSAP384SHA384",
    15: "ED25519",
    16: "ED448",
    17: "SM2SM3 (not implemented by mainstream validators)",
    23: "ECC-GOST12 (not implemented by mainstream validators)",
    252: "INDIRECT (reserved, never a signing algorithm)",
    253: "PRIVATEDNS (private: only validators that know the private algorithm use it)",
    254: "PRIVATEOID (private: only validators that know the private algorithm use it)",
    255: "(reserved)",
}


def digest_status(number: int) -> str:
    """A DS digest type number, its name and its status in IANA's registry (RFC 9904)."""
    known = _DIGESTS.get(number)
    return f"{number} {known}" if known else f"{number} (unassigned: no validator implements it)"


_DIGESTS = {
    0: "(reserved, MUST NOT be used)",
    1: "SHA-1 (MUST NOT be created: RFC 9904)",
    2: "SHA-256",
    3: "GOST R 34.11-94 (MUST NOT be created or validated: RFC 9906)",
    4: "SHA-384",
    5: "GOST R 34.11-2012 (not implemented by mainstream validators)",
    6: "SM3 (not implemented by mainstream validators)",
}

MUST_NOT_SIGN = {n: algorithm_status(n) for n in (1, 3, 5, 6, 7, 12)}
"""Algorithms a zone must not be signed with, and why."""


def _validated() -> tuple[frozenset[int], frozenset[int]]:
    """The algorithms and digest types validators use, as the collector's validation knows
    them (imported here: :mod:`toolkit.collect` imports the checks at its own import)."""
    from toolkit.collect.sigstatus import VALIDATED_ALGORITHMS, VALIDATED_DIGESTS

    return VALIDATED_ALGORITHMS, VALIDATED_DIGESTS


def not_validated(number: int) -> str | None:
    """Why validators do not validate a key of algorithm ``number`` (None when they do)."""
    if number in _validated()[0]:
        return None
    return algorithm_status(number)


NOT_RECOMMENDED = {10: "RSASHA512 (NOT RECOMMENDED for signing, RFC 8624)"}
RSA = frozenset({1, 5, 7, 8, 10})
MIN_RSA_BITS = 2048
ASSIGNED_DIGESTS = frozenset(_DIGESTS)


def prohibited_digest(number: int) -> str | None:
    """Why a DS of digest type ``number`` must not be published: 0 and 3 MUST NOT be used, and
    an unassigned number is no digest at all (None when the type may be published)."""
    if number in (0, 3) or number not in ASSIGNED_DIGESTS:
        return digest_status(number)
    return None


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


def _matched_ds(ev: Evidence) -> list[Row]:
    return [r for r in ev.rows("ds_matches") if flag(r["digest_verifies"])]


def _no_matched_ds(ev: Evidence) -> Result | None:
    """Indeterminate when no DS matches a published key (ds_matches_dnskey says why)."""
    if _matched_ds(ev):
        return None
    detail = "no DS matches a published key (see ds_matches_dnskey)"
    return Result(ev.zone, "indeterminate", {"detail": detail}, _ds_row(ev.rows("ds_matches")[0]))


_MATCHED_DS = (*_DS_AND_PROBED, _no_matched_ds)
"""The scope of the checks about the keys the DS records point at."""


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
        matched = _matched_ds(ev)
        bad = [r for r in matched if not flag(r["key_has_sep"]) or flag(r["key_revoked"])]
        why = [f"{_ds_row(r)}: key flags {r['key_flags']}" for r in bad]
        keys = listing(f"{r['key_tag']} (flags {r['key_flags']})" for r in bad)
        return ev.result(why, {"keys": keys}, "every DS points at a SEP key", _ds_row(matched[0]))

    yield from each_zone(ctx, ["ds_matches"], _MATCHED_DS, decide)


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
        matched = _matched_ds(ev)
        live = [r for r in matched if not flag(r["key_revoked"])]
        why = (
            [] if live else [f"{_ds_row(r)}: key flags {r['key_flags']} (REVOKE)" for r in matched]
        )
        keys = listing(f"{r['key_tag']} (flags {r['key_flags']})" for r in matched)
        passed = f"DS of unrevoked key(s) {listing(r['key_tag'] for r in live)}"
        return ev.result(why, {"keys": keys}, passed, _ds_row((live or matched)[0]))

    yield from each_zone(ctx, ["ds_matches"], _MATCHED_DS, decide)


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
    title="No DS of a prohibited or unassigned digest type",
    severity="high",
    pillar="technical",
    description="The parent publishes no DS with digest type 0 (reserved), 3 (GOST R 34.11-94, "
    "retired by RFC 9906) or a number IANA has not assigned (7 and above), which MUST NOT be "
    "used (Zonemaster DNSSEC01).",
    risk="Validators that do not implement the type ignore the record; if it is the only DS "
    "of a key the zone is insecure for them, and the record signals an unmaintained delegation.",
    remediation="Withdraw the DS at the registrar and publish a SHA-256 DS instead.",
    references=("RFC 9904", "RFC 9906", "RFC 6840 §5.2", "RFC 8624 §3.3"),
    message="The parent publishes DS records of prohibited digest type(s) {types}: {records}.",
)
def ds_digest_type_prohibited(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        bad = [r for r in ds if prohibited_digest(r["digest_type"])]
        params = {
            "types": listing(prohibited_digest(r["digest_type"]) for r in bad),
            "records": listing(r["key_tag"] for r in bad),
        }
        why = [_ds_row(r) for r in bad]
        return ev.result(why, params, "no prohibited digest type", _ds_row(ds[0]))

    yield from each_zone(ctx, ["ds_matches"], [_ds_scope], decide)


@check(
    id="ds_usable_by_validators",
    title="The parent holds a DS validators can use",
    severity="high",
    pillar="technical",
    description="At least one DS at the parent has a DNSKEY algorithm validators validate and "
    "a digest type they implement (Zonemaster DNSSEC01 and DNSSEC05). When none has, a "
    "validator treats the zone as insecure — as if it were unsigned — not as bogus.",
    risk="The zone is signed and delegated with DS records, yet no validator can build a chain "
    "of trust to it: DNSSEC protects none of its users, silently (nothing fails to resolve).",
    remediation="Sign the zone with ECDSAP256SHA256 (13) or ED25519 (15) and publish a SHA-256 "
    "DS of its key-signing key at the registrar; withdraw the unusable DS records.",
    references=("RFC 4035 §5.2", "RFC 6840 §5.2", "RFC 9904", "RFC 9905", "RFC 9906"),
    message="No DS at the parent can be used by a validator: {records}. Validators therefore "
    "treat the zone as insecure (unsigned), not bogus.",
)
def ds_usable_by_validators(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        algorithms, digests = _validated()
        usable = [r for r in ds if r["algorithm"] in algorithms and r["digest_type"] in digests]
        if usable:
            ok = f"{len(usable)} DS record(s) of a validated algorithm and digest type"
            return Result(ev.zone, "pass", {"detail": ok}, _ds_row(usable[0]))

        def why(r: Row) -> str:
            parts = []
            if r["algorithm"] not in algorithms:
                parts.append(f"algorithm {algorithm_status(r['algorithm'])}")
            if r["digest_type"] not in digests:
                parts.append(f"digest type {digest_status(r['digest_type'])}")
            return f"DS {r['key_tag']}: " + ", ".join(parts)

        params = {"records": listing(why(r) for r in ds)}
        return Result(ev.zone, "fail", params, "; ".join(f"{_ds_row(r)}: {why(r)}" for r in ds))

    yield from each_zone(ctx, ["ds_matches"], [_ds_scope], decide)


@check(
    id="ds_sha1_beside_sha256",
    title="No SHA-1 DS beside a SHA-256 one",
    severity="low",
    pillar="technical",
    description="No key has a SHA-1 DS (digest type 1) at the parent next to a SHA-256 or "
    "SHA-384 DS: SHA-1 DS records MUST NOT be created, and validators ignore them when a "
    "SHA-256 DS is present.",
    risk="The SHA-1 record adds nothing but a weaker digest in the chain of trust; it shows "
    "that the registrar's DS set is not reviewed against current algorithm guidance.",
    remediation="Withdraw the SHA-1 DS at the registrar; keep the SHA-256 one.",
    references=("RFC 9904", "RFC 8624 §3.3", "RFC 4509 §3"),
    message="Key(s) {keys} have a SHA-1 DS beside a SHA-256/SHA-384 DS: SHA-1 DS records MUST "
    "NOT be created.",
)
def ds_sha1_beside_sha256(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        ds = ev.rows("ds_matches")
        types: dict[tuple[int, int], set[int]] = {}
        for r in ds:
            types.setdefault((r["key_tag"], r["algorithm"]), set()).add(r["digest_type"])
        both = {k for k, t in types.items() if 1 in t and t & STRONG_DIGESTS}
        why = [_ds_row(r) for r in ds if (r["key_tag"], r["algorithm"]) in both]
        keys = listing(f"{t}/{a}" for t, a in both)
        return ev.result(why, {"keys": keys}, "no SHA-1 DS beside a SHA-256 one", _ds_row(ds[0]))

    yield from each_zone(ctx, ["ds_matches"], [_ds_scope], decide)


@check(
    id="dnskey_algorithm_must_not_sign",
    title="No key of an algorithm that must not sign or that validators do not validate",
    severity="high",
    pillar="technical",
    description="No DNSKEY of the zone uses an algorithm that MUST NOT be used for signing "
    "(1, 3, 6 and 12 — which validators MUST NOT validate either — and, since RFC 9905, "
    "RSASHA1: 5, 7), nor an algorithm number validators do not implement: unassigned, "
    "reserved, private (253, 254) or not implemented by mainstream validators (Zonemaster "
    "DNSSEC05).",
    risk="Signatures made with broken or deprecated algorithms can be forged; signatures of an "
    "algorithm validators do not validate protect nobody: where no other algorithm anchors "
    "the zone, validators treat it as insecure.",
    remediation="Roll the zone to ECDSAP256SHA256 (13) or ED25519 (15) with an algorithm "
    "rollover (RFC 6781 §4.1.4): sign with both algorithms before changing the DS.",
    references=("RFC 9904", "RFC 9905", "RFC 9906", "RFC 4035 §5.2", "RFC 6781 §4.1.4"),
    message="The zone is signed with {algorithms}.{unvalidated}",
)
def dnskey_algorithm_must_not_sign(ctx: Context) -> Iterator[Result]:
    def decide(ev: Evidence) -> Result:
        keys = ev.rows("dnskeys")
        bad = [r for r in keys if r["algorithm"] in MUST_NOT_SIGN or not_validated(r["algorithm"])]
        dropped = sorted({r["algorithm"] for r in bad if not_validated(r["algorithm"])})
        unvalidated = ""
        if dropped:
            unvalidated = (
                f" Validators do not validate algorithm(s) {listing(dropped)}: unless a DS of "
                "another algorithm anchors the zone, they treat it as insecure, not bogus."
            )
        params = {
            "algorithms": listing(algorithm_status(r["algorithm"]) for r in bad),
            "unvalidated": unvalidated,
        }
        algs = listing(r["algorithm"] for r in keys)
        return ev.result([key_ref(r) for r in bad], params, f"algorithms {algs}", key_ref(keys[0]))

    yield from each_zone(ctx, ["dnskeys"], SIGNED, decide)


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
        policy = zone_policy(ctx, ev.zone)
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
        policy = zone_policy(ctx, ev.zone)
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
