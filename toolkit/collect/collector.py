"""Collection of a whole portfolio into the run frames (zones, records, resolver_checks, queries
and the audit's evidence frames).

This module only orchestrates: the walk asks the authoritative servers (each zone's probe
plan), the validator judges, the resolver checks ask the validating resolvers; here their
results become tidy frames (:mod:`toolkit.collect.evidence` draws the evidence rows).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.rrset
import pandas as pd
from tqdm import tqdm

from toolkit.collect import aio_walk
from toolkit.collect.aio_transport import AioTransport
from toolkit.collect.aio_walk import AsyncWalker, Owner
from toolkit.collect.anchors import load_root_hints, load_trust_anchor
from toolkit.collect.evidence import zone_evidence_rows
from toolkit.collect.evidence import zone_text as zone_text
from toolkit.collect.names import listed_names
from toolkit.collect.resolvers import (
    NameResolverRow,
    ResolverRow,
    ResolverSpec,
    check_names_resolver,
    check_names_resolver_async,
    check_resolver,
    check_resolver_async,
)
from toolkit.collect.sigstatus import key_tag, name_text, rdata_text
from toolkit.collect.transport import Clock, Exchange, QueryRow, TransportConfig
from toolkit.collect.validate import sig_time
from toolkit.collect.walk import Walker, ZoneEvidence
from toolkit.inputs.inventory import normalize_zone
from toolkit.inputs.policy_settings import Politeness
from toolkit.inputs.portfolio import Portfolio
from toolkit.reasons import describe
from toolkit.schemas import (
    EVIDENCE,
    NAME_RESOLVERS,
    QUERIES,
    RECORDS,
    RESOLVER_CHECKS,
    ZONES,
    FrameSchema,
)

COLLECTED: tuple[FrameSchema, ...] = (
    ZONES,
    RECORDS,
    RESOLVER_CHECKS,
    NAME_RESOLVERS,
    QUERIES,
    *EVIDENCE,
)
"""Every frame :func:`collect` returns besides ``inventory``. The evidence frames hold rows of
inventory zones only (never of the ancestors walked through), so shards of a portfolio can be
concatenated."""

Row = dict[str, Any]
"""A row of an inventory, ``zones``, ``records`` or evidence frame: column name to cell. The
frame's schema (:mod:`toolkit.schemas`) says what each cell holds; an inventory row comes from
pandas, whose cells are untyped."""

log = logging.getLogger(__name__)

# Used when the portfolio has no signing policy: the common 72-hour floor (REFERENCE §3).
DEFAULT_MIN_VALIDITY_DAYS = 3.0

DEFAULT_ZONES_IN_FLIGHT = 200
"""Zones collected at once in one process. A zone has at most ~16 probes out at once, so 200
zones keep up to a few thousand queries in flight: enough to hide a 200 ms round trip at the
~1,500 queries/s one process can parse, while the per-server caps keep any one address polite."""


@dataclass(frozen=True)
class CollectConfig:
    """Where the DNS tree starts and whom to ask. ``None`` anchors/hints mean the IANA root."""

    trust_anchor: Path | None = None
    root_hints: Path | None = None
    resolvers: tuple[ResolverSpec, ...] = ()
    transport: TransportConfig = field(default_factory=TransportConfig)
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    seed: int | None = 0  # seeds the denial probes' random names (None: fresh each run)
    zones_in_flight: int = DEFAULT_ZONES_IN_FLIGHT  # zones collected at once per process
    vantage: str | None = None  # where the resolvers are asked from (resolver_checks.vantage)
    # where each per-server cap of ``transport`` came from (CAPS): "command line" or
    # "policy.yaml"; a cap not named here is TransportConfig's default
    cap_sources: Mapping[str, str] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """The configuration as JSON-serialisable run parameters (for the manifest)."""
        t = self.transport
        return {
            "trust_anchor": str(self.trust_anchor) if self.trust_anchor else "IANA root",
            "root_hints": str(self.root_hints) if self.root_hints else "IANA root hints",
            "resolvers": [f"{r.name}={r.address}@{r.port}" for r in self.resolvers],
            "timeout_s": t.timeout,
            "tries": t.tries,
            "seed": self.seed,
            "max_inflight_per_process": t.max_inflight,
            "max_inflight_per_server": t.max_inflight_per_server,
            "max_qps_per_server": t.max_qps_per_server,
            "caps_from": {cap: self.cap_sources.get(cap, "default") for cap in CAPS},
            "down_after_timeouts": t.down_after,
            "zones_in_flight": self.zones_in_flight,
            "vantage": self.vantage,
        }


CAPS: tuple[str, ...] = ("max_inflight_per_server", "max_qps_per_server")
"""The politeness caps per server address that ``policy.yaml``'s ``collector`` section and the
command line set (fields of :class:`TransportConfig` and of
:class:`toolkit.inputs.policy_settings.Politeness`)."""


def with_politeness(config: CollectConfig, politeness: Politeness) -> CollectConfig:
    """``config`` with the caps ``policy.yaml`` gives (its ``collector`` section), except those
    the command line set (named "command line" in ``config.cap_sources``): the command line
    wins, then policy.yaml, then :class:`TransportConfig`'s defaults."""
    given = {
        cap: value
        for cap in CAPS
        if (value := getattr(politeness, cap)) is not None
        and config.cap_sources.get(cap) != "command line"
    }
    if not given:
        return config
    return replace(
        config,
        transport=replace(config.transport, **given),
        cap_sources={**config.cap_sources, **dict.fromkeys(given, "policy.yaml")},
    )


