"""Signing lab zones the way each scenario needs: pure functions, no clock, no disk.

dnspython's :func:`dns.dnssec.sign_zone` signs with NSEC only and picks the keys itself. The
lab needs more: which key signs which RRsets (a KSK that signs only the DNSKEY set, a CSK that
signs everything, a pre-published key that signs nothing, a revoked key that keeps signing),
NSEC3 chains (RFC 5155) with chosen iterations and salt, and RSA keys that are the same at
every lab build. This module provides them:

- :class:`KeyUse`: a key and what it signs (``ksk``: DNSKEY, CDS, CDNSKEY; ``zsk``: every
  other RRset; ``all``; ``none``);
- :func:`sign_zone`: add the DNSKEYs, build the NSEC or NSEC3 chain and sign as the uses say;
- :func:`rsa_private_key`: an RSA key derived from a seed (a lab key, never production).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import dns.dnssec
import dns.name
import dns.node
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.transaction
import dns.zone
import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC import Bitmap
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM
from dns.rdtypes.ANY.RRSIG import RRSIG

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

KSK_TYPES = frozenset({dns.rdatatype.DNSKEY, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY})
"""RRsets a key with use ``ksk`` signs (the key-signing role, RFC 6781 §3.1; CDS/CDNSKEY are
signed like the DNSKEY set, as RFC 7344 §4.1 wants them signed by a key the DS points at)."""

USES = ("ksk", "zsk", "all", "none")


@dataclass(frozen=True)
class KeyUse:
    """A private key, the DNSKEY that publishes it, and which RRsets it signs."""

    private_key: PrivateKey
    dnskey: DNSKEY
    signs: str  # ksk | zsk | all | none

    def __post_init__(self) -> None:
        if self.signs not in USES:
            raise ValueError(f"key use {self.signs!r} not in {USES}")

    def covers(self, rdtype: int) -> bool:
        """Whether this key signs RRsets of type ``rdtype``."""
        if self.signs == "all":
            return True
        if self.signs == "none":
            return False
        return (self.signs == "ksk") == (rdtype in KSK_TYPES)


@dataclass(frozen=True)
class Nsec3Params:
    """NSEC3 parameters (RFC 5155 §4): SHA-1 hashing, extra ``iterations``, a hex ``salt``, and
    whether every NSEC3 record carries the opt-out flag (RFC 5155 §6)."""

    iterations: int = 0
    salt: str = ""  # hex, "" for none
    opt_out: bool = False

    @property
    def salt_bytes(self) -> bytes:
        return bytes.fromhex(self.salt)


SIGNABLE = frozenset({5, 7, 8, 10, 13, 14, 15})
"""DNSKEY algorithms the lab signs with for real (dnspython and cryptography implement them)."""

PRIVATE_ALGORITHM = dns.name.from_text("opaque.lab.example.")
"""The name that opens the key and signature of a PRIVATEDNS (253) key (RFC 4034 §A.1.1)."""


def opaque_public_key(algorithm: int, raw: bytes) -> bytes:
    """The public key field of a key of an algorithm no validator implements: ``raw`` bytes,
    preceded for PRIVATEDNS (253) by the wire name of the private algorithm."""
    return (PRIVATE_ALGORITHM.to_wire() if algorithm == 253 else b"") + raw


def opaque_rrsig(
    rrset: dns.rrset.RRset,
    dnskey: DNSKEY,
    signer: dns.name.Name,
    inception: datetime,
    expiration: datetime,
) -> dns.rrset.RRset:
    """An RRSIG of ``dnskey``'s algorithm over ``rrset`` whose signature is opaque bytes (a
    digest of the RRset and the key, so the zone is the same at every build): well-formed in
    every field a validator reads before the cryptography, unverifiable by anyone."""
    labels = len(rrset.name.labels) - 1 - (1 if rrset.name.is_wild() else 0)
    data = b"".join(sorted(rd.to_digestable() for rd in rrset))
    raw = hashlib.sha512(rrset.name.to_digestable() + data + dnskey.to_wire()).digest()
    sig = RRSIG(
        dns.rdataclass.IN,
        dns.rdatatype.RRSIG,
        rrset.rdtype,
        dnskey.algorithm,
        labels,
        rrset.ttl,
        int(expiration.timestamp()),
        int(inception.timestamp()),
        dns.dnssec.key_id(dnskey),
        signer,
        opaque_public_key(int(dnskey.algorithm), raw),
    )
    return dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [sig])


def sign_rrset(
    rrset: dns.rrset.RRset,
    key: KeyUse,
    signer: dns.name.Name,
    inception: datetime,
    expiration: datetime,
) -> dns.rrset.RRset:
    """One RRSIG over ``rrset`` by ``key`` naming ``signer``, as a one-record RRset (same TTL).
    A key of an algorithm no implementation signs with (:data:`SIGNABLE`: a private or
    unassigned number) makes an opaque signature (:func:`opaque_rrsig`)."""
    if int(key.dnskey.algorithm) not in SIGNABLE:
        return opaque_rrsig(rrset, key.dnskey, signer, inception, expiration)
    sig = dns.dnssec.sign(
        rrset,
        key.private_key,
        signer,
        key.dnskey,
        inception=inception,
        expiration=expiration,
        policy=dns.dnssec.allow_all_policy,  # the lab signs with deprecated algorithms on purpose
    )
    return dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [sig])


def sign_zone(
    zone: dns.zone.Zone,
    keys: Sequence[KeyUse],
    *,
    inception: datetime,
    expiration: datetime,
    dnskey_ttl: int,
    nsec3: Nsec3Params | None = None,
) -> None:
    """Sign ``zone`` in place: add every key's DNSKEY, build the NSEC chain (or the NSEC3 chain
    and NSEC3PARAM when ``nsec3`` is given) and sign each RRset with the keys whose use covers
    its type. Delegations are signed only for their DS; glue is not signed (RFC 4035 §2.2)."""
    origin = zone.origin
    if origin is None:
        raise ValueError("zone has no origin")

    def signer(txn: dns.transaction.Transaction, rrset: dns.rrset.RRset) -> None:
        for key in keys:
            if key.covers(rrset.rdtype):
                sig = sign_rrset(rrset, key, origin, inception, expiration)
                txn.add(sig.name, sig.ttl, *sig)

    pairs = [(k.private_key, k.dnskey) for k in keys]
    if nsec3 is None:
        dns.dnssec.sign_zone(
            zone,
            keys=pairs,
            dnskey_ttl=dnskey_ttl,
            rrset_signer=signer,
            policy=dns.dnssec.allow_all_policy,
        )
        return
    with zone.writer() as txn:
        for key in keys:
            txn.add(origin, dnskey_ttl, key.dnskey)
        param = NSEC3PARAM(dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM, 1, 0, nsec3.iterations,
                           nsec3.salt_bytes)  # fmt: skip
        txn.add(origin, 0, param)  # NSEC3PARAM TTL 0, as signers commonly publish it
        to_sign = _signable_rrsets(txn, origin)
        soa = txn.get(origin, dns.rdatatype.SOA)
        ttl = min(soa.ttl, soa[0].minimum)  # RFC 9077
        chain = nsec3_chain(origin, _bitmaps(txn, origin), nsec3, ttl)
        for rrset in chain:
            txn.add(rrset)
        for rrset in [*to_sign, *chain]:
            signer(txn, rrset)


def _delegations(txn: dns.transaction.Transaction, origin: dns.name.Name) -> set[dns.name.Name]:
    return {
        name
        for name in txn.iterate_names()
        if name != origin and txn.get(name, dns.rdatatype.NS) is not None
    }


def _occluded(name: dns.name.Name, cuts: set[dns.name.Name]) -> bool:
    return any(name != cut and name.is_subdomain(cut) for cut in cuts)


def _signable_rrsets(
    txn: dns.transaction.Transaction, origin: dns.name.Name
) -> list[dns.rrset.RRset]:
    cuts = _delegations(txn, origin)
    out = []
    for name in sorted(txn.iterate_names()):
        if _occluded(name, cuts):
            continue  # glue
        node: dns.node.Node = txn.get_node(name)
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.RRSIG:
                continue
            if name in cuts and rds.rdtype != dns.rdatatype.DS:
                continue
            out.append(dns.rrset.from_rdata_list(name, rds.ttl, list(rds)))
    return out


def _bitmaps(txn: dns.transaction.Transaction, origin: dns.name.Name) -> dict[dns.name.Name, set]:
    """Types present at every authoritative name (with RRSIG where signed), and the empty
    non-terminals between the apex and each name (no types)."""
    cuts = _delegations(txn, origin)
    types: dict[dns.name.Name, set] = {}
    for name in txn.iterate_names():
        if _occluded(name, cuts):
            continue
        present = {rds.rdtype for rds in txn.get_node(name).rdatasets}
        if name not in cuts or dns.rdatatype.DS in present:
            present.add(dns.rdatatype.RRSIG)
        types[name] = present
        parent = name
        while parent != origin and len(parent) > len(origin):
            parent = parent.parent()
            types.setdefault(parent, set())
    return types


def _b32hex(raw: bytes) -> str:
    return base64.b32hexencode(raw).decode().rstrip("=")


def nsec3_chain(
    origin: dns.name.Name,
    bitmaps: dict[dns.name.Name, set],
    params: Nsec3Params,
    ttl: int,
) -> list[dns.rrset.RRset]:
    """The NSEC3 records (RFC 5155 §7.1) of a zone whose names carry the given types: one per
    name, owner ``<hash>.<origin>``, each pointing at the next hash in order, the last at the
    first. With ``params.opt_out`` every record carries the opt-out flag; the chain still holds
    every name (a zone without unsigned delegations has nothing to leave out)."""
    hashed = {}
    for name, present in bitmaps.items():
        digest = dns.dnssec.nsec3_hash(name, params.salt_bytes, params.iterations, 1)
        hashed[digest.upper()] = present
    order = sorted(hashed)
    out = []
    for i, h in enumerate(order):
        nxt = order[(i + 1) % len(order)]
        windows = Bitmap.from_rdtypes(sorted(hashed[h])).windows if hashed[h] else ()
        rd = NSEC3(
            dns.rdataclass.IN,
            dns.rdatatype.NSEC3,
            1,
            1 if params.opt_out else 0,
            params.iterations,
            params.salt_bytes,
            base64.b32hexdecode(nxt + "=" * (-len(nxt) % 8)),
            windows,
        )
        owner = dns.name.Name((h.lower().encode(), *origin.labels))
        out.append(dns.rrset.from_rdata_list(owner, ttl, [rd]))
    return out


# --- RSA keys from a seed --------------------------------------------------------------------


def _small_primes(limit: int) -> np.ndarray:
    sieve = np.ones(limit, dtype=bool)
    sieve[:3] = False
    sieve[4::2] = False
    for i in range(3, int(limit**0.5) + 1, 2):
        if sieve[i]:
            sieve[i * i :: 2 * i] = False
    return np.flatnonzero(sieve)[1:]  # odd primes


_SMALL_PRIMES = _small_primes(200_000)
_WINDOW = 8192  # odd candidates sieved at once


def _miller_rabin(n: int, rng: random.Random, rounds: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: random.Random) -> int:
    """A probable prime of exactly ``bits`` bits with its top two bits set (so the product of
    two is full-size): sieve a window of odd candidates by the small primes, then Miller-Rabin."""
    while True:
        start = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        alive = np.ones(_WINDOW, dtype=bool)  # candidate i is start + 2 i
        residues = np.array([start % int(p) for p in _SMALL_PRIMES], dtype=np.int64)
        # first i with start + 2 i = 0 (mod p): i = -start * 2^-1 (mod p) = (p - r) * (p + 1) / 2
        first = ((_SMALL_PRIMES - residues) * ((_SMALL_PRIMES + 1) // 2)) % _SMALL_PRIMES
        for p, i0 in zip(_SMALL_PRIMES.tolist(), first.tolist(), strict=True):
            alive[i0::p] = False
        for i in np.flatnonzero(alive).tolist():
            candidate = start + 2 * i
            if candidate.bit_length() == bits and _miller_rabin(candidate, rng, 1):
                if _miller_rabin(candidate, rng, 7):
                    return candidate


@functools.lru_cache(maxsize=64)
def rsa_private_key(bits: int, seed: str | None) -> rsa.RSAPrivateKey:
    """An RSA key of ``bits`` bits with public exponent 65537.

    With ``seed`` the primes are drawn from a generator seeded by SHA-256 of the seed, so the
    key (and its DNSKEY key tag) is the same at every lab build; without, it is random."""
    if seed is None:
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    e = 65537
    while True:
        p, q = _prime(bits // 2, rng), _prime(bits - bits // 2, rng)
        phi = (p - 1) * (q - 1)
        if p == q or math.gcd(e, phi) != 1:
            continue
        d = pow(e, -1, phi)
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
        )
        return numbers.private_key()
