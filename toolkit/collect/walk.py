"""The delegation walk: from the root hints down to each zone, asking the authoritative servers.

This is the I/O driver around :mod:`toolkit.collect.plan` and :mod:`toolkit.collect.validate`.
For each zone it finds the zone cuts on the way from the root (caching them, so a portfolio
under one TLD asks the root and the TLD once), sends the zone's probe plan through
:func:`toolkit.collect.transport.send` (DS and NS at every parent server; SOA, DNSKEY, NS, CDS,
CDNSKEY, NSEC3PARAM, two denial probes and the SOA once more over TCP only, at every address of
every zone server, with DO),
keeps every exchange as evidence, and hands the apex data to
:func:`toolkit.collect.validate.judge_zone`. A server that does not answer the plan's gate (the
apex SOA) with authority is not asked the rest of its probes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, TypeVar

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from toolkit.collect.anchors import RootHints, TrustAnchor
from toolkit.collect.plan import Probe, Server, ZonePlan, plan_zone, random_label
from toolkit.collect.sigstatus import canonical_name
from toolkit.collect.transport import (
    QUERIES,
    Clock,
    Exchange,
    TransportConfig,
    find_rrset,
    send,
)
from toolkit.collect.validate import ChildData, ParentData, Verdict, judge_zone

T = TypeVar("T")  # what a walk driver sends through

_MAX_DEPTH = 8  # nested NS-name resolutions before giving up (loops in glueless delegations)


@dataclass(frozen=True)
class ProbeResult:
    """A probe of the plan and its exchange (None: skipped, the server failed its gate)."""

    probe: Probe
    exchange: Exchange | None

    @property
    def response(self) -> dns.message.Message | None:
        return self.exchange.response if self.exchange is not None else None


@dataclass
class ZoneEvidence:
    """Everything collected for one zone cut, and the verdict drawn from it.

    ``results`` holds every probe of ``plan`` with its exchange, in sending order (empty for
    a name that is not a zone cut)."""

    name: dns.name.Name
    parent: dns.name.Name | None
    servers: list[Server]
    parent_data: ParentData | None
    parent_server: Server | None
    children: list[ChildData]
    verdict: Verdict
    queried_at: datetime
    child_times: dict[str, datetime] = field(default_factory=dict)
    plan: ZonePlan | None = None
    results: list[ProbeResult] = field(default_factory=list)


@dataclass
class _Lookup:
    """Outcome of asking a zone's servers one question: the first usable exchange."""

    exchange: Exchange | None
    server: Server | None

    @property
    def response(self) -> dns.message.Message | None:
        return self.exchange.response if self.exchange else None


def read_referral(
    child: dns.name.Name, r: dns.message.Message | None
) -> tuple[str, list[tuple[dns.name.Name, list[str]]]]:
    """What the parent's answer to ``child NS`` says: ("zone", [(server name, glue
    addresses), ...] in name order) for a delegation, else ("no-response" | "nxdomain" |
    "not-a-zone", [])."""
    if r is None:
        return "no-response", []
    if r.rcode() == dns.rcode.NXDOMAIN:
        return "nxdomain", []
    ns = find_rrset(r.authority, child, dns.rdatatype.NS)
    if ns is None and r.flags & dns.flags.AA:
        ns = find_rrset(r.answer, child, dns.rdatatype.NS)
    if ns is None:
        return "not-a-zone", []
    glue: dict[dns.name.Name, list[str]] = {}
    for rrset in r.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            glue.setdefault(rrset.name, []).extend(rd.address for rd in rrset)
    return "zone", [(target, glue.get(target, [])) for target in sorted({rd.target for rd in ns})]


