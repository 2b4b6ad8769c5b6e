"""The toolkit's own validation of the chain of trust: pure functions, no I/O, ``now`` injected.

Given what the parent served (DS or a signed denial of DS), what each authoritative server of
the zone served (DNSKEY, SOA and NS with their RRSIGs) and the parent's verdict, decide the
zone's status (RFC 4035 §4.3): secure, insecure, bogus or indeterminate, with reason codes
from :mod:`toolkit.reasons`. Missing data is never secure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypedDict

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.NSEC import NSEC
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.RRSIG import RRSIG

from toolkit.collect.sigstatus import (
    REVOKE,
    VALIDATED_ALGORITHMS,
    VALIDATED_DIGESTS,
    ZONE_KEY,
    key_tag,
    make_ds,
    verify_crypto,
)

# Worst first: the status a zone gets when its servers disagree.
_SEVERITY = {"bogus": 0, "indeterminate": 1, "insecure": 2, "secure": 3}


@dataclass(frozen=True)
class UsableDs:
    """The DS records a validator uses (RFC 4035 §5.2, RFC 6840 §5.2, RFC 4509 §3), and why
    the others are set aside."""

    usable: list[DS]
    unsupported_algorithm: list[DS]
    unsupported_digest: list[DS]
    sha1_ignored: list[DS]

    def insecure_reasons(self) -> list[str]:
        """The reason codes of a zone no DS of which a validator can use (then insecure)."""
        out = []
        if self.unsupported_algorithm:
            out.append("DS_UNSUPPORTED_ALGORITHM")
        if self.unsupported_digest:
            out.append("DS_UNSUPPORTED_DIGEST")
        return out


def usable_ds(ds_set: dns.rrset.RRset) -> UsableDs:
    """Split a DS RRset as a validator does: a DS of an algorithm it does not validate
    (RFC 4035 §5.2) or of a digest type it does not implement (RFC 6840 §5.2) cannot build an
    authentication path; when SHA-256 DS records are present, SHA-1 ones are ignored
    (RFC 4509 §3). When no DS is usable, the zone is treated as unsigned: insecure."""
    alg_bad = [ds for ds in ds_set if int(ds.algorithm) not in VALIDATED_ALGORITHMS]
    digest_bad = [
        ds
        for ds in ds_set
        if int(ds.algorithm) in VALIDATED_ALGORITHMS
        and int(ds.digest_type) not in VALIDATED_DIGESTS
    ]
    usable = [ds for ds in ds_set if ds not in alg_bad and ds not in digest_bad]
    sha1 = []
    if any(int(ds.digest_type) == 2 for ds in usable):
        sha1 = [ds for ds in usable if int(ds.digest_type) == 1]
        usable = [ds for ds in usable if int(ds.digest_type) != 1]
    return UsableDs(usable, alg_bad, digest_bad, sha1)


@dataclass(frozen=True)
class SigCheck:
    """Outcome of checking one RRset's signatures against a key set."""

    ok: bool
    reason: str | None  # RRSIG_EXPIRED | RRSIG_NOT_YET_VALID | RRSIG_INVALID | RRSIG_MISSING
    detail: str = ""


@dataclass
class ParentData:
    """What the parent's authoritative servers said about the zone's DS RRset."""

    answered: bool
    nxdomain: bool = False
    ds: dns.rrset.RRset | None = None
    ds_sigs: dns.rrset.RRset | None = None
    denial: list[dns.rrset.RRset] = field(default_factory=list)  # NSEC/NSEC3 + their RRSIGs


@dataclass
class ChildData:
    """What one authoritative server of the zone served at the apex."""

    server: str
    answered: bool
    dnskey: dns.rrset.RRset | None = None
    dnskey_sigs: dns.rrset.RRset | None = None
    soa: dns.rrset.RRset | None = None
    soa_sigs: dns.rrset.RRset | None = None
    ns: dns.rrset.RRset | None = None
    ns_sigs: dns.rrset.RRset | None = None


@dataclass
class Verdict:
    """A zone's status and why; ``keys`` is the validated DNSKEY RRset when secure."""

    status: str
    reasons: list[str]
    keys: dns.rrset.RRset | None = None
    has_ds: bool | None = None
    signed: bool | None = None
    algorithms: tuple[int, ...] = ()
    earliest_expiration: datetime | None = None
    servers: int = 0
    answered: int = 0


def _ts(dt: datetime) -> float:
    return dt.astimezone(UTC).timestamp()


