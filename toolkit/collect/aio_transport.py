"""The asynchronous sender: hundreds of questions in flight over a few non-blocking sockets,
polite and patient with every server address. Every outcome is an observation.

:class:`AioTransport` is the asynchronous twin of :func:`toolkit.collect.transport.send`, as
dnspython's ``asyncquery`` is of ``query``: the same query messages
(:func:`~toolkit.collect.transport.make_query`, each question's rendered once:
:class:`~toolkit.collect.transport.QueryTemplates`), the same parsing
(``dns.message.from_wire`` with the query's keyring and MAC), the same :class:`Exchange`
rows, the same error names, and the same sequence of exchanges for one question — UDP tried
``tries`` times on timeout, then TCP when the UDP answer is truncated. What differs is how it
waits: one event loop, a few UDP sockets shared by every query in flight, answers matched to
their query by the server's address and port, the message id and the question.

Matching. A datagram is taken as the answer to a query only when it comes from the address
and port the query went to, carries the query's id, parses, and is a response to the query
(``Message.is_response``, see :func:`answers`: QR set, same id, opcode and question).
Anything else is rejected, counted in :attr:`AioTransport.rejected`, and the query goes on
waiting: a spoofed or stray datagram can never stand in for the answer, nor cut the wait for
the real one short. If the
query then times out after a datagram from the right source was rejected, its error says what
came (``malformed answer (...)`` or ``mismatched answer``), as the synchronous sender reports.

Politeness and patience per server address (the model is Unbound's infra cache,
``services/cache/infra.c``), see :class:`ServerState`:

* at most ``max_inflight_per_server`` queries in flight to one address, and at most
  ``max_qps_per_server`` queries per second to it (a token bucket, GCRA, whose burst is the
  in-flight cap);
* one TCP connection to one address, opened by its first TCP question, reused by the next and
  pipelined, answers matched by id and question in any order (RFC 7766 §6.2.1, §6.2.2 and
  §7, see :class:`_TcpConnection`); closed after :data:`TCP_IDLE` seconds without a question;
* an adaptive timeout: the smoothed round trip and its variance (RFC 6298's estimator),
  timeout = SRTT + 4 x RTTVAR, never above the configured timeout nor below
  :data:`MIN_TIMEOUT`, the configured timeout until a first answer; doubled (up to the
  configured timeout) after every timeout;
* an address that times out ``down_after`` times in a row, counting only queries sent after
  its last answer (so a burst of losses from a live server never counts), is *down* for the
  rest of the run: later questions to it are recorded at once with an error saying so, never
  sent;
* the first IPv6 send that fails with "network unreachable" marks the whole family: every
  later IPv6 question is recorded unreachable at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import math
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import dns.exception
import dns.flags
import dns.message
import dns.name

from toolkit.collect.sigstatus import name_text
from toolkit.collect.transport import (
    ANSWERS_PER_S,
    INFLIGHT_FLOOR,
    QUERIES,
    TCP_ONLY,
    UDP_THEN_TCP,
    Clock,
    Exchange,
    TransportConfig,
    _error_name,
    shallow_copy,
)

MIN_TIMEOUT = 0.3
"""Floor of the adaptive timeout, seconds. Unbound's is 50 ms, but its RTT is measured by a
lean C loop; here an answer can wait in the socket while the loop parses others (a busy
2-core machine measured up to ~100 ms of such queueing), and a spurious timeout costs a retry
and a row, so the floor stays well above what loopback or a nearby anycast node needs."""

UDP_SOCKETS = 4
"""UDP sockets per address family, each on its own random source port."""

RECEIVE_BUFFER = 4 * 1024 * 1024
"""Receive buffer asked for every UDP socket: a burst of a thousand answers of ~1 KB must not
overflow the default ~200 KB buffer (a dropped answer is a spurious timeout)."""

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


@dataclass
class ServerState:
    """What the sender knows of one server address (Unbound's infra-cache entry).

    ``srtt``/``rttvar`` in seconds (None until a first UDP answer); ``backoff`` multiplies
    the timeout after timeouts; ``timeouts`` counts consecutive timeouts; ``down`` is the
    reason the address is no longer asked (None while it is)."""

    slots: Budget | None
    srtt: float | None = None
    rttvar: float = 0.0
    min_rtt: float | None = None  # its fastest UDP answer, seconds
    backoff: float = 1.0
    timeouts: int = 0
    down: str | None = None
    tat: float = 0.0  # the token bucket's theoretical arrival time (GCRA)
    qps: float = 0.0  # the address's rate cap (0: none)
    burst: int = 1  # the token bucket's burst: the address's in-flight cap (at least 1)
    inflight: int = 0
    max_inflight: int = 0  # the most ever in flight at once (politeness, observed)
    sent: int = 0
    last_answer: float = -1.0  # monotonic time of the last answer from the address

    def timeout(self, configured: float) -> float:
        """The timeout of the next try, seconds."""
        if self.srtt is None:
            base = configured
        else:
            base = max(MIN_TIMEOUT, self.srtt + 4.0 * self.rttvar)
        return min(configured, base * self.backoff)

    def answered(self, rtt: float, at: float = 0.0) -> None:
        """An answer came back after ``rtt`` seconds, at monotonic time ``at`` (RFC 6298 §2
        estimator)."""
        self.last_answer = max(self.last_answer, at)
        if self.min_rtt is None or rtt < self.min_rtt:
            self.min_rtt = rtt
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2.0
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.timeouts = 0
        self.backoff = 1.0

    def timed_out(self, down_after: int, sent: float = 0.0) -> None:
        """A try sent at monotonic time ``sent`` timed out: back off, and after
        ``down_after`` in a row mark the address down. A try sent before the address's last
        answer does not count towards down: the server was alive after it (a query lost
        in a burst, not a dead server)."""
        self.backoff = min(self.backoff * 2.0, 64.0)
        if sent < self.last_answer:
            return
        self.timeouts += 1
        if down_after > 0 and self.timeouts >= down_after and self.down is None:
            self.down = f"server down ({self.timeouts} consecutive timeouts): not asked"


URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("urgent", default=False)
"""Set (in its task's context) by work that many others wait for: the discovery of a zone cut
above an inventory zone, the collection of a zone above one. Its questions go before those
already queued for a slot, so a wave of zones that all wait for their parent's verdict is not
held up behind its own questions (measured at 200 ms: the first wave of every shard waited
for ``test.``'s apex probes, queued behind its 600 questions to the same address, then judged
all at once while nothing was in flight)."""


class Budget:
    """A counting limit whose size can change while it is in use (``asyncio.Semaphore`` cannot
    shrink or grow): :meth:`acquire` waits while ``used`` has reached ``limit``, first come
    first served, urgent waiters before the others."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self, urgent: bool = False) -> None:
        if self.used < self.limit and not self._waiters:
            self.used += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if urgent:
            self._waiters.appendleft(fut)
        else:
            self._waiters.append(fut)
        try:
            await fut  # woken with the slot already counted as ours
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot came, but its task is cancelled: pass it on
            else:
                self._waiters.remove(fut)
            raise

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        """Change the limit; a larger one lets waiters in at once, a smaller one takes effect
        as slots are released."""
        self.limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.used < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.used += 1
                fut.set_result(None)


@dataclass
class _Waiting:
    """A UDP query in flight: the message, the future its answer resolves, and what was
    rejected from its server meanwhile (reported if the query then times out)."""

    query: dns.message.Message
    future: asyncio.Future[tuple[dns.message.Message, float]]
    bad: str | None = None


@dataclass
class _UdpSocket:
    sock: socket.socket
    waiting: dict[tuple[str, int, int], list[_Waiting]] = field(default_factory=dict)


def _canonical(address: str) -> str:
    """An IP address as recvfrom() reports it (compressed IPv6, no zone id)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, address))
    except OSError:
        return address


PARSED_ANSWERS = 2048
"""Answers kept parsed, by content (see :class:`ParsedAnswers`). A zone brings about ten
distinct answers, and :data:`~toolkit.collect.collector.DEFAULT_ZONES_IN_FLIGHT` zones are
collected at once. Measured at 0 ms, 1,000 zones on 48 addresses, when every TCP question
still waited for a connection of its own (its answers came after a couple of thousand others):
with 1,024 kept, about half of the TCP answers were parsed again (11,008 parses for 21,021
answers); with 2,048, one in twenty (10,080-10,120 parses, 8 % fewer); 4,096 saved only some
60 more. A parsed answer of the lab's zones takes about 6 KB: some 6 MB more per process."""


class ParsedAnswers:
    """Identical answers parsed once, as the verification caches judge identical content once.

    Every server of a zone usually sends the very same bytes for the same question, apart from
    the message id (the first two bytes). Parsing is about half the collector's CPU at 0 ms, so
    an answer whose bytes after the id equal those of an answer parsed shortly before is not
    parsed again: it gets a shallow copy of that message with its own id. The messages are
    never changed after parsing (the collector only reads them), so the copies can share their
    sections. A query signed with TSIG is always parsed (its MAC makes each answer its own).
    The ``size`` most recent distinct answers are kept; ``hits`` counts the parses saved.
    """

    def __init__(self, size: int = PARSED_ANSWERS) -> None:
        self.size = size
        self.hits = 0
        self._by_body: dict[bytes, dns.message.Message] = {}

    def parse(self, wire: bytes, query: dns.message.Message) -> dns.message.Message:
        """``dns.message.from_wire(wire, ...)`` for an answer to ``query``, parsed at most once."""
        if query.keyring is not None or query.mac or self.size <= 0:
            return dns.message.from_wire(wire, keyring=query.keyring, request_mac=query.mac)
        body = wire[2:]
        seen = self._by_body.get(body)
        if seen is not None:
            self.hits += 1
            twin = shallow_copy(seen)
            twin.id = int.from_bytes(wire[:2], "big")
            return twin
        r = dns.message.from_wire(wire)
        if len(self._by_body) >= self.size:
            del self._by_body[next(iter(self._by_body))]  # the oldest goes
        self._by_body[body] = r
        return r


_QR = int(dns.flags.QR)
_OPCODE = 0x7800  # the opcode's four bits of the header flags (RFC 1035 §4.1.1)


def answers(query: dns.message.Message, response: dns.message.Message) -> bool:
    """``query.is_response(response)``, decided at once in the plain case: the response has
    QR set, the query's id and opcode, and one question, the query's own (name, class, type
    and covered type; neither message read with an origin). Then dnspython's ``is_response``
    says True as well, after converting flags to enums, rcodes and both questions to tuples
    (a collector process checks every answer: a couple of percent of its CPU at 0 ms). Any
    other pair is left to ``is_response``, which decides it as it always did."""
    if (
        response.flags & _QR
        and response.id == query.id
        and not (response.flags ^ query.flags) & _OPCODE
        and query.origin is None
        and response.origin is None
        and len(query.question) == 1
        and len(response.question) == 1
    ):
        ours, theirs = query.question[0], response.question[0]
        if (
            ours.rdtype == theirs.rdtype
            and ours.rdclass == theirs.rdclass
            and ours.covers == theirs.covers
            and (ours.name.labels == theirs.name.labels or ours.name == theirs.name)
        ):
            return True
    return query.is_response(response)


TCP_IDLE = 5.0
"""Seconds a TCP connection with no question in flight stays open for the next one before
the sender closes it (RFC 7766 §6.2.3: clients close idle connections unless more queries
are coming soon). The collector interleaves zones, so a portfolio's questions to one address
come every few milliseconds while it is being collected; servers close idle connections
after some seconds themselves (Knot and BIND: 10 s and 30 s by default), and a question that
meets such a close is asked again on a new connection."""


@dataclass
class _TcpWaiting:
    """A question written on a TCP connection: the message, and the future of its outcome
    (response or None, error or None, monotonic time, whether to ask again on a new
    connection)."""

    query: dns.message.Message
    future: asyncio.Future[tuple[dns.message.Message | None, str | None, float, bool]]


class _TcpConnection:
    """One TCP connection to one server address, reused for every TCP question to it and
    pipelined (RFC 7766 §6.2.1.1): questions are written as they come, without waiting for
    earlier answers, and answers are matched to their question by message id and question, in
    whatever order they arrive (§7). RFC 7766 §6.2.2: one connection per server, not one per
    question.

    A frame whose id no question on the connection carries is rejected and counted (like a
    stray datagram). A frame with a waiting question's id that does not parse, or answers
    another question, ends that question with the error, as a one-question connection did.
    When the connection closes (the server closes it, resets it, or the connect fails), every
    question still on it ends with the reason; those on a connection that had already answered
    something are asked again on a new one (a server closing an idle or a busy connection
    between questions), the others are not (a server that closes before any answer)."""

    def __init__(
        self,
        transport: AioTransport,
        address: str,
        port: int,
        connect_timeout: float,
    ) -> None:
        assert transport._loop is not None
        self.loop = transport._loop
        self.transport = transport
        self.address, self.port = address, port
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.waiting: dict[int, list[_TcpWaiting]] = {}
        self.answered = 0  # frames taken as answers on this connection
        self.error: str | None = None  # why the connection closed (None while it is open)
        self.connected = False
        self._in = bytearray()
        self._out = bytearray()
        self._writing = False
        self._idle: asyncio.TimerHandle | None = None
        self._connect = self.loop.create_task(self._open(connect_timeout))

    # -- the caller's side -------------------------------------------------------------------

    def ask(self, query: dns.message.Message, wire: bytes) -> _TcpWaiting:
        """Write one question (after the connect, if it is still under way)."""
        w = _TcpWaiting(query, self.loop.create_future())
        self.waiting.setdefault(query.id, []).append(w)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._out += len(wire).to_bytes(2, "big") + wire
        if self.connected:
            self._flush()
        return w

    def forget(self, w: _TcpWaiting) -> None:
        """A question leaves the connection (answered, or its timeout is over)."""
        lst = self.waiting.get(w.query.id)
        if lst is not None and w in lst:
            lst.remove(w)
            if not lst:
                del self.waiting[w.query.id]
        if not self.waiting and self.error is None and self._idle is None:
            self._idle = self.loop.call_later(TCP_IDLE, self.close, "idle")

    def close(self, error: str) -> None:
        """Close the connection; every question still on it ends with ``error``."""
        if self.error is not None:
            return
        self.error = error
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if not self.loop.is_closed():
            if self.connected:
                self.loop.remove_reader(self.sock.fileno())
            if self._writing:
                self.loop.remove_writer(self.sock.fileno())
        self._writing = False
        if not self._connect.done():
            try:
                current = asyncio.current_task(self.loop)
            except RuntimeError:
                current = None
            if self._connect is not current:
                self._connect.cancel()
        self.sock.close()
        again = self.answered > 0
        now = time.monotonic()
        for lst in self.waiting.values():
            for w in lst:
                if not w.future.done():
                    w.future.set_result((None, error, now, again))
        self.waiting.clear()
        self.transport._tcp_closed(self)

    # -- the loop's side -----------------------------------------------------------------

    async def _open(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self.loop.sock_connect(self.sock, (self.address, self.port))
        except TimeoutError:
            self.close("timeout")
            return
        except OSError as exc:
            self.close(_error_name(exc))
            return
        if self.error is not None:
            return
        self.connected = True
        self.loop.add_reader(self.sock.fileno(), self._readable)
        self._flush()

    def _flush(self) -> None:
        if self.error is not None:
            return
        if self._out:
            try:
                n = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as exc:
                self.close(_error_name(exc))
                return
            del self._out[:n]
        if self._out and not self._writing:
            self.loop.add_writer(self.sock.fileno(), self._flush)
            self._writing = True
        elif not self._out and self._writing:
            self.loop.remove_writer(self.sock.fileno())
            self._writing = False

    def _readable(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.close(_error_name(exc))
            return
        if not chunk:
            # closed by the server; a question whose answer was cut short ends as the
            # synchronous sender names it
            self.close("EOFError")
            return
        buf = self._in
        buf += chunk
        while len(buf) >= 2:
            length = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + length:
                break
            frame = bytes(buf[2 : 2 + length])
            del buf[: 2 + length]
            self._take(frame)
            if self.error is not None:
                return

    def _take(self, frame: bytes) -> None:
        """One whole message from the server: the answer of the first question waiting with
        its id, or rejected."""
        lst = self.waiting.get(int.from_bytes(frame[:2], "big")) if len(frame) >= 2 else None
        if not lst:
            self.transport.rejected["unexpected id (tcp)"] += 1
            return
        w = lst[0]
        self.answered += 1
        now = time.monotonic()
        result: tuple[dns.message.Message | None, str | None, float, bool]
        try:
            r = self.transport.parsed.parse(frame, w.query)
        except Exception as exc:  # whatever the parser raises, the message is not taken
            error = (
                _error_name(exc)
                if isinstance(exc, dns.exception.DNSException)
                else f"malformed answer ({type(exc).__name__})"
            )
            result = (None, error, now, False)
        else:
            if answers(w.query, r):
                result = (r, None, now, False)
            else:
                result = (None, "mismatched answer", now, False)
        self.forget(w)
        if not w.future.done():
            w.future.set_result(result)


class AioTransport:
    """The asynchronous sender of one event loop. Use as ``async with AioTransport(cfg)``.

    ``config`` gives the timeout, tries, port, payload, the most queries in flight from this
    loop (``max_inflight``) and the politeness limits (``max_inflight_per_server``,
    ``max_qps_per_server``, ``down_after``; 0 means no limit), with
    ``server_caps`` in place of the first two for the addresses it names.
    """

    def __init__(self, config: TransportConfig) -> None:
        self.config = config
        self.servers: dict[str, ServerState] = {}
        self.rejected: Counter[str] = Counter()
        self.unreachable: dict[int, str] = {}  # address family -> error of its first send
        self._udp: dict[int, list[_UdpSocket]] = {}
        self._tcp: dict[tuple[str, int], _TcpConnection] = {}
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        cap = config.max_inflight
        self._slots = Budget(min(INFLIGHT_FLOOR, cap)) if cap > 0 else None
        self.base_rtt: float | None = None  # see ANSWERS_PER_S
        self.inflight = 0
        self.max_inflight = 0  # the most queries ever in flight at once
        self.parsed = ParsedAnswers()
        self._server_caps = {_canonical(a): (n, q) for a, n, q in config.server_caps}

    async def __aenter__(self) -> AioTransport:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket (UDP queries still waiting are left to their timeouts, TCP
        questions end as ``closed``)."""
        for conn in list(self._tcp.values()):
            conn.close("closed")
        for sockets in self._udp.values():
            for us in sockets:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(us.sock.fileno())
                us.sock.close()
        self._udp.clear()

    # -- per-server state ------------------------------------------------------------------

    def state(self, address: str) -> ServerState:
        """The state kept for ``address`` (created on first use)."""
        st = self.servers.get(address)
        if st is None:
            cap, qps = self._server_caps.get(
                address, (self.config.max_inflight_per_server, self.config.max_qps_per_server)
            )
            st = ServerState(
                Budget(cap) if cap > 0 else None,
                qps=qps,
                burst=max(1, cap),
            )
            self.servers[address] = st
        return st

    def has_answered(self, address: str) -> bool:
        """Whether ``address`` has answered any question in this run (a live server, whose
        silence to one question is a loss rather than death)."""
        st = self.servers.get(_canonical(address))
        return st is not None and st.last_answer >= 0

    def budget(self) -> int:
        """The most queries this loop lets out at once now (0: no limit): what covers the
        round trip it sees at :data:`~toolkit.collect.transport.ANSWERS_PER_S`, never below
        :data:`~toolkit.collect.transport.INFLIGHT_FLOOR` nor above ``max_inflight``."""
        cap = self.config.max_inflight
        if cap <= 0:
            return 0
        need = math.ceil(ANSWERS_PER_S * self.base_rtt) if self.base_rtt is not None else 0
        return min(cap, max(INFLIGHT_FLOOR, need))

    def _follow_round_trip(self, st: ServerState) -> None:
        """An answer came from ``st``: move the loop's round trip towards that server's
        fastest answer (a running mean over answers, 1/64 each) and its budget with it."""
        if st.min_rtt is None:
            return
        if self.base_rtt is None:
            self.base_rtt = st.min_rtt
        else:
            self.base_rtt += (st.min_rtt - self.base_rtt) / 64.0
        if self._slots is not None:
            self._slots.resize(self.budget())

    async def _pace(self, st: ServerState) -> None:
        """Wait for the token bucket of one address (GCRA: a rate and a burst, no timers)."""
        rate = st.qps
        if rate <= 0:
            return
        interval = 1.0 / rate
        burst = st.burst
        now = time.monotonic()
        tat = max(st.tat, now)
        wait = tat - (burst - 1) * interval - now
        st.tat = tat + interval
        if wait > 0:
            await asyncio.sleep(wait)

    # -- UDP -------------------------------------------------------------------------------

    def _sockets(self, family: int) -> list[_UdpSocket]:
        sockets = self._udp.get(family)
        if sockets is None:
            assert self._loop is not None, "use AioTransport inside `async with`"
            sockets = []
            for _ in range(UDP_SOCKETS):
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                    if opt is None:
                        continue
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, opt, RECEIVE_BUFFER)
                        break
                    except OSError:
                        continue
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
                us = _UdpSocket(sock)
                self._loop.add_reader(sock.fileno(), self._readable, us)
                sockets.append(us)
            self._udp[family] = sockets
        return sockets

    def _readable(self, us: _UdpSocket) -> None:
        """Take every datagram waiting on one socket; resolve the queries they answer."""
        while True:
            try:
                wire, peer = us.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error queued on the socket: the query will time out
            if len(wire) < 2:
                self.rejected["short datagram"] += 1
                continue
            key = (peer[0], peer[1], int.from_bytes(wire[:2], "big"))
            waiting = us.waiting.get(key)
            if not waiting:
                self.rejected["unexpected source or id"] += 1
                continue
            w = waiting[0]
            try:
                r = self.parsed.parse(wire, w.query)
            except Exception as exc:  # whatever the parser raises, the datagram is not taken
                w.bad = (
                    _error_name(exc)
                    if isinstance(exc, dns.exception.DNSException)
                    else (f"malformed answer ({type(exc).__name__})")
                )
                self.rejected["malformed"] += 1
                continue
            if not answers(w.query, r):
                w.bad = "mismatched answer"
                self.rejected["wrong question"] += 1
                continue
            waiting.pop(0)
            if not waiting:
                del us.waiting[key]
            if not w.future.done():
                w.future.set_result((r, time.monotonic()))

    async def _udp_once(
        self, query: dns.message.Message, wire: bytes, address: str, port: int, timeout: float
    ) -> tuple[dns.message.Message | None, str | None, float]:
        """One UDP try: (response, error, seconds from send to answer or give-up)."""
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        if family in self.unreachable:
            return None, self.unreachable[family], 0.0
        sockets = self._sockets(family)
        key = (address, port, query.id)
        # a socket where no query with this key is in flight (the same question to the same
        # address twice at once would otherwise be ambiguous)
        us = None
        for i in range(len(sockets)):
            cand = sockets[(self._next + i) % len(sockets)]
            if key not in cand.waiting:
                us = cand
                break
        self._next += 1
        if us is None:
            us = sockets[self._next % len(sockets)]
        assert self._loop is not None
        fut: asyncio.Future[tuple[dns.message.Message, float]] = self._loop.create_future()
        w = _Waiting(query, fut)
        t0 = time.monotonic()
        try:
            us.sock.sendto(wire, (address, port))
        except OSError as exc:
            error = _error_name(exc)
            if family == socket.AF_INET6 and exc.errno in _NO_ROUTE:
                self.unreachable[family] = error
            return None, error, time.monotonic() - t0
        us.waiting.setdefault(key, []).append(w)
        handle = self._loop.call_later(timeout, _give_up, fut)
        try:
            r, t1 = await fut
            return r, None, t1 - t0
        except TimeoutError:
            return None, w.bad or "timeout", time.monotonic() - t0
        finally:
            handle.cancel()
            lst = us.waiting.get(key)
            if lst is not None and w in lst:
                lst.remove(w)
                if not lst:
                    del us.waiting[key]

    # -- TCP -------------------------------------------------------------------------------

    def _tcp_closed(self, conn: _TcpConnection) -> None:
        key = (conn.address, conn.port)
        if self._tcp.get(key) is conn:
            del self._tcp[key]

    async def _tcp_once(
        self, query: dns.message.Message, wire: bytes, address: str, port: int, timeout: float
    ) -> tuple[dns.message.Message | None, str | None, float]:
        """One TCP exchange (RFC 7766 framing) on the address's one connection, opened on the
        first question and reused by the next ones (:class:`_TcpConnection`): (response,
        error, seconds from the question's hand-over to its answer or give-up, the connect
        included when it had to wait for one). A question on a connection the server closes
        after answering others is asked again on a new connection, timed afresh."""
        assert self._loop is not None, "use AioTransport inside `async with`"
        loop = self._loop
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(timeout) as deadline:
                while True:
                    key = (address, port)
                    conn = self._tcp.get(key)
                    if conn is None:
                        conn = self._tcp[key] = _TcpConnection(self, address, port, timeout)
                    w = conn.ask(query, wire)
                    try:
                        r, error, t1, again = await w.future
                    finally:
                        conn.forget(w)
                    if not again:
                        return r, error, t1 - t0
                    t0 = time.monotonic()
                    deadline.reschedule(loop.time() + timeout)
        except TimeoutError:
            return None, "timeout", time.monotonic() - t0

    # -- one question ----------------------------------------------------------------------

    async def _try(
        self,
        st: ServerState,
        transport: str,
        query: dns.message.Message,
        wire: bytes,
        address: str,
        port: int,
        clock: Clock,
    ) -> tuple[datetime, dns.message.Message | None, str | None, float]:
        """One try within the limits: the server's in-flight slot, its token bucket, then a
        slot of this loop's own in-flight budget (taken last, so that a query waiting for a
        slow server's rate holds no slot another server's query could use)."""
        urgent = URGENT.get()
        if st.slots is not None:
            await st.slots.acquire(urgent)
        try:
            await self._pace(st)
            if self._slots is not None:
                await self._slots.acquire(urgent)
            try:
                self.inflight += 1
                st.inflight += 1
                st.sent += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
                st.max_inflight = max(st.max_inflight, st.inflight)
                try:
                    started = clock.now()
                    if transport == "udp":
                        timeout = st.timeout(self.config.timeout)
                        out = await self._udp_once(query, wire, address, port, timeout)
                    else:
                        out = await self._tcp_once(query, wire, address, port, self.config.timeout)
                finally:
                    self.inflight -= 1
                    st.inflight -= 1
            finally:
                if self._slots is not None:
                    self._slots.release()
        finally:
            if st.slots is not None:
                st.slots.release()
        return (started, *out)

    async def send(
        self,
        qname: dns.name.Name | str,
        qtype: str,
        server: str,
        *,
        clock: Clock,
        server_name: str | None = None,
        recursion: bool = False,
        port: int | None = None,
        log: Callable[[Exchange], None] | None = None,
        query: dns.message.QueryMessage | None = None,
        tcp_only: bool = False,
    ) -> Exchange:
        """Ask ``server`` one question, as :func:`toolkit.collect.transport.send` does (UDP
        with retries on timeout, TCP when truncated; TCP alone with ``tcp_only``); every
        exchange attempted, or refused by the politeness rules, is passed to ``log``. Never
        raises for DNS failures. A TCP-only question takes the server's in-flight slot and
        token like any other; its timeouts neither back off the server's UDP timeout nor count
        towards marking it down (a firewall that drops TCP says nothing of UDP service)."""
        cfg = self.config
        port = cfg.port if port is None else port
        qtext = name_text(qname) if isinstance(qname, dns.name.Name) else str(qname)
        if query is None:
            query = QUERIES.make(qname, qtype, recursion=recursion, payload=cfg.payload)
        wire = QUERIES.wire(query)
        address = _canonical(server)
        st = self.state(address)
        exchange: Exchange | None = None
        for transport in TCP_ONLY if tcp_only else UDP_THEN_TCP:
            for _ in range(max(1, cfg.tries)):
                if st.down is not None:
                    exchange = Exchange(
                        qtext, qtype, server, server_name, transport, None, st.down,
                        None, False, clock.now(),
                    )  # fmt: skip
                    if log is not None:
                        log(exchange)
                    return exchange
                started, response, error, seconds = await self._try(
                    st, transport, query, wire, address, port, clock
                )
                tc = (
                    transport == "udp"
                    and response is not None
                    and bool(response.flags & dns.flags.TC)
                )
                now = time.monotonic()
                if error == "timeout":
                    if not tcp_only:  # a server that blocks TCP is not dead for UDP
                        st.timed_out(cfg.down_after, sent=now - seconds)
                elif response is not None:
                    if transport == "udp":
                        st.answered(seconds, at=now)
                        self._follow_round_trip(st)
                    else:  # a TCP round trip counts the handshake: not an RTT sample
                        st.last_answer = max(st.last_answer, now)
                        st.timeouts = 0
                exchange = Exchange(
                    qtext, qtype, server, server_name, transport, response, error,
                    round(seconds * 1000.0, 3), tc, started,
                )  # fmt: skip
                if log is not None:
                    log(exchange)
                if error != "timeout":
                    break
            assert exchange is not None
            if exchange.tc:
                continue  # truncated over UDP: ask again over TCP
            return exchange
        assert exchange is not None
        return exchange


def _give_up(fut: asyncio.Future[tuple[dns.message.Message, float]]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())