def not_a_zone(
    name: dns.name.Name, zone: dns.name.Name, outcome: str, parent_verdict: Verdict, clock: Clock
) -> ZoneEvidence:
    """The evidence of a name that is no zone cut: not found below ``zone`` (its deepest
    enclosing cut), or its parent's servers gave no answer (``outcome`` "no-response")."""
    if outcome == "no-response":
        pdata = ParentData(answered=False)
    else:  # nxdomain, or the name exists but is not delegated: no such zone
        pdata = ParentData(answered=True, nxdomain=True)
    verdict = judge_zone(
        name,
        parent_name=zone,
        parent_verdict=parent_verdict,
        parent_data=pdata,
        children=[],
        now=clock.now(),
    )
    return ZoneEvidence(name, zone, [], pdata, None, [], verdict, clock.now())


def judge_cut(
    plan: ZonePlan,
    servers: list[Server],
    parent_verdict: Verdict | None,
    results: list[ProbeResult],
    *,
    started: datetime,
    clock: Clock,
    min_validity_days: float | None,
    anchor: TrustAnchor,
) -> ZoneEvidence:
    """The evidence and verdict of a zone cut from its executed plan (``results`` in plan
    order). Pure but for reading ``clock`` for the time the verdict is judged at."""
    name, parent = plan.zone, plan.parent
    parent_data, parent_server = parent_answer(name, results)
    children = [child_data(name, server, results) for server in servers]
    child_times: dict[str, datetime] = {}
    for r in results:
        if r.probe.side == "child" and r.exchange is not None:
            child_times.setdefault(r.probe.server[1], r.exchange.queried_at)
    now = clock.now()
    if parent is None:
        verdict = judge_zone(
            name,
            parent_name=None,
            parent_verdict=None,
            parent_data=None,
            children=children,
            now=now,
            min_validity_days=min_validity_days,
            anchor_ds=anchor.ds,
            anchor_dnskey=anchor.dnskey,
        )
    else:
        verdict = judge_zone(
            name,
            parent_name=parent,
            parent_verdict=parent_verdict,
            parent_data=parent_data,
            children=children,
            now=now,
            min_validity_days=min_validity_days,
        )
    return ZoneEvidence(
        name,
        parent,
        servers,
        parent_data,
        parent_server,
        children,
        verdict,
        started,
        child_times,
        plan,
        results,
    )


def question_messages(plan: ZonePlan, payload: int) -> list[dns.message.QueryMessage]:
    """The query message of each probe of the plan, in plan order: one message per question
    (name and type), every server asked with the same one (made for the first probe that asks
    it). Names are told apart by their canonical form, kept per name object: equal names
    (in any case) are one question, as ``Name`` equality has it, without hashing the name
    for every probe (``Name.__hash__`` walks every character in Python)."""
    made: dict[tuple[bytes, str], dns.message.QueryMessage] = {}
    out = []
    for probe in plan.probes:
        question = (canonical_name(probe.qname), probe.qtype)
        query = made.get(question)
        if query is None:
            query = made[question] = QUERIES.make(
                probe.qname, probe.qtype, recursion=False, payload=payload
            )
        out.append(query)
    return out


