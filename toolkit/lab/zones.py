"""Build and sign the lab's zones: pure functions of the catalog, the keys and ``now``.

Nothing here reads the clock or touches the disk. :func:`generate_lab_keys` draws fresh keys
(ECDSAP256SHA256, a KSK and a ZSK per signed zone, plus a decoy key for every ``ds-mismatch``
zone); :func:`build_tree` returns the root zone, ``test.`` and every catalog zone as
:class:`dns.zone.Zone` objects, signed (NSEC) according to each zone's scenario, and the root
KSK's DS (the lab's trust anchor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dns.dnssectypes import Algorithm, DSDigest
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from toolkit.errors import LabError
from toolkit.lab.scenarios import LAB_ZONES, LabAddresses, LabZone

ALGORITHM = Algorithm.ECDSAP256SHA256
KSK_FLAGS = 257
ZSK_FLAGS = 256
TTL = 3600
NEGATIVE_TTL = 300
WWW_ADDRESS = "192.0.2.10"

ROOT = "."
TEST = "test."
ROOT_SERVER = "a.root-servers.test."
TEST_SERVER = "ns.nic.test."


@dataclass(frozen=True)
class Recipe:
    """How a scenario is built.

    ``window`` is the signature validity (inception, expiration) as offsets from ``now``;
    ``None`` means the zone stays unsigned. ``ds`` says what the parent publishes: the DS of the
    zone's KSK (``"ksk"``), the DS of a decoy key the zone never publishes (``"decoy"``), or
    nothing (``"none"``).
    """

    window: tuple[timedelta, timedelta] | None
    ds: str  # ksk | decoy | none


NORMAL_WINDOW = (timedelta(hours=-1), timedelta(days=30))

RECIPES: dict[str, Recipe] = {
    "secure": Recipe(NORMAL_WINDOW, "ksk"),
    "expiring": Recipe((timedelta(hours=-1), timedelta(days=3)), "ksk"),
    "island": Recipe(NORMAL_WINDOW, "none"),
    "ds-mismatch": Recipe(NORMAL_WINDOW, "decoy"),
    "expired": Recipe((timedelta(days=-40), timedelta(days=-10)), "ksk"),
    "unsigned": Recipe(None, "none"),
}
"""Scenario name -> how to build it (keys match :data:`toolkit.lab.scenarios.SCENARIOS`)."""


@dataclass(frozen=True)
class SigningKey:
    """A private key and the DNSKEY record that publishes its public half."""

    private_key: ec.EllipticCurvePrivateKey
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

    @classmethod
    def from_pem(cls, pem: bytes, flags: int) -> SigningKey:
        """Rebuild a key from :meth:`private_pem` output; raises LabError if not ECDSA P-256."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise LabError("lab key is not an ECDSA P-256 private key")
        return cls(key, dns.dnssec.make_dnskey(key.public_key(), ALGORITHM, flags=flags))


# Order of the P-256 group: a private scalar is an integer in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

DEFAULT_KEY_SEED = "dnssec-governance-lab"
"""Seed of the lab's keys: the same seed gives the same keys (and key tags) at every lab up,
so a key manifest of the sample portfolio can name them. ``None`` gives random keys."""


def new_key(flags: int, seed: str | None = None) -> SigningKey:
    """An ECDSAP256SHA256 key with the given DNSKEY flags (257 KSK, 256 ZSK).

    With ``seed`` the private scalar is derived from SHA-256 of the seed, so the key is the
    same every time (a lab key, never a production practice); without, it is random."""
    if seed is None:
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        digest = hashlib.sha256(seed.encode()).digest()
        scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
        key = ec.derive_private_key(scalar, ec.SECP256R1())
    return SigningKey(key, dns.dnssec.make_dnskey(key.public_key(), ALGORITHM, flags=flags))


@dataclass(frozen=True)
class ZoneKeys:
    """The key pair that signs one zone."""

    ksk: SigningKey
    zsk: SigningKey


@dataclass(frozen=True)
class LabKeys:
    """Every key of a lab.

    ``zones`` maps an absolute zone name (``"."``, ``"test."``, ``"corp.test."``) to its keys,
    for signed zones only; ``decoys`` maps a ``ds-mismatch`` zone to the key whose DS the
    parent publishes but the zone does not.
    """

    zones: Mapping[str, ZoneKeys]
    decoys: Mapping[str, SigningKey]


def absolute(zone: str) -> str:
    """``"corp.test"`` -> ``"corp.test."`` (the root stays ``"."``)."""
    return zone if zone.endswith(".") else zone + "."


def generate_lab_keys(
    catalog: Iterable[LabZone] = LAB_ZONES, seed: str | None = DEFAULT_KEY_SEED
) -> LabKeys:
    """Keys for the root, ``test.`` and every signed zone of ``catalog``, plus decoys.

    With a ``seed`` (the default) every key is derived from it and the zone's name and role,
    so the lab's key tags are stable across runs; ``seed=None`` makes every key random."""

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
            zones[name] = ZoneKeys(key(name, "ksk", KSK_FLAGS), key(name, "zsk", ZSK_FLAGS))
        if recipe.ds == "decoy":
            decoys[name] = key(name, "decoy", KSK_FLAGS)
    return LabKeys(zones, decoys)


