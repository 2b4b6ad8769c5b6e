"""The status of every RRSIG over one RRset: pure, ``now`` injected.

:func:`judge_signatures` gives each RRSIG one status, the first that applies:

``signer_mismatch``
    the signer name is not the zone that should sign the RRset (RFC 4035 §5.3.1);
``unknown_key``
    no DNSKEY of the key set has the RRSIG's key tag and algorithm;
``expired`` / ``premature``
    ``now`` is after the expiration / before the inception (RFC 4035 §5.3.1);
``invalid``
    the signature does not verify with the key (or the algorithm cannot be verified);
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

from dataclasses import dataclass
from datetime import UTC, datetime

import dns.dnssec
import dns.exception
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
from cryptography.exceptions import InvalidSignature
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

SIG_STATUSES = (
    "valid",
    "expired",
    "premature",
    "invalid",
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


_VERIFIED: dict[tuple, tuple] = {}
_CACHE_LIMIT = 20_000


def verify_crypto(
    rrset: dns.rrset.RRset, sig: RRSIG, key: DNSKEY, signer: dns.name.Name
) -> str | None:
    """None when ``sig`` verifies with ``key`` (cryptographically: its validity window, and
    whether a validator may use the key, are the caller's to judge), else why not. Results
    are remembered: every server of a zone usually serves the same RRsets and signatures, and
    the chain validation, the denial proofs and the evidence rows all ask."""
    # Keyed by object identity (hashing rdata costs as much as verifying ECDSA); the entry
    # holds the objects, so an identity cannot be reused while its entry lives.
    cache_key = (id(rrset), id(sig), id(key), signer)
    hit = _VERIFIED.get(cache_key)
    if hit is not None and hit[0] is rrset and hit[1] is sig and hit[2] is key:
        return hit[3]
    if len(_VERIFIED) > _CACHE_LIMIT:
        _VERIFIED.clear()
    why = _verify(rrset, sig, key, signer)
    _VERIFIED[cache_key] = (rrset, sig, key, why)
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


_TAGS: dict[int, tuple[DNSKEY, int]] = {}


def key_tag(key: DNSKEY) -> int:
    """The key tag of a DNSKEY (RFC 4034 appendix B), remembered per key object."""
    hit = _TAGS.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    if len(_TAGS) > _CACHE_LIMIT:
        _TAGS.clear()
    tag = dns.dnssec.key_id(key)
    _TAGS[id(key)] = (key, tag)
    return tag


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