class WalkState(Generic[T]):
    """What both drivers of the walk (:class:`Walker`, one query at a time, and
    :class:`toolkit.collect.aio_walk.AsyncWalker`) keep and decide alike: the zone cuts found
    (servers, parents, names that are no cut, names whose parent gave no delegation), the
    evidence collected, each zone's plan and non-existent label. The drivers differ only in
    *when* they send (and with what ``transport``: ``T``); what they learn from an answer is
    entered here."""

    def __init__(
        self,
        hints: RootHints,
        anchor: TrustAnchor,
        *,
        clock: Clock,
        transport: T,
        log: Callable[[Exchange], None],
        min_validity_days: Callable[[dns.name.Name], float | None] = lambda _: None,
        seed: int | None = 0,
        names: Mapping[dns.name.Name, Sequence[dns.name.Name]] | None = None,
    ) -> None:
        """``seed`` picks the label of each zone's non-existent name (see :meth:`nx_label`);
        ``names`` gives the listed names beyond the apex of the zones that have some (the
        inventory's ``names`` column), which each zone's plan asks too."""
        self.transport = transport
        self.names = dict(names or {})
        self.anchor = anchor
        self.seed = seed
        self._rng = random.Random()
        self.clock = clock
        self.log = log
        self.min_validity_days = min_validity_days
        self._servers: dict[dns.name.Name, list[Server]] = {
            dns.name.root: [(n, a) for n, a in hints.servers]
        }
        self._parent: dict[dns.name.Name, dns.name.Name] = {}
        self._not_cut: set[dns.name.Name] = set()
        self._missing: dict[dns.name.Name, ParentData] = {}
        self.evidence: dict[dns.name.Name, ZoneEvidence] = {}

    def nx_label(self, zone: dns.name.Name) -> str:
        """The label of the random non-existent name asked under ``zone``: drawn from a
        generator seeded with the walker's seed and the zone's name (so two runs, or two shards
        of one run, ask the same names), or fresh for every zone when the seed is None."""
        if self.seed is None:
            return random_label(self._rng)
        return random_label(random.Random(f"{self.seed}/{zone.to_text().lower()}"))

    def plan_for(self, name: dns.name.Name) -> ZonePlan:
        """The probe plan of zone cut ``name``, from the servers found for it and its parent."""
        parent = self._parent.get(name)
        return plan_zone(
            name,
            parent=parent,
            parent_servers=self._servers[parent] if parent is not None else [],
            zone_servers=self._servers[name],
            nx_label=self.nx_label(name),
            names=self.names.get(name, ()),
        )

    def judge(
        self,
        plan: ZonePlan,
        parent_verdict: Verdict | None,
        results: list[ProbeResult],
        started: datetime,
    ) -> ZoneEvidence:
        """The evidence and verdict of zone cut ``plan.zone`` from its executed plan (see
        :func:`judge_cut`), with the zone's validity floor and the walk's trust anchor."""
        return judge_cut(
            plan,
            self._servers[plan.zone],
            parent_verdict,
            results,
            started=started,
            clock=self.clock,
            min_validity_days=self.min_validity_days(plan.zone),
            anchor=self.anchor,
        )

    def note_missing(self, child: dns.name.Name, outcome: str) -> None:
        """Remember that ``child``'s parent gave no delegation for it (``outcome`` of
        :func:`read_referral`: "nxdomain" or "no-response"; any other is not entered)."""
        if outcome in ("no-response", "nxdomain"):
            nx = outcome == "nxdomain"
            self._missing[child] = ParentData(answered=nx, nxdomain=nx)

    def enter_cut(
        self,
        parent: dns.name.Name,
        child: dns.name.Name,
        addresses: list[tuple[dns.name.Name, list[str]]],
    ) -> None:
        """Enter zone cut ``child`` below ``parent`` with its servers' addresses (per server
        name in name order; each server's addresses sorted and without repeats)."""
        self._servers[child] = [
            (target.to_text(), a) for target, addrs in addresses for a in sorted(set(addrs))
        ]
        self._parent[child] = parent

    def release_results(self, name: dns.name.Name) -> ZoneEvidence | None:
        """Let go of the probe results (the DNS messages) of ``name``'s evidence, once whatever
        is drawn from them has been: its verdict and apex data stay, for the zones below it,
        but its evidence rows can no longer be drawn. Keeps the memory of a long walk, and the
        garbage collector's work, from growing with every message received. Returns the
        lightened evidence (None when there was nothing to let go)."""
        ev = self.evidence.get(name)
        if ev is None or not ev.results:
            return None
        light = replace(ev, results=[])
        self.evidence[name] = light
        return light


def answer_addresses(name: dns.name.Name, rdtype: str, r: dns.message.Message | None) -> list[str]:
    """The addresses of ``name`` in an answer to its ``rdtype`` (A or AAAA) query."""
    if r is None:
        return []
    rrset = find_rrset(r.answer, name, dns.rdatatype.from_text(rdtype))
    return [rd.address for rd in rrset or []]


