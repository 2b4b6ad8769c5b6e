"""A userspace network shim: a UDP + TCP relay that makes a lab server slow, lossy or rude.

No kernel delay (netem) is available on the lab machines, so the lab puts this relay in front
of an authoritative server instead: it listens on the address a referral names (port 53 on a
loopback address) and relays to the real server on a *backend* address. One process and one
asyncio event loop serve any number of listening addresses ("routes"), each with its own knobs:

``rtt_ms``
    added round trip, applied **half on the way in** (before the query is forwarded) **and half
    on the way out** (before the answer is returned), so the server sees queries as late as a
    distant server would and the client's measured latency grows by the whole round trip.
``jitter_ms``
    each half gets ``rtt_ms / 2 + uniform(-jitter_ms / 2, +jitter_ms / 2)`` (never below 0), so a
    round trip lies within ``rtt_ms ± jitter_ms``.
``loss``
    the share of UDP queries dropped on the way in (so the same share of UDP exchanges is lost,
    drawn from a seeded RNG: the same seed and the same arrival order drop the same queries).
    TCP is never lossy (TCP retransmits).
``fault``
    one rude behaviour (see :data:`FAULTS`): ``slow`` answers 1-3 s late (both transports),
    ``rrl`` drops every second UDP query from the same client address (response-rate limiting),
    ``truncate`` returns every UDP answer with TC=1 and nothing but the question (the client
    must retry over TCP), ``formerr-edns`` answers FORMERR without an OPT record to any query
    carrying EDNS, like an EDNS-intolerant middlebox (both transports, without asking the server),
    ``no-tcp`` does not listen on TCP at all, so connections are refused (RST).

UDP queries keep the relay's two sockets per route: the query's message id is rewritten to a
free id of the route's upstream socket and restored on the answer, so no socket is created per
query. TCP connections are relayed message by message (two-byte length framing), each
direction in order.

Per route the shim counts queries (UDP, TCP), answers, drops by cause, queries in flight
(received and neither answered nor dropped yet; a query the server never answers leaves after
:data:`PENDING_TTL` seconds) and queries per second (the most queries received in any sliding
1-s window), and the process's own CPU time since it was ready (the interpreter's start-up
left out). It writes them as JSON to the stats file once ready (``"ready": true``), on SIGUSR1
and when stopped (SIGTERM or SIGINT)::

    python -m toolkit.lab.shim CONFIG.json     # CONFIG: see ShimConfig.to_json
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit.atomic import write_atomic
from toolkit.errors import LabError

FORMAT_VERSION = 1
RECEIVE_BUFFER = 4 * 1024 * 1024
"""Receive buffer of the shim's UDP sockets. A path on the internet queues a burst in its
routers rather than dropping it (losses are what ``loss`` is for), so the relay asks for more
than the kernel's ~200 KB default: a collector's burst of some hundred queries at one lab
address, arriving while the relay is busy, would otherwise overflow it (measured: 23-46 drops
in a 3,000-zone run at 200 ms, all at the one TLD address)."""


def _large_receive_buffer(sock: socket.socket | None) -> None:
    """Ask for :data:`RECEIVE_BUFFER` on ``sock`` (the kernel may grant less)."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    except OSError:
        pass


FAULTS = ("slow", "rrl", "truncate", "formerr-edns", "no-tcp")
"""The rude behaviours a route can have (one at most)."""

SLOW_SECONDS = (1.0, 3.0)
"""A ``slow`` route holds every answer this long (uniform draw), on top of the round trip."""

PENDING_TTL = 10.0
"""Seconds a relayed UDP query waits for the server's answer before it counts as unanswered."""

MAX_RTT_MS = 10_000.0

_TC = 0x02  # header byte 2: QR opcode(4) AA TC RD
_OPT = 41


# -- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One listening address of the shim and what it does to the traffic it relays."""

    listen: str
    backend: str
    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    fault: str | None = None
    port: int = 53
    backend_port: int = 53

    def __post_init__(self) -> None:
        check_conditions(self.rtt_ms, self.jitter_ms, self.loss)
        if self.fault is not None and self.fault not in FAULTS:
            raise LabError(
                f"unknown shim fault {self.fault!r}; expected one of {', '.join(FAULTS)}"
            )
        for address in (self.listen, self.backend):
            try:
                socket.inet_aton(address)
            except OSError:
                raise LabError(f"shim address {address!r} is not an IPv4 address") from None
        if (self.listen, self.port) == (self.backend, self.backend_port):
            raise LabError(f"shim route {self.listen}:{self.port} would relay to itself")


