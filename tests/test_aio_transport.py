"""The asynchronous sender against real sockets on loopback: answers are taken only from the
server asked, with our id and our question; truncation falls back to TCP; the per-server
politeness limits hold; a silent server is marked down; an unroutable family fails at once.

Timings are asserted only as lower bounds (a busy machine makes everything slower, never
faster)."""

from __future__ import annotations

import asyncio
import heapq
import math
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest

from toolkit.collect.aio_transport import (
    MIN_TIMEOUT,
    URGENT,
    AioTransport,
    Budget,
    ParsedAnswers,
    ServerState,
    answers,
)
from toolkit.collect.transport import (
    ANSWERS_PER_S,
    INFLIGHT_FLOOR,
    QUERIES,
    Clock,
    Exchange,
    TransportConfig,
    make_query,
)

CLOCK = Clock(datetime(2026, 11, 28, tzinfo=UTC))
FAST = TransportConfig(timeout=0.5, tries=1)


def answer(wire: bytes, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    r = dns.message.make_response(dns.message.from_wire(wire))
    r.flags |= dns.flags.AA
    r.set_rcode(rcode)
    return r


def udp_socket(address: str = "127.0.0.1", port: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, port))
    return s


def serve(
    sock: socket.socket, handle: Callable[[bytes, tuple], None], count: int
) -> threading.Thread:
    """Answer the first ``count`` datagrams on ``sock`` with ``handle(data, peer)``."""
    sock.settimeout(5)

    def run() -> None:
        try:
            for _ in range(count):
                data, peer = sock.recvfrom(4096)
                handle(data, peer)
        except OSError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def ask(transport_config: TransportConfig, port: int, *questions: tuple[str, str], **kw):
    """Send ``questions`` at once to 127.0.0.1:port; the exchanges and the transport."""

    async def main():
        async with AioTransport(transport_config) as t:
            exchanges = await asyncio.gather(
                *(
                    t.send(
                        q,
                        qt,
                        kw.get("server", "127.0.0.1"),
                        clock=CLOCK,
                        port=port,
                        log=kw.get("log"),
                    )
                    for q, qt in questions
                )
            )
            return exchanges, t

    return asyncio.run(main())


# -- matching --------------------------------------------------------------------------------


def test_answer_with_another_id_is_rejected_and_the_right_one_taken():
    sock = udp_socket()

    def handle(data: bytes, peer: tuple) -> None:
        wrong = answer(data, dns.rcode.REFUSED)
        wrong.id = (wrong.id + 1) % 65536
        sock.sendto(wrong.to_wire(), peer)
        sock.sendto(answer(data).to_wire(), peer)

    t = serve(sock, handle, 1)
    (ex,), transport = ask(FAST, sock.getsockname()[1], ("corp.test.", "SOA"))
    t.join()
    sock.close()
    assert (ex.error, ex.rcode, ex.aa) == (None, "NOERROR", True)
    assert transport.rejected == {"unexpected source or id": 1}


def test_answer_from_another_port_or_address_is_rejected():
    sock = udp_socket()
    port = sock.getsockname()[1]
    other_port = udp_socket()
    other_address = udp_socket("127.0.0.2", port)  # the right port on the wrong address

    def handle(data: bytes, peer: tuple) -> None:
        forged = answer(data, dns.rcode.NXDOMAIN).to_wire()
        other_port.sendto(forged, peer)
        other_address.sendto(forged, peer)
        time.sleep(0.05)  # the forgeries arrive first
        sock.sendto(answer(data).to_wire(), peer)

    t = serve(sock, handle, 1)
    (ex,), transport = ask(FAST, port, ("corp.test.", "SOA"))
    t.join()
    for s in (sock, other_port, other_address):
        s.close()
    assert (ex.error, ex.rcode) == (None, "NOERROR")
    assert transport.rejected == {"unexpected source or id": 2}