class Walker(WalkState[TransportConfig]):
    """Walks delegations and collects apex evidence, one query at a time; one instance per
    collection run. The reference the asynchronous driver is proven equal to."""

    # -- asking ----------------------------------------------------------------------------

    def _ask(
        self,
        qname: dns.name.Name,
        qtype: str,
        server: Server,
        query: dns.message.QueryMessage | None = None,
        tcp_only: bool = False,
    ) -> Exchange:
        return send(
            qname,
            qtype,
            server[1],
            clock=self.clock,
            config=self.transport,
            server_name=server[0],
            log=self.log,
            query=query,
            tcp_only=tcp_only,
        )

    def _ask_any(self, qname: dns.name.Name, qtype: str, servers: list[Server]) -> _Lookup:
        """Ask servers in turn until one gives an answer (NOERROR or NXDOMAIN)."""
        for server in servers:
            ex = self._ask(qname, qtype, server)
            r = ex.response
            if r is not None and r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return _Lookup(ex, server)
        return _Lookup(None, None)

    # -- discovering zone cuts ----------------------------------------------------------------

    def enclosing_zone(self, name: dns.name.Name, depth: int = 0) -> tuple[dns.name.Name, str]:
        """Discover the zone cuts down to ``name``. Returns (deepest cut found, outcome) where
        outcome is "zone" (name is a zone cut), "not-a-zone" (name exists inside the returned
        zone), "nxdomain", or "no-response" (the returned zone's servers gave no answer)."""
        current = dns.name.root
        if name == dns.name.root:
            return current, "zone"
        labels = name.labels
        for i in range(len(labels) - 2, -1, -1):
            child = dns.name.Name(labels[i:])
            if child in self._servers:
                current = child
                continue
            if child in self._not_cut:
                continue
            if child in self._missing:
                return current, "nxdomain" if self._missing[child].nxdomain else "no-response"
            outcome = self._probe_cut(current, child, depth)
            if outcome == "zone":
                current = child
            elif outcome == "not-a-zone":
                self._not_cut.add(child)
            else:
                return current, outcome
        return current, "zone" if current == name else "not-a-zone"

    def _probe_cut(self, parent: dns.name.Name, child: dns.name.Name, depth: int) -> str:
        lookup = self._ask_any(child, "NS", self._servers[parent])
        outcome, targets = read_referral(child, lookup.response)
        self.note_missing(child, outcome)
        if outcome != "zone":
            return outcome
        addresses = [
            (target, glue or self.resolve_addresses(target, depth + 1)) for target, glue in targets
        ]
        self.enter_cut(parent, child, addresses)
        return "zone"

    def resolve_addresses(self, name: dns.name.Name, depth: int = 0) -> list[str]:
        """IPv4 and IPv6 addresses of a server name, found by iterating from the root."""
        if depth > _MAX_DEPTH:
            return []
        zone, outcome = self.enclosing_zone(name, depth)
        if outcome in ("nxdomain", "no-response"):
            return []
        addrs: list[str] = []
        for rdtype in ("A", "AAAA"):
            lookup = self._ask_any(name, rdtype, self._servers[zone])
            addrs += answer_addresses(name, rdtype, lookup.response)
        return addrs

    # -- collecting and judging ----------------------------------------------------------------

    def collect_zone(self, name: dns.name.Name) -> ZoneEvidence:
        """Evidence and verdict for ``name`` (and, cached, for every zone above it)."""
        if name in self.evidence:
            return self.evidence[name]
        zone, outcome = self.enclosing_zone(name)
        if outcome != "zone":
            parent_ev = self.collect_zone(zone)
            ev = not_a_zone(name, zone, outcome, parent_ev.verdict, self.clock)
            self.evidence[name] = ev
            return ev
        return self._collect_cut(name)

    def _collect_cut(self, name: dns.name.Name) -> ZoneEvidence:
        started = self.clock.now()
        parent = self._parent.get(name)
        parent_verdict = None
        if parent is not None:
            parent_verdict = self.collect_zone(parent).verdict
        plan = self.plan_for(name)
        ev = self.judge(plan, parent_verdict, self.execute(plan), started)
        self.evidence[name] = ev
        return ev

    def release(self, name: dns.name.Name) -> None:
        """As :meth:`WalkState.release_results`."""
        self.release_results(name)

    def execute(self, plan: ZonePlan) -> list[ProbeResult]:
        """Send the plan's probes in order; a server (name and address) whose gate probe gets
        no authoritative answer is skipped for the rest of the plan."""
        failed: set[Server] = set()
        results = []
        queries = question_messages(plan, self.transport.payload)
        for probe, query in zip(plan.probes, queries, strict=True):
            if probe.server in failed:
                results.append(ProbeResult(probe, None))
                continue
            ex = self._ask(probe.qname, probe.qtype, probe.server, query, tcp_only=probe.tcp)
            results.append(ProbeResult(probe, ex))
            if probe.gate and not gate_passed(ex.response, probe):
                failed.add(probe.server)
        return results


