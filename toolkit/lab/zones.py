"""Build and sign the lab's zones: pure functions of the catalog, the keys and ``now``.

Nothing here reads the clock or touches the disk. :func:`generate_lab_keys` derives the keys
each zone's recipe names (by default a KSK and a ZSK, ECDSAP256SHA256; RSA and Ed25519 where a
scenario needs them; a decoy key the zone never publishes where a DS or CDS must point
elsewhere); :func:`build_tree` returns the root zone, ``test.`` and every catalog zone as
:class:`dns.zone.Zone` objects, signed (NSEC or NSEC3) and broken as each zone's
:class:`~toolkit.lab.recipes.Recipe` says, the second server's copy where it differs, and the
root KSK's DS (the lab's trust anchor).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from dns.dnssectypes import Algorithm, DSDigest
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from toolkit.errors import LabError
from toolkit.lab import faults
from toolkit.lab.recipes import (
    KSK_FLAGS,
    NORMAL_WINDOW,
    RECIPES,
    ZSK_FLAGS,
    DsSpec,
    KeySpec,
    Recipe,
)
from toolkit.lab.scenarios import LAB_ZONES, LabAddresses, LabZone
from toolkit.lab.signer import KeyUse, opaque_public_key, rsa_private_key
from toolkit.lab.signer import sign_zone as sign_with

__all__ = ["KSK_FLAGS", "NORMAL_WINDOW", "RECIPES", "ZSK_FLAGS", "KeySpec", "Recipe"]

ALGORITHM = Algorithm.ECDSAP256SHA256
TTL = 3600
NEGATIVE_TTL = 300
WWW_ADDRESS = "192.0.2.10"

ROOT = "."
TEST = "test."
ROOT_SERVER = "a.root-servers.test."
TEST_SERVER = "ns.nic.test."


@dataclass(frozen=True)
class SigningKey:
    """A private key and the DNSKEY record that publishes its public half."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    dnskey: DNSKEY

    @property
    def key_tag(self) -> int:
        """The DNSKEY's key tag (RFC 4034 appendix B)."""
        return dns.dnssec.key_id(self.dnskey)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def use(self, signs: str) -> KeyUse:
        """The key with what it signs (see :class:`toolkit.lab.signer.KeyUse`)."""
        return KeyUse(self.private_key, self.dnskey, signs)  # type: ignore[arg-type]

    @classmethod
    def from_pem(cls, pem: bytes, flags: int, algorithm: int = ALGORITHM) -> SigningKey:
        """Rebuild a key from :meth:`private_pem` output; raises LabError when the key does not
        fit ``algorithm`` (ECDSA P-256 by default, P-384 for 14, RSA for 5/7/8/10, Ed25519 for
        15)."""
        key = serialization.load_pem_private_key(pem, password=None)
        fits = {
            Algorithm.ECDSAP256SHA256: isinstance(key, ec.EllipticCurvePrivateKey)
            and key.curve.name == "secp256r1",
            Algorithm.ECDSAP384SHA384: isinstance(key, ec.EllipticCurvePrivateKey)
            and key.curve.name == "secp384r1",
            Algorithm.ED25519: isinstance(key, ed25519.Ed25519PrivateKey),
        }.get(Algorithm(algorithm), isinstance(key, rsa.RSAPrivateKey))
        if not fits:
            raise LabError(f"lab key does not fit DNSSEC algorithm {algorithm}")
        return cls(key, dns.dnssec.make_dnskey(key.public_key(), algorithm, flags=flags))  # type: ignore[arg-type]


# Order of the P-256 and P-384 groups: a private scalar is an integer in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)

DEFAULT_KEY_SEED = "dnssec-governance-lab"
"""Seed of the lab's keys: the same seed gives the same keys (and key tags) at every lab up,
so a key manifest of the sample portfolio can name them. ``None`` gives random keys."""


RSA_ALGORITHMS = frozenset({1, 5, 7, 8, 10})


