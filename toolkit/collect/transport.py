"""The thin sender: one DNS question to one server, every outcome an observation.

Nothing here decides anything about DNSSEC. A timeout, a refusal or a malformed answer comes
back as an :class:`Exchange` with ``error`` set, never as an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, TypeVar

import dns.edns
import dns.entropy
import dns.enum
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.set


def _set_add(self: dns.set.Set, item: object) -> None:
    """Add an item to the set (``dns.set.Set.add``, hashing the item once)."""
    self.items.setdefault(item, None)


def hash_added_rdata_once() -> bool:
    """Make ``dns.set.Set.add`` hash its item once instead of twice; True when installed.

    dnspython's ``Set.add`` is ``if item not in self.items: self.items[item] = None``: two
    lookups, so two hashes, and an rdata's hash renders it to canonical wire form
    (``Rdata.__hash__`` is ``hash(self.to_digestable())``). Every record parsed goes through
    it (``Rdataset.add``), and the second render costs about a tenth of a collector process's
    CPU at 0 ms (profile, 1,000 zones: 133,000 ``__hash__`` calls for 21,000 queries).
    ``dict.setdefault(item, None)`` does the same (an item already present is left alone,
    insertion order kept) with one lookup.

    This replaces a library's function for a whole process, so the toolkit never does it on
    import: only the collector's own worker processes install it
    (:func:`toolkit.collect.parallel._worker_init`), processes that run nothing but the
    collection. A notebook, a Dask worker or any program that imports the toolkit keeps
    dnspython as it is. Installed only over dnspython's own ``Set.add`` with its ``items``
    dict (a dnspython that changes it keeps its own); idempotent."""
    add = dns.set.Set.add
    if add is _set_add:
        return True
    if (
        getattr(add, "__module__", None) != "dns.set"
        or add.__qualname__ != "Set.add"
        or not isinstance(dns.set.Set().items, dict)  # type: ignore[no-untyped-call]
    ):
        return False
    dns.set.Set.add = _set_add  # type: ignore[method-assign]
    return True


_DNSPYTHON_MAKE = dns.enum.IntEnum.__dict__["make"].__func__
"""dnspython's own ``IntEnum.make`` (the function under the classmethod)."""
_MADE: dict[type, dict[int, object]] = {}


def _make_once(cls: type[dns.enum.IntEnum], value: int | str) -> object:
    """``dns.enum.IntEnum.make``, remembered per class for values of type ``int``."""
    if type(value) is cls:
        return value  # what dnspython's make returns for a member of the class itself
    if type(value) is not int:
        return _DNSPYTHON_MAKE(cls, value)
    table = _MADE.get(cls)
    if table is None:
        table = _MADE.setdefault(cls, {})
    made = table.get(value)
    if made is None:
        made = _DNSPYTHON_MAKE(cls, value)  # raises as dnspython does; then nothing is kept
        table[value] = made
    return made


def convert_enum_values_once() -> bool:
    """Make dnspython's ``IntEnum.make`` remember what it made for each integer; True when
    installed.

    Parsing an answer converts every record's type and class, and every message's rcode, from
    integers to dnspython's enums through ``IntEnum.make``: a range check, then the enum's
    metaclass call and member lookup (and, for a number without a member, such as a private
    type, a new pseudo-member every time) — some 26 calls per query, about 4 % of a collector
    process's CPU at 0 ms. The outcome depends only on the class and the value, so it is kept
    per class, by value: a value seen before gives the same member (an unknown number the
    same pseudo-member: equal, same name). Values of type ``int`` only: a member of the class
    itself is returned as it is (dnspython's ``make`` returns it too), and anything else —
    text, ``bool`` (``make(False)`` of an unknown number is named "False", not "0"), members
    of other enums — goes to dnspython's ``make`` every time; a value it refuses (out of
    range) is refused again every time, never kept. At most one entry per value of each
    class's range (16 bits at most).

    Like :func:`hash_added_rdata_once`, this replaces a library's function for a whole
    process: only the collector's own worker processes install it
    (:func:`toolkit.collect.parallel._worker_init`). Installed only over dnspython's own
    ``IntEnum.make``; idempotent."""
    current = dns.enum.IntEnum.__dict__.get("make")
    func = getattr(current, "__func__", None)
    if func is _make_once:
        return True
    if func is not _DNSPYTHON_MAKE or getattr(func, "__qualname__", None) != "IntEnum.make":
        return False
    dns.enum.IntEnum.make = classmethod(_make_once)  # type: ignore[assignment,method-assign]
    return True