def collect(
    portfolio: Portfolio, config: CollectConfig, *, now: datetime
) -> dict[str, pd.DataFrame]:
    """Probe every inventory zone and return the run frames.

    ``now`` is the time validation is judged against and the start of the run's clock.
    Returns ``{"inventory", "zones", "records", "resolver_checks", "name_resolvers",
    "queries"}`` and the evidence frames ``{"nameservers", "dnskeys", "signatures",
    "ds_matches", "cds", "denial", "names"}`` (schemas in :mod:`toolkit.schemas`). DNS
    failures become rows; raises InputError only for unusable
    trust-anchor or hints files.

    The zones are collected by the asynchronous engine (:mod:`toolkit.collect.aio_walk`,
    :mod:`toolkit.collect.aio_transport`), ``config.zones_in_flight`` at once, in an event
    loop of its own (in a helper thread when this thread runs one already).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(collect_async(portfolio, config, now=now))
    with ThreadPoolExecutor(1, thread_name_prefix="collect") as pool:
        return pool.submit(asyncio.run, collect_async(portfolio, config, now=now)).result()


async def collect_async(
    portfolio: Portfolio, config: CollectConfig, *, now: datetime
) -> dict[str, pd.DataFrame]:
    """:func:`collect` in the running event loop."""
    anchor = load_trust_anchor(config.trust_anchor)
    hints = load_root_hints(config.root_hints)
    clock = Clock(now)
    logged: list[tuple[Owner, QueryRow]] = []

    def record(ex: Exchange) -> None:
        logged.append((aio_walk.owner(), ex.row("")))

    inventory = portfolio.inventory
    floors = _floors(portfolio)
    rows = inventory.to_dict("records")
    zones = [inv["zone"] for inv in rows]
    outcomes: list[Any] = [None] * len(rows)  # ZoneEvidence, or the exception collecting it
    resolver_rows: list[list[ResolverRow]] = [[] for _ in rows]
    name_rows: list[list[NameResolverRow]] = [[] for _ in rows]
    listed = _listed_names(rows)
    zone_rows: list[Row] = []
    finished = asyncio.Event()
    bar = tqdm(
        total=len(rows), desc="collect", unit="zone", file=sys.stderr, disable=_no_bar(config)
    )
    async with AioTransport(config.transport) as transport:
        walker = AsyncWalker(
            hints,
            anchor,
            clock=clock,
            transport=transport,
            log=record,
            min_validity_days=lambda n: floors.get(zone_text(n)),
            seed=config.seed,
            names=listed,
        )
        drawn = _Drawn(walker, zones)
        slots = asyncio.Semaphore(max(1, config.zones_in_flight))
        state = {"next": 0}
        spread = random.Random(config.seed)

        def draw() -> None:
            """Draw, in inventory order, every zone whose turn has come and that is done."""
            while state["next"] < len(rows) and outcomes[state["next"]] is not None:
                i = state["next"]
                out = outcomes[i]
                outcomes[i] = True  # drawn: let the evidence go
                name = dns.name.from_text(zones[i])
                walker.publish(name)
                zone_rows.append(_zone_row_of(rows[i], out, clock))
                drawn.collected(i)
                bar.update(1)
                state["next"] += 1
            if state["next"] == len(rows):
                finished.set()

        async def one(i: int) -> None:
            try:
                # zones admitted together (a wave whose slots came free at once) start spread
                # over one round trip, so that they do not move in step through their round
                # trips, all asking the parent at once and then all waiting for the CPU
                if transport.base_rtt:
                    await asyncio.sleep(spread.random() * transport.base_rtt)
                try:
                    out: Any = await walker.collect_zone(dns.name.from_text(zones[i]))
                except Exception as exc:  # a bug or an answer we cannot parse: a row says so
                    log.exception("collecting %s failed", zones[i])
                    out = exc
                resolver_rows[i] = [
                    await check_resolver_async(zones[i], spec, clock=clock, transport=transport)
                    for spec in config.resolvers
                ]
                names = _names_text(listed, zones[i])
                for spec in config.resolvers if names else ():
                    name_rows[i] += await check_names_resolver_async(
                        zones[i], names, spec, clock=clock, transport=transport
                    )
                outcomes[i] = out
                draw()
            finally:
                slots.release()

        tasks = []
        try:
            for i in range(len(rows)):
                await slots.acquire()
                tasks.append(aio_walk.run_for(i, one(i)))
            if rows:
                await finished.wait()
        finally:
            for t in tasks:
                t.cancel()
            bar.close()
        if transport.rejected:
            log.warning(
                "answers rejected (not from the server asked, or not ours): %s",
                dict(transport.rejected),
            )
    evidence = drawn.evidence()
    memo: dict[int, str] = {}

    def zone_of(o: Owner) -> str:
        z = memo.get(id(o))
        if z is None:
            index = o.index_of()
            z = memo[id(o)] = zones[index] if index is not None and zones else "."
        return z

    query_rows = []
    for o, row in logged:
        row["zone"] = zone_of(o)
        query_rows.append(row)
    return {
        "inventory": inventory,
        "zones": ZONES.frame(zone_rows),
        "records": RECORDS.frame(drawn.records),
        "resolver_checks": RESOLVER_CHECKS.frame(
            [{**r, "vantage": config.vantage} for rs in resolver_rows for r in rs]
        ),
        "name_resolvers": NAME_RESOLVERS.frame(
            [{**r, "vantage": config.vantage} for rs in name_rows for r in rs]
        ),
        "queries": QUERIES.frame(query_rows),
        **{schema.name: schema.frame(evidence[schema.name]) for schema in EVIDENCE},
    }


def collect_sequential(
    portfolio: Portfolio, config: CollectConfig, *, now: datetime
) -> dict[str, pd.DataFrame]:
    """:func:`collect` by the sequential walk (:class:`toolkit.collect.walk.Walker`), one
    query at a time. Kept as the reference the asynchronous engine is proven equal to, frame
    for frame (``tests/test_aio_equivalence.py``): both drivers call the same pure decisions
    (plan, referral, gate, judgement, rows), so what this one adds is only the order of
    sending, and it is what a change to the asynchronous driver is checked against."""
    anchor = load_trust_anchor(config.trust_anchor)
    hints = load_root_hints(config.root_hints)
    clock = Clock(now)
    query_rows: list[QueryRow] = []
    current = {"zone": "."}

    def record(ex: Exchange) -> None:
        query_rows.append(ex.row(current["zone"]))

    inventory = portfolio.inventory
    floors = _floors(portfolio)
    rows = inventory.to_dict("records")
    listed = _listed_names(rows)

    walker = Walker(
        hints,
        anchor,
        clock=clock,
        transport=config.transport,
        log=record,
        min_validity_days=lambda n: floors.get(zone_text(n)),
        seed=config.seed,
        names=listed,
    )
    zone_rows: list[Row] = []
    resolver_rows: list[ResolverRow] = []
    name_rows: list[NameResolverRow] = []
    drawn = _Drawn(walker, [inv["zone"] for inv in rows])
    bar = tqdm(rows, desc="collect", unit="zone", file=sys.stderr, disable=_no_bar(config))
    for i, inv in enumerate(bar):
        zone = inv["zone"]
        current["zone"] = zone
        bar.set_postfix_str(zone, refresh=False)
        zone_rows.append(_zone_row(walker, inv, clock))
        for spec in config.resolvers:
            resolver_rows.append(
                check_resolver(zone, spec, clock=clock, transport=config.transport)
            )
        names = _names_text(listed, zone)
        for spec in config.resolvers if names else ():
            name_rows += check_names_resolver(
                zone, names, spec, clock=clock, transport=config.transport
            )
        drawn.collected(i)
    evidence = drawn.evidence()
    return {
        "inventory": inventory,
        "zones": ZONES.frame(zone_rows),
        "records": RECORDS.frame(drawn.records),
        "resolver_checks": RESOLVER_CHECKS.frame(
            [{**r, "vantage": config.vantage} for r in resolver_rows]
        ),
        "name_resolvers": NAME_RESOLVERS.frame(
            [{**r, "vantage": config.vantage} for r in name_rows]
        ),
        "queries": QUERIES.frame(query_rows),
        **{schema.name: schema.frame(evidence[schema.name]) for schema in EVIDENCE},
    }


def _listed_names(rows: list[Row]) -> dict[dns.name.Name, tuple[dns.name.Name, ...]]:
    """The listed names beyond the apex (the inventory's ``names`` column, absent from older
    inventories) of every inventory zone that has some, by zone name."""
    out: dict[dns.name.Name, tuple[dns.name.Name, ...]] = {}
    for inv in rows:
        cell = inv.get("names")
        if cell is None or pd.isna(cell) or not cell:
            continue
        try:
            zone = dns.name.from_text(inv["zone"])
        except (dns.exception.DNSException, ValueError):
            continue  # collecting the zone fails, as it always did
        out[zone] = listed_names(zone, str(cell))
    return out


def _names_text(listed: Mapping[dns.name.Name, tuple[dns.name.Name, ...]], zone: str) -> list[str]:
    """The listed names of inventory zone ``zone`` as the frames write them."""
    try:
        name = dns.name.from_text(zone)
    except (dns.exception.DNSException, ValueError):
        return []
    return [zone_text(n) for n in listed.get(name, ())]


def _floors(portfolio: Portfolio) -> dict[str, float]:
    """The RRSIG validity floor (days) of every inventory zone: ``min_rrsig_validity_days`` of
    the policy :meth:`Portfolio.policy_for` gives the zone, :data:`DEFAULT_MIN_VALIDITY_DAYS`
    without one. The same answers (and the same KeyError for a zone it cannot place) from one
    pass over the inventory, where ``policy_for`` scans the inventory for every zone."""
    inventory = portfolio.inventory
    zones = list(inventory["zone"])
    first: dict[str, Any] = {}  # inventory zone -> the policy column of its first row
    for zone, policy in zip(zones, inventory["policy"] if zones else [], strict=True):
        first.setdefault(zone, policy)
    floors = {}
    for zone in zones:
        try:
            name, _ = normalize_zone(zone)
        except ValueError:
            raise KeyError(f"{zone!r} is not a valid zone name") from None
        if name not in first:
            raise KeyError(f"zone {name!r} is not in the inventory")
        column = first[name]
        policy = portfolio.policies.get(None if pd.isna(column) else str(column))
        floors[zone] = (
            policy.min_rrsig_validity_days if policy is not None else DEFAULT_MIN_VALIDITY_DAYS
        )
    return floors


class _Drawn:
    """The ``records`` and evidence rows, drawn from the walker's evidence as the collection
    goes rather than at its end, so that each zone's probe results (the DNS messages) are let
    go as soon as nothing needs them any more: memory, and the garbage collector's work, stay
    flat over a long portfolio. The rows and their order are those of drawing everything at
    the end: ``records`` in the order the walker collected the zones (ancestors included),
    the evidence rows in inventory order."""

    def __init__(self, walker: Walker | AsyncWalker, zones: list[str]) -> None:
        self.walker = walker
        self.zones = zones
        self.records: list[Row] = []
        self._rows: list[dict[str, list[Row]] | None] = [None] * len(zones)
        self._recorded = 0  # walker.evidence entries whose records are drawn
        # inventory zones whose evidence rows are still to draw (a name may appear twice)
        self._pending: Counter[dns.name.Name] = Counter()
        for zone in zones:
            try:
                self._pending[dns.name.from_text(zone)] += 1
            except (dns.exception.DNSException, ValueError):
                continue  # collecting it fails, as it always did

    def collected(self, i: int) -> None:
        """Draw what inventory zone ``i``, just collected, makes drawable: the records of every
        zone the walker collected since the last call, and zone ``i``'s evidence rows; then
        release the results nothing will draw from any more."""
        evidence = self.walker.evidence
        fresh = list(islice(reversed(evidence.values()), len(evidence) - self._recorded))[::-1]
        self._recorded = len(evidence)
        self.records += _record_rows(fresh)
        name = dns.name.from_text(self.zones[i])
        ev = evidence.get(name)
        if ev is not None:
            self._rows[i] = _evidence_rows(self.zones[i], ev, evidence)
            self._pending[name] -= 1
        for done in dict.fromkeys([*(e.name for e in fresh), name]):
            if self._pending[done] <= 0:
                self.walker.release(done)

    def evidence(self) -> dict[str, list[Row]]:
        """The evidence rows of every inventory zone that was collected, in inventory order.
        A zone collected only after its turn (as the ancestor of a later zone) is drawn now."""
        out: dict[str, list[Row]] = {schema.name: [] for schema in EVIDENCE}
        evidence = self.walker.evidence
        for zone, rows in zip(self.zones, self._rows, strict=True):
            if rows is None:
                ev = evidence.get(dns.name.from_text(zone))
                if ev is None:
                    continue
                rows = _evidence_rows(zone, ev, evidence)
            for name, part in rows.items():
                out[name] += part
        return out


def _evidence_rows(
    zone: str, ev: ZoneEvidence, evidence: dict[dns.name.Name, ZoneEvidence]
) -> dict[str, list[Row]]:
    """The evidence rows of inventory zone ``zone``. A zone whose rows cannot be drawn (a bug)
    gets none, which the checks read as "not evidenced", never as a pass."""
    try:
        return zone_evidence_rows(ev, evidence.get(ev.parent) if ev.parent else None)
    except Exception:  # a bug must not lose the run; the zone stays unevidenced
        log.exception("drawing the evidence of %s failed", zone)
        return {}


def _no_bar(config: CollectConfig) -> bool | None:
    if config.progress is None:
        return None  # tqdm decides: no bar unless stderr is a terminal
    return not config.progress


def _zone_row(walker: Walker, inv: Row, clock: Clock) -> Row:
    name = dns.name.from_text(inv["zone"])
    try:
        ev: ZoneEvidence | Exception = walker.collect_zone(name)
    except Exception as exc:  # a bug or an answer we cannot parse must not lose the run
        log.exception("collecting %s failed", inv["zone"])
        ev = exc
    return _zone_row_of(inv, ev, clock)


def _zone_row_of(inv: Row, ev: ZoneEvidence | Exception, clock: Clock) -> Row:
    """The ``zones`` row of inventory row ``inv`` from its evidence (or the exception that
    collecting it raised)."""
    base = {k: inv.get(k) for k in ("zone", "zone_unicode", "owner", "business_unit")}
    base |= {"risk_tier": inv.get("risk_tier"), "expected_signed": inv.get("expected_signed")}
    if isinstance(ev, Exception):
        exc = ev
        return base | {
            "status": "indeterminate",
            "reasons": "COLLECTION_FAILED",
            "reason_text": f"{describe('COLLECTION_FAILED')} ({type(exc).__name__}: {exc})",
            "checked_at": clock.now(),
        }
    v = ev.verdict
    checked_at = ev.queried_at
    days_left = None
    if v.earliest_expiration is not None:
        days_left = round((v.earliest_expiration - checked_at).total_seconds() / 86400, 2)
    return base | {
        "status": v.status,
        "reasons": ";".join(v.reasons),
        "reason_text": describe(v.reasons),
        "parent": zone_text(ev.parent) if ev.parent is not None else None,
        "has_ds": v.has_ds,
        "signed": v.signed,
        "algorithms": ";".join(str(a) for a in v.algorithms),
        "ns_servers": v.servers,
        "ns_answered": v.answered,
        "min_rrsig_days_left": days_left,
        "earliest_expiration": v.earliest_expiration,
        "checked_at": checked_at,
    }


def _record_rows(evidence: Iterable[ZoneEvidence]) -> list[Row]:
    rows: list[Row] = []
    for ev in evidence:
        zone = zone_text(ev.name)
        pd_ = ev.parent_data
        if pd_ is not None and ev.parent_server is not None:
            server = ev.parent_server
            for rrset in [pd_.ds, pd_.ds_sigs, *pd_.denial]:
                rows += _rows(zone, rrset, server[1], server[0], "parent", ev.queried_at)
        for child in ev.children:
            names = dict((a, n) for n, a in ev.servers)
            at = ev.child_times.get(child.server, ev.queried_at)
            for rrset in (
                child.dnskey,
                child.dnskey_sigs,
                child.soa,
                child.soa_sigs,
                child.ns,
                child.ns_sigs,
            ):
                rows += _rows(zone, rrset, child.server, names.get(child.server), "child", at)
        rows += _probe_record_rows(ev)
    return rows


_DENIAL_TYPES = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)


def _probe_record_rows(ev: ZoneEvidence) -> list[Row]:
    """Records of the audit probes beyond SOA/DNSKEY/NS: the apex CDS, CDNSKEY and NSEC3PARAM
    (authoritative answers) and the NSEC/NSEC3 records of the denial answers, with RRSIGs."""
    rows: list[Row] = []
    zone = zone_text(ev.name)
    for r in ev.results:
        ex = r.exchange
        resp = r.response
        if r.probe.side != "child" or ex is None or resp is None:
            continue
        if r.probe.purpose == "apex" and r.probe.qtype in ("CDS", "CDNSKEY", "NSEC3PARAM"):
            if not resp.flags & dns.flags.AA:
                continue
            rrsets = [rr for rr in resp.answer if rr.name == ev.name]
        elif r.probe.purpose in ("nxdomain", "nodata"):
            rrsets = [
                rr
                for rr in resp.authority
                if rr.rdtype in _DENIAL_TYPES
                or (rr.rdtype == dns.rdatatype.RRSIG and rr.covers in _DENIAL_TYPES)
            ]
        else:
            continue
        for rr in rrsets:
            rows += _rows(zone, rr, ex.server, ex.server_name, "child", ex.queried_at)
    return rows


def _rows(
    zone: str,
    rrset: dns.rrset.RRset | None,
    server: str,
    server_name: str | None,
    source: str,
    at: datetime,
) -> list[Row]:
    if rrset is None:
        return []
    out = []
    rrtype = dns.rdatatype.to_text(rrset.rdtype)
    owner = name_text(rrset.name)
    for rd in rrset:
        row: Row = {
            "zone": zone,
            "owner_name": owner,
            "rrtype": rrtype,
            "ttl": rrset.ttl,
            "server": server,
            "server_name": server_name,
            "source": source,
            "rdata": rdata_text(rd),
            "queried_at": at,
        }
        if rrset.rdtype in (dns.rdatatype.DNSKEY, dns.rdatatype.CDNSKEY):
            row |= {
                "key_tag": key_tag(rd),
                "algorithm": int(rd.algorithm),
                "flags": rd.flags,
            }
        elif rrset.rdtype in (dns.rdatatype.DS, dns.rdatatype.CDS):
            row |= {
                "key_tag": rd.key_tag,
                "algorithm": int(rd.algorithm),
                "digest_type": rd.digest_type,
            }
        elif rrset.rdtype == dns.rdatatype.RRSIG:
            row |= {
                "key_tag": rd.key_tag,
                "algorithm": int(rd.algorithm),
                "covered_type": dns.rdatatype.to_text(rd.type_covered),
                "signer": name_text(rd.signer),
                "inception": sig_time(rd.inception),
                "expiration": sig_time(rd.expiration),
            }
        out.append(row)
    return out
