"""How each lab scenario is built: keys and what they sign, the parent's DS, the signature
window, NSEC or NSEC3, and the faults injected before or after signing. Pure data.

:data:`RECIPES` maps every scenario of :data:`toolkit.lab.scenarios.SCENARIOS` to a
:class:`Recipe`; :mod:`toolkit.lab.zones` follows it. Edits (before signing) and faults (after
signing) are named here and implemented in :mod:`toolkit.lab.faults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dns.dnssectypes import Algorithm

from toolkit.lab.signer import Nsec3Params

KSK_FLAGS = 257
ZSK_FLAGS = 256
REVOKE = 0x0080


@dataclass(frozen=True)
class KeySpec:
    """One key of a zone: its role (names the key and its seed), DNSKEY flags, algorithm, RSA
    size, and what it signs (``ksk``: DNSKEY/CDS/CDNSKEY, ``zsk``: the rest, ``all``, ``none``).
    """

    role: str
    flags: int = ZSK_FLAGS
    algorithm: int = Algorithm.ECDSAP256SHA256
    bits: int = 2048  # RSA only
    signs: str = "zsk"


@dataclass(frozen=True)
class DsSpec:
    """One DS record at the parent: for the key ``role`` (``decoy``: a key the zone never
    publishes), with ``digest_type``; ``corrupt`` flips the digest so it does not verify."""

    role: str = "ksk"
    digest_type: int = 2
    corrupt: bool = False


@dataclass(frozen=True)
class Variant:
    """What the second server (ns2) serves differently from ns1."""

    keys: tuple[KeySpec, ...] | None = None  # None: the recipe's keys
    serial_delta: int = 0
    edits: tuple[str, ...] = ()
    nsec3: Nsec3Params | None = None  # None: the recipe's denial method


@dataclass(frozen=True)
class Recipe:
    """How one scenario's zone is built.

    ``window`` is the signature validity (inception, expiration) as offsets from ``now``;
    ``None`` leaves the zone unsigned. ``ds`` are the DS records the parent publishes (empty:
    none). ``edits`` change the zone before signing, ``faults`` after (names in
    :mod:`toolkit.lab.faults`). ``ns2`` makes the second server serve another copy. ``lame``
    adds ``ns3.<zone>`` to the parent's and the zone's NS sets at the address of the lab's root
    server, which does not serve the zone. ``transfer`` lets any loopback client transfer the
    zone (AXFR) from both its servers.
    """

    window: tuple[timedelta, timedelta] | None
    ds: tuple[DsSpec, ...] = (DsSpec(),)
    keys: tuple[KeySpec, ...] = ()
    nsec3: Nsec3Params | None = None
    edits: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    ns2: Variant | None = None
    lame: bool = False
    transfer: bool = False  # the zone's servers allow AXFR to 127.0.0.0/8 (a Knot acl)

    def key_specs(self) -> tuple[KeySpec, ...]:
        """The zone's keys: the recipe's, or the KSK/ZSK split when it names none."""
        return self.keys or SPLIT

    @property
    def needs_decoy(self) -> bool:
        """Whether a key the zone never publishes is needed (for a DS or a CDS)."""
        return (
            any(d.role == "decoy" for d in self.ds)
            or "cds-decoy" in self.edits
            or "www-signed-by-decoy" in self.faults
        )


KSK = KeySpec("ksk", KSK_FLAGS, signs="ksk")
ZSK = KeySpec("zsk", ZSK_FLAGS, signs="zsk")
SPLIT = (KSK, ZSK)

NORMAL_WINDOW = (timedelta(hours=-1), timedelta(days=30))
NO_DS: tuple[DsSpec, ...] = ()


def _rsa(algorithm: int, zsk_bits: int = 2048) -> tuple[KeySpec, ...]:
    return (
        KeySpec("ksk", KSK_FLAGS, algorithm, 2048, "ksk"),
        KeySpec("zsk", ZSK_FLAGS, algorithm, zsk_bits, "zsk"),
    )


def _pair(algorithm: int) -> tuple[KeySpec, ...]:
    return (
        KeySpec("ksk", KSK_FLAGS, algorithm, signs="ksk"),
        KeySpec("zsk", ZSK_FLAGS, algorithm, signs="zsk"),
    )


RECIPES: dict[str, Recipe] = {
    "secure": Recipe(NORMAL_WINDOW),
    "expiring": Recipe((timedelta(hours=-1), timedelta(days=3))),
    "island": Recipe(NORMAL_WINDOW, NO_DS),
    "ds-mismatch": Recipe(NORMAL_WINDOW, (DsSpec("decoy"),)),
    "expired": Recipe((timedelta(days=-40), timedelta(days=-10))),
    "unsigned": Recipe(None, NO_DS),
    "nsec3-iterations": Recipe(NORMAL_WINDOW, nsec3=Nsec3Params(10, "a1b2c3d4e5f60718")),
    "nsec3-clean": Recipe(NORMAL_WINDOW, nsec3=Nsec3Params(0, "")),
    "nsec3-optout": Recipe(NORMAL_WINDOW, nsec3=Nsec3Params(0, "", opt_out=True)),
    "rsasha1": Recipe(NORMAL_WINDOW, keys=_rsa(Algorithm.RSASHA1)),
    "rsa-1024": Recipe(NORMAL_WINDOW, keys=_rsa(Algorithm.RSASHA256, zsk_bits=1024)),
    "rsasha512": Recipe(NORMAL_WINDOW, keys=_rsa(Algorithm.RSASHA512)),
    "ds-sha1-only": Recipe(NORMAL_WINDOW, (DsSpec(digest_type=1),)),
    "ds-bad-digest": Recipe(NORMAL_WINDOW, (DsSpec(), DsSpec(corrupt=True))),
    "ds-gost": Recipe(NORMAL_WINDOW, (DsSpec(), DsSpec(digest_type=3))),
    "ds-sha1-beside-sha256": Recipe(NORMAL_WINDOW, (DsSpec(), DsSpec(digest_type=1))),
    "ds-unassigned-digest": Recipe(NORMAL_WINDOW, (DsSpec(digest_type=99),)),
    "ds-sha384-only": Recipe(NORMAL_WINDOW, (DsSpec(digest_type=4),)),
    "alg-ed25519": Recipe(NORMAL_WINDOW, keys=_pair(Algorithm.ED25519)),
    "alg-ecdsa-p384": Recipe(NORMAL_WINDOW, keys=_pair(Algorithm.ECDSAP384SHA384)),
    "alg-rsasha256": Recipe(NORMAL_WINDOW, keys=_rsa(Algorithm.RSASHA256)),
    "alg-private": Recipe(NORMAL_WINDOW, keys=_pair(Algorithm.PRIVATEDNS)),
    "alg-unassigned": Recipe(NORMAL_WINDOW, keys=_pair(100)),
    "ds-zsk-no-sep": Recipe(
        NORMAL_WINDOW, (DsSpec("zsk"),), keys=(KeySpec("zsk", ZSK_FLAGS, signs="all"),)
    ),
    "csk": Recipe(NORMAL_WINDOW, keys=(KeySpec("ksk", KSK_FLAGS, signs="all"),)),
    "missing-algorithm-sig": Recipe(
        NORMAL_WINDOW,
        keys=(*SPLIT, KeySpec("ksk-ed25519", KSK_FLAGS, Algorithm.ED25519, signs="ksk")),
    ),
    "revoked-key-signing": Recipe(
        NORMAL_WINDOW, keys=(*SPLIT, KeySpec("zsk-revoked", ZSK_FLAGS | REVOKE, signs="zsk"))
    ),
    "signer-wrong": Recipe(NORMAL_WINDOW, faults=("soa-signer-parent",)),
    "not-yet-valid": Recipe((timedelta(days=3), timedelta(days=30))),
    "rrsig-invalid": Recipe(NORMAL_WINDOW, faults=("corrupt-soa-rrsig",)),
    "rrsig-missing": Recipe(NORMAL_WINDOW, faults=("strip-dnskey-rrsig",)),
    "ttl-beyond-expiration": Recipe(NORMAL_WINDOW, edits=("ns-ttl-40-days",)),
    "sigs-before-soa-expire": Recipe((timedelta(hours=-1), timedelta(days=10))),
    "denial-unsigned": Recipe(NORMAL_WINDOW, faults=("strip-nsec-rrsigs",)),
    "cds-matching": Recipe(NORMAL_WINDOW, edits=("cds-ksk",)),
    "cds-mismatch": Recipe(NORMAL_WINDOW, edits=("cds-decoy",)),
    "cds-zsk-signed": Recipe(NORMAL_WINDOW, edits=("cds-ksk",), faults=("cds-signed-by-zsk",)),
    "cds-delete": Recipe(NORMAL_WINDOW, edits=("cds-delete",)),
    "cds-delete-malformed": Recipe(NORMAL_WINDOW, edits=("cds-delete-with-ksk",)),
    "cds-zsk": Recipe(NORMAL_WINDOW, edits=("cds-zsk",)),
    "cds-only": Recipe(NORMAL_WINDOW, edits=("cds-only-ksk",)),
    "cds-pending": Recipe(
        NORMAL_WINDOW,
        keys=(*SPLIT, KeySpec("ksk-next", KSK_FLAGS, signs="ksk")),
        edits=("cds-ksk", "cds-ksk-next"),
    ),
    "ds-revoked-ksk": Recipe(
        NORMAL_WINDOW, keys=(KeySpec("ksk", KSK_FLAGS | REVOKE, signs="ksk"), ZSK)
    ),
    "ttl-above-original": Recipe(NORMAL_WINDOW, faults=("ns-ttl-raised-after-signing",)),
    "denial-inconsistent": Recipe(NORMAL_WINDOW, ns2=Variant(nsec3=Nsec3Params(0, ""))),
    "wildcard": Recipe(NORMAL_WINDOW, edits=("wildcard-a",)),
    "wildcard-nsec3": Recipe(NORMAL_WINDOW, nsec3=Nsec3Params(0, ""), edits=("wildcard-a",)),
    "wildcard-unproven": Recipe(
        NORMAL_WINDOW, edits=("wildcard-a",), faults=("strip-wildcard-nsec",)
    ),
    "wildcard-txt-only": Recipe(NORMAL_WINDOW, edits=("wildcard-txt",)),
    "wildcard-txt-only-nsec3": Recipe(
        NORMAL_WINDOW, nsec3=Nsec3Params(0, ""), edits=("wildcard-txt",)
    ),
    "nsec3param-mismatch": Recipe(
        NORMAL_WINDOW, nsec3=Nsec3Params(0, ""), faults=("nsec3param-other-salt",)
    ),
    "rrsig-ttl-mismatch": Recipe(NORMAL_WINDOW, faults=("soa-ttl-lowered-after-signing",)),
    "long-validity": Recipe((timedelta(hours=-1), timedelta(days=200))),
    "dnskey-inconsistent": Recipe(
        NORMAL_WINDOW,
        keys=(*SPLIT, KeySpec("zsk-next", ZSK_FLAGS, signs="none")),
        ns2=Variant(keys=SPLIT),
    ),
    "serial-mismatch": Recipe(NORMAL_WINDOW, ns2=Variant(serial_delta=-1)),
    "ns-mismatch": Recipe(NORMAL_WINDOW, edits=("child-ns3",)),
    "ns-inconsistent": Recipe(NORMAL_WINDOW, ns2=Variant(edits=("child-ns3",))),
    "lame-server": Recipe(NORMAL_WINDOW, lame=True),
    "zsk-prepublish": Recipe(
        NORMAL_WINDOW, keys=(*SPLIT, KeySpec("zsk-next", ZSK_FLAGS, signs="none"))
    ),
    "name-bogus": Recipe(NORMAL_WINDOW, faults=("www-signed-by-decoy",)),
    "ksk-double-ds": Recipe(
        NORMAL_WINDOW,
        (DsSpec("ksk"), DsSpec("ksk-next")),
        keys=(*SPLIT, KeySpec("ksk-next", KSK_FLAGS, signs="none")),
    ),
    "discover-zonefile": Recipe(
        NORMAL_WINDOW, nsec3=Nsec3Params(0, ""), edits=("undeclared-delegation",)
    ),
    "discover-axfr": Recipe(
        NORMAL_WINDOW, nsec3=Nsec3Params(0, ""), edits=("undeclared-delegation",), transfer=True
    ),
    "discover-nsec": Recipe(
        NORMAL_WINDOW, edits=("undeclared-delegation", "undeclared-signed-delegation")
    ),
}
"""Scenario name -> how to build it (keys match :data:`toolkit.lab.scenarios.SCENARIOS`)."""