class Clock:
    """Time injected into a collection: starts at ``start`` and advances with the monotonic
    clock, so simulated runs (``start`` in the past or future) use the same code path."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("Clock start must be timezone-aware")
        self.start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)


DEFAULT_MAX_INFLIGHT_PER_SERVER = 16
"""Queries in flight to one server address at most. A validating resolver keeps a handful of
queries outstanding to one authority; 16 lets an audit fill a 100 ms path at its rate limit
(100 q/s x 0.1 s = 10 in flight) with room for jitter, and is far below what would look like a
flood to an operator (RRL is usually set per client prefix at 5-20 identical responses/s, and
an audit's answers are mostly distinct)."""

DEFAULT_MAX_QPS_PER_SERVER = 100.0
"""Queries per second to one server address at most (token bucket, burst = the in-flight
cap). A TLD server answers tens of thousands of queries per second from the whole internet;
100 q/s from one client is well under 1 % of that, and 10,000 zones under one TLD (3 queries
per zone per parent server) still take only 5 minutes per address, spread over its servers."""

DEFAULT_MAX_INFLIGHT = 2048
"""Queries in flight at most from one process, to all servers together: the hard cap of the
process's budget (see :data:`INFLIGHT_FLOOR` and :data:`ANSWERS_PER_S`), reached only on long
round trips."""

INFLIGHT_FLOOR = 384
"""The process's in-flight budget when round trips are short. More would only wait in the
process's own queue of unparsed answers, inflating every measured latency and with it the
adaptive timeouts (measured: 3,000 in flight on 2 cores gave a 330 ms median "round trip" on
loopback; 768 instead of 384 doubled the median latency of a 3,000-zone run at 0 ms, 29 to
59 ms, for no more zones per second)."""

ANSWERS_PER_S = 3000
"""Answers one collector process parses and judges per second, with some margin (measured
2,400 on the project machine, 10,000 zones at 0 ms, 2026-12-07). By Little's law a process
needs this rate times the round trip in flight to stay busy: above :data:`INFLIGHT_FLOOR`
from about 130 ms. The budget follows the round trip the process sees (the running mean, over
its answers, of each answering server's fastest answer, so the process's own queueing does not
feed back into it), up to ``max_inflight``. Measured with 3,000 zones at 200 ms: a fixed 384
capped the process at 1,920 queries/s and made a zone wait 13 round trips for its slots."""


DEFAULT_DOWN_AFTER = 6
"""Consecutive timeouts after which a server address is down for the rest of the run. With 2 %
loss six losses in a row happen once in 10^10 tries; a dead server costs six timeouts, not one
per question."""


@dataclass(frozen=True)
class TransportConfig:
    """How patient and polite the sender is: per-try timeout (s), tries per transport, UDP
    payload, the most queries in flight from one process (its budget follows the round trip,
    see :data:`ANSWERS_PER_S`, up to this), and per server address the most
    queries in flight, queries per second and consecutive timeouts before it is down (0: no
    limit). TCP: one connection per address, reused (see
    :class:`toolkit.collect.aio_transport.AioTransport`)."""

    timeout: float = 2.0
    tries: int = 2
    port: int = 53
    payload: int = 1232
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    max_inflight_per_server: int = DEFAULT_MAX_INFLIGHT_PER_SERVER
    max_qps_per_server: float = DEFAULT_MAX_QPS_PER_SERVER
    down_after: int = DEFAULT_DOWN_AFTER
    server_caps: tuple[tuple[str, int, float], ...] = ()
    """(address, max in flight, max queries/s) of addresses with caps of their own, in place
    of the two per-server caps above (a cluster's split by address; the asynchronous sender
    honours them)."""


UDP_THEN_TCP = ("udp", "tcp")
TCP_ONLY = ("tcp",)


class QueryRow(TypedDict):
    """A row of the ``queries`` frame (:data:`toolkit.schemas.QUERIES`)."""

    zone: str
    qname: str
    qtype: str
    server: str
    server_name: str | None
    transport: str
    rcode: str | None
    aa: bool | None
    tc: bool
    latency_ms: float | None
    error: str | None
    queried_at: datetime


@dataclass
class Exchange:
    """One question and what came back (``response`` is None when nothing usable did)."""

    qname: str
    qtype: str
    server: str
    server_name: str | None
    transport: str
    response: dns.message.Message | None
    error: str | None
    latency_ms: float | None
    tc: bool
    queried_at: datetime

    @property
    def rcode(self) -> str | None:
        return dns.rcode.to_text(self.response.rcode()) if self.response is not None else None

    @property
    def size(self) -> int | None:
        """Bytes of the answer as it came on the wire (None: no usable answer)."""
        if self.response is None or self.response.wire is None:
            return None
        return len(self.response.wire)

    @property
    def aa(self) -> bool | None:
        return bool(self.response.flags & dns.flags.AA) if self.response is not None else None

    def row(self, zone: str) -> QueryRow:
        """The exchange as a row of the ``queries`` frame."""
        return {
            "zone": zone,
            "qname": self.qname,
            "qtype": self.qtype,
            "server": self.server,
            "server_name": self.server_name,
            "transport": self.transport,
            "rcode": self.rcode,
            "aa": self.aa,
            "tc": self.tc,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "queried_at": self.queried_at,
        }


def find_rrset(
    section: Iterable[dns.rrset.RRset], name: dns.name.Name, rdtype: int, covers: int = 0
) -> dns.rrset.RRset | None:
    """The RRset of ``name`` and ``rdtype`` (an RRSIG set: the one covering ``covers``) in one
    section of an answer, or None."""
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.covers == covers:
            return rrset
    return None


def make_query(
    qname: dns.name.Name | str, qtype: str, *, recursion: bool, payload: int = 1232
) -> dns.message.QueryMessage:
    """A query with EDNS and the DO bit; RD for resolvers, AD to ask for the AD bit (RFC 6840)."""
    q = dns.message.make_query(
        qname, qtype, want_dnssec=True, use_edns=0, payload=payload, flags=dns.flags.AD
    )
    if recursion:
        q.flags |= dns.flags.RD
    return q


_M = TypeVar("_M", bound=dns.message.Message)


def shallow_copy(message: _M) -> _M:
    """``copy.copy(message)`` for a dnspython message, without the copy protocol's detour.

    ``copy.copy`` of a ``Message`` (a plain class: no ``__copy__``, ``__slots__`` or
    ``__setstate__``) makes a new object of the same class with ``__new__`` and updates its
    ``__dict__`` with the original's, by way of ``__reduce_ex__`` and ``copyreg``; this does
    the same two steps directly, at a third of the cost (the collector copies one message per
    query made and one per answer parsed once for several servers)."""
    cls = type(message)
    twin = cls.__new__(cls)
    twin.__dict__.update(message.__dict__)
    return twin


MADE_QUERIES = 4096
"""Query messages whose wire form :class:`QueryTemplates` keeps (the table starts over when
full)."""


_Template = tuple[
    dns.message.QueryMessage,
    bytes,
    tuple[int, dns.rdataclass.RdataClass, dns.rdatatype.RdataType, dns.rdatatype.RdataType,
          dns.rdataclass.RdataClass | None],
]  # fmt: skip
"""A template query (for the root name), its wire form, and its question's index key (as
``Message.find_rrset`` made it) without the name: section, class, type, covers, deleting."""


class QueryTemplates:
    """Query messages made and rendered without dnspython's renderer, byte for byte as
    :func:`make_query` and ``to_wire`` make them.

    Building a query (:func:`make_query`: the EDNS record, the enum conversions) and rendering
    it (``to_wire``: the renderer, the OPT record) cost about a tenth of the asynchronous
    collector's CPU at 0 ms, though every query of a collection differs from another only in
    its id, its name and the few fields of the template kept per (qtype, recursion, payload):
    a query made by :func:`make_query` for the root name. A query's wire form is the
    template's header (its id replaced), the question name in wire form (uncompressed: it is
    the message's first name) and the template's bytes after its one-byte root name (qtype,
    qclass and the OPT record, whose root owner name is never compressed).
    ``tests/test_transport.py`` checks the bytes against ``make_query(...).to_wire()``.

    :meth:`make` gives a new message (a shallow copy of the template with its own id, drawn at
    random as :func:`make_query` draws one, and its own question section and index, made as
    ``Message.find_rrset`` makes them, from the template's own key); :meth:`wire` gives the
    wire form of a message :meth:`make` gave, with the message's current id, and renders any
    other message. The messages are never changed after they are made (the senders only
    read them), so copies can share the template's EDNS record."""

    def __init__(self, size: int = MADE_QUERIES) -> None:
        self.size = size
        self._templates: dict[tuple[str, bool, int], _Template] = {}
        self._made: dict[int, tuple[dns.message.QueryMessage, bytes]] = {}

    def _template(self, qtype: str, recursion: bool, payload: int) -> _Template:
        key = (qtype, recursion, payload)
        hit = self._templates.get(key)
        if hit is None:
            template = make_query(dns.name.root, qtype, recursion=recursion, payload=payload)
            # the question's index key, as find_rrset made it
            ((section, _, rdclass, rdtype, covers, deleting),) = template.index
            assert covers is not None  # find_rrset makes it an RdataType (NONE)
            hit = (template, template.to_wire(), (section, rdclass, rdtype, covers, deleting))
            self._templates[key] = hit
        return hit

    def make(
        self, qname: dns.name.Name | str, qtype: str, *, recursion: bool, payload: int = 1232
    ) -> dns.message.QueryMessage:
        """As :func:`make_query` (the same message, field for field), its wire form kept."""
        template, twire, (section, rdclass, rdtype, covers, deleting) = self._template(
            qtype, recursion, payload
        )
        name = dns.name.from_text(qname) if isinstance(qname, str) else qname
        query = shallow_copy(template)
        query.id = dns.entropy.random_16()
        question = dns.rrset.RRset(name, rdclass, rdtype, covers, deleting)
        query.sections = [[question], [], [], []]
        query.index = {(section, name, rdclass, rdtype, covers, deleting): question}
        if len(self._made) >= self.size:
            self._made.clear()
        qname_wire = name.to_wire()  # no file given: dnspython returns the bytes
        assert qname_wire is not None
        self._made[id(query)] = (query, twire[2:12] + qname_wire + twire[13:])
        return query

    def wire(self, query: dns.message.Message) -> bytes:
        """``query.to_wire()``, without rendering a message :meth:`make` gave."""
        hit = self._made.get(id(query))
        if hit is not None and hit[0] is query:
            return query.id.to_bytes(2, "big") + hit[1]
        return query.to_wire()


QUERIES = QueryTemplates()
"""The process's query templates (both senders' questions)."""


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (dns.query.BadResponse, dns.query.UnexpectedSource)):
        return "mismatched answer"
    if isinstance(exc, dns.exception.DNSException):
        return f"malformed answer ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"network error ({exc.strerror or type(exc).__name__})"
    return type(exc).__name__