def new_key(
    flags: int, seed: str | None = None, algorithm: int = ALGORITHM, bits: int = 2048
) -> SigningKey:
    """A key with the given DNSKEY flags (257 KSK, 256 ZSK) and algorithm: ECDSAP256SHA256 by
    default, ECDSAP384SHA384 (14), Ed25519 (15), or RSA of ``bits`` bits (5, 7, 8, 10).

    With ``seed`` the key is derived from SHA-256 of the seed, so it is the same every time (a
    lab key, never a production practice); without, it is random. Raises LabError for another
    algorithm."""
    digest = hashlib.sha256(seed.encode()).digest() if seed is not None else None
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == ALGORITHM:
        if digest is None:
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
            key = ec.derive_private_key(scalar, ec.SECP256R1())
    elif algorithm == Algorithm.ECDSAP384SHA384:
        if digest is None:
            key = ec.generate_private_key(ec.SECP384R1())
        else:
            scalar = int.from_bytes(hashlib.sha384(digest).digest(), "big") % (_P384_ORDER - 1)
            key = ec.derive_private_key(scalar + 1, ec.SECP384R1())
    elif algorithm == Algorithm.ED25519:
        key = (
            ed25519.Ed25519PrivateKey.generate()
            if digest is None
            else ed25519.Ed25519PrivateKey.from_private_bytes(digest)
        )
    elif algorithm in RSA_ALGORITHMS:
        key = rsa_private_key(bits, seed)
    elif algorithm in OPAQUE_ALGORITHMS:
        return _opaque_key(flags, seed, algorithm)
    else:
        raise LabError(f"the lab cannot make keys of DNSSEC algorithm {algorithm}")
    dnskey = dns.dnssec.make_dnskey(key.public_key(), algorithm, flags=flags)  # type: ignore[arg-type]
    return SigningKey(key, dnskey)


OPAQUE_ALGORITHMS = frozenset({100, 253})
"""Algorithm numbers no validator implements for which the lab makes opaque keys: 100
(unassigned) and 253 (PRIVATEDNS). Their DNSKEY carries 64 seeded bytes, their RRSIGs opaque
bytes (:func:`toolkit.lab.signer.opaque_rrsig`): what a zone signed with a private or unknown
algorithm looks like to every validator."""


def _opaque_key(flags: int, seed: str | None, algorithm: int) -> SigningKey:
    raw = hashlib.sha512(seed.encode()).digest() if seed is not None else os.urandom(64)
    dnskey = DNSKEY(dns.rdataclass.IN, dns.rdatatype.DNSKEY, flags, 3, algorithm,
                    opaque_public_key(algorithm, raw))  # fmt: skip
    # the private key is never used: the signer makes opaque signatures for these algorithms
    return SigningKey(ec.derive_private_key(1 + raw[0], ec.SECP256R1()), dnskey)


@dataclass(frozen=True)
class ZoneKeys:
    """The keys of one zone: its KSK and ZSK (the same key for a single-key zone) and, by
    role, any other key its recipe names (a pre-published ZSK, a revoked key, ...)."""

    ksk: SigningKey
    zsk: SigningKey
    extra: Mapping[str, SigningKey] = field(default_factory=dict)

    def role(self, name: str) -> SigningKey:
        """The key playing ``name`` (``ksk``, ``zsk`` or an extra role); raises LabError."""
        if name in self.extra:
            return self.extra[name]
        if name in ("ksk", "zsk"):
            return self.ksk if name == "ksk" else self.zsk
        raise LabError(f"no lab key with role {name!r}")


@dataclass(frozen=True)
class LabKeys:
    """Every key of a lab.

    ``zones`` maps an absolute zone name (``"."``, ``"test."``, ``"corp.test."``) to its keys,
    for signed zones only; ``decoys`` maps a zone whose recipe needs one (``ds-mismatch``,
    ``cds-mismatch``) to a key the zone never publishes.
    """

    zones: Mapping[str, ZoneKeys]
    decoys: Mapping[str, SigningKey]


def absolute(zone: str) -> str:
    """``"corp.test"`` -> ``"corp.test."`` (the root stays ``"."``)."""
    return zone if zone.endswith(".") else zone + "."


def generate_lab_keys(
    catalog: Iterable[LabZone] = LAB_ZONES, seed: str | None = DEFAULT_KEY_SEED
) -> LabKeys:
    """Keys for the root, ``test.`` and every signed zone of ``catalog`` (the roles its recipe
    names), plus decoys.

    With a ``seed`` (the default) every key is derived from it and the zone's name and role,
    so the lab's key tags are stable across runs; ``seed=None`` makes every key random.
    Deriving the RSA keys of the RSA scenarios takes a few seconds (cached per process)."""

    def key(zone: str, role: str, flags: int) -> SigningKey:
        return new_key(flags, None if seed is None else f"{seed}/{zone}/{role}")

    zones: dict[str, ZoneKeys] = {}
    decoys: dict[str, SigningKey] = {}
    for name in (ROOT, TEST):
        zones[name] = ZoneKeys(key(name, "ksk", KSK_FLAGS), key(name, "zsk", ZSK_FLAGS))
    for lz in catalog:
        recipe = recipe_for(lz)
        name = absolute(lz.zone)
        if recipe.window is not None:
            specs = {k.role: k for k in _all_specs(recipe)}
            made = {
                role: new_key(
                    spec.flags,
                    None if seed is None else f"{seed}/{name}/{role}",
                    spec.algorithm,
                    spec.bits,
                )
                for role, spec in specs.items()
            }
            ksk = made.get("ksk") or next(iter(made.values()))
            zsk = made.get("zsk", ksk)
            extra = {r: k for r, k in made.items() if r not in ("ksk", "zsk")}
            zones[name] = ZoneKeys(ksk, zsk, extra)
        if recipe.needs_decoy:
            decoys[name] = key(name, "decoy", KSK_FLAGS)
    return LabKeys(zones, decoys)