def recipe_for(lz: LabZone) -> Recipe:
    """The build recipe of a catalog zone; raises LabError for an unknown scenario."""
    try:
        return RECIPES[lz.scenario]
    except KeyError:
        raise LabError(f"zone {lz.zone}: unknown lab scenario {lz.scenario!r}") from None


def make_ds(zone: str, key: SigningKey) -> DS:
    """The SHA-256 DS record of ``key`` for ``zone``."""
    return dns.dnssec.make_ds(absolute(zone), key.dnskey, DSDigest.SHA256)


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


def build_child_zone(lz: LabZone, addrs: LabAddresses, serial: int) -> dns.zone.Zone:
    """The unsigned contents of catalog zone ``lz``.

    SOA, NS ``ns1``/``ns2`` with their A records (``{base}.3``/``{base}.4``), ``www`` A and an
    apex TXT naming the scenario.
    """
    origin = absolute(lz.zone)
    b = _ZoneBuilder(origin)
    b.soa(f"ns1.{origin}", f"hostmaster.{origin}", serial)
    for ns, addr in (("ns1", addrs.ns1), ("ns2", addrs.ns2)):
        b.add(origin, "NS", f"{ns}.{origin}")
        b.add(f"{ns}.{origin}", "A", addr)
    b.add(f"www.{origin}", "A", WWW_ADDRESS)
    b.add(origin, "TXT", f'"dnssec lab zone" "scenario={lz.scenario}"')
    return b.done()


def build_test_zone(
    addrs: LabAddresses, delegations: Mapping[str, list[DS]], serial: int
) -> dns.zone.Zone:
    """The unsigned ``test.`` zone delegating every zone of ``delegations`` (name -> its DS set).

    Also holds ``ns.nic.test.`` (its own server) and ``a.root-servers.test.`` (the root server's
    name, so the name the root's NS points at resolves authoritatively).
    """
    b = _ZoneBuilder(TEST)
    b.soa(TEST_SERVER, f"hostmaster.nic.{TEST}", serial)
    b.add(TEST, "NS", TEST_SERVER)
    b.add(TEST_SERVER, "A", addrs.test)
    b.add(ROOT_SERVER, "A", addrs.root)
    for zone, ds_set in delegations.items():
        child = absolute(zone)
        for ns, addr in (("ns1", addrs.ns1), ("ns2", addrs.ns2)):
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
    """The built lab: zones by absolute name (``"."``, ``"test."``, ...) and the trust anchor."""

    zones: dict[str, dns.zone.Zone]
    root_ds: DS
    serial: int


def build_tree(
    addrs: LabAddresses,
    keys: LabKeys,
    now: datetime,
    catalog: Iterable[LabZone] = LAB_ZONES,
) -> LabTree:
    """Build and sign the whole lab at time ``now`` (timezone-aware).

    Root and ``test.`` are signed with a normal window (now-1h .. now+30d); each catalog zone is
    signed, delegated and given a DS as its scenario's :data:`RECIPES` entry says.
    Returns a :class:`LabTree`. Raises LabError when ``now`` is naive, a scenario is unknown or
    ``keys`` lack a key the catalog needs.
    """
    if now.tzinfo is None:
        raise LabError("lab time 'now' must be timezone-aware (UTC)")
    catalog = tuple(catalog)
    serial = soa_serial(now)
    zones: dict[str, dns.zone.Zone] = {}
    delegations: dict[str, list[DS]] = {}

    def keys_of(name: str) -> ZoneKeys:
        try:
            return keys.zones[name]
        except KeyError:
            raise LabError(f"no lab keys for zone {name}") from None

    for lz in catalog:
        name = absolute(lz.zone)
        recipe = recipe_for(lz)
        zone = build_child_zone(lz, addrs, serial)
        if recipe.window is not None:
            start, end = recipe.window
            sign(zone, keys_of(name), now + start, now + end)
        if recipe.ds == "ksk":
            delegations[name] = [make_ds(name, keys_of(name).ksk)]
        elif recipe.ds == "decoy":
            if name not in keys.decoys:
                raise LabError(f"no decoy key for ds-mismatch zone {name}")
            delegations[name] = [make_ds(name, keys.decoys[name])]
        else:
            delegations[name] = []
        zones[name] = zone

    start, end = NORMAL_WINDOW
    test_zone = build_test_zone(addrs, delegations, serial)
    sign(test_zone, keys_of(TEST), now + start, now + end)
    root_zone = build_root_zone(addrs, [make_ds(TEST, keys_of(TEST).ksk)], serial)
    sign(root_zone, keys_of(ROOT), now + start, now + end)
    return LabTree(
        zones={ROOT: root_zone, TEST: test_zone, **zones},
        root_ds=make_ds(ROOT, keys_of(ROOT).ksk),
        serial=serial,
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