def gate_passed(r: dns.message.Message | None, probe: Probe) -> bool:
    """Whether a gate probe's answer lets its server be asked the rest of the plan: an
    authoritative NOERROR answer holding the RRset asked for."""
    if r is None or r.rcode() != dns.rcode.NOERROR or not r.flags & dns.flags.AA:
        return False
    rdtype = dns.rdatatype.from_text(probe.qtype)
    return find_rrset(r.answer, probe.qname, rdtype) is not None


def parent_answer(
    name: dns.name.Name, results: list[ProbeResult]
) -> tuple[ParentData, Server | None]:
    """What the parent says about the zone's DS: the first usable DS answer (NOERROR or
    NXDOMAIN) among the parent servers asked, and which server gave it."""
    for r in results:
        if r.probe.purpose != "ds" or r.response is None:
            continue
        resp = r.response
        if resp.rcode() == dns.rcode.NXDOMAIN:
            return ParentData(answered=True, nxdomain=True), r.probe.server
        if resp.rcode() != dns.rcode.NOERROR:
            continue
        ds = find_rrset(resp.answer, name, dns.rdatatype.DS)
        sigs = find_rrset(resp.answer, name, dns.rdatatype.RRSIG, dns.rdatatype.DS)
        denial = [
            rrset
            for rrset in resp.authority
            if rrset.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
            or (
                rrset.rdtype == dns.rdatatype.RRSIG
                and rrset.covers in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
            )
        ]
        return ParentData(True, False, ds, sigs, denial), r.probe.server
    return ParentData(answered=False), None


def child_data(name: dns.name.Name, server: Server, results: list[ProbeResult]) -> ChildData:
    """One zone server's apex SOA, DNSKEY and NS as :func:`judge_zone` needs them. The server
    counts as answering only with an authoritative SOA and an authoritative DNSKEY answer (the
    absence of a DNSKEY is only concluded from an authoritative answer)."""
    data = ChildData(server=server[1], answered=False)
    mine = {
        r.probe.qtype: r.response
        for r in results
        if r.probe.server == server and r.probe.purpose == "apex"
    }
    for qtype in ("SOA", "DNSKEY", "NS"):
        r = mine.get(qtype)
        if r is None or r.rcode() != dns.rcode.NOERROR or not r.flags & dns.flags.AA:
            if qtype == "NS":
                continue
            data.answered = False
            return data
        rdtype = dns.rdatatype.from_text(qtype)
        rrset = find_rrset(r.answer, name, rdtype)
        sigs = find_rrset(r.answer, name, dns.rdatatype.RRSIG, rdtype)
        if qtype == "SOA":
            data.answered = rrset is not None
            if not data.answered:
                return data
            data.soa, data.soa_sigs = rrset, sigs
        elif qtype == "DNSKEY":
            data.dnskey, data.dnskey_sigs = rrset, sigs
        else:
            data.ns, data.ns_sigs = rrset, sigs
    return data
