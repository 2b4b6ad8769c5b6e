"""The probe plan: which question to ask which server about one zone. Pure, no I/O.

For a zone, its parent's servers and its own servers (name and address), :func:`plan_zone`
lists every probe of the full audit, in the order the walk sends them:

- at **every parent server address**: ``DS`` (with DO), the zone's DS RRset or its signed
  denial, so the parent servers' agreement on the DS set can be judged; and at the first of
  them ``NS``, the delegation, to compare with the zone's own NS set;
- at **every address of every zone server**: ``SOA`` first (the *gate*: a server that does not
  answer it with authority is dead or lame for the zone, and its later probes are skipped), then
  ``DNSKEY``, ``NS``, ``CDS``, ``CDNSKEY`` and ``NSEC3PARAM`` at the apex, all with DO;
- two **denial-of-existence** probes at every zone server address: a random name under the zone
  (``A``), whose NXDOMAIN must come with an NSEC/NSEC3 proof, and the apex with a type that no
  zone holds (``TYPE65280``, private use), whose NODATA must be proven too;
- one **TCP** probe at every zone server address: the apex ``SOA`` again, over TCP only
  (RFC 7766 §5: authoritative servers MUST answer over TCP; a resolver falls back to it when a
  large DNSKEY answer is truncated over UDP);
- the zone's **listed names** (the inventory's ``names`` column; none by default) at every zone
  server address: ``A``, ``AAAA``, ``MX`` and ``TXT`` of each (:data:`NAME_TYPES`), with DO, so
  that a name whose answers do not validate is seen even when the apex does. A zone without
  listed names gets no extra probe.

The random label comes from :func:`random_label` with an injected :class:`random.Random`, so a
seeded run asks the same names every time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import dns.name

Server = tuple[str | None, str]  # (server name, address)

APEX_TYPES = ("SOA", "DNSKEY", "NS", "CDS", "CDNSKEY", "NSEC3PARAM")
"""Apex RRsets asked of every zone server; SOA first, as the gate."""

NXDOMAIN_TYPE = "A"
NODATA_TYPE = "TYPE65280"
"""A private-use type (RFC 6895 §3.1) no zone serves: the apex has no such RRset."""

NAME_TYPES = ("A", "AAAA", "MX", "TXT")
"""Types asked of every listed name beyond the apex: what users of a name ask for most."""

PURPOSES = ("ds", "delegation", "apex", "nxdomain", "nodata", "tcp", "name")

TCP_TYPE = "SOA"
"""The question of the TCP probe: the gate's, so its answer is known to exist over UDP."""


@dataclass(frozen=True)
class Probe:
    """One question to one server: what, where, why, and whether it gates the server's rest.

    ``side`` is ``parent`` (asked of the parent's servers) or ``child`` (the zone's own);
    ``purpose`` one of :data:`PURPOSES`; ``tcp`` asks over TCP only (else UDP, and TCP when the
    UDP answer is truncated)."""

    server: Server
    qname: dns.name.Name
    qtype: str
    purpose: str
    side: str
    gate: bool = False
    tcp: bool = False


@dataclass(frozen=True)
class ZonePlan:
    """Every probe for one zone, in sending order, and the names of its denial probes."""

    zone: dns.name.Name
    parent: dns.name.Name | None
    probes: tuple[Probe, ...]
    nx_name: dns.name.Name
    names: tuple[dns.name.Name, ...] = ()

    def for_side(self, side: str) -> list[Probe]:
        """The probes of one side (``parent`` or ``child``), in order."""
        return [p for p in self.probes if p.side == side]

    @property
    def queries(self) -> int:
        """How many questions the plan asks at most (skipped probes included)."""
        return len(self.probes)


def random_label(rng: random.Random) -> str:
    """A label no zone is likely to hold (``_audit-`` and 40 random bits in hex)."""
    return f"_audit-{rng.getrandbits(40):010x}"


def plan_zone(
    zone: dns.name.Name,
    *,
    parent: dns.name.Name | None,
    parent_servers: Sequence[Server],
    zone_servers: Sequence[Server],
    nx_label: str,
    names: Sequence[dns.name.Name] = (),
) -> ZonePlan:
    """The full probe plan for ``zone``.

    ``parent_servers`` is empty for the trust anchor's zone (no DS to ask for); every
    (name, address) pair is asked, the same address under two names twice. ``nx_label`` is the
    label of the non-existent name asked (see :func:`random_label`). ``names`` are the listed
    names of the zone (absolute, at or below it), each asked :data:`NAME_TYPES` at every zone
    server address after its denial probes. Raises ValueError when ``nx_label`` is not a single
    valid label, or a name is not at or below ``zone``.
    """
    if not nx_label or "." in nx_label or len(nx_label.encode()) > 63:
        raise ValueError(f"{nx_label!r} is not a single DNS label")
    nx_name = dns.name.Name((nx_label.encode(), *zone.labels))
    for name in names:
        if not name.is_subdomain(zone):
            raise ValueError(f"{name} is not at or below the zone {zone}")
    probes: list[Probe] = []
    if parent is not None:
        for i, server in enumerate(parent_servers):
            probes.append(Probe(server, zone, "DS", "ds", "parent"))
            if i == 0:  # the delegation once: a TLD has a dozen servers, and 10,000 zones
                probes.append(Probe(server, zone, "NS", "delegation", "parent"))
    for server in zone_servers:
        for qtype in APEX_TYPES:
            probes.append(Probe(server, zone, qtype, "apex", "child", gate=qtype == "SOA"))
        probes.append(Probe(server, nx_name, NXDOMAIN_TYPE, "nxdomain", "child"))
        probes.append(Probe(server, zone, NODATA_TYPE, "nodata", "child"))
        probes.append(Probe(server, zone, TCP_TYPE, "tcp", "child", tcp=True))
        for name in names:
            for qtype in NAME_TYPES:
                probes.append(Probe(server, name, qtype, "name", "child"))
    return ZonePlan(zone, parent, tuple(probes), nx_name, tuple(names))