def _all_specs(recipe: Recipe) -> list[KeySpec]:
    specs = list(recipe.key_specs())
    if recipe.ns2 is not None and recipe.ns2.keys is not None:
        specs += [k for k in recipe.ns2.keys if k.role not in {s.role for s in specs}]
    return specs


def recipe_for(lz: LabZone) -> Recipe:
    """The build recipe of a catalog zone; raises LabError for an unknown scenario."""
    try:
        return RECIPES[lz.scenario]
    except KeyError:
        raise LabError(f"zone {lz.zone}: unknown lab scenario {lz.scenario!r}") from None


def make_ds(zone: str, key: SigningKey) -> DS:
    """The SHA-256 DS record of ``key`` for ``zone``."""
    return dns.dnssec.make_ds(absolute(zone), key.dnskey, DSDigest.SHA256)


def ds_for(zone: str, spec: DsSpec, key: SigningKey) -> DS:
    """The DS record ``spec`` describes for ``key``: digest types 1, 2 and 4 are computed; any
    other (e.g. 3, GOST, which the lab cannot compute) gets a made-up 32-byte digest, and
    ``corrupt`` flips the digest's last byte so that it does not verify."""
    if spec.digest_type in (DSDigest.SHA1, DSDigest.SHA256, DSDigest.SHA384):
        ds = dns.dnssec.make_ds(
            absolute(zone), key.dnskey, spec.digest_type, policy=dns.dnssec.allow_all_policy
        )
    else:
        digest = hashlib.sha256(b"lab digest " + key.dnskey.to_wire()).digest()
        ds = DS(dns.rdataclass.IN, dns.rdatatype.DS, key.key_tag, key.dnskey.algorithm,
                spec.digest_type, digest)  # fmt: skip
    if spec.corrupt:
        ds = ds.replace(digest=ds.digest[:-1] + bytes([ds.digest[-1] ^ 0xFF]))
    return ds


def soa_serial(now: datetime) -> int:
    """The SOA serial every zone of a lab built at ``now`` carries (Unix time, 32 bits)."""
    return int(now.timestamp()) & 0xFFFFFFFF


class _ZoneBuilder:
    """Accumulates records for one zone, names given absolute (with trailing dot)."""

    def __init__(self, origin: str) -> None:
        self.zone = dns.zone.Zone(dns.name.from_text(origin), relativize=False)
        self._txn = self.zone.writer()

    def add(self, owner: str, rdtype: str, text: str, ttl: int = TTL) -> None:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text)
        self._txn.add(dns.name.from_text(owner), ttl, rdata)

    def add_rdata(self, owner: str, rdata: dns.rdata.Rdata, ttl: int = TTL) -> None:
        self._txn.add(dns.name.from_text(owner), ttl, rdata)

    def soa(self, mname: str, rname: str, serial: int) -> None:
        origin = self.zone.origin.to_text()
        self.add(origin, "SOA", f"{mname} {rname} {serial} 3600 900 1209600 {NEGATIVE_TTL}")

    def done(self) -> dns.zone.Zone:
        self._txn.commit()
        return self.zone


def _name_servers(addrs: LabAddresses, lame: bool = False) -> list[tuple[str, str]]:
    """(label, address) of a child zone's servers; ``lame`` adds ns3 at the root server."""
    servers = [("ns1", addrs.ns1), ("ns2", addrs.ns2)]
    return [*servers, ("ns3", addrs.root)] if lame else servers