def test_answer_to_another_question_is_rejected_then_the_query_times_out():
    sock = udp_socket()

    def handle(data: bytes, peer: tuple) -> None:
        q = dns.message.from_wire(data)
        other = dns.message.make_query("evil.test.", "A")
        other.id = q.id
        sock.sendto(dns.message.make_response(other).to_wire(), peer)

    t = serve(sock, handle, 1)
    (ex,), transport = ask(FAST, sock.getsockname()[1], ("corp.test.", "SOA"))
    t.join()
    sock.close()
    # never taken as the answer; the time-out row says what came instead
    assert ex.response is None and ex.error == "mismatched answer"
    assert transport.rejected == {"wrong question": 1}


def test_garbage_from_the_server_is_a_malformed_observation():
    sock = udp_socket()
    t = serve(sock, lambda q, peer: sock.sendto(q[:2] + b"\x81\x80\xff\xff junk", peer), 1)
    (ex,), transport = ask(FAST, sock.getsockname()[1], ("corp.test.", "SOA"))
    t.join()
    sock.close()
    assert ex.response is None and ex.error.startswith("malformed answer")
    assert transport.rejected["malformed"] == 1


def test_identical_answers_are_parsed_once_and_each_keeps_its_own_id():
    q1 = dns.message.make_query("corp.test.", "DNSKEY", want_dnssec=True)
    q2 = dns.message.make_query("corp.test.", "DNSKEY", want_dnssec=True)
    q2.id = (q1.id + 1) % 65536
    a1, a2 = answer(q1.to_wire()), answer(q2.to_wire())
    assert a1.to_wire()[2:] == a2.to_wire()[2:]  # two servers, the same bytes but the id
    parsed = ParsedAnswers(size=8)
    r1 = parsed.parse(a1.to_wire(), q1)
    r2 = parsed.parse(a2.to_wire(), q2)
    assert parsed.hits == 1
    assert (r1.id, r2.id) == (q1.id, q2.id)
    assert q1.is_response(r1) and q2.is_response(r2)
    assert not q1.is_response(r2)  # the twin is not taken for the other query's answer
    assert r2.to_wire() == a2.to_wire() and r1.to_wire() == a1.to_wire()
    # another answer (other rcode) is parsed on its own
    r3 = parsed.parse(answer(q1.to_wire(), dns.rcode.SERVFAIL).to_wire(), q1)
    assert (parsed.hits, r3.rcode()) == (1, dns.rcode.SERVFAIL)


def _reply(query: dns.message.Message, change: str) -> dns.message.Message:
    """An answer to ``query`` as a server sends it (parsed back from the wire), then changed."""
    r = dns.message.from_wire(answer(query.to_wire()).to_wire())
    if change == "no QR":
        r.flags &= ~dns.flags.QR
    elif change == "other id":
        r.id = (query.id + 1) % 65536
    elif change == "other opcode":
        r.set_opcode(dns.opcode.NOTIFY)
    elif change == "other name":
        r.question[0] = dns.rrset.RRset(
            dns.name.from_text("other.test."), r.question[0].rdclass, r.question[0].rdtype
        )
    elif change == "name in other case":
        r.question[0] = dns.rrset.RRset(
            dns.name.from_text("CORP.Test."), r.question[0].rdclass, r.question[0].rdtype
        )
    elif change == "other type":
        r.question[0] = dns.rrset.RRset(r.question[0].name, r.question[0].rdclass, dns.rdatatype.A)
    elif change == "other class":
        r.question[0] = dns.rrset.RRset(r.question[0].name, dns.rdataclass.CH, r.question[0].rdtype)
    elif change in ("FORMERR, no question", "NOERROR, no question"):
        r.set_rcode(dns.rcode.FORMERR if change.startswith("FORMERR") else dns.rcode.NOERROR)
        r.question.clear()
        r.index.clear()
    elif change == "two questions":
        r.question.append(dns.rrset.RRset(dns.name.from_text("b.test."), 1, dns.rdatatype.A))
    elif change == "read with an origin":
        r = dns.message.from_wire(r.to_wire(), origin=dns.name.from_text("test."))
    return r


