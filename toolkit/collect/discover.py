"""Zone discovery: the delegations below the inventory's zones, and which of them the inventory
lacks (the governance lifecycle's step 1, "catalog all zones, including subdomains and
delegated zones").

Three sources, each an observation with where and when it was seen:

- ``zonefile``: the organisation's own master files (a folder; ``<zone>``, ``<zone>.zone`` or
  ``db.<zone>``), read with dnspython's zone reader. Data only: ``$INCLUDE`` and ``$GENERATE``
  are refused (an ``$INCLUDE`` would read any file the auditor's account can read), a bad file
  is one error naming the file and its line.
- ``axfr``: a zone transfer from each of the zone's servers (``dns.query.inbound_xfr``); a
  refused transfer is an outcome, not an error.
- ``nsec-walk``: following the NSEC chain from the apex, one ``NSEC`` query per name, bounded
  by a number of queries per zone and a queries-per-second cap. An NSEC3 zone is recorded as
  ``not_walkable`` (its hashes are not cracked); an unsigned one too. The walk is skipped when
  a transfer already showed the whole zone.

A delegation is an NS RRset at a name below the apex (not at the apex, and not below another
delegation, where records are glue). :func:`discover` returns two frames: ``delegations`` (one
row per delegation and source) and ``discovery`` (one row per zone and source tried: what it
could show), so that "nothing found" is told apart from "could not look".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.xfr
import dns.zone
import pandas as pd

from toolkit.collect.transport import TransportConfig
from toolkit.errors import InputError
from toolkit.inputs.portfolio import load_portfolio
from toolkit.schemas import DELEGATIONS, DISCOVERY
from toolkit.store.runs import Store

SOURCES = ("zonefile", "axfr", "nsec-walk")
DEFAULT_MAX_WALK_QUERIES = 500
"""NSEC queries per zone at most: a walk that needs more stops as ``partial``."""
DEFAULT_WALK_QPS = 20.0
"""Queries per second of a walk to one server (the walk is sequential: one in flight)."""
_DIRECTIVES = frozenset({"$ORIGIN", "$TTL"})
"""The only master-file directives read: no $INCLUDE (other files), no $GENERATE."""

Ask = Callable[[dns.name.Name, str], dns.message.Message | None]
"""Send one ``NSEC`` question for a name to the walked server; None when nothing usable came."""


@dataclass(frozen=True)
class DiscoverConfig:
    """Which sources to use and how politely: ``zone_files`` (a folder, or None), ``axfr``,
    ``walk``, the walk's ``max_walk_queries`` per zone and ``max_qps`` per server (0: no cap),
    and the ``timeout`` (seconds) of a query or transfer."""

    zone_files: Path | None = None
    axfr: bool = True
    walk: bool = True
    max_walk_queries: int = DEFAULT_MAX_WALK_QUERIES
    max_qps: float = DEFAULT_WALK_QPS
    timeout: float = 2.0
    port: int = 53

    def parameters(self) -> dict[str, Any]:
        """How discovery was run, for the run's manifest."""
        return {
            "zone_files": str(self.zone_files) if self.zone_files else None,
            "axfr": self.axfr,
            "walk": self.walk,
            "max_walk_queries": self.max_walk_queries,
            "walk_max_qps": self.max_qps,
        }


@dataclass(frozen=True)
class Delegation:
    """A delegation seen in a zone: the child's name, its NS targets, whether a DS is there."""

    child: str
    ns_targets: tuple[str, ...]
    has_ds: bool | None


@dataclass(frozen=True)
class Seen:
    """What one source showed of one zone."""

    outcome: str
    delegations: tuple[Delegation, ...] = ()
    queries: int = 0
    detail: str = ""


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower() if name != dns.name.root else "."


# -- delegations in a whole zone (zone file, transfer) ---------------------------------------