def build_child_zone(
    lz: LabZone, addrs: LabAddresses, serial: int, *, lame: bool = False
) -> dns.zone.Zone:
    """The unsigned contents of catalog zone ``lz``.

    SOA, NS ``ns1``/``ns2`` with their A records (``{base}.3``/``{base}.4``), ``www`` A and an
    apex TXT naming the scenario. ``lame`` adds ``ns3`` at the lab root server's address.
    """
    origin = absolute(lz.zone)
    b = _ZoneBuilder(origin)
    b.soa(f"ns1.{origin}", f"hostmaster.{origin}", serial)
    for ns, addr in _name_servers(addrs, lame):
        b.add(origin, "NS", f"{ns}.{origin}")
        b.add(f"{ns}.{origin}", "A", addr)
    b.add(f"www.{origin}", "A", WWW_ADDRESS)
    b.add(origin, "TXT", f'"dnssec lab zone" "scenario={lz.scenario}"')
    return b.done()


def build_test_zone(
    addrs: LabAddresses,
    delegations: Mapping[str, list[DS]],
    serial: int,
    lame: Iterable[str] = (),
) -> dns.zone.Zone:
    """The unsigned ``test.`` zone delegating every zone of ``delegations`` (name -> its DS set).

    Also holds ``ns.nic.test.`` (its own server) and ``a.root-servers.test.`` (the root server's
    name, so the name the root's NS points at resolves authoritatively). Zones in ``lame`` are
    also delegated to ``ns3.<zone>`` at the root server's address.
    """
    lame = {absolute(z) for z in lame}
    b = _ZoneBuilder(TEST)
    b.soa(TEST_SERVER, f"hostmaster.nic.{TEST}", serial)
    b.add(TEST, "NS", TEST_SERVER)
    b.add(TEST_SERVER, "A", addrs.test)
    b.add(ROOT_SERVER, "A", addrs.root)
    for zone, ds_set in delegations.items():
        child = absolute(zone)
        for ns, addr in _name_servers(addrs, child in lame):
            b.add(child, "NS", f"{ns}.{child}")
            b.add(f"{ns}.{child}", "A", addr)
        for ds in ds_set:
            b.add_rdata(child, ds)
    return b.done()


def build_root_zone(addrs: LabAddresses, test_ds: list[DS], serial: int) -> dns.zone.Zone:
    """The unsigned lab root: NS ``a.root-servers.test.`` and the secure delegation of ``test.``."""
    b = _ZoneBuilder(ROOT)
    b.soa(ROOT_SERVER, f"hostmaster.nic.{TEST}", serial)
    b.add(ROOT, "NS", ROOT_SERVER)
    b.add(ROOT_SERVER, "A", addrs.root)  # glue below the test. delegation
    b.add(TEST, "NS", TEST_SERVER)
    b.add(TEST_SERVER, "A", addrs.test)  # glue
    for ds in test_ds:
        b.add_rdata(TEST, ds)
    return b.done()


def sign(zone: dns.zone.Zone, keys: ZoneKeys, inception: datetime, expiration: datetime) -> None:
    """Sign ``zone`` in place with NSEC: the KSK signs DNSKEY, the ZSK everything else.

    Adds both DNSKEYs (TTL 3600). Signatures carry the given inception and expiration, which
    may lie in the past (the ``expired`` scenario).
    """
    dns.dnssec.sign_zone(
        zone,
        keys=[
            (keys.ksk.private_key, keys.ksk.dnskey),
            (keys.zsk.private_key, keys.zsk.dnskey),
        ],
        dnskey_ttl=TTL,
        inception=inception,
        expiration=expiration,
    )


@dataclass(frozen=True)
class LabTree:
    """The built lab: zones by absolute name (``"."``, ``"test."``, ...) and the trust anchor.

    ``variants`` maps a server role (``"ns2"``) to the zones it serves in another version than
    the one in ``zones`` (absolute name -> zone).
    """

    zones: dict[str, dns.zone.Zone]
    root_ds: DS
    serial: int
    variants: dict[str, dict[str, dns.zone.Zone]] = field(default_factory=dict)


def _uses(keys: ZoneKeys, specs: Sequence[KeySpec]) -> list[KeyUse]:
    return [keys.role(spec.role).use(spec.signs) for spec in specs]


