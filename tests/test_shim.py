"""The network shim: a UDP + TCP relay that makes a lab server slow, lossy or rude.

Pure parts first (DNS wire helpers, the rate window, knob validation), then one real shim
process in front of a real knotd on loopback (``{LAB_TEST_BASE}.200``-``.221``), one route per
behaviour, and finally whole labs behind the shim on ``SECOND_LAB_BASE``. Timing assertions are
lower bounds only: the machine is shared.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from conftest import LAB_TEST_BASE, SECOND_LAB_BASE

from toolkit.errors import LabError
from toolkit.lab import LabInfo, lab_down, lab_up, network, preflight, servers
from toolkit.lab.shim import RateWindow, Route, formerr, has_edns, question_end, truncated
from toolkit.lab.synthetic import synthetic_up

ZONE = "shim.test."
SEED = 7


def _query(name: str = ZONE, *, edns: bool = True, qid: int | None = None) -> dns.message.Message:
    q = dns.message.make_query(name, dns.rdatatype.SOA, use_edns=0 if edns else False)
    q.flags &= ~dns.flags.RD
    if qid is not None:
        q.id = qid
    return q


# -- pure parts ----------------------------------------------------------------------------


def test_wire_helpers_on_real_messages():
    q = _query()
    wire = q.to_wire()
    assert has_edns(wire) and not has_edns(_query(edns=False).to_wire())
    assert (
        question_end(wire) == 12 + len(dns.message.from_wire(wire).question[0].name.to_wire()) + 4
    )

    err = dns.message.from_wire(formerr(wire))
    assert err.id == q.id and err.rcode() == dns.rcode.FORMERR and err.edns == -1
    assert err.flags & dns.flags.QR and err.question == q.question

    answer = dns.message.make_response(q)
    answer.answer.append(
        dns.rrset.from_text(
            ZONE, 60, "IN", "SOA", "ns1.shim.test. host.shim.test. 1 3600 600 86400 300"
        )
    )
    answer.flags |= dns.flags.AA
    cut = dns.message.from_wire(truncated(answer.to_wire()))
    assert cut.flags & dns.flags.TC and cut.flags & dns.flags.AA
    assert cut.answer == [] and cut.additional == [] and cut.question == q.question
    with pytest.raises(ValueError):
        truncated(wire[:14])


def test_rate_window_counts_the_busiest_second():
    w = RateWindow()
    for t in (0.0, 0.1, 0.2, 1.15, 1.3, 1.4, 1.5, 2.6):
        w.add(t)
    assert w.max == 4  # 1.15 .. 1.5 (0.1 and 0.2 have left the window at 1.15)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": 1.5}, "loss must be a share between 0 and 1"),
        ({"loss": -0.1}, "loss must be a share"),
        ({"rtt_ms": -5}, "rtt_ms must lie between 0 and 10,000 ms"),
        ({"jitter_ms": 20_000}, "jitter_ms must lie between"),
        ({"fault": "grumpy"}, "unknown shim fault 'grumpy'"),
        ({"listen": "localhost"}, "is not an IPv4 address"),
    ],
)
def test_bad_knobs_are_refused(kwargs, message):
    args = {"listen": "127.0.0.2", "backend": "127.0.0.3", **kwargs}
    with pytest.raises(LabError, match=message):
        Route(**args)


# -- one shim in front of a real knotd -------------------------------------------------------


def _addr(n: int) -> str:
    return f"{LAB_TEST_BASE}.{n}"


BACKEND = _addr(200)
ROUTES = {  # name -> route; each test has its own listening address
    "delay": Route(_addr(201), BACKEND, rtt_ms=100),
    "jitter": Route(_addr(202), BACKEND, rtt_ms=100, jitter_ms=40),
    "loss": Route(_addr(203), BACKEND, loss=0.3),
    "rrl": Route(_addr(204), BACKEND, fault="rrl"),
    "truncate": Route(_addr(205), BACKEND, fault="truncate"),
    "formerr": Route(_addr(206), BACKEND, fault="formerr-edns"),
    "no-tcp": Route(_addr(207), BACKEND, fault="no-tcp"),
    "slow": Route(_addr(208), BACKEND, fault="slow"),
    "counters": Route(_addr(209), BACKEND, rtt_ms=300),
}
CLIENT_2 = _addr(220)  # a second client source address (RRL counts per client)


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, servers.ProcessRecord]]:
    """knotd serving ``shim.test`` on BACKEND, and one shim process with every route."""
    reason = preflight()
    if reason:
        pytest.fail(f"cannot run the DNS lab: {reason}")
    lab = tmp_path_factory.mktemp("shim")
    (lab / "zone").write_text(
        f"$ORIGIN {ZONE}\n@ 60 IN SOA ns1 host 1 3600 600 86400 300\n@ 60 IN NS ns1\n"
        "ns1 60 IN A 127.0.0.1\n"
    )
    for sub in ("run", "db", "logs"):
        (lab / sub).mkdir()
    conf = lab / "knot.conf"
    conf.write_text(
        servers.knot_config(
            name="backend",
            address=BACKEND,
            rundir=lab / "run",
            dbdir=lab / "db",
            zones={ZONE: lab / "zone"},
        )
    )
    servers.check_address_free(BACKEND)
    argv = [servers.executable("knotd"), "-c", str(conf)]
    knot = servers.start("knot", argv, lab / "logs" / "knot.log", address=BACKEND, probe=ZONE)
    records = [knot]
    try:
        servers.wait_ready([knot], {"knot": lab / "logs" / "knot.log"}, 10)
        rec = network.start(lab, list(ROUTES.values()), probe=(_addr(201), ZONE), seed=SEED)
        records.append(rec)
        yield lab, rec
    finally:
        servers.stop_all(reversed(records))


def _route_stats(lab: Path, rec: servers.ProcessRecord, name: str) -> dict:
    return network.request_stats(rec, lab)["routes"][ROUTES[name].listen]


def _burst(
    address: str, ids: list[int], *, source: str | None = None, wait: float = 1.0
) -> set[int]:
    """Send one query per id from one UDP socket, 20 at a time without waiting for answers
    (so no socket buffer overflows); the ids answered within ``wait`` s after the last."""
    answered: set[int] = set()

    def drain(sock: socket.socket, seconds: float, until: int) -> None:
        deadline = time.monotonic() + seconds
        while len(answered) < until:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            try:
                answered.add(dns.message.from_wire(sock.recv(4096)).id)
            except TimeoutError:
                return

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source or "0.0.0.0", 0))
        for k in range(0, len(ids), 20):
            for i in ids[k : k + 20]:
                sock.sendto(_query(qid=i).to_wire(), (address, 53))
            drain(sock, 0.05, k + 20)
        drain(sock, wait, len(ids))
    return answered


@pytest.mark.lab
def test_added_round_trip_over_udp_and_tcp(shim):
    address = ROUTES["delay"].listen
    for send in (dns.query.udp, dns.query.tcp):
        t0 = time.monotonic()
        r = send(_query(), address, timeout=5)
        assert time.monotonic() - t0 >= 0.100
        assert r.rcode() == dns.rcode.NOERROR and r.answer


@pytest.mark.lab
def test_jitter_stays_above_rtt_minus_jitter(shim):
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        dns.query.udp(_query(), ROUTES["jitter"].listen, timeout=5)
        times.append(time.monotonic() - t0)
    assert min(times) >= 0.060


@pytest.mark.lab
def test_loss_is_seeded_and_within_binomial_tolerance(shim):
    lab, rec = shim
    n, p = 400, ROUTES["loss"].loss
    answered = _burst(ROUTES["loss"].listen, list(range(n)), wait=1.0)
    lost = n - len(answered)
    sd = (n * p * (1 - p)) ** 0.5
    assert abs(lost - n * p) <= 4 * sd, lost
    # the same seed and arrival order drop the same queries (one socket: loopback keeps order)
    rng = random.Random(f"{SEED}/{ROUTES['loss'].listen}/loss")
    assert answered == {i for i in range(n) if not rng.random() < p}
    stats = _route_stats(lab, rec, "loss")
    assert stats["dropped_loss"] == lost and stats["answered"] == len(answered)


@pytest.mark.lab
def test_rrl_drops_every_second_query_of_each_client(shim):
    address = ROUTES["rrl"].listen
    assert _burst(address, list(range(10)), wait=0.5) == {0, 2, 4, 6, 8}
    # another client address has its own count: its first query is answered
    assert _burst(address, [100, 101, 102], source=CLIENT_2, wait=0.5) == {100, 102}
    # TCP is the way around rate limiting
    assert dns.query.tcp(_query(), address, timeout=5).answer


@pytest.mark.lab
def test_truncation_sends_dnspython_to_tcp(shim):
    address = ROUTES["truncate"].listen
    udp = dns.query.udp(_query(), address, timeout=5, ignore_trailing=True)
    assert udp.flags & dns.flags.TC and not udp.answer
    response, used_tcp = dns.query.udp_with_fallback(_query(), address, timeout=5)
    assert used_tcp and response.answer and not response.flags & dns.flags.TC


@pytest.mark.lab
def test_formerr_to_any_query_with_edns(shim):
    address = ROUTES["formerr"].listen
    for send in (dns.query.udp, dns.query.tcp):
        r = send(_query(edns=True), address, timeout=5)
        assert r.rcode() == dns.rcode.FORMERR and r.edns == -1 and not r.answer
        plain = send(_query(edns=False), address, timeout=5)
        assert plain.rcode() == dns.rcode.NOERROR and plain.answer


@pytest.mark.lab
def test_no_tcp_refuses_connections_but_answers_udp(shim):
    address = ROUTES["no-tcp"].listen
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, 53), timeout=2).close()
    assert dns.query.udp(_query(), address, timeout=5).answer


@pytest.mark.lab
def test_slow_server_answers_after_a_second(shim):
    t0 = time.monotonic()
    r = dns.query.udp(_query(), ROUTES["slow"].listen, timeout=6)
    assert time.monotonic() - t0 >= 1.0 and r.answer


@pytest.mark.lab
def test_stats_count_queries_in_flight_and_per_second(shim):
    lab, rec = shim
    assert len(_burst(ROUTES["counters"].listen, list(range(25)), wait=3.0)) == 25
    stats = _route_stats(lab, rec, "counters")
    # 25 queries arrived within a few ms and each waited 300 ms for its answer
    assert stats["max_in_flight"] == 25 and stats["max_queries_per_s"] == 25
    assert stats["in_flight"] == 0 and stats["answered"] == 25 and stats["queries_udp"] == 25
    doc = json.loads((lab / "shim" / "stats.json").read_text())
    assert doc["pid"] == rec.pid and doc["cpu_s"] >= 0 and doc["queries"] >= 25


# -- labs behind the shim ---------------------------------------------------------------------


def _gone(rec: servers.ProcessRecord) -> bool:
    return not servers.is_running(rec)


@pytest.mark.lab
def test_lab_up_with_rtt_end_to_end(tmp_path: Path):
    assert preflight() is None, preflight()
    lab_dir = tmp_path / "lab"
    try:
        info = lab_up(lab_dir, base=SECOND_LAB_BASE, network=network.NetworkConditions(rtt_ms=50))
        assert LabInfo.load(lab_dir) == info
        assert info.network["rtt_ms"] == 50 and "shim" in [p.name for p in info.processes]
        assert info.network["backends"][f"{SECOND_LAB_BASE}.1"] == f"{SECOND_LAB_BASE}.101"
        for server in info.servers.values():  # every public address is behind the shim
            t0 = time.monotonic()
            dns.query.udp(_query("."), server, timeout=5)  # NOERROR at the root, else REFUSED
            assert time.monotonic() - t0 >= 0.050
        address, _ = info.resolver("unbound")
        r = dns.query.udp(dns.message.make_query("test.", "SOA", want_dnssec=True), address, 10)
        assert r.flags & dns.flags.AD
    finally:
        lab_down(lab_dir)
    info = LabInfo.load(lab_dir)
    assert all(p.stopped and _gone(p) for p in info.processes)
    stats = network.read_stats(lab_dir)  # written once more when the shim stopped
    assert stats["routes"][f"{SECOND_LAB_BASE}.1"]["queries_udp"] >= 1


@pytest.mark.lab
def test_no_knob_means_no_shim(tmp_path: Path):
    assert preflight() is None, preflight()
    syn = synthetic_up(tmp_path / "syn", zones_count=2, base=SECOND_LAB_BASE)
    try:
        assert [p.name for p in syn.info.processes] == ["knot-root", "knot-test", "knot-ns"]
        assert syn.info.network == {} and "network" not in json.loads(
            (syn.info.dir / "lab.json").read_text()
        )
    finally:
        lab_down(syn.info.dir)


@pytest.mark.lab
def test_synthetic_rude_servers_sit_behind_the_shim(tmp_path: Path):
    assert preflight() is None, preflight()
    syn = synthetic_up(tmp_path / "syn", zones_count=2, base=SECOND_LAB_BASE, rude=True)
    try:
        assert set(syn.rude) == {r.zone for r in network.RUDE_SERVERS}
        test_server = syn.info.servers["test"]
        for rude in network.RUDE_SERVERS:
            rude_addr = f"{SECOND_LAB_BASE}.{rude.host}"
            assert syn.info.servers[f"rude-{rude.fault}"] == rude_addr
            # the parent's glue sends ns2 to the rude address; ns1 is the regular server
            ref = dns.query.udp(dns.message.make_query(rude.zone, "SOA"), test_server, timeout=5)
            glue = {rr.name.to_text(): rr[0].address for rr in ref.additional}
            assert glue == {
                f"ns1.{rude.zone}.": syn.info.servers["ns1"],
                f"ns2.{rude.zone}.": rude_addr,
            }
        formerr_addr = syn.info.servers["rude-formerr-edns"]
        r = dns.query.udp(_query("edns-formerr.test."), formerr_addr, timeout=5)
        assert r.rcode() == dns.rcode.FORMERR
        inventory = (syn.portfolio / "inventory.csv").read_text()
        assert "no-tcp.test,Benchmark Team,Benchmark,3,synthetic-rude,true" in inventory
    finally:
        lab_down(syn.info.dir)
    assert all(_gone(p) for p in LabInfo.load(syn.info.dir).processes)