def send(
    qname: dns.name.Name | str,
    qtype: str,
    server: str,
    *,
    clock: Clock,
    config: TransportConfig,
    server_name: str | None = None,
    recursion: bool = False,
    port: int | None = None,
    log: Callable[[Exchange], None] | None = None,
    query: dns.message.QueryMessage | None = None,
    tcp_only: bool = False,
) -> Exchange:
    """Ask ``server`` one question over UDP, retrying timeouts, and over TCP when the UDP
    answer is truncated. Returns the last :class:`Exchange`; never raises for DNS failures.
    Every exchange attempted is passed to ``log`` (the collector's ``queries`` rows).

    ``query`` is the message to send when one was made already (by :func:`make_query` with
    this ``qname``, ``qtype``, ``recursion`` and payload: the same question to another
    server); by default a new one is made. ``tcp_only`` asks over TCP alone (``tries`` times
    on timeout): whether the server answers over TCP at all."""
    port = config.port if port is None else port
    name_text = qname.to_text() if isinstance(qname, dns.name.Name) else str(qname)
    if query is None:
        query = make_query(qname, qtype, recursion=recursion, payload=config.payload)
    exchange: Exchange | None = None
    for transport in TCP_ONLY if tcp_only else UDP_THEN_TCP:
        for _ in range(max(1, config.tries)):
            started = clock.now()
            t0 = time.perf_counter()
            response = error = None
            tc = False
            try:
                if transport == "udp":
                    response = dns.query.udp(query, server, timeout=config.timeout, port=port)
                    tc = bool(response.flags & dns.flags.TC)
                else:
                    response = dns.query.tcp(query, server, timeout=config.timeout, port=port)
            except (dns.exception.DNSException, OSError, EOFError) as exc:
                error = _error_name(exc)
            latency = (time.perf_counter() - t0) * 1000.0
            exchange = Exchange(
                name_text,
                qtype,
                server,
                server_name,
                transport,
                response,
                error,
                round(latency, 3),
                tc,
                started,
            )
            if log is not None:
                log(exchange)
            if error != "timeout":
                break
        assert exchange is not None  # the loop above ran at least once
        if exchange.tc:
            continue  # truncated over UDP: ask again over TCP
        return exchange
    assert exchange is not None
    return exchange


def ede(response: dns.message.Message | None) -> tuple[int | None, str | None]:
    """The first Extended DNS Error (RFC 8914) of a response: (code, text), or (None, None)."""
    if response is None:
        return None, None
    for opt in response.options:
        if isinstance(opt, dns.edns.EDEOption):
            return int(opt.code), opt.text
    return None, None
