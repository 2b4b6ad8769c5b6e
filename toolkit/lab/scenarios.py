"""The lab's catalog: which zones exist, what fault each carries, and the address plan.

Pure data. A scenario names a DNSSEC state the lab builds on purpose; ``expected_status`` and
``expected_reasons`` are what a correct checker must report for a zone built that way (the
reason codes are those of :mod:`toolkit.reasons`). How each scenario is built lives in
:mod:`toolkit.lab.zones`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from toolkit.errors import LabError

DEFAULT_BASE = "127.53.0"
"""Default address prefix (three octets): the lab's servers live on ``{base}.N`` port 53."""

PORT = 53
"""Every lab server listens on port 53: referrals carry addresses only, never ports."""


@dataclass(frozen=True)
class LabZone:
    """One zone of the lab's catalog and the verdict a correct checker must reach on it."""

    zone: str  # A-label, no trailing dot
    scenario: str
    expected_status: str  # secure | insecure | bogus
    expected_reasons: tuple[str, ...]
    description: str


SCENARIOS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "secure": (
        "secure",
        (),
        "Signed with a KSK and a ZSK; the parent publishes the KSK's DS (SHA-256).",
    ),
    "expiring": (
        "secure",
        ("SIG_EXPIRING_SOON",),
        "Signed and delegated securely, but the signatures expire in 3 days "
        "(inside a 5-day policy floor).",
    ),
    "island": (
        "insecure",
        ("NO_DS_SIGNED",),
        "Signed, but the parent publishes no DS: an island of security.",
    ),
    "ds-mismatch": (
        "bogus",
        ("DS_NO_MATCHING_DNSKEY",),
        "Signed, but the parent's DS is the digest of a key the zone does not publish.",
    ),
    "expired": (
        "bogus",
        ("RRSIG_EXPIRED",),
        "Signed and delegated securely, but every signature expired 10 days ago.",
    ),
    "unsigned": (
        "insecure",
        ("UNSIGNED",),
        "Not signed; the parent publishes no DS.",
    ),
}
"""Scenario name -> (expected_status, expected_reasons, description)."""


def _zone(zone: str, scenario: str) -> LabZone:
    status, reasons, description = SCENARIOS[scenario]
    return LabZone(zone, scenario, status, reasons, description)


LAB_ZONES: tuple[LabZone, ...] = (
    _zone("corp.test", "secure"),
    _zone("payments.test", "secure"),
    _zone("xn--bcher-kva.test", "secure"),  # bücher.test
    _zone("shop.test", "expiring"),
    _zone("brand.test", "island"),
    _zone("legacy.test", "ds-mismatch"),
    _zone("events.test", "expired"),
    _zone("intranet.test", "unsigned"),
    _zone("marketing.test", "unsigned"),
)
"""Every child zone of ``test.`` the lab builds, in catalog order."""


@dataclass(frozen=True)
class LabAddresses:
    """The lab's address plan, derived from a three-octet loopback prefix ``base``.

    ``.1`` root server, ``.2`` the ``test.`` server, ``.3``/``.4`` the two servers of every
    child zone, ``.53`` Unbound. ``.54``-``.56`` are reserved for later resolvers.
    """

    base: str

    @classmethod
    def from_base(cls, base: str) -> LabAddresses:
        """Validate ``base`` (three octets inside 127.0.0.0/8) and return the plan.

        Raises LabError when ``base`` is not three decimal octets or not loopback.
        """
        parts = base.split(".")
        if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise LabError(f"lab base {base!r} must be three octets, e.g. {DEFAULT_BASE!r}")
        if not ipaddress.ip_address(f"{base}.1").is_loopback:
            raise LabError(f"lab base {base!r} must lie inside 127.0.0.0/8 (loopback)")
        return cls(".".join(str(int(p)) for p in parts))

    def host(self, n: int) -> str:
        """The address ``{base}.n``."""
        return f"{self.base}.{n}"

    @property
    def root(self) -> str:
        return self.host(1)

    @property
    def test(self) -> str:
        return self.host(2)

    @property
    def ns1(self) -> str:
        return self.host(3)

    @property
    def ns2(self) -> str:
        return self.host(4)

    @property
    def unbound(self) -> str:
        return self.host(53)

    def servers(self) -> dict[str, str]:
        """Authoritative servers: role -> address (``root``, ``test``, ``ns1``, ``ns2``)."""
        return {"root": self.root, "test": self.test, "ns1": self.ns1, "ns2": self.ns2}

    def resolvers(self) -> dict[str, str]:
        """Validating resolvers: name -> ``address@port``."""
        return {"unbound": f"{self.unbound}@{PORT}"}