def delegations_in_zone(zone: dns.zone.Zone) -> list[Delegation]:
    """The delegations of ``zone``: names below the apex holding NS records, except those below
    another delegation (glue-side data), sorted by name."""
    origin = zone.origin
    assert origin is not None
    cuts = sorted(
        (
            name if name.is_absolute() else name.derelativize(origin)
            for name, node in zone.nodes.items()
            if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None
        ),
        key=lambda n: len(n.labels),
    )
    top: list[dns.name.Name] = []
    for cut in cuts:
        if cut == origin or any(cut.is_subdomain(t) for t in top):
            continue
        top.append(cut)
    out = []
    for cut in top:
        node = zone.get_node(cut)
        assert node is not None  # a cut is a node of the zone (found above)
        ns = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
        ds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DS)
        assert ns is not None  # ... that holds NS
        targets = tuple(sorted(_text(r.target.derelativize(origin)) for r in ns))
        out.append(Delegation(_text(cut), targets, ds is not None))
    return sorted(out, key=lambda d: dns.name.from_text(d.child))


def find_zone_file(folder: Path, zone: str) -> Path | None:
    """The organisation's master file for ``zone`` in ``folder``: ``<zone>``, ``<zone>.zone``
    or ``db.<zone>`` (the first that exists), or None."""
    for name in (zone, f"{zone}.zone", f"db.{zone}"):
        path = folder / name
        if path.is_file():
            return path
    return None


def _parse(text: str, path: Path, origin: dns.name.Name, check_origin: bool) -> dns.zone.Zone:
    return dns.zone.from_text(
        text,
        origin=origin,
        relativize=False,
        filename=str(path),
        allow_include=False,
        allow_directives=_DIRECTIVES,
        check_origin=check_origin,
    )


def read_zone_file(path: Path, zone: str) -> dns.zone.Zone:
    """Read ``path`` as the master file of ``zone`` (data only: ``$INCLUDE`` and ``$GENERATE``
    are refused). Raises InputError naming the file and line on any problem: a syntax error,
    a refused directive, no SOA or NS at the apex, an unreadable or non-UTF-8 file."""
    origin = dns.name.from_text(zone)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the zone file of {zone} ({exc})") from exc
    try:
        return _parse(text, path, origin, True)
    except dns.zone.NoSOA:
        raise InputError(
            path, f"no SOA record at the apex {zone}: not the zone file of {zone}"
        ) from None
    except dns.zone.NoNS:
        raise InputError(
            path, f"no NS records at the apex {zone}: not the zone file of {zone}"
        ) from None
    except dns.exception.DNSException as exc:
        line, message = _where(str(exc), path)
        if line is not None:
            line = _exact_line(text, path, origin, line, message)
        raise InputError(
            path, f"{message} (expected master-file syntax, RFC 1035 §5)", line=line
        ) from None


def _where(error: str, path: Path) -> tuple[int | None, str]:
    """(line, message) of a dnspython zone-file error ``"<file>:<line>: <message>"``."""
    prefix = f"{path}:"
    if error.startswith(prefix):
        number, _, message = error[len(prefix) :].partition(": ")
        if number.isdigit():
            return int(number), message
    return None, error


def _exact_line(text: str, path: Path, origin: dns.name.Name, line: int, message: str) -> int:
    """dnspython names the line after the bad one when the error came once the line's end was
    read: if the lines before ``line`` alone give the same error, the bad line is the one
    before."""
    if line <= 1:
        return line
    head = "".join(text.splitlines(keepends=True)[: line - 1])
    try:
        _parse(head, path, origin, False)
    except dns.exception.DNSException as exc:
        if _where(str(exc), path)[1] == message:
            return line - 1
    return line


