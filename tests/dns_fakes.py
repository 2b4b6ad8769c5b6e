"""Offline stand-ins for the lab's servers: answers built from signed :class:`dns.zone.Zone`
objects (the lab's own, built purely by :mod:`toolkit.lab.zones`), and a collected zone's
evidence assembled from them without any socket.

``respond`` answers like an authoritative server that holds the zone: data with its RRSIGs
(synthesised from a wildcard where one covers the name), NODATA (also a wildcard NODATA) or
NXDOMAIN with the SOA and *every* NSEC/NSEC3 record of the zone (a superset of the
proof, which is what the proof checker must pick from). ``offline_evidence`` runs a zone's
probe plan against such answers and returns the :class:`ZoneEvidence` the walk would have.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from toolkit.collect.names import listed_names
from toolkit.collect.plan import Server, plan_zone
from toolkit.collect.transport import Exchange
from toolkit.collect.validate import Verdict, judge_zone
from toolkit.collect.walk import ProbeResult, ZoneEvidence, child_data, parent_answer

IN = dns.rdataclass.IN
DENIAL = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)


def _rrsets(zone: dns.zone.Zone, name: dns.name.Name, rdtype: int) -> list[dns.rrset.RRset]:
    node = zone.get_node(name)
    if node is None:
        return []
    rds = node.get_rdataset(IN, rdtype)
    if rds is None:
        return []
    out = [dns.rrset.from_rdata_list(name, rds.ttl, list(rds))]
    sigs = node.get_rdataset(IN, dns.rdatatype.RRSIG, rdtype)
    if sigs is not None:
        out.append(dns.rrset.from_rdata_list(name, sigs.ttl, list(sigs)))
    return out


def _denial(zone: dns.zone.Zone) -> list[dns.rrset.RRset]:
    """Every NSEC, and every NSEC3 of the chain the apex NSEC3PARAM names (an authoritative
    server picks the chain by it, RFC 5155 §4; Knot serves no NSEC3 when none matches)."""
    param = zone.get_rdataset(zone.origin, dns.rdatatype.NSEC3PARAM)
    chains = {(p.iterations, p.salt) for p in param} if param is not None else None
    out = []
    for name, node in zone.nodes.items():
        for rdtype in DENIAL:
            rds = node.get_rdataset(IN, rdtype)
            if rds is None:
                continue
            if rdtype == dns.rdatatype.NSEC3 and chains is not None:
                if not any((rd.iterations, rd.salt) in chains for rd in rds):
                    continue
            out += _rrsets(zone, name, rdtype)
    return out


def _wildcard_source(zone: dns.zone.Zone, qname: dns.name.Name) -> dns.name.Name:
    """``*.<closest encloser>`` of a name the zone does not hold (RFC 4592)."""
    encloser = qname.parent()
    while encloser != zone.origin and zone.get_node(encloser) is None:
        encloser = encloser.parent()
    return dns.name.Name((b"*", *encloser.labels))


def _wildcard_answer(
    zone: dns.zone.Zone, qname: dns.name.Name, rdtype: int
) -> list[dns.rrset.RRset]:
    """The answer synthesised from ``*.<closest encloser>`` for a name the zone does not hold
    (RFC 4592), with the wildcard's RRSIGs, owned by ``qname``; empty when none applies."""
    return [
        dns.rrset.from_rdata_list(qname, rrset.ttl, list(rrset))
        for rrset in _rrsets(zone, _wildcard_source(zone, qname), rdtype)
    ]


def respond(zone: dns.zone.Zone | None, qname: dns.name.Name, qtype: str) -> dns.message.Message:
    """The answer of a server holding ``zone`` (None: a server that does not serve it, which
    answers REFUSED)."""
    query = dns.message.make_query(qname, qtype, want_dnssec=True)
    r = dns.message.make_response(query)
    if zone is None:
        r.set_rcode(dns.rcode.REFUSED)
        return r
    r.flags |= dns.flags.AA
    rdtype = dns.rdatatype.from_text(qtype)
    found = _rrsets(zone, qname, rdtype)
    wild = _wildcard_answer(zone, qname, rdtype) if zone.get_node(qname) is None else []
    if found or wild:
        r.answer += found or wild
        if wild:  # the proof that qname itself does not exist: here, every denial record
            r.authority += _denial(zone)
        return r
    r.authority += _rrsets(zone, zone.origin, dns.rdatatype.SOA) + _denial(zone)
    # a name the zone does not hold is NXDOMAIN, unless a wildcard covers it: a wildcard
    # without the type asked gives NODATA (RFC 4592 §3.3.1, RFC 4035 §3.1.3.4)
    if zone.get_node(qname) is None and zone.get_node(_wildcard_source(zone, qname)) is None:
        r.set_rcode(dns.rcode.NXDOMAIN)
    return r


def offline_evidence(
    zone_name: str,
    served: dict[Server, dns.zone.Zone | None],
    parent: dns.zone.Zone,
    parent_verdict: Verdict,
    now: datetime,
    *,
    edit: Callable[[Server, str, dns.message.Message], dns.message.Message | None] | None = None,
    names: tuple[str, ...] = (),
) -> ZoneEvidence:
    """What the walk collects for ``zone_name`` when each of its servers serves the zone given
    in ``served`` (None: not at all) and the parent's one server serves ``parent``. ``edit``
    may change an answer (server, qtype, message) before it is recorded; the TCP probe's
    qtype is given as "tcp", and an edit returning None stands for a refused connection.
    Every answer is recorded as it would come off the wire (so its size is known). ``names``
    are the zone's listed names (relative, ``@`` the apex), probed as the plan says."""
    name = dns.name.from_text(zone_name)
    parent_server = ("ns.nic.test.", "192.0.2.2")
    plan = plan_zone(
        name,
        parent=parent.origin,
        parent_servers=[parent_server],
        zone_servers=list(served),
        nx_label="_audit-0000000001",
        names=listed_names(name, ";".join(names)),
    )
    results = []
    for probe in plan.probes:
        source = parent if probe.side == "parent" else served[probe.server]
        response: dns.message.Message | None = respond(source, probe.qname, probe.qtype)
        if edit is not None:
            response = edit(probe.server, "tcp" if probe.tcp else probe.qtype, response)
        if response is not None:
            response = dns.message.from_wire(response.to_wire(max_size=65535))
        ex = Exchange(
            probe.qname.to_text(),
            probe.qtype,
            probe.server[1],
            probe.server[0],
            "tcp" if probe.tcp else "udp",
            response,
            None if response is not None else "refused",
            1.0,
            False,
            now,
        )
        results.append(ProbeResult(probe, ex))
    pdata, pserver = parent_answer(name, results)
    children = [child_data(name, server, results) for server in served]
    verdict = judge_zone(
        name,
        parent_name=parent.origin,
        parent_verdict=parent_verdict,
        parent_data=pdata,
        children=children,
        now=now,
        min_validity_days=5.0,
    )
    return ZoneEvidence(
        name, parent.origin, list(served), pdata, pserver, children, verdict, now, {}, plan, results
    )
