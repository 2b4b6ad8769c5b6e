"""The network shim's own cost: CPU seconds per 10,000 relayed queries.

Starts one knotd serving a small zone on ``{base}.200`` and one shim process with a route per
round trip asked for (``{base}.201``, ...), then, for each route, sends ``--queries`` SOA queries
through it from one non-blocking UDP socket with ``--in-flight`` queries outstanding, and reads
the shim's CPU time before and after from its stats (SIGUSR1). The client runs in this process;
only the shim's CPU is counted. Every daemon is stopped by PID at the end. Needs root and knotd.

    .venv/bin/python bench/bench_shim.py --base 127.103.0 --rtt-ms 0 50 200 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import dns.flags
import dns.message
import dns.rdatatype

from toolkit.lab import network, servers
from toolkit.lab.shim import Route

ZONE = "shim.test."


def blast(address: str, queries: int, in_flight: int, timeout: float = 2.0) -> tuple[int, float]:
    """Send ``queries`` queries to ``address`` keeping ``in_flight`` outstanding; returns the
    answers received and the wall time."""
    template = dns.message.make_query(ZONE, dns.rdatatype.SOA, want_dnssec=True)
    template.flags &= ~dns.flags.RD
    wire = bytearray(template.to_wire())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect((address, 53))
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sent = answered = 0
    outstanding: dict[int, float] = {}
    t0 = time.perf_counter()
    while sent < queries or outstanding:
        while sent < queries and len(outstanding) < in_flight:
            qid = sent & 0xFFFF
            wire[0], wire[1] = qid >> 8, qid & 0xFF
            sock.send(wire)
            outstanding[qid] = time.perf_counter()
            sent += 1
        for _ in sel.select(0.05):
            while True:
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    break
                if outstanding.pop((data[0] << 8) | data[1], None) is not None:
                    answered += 1
        now = time.perf_counter()
        for qid in [q for q, t in outstanding.items() if now - t > timeout]:
            del outstanding[qid]  # lost: counted as sent, not answered
    sock.close()
    return answered, time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="127.103.0", help="address prefix (127.103.0)")
    ap.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 50.0, 200.0])
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--in-flight", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-shim-"))
    backend = f"{args.base}.200"
    (work / "zone").write_text(
        f"$ORIGIN {ZONE}\n@ 60 IN SOA ns1 host 1 3600 600 86400 300\n@ 60 IN NS ns1\n"
        "ns1 60 IN A 127.0.0.1\n"
    )
    for sub in ("run", "db", "logs"):
        (work / sub).mkdir()
    conf = work / "knot.conf"
    conf.write_text(
        servers.knot_config(
            name="backend",
            address=backend,
            rundir=work / "run",
            dbdir=work / "db",
            zones={ZONE: work / "zone"},
        )
    )
    routes = [Route(f"{args.base}.{201 + i}", backend, rtt_ms=d) for i, d in enumerate(args.rtt_ms)]
    records = []
    results = []
    try:
        knot = servers.start(
            "knot",
            [servers.executable("knotd"), "-c", str(conf)],
            work / "logs" / "knot.log",
            address=backend,
            probe=ZONE,
        )
        records.append(knot)
        servers.wait_ready([knot], {"knot": work / "logs" / "knot.log"}, 10)
        shim = network.start(work, routes, probe=(routes[0].listen, ZONE))
        records.append(shim)
        for route in routes:
            before = network.request_stats(shim, work)
            answered, wall = blast(route.listen, args.queries, args.in_flight)
            after = network.request_stats(shim, work)
            cpu = after["cpu_s"] - before["cpu_s"]
            relayed = after["queries"] - before["queries"]
            row = {
                "rtt_ms": route.rtt_ms,
                "queries": relayed,
                "answered": answered,
                "in_flight": args.in_flight,
                "wall_s": round(wall, 2),
                "queries_per_s": round(relayed / wall, 1),
                "shim_cpu_s": round(cpu, 3),
                "shim_cpu_s_per_10k_queries": round(cpu / relayed * 10_000, 3),
                "max_in_flight_seen": after["routes"][route.listen]["max_in_flight"],
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        servers.stop_all(reversed(records))
    doc = {"load_average_end": [round(x, 2) for x in os.getloadavg()], "runs": results}
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