def check_zone_files(config: DiscoverConfig, zones: Iterable[str]) -> None:
    """Read every zone file ``config`` would read for ``zones`` (raises InputError for the
    first bad one): run before a collection, so that a bad file stops it at once."""
    if config.zone_files is None:
        return
    if not config.zone_files.is_dir():
        raise InputError(config.zone_files, "not a folder (expected the zone files' folder)")
    for zone in zones:
        path = find_zone_file(config.zone_files, zone)
        if path is not None:
            read_zone_file(path, zone)


def polite_discovery(config: DiscoverConfig, transport: Any) -> DiscoverConfig:
    """``config`` within a collection's politeness: the walk's queries per second no more than
    the transport's per-server cap (when it has one), the transport's timeout."""
    qps = config.max_qps
    cap = float(transport.max_qps_per_server or 0)
    if cap > 0:
        qps = min(qps, cap) if qps > 0 else cap
    return replace(config, max_qps=qps, timeout=transport.timeout)


# -- zone transfer -----------------------------------------------------------------------------


def transfer(zone: str, server: str, *, timeout: float, port: int = 53) -> tuple[Seen, Any]:
    """Ask ``server`` for an AXFR of ``zone``: (what it showed, the zone or None). A refusal,
    a timeout or a broken transfer is an outcome (``refused`` or ``failed``), never raised."""
    origin = dns.name.from_text(zone)
    received = dns.zone.Zone(origin, relativize=False)
    try:
        dns.query.inbound_xfr(server, received, port=port, timeout=timeout, lifetime=timeout * 10)
    except dns.xfr.TransferError as exc:
        rcode = dns.rcode.to_text(exc.rcode)
        return Seen("refused", (), 1, f"AXFR refused ({rcode})"), None
    except (dns.exception.DNSException, OSError, EOFError, ValueError) as exc:
        why = "timeout" if isinstance(exc, dns.exception.Timeout) else type(exc).__name__
        detail = f"AXFR failed: {why}" + (f" ({exc})" if str(exc) else "")
        return Seen("failed", (), 1, detail), None
    found = tuple(delegations_in_zone(received))
    names = sum(1 for _ in received.nodes)
    return Seen("complete", found, 1, f"AXFR allowed: {names} names transferred"), received