@pytest.mark.parametrize(
    "change",
    [
        "none",
        "no QR",
        "other id",
        "other opcode",
        "other name",
        "name in other case",
        "other type",
        "other class",
        "FORMERR, no question",
        "NOERROR, no question",
        "two questions",
        "read with an origin",
    ],
)
@pytest.mark.parametrize("made", ["make_query", "templates"])
def test_answers_is_dnspythons_is_response(change: str, made: str):
    """The quick check decides every pair as Message.is_response does."""
    if made == "templates":
        query = QUERIES.make("corp.test.", "DNSKEY", recursion=False)
    else:
        query = make_query("corp.test.", "DNSKEY", recursion=False)
    r = _reply(query, change)
    assert answers(query, r) == query.is_response(r)
    if change in ("none", "name in other case", "FORMERR, no question", "read with an origin"):
        assert answers(query, r)  # the cases dnspython takes: not a vacuous comparison
    else:
        assert not answers(query, r)


def test_the_parsed_answers_are_bounded_and_never_kept_for_tsig():
    parsed = ParsedAnswers(size=2)
    queries = [dns.message.make_query(f"z{i}.test.", "SOA") for i in range(3)]
    for q in queries:
        parsed.parse(answer(q.to_wire()).to_wire(), q)
    parsed.parse(answer(queries[0].to_wire()).to_wire(), queries[0])  # the oldest went
    assert parsed.hits == 0
    parsed.parse(answer(queries[2].to_wire()).to_wire(), queries[2])
    assert parsed.hits == 1
    keyring = dns.tsigkeyring.from_text({"k.": "c2VjcmV0c2VjcmV0c2VjcmV0"})
    signed = dns.message.make_query("corp.test.", "SOA")
    signed.use_tsig(keyring, keyname="k.")
    signed.to_wire()  # computes the request MAC
    reply = dns.message.make_response(signed)
    for _ in range(2):
        r = parsed.parse(reply.to_wire(), signed)
        assert r.had_tsig
    assert parsed.hits == 1


def test_two_servers_answering_the_same_bytes_cost_one_parse_on_the_wire():
    sock = udp_socket()
    t = serve(sock, lambda q, peer: sock.sendto(answer(q).to_wire(), peer), 2)
    exchanges, transport = ask(
        FAST, sock.getsockname()[1], ("corp.test.", "SOA"), ("corp.test.", "SOA")
    )
    t.join()
    sock.close()
    assert [(ex.error, ex.rcode) for ex in exchanges] == [(None, "NOERROR")] * 2
    assert exchanges[0].response.id != exchanges[1].response.id
    assert transport.parsed.hits == 1


def test_truncated_udp_answer_is_asked_again_over_tcp():
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    port = tcp.getsockname()[1]
    tcp.listen(1)
    tcp.settimeout(5)
    udp = udp_socket(port=port)

    def truncated(data: bytes, peer: tuple) -> None:
        r = answer(data)
        r.flags |= dns.flags.TC
        udp.sendto(r.to_wire(), peer)
        conn, _ = tcp.accept()
        with conn:
            length = int.from_bytes(conn.recv(2), "big")
            wire = answer(conn.recv(length), dns.rcode.NXDOMAIN).to_wire()
            conn.sendall(len(wire).to_bytes(2, "big") + wire)

    t = serve(udp, truncated, 1)
    seen = []
    (ex,), _ = ask(FAST, port, ("corp.test.", "SOA"), log=seen.append)
    t.join()
    udp.close()
    tcp.close()
    assert [(e.transport, e.tc) for e in seen] == [("udp", True), ("tcp", False)]
    assert (ex.transport, ex.rcode, ex.error) == ("tcp", "NXDOMAIN", None)