def sig_time(value: int) -> datetime:
    """An RRSIG inception/expiration (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(value, tz=UTC)


def check_signatures(
    rrset: dns.rrset.RRset | None,
    rrsigs: dns.rrset.RRset | None,
    keys: dns.rrset.RRset | dns.rdataset.Rdataset | list[DNSKEY] | None,
    signer: dns.name.Name,
    now: datetime,
) -> SigCheck:
    """Check that at least one RRSIG over ``rrset`` made by ``signer`` with one of ``keys``
    verifies at ``now`` (RFC 4035 §5.3). When none does, the reason says why, preferring the
    most telling one: expired, then not yet valid, then does not verify, then missing."""
    if rrset is None:
        return SigCheck(False, "RRSIG_MISSING", "no RRset to check")
    keyset = list(keys or [])
    if not keyset:
        return SigCheck(False, "RRSIG_MISSING", "no key to check with")
    candidates = [
        s
        for s in (rrsigs or [])
        if s.signer == signer
        and any(key_tag(k) == s.key_tag and k.algorithm == s.algorithm for k in keyset)
    ]
    if not candidates:
        return SigCheck(False, "RRSIG_MISSING", f"no RRSIG by {signer} with a trusted key")
    t = _ts(now)
    problems = set()
    last = ""
    for sig in candidates:
        if t > sig.expiration:
            problems.add("RRSIG_EXPIRED")
            continue
        if t < sig.inception:
            problems.add("RRSIG_NOT_YET_VALID")
            continue
        usable = [k for k in keyset if _may_validate(k, sig)]
        last = "no key a validator may use (revoked, not a zone key, or algorithm denied)"
        for key in usable:
            why = verify_crypto(rrset, sig, key, signer)  # remembered by content
            if why is None:
                return SigCheck(True, None)
            last = why
        problems.add("RRSIG_INVALID")
    for reason in ("RRSIG_EXPIRED", "RRSIG_NOT_YET_VALID", "RRSIG_INVALID"):
        if reason in problems:
            return SigCheck(False, reason, last if reason == "RRSIG_INVALID" else "")
    return SigCheck(False, "RRSIG_INVALID")  # pragma: no cover - candidates was not empty


def _may_validate(key: DNSKEY, sig: RRSIG) -> bool:
    """Whether a validator may check ``sig`` with ``key`` (RFC 4034 §2.1.1-2, RFC 5011 §2.1,
    the RFC 8624 validation table as dnspython's default policy has it)."""
    return (
        key_tag(key) == sig.key_tag
        and key.algorithm == sig.algorithm
        and key.protocol == 3
        and bool(key.flags & ZONE_KEY)
        and (not key.flags & REVOKE or sig.type_covered == dns.rdatatype.DNSKEY)
        and dns.dnssec.default_policy.ok_to_validate(key)
    )


def keys_matching_ds(
    zone: dns.name.Name, ds_set: dns.rrset.RRset, dnskeys: dns.rrset.RRset | None
) -> list[DNSKEY]:
    """The DNSKEYs of ``dnskeys`` that some DS of ``ds_set`` points at (digest verifies)."""
    matched = []
    for key in dnskeys or []:
        for ds in ds_set:
            if ds.key_tag != key_tag(key) or ds.algorithm != key.algorithm:
                continue
            try:
                # validating mode: a SHA-1 DS is still validated (RFC 8624 §3.3)
                if make_ds(zone, key, ds.digest_type, validating=True) == ds:
                    matched.append(key)
                    break
            except (dns.dnssec.UnsupportedAlgorithm, dns.dnssec.DeniedByPolicy, ValueError):
                continue
    return matched


def denial_of_ds(
    name: dns.name.Name,
    parent: dns.name.Name,
    denial: list[dns.rrset.RRset],
    parent_keys: dns.rrset.RRset | None,
    now: datetime,
) -> SigCheck:
    """Whether the NSEC/NSEC3 records the parent served prove that ``name`` has no DS, each
    record's signature verifying with the parent's keys (RFC 4035 §5.4, RFC 5155 §8.6; None,
    a parent without validated keys: nothing verifies).

    Proofs recognised: an NSEC or NSEC3 record matching the name whose type bitmap has NS and
    neither DS nor SOA (RFC 6840 §4.4: a bitmap without NS is no delegation; one with SOA comes
    from the child's apex, not from the parent's side of the cut); an opt-out NSEC3 covering the
    name's hash."""
    sigs = {(r.name, r.covers): r for r in denial if r.rdtype == dns.rdatatype.RRSIG}
    for rrset in denial:
        if rrset.rdtype == dns.rdatatype.NSEC and rrset.name == name:
            why = _delegation_bitmap(set().union(*(_types(r) for r in rrset)), "NSEC")
            if why:
                return SigCheck(False, "DS_DENIAL_UNPROVEN", why)
            return check_signatures(
                rrset, sigs.get((rrset.name, rrset.rdtype)), parent_keys, parent, now
            )
        if rrset.rdtype == dns.rdatatype.NSEC3:
            nsec3: NSEC3 = rrset[0]
            hashed = dns.dnssec.nsec3_hash(name, nsec3.salt, nsec3.iterations, nsec3.algorithm)
            owner_hash = rrset.name.labels[0].decode().upper()
            if owner_hash == hashed.upper():
                why = _delegation_bitmap(_types(nsec3), "NSEC3")
                if why:
                    return SigCheck(False, "DS_DENIAL_UNPROVEN", why)
                return check_signatures(
                    rrset, sigs.get((rrset.name, rrset.rdtype)), parent_keys, parent, now
                )
            nxt = _b32hex(nsec3.next)
            if nsec3.flags & 1 and _covers(owner_hash, nxt, hashed.upper()):
                return check_signatures(
                    rrset, sigs.get((rrset.name, rrset.rdtype)), parent_keys, parent, now
                )
    return SigCheck(False, "DS_DENIAL_UNPROVEN", "no NSEC/NSEC3 record proves the absence")


def _delegation_bitmap(types: set[int], kind: str) -> str | None:
    """Why the type bitmap of the NSEC/NSEC3 matching a delegation does not prove that it has
    no DS (None when it does): RFC 6840 §4.4 wants NS set, SOA and DS clear."""
    if dns.rdatatype.DS in types:
        return f"{kind} lists a DS record"
    if dns.rdatatype.SOA in types:
        return f"{kind} has the SOA bit: it is the child's apex record, not the parent's"
    if dns.rdatatype.NS not in types:
        return f"{kind} lacks the NS bit: the name is not a delegation"
    return None


def _types(rdata: NSEC | NSEC3) -> set[int]:
    out: set[int] = set()
    for window, bitmap in rdata.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.add(window * 256 + i * 8 + bit)
    return out


def _b32hex(raw: bytes) -> str:
    import base64

    std = base64.b32encode(raw).decode()
    return std.translate(
        str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHIJKLMNOPQRSTUV")
    ).rstrip("=")


def _covers(owner: str, nxt: str, h: str) -> bool:
    if owner < nxt:
        return owner < h < nxt
    return h > owner or h < nxt  # the last NSEC3 wraps around


def _earliest(children: list[ChildData], zone: dns.name.Name) -> datetime | None:
    expirations = [
        sig.expiration
        for c in children
        for sigs in (c.dnskey_sigs, c.soa_sigs, c.ns_sigs)
        for sig in (sigs or [])
        if sig.signer == zone
    ]
    return sig_time(min(expirations)) if expirations else None


def _judge_server(
    zone: dns.name.Name,
    child: ChildData,
    trusted: list[DNSKEY],
    anchor_is_root: bool,
    now: datetime,
) -> tuple[str, list[str], dns.rrset.RRset | None]:
    """Status of one server's apex data given the keys the parent (or anchor) vouches for."""
    if child.dnskey is None:
        return "bogus", ["DNSKEY_MISSING"], None
    matched = [k for k in child.dnskey if k in trusted] if trusted else []
    if not matched:
        return (
            "bogus",
            ["TRUST_ANCHOR_MISMATCH" if anchor_is_root else "DS_NO_MATCHING_DNSKEY"],
            None,
        )
    # RFC 5011 §2.1: a revoked key vouches only for its own revocation, never for the key set
    matched = [k for k in matched if not k.flags & REVOKE]
    if not matched:
        return "bogus", ["DS_ONLY_REVOKED_KEYS"], None
    check = check_signatures(child.dnskey, child.dnskey_sigs, matched, zone, now)
    if not check.ok:
        return "bogus", [check.reason or "RRSIG_INVALID"], None
    reasons = []
    for rrset, sigs in ((child.soa, child.soa_sigs), (child.ns, child.ns_sigs)):
        if rrset is None:
            continue
        c = check_signatures(rrset, sigs, child.dnskey, zone, now)
        if not c.ok and c.reason not in reasons:
            reasons.append(c.reason or "RRSIG_INVALID")
    if reasons:
        return "bogus", reasons, None
    return "secure", [], child.dnskey


class _ZoneFacts(TypedDict):
    """The fields of a zone's :class:`Verdict` that do not depend on the judgement."""

    signed: bool | None
    algorithms: tuple[int, ...]
    earliest_expiration: datetime | None
    servers: int
    answered: int


def judge_zone(
    zone: dns.name.Name,
    *,
    parent_name: dns.name.Name | None,
    parent_verdict: Verdict | None,
    parent_data: ParentData | None,
    children: list[ChildData],
    now: datetime,
    min_validity_days: float | None = None,
    anchor_ds: dns.rrset.RRset | None = None,
    anchor_dnskey: dns.rrset.RRset | None = None,
) -> Verdict:
    """Decide a zone's status from the parent's verdict, the DS evidence and its servers' data.

    For the trust anchor's own zone (the root), pass ``anchor_ds`` and/or ``anchor_dnskey``
    instead of a parent. ``min_validity_days`` is the policy floor under which a secure zone
    gets the SIG_EXPIRING_SOON warning.
    """
    answered = [c for c in children if c.answered]
    signed = any(c.dnskey is not None for c in answered) if answered else None
    algorithms = tuple(sorted({k.algorithm for c in answered for k in (c.dnskey or [])}))
    earliest = _earliest(answered, zone)
    base = _ZoneFacts(
        signed=signed,
        algorithms=algorithms,
        earliest_expiration=earliest,
        servers=len(children),
        answered=len(answered),
    )
    lame = ["LAME_SERVER"] if answered and len(answered) < len(children) else []
    sha1_note: list[str] = []  # a SHA-1 DS would have matched, but RFC 4509 §3 sets it aside

    # 1. What does the parent (or the anchor) vouch for?
    is_anchor = anchor_ds is not None or anchor_dnskey is not None
    if is_anchor:
        trusted: list[DNSKEY] = list(anchor_dnskey or [])
        if anchor_ds is not None:
            for c in answered:
                trusted += keys_matching_ds(zone, anchor_ds, c.dnskey)
        has_ds: bool | None = True
    else:
        if parent_verdict is None or parent_data is None or parent_name is None:
            raise ValueError("judge_zone needs a parent verdict and data, or an anchor")
        if parent_verdict.status != "secure":
            code = {
                "insecure": "PARENT_INSECURE",
                "bogus": "PARENT_BOGUS",
                "indeterminate": "PARENT_INDETERMINATE",
            }[parent_verdict.status]
            return Verdict(parent_verdict.status, [code], has_ds=None, **base)
        if parent_data.nxdomain:
            return Verdict("indeterminate", ["ZONE_NOT_FOUND"], has_ds=False, **base)
        if not parent_data.answered:
            return Verdict("indeterminate", ["NO_RESPONSE"], **base)
        if parent_data.ds is not None:
            check = check_signatures(
                parent_data.ds, parent_data.ds_sigs, parent_verdict.keys, parent_name, now
            )
            if not check.ok:
                return Verdict("bogus", [check.reason or "RRSIG_INVALID"], has_ds=True, **base)
            has_ds = True
            split = usable_ds(parent_data.ds)
            if not split.usable:
                # RFC 4035 §5.2, RFC 6840 §5.2: no authentication path, as if unsigned
                return Verdict("insecure", [*split.insecure_reasons(), *lame], has_ds=True, **base)
            usable = dns.rrset.from_rdata_list(zone, parent_data.ds.ttl, split.usable)
            trusted = []
            for c in answered:
                trusted += keys_matching_ds(zone, usable, c.dnskey)
            if not trusted and split.sha1_ignored:
                ignored = dns.rrset.from_rdata_list(zone, parent_data.ds.ttl, split.sha1_ignored)
                if any(keys_matching_ds(zone, ignored, c.dnskey) for c in answered):
                    sha1_note = ["DS_SHA1_IGNORED"]
        else:
            proof = denial_of_ds(zone, parent_name, parent_data.denial, parent_verdict.keys, now)
            if not proof.ok:
                return Verdict("bogus", ["DS_DENIAL_UNPROVEN"], has_ds=False, **base)
            has_ds = False

    # 2. No DS: provably insecure. Say whether the zone is signed anyway (an island).
    if not has_ds:
        if not answered:
            return Verdict("insecure", ["NO_RESPONSE"], has_ds=False, **base)
        reason = "NO_DS_SIGNED" if signed else "UNSIGNED"
        return Verdict("insecure", [reason, *lame], has_ds=False, **base)

    # 3. DS present: every answering server must serve a DNSKEY set the DS vouches for.
    if not answered:
        return Verdict("indeterminate", ["NO_RESPONSE"], has_ds=True, **base)
    worst = "secure"
    reasons: list[str] = []
    keys = None
    for child in answered:
        status, why, k = _judge_server(zone, child, trusted, is_anchor, now)
        if _SEVERITY[status] < _SEVERITY[worst]:
            worst = status
        reasons += [r for r in why if r not in reasons]
        keys = keys or k
    if worst == "secure" and earliest is not None and min_validity_days is not None:
        if (earliest - now).total_seconds() < min_validity_days * 86400:
            reasons.append("SIG_EXPIRING_SOON")
    return Verdict(
        worst,
        reasons + sha1_note + lame,
        keys=keys if worst == "secure" else None,
        has_ds=True,
        **base,
    )