class Pacer:
    """Keeps the questions to each server address at least ``interval`` seconds apart (0: no
    pacing), across zones and sources: discovery sends one question at a time, so this is its
    queries-per-second cap per server."""

    def __init__(
        self,
        interval: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._last: dict[str, float] = {}

    def wait(self, server: str) -> None:
        """Return when a question may go to ``server``, and count it as sent now."""
        last = self._last.get(server)
        if last is not None and self.interval > 0:
            wait = last + self.interval - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last[server] = self._monotonic()


# -- NSEC walk -----------------------------------------------------------------------------------


def _denial_kind(msg: dns.message.Message) -> str | None:
    for rrset in msg.authority + msg.answer:
        if rrset.rdtype == dns.rdatatype.NSEC3:
            return "NSEC3"
    return None


def _nsec_of(msg: dns.message.Message, name: dns.name.Name) -> Any:
    for section in (msg.answer, msg.authority):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.NSEC and rrset.name == name:
                return rrset[0]
    return None


def _referral(msg: dns.message.Message, name: dns.name.Name) -> tuple[tuple[str, ...], bool]:
    """NS targets and DS presence of a referral to ``name`` (empty targets: not a referral)."""
    targets: list[str] = []
    has_ds = False
    for rrset in msg.authority:
        if rrset.name != name:
            continue
        if rrset.rdtype == dns.rdatatype.NS:
            targets += [_text(r.target) for r in rrset]
        elif rrset.rdtype == dns.rdatatype.DS:
            has_ds = True
    return tuple(sorted(targets)), has_ds


def _just_after(name: dns.name.Name) -> dns.name.Name | None:
    """The first name after ``name``'s whole subtree in canonical order (RFC 4034 §6.1): its
    first label with a zero octet appended; None when that label is already 63 octets."""
    first = name.labels[0]
    if len(first) >= 63:
        return None
    return dns.name.Name((first + b"\x00", *name.labels[1:]))


def walk_nsec(
    zone: str,
    ask: Ask,
    *,
    max_queries: int = DEFAULT_MAX_WALK_QUERIES,
    min_interval: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    pacer: Pacer | None = None,
    server: str = "",
) -> Seen:
    """Follow ``zone``'s NSEC chain from the apex by asking ``ask(name, "NSEC")`` for each
    name, at most ``max_queries`` questions, at least ``min_interval`` seconds apart. A name
    whose NSEC type bitmap has NS but not SOA, or whose answer is a referral, is a delegation.

    Outcomes: ``complete`` (the chain led back to the apex), ``partial`` (stopped by the bound
    or by a name whose NSEC did not come), ``not_walkable`` (the zone answers with NSEC3, or
    unsigned), ``failed`` (no usable answer at the apex). A signed delegation's referral holds
    no NSEC: the walk then asks for the first name after the delegation's subtree, whose
    denial carries the delegation's NSEC (one more question). ``pacer`` (keyed by ``server``)
    replaces ``min_interval`` when the walk shares its pace with other questions."""
    apex = dns.name.from_text(zone)
    name = apex
    seen: set[dns.name.Name] = set()
    found: dict[str, Delegation] = {}
    queries = 0
    pacer = pacer or Pacer(min_interval, sleep=sleep, monotonic=monotonic)

    def result(outcome: str, detail: str) -> Seen:
        return Seen(outcome, tuple(found[k] for k in sorted(found)), queries, detail)

    def send(qname: dns.name.Name) -> dns.message.Message | None:
        nonlocal queries
        pacer.wait(server)
        queries += 1
        return ask(qname, "NSEC")

    while True:
        if queries >= max_queries:
            return result(
                "partial",
                f"walk stopped at the bound of {max_queries} queries, next name {_text(name)}",
            )
        msg = send(name)
        seen.add(name)
        if msg is None or msg.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            what = "no answer" if msg is None else dns.rcode.to_text(msg.rcode())
            outcome = "failed" if name == apex else "partial"
            return result(outcome, f"walk stopped: {what} for {_text(name)} NSEC")
        nsec = _nsec_of(msg, name)
        targets, has_ds = _referral(msg, name) if name != apex else ((), False)
        if nsec is None:
            if name == apex:
                if _denial_kind(msg) == "NSEC3":
                    return result("not_walkable", "not walkable (NSEC3): hashes are not cracked")
                signed = any(r.rdtype == dns.rdatatype.RRSIG for r in msg.authority + msg.answer)
                why = "no NSEC at the apex" if signed else "unsigned: no NSEC chain"
                return result("not_walkable", f"not walkable ({why})")
            beyond = _just_after(name) if targets else None
            if beyond is not None and queries < max_queries:
                # a signed delegation's referral carries its DS, not its NSEC: the NSEC owned
                # by the cut is the one that covers the first name after its subtree
                covering = send(beyond)
                nsec = None if covering is None else _nsec_of(covering, name)
            if nsec is None:
                if targets:
                    found[_text(name)] = Delegation(_text(name), targets, has_ds)
                return result("partial", f"walk stopped: no NSEC came for {_text(name)}")
        types = set()
        for window, bitmap in nsec.windows:
            for i, byte in enumerate(bitmap):
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        types.add(window * 256 + i * 8 + bit)
        if name != apex and (targets or dns.rdatatype.NS in types):
            if dns.rdatatype.SOA not in types:
                ds = has_ds or dns.rdatatype.DS in types
                found[_text(name)] = Delegation(_text(name), targets, ds)
        following = nsec.next
        if following == apex:
            return result("complete", f"NSEC chain walked back to the apex in {queries} queries")
        if not following.is_subdomain(apex):
            why = f"the NSEC of {_text(name)} names {_text(following)}, outside the zone"
            return result("partial", f"walk stopped: {why}")
        if following in seen:
            return result("partial", f"walk stopped: the chain loops at {_text(following)}")
        name = following


def _asker(server: str, *, timeout: float, port: int) -> Ask:
    def ask(name: dns.name.Name, qtype: str) -> dns.message.Message | None:
        q = dns.message.make_query(name, qtype, want_dnssec=True, payload=1232)
        q.flags &= ~dns.flags.RD
        try:
            msg = dns.query.udp(q, server, timeout=timeout, port=port)
            if msg.flags & dns.flags.TC:
                msg = dns.query.tcp(q, server, timeout=timeout, port=port)
        except (dns.exception.DNSException, OSError, EOFError):
            return None
        return msg

    return ask


# -- the whole discovery -------------------------------------------------------------------


Server = tuple[str, str | None]
"""(address, name) of one of a zone's servers."""


def servers_from_nameservers(nameservers: pd.DataFrame | None) -> dict[str, list[Server]]:
    """The child-side servers that answered for each zone, from a run's ``nameservers`` frame
    (in frame order, each address once)."""
    out: dict[str, list[Server]] = {}
    if nameservers is None or nameservers.empty:
        return out
    rows = nameservers[(nameservers["side"] == "child") & nameservers["answered"].fillna(False)]
    for r in rows.itertuples(index=False):
        servers = out.setdefault(str(r.zone), [])
        if all(addr != r.server for addr, _ in servers):
            name = None if pd.isna(r.server_name) else str(r.server_name)
            servers.append((str(r.server), name))
    return out


def discover(
    zones: Sequence[str],
    servers: Mapping[str, Sequence[Server]],
    config: DiscoverConfig,
    *,
    now: datetime,
    inventory: Iterable[str] | None = None,
    ask_for: Callable[[str], Ask] | None = None,
    pacer: Pacer | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Discover the delegations below each zone of ``zones`` (inventory zones, A-labels) and
    return the ``delegations`` and ``discovery`` frames (see :mod:`toolkit.schemas`).

    ``servers`` gives each zone's server addresses (AXFR from each; the walk from the first
    that answers). ``inventory`` (default: ``zones``) decides ``in_inventory``. ``now`` is the
    ``seen_at`` of every row. ``ask_for(server)`` makes the walk's sender (default: UDP, then
    TCP when truncated). Every question and transfer to one server address is paced by
    ``pacer`` (default: ``config.max_qps`` per server). Raises InputError for a bad zone
    file; DNS failures are outcomes."""
    known = {z.lower().rstrip(".") for z in (inventory if inventory is not None else zones)}
    ask_for = ask_for or (lambda s: _asker(s, timeout=config.timeout, port=config.port))
    pacer = pacer or Pacer(1.0 / config.max_qps if config.max_qps > 0 else 0.0)
    found: list[dict[str, Any]] = []
    tried: list[dict[str, Any]] = []

    def note(zone: str, source: str, seen: Seen, server: str | None, file: Path | None) -> None:
        where = {"server": server, "file": str(file) if file else None}
        tried.append(
            {
                "zone": zone,
                "source": source,
                **where,
                "outcome": seen.outcome,
                "delegations": len(seen.delegations),
                "queries": seen.queries,
                "detail": seen.detail,
                "seen_at": now,
            }
        )
        for d in seen.delegations:
            found.append(
                {
                    "parent": zone,
                    "child": d.child,
                    "source": source,
                    **where,
                    "ns_targets": ";".join(d.ns_targets) or None,
                    "has_ds": d.has_ds,
                    "in_inventory": d.child in known,
                    "seen_at": now,
                }
            )

    if config.zone_files is not None and not config.zone_files.is_dir():
        raise InputError(config.zone_files, "not a folder (expected the zone files' folder)")
    for zone in zones:
        if config.zone_files is not None:
            path = find_zone_file(config.zone_files, zone)
            if path is None:
                where = f"{zone}, {zone}.zone or db.{zone}"
                note(zone, "zonefile", Seen("no_file", (), 0, f"no file {where}"), None, None)
            else:
                parsed = read_zone_file(path, zone)
                names = sum(1 for _ in parsed.nodes)
                seen = Seen("complete", tuple(delegations_in_zone(parsed)), 0, f"{names} names")
                note(zone, "zonefile", seen, None, path)
        zone_servers = list(servers.get(zone, ()))
        whole = False
        if config.axfr:
            for addr, _ in zone_servers:
                pacer.wait(addr)
                seen, _ = transfer(zone, addr, timeout=config.timeout, port=config.port)
                whole = whole or seen.outcome == "complete"
                note(zone, "axfr", seen, addr, None)
        if config.walk and zone_servers:
            addr = zone_servers[0][0]
            if whole:
                seen = Seen("skipped", (), 0, "a zone transfer already showed the whole zone")
            else:
                seen = walk_nsec(
                    zone,
                    ask_for(addr),
                    max_queries=config.max_walk_queries,
                    pacer=pacer,
                    server=addr,
                )
            note(zone, "nsec-walk", seen, addr, None)
        if (config.axfr or config.walk) and not zone_servers:
            none = Seen("failed", (), 0, "no server of the zone answered in the run")
            note(zone, "axfr" if config.axfr else "nsec-walk", none, None, None)
    return DELEGATIONS.frame(found), DISCOVERY.frame(tried)


def uninventoried(delegations: pd.DataFrame) -> pd.DataFrame:
    """One row per delegated zone missing from the inventory: parent, child and where it was
    seen (``source@server`` or ``zonefile``, `;`-joined), sorted."""
    rows = delegations[~delegations["in_inventory"].fillna(False).astype(bool)]
    out = []
    for (parent, child), group in rows.groupby(["parent", "child"], sort=True):
        where = sorted({_seen_where(r) for r in group.itertuples(index=False)})
        out.append({"parent": parent, "child": child, "seen_by": "; ".join(where)})
    return pd.DataFrame(out, columns=["parent", "child", "seen_by"])


def _seen_where(r: Any) -> str:
    if r.source == "zonefile":
        return f"zonefile {Path(str(r.file)).name}"
    return f"{r.source} {r.server}"


def summary(delegations: pd.DataFrame, discovery: pd.DataFrame) -> str:
    """One line: how many delegations below how many zones, and which the inventory lacks."""
    missing = uninventoried(delegations)
    zones = discovery["zone"].nunique()
    children = delegations["child"].nunique()
    line = f"{children} delegated zone(s) found below {zones} inventory zone(s)"
    if missing.empty:
        return line + "; every one is in the inventory"
    names = ", ".join(missing["child"])
    return line + f"; {len(missing)} not in the inventory: {names}"


def discover_portfolio(
    portfolio_dir: Path,
    workspace: Path | str,
    run: str,
    config: DiscoverConfig,
    *,
    now: datetime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Discovery for a portfolio on its own (``dnssec-audit discover``): the inventory's zones,
    the servers that answered for each in the stored ``run`` of ``workspace`` (a run is needed
    only for AXFR and the walk), the walk within the portfolio's politeness caps."""
    portfolio = load_portfolio(portfolio_dir)
    zones = list(portfolio.inventory["zone"])
    check_zone_files(config, zones)
    servers: dict[str, list[Server]] = {}
    if config.axfr or config.walk:
        loaded = Store(workspace).load(run, frames=["nameservers"])
        servers = servers_from_nameservers(loaded.frames.get("nameservers"))
    caps = portfolio.policies.settings.collector
    cap = caps.max_qps_per_server
    transport = TransportConfig(timeout=config.timeout, max_qps_per_server=cap or 0)
    return discover(zones, servers, polite_discovery(config, transport), now=now)