def ask_tcp(port: int, reply: Callable[[socket.socket], None] | None) -> Exchange:
    """One TCP-only question to 127.0.0.1:port, where ``reply`` serves the one connection
    (None: nothing listens)."""
    listener = None
    if reply is not None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        listener.settimeout(5)

        def run() -> None:
            conn, _ = listener.accept()
            with conn:
                reply(conn)

        t = threading.Thread(target=run, daemon=True)
        t.start()

    async def main() -> Exchange:
        async with AioTransport(FAST) as tr:
            return await tr.send("corp.test.", "SOA", "127.0.0.1", clock=CLOCK, port=port,
                                 tcp_only=True)  # fmt: skip

    try:
        return asyncio.run(main())
    finally:
        if listener is not None:
            t.join()
            listener.close()


def free_tcp_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_tcp_answers_errors_and_a_short_answer_are_named_as_before():
    """Over TCP: an answer (its length first), a connection closed halfway through the answer
    (EOFError, as the synchronous sender names it), a refused connection, another question's
    answer (mismatched)."""

    def full(conn: socket.socket) -> None:
        length = int.from_bytes(conn.recv(2), "big")
        wire = answer(conn.recv(length), dns.rcode.NXDOMAIN).to_wire()
        conn.sendall(len(wire).to_bytes(2, "big") + wire[:5])
        time.sleep(0.05)  # the answer in two segments: read until whole
        conn.sendall(wire[5:])

    def half(conn: socket.socket) -> None:
        length = int.from_bytes(conn.recv(2), "big")
        wire = answer(conn.recv(length)).to_wire()
        conn.sendall(len(wire).to_bytes(2, "big") + wire[: len(wire) // 2])

    def other(conn: socket.socket) -> None:
        length = int.from_bytes(conn.recv(2), "big")
        q = dns.message.from_wire(conn.recv(length))
        wrong = dns.message.make_query("other.test.", "SOA")
        wrong.id = q.id
        wire = dns.message.make_response(wrong).to_wire()
        conn.sendall(len(wire).to_bytes(2, "big") + wire)

    ex = ask_tcp(free_tcp_port(), full)
    assert (ex.transport, ex.rcode, ex.error) == ("tcp", "NXDOMAIN", None)
    assert ask_tcp(free_tcp_port(), half).error == "EOFError"
    assert ask_tcp(free_tcp_port(), None).error == "refused"
    assert ask_tcp(free_tcp_port(), other).error == "mismatched answer"


# -- politeness --------------------------------------------------------------------------------


class HoldingServer:
    """Answers every query after ``hold`` seconds, counting the most queries it held at once."""

    def __init__(self, hold: float) -> None:
        self.sock = udp_socket()
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.hold = hold
        self.held: list[tuple[float, int, bytes, tuple]] = []
        self.most = 0
        self.received = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop:
            wait = max(0.0, self.held[0][0] - time.monotonic()) if self.held else 0.05
            readable, _, _ = select.select([self.sock], [], [], wait)
            if readable:
                data, peer = self.sock.recvfrom(4096)
                self.received += 1
                n += 1
                heapq.heappush(self.held, (time.monotonic() + self.hold, n, data, peer))
                self.most = max(self.most, len(self.held))
            while self.held and self.held[0][0] <= time.monotonic():
                _, _, data, peer = heapq.heappop(self.held)
                self.sock.sendto(answer(data).to_wire(), peer)

    def stop(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


def test_a_server_never_sees_more_queries_in_flight_than_the_cap():
    server = HoldingServer(hold=0.05)
    config = TransportConfig(timeout=2.0, tries=1, max_inflight_per_server=4, max_qps_per_server=0)
    questions = [(f"z{i}.test.", "SOA") for i in range(60)]
    exchanges, transport = ask(config, server.port, *questions)
    server.stop()
    assert all(ex.error is None for ex in exchanges)
    assert server.received == 60
    assert server.most <= 4
    assert server.most >= 2  # the queries did overlap, up to the cap
    assert transport.servers["127.0.0.1"].max_inflight <= 4


def test_the_rate_limit_spreads_queries_over_time():
    server = HoldingServer(hold=0.0)
    config = TransportConfig(timeout=2.0, tries=1, max_inflight_per_server=5, max_qps_per_server=50)
    t0 = time.monotonic()
    exchanges, _ = ask(config, server.port, *[(f"z{i}.test.", "SOA") for i in range(30)])
    elapsed = time.monotonic() - t0
    server.stop()
    assert all(ex.error is None for ex in exchanges)
    assert elapsed >= (30 - 5) / 50 * 0.95  # a burst of 5, then 50 per second at most


def test_many_queries_in_flight_to_an_unlimited_server_overlap():
    server = HoldingServer(hold=0.2)
    config = TransportConfig(timeout=2.0, tries=1, max_inflight_per_server=0, max_qps_per_server=0)
    exchanges, _ = ask(config, server.port, *[(f"z{i}.test.", "SOA") for i in range(300)])
    server.stop()
    assert all(ex.error is None for ex in exchanges)
    assert server.most >= 100  # hundreds in flight at once over a few sockets


def test_the_process_budget_grows_with_the_round_trip_and_stays_at_the_floor_on_short_ones():
    """Little's law: at 0.3 s a process needs ANSWERS_PER_S x 0.3 = 900 questions in flight to
    stay busy, more than the short-trip floor of 384; at 10 ms it keeps to the floor."""
    count = INFLIGHT_FLOOR * 3
    config = TransportConfig(
        timeout=3.0, tries=1, max_inflight=2048, max_inflight_per_server=0, max_qps_per_server=0
    )
    far = HoldingServer(hold=0.3)
    far.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    exchanges, transport = ask(config, far.port, *[(f"z{i}.test.", "SOA") for i in range(count)])
    far.stop()
    # (this one-thread server sends ~900 answers in one burst, many after the adaptive
    # timeout of a round trip that never varies: those time out; only the budget is judged)
    assert far.received == count
    assert sum(ex.error is None for ex in exchanges) >= INFLIGHT_FLOOR
    assert far.most > INFLIGHT_FLOOR
    assert transport.max_inflight <= min(2048, math.ceil(ANSWERS_PER_S * 0.6))
    assert transport.budget() > INFLIGHT_FLOOR
    near = HoldingServer(hold=0.01)
    near.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    exchanges, transport = ask(config, near.port, *[(f"z{i}.test.", "SOA") for i in range(count)])
    near.stop()
    assert near.received == count
    assert near.most <= INFLIGHT_FLOOR
    assert transport.budget() == INFLIGHT_FLOOR
    capped = TransportConfig(timeout=3.0, tries=1, max_inflight=100, max_inflight_per_server=0)
    far = HoldingServer(hold=0.3)
    exchanges, transport = ask(capped, far.port, *[(f"z{i}.test.", "SOA") for i in range(300)])
    far.stop()
    assert far.received == 300
    assert far.most <= 100 and transport.budget() == 100  # the configured cap is a cap


def test_the_budget_lets_urgent_waiters_first_follows_its_size_and_passes_on_cancelled_slots():
    async def main():
        b = Budget(1)
        await b.acquire()
        order = []

        async def waiter(name, urgent=False):
            token = URGENT.set(urgent)
            try:
                await b.acquire(URGENT.get())
                order.append(name)
            finally:
                URGENT.reset(token)

        tasks = [asyncio.create_task(waiter(n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(waiter("urgent", urgent=True)))
        doomed = asyncio.create_task(waiter("cancelled"))
        await asyncio.sleep(0)
        assert b.used == 1 and order == []
        b.release()  # one slot: the urgent waiter, though it came after a and b
        await asyncio.sleep(0)
        assert order == ["urgent"]
        b.resize(3)  # two more slots: a and b, in their order
        await asyncio.sleep(0)
        assert order == ["urgent", "a", "b"] and b.used == 3
        doomed.cancel()
        await asyncio.gather(*tasks)
        await asyncio.gather(doomed, return_exceptions=True)
        b.release()
        b.release()
        b.release()
        assert b.used == 0
        b.resize(1)
        await b.acquire()  # a cancelled waiter never holds a slot
        assert b.used == 1

    asyncio.run(main())


# -- patience ----------------------------------------------------------------------------------


def test_the_timeout_follows_the_smoothed_round_trip_and_backs_off():
    st = ServerState(slots=None)
    assert st.timeout(2.0) == 2.0  # nothing known yet: the configured timeout
    for _ in range(20):
        st.answered(0.010)
    assert st.timeout(2.0) == MIN_TIMEOUT  # SRTT + 4 RTTVAR is far below the floor
    for _ in range(20):
        st.answered(0.500)
    assert 0.5 < st.timeout(2.0) < 2.0
    before = st.timeout(2.0)
    st.timed_out(down_after=10)
    assert st.timeout(2.0) == min(2.0, before * 2)
    st.answered(0.5)
    assert (st.timeouts, st.backoff) == (0, 1.0)


def test_losses_from_a_server_that_answers_meanwhile_never_mark_it_down():
    st = ServerState(slots=None)
    st.answered(0.01, at=100.0)
    for _ in range(10):  # a burst lost, all sent before the last answer came
        st.timed_out(down_after=3, sent=99.0)
    assert st.down is None and st.timeouts == 0
    for _ in range(3):  # nothing answered since these were sent: the server is gone
        st.timed_out(down_after=3, sent=101.0)
    assert st.down == "server down (3 consecutive timeouts): not asked"


def test_a_silent_server_is_marked_down_and_later_queries_are_not_sent():
    sock = udp_socket()
    received = []
    t = serve(sock, lambda data, peer: received.append(data), 10)
    config = TransportConfig(timeout=0.2, tries=2, down_after=3, max_qps_per_server=0)

    async def main():
        async with AioTransport(config) as tr:
            first = await tr.send("a.test.", "SOA", "127.0.0.1", clock=CLOCK, port=port)
            second = await tr.send("b.test.", "SOA", "127.0.0.1", clock=CLOCK, port=port)
            t0 = time.monotonic()
            third = await tr.send("c.test.", "SOA", "127.0.0.1", clock=CLOCK, port=port)
            return first, second, third, time.monotonic() - t0

    port = sock.getsockname()[1]
    first, second, third, _ = asyncio.run(main())
    time.sleep(0.1)
    sock.close()
    t.join()
    assert (first.error, second.error) == (
        "timeout",
        "server down (3 consecutive timeouts): not asked",
    )
    assert third.error == second.error and third.latency_ms is None and third.response is None
    assert len(received) == 3  # two tries of a., one of b.; nothing after the address was down


def holding_server_with_tcp_on_its_port(tries: int = 20) -> tuple[HoldingServer, socket.socket]:
    """A :class:`HoldingServer` (UDP, an ephemeral port) and a TCP socket bound to the same
    port number. The UDP port was free, but its TCP twin may be taken by another process on
    a shared machine: then both are given up and another port is drawn."""
    for _ in range(tries):
        server = HoldingServer(hold=0.0)
        tcp = socket.socket()
        try:
            tcp.bind(("127.0.0.1", server.port))
        except OSError:
            tcp.close()
            server.stop()
            continue
        return server, tcp
    raise RuntimeError(f"no port free for both UDP and TCP in {tries} tries")


def test_tcp_only_questions_keep_the_caps_and_their_timeouts_never_mark_a_server_down():
    """The audit's TCP probe to a server whose TCP is black-holed (connections accepted by
    the kernel, never answered): every TCP-only question times out, at most the in-flight cap
    at once, and the address stays up for the UDP questions that follow."""
    server, tcp = holding_server_with_tcp_on_its_port()
    tcp.listen(16)  # never accepted: the handshake completes, no answer ever comes
    config = TransportConfig(
        timeout=0.3,
        tries=1,
        down_after=2,
        max_inflight_per_server=2,
        max_qps_per_server=0,
    )

    async def main():
        async with AioTransport(config) as tr:
            tcp_only = await asyncio.gather(
                *(
                    tr.send(f"t{i}.test.", "SOA", "127.0.0.1", clock=CLOCK, port=server.port,
                            tcp_only=True)
                    for i in range(4)
                )
            )  # fmt: skip
            udp = await tr.send("u.test.", "SOA", "127.0.0.1", clock=CLOCK, port=server.port)
            return tcp_only, udp, tr.servers["127.0.0.1"]

    try:
        tcp_only, udp, st = asyncio.run(main())
    finally:
        server.stop()
        tcp.close()
    assert [(e.transport, e.error) for e in tcp_only] == [("tcp", "timeout")] * 4
    assert st.max_inflight == 2  # the TCP questions waited for the per-server cap
    assert (udp.transport, udp.error, udp.rcode) == ("udp", None, "NOERROR")
    assert st.down is None and st.backoff == 1.0


class TcpServer:
    """A DNS-over-TCP server on 127.0.0.1: ``handle(conn)`` serves each connection in a
    thread of its own; counts the connections accepted."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.handle = handle
        self.accepted = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                conn, _ = self.listener.accept()
                with self.lock:
                    self.accepted += 1
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        except OSError:
            pass

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        finally:
            conn.close()

    def close(self) -> None:
        self.listener.close()


def read_message(conn: socket.socket) -> bytes:
    """One length-prefixed message from a TCP connection (b"" at the end of the stream)."""
    head = b""
    while len(head) < 2:
        chunk = conn.recv(2 - len(head))
        if not chunk:
            return b""
        head += chunk
    length = int.from_bytes(head, "big")
    data = b""
    while len(data) < length:
        chunk = conn.recv(length - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def framed(message: dns.message.Message) -> bytes:
    wire = message.to_wire()
    return len(wire).to_bytes(2, "big") + wire


def ask_tcp_many(config: TransportConfig, port: int, count: int, pause: float = 0.0):
    """``count`` TCP-only questions (t0.test. ... SOA) to 127.0.0.1:port at once, then, after
    ``pause`` seconds, one more (last.test.); returns the exchanges and the transport."""

    async def main():
        async with AioTransport(config) as tr:
            first = await asyncio.gather(
                *(
                    tr.send(f"t{i}.test.", "SOA", "127.0.0.1", clock=CLOCK, port=port,
                            tcp_only=True)
                    for i in range(count)
                )
            )  # fmt: skip
            await asyncio.sleep(pause)
            last = await tr.send("last.test.", "SOA", "127.0.0.1", clock=CLOCK, port=port,
                                 tcp_only=True)  # fmt: skip
            return [*first, last], tr

    return asyncio.run(main())


def served_tcp(handle: Callable[[socket.socket], None], config: TransportConfig, count: int):
    """:func:`ask_tcp_many` against a :class:`TcpServer` serving ``handle``: the exchanges,
    the transport and the (closed) server."""
    server = TcpServer(handle)
    try:
        exchanges, tr = ask_tcp_many(config, server.port, count)
    finally:
        server.close()
    return exchanges, tr, server


def test_tcp_questions_share_one_pipelined_connection_answered_in_any_order():
    """RFC 7766 §6.2.1.1 and §7: eight TCP questions to one server go out on one connection
    without waiting for each other's answers (the server reads all eight before it answers
    any), and answers in reverse order are matched to their questions by id and question.
    A later question reuses the open connection."""
    seen_before_answering = []

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        queries = [read_message(conn) for _ in range(8)]
        seen_before_answering.append(sum(1 for q in queries if q))
        for q in reversed(queries):
            conn.sendall(framed(answer(q)))
        while q := read_message(conn):
            conn.sendall(framed(answer(q)))

    config = TransportConfig(timeout=2.0, tries=1, max_qps_per_server=0)
    exchanges, tr, server = served_tcp(handle, config, 8)
    assert seen_before_answering == [8]
    assert server.accepted == 1
    assert [(e.transport, e.error, e.rcode) for e in exchanges] == [("tcp", None, "NOERROR")] * 9
    assert [e.response.question[0].name.to_text() for e in exchanges] == [
        *(f"t{i}.test." for i in range(8)),
        "last.test.",
    ]
    assert not tr.rejected


def test_a_server_closing_after_each_answer_gets_the_other_questions_on_new_connections():
    """A server that answers one question per connection and then closes it (gracefully): the
    questions still waiting on the closed connection are asked again on a new one (opened
    once the old one is closed: the server's own count may overlap them by a thread switch),
    each timed from its new connection, so none times out though the last is answered 0.8 s
    after it was first written (timeout 0.5 s)."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        q = read_message(conn)
        time.sleep(0.1)
        conn.sendall(framed(answer(q)))
        conn.shutdown(socket.SHUT_WR)
        while read_message(conn):  # the other questions, then the client's close
            pass

    config = TransportConfig(timeout=0.5, tries=1, max_qps_per_server=0)
    exchanges, _, server = served_tcp(handle, config, 8)
    assert [(e.transport, e.error, e.rcode) for e in exchanges] == [("tcp", None, "NOERROR")] * 9
    assert server.accepted == 9  # one connection per answer: each opened after the last closed
    assert all(e.latency_ms < 500 for e in exchanges)


def test_a_tcp_answer_with_an_unknown_id_is_rejected_and_the_right_one_taken():
    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        while q := read_message(conn):
            stray = answer(q)
            stray.id = (stray.id + 1) % 65536
            conn.sendall(framed(stray) + framed(answer(q, dns.rcode.NXDOMAIN)))

    exchanges, tr, _ = served_tcp(handle, FAST, 1)
    assert [(e.error, e.rcode) for e in exchanges] == [(None, "NXDOMAIN")] * 2
    assert tr.rejected == {"unexpected id (tcp)": 2}


def test_an_idle_tcp_connection_is_closed_and_the_next_question_opens_another(monkeypatch):
    """RFC 7766 §6.2.3: the sender closes a connection idle for TCP_IDLE seconds."""
    import toolkit.collect.aio_transport as aio

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        while q := read_message(conn):
            conn.sendall(framed(answer(q)))

    monkeypatch.setattr(aio, "TCP_IDLE", 0.2)
    server = TcpServer(handle)
    try:
        kept, _ = ask_tcp_many(FAST, server.port, 2, pause=0.0)
        accepted_kept = server.accepted
        closed, _ = ask_tcp_many(FAST, server.port, 2, pause=0.6)
    finally:
        server.close()
    assert [e.error for e in kept + closed] == [None] * 6
    assert accepted_kept == 1  # three questions, one connection
    assert server.accepted - accepted_kept == 2  # the pause outlasted TCP_IDLE


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1)")
def test_without_an_ipv6_route_every_ipv6_address_fails_at_once():
    """In a network namespace of its own (no route at all), the first IPv6 send fails and
    marks the family: the other IPv6 servers are not tried."""
    code = """
import asyncio
from datetime import UTC, datetime
from toolkit.collect.aio_transport import AioTransport
from toolkit.collect.transport import Clock, TransportConfig
async def main():
    async with AioTransport(TransportConfig(timeout=5.0)) as t:
        clock = Clock(datetime.now(UTC))
        addresses = ("2001:db8::1", "2001:db8::2")
        out = [await t.send("a.test.", "SOA", a, clock=clock) for a in addresses]
        print(len(t.unreachable), *(e.error for e in out), sep="|")
asyncio.run(main())
"""
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"no network namespaces here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    marked, first, second = done.stdout.strip().split("|")
    assert marked == "1" and first.startswith("network error (") and second == first