def build_scenario_zone(
    lz: LabZone,
    addrs: LabAddresses,
    keys: ZoneKeys | None,
    decoy: SigningKey | None,
    now: datetime,
    serial: int,
    *,
    ns2: bool = False,
) -> dns.zone.Zone:
    """Catalog zone ``lz`` built, signed and broken as its recipe says, in the version ns1
    serves (or, with ``ns2``, the version ns2 serves). Raises LabError when keys are missing."""
    recipe = recipe_for(lz)
    variant = recipe.ns2 if ns2 else None
    specs = (variant.keys if variant and variant.keys else None) or recipe.key_specs()
    edits = recipe.edits + (variant.edits if variant else ())
    delta = variant.serial_delta if variant else 0
    zone = build_child_zone(lz, addrs, (serial + delta) & 0xFFFFFFFF, lame=recipe.lame)
    if recipe.window is None:
        return zone
    if keys is None:
        raise LabError(f"no lab keys for zone {lz.zone}")
    start, end = recipe.window
    roles = {s.role: keys.role(s.role).use(s.signs) for s in _all_specs(recipe)}
    if decoy is not None:
        roles["decoy"] = decoy.use("none")
    ctx = faults.FaultContext(
        dns.name.from_text(absolute(lz.zone)), addrs, roles, now + start, now + end
    )
    faults.apply(faults.EDITS, edits, zone, ctx)
    nsec3 = (variant.nsec3 if variant else None) or recipe.nsec3
    sign_with(zone, _uses(keys, specs), inception=now + start, expiration=now + end,
              dnskey_ttl=TTL, nsec3=nsec3)  # fmt: skip
    faults.apply(faults.FAULTS, recipe.faults, zone, ctx)
    return zone


def build_tree(
    addrs: LabAddresses,
    keys: LabKeys,
    now: datetime,
    catalog: Iterable[LabZone] = LAB_ZONES,
) -> LabTree:
    """Build and sign the whole lab at time ``now`` (timezone-aware).

    Root and ``test.`` are signed with a normal window (now-1h .. now+30d); each catalog zone is
    built, signed, broken, delegated and given its DS records as its scenario's
    :data:`RECIPES` entry says (with ns2's version in ``variants["ns2"]`` where it differs).
    Returns a :class:`LabTree`. Raises LabError when ``now`` is naive, a scenario is unknown or
    ``keys`` lack a key the catalog needs.
    """
    if now.tzinfo is None:
        raise LabError("lab time 'now' must be timezone-aware (UTC)")
    catalog = tuple(catalog)
    serial = soa_serial(now)
    zones: dict[str, dns.zone.Zone] = {}
    ns2: dict[str, dns.zone.Zone] = {}
    delegations: dict[str, list[DS]] = {}

    def keys_of(name: str) -> ZoneKeys:
        try:
            return keys.zones[name]
        except KeyError:
            raise LabError(f"no lab keys for zone {name}") from None

    for lz in catalog:
        name = absolute(lz.zone)
        recipe = recipe_for(lz)
        zkeys = keys_of(name) if recipe.window is not None else None
        decoy = keys.decoys.get(name)
        if recipe.needs_decoy and decoy is None:
            raise LabError(f"no decoy key for zone {name}")
        zones[name] = build_scenario_zone(lz, addrs, zkeys, decoy, now, serial)
        if recipe.ns2 is not None:
            ns2[name] = build_scenario_zone(lz, addrs, zkeys, decoy, now, serial, ns2=True)
        delegations[name] = [
            ds_for(name, spec, decoy if spec.role == "decoy" else keys_of(name).role(spec.role))  # type: ignore[arg-type]
            for spec in recipe.ds
        ]

    start, end = NORMAL_WINDOW
    lame = [lz.zone for lz in catalog if recipe_for(lz).lame]
    test_zone = build_test_zone(addrs, delegations, serial, lame)
    sign(test_zone, keys_of(TEST), now + start, now + end)
    root_zone = build_root_zone(addrs, [make_ds(TEST, keys_of(TEST).ksk)], serial)
    sign(root_zone, keys_of(ROOT), now + start, now + end)
    return LabTree(
        zones={ROOT: root_zone, TEST: test_zone, **zones},
        root_ds=make_ds(ROOT, keys_of(ROOT).ksk),
        serial=serial,
        variants={"ns2": ns2} if ns2 else {},
    )


def trust_anchor_text(root_ds: DS) -> str:
    """The trust-anchor file: the root DS in zone-file syntax (``. 3600 IN DS ...``)."""
    return f". {TTL} IN DS {root_ds.to_text()}\n"


def root_hints_text(addrs: LabAddresses) -> str:
    """The root hints file in zone-file syntax, pointing at the lab's root server."""
    return f". 3600000 IN NS {ROOT_SERVER}\n{ROOT_SERVER} 3600000 IN A {addrs.root}\n"


def zone_text(zone: dns.zone.Zone) -> str:
    """The zone in master-file syntax with absolute owner names (what the servers load)."""
    return zone.to_text(sorted=True, relativize=False, want_origin=True)
