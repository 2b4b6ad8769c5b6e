"""The status of every RRSIG over one RRset: pure, ``now`` injected.

:func:`judge_signatures` gives each RRSIG one status, the first that applies:

``signer_mismatch``
    the signer name is not the zone that should sign the RRset (RFC 4035 §5.3.1);
``unknown_key``
    no DNSKEY of the key set has the RRSIG's key tag and algorithm;
``expired`` / ``premature``
    ``now`` is after the expiration / before the inception (RFC 4035 §5.3.1);
``unsupported_algorithm``
    its algorithm is one a validator does not validate (:data:`VALIDATED_ALGORITHMS`): the
    toolkit cannot say whether it verifies, so it is neither valid nor invalid;
``invalid``
    the signature does not verify with the key;
``revoked_key``
    it verifies, but with a key whose REVOKE bit is set (RFC 5011 §2.1): a validator must not
    use that key except for the DNSKEY RRset's own revocation signature;
``valid``
    it verifies.

and adds a ``missing`` status for every algorithm of the key set without any RRSIG over the
RRset (RFC 4035 §2.2: every algorithm of the apex DNSKEY RRset signs every RRset), or one
``missing`` without an algorithm when the RRset has no RRSIG and no key set is known.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, auto
from typing import TypeVar

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
from cryptography.exceptions import InvalidSignature
from dns.dnssectypes import DSDigest
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.RRSIG import RRSIG

SIG_STATUSES = (
    "valid",
    "expired",
    "premature",
    "invalid",
    "unsupported_algorithm",
    "unknown_key",
    "revoked_key",
    "signer_mismatch",
    "missing",
)

ZONE_KEY = 0x0100
REVOKE = 0x0080
SEP = 0x0001


@dataclass(frozen=True)
class SigStatus:
    """One RRSIG (None for a ``missing`` one) and its status; ``detail`` says more."""

    rrsig: RRSIG | None
    algorithm: int | None
    key_tag: int | None
    status: str
    detail: str = ""


VALIDATED_ALGORITHMS = frozenset({5, 7, 8, 10, 13, 14, 15, 16})
"""DNSKEY algorithms the toolkit validates, as a validator following the IANA registry's
recommendations (RFC 9904; RFC 9905 for 5 and 7): 1, 3 and 6 MUST NOT be validated, ECC-GOST
(12) is deprecated (RFC 9906) and implemented by no mainstream validator; unassigned, reserved
and private numbers (253, 254) are unknown to any validator."""

VALIDATED_DIGESTS = frozenset({1, 2, 4})
"""DS digest types the toolkit validates: SHA-1, SHA-256, SHA-384 (0 is reserved, GOST R
34.11-94 (3) deprecated by RFC 9906, every other number unassigned or not implemented)."""


class _Missing(Enum):
    """Not in the cache (an outcome may be None)."""

    MISSING = auto()


_MISSING = _Missing.MISSING
_CACHE_LIMIT = 10_000
"""Entries per cache at most (verifications: the oldest go first; tags and digests: the cache
starts over). A collection reuses an entry within the zone that made it (its validation, its
other servers, its evidence rows), so memory stays flat however many zones are collected."""
_VERIFIED: OrderedDict[tuple[Hashable, ...], str | None] = OrderedDict()
_TAGS: dict[tuple[int, int, int, bytes], int] = {}
_DIGESTS: dict[tuple[Hashable, ...], DS] = {}
_FORMS: dict[Callable[[object], object], dict[int, tuple[object, object]]] = {}
_T = TypeVar("_T")
_F = TypeVar("_F")
"""Forms of immutable objects (dnspython's rdata and names cannot be changed after they are
made) by the function making them, then by object identity: ``make -> id(obj) -> (obj,
form)``. The object is kept with its form, so its id cannot be reused while the entry lives."""


def _form(obj: _T, make: Callable[[_T], _F]) -> _F:
    """``make(obj)`` for an immutable ``obj``, computed once per object (see :data:`_FORMS`):
    every server of a zone usually sends the same bytes, parsed once into the same rdata
    objects, and the chain validation, the denial proofs and the evidence rows each ask for
    the canonical form of the same records."""
    table = _FORMS.get(make)  # type: ignore[arg-type]  # keyed by the function, any signature
    if table is None:
        table = _FORMS.setdefault(make, {})  # type: ignore[arg-type]  # (as above)
    hit = table.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]  # type: ignore[return-value]  # made by this very `make` for this object
    form = make(obj)
    if len(table) >= 2 * _CACHE_LIMIT:
        table.clear()
    table[id(obj)] = (obj, form)
    return form


def rdata_text(rd: dns.rdata.Rdata) -> str:
    """``rd.to_text()``, once per (immutable) rdata object (see :func:`_form`)."""
    return _form(rd, _to_text)


def _to_text(rd: dns.rdata.Rdata) -> str:
    return rd.to_text()


def name_text(name: dns.name.Name) -> str:
    """``name.to_text()``, once per (immutable) name object (see :func:`_form`): the probes'
    names are written in every exchange's row, and the owner and signer names of the parsed
    records in every record and signature row."""
    return _form(name, _name_to_text)


def _name_to_text(name: dns.name.Name) -> str:
    return name.to_text()


def _digestable(obj: dns.name.Name | dns.rdata.Rdata) -> bytes:
    """``obj.to_digestable()`` (RFC 4034 §6.2 canonical wire form), once per object."""
    return _form(obj, _to_digestable)


def _to_digestable(obj: dns.name.Name | dns.rdata.Rdata) -> bytes:
    return obj.to_digestable()


def canonical_name(name: dns.name.Name) -> bytes:
    """An absolute name's canonical wire form (lower case, RFC 4034 §6.2), once per name
    object: equal for names ``==`` says are equal, and cheap to hash again."""
    return _digestable(name)


def _key_fields(key: DNSKEY) -> tuple[int, int, int, bytes]:
    """A DNSKEY's content (flags, protocol, algorithm, public key): what its tag and every
    verification with it depend on."""
    return _form(key, _make_key_fields)


def _make_key_fields(key: DNSKEY) -> tuple[int, int, int, bytes]:
    return (int(key.flags), key.protocol, int(key.algorithm), key.key)


def _sig_fields(sig: RRSIG) -> tuple[Hashable, ...]:
    """The fields of an RRSIG a verification depends on, once per object."""
    return _form(sig, _make_sig_fields)


def _make_sig_fields(sig: RRSIG) -> tuple[Hashable, ...]:
    return (
        int(sig.rdclass),
        int(sig.type_covered),
        int(sig.algorithm),
        sig.labels,
        sig.original_ttl,
        sig.expiration,
        sig.inception,
        sig.key_tag,
        sig.signer.to_digestable(),
        sig.signature,
    )


def _content_key(
    rrset: dns.rrset.RRset, sig: RRSIG, key: DNSKEY, signer: dns.name.Name
) -> tuple[Hashable, ...]:
    """What the outcome of :func:`_verify` depends on, as plain values: the RRset's owner,
    class, type and rdata in canonical wire form (RFC 4034 §6.2, sorted, as they are signed),
    the RRSIG's fields, the key's content and the signer. Names are compared in canonical
    (lower-case) form, as validation does. The canonical forms of the (immutable) names and
    rdata are computed once per object; the RRset itself, which can change, is read anew."""
    return (
        _digestable(signer),
        _digestable(rrset.name),
        int(rrset.rdclass),
        int(rrset.rdtype),
        tuple(sorted(_digestable(rd) for rd in rrset)),
        *_sig_fields(sig),
        int(key.rdtype),
        *_key_fields(key),
    )


def verify_crypto(
    rrset: dns.rrset.RRset, sig: RRSIG, key: DNSKEY, signer: dns.name.Name
) -> str | None:
    """None when ``sig`` verifies with ``key`` (cryptographically: its validity window, and
    whether a validator may use the key, are the caller's to judge), else why not.

    Outcomes are remembered by content, not by object: every server of a zone usually serves
    the same RRsets and signatures (other objects, the same bytes), and the chain validation,
    the denial proofs and the evidence rows all ask, so each is verified once. The outcome does
    not depend on the time (the signature is checked at its own inception), so no ``now``
    enters the key: the callers judge the validity window at their own ``now`` every time."""
    try:
        cache_key = _content_key(rrset, sig, key, signer)
    except (dns.exception.DNSException, ValueError, AttributeError):
        return _verify(rrset, sig, key, signer)  # no canonical form: verify uncached
    why = _VERIFIED.get(cache_key, _MISSING)
    if why is _MISSING:
        why = _verify(rrset, sig, key, signer)
        _VERIFIED[cache_key] = why
        if len(_VERIFIED) > _CACHE_LIMIT:
            _VERIFIED.popitem(last=False)
    return why


def _verify(rrset: dns.rrset.RRset, sig: RRSIG, key: DNSKEY, signer: dns.name.Name) -> str | None:
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    rds.add(key)
    try:
        if key.flags & REVOKE and sig.type_covered != dns.rdatatype.DNSKEY:
            # dnspython's validate_rrsig refuses a revoked key here (RFC 5011 §2.1), as a
            # validator must; the audit still wants to know whether the signature is the key's.
            data = dns.dnssec._make_rrsig_signature_data(rrset, sig)
            dns.dnssec._validate_signature(sig.signature, data, key)
            return None
        dns.dnssec.validate_rrsig(
            rrset,
            sig,
            {signer: rds},
            now=float(sig.inception),  # inside the window: only the cryptography is checked
            policy=dns.dnssec.allow_all_policy,
        )
        return None
    except dns.dnssec.UnsupportedAlgorithm:
        return f"algorithm {sig.algorithm} cannot be verified by the toolkit"
    except (dns.exception.DNSException, InvalidSignature, ValueError, AttributeError) as exc:
        return str(exc) or type(exc).__name__


def key_tag(key: DNSKEY) -> int:
    """The key tag of a DNSKEY (RFC 4034 appendix B), remembered by the key's content."""
    fields = _key_fields(key)
    tag = _TAGS.get(fields)
    if tag is None:
        tag = dns.dnssec.key_id(key)
        if len(_TAGS) >= _CACHE_LIMIT:
            _TAGS.clear()
        _TAGS[fields] = tag
    return tag


def make_ds(
    zone: dns.name.Name,
    key: DNSKEY,
    digest_type: DSDigest,
    *,
    policy: dns.dnssec.Policy | None = None,
    validating: bool = False,
) -> DS:
    """:func:`dns.dnssec.make_ds`, remembered by content (the zone's canonical name, the key's
    content, the digest type, the policy and the mode): every server of a zone serves the same
    keys, and the chain validation and several evidence rows ask for the same digests. Raises
    as ``make_ds`` does (and then remembers nothing)."""
    memo = (zone.to_digestable(), int(digest_type), policy, validating, *_key_fields(key))
    ds = _DIGESTS.get(memo)
    if ds is None:
        ds = dns.dnssec.make_ds(zone, key, digest_type, policy=policy, validating=validating)
        if len(_DIGESTS) >= _CACHE_LIMIT:
            _DIGESTS.clear()
        _DIGESTS[memo] = ds
    return ds


def judge_signatures(
    rrset: dns.rrset.RRset,
    rrsigs: dns.rrset.RRset | None,
    keys: dns.rrset.RRset | None,
    signer: dns.name.Name,
    now: datetime,
) -> list[SigStatus]:
    """The status of every RRSIG over ``rrset`` made with ``keys`` (the signer's DNSKEY RRset,
    None when unknown), as the zone ``signer`` should have made them, at ``now``; then the
    ``missing`` entries (see the module docstring). Never raises for bad signatures."""
    t = now.astimezone(UTC).timestamp()
    keyset = list(keys or [])
    tags = [(key_tag(k), k) for k in keyset]
    out = []
    for sig in rrsigs or []:
        if sig.signer != signer:
            detail = f"signed by {sig.signer}, not by the zone {signer}"
            out.append(SigStatus(sig, sig.algorithm, sig.key_tag, "signer_mismatch", detail))
            continue
        candidates = [k for tag, k in tags if tag == sig.key_tag and k.algorithm == sig.algorithm]
        if not candidates:
            detail = f"no DNSKEY {sig.key_tag}/{int(sig.algorithm)} in the key set"
            out.append(SigStatus(sig, sig.algorithm, sig.key_tag, "unknown_key", detail))
            continue
        if t > sig.expiration:
            out.append(SigStatus(sig, sig.algorithm, sig.key_tag, "expired"))
            continue
        if t < sig.inception:
            out.append(SigStatus(sig, sig.algorithm, sig.key_tag, "premature"))
            continue
        if int(sig.algorithm) not in VALIDATED_ALGORITHMS:
            detail = f"algorithm {int(sig.algorithm)} is not one validators validate (RFC 9904)"
            out.append(SigStatus(sig, sig.algorithm, sig.key_tag, "unsupported_algorithm", detail))
            continue
        problem = "no key"
        status = "invalid"
        for key in candidates:
            problem = verify_crypto(rrset, sig, key, signer) or ""
            if not problem:
                status = "revoked_key" if key.flags & REVOKE else "valid"
                break
        out.append(SigStatus(sig, sig.algorithm, sig.key_tag, status, problem))
    signed = {int(s.algorithm) for s in rrsigs or []}
    algorithms = sorted({int(k.algorithm) for k in keyset if k.flags & ZONE_KEY})
    for alg in algorithms:
        if alg not in signed:
            out.append(SigStatus(None, alg, None, "missing", f"no RRSIG of algorithm {alg}"))
    if not algorithms and not signed:
        out.append(SigStatus(None, None, None, "missing", "the RRset carries no RRSIG"))
    return out