def check_conditions(rtt_ms: float, jitter_ms: float, loss: float) -> None:
    """Raise LabError unless ``0 <= rtt_ms, jitter_ms <= 10,000`` and ``0 <= loss < 1``."""
    for name, value in (("rtt_ms", rtt_ms), ("jitter_ms", jitter_ms)):
        if not 0.0 <= value <= MAX_RTT_MS:
            raise LabError(f"{name} must lie between 0 and {MAX_RTT_MS:,.0f} ms, got {value:g}")
    if not 0.0 <= loss < 1.0:
        raise LabError(f"loss must be a share between 0 and 1 (1 excluded), got {loss:g}")


@dataclass(frozen=True)
class ShimConfig:
    """Every route of one shim process, where it writes its stats, and its RNG seed."""

    routes: tuple[Route, ...]
    stats: Path
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.routes:
            raise LabError("a shim needs at least one route")
        listens = [(r.listen, r.port) for r in self.routes]
        if len(set(listens)) != len(listens):
            raise LabError("two shim routes listen on the same address and port")

    def to_json(self) -> dict[str, Any]:
        """The config document the shim process reads (format_version 1)."""
        return {
            "format_version": FORMAT_VERSION,
            "stats": str(self.stats),
            "seed": self.seed,
            "routes": [vars(r).copy() for r in self.routes],
        }

    @classmethod
    def from_json(cls, doc: Any) -> ShimConfig:
        """Read a config document; raises LabError when it is malformed."""
        if not isinstance(doc, dict) or doc.get("format_version") != FORMAT_VERSION:
            raise LabError(f"shim config: expected format_version {FORMAT_VERSION}")
        try:
            routes = tuple(Route(**r) for r in doc["routes"])
            return cls(routes=routes, stats=Path(doc["stats"]), seed=int(doc.get("seed", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise LabError(f"shim config: malformed ({exc!r})") from exc

    def write(self, path: Path) -> None:
        """Write the config document to ``path``."""
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


# -- DNS wire helpers (pure) -------------------------------------------------------------------


def _skip_name(wire: bytes, off: int) -> int:
    """Offset just after the (possibly compressed) name at ``off``; ValueError if cut short."""
    while True:
        length = wire[off]  # IndexError when cut short
        if length == 0:
            return off + 1
        if length & 0xC0 == 0xC0:
            return off + 2
        off += length + 1


def question_end(wire: bytes) -> int:
    """Offset of the end of the question section; ValueError for a message too short."""
    try:
        (qdcount,) = struct.unpack_from("!H", wire, 4)
        off = 12
        for _ in range(qdcount):
            off = _skip_name(wire, off) + 4
    except (IndexError, struct.error):
        raise ValueError("DNS message cut short") from None
    if off > len(wire):
        raise ValueError("DNS message cut short")
    return off


def has_edns(wire: bytes) -> bool:
    """True when the message carries an OPT record (EDNS) in its additional section."""
    try:
        an, ns, ar = struct.unpack_from("!HHH", wire, 6)
        if ar == 0:
            return False
        off = question_end(wire)
        for _ in range(an + ns):
            off = _skip_name(wire, off)
            (rdlen,) = struct.unpack_from("!H", wire, off + 8)
            off += 10 + rdlen
        for _ in range(ar):
            off = _skip_name(wire, off)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", wire, off)
            if rtype == _OPT:
                return True
            off += 10 + rdlen
    except (IndexError, ValueError, struct.error):
        return False
    return False


def truncated(answer: bytes) -> bytes:
    """``answer`` with TC=1 and nothing but its header and question (what a server that cannot
    fit an answer in UDP sends). Raises ValueError for a message too short."""
    end = question_end(answer)
    head = bytearray(answer[:12])
    head[2] |= _TC
    head[6:12] = b"\0" * 6
    return bytes(head) + answer[12:end]


def formerr(query: bytes) -> bytes:
    """The FORMERR answer an EDNS-intolerant server gives to ``query``: same id, opcode, RD and
    question, QR set, RCODE 1, no OPT record. Raises ValueError for a message too short."""
    end = question_end(query)
    head = bytearray(query[:12])
    head[2] = 0x80 | (query[2] & 0x79)  # QR, keep opcode and RD
    head[3] = 0x01  # FORMERR
    head[6:12] = b"\0" * 6
    return bytes(head) + query[12:end]


class RateWindow:
    """Arrivals in a sliding 1-s window and the largest count seen in any such window."""

    def __init__(self, width: float = 1.0) -> None:
        self.width = width
        self._times: collections.deque[float] = collections.deque()
        self.max = 0

    def add(self, now: float) -> None:
        """Record an arrival at ``now`` (monotonic seconds, non-decreasing)."""
        times = self._times
        times.append(now)
        limit = now - self.width
        while times[0] <= limit:
            times.popleft()
        if len(times) > self.max:
            self.max = len(times)


# -- the relay ---------------------------------------------------------------------------------


@dataclass
class RouteStats:
    """What one route saw (see the module docstring)."""

    queries_udp: int = 0
    queries_tcp: int = 0
    answered: int = 0
    dropped_loss: int = 0
    dropped_rrl: int = 0
    formerr: int = 0
    truncated: int = 0
    unanswered: int = 0
    malformed: int = 0
    stray_answers: int = 0
    tcp_connections: int = 0
    tcp_backend_errors: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    rate: RateWindow = field(default_factory=RateWindow)

    def to_json(self) -> dict[str, int]:
        doc = {k: v for k, v in vars(self).items() if k != "rate"}
        doc["max_queries_per_s"] = self.rate.max
        return doc


class _Route:
    """A route's live state: its sockets, RNGs, pending UDP queries and counters."""

    def __init__(self, route: Route, seed: int) -> None:
        self.route = route
        self.stats = RouteStats()
        self.loss_rng = random.Random(f"{seed}/{route.listen}/loss")
        self.delay_rng = random.Random(f"{seed}/{route.listen}/delay")
        self.half = route.rtt_ms / 2000.0
        self.spread = route.jitter_ms / 2000.0
        self.loss = route.loss
        self.fault = route.fault
        self.rrl_seen: collections.Counter[str] = collections.Counter()
        # upstream id -> (client address, client's id bytes, arrival time)
        self.pending: dict[int, tuple[tuple[str, int], bytes, float]] = {}
        self.next_id = 0
        self.front: asyncio.DatagramTransport | None = None
        self.back: asyncio.DatagramTransport | None = None

    def delay(self) -> float:
        """One direction's added delay in seconds."""
        if self.spread:
            return max(0.0, self.half + self.delay_rng.uniform(-self.spread, self.spread))
        return self.half

    def answer_delay(self) -> float:
        d = self.delay()
        if self.fault == "slow":
            d += self.delay_rng.uniform(*SLOW_SECONDS)
        return d

    def arrived(self, now: float) -> None:
        st = self.stats
        st.rate.add(now)
        st.in_flight += 1
        if st.in_flight > st.max_in_flight:
            st.max_in_flight = st.in_flight

    def alloc_id(self) -> int | None:
        pending = self.pending
        if len(pending) >= 65536:
            return None
        i = self.next_id
        while i in pending:
            i = (i + 1) & 0xFFFF
        self.next_id = (i + 1) & 0xFFFF
        return i


class _Front(asyncio.DatagramProtocol):
    """The listening UDP socket of a route: queries in, answers out."""

    def __init__(self, r: _Route, loop: asyncio.AbstractEventLoop) -> None:
        self.r = r
        self.loop = loop

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        r = self.r
        st = r.stats
        now = self.loop.time()
        st.queries_udp += 1
        if len(data) < 12 or data[2] & 0x80:  # too short, or not a query
            st.malformed += 1
            return
        r.arrived(now)
        if r.loss and r.loss_rng.random() < r.loss:
            st.dropped_loss += 1
            st.in_flight -= 1
            return
        if r.fault == "rrl":
            seen = r.rrl_seen
            seen[addr[0]] += 1
            if seen[addr[0]] % 2 == 0:
                st.dropped_rrl += 1
                st.in_flight -= 1
                return
        elif r.fault == "formerr-edns" and has_edns(data):
            try:
                reply = formerr(data)
            except ValueError:
                st.malformed += 1
                st.in_flight -= 1
                return
            st.formerr += 1
            self._answer(reply, addr, r.delay() + r.answer_delay())
            return
        new_id = r.alloc_id()
        if new_id is None or r.back is None:
            st.unanswered += 1
            st.in_flight -= 1
            return
        r.pending[new_id] = (addr, data[:2], now)
        packet = struct.pack("!H", new_id) + data[2:]
        d = r.delay()
        if d > 0:
            self.loop.call_later(d, r.back.sendto, packet)
        else:
            r.back.sendto(packet)

    def _answer(self, reply: bytes, addr: tuple[str, int], delay: float) -> None:
        if delay > 0:
            self.loop.call_later(delay, self._send, reply, addr)
        else:
            self._send(reply, addr)

    def _send(self, reply: bytes, addr: tuple[str, int]) -> None:
        r = self.r
        r.stats.in_flight -= 1
        r.stats.answered += 1
        if r.front is not None:
            r.front.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an answer to a client that left: nothing to do


class _Back(asyncio.DatagramProtocol):
    """A route's UDP socket connected to the backend server: answers come back here."""

    def __init__(self, r: _Route, front: _Front) -> None:
        self.r = r
        self.front = front

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        r = self.r
        if len(data) < 12:
            r.stats.stray_answers += 1
            return
        entry = r.pending.pop((data[0] << 8) | data[1], None)
        if entry is None:  # late (expired) or not ours
            r.stats.stray_answers += 1
            return
        client, client_id, _ = entry
        reply = client_id + data[2:]
        if r.fault == "truncate":
            try:
                reply = truncated(reply)
            except ValueError:
                r.stats.malformed += 1
            else:
                r.stats.truncated += 1
        self.front._answer(reply, client, r.answer_delay())

    def error_received(self, exc: Exception) -> None:
        pass  # the backend is down (ICMP port unreachable): its queries expire as unanswered


class Shim:
    """The relay for every route of a :class:`ShimConfig`, on the running event loop."""

    def __init__(self, config: ShimConfig) -> None:
        self.config = config
        self.routes = [_Route(r, config.seed) for r in config.routes]
        self.started = datetime.now(UTC)
        self.writes = 0
        self.cpu_at_ready = 0.0
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind every route's sockets (UDP, and TCP unless ``no-tcp``); raises OSError."""
        loop = asyncio.get_running_loop()
        for r in self.routes:
            route = r.route
            front = _Front(r, loop)
            r.front, _ = await loop.create_datagram_endpoint(
                lambda front=front: front, local_addr=(route.listen, route.port)
            )
            r.back, _ = await loop.create_datagram_endpoint(
                lambda r=r, front=front: _Back(r, front),
                remote_addr=(route.backend, route.backend_port),
            )
            for end in (r.front, r.back):
                _large_receive_buffer(end.get_extra_info("socket"))
            if route.fault != "no-tcp":
                server = await asyncio.start_server(
                    lambda rd, wr, r=r: self._tcp(r, rd, wr),
                    host=route.listen,
                    port=route.port,
                    reuse_address=True,
                )
                self._servers.append(server)
        task = loop.create_task(self._sweep())
        self._tasks.add(task)
        self.cpu_at_ready = time.process_time()

    async def _sweep(self) -> None:
        """Once a second, count UDP queries the server never answered and forget them."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            limit = loop.time() - PENDING_TTL
            for r in self.routes:
                old = []
                for key, (_, _, t) in r.pending.items():  # insertion order is arrival order
                    if t > limit:
                        break
                    old.append(key)
                for key in old:
                    del r.pending[key]
                r.stats.unanswered += len(old)
                r.stats.in_flight -= len(old)

    async def _tcp(
        self, r: _Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Relay one TCP connection message by message, each direction delayed in order."""
        st = r.stats
        st.tcp_connections += 1
        loop = asyncio.get_running_loop()
        route = r.route
        try:
            up_reader, up_writer = await asyncio.open_connection(route.backend, route.backend_port)
        except OSError:
            st.tcp_backend_errors += 1
            writer.close()
            return
        to_client: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        to_server: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        outstanding = 0
        idle = asyncio.Event()
        idle.set()
        last = {"in": 0.0, "out": 0.0}

        def release(direction: str, delay: float) -> float:
            t = max(loop.time() + delay, last[direction])
            last[direction] = t
            return t

        def answered() -> None:
            nonlocal outstanding
            if outstanding > 0:
                outstanding -= 1
                st.in_flight -= 1
                st.answered += 1
            if outstanding == 0:
                idle.set()

        async def pump(
            queue: asyncio.Queue[tuple[float, bytes | None]],
            out: asyncio.StreamWriter,
            is_answer: bool,
        ) -> None:
            while True:
                when, frame = await queue.get()
                if frame is None:
                    return
                wait = when - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                out.write(frame)
                if is_answer:
                    answered()

        async def answers() -> None:
            while True:
                try:
                    (length,) = struct.unpack("!H", await up_reader.readexactly(2))
                    msg = await up_reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                to_client.put_nowait(
                    (release("out", r.answer_delay()), struct.pack("!H", length) + msg)
                )

        tasks = [
            loop.create_task(pump(to_server, up_writer, False)),
            loop.create_task(pump(to_client, writer, True)),
            loop.create_task(answers()),
        ]
        try:
            while True:
                try:
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    msg = await reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                st.queries_tcp += 1
                if length < 12:
                    st.malformed += 1
                    continue
                r.arrived(loop.time())
                outstanding += 1
                idle.clear()
                if r.fault == "formerr-edns" and has_edns(msg):
                    try:
                        reply = formerr(msg)
                    except ValueError:
                        st.malformed += 1
                        answered()
                        continue
                    st.formerr += 1
                    when = release("out", r.delay() + r.answer_delay())
                    to_client.put_nowait((when, struct.pack("!H", len(reply)) + reply))
                    continue
                to_server.put_nowait((release("in", r.delay()), struct.pack("!H", length) + msg))
            # the client sent everything: deliver what the server still owes it (bounded)
            try:
                await asyncio.wait_for(idle.wait(), PENDING_TTL)
            except TimeoutError:
                pass
        finally:
            to_server.put_nowait((0.0, None))
            to_client.put_nowait((0.0, None))
            for t in tasks[:2]:
                try:
                    await asyncio.wait_for(t, 1.0)
                except (TimeoutError, ConnectionError, asyncio.CancelledError):
                    pass
            tasks[2].cancel()
            st.unanswered += outstanding
            st.in_flight -= outstanding
            for w in (writer, up_writer):
                w.close()

    def snapshot(self) -> dict[str, Any]:
        """The stats document (see the module docstring)."""
        routes = {}
        relayed = 0
        for r in self.routes:
            doc = {
                "backend": f"{r.route.backend}:{r.route.backend_port}",
                "rtt_ms": r.route.rtt_ms,
                "jitter_ms": r.route.jitter_ms,
                "loss": r.route.loss,
                "fault": r.route.fault,
                **r.stats.to_json(),
            }
            relayed += r.stats.queries_udp + r.stats.queries_tcp
            routes[f"{r.route.listen}:{r.route.port}" if r.route.port != 53 else r.route.listen] = (
                doc
            )
        cpu = time.process_time() - self.cpu_at_ready
        return {
            "format_version": FORMAT_VERSION,
            "pid": os.getpid(),
            "ready": True,
            "started": self.started.isoformat(),
            "written": datetime.now(UTC).isoformat(),
            "writes": self.writes,
            "cpu_s": round(cpu, 3),  # since ready: the interpreter's start-up is not counted
            "queries": relayed,
            "cpu_s_per_10k_queries": round(cpu / relayed * 10_000, 3) if relayed else None,
            "routes": routes,
        }

    def write_stats(self) -> None:
        """Write :meth:`snapshot` to the stats file (atomically: temporary file, rename)."""
        self.writes += 1
        path = self.config.stats
        # not fsynced: rewritten every second, read by the lab on this machine only
        write_atomic(path, json.dumps(self.snapshot(), indent=2) + "\n", durable=False)

    async def close(self) -> None:
        """Stop listening and close every socket."""
        for task in self._tasks:
            task.cancel()
        for server in self._servers:
            server.close()
        for r in self.routes:
            for t in (r.front, r.back):
                if t is not None:
                    t.close()


async def serve(config: ShimConfig) -> None:
    """Run the shim until SIGTERM or SIGINT; stats written when ready, on SIGUSR1 and at the end."""
    loop = asyncio.get_running_loop()
    shim = Shim(config)
    stop = asyncio.Event()
    await shim.start()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, shim.write_stats)
    shim.write_stats()
    try:
        await stop.wait()
    finally:
        await shim.close()
        shim.write_stats()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit.lab.shim CONFIG.json``: run the shim; exit code 1 with one line on
    a bad config or an address that cannot be bound."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m toolkit.lab.shim CONFIG.json", file=sys.stderr)
        return 2
    try:
        config = ShimConfig.from_json(json.loads(Path(args[0]).read_text()))
        asyncio.run(serve(config))
    except (OSError, ValueError, LabError) as exc:
        print(f"shim: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
