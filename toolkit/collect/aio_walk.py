"""The delegation walk, driven asynchronously: many zones in flight, and inside a zone every
probe that does not wait for another sent at once.

The decisions are those of :mod:`toolkit.collect.walk` and come from the same pure functions
(:func:`~toolkit.collect.plan.plan_zone`, :func:`~toolkit.collect.walk.read_referral`,
:func:`~toolkit.collect.walk.gate_passed`, :func:`~toolkit.collect.walk.judge_cut`,
:func:`~toolkit.collect.walk.not_a_zone`); this module only decides *when* to send:

* a zone's parent probes (DS at every parent server, NS at the first) and the probes of each
  of its servers go out together; per server the gate (the apex SOA) goes first and, if it
  gets an authoritative answer, that server's eight other probes at once, the TCP one among
  them (a zone costs two round trips, not twenty-one); the zone's plan runs while the zones
  above it are judged;
* the zones above (their discovery and their collection) are shared: the first zone to need
  ``test.`` starts its collection, every other zone waits for the same task;
* :attr:`AsyncWalker.evidence` is filled by :meth:`AsyncWalker.publish` in the order a
  sequential walk would have collected the zones (ancestors first), so the frames drawn from
  it are the sequential walk's, row for row.

Every exchange is logged in the context of the work that caused it; :func:`owner` says which
inventory zone a sequential walk would have charged it to (the first, in inventory order,
whose collection needs that work).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from toolkit.collect.aio_transport import URGENT, AioTransport
from toolkit.collect.plan import Server, ZonePlan
from toolkit.collect.transport import Exchange
from toolkit.collect.walk import (
    _MAX_DEPTH,
    ProbeResult,
    WalkState,
    ZoneEvidence,
    _Lookup,
    answer_addresses,
    gate_passed,
    not_a_zone,
    question_messages,
    read_referral,
)


@dataclass(eq=False)
class Owner:
    """Who a piece of work is charged to: an inventory zone (``index``) or every piece of work
    that asked for it (``askers``); :meth:`index_of` resolves to the earliest inventory zone."""

    index: int | None = None
    askers: list[Owner] = field(default_factory=list)

    def index_of(self) -> int | None:
        """The earliest inventory position among the zones this work was done for."""
        best: int | None = None
        seen: set[int] = set()
        stack: list[Owner] = [self]
        while stack:
            o = stack.pop()
            if id(o) in seen:
                continue
            seen.add(id(o))
            if o.index is not None:
                best = o.index if best is None else min(best, o.index)
            stack.extend(o.askers)
        return best


T = TypeVar("T")
"""The result of the work a task does."""

_OWNER: contextvars.ContextVar[Owner | None] = contextvars.ContextVar("owner", default=None)
_FIRST = Owner(index=0)  # work started outside any zone's task is charged to the first zone
_CUT: contextvars.ContextVar[dns.name.Name | None] = contextvars.ContextVar("cut", default=None)


def owner() -> Owner:
    """The owner of the work running now (read by the collector's exchange log)."""
    return _OWNER.get() or _FIRST


def run_for(index: int, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task running ``coro`` on behalf of inventory zone ``index``."""
    ctx = contextvars.copy_context()
    ctx.run(_OWNER.set, Owner(index=index))
    return asyncio.get_running_loop().create_task(coro, context=ctx)


class AsyncWalker(WalkState[AioTransport]):
    """Walks delegations and collects apex evidence for many zones at once; one instance per
    collection (and event loop). The asynchronous twin of :class:`toolkit.collect.walk.Walker`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As :class:`toolkit.collect.walk.WalkState` (``transport``: an :class:`AioTransport`)."""
        super().__init__(*args, **kwargs)
        self._cuts: dict[dns.name.Name, asyncio.Task[str]] = {}  # cut discovery, shared
        self._cut_owner: dict[dns.name.Name, Owner] = {}
        self._waits: dict[dns.name.Name, set[dns.name.Name]] = {}  # cut probe -> cuts awaited
        self._zones: dict[dns.name.Name, asyncio.Task[ZoneEvidence]] = {}  # in flight
        self._zone_owner: dict[dns.name.Name, Owner] = {}
        self.done: dict[dns.name.Name, ZoneEvidence] = {}

    # -- shared work -----------------------------------------------------------------------

    def _share(
        self,
        tasks: dict[dns.name.Name, asyncio.Task[T]],
        owners: dict[dns.name.Name, Owner],
        key: dns.name.Name,
        make: Callable[[], Coroutine[Any, Any, T]],
        cut: dns.name.Name | None = None,
        urgent: bool = False,
    ) -> asyncio.Task[T]:
        """The task doing ``make()`` for ``key``: started now (charged to the current work;
        its questions :data:`~toolkit.collect.aio_transport.URGENT` when ``urgent`` or when
        the current work's are), or already running (then the current work is added to its
        askers)."""
        task = tasks.get(key)
        if task is None:
            own = Owner(askers=[owner()])
            ctx = contextvars.copy_context()
            ctx.run(_OWNER.set, own)
            ctx.run(_CUT.set, cut)
            if urgent:
                ctx.run(URGENT.set, True)
            task = asyncio.get_running_loop().create_task(make(), context=ctx)
            tasks[key] = task
            owners[key] = own
        else:
            owners[key].askers.append(owner())
        return task

    def _reaches(self, start: dns.name.Name, goal: dns.name.Name) -> bool:
        """Whether cut probe ``start`` waits, directly or not, for cut probe ``goal``."""
        seen: set[dns.name.Name] = set()
        stack = [start]
        while stack:
            n = stack.pop()
            if n == goal:
                return True
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self._waits.get(n, ()))
        return False

    # -- asking ----------------------------------------------------------------------------

    async def _ask(
        self,
        qname: dns.name.Name,
        qtype: str,
        server: Server,
        query: dns.message.QueryMessage | None = None,
        tcp_only: bool = False,
    ) -> Exchange:
        """Ask ``server`` one question; over UDP, once more when every try timed out at a
        server that answers other questions in this run: the question or its answers were
        lost (2 % loss loses both tries of one question in a thousand or so, and a zone cut's
        discovery or its DS at the one parent server asked would leave the zone
        indeterminate), and the server is not dead. One more round of tries, within the same
        timeouts; a server that never answered (dead, or down) is not asked again, so dead
        zones cost no more. The sequential driver, the equivalence reference on a lossless
        lab, has no such retry."""
        for _ in range(2):
            ex = await self.transport.send(
                qname,
                qtype,
                server[1],
                clock=self.clock,
                server_name=server[0],
                log=self.log,
                query=query,
                tcp_only=tcp_only,
            )
            lost = ex.error == "timeout" and self.transport.has_answered(ex.server)
            if tcp_only or not lost:
                break
        return ex

    async def _ask_any(self, qname: dns.name.Name, qtype: str, servers: list[Server]) -> _Lookup:
        """Ask servers in turn until one gives an answer (NOERROR or NXDOMAIN)."""
        for server in servers:
            ex = await self._ask(qname, qtype, server)
            r = ex.response
            if r is not None and r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return _Lookup(ex, server)
        return _Lookup(None, None)

    # -- discovering zone cuts -------------------------------------------------------------

    async def enclosing_zone(
        self, name: dns.name.Name, depth: int = 0
    ) -> tuple[dns.name.Name, str]:
        """As :meth:`toolkit.collect.walk.Walker.enclosing_zone`."""
        current = dns.name.root
        if name == dns.name.root:
            return current, "zone"
        labels = name.labels
        for i in range(len(labels) - 2, -1, -1):
            child = dns.name.Name(labels[i:])
            if child not in self._cuts:  # known without asking (the root; a glueless loop)
                if child in self._servers:
                    current = child
                    continue
                if child in self._not_cut:
                    continue
                if child in self._missing:
                    return current, "nxdomain" if self._missing[child].nxdomain else "no-response"
            # asked, or being asked: the answer is shared, and this work is among its askers
            outcome = await self._cut(current, child, depth, urgent=child != name)
            if outcome == "zone":
                current = child
            elif outcome == "not-a-zone":
                self._not_cut.add(child)
            else:
                return current, outcome
        return current, "zone" if current == name else "not-a-zone"

    async def _cut(
        self, parent: dns.name.Name, child: dns.name.Name, depth: int, urgent: bool = False
    ) -> str:
        """Whether ``child`` is a zone cut below ``parent``: shared by every zone that asks,
        except inside a loop of glueless delegations, which is probed again as a sequential
        walk would (until its depth limit) rather than waiting for itself."""
        task = self._cuts.get(child)
        me = _CUT.get()
        if task is not None and not task.done() and me is not None:
            if me == child or self._reaches(child, me):
                token = _CUT.set(child)
                try:
                    return await self._probe_cut(parent, child, depth)
                finally:
                    _CUT.reset(token)
        task = self._share(
            self._cuts,
            self._cut_owner,
            child,
            lambda: self._probe_cut(parent, child, depth),
            cut=child,
            urgent=urgent,
        )
        if task.done():
            return task.result()
        if me is not None:
            self._waits.setdefault(me, set()).add(child)
        try:
            return await asyncio.shield(task)
        finally:
            if me is not None:
                self._waits.get(me, set()).discard(child)

    async def _probe_cut(self, parent: dns.name.Name, child: dns.name.Name, depth: int) -> str:
        lookup = await self._ask_any(child, "NS", self._servers[parent])
        outcome, targets = read_referral(child, lookup.response)
        self.note_missing(child, outcome)
        if outcome != "zone":
            return outcome
        addresses = [
            (target, glue or await self.resolve_addresses(target, depth + 1))
            for target, glue in targets
        ]
        self.enter_cut(parent, child, addresses)
        return "zone"

    async def resolve_addresses(self, name: dns.name.Name, depth: int = 0) -> list[str]:
        """IPv4 and IPv6 addresses of a server name, found by iterating from the root."""
        if depth > _MAX_DEPTH:
            return []
        zone, outcome = await self.enclosing_zone(name, depth)
        if outcome in ("nxdomain", "no-response"):
            return []
        addrs: list[str] = []
        for rdtype in ("A", "AAAA"):
            lookup = await self._ask_any(name, rdtype, self._servers[zone])
            addrs += answer_addresses(name, rdtype, lookup.response)
        return addrs

    # -- collecting and judging ------------------------------------------------------------

    async def collect_zone(self, name: dns.name.Name, urgent: bool = False) -> ZoneEvidence:
        """Evidence and verdict for ``name`` (and, shared, for every zone above it)."""
        ev = self.done.get(name)
        if ev is not None:
            own = self._zone_owner.get(name)
            if own is not None:
                own.askers.append(owner())
            return ev
        task = self._share(
            self._zones, self._zone_owner, name, lambda: self._collect(name), urgent=urgent
        )
        return await asyncio.shield(task)

    async def _collect(self, name: dns.name.Name) -> ZoneEvidence:
        try:
            zone, outcome = await self.enclosing_zone(name)
            if outcome != "zone":
                parent_ev = await self.collect_zone(zone, urgent=True)
                ev = not_a_zone(name, zone, outcome, parent_ev.verdict, self.clock)
            else:
                ev = await self._collect_cut(name)
            self.done[name] = ev
            return ev
        finally:
            self._zones.pop(name, None)  # done, or failed: a later zone asks again

    async def _collect_cut(self, name: dns.name.Name) -> ZoneEvidence:
        started = self.clock.now()
        parent = self._parent.get(name)
        plan = self.plan_for(name)
        if parent is not None:  # the plan runs while the zone above is judged
            parent_ev, results = await asyncio.gather(
                self.collect_zone(parent, urgent=True), self.execute(plan)
            )
            parent_verdict = parent_ev.verdict
        else:
            results, parent_verdict = await self.execute(plan), None
        return self.judge(plan, parent_verdict, results, started)

    async def execute(self, plan: ZonePlan) -> list[ProbeResult]:
        """Send the plan's probes, those that do not wait for another together; a server
        whose gate probe gets no authoritative answer is skipped for the rest of the plan.
        Returns the results in plan order, as the sequential walk does."""
        queries = question_messages(plan, self.transport.config.payload)
        results: list[ProbeResult | None] = [None] * len(plan.probes)
        by_server: dict[tuple[str, Server], list[int]] = {}
        parent: list[int] = []
        for i, probe in enumerate(plan.probes):
            if probe.side == "parent":
                parent.append(i)
            else:
                by_server.setdefault((probe.side, probe.server), []).append(i)

        async def one(i: int) -> bool:
            p = plan.probes[i]
            ex = await self._ask(p.qname, p.qtype, p.server, queries[i], tcp_only=p.tcp)
            results[i] = ProbeResult(p, ex)
            return not p.gate or gate_passed(ex.response, p)

        async def server(indices: list[int]) -> None:
            gates = [i for i in indices if plan.probes[i].gate]
            rest = [i for i in indices if not plan.probes[i].gate]
            for i in gates:
                if not await one(i):
                    for j in rest:
                        results[j] = ProbeResult(plan.probes[j], None)
                    return
            await asyncio.gather(*(one(i) for i in rest))

        await asyncio.gather(*(one(i) for i in parent), *(server(ix) for ix in by_server.values()))
        out = [r for r in results if r is not None]
        assert len(out) == len(plan.probes)
        return out

    # -- publishing ------------------------------------------------------------------------

    def publish(self, name: dns.name.Name) -> None:
        """Enter ``name``'s evidence, and that of the zones above it not entered yet, into
        :attr:`evidence`, top down: the order in which a sequential walk collecting the
        inventory zones one after another would have collected them."""
        chain: list[dns.name.Name] = []
        if name in self.done:
            n: dns.name.Name | None = name
            while n is not None and n not in self.evidence and n in self.done:
                chain.append(n)
                n = self.done[n].parent
        else:  # the zone failed: the cuts above it that were collected for it
            n = name
            while n != dns.name.root:
                n = n.parent()
                if n in self.done and n not in self.evidence and n in self._servers:
                    chain.append(n)
        for n in reversed(chain):
            self.evidence[n] = self.done[n]

    def release(self, name: dns.name.Name) -> None:
        """As :meth:`toolkit.collect.walk.WalkState.release_results` (in :attr:`done` too)."""
        light = self.release_results(name)
        if light is not None:
            self.done[name] = light
