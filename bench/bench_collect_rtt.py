"""The asynchronous collector at internet round trips: zones/s at 0, 50 and 200 ms.

For each portfolio size and round trip it builds the synthetic lab with every authoritative
server behind the network shim (``toolkit.lab.network``, ``--rtt-ms``), runs the collector
(``collect_parallel``, one process per core) and records zones/s, queries/s, the median query
latency from the run's own ``queries`` frame and the peak memory; at 0 ms it also measures the
raw dnspython ceiling (``bench_collect.ceiling``) in the same run.

The synthetic lab puts every zone on the same two name-server addresses and ``test.`` on one,
where a real portfolio spreads over many providers' addresses: the throughput runs therefore
lift the per-server politeness limits (``--max-inflight-per-server 0 --max-qps-per-server 0``)
to stand for that spread, and one extra run at 50 ms keeps the defaults to show them binding.

    .venv/bin/python bench/bench_collect_rtt.py --zones 1000 --rtt-ms 0 50 200 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_collect as bc

from toolkit.collect import TransportConfig
from toolkit.lab import lab_down
from toolkit.lab.network import NetworkConditions
from toolkit.lab.synthetic import synthetic_up
from toolkit.portfolio import load_portfolio


def udp_receive_buffer_errors() -> int:
    """The machine's count of UDP datagrams dropped for a full receive buffer (any socket)."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()]
    head, values = [ln for ln in lines if ln[0] == "Udp:"]
    return int(values[head.index("RcvbufErrors")])


def one(
    n: int,
    rtt: float,
    base: str,
    work: Path,
    workers: int,
    transport: TransportConfig,
    ceil: bool,
    dead: float = 0.0,
    loss: float = 0.0,
) -> dict:
    lab_dir = work / f"lab-{n}-{rtt:g}"
    net = NetworkConditions(rtt, 0.0, loss) if rtt > 0 or loss > 0 else None
    syn = synthetic_up(lab_dir, zones_count=n, base=base, network=net, dead_fraction=dead)
    try:
        out: dict = {"zones": n, "rtt_ms": rtt, "workers": workers, "dead": dead, "loss": loss}
        if dead:
            out["timeout_s"], out["tries"] = transport.timeout, transport.tries
        out["limits"] = {
            "max_inflight_per_server": transport.max_inflight_per_server,
            "max_qps_per_server": transport.max_qps_per_server,
        }
        if ceil:
            ns = [syn.info.servers["ns1"], syn.info.servers["ns2"]]
            qps, errors, cpu_us = bc.ceiling(ns, [z + "." for z in syn.zones], workers, 10.0)
            out["ceiling_queries_per_s"] = round(qps, 1)
            out["ceiling_cpu_us_per_query"] = round(cpu_us, 1)
        load = os.getloadavg()
        drops = udp_receive_buffer_errors()
        res = bc.run_collector(syn, load_portfolio(syn.portfolio), transport, workers)
        out["udp_receive_buffer_drops"] = udp_receive_buffer_errors() - drops
        q = res.frames["queries"]
        out |= {
            "load_before": [round(x, 2) for x in load],
            "wall_s": round(res.wall_s, 2),
            "zones_per_s": round(res.zones_per_s, 1),
            "queries_per_s": round(res.queries_per_s, 1),
            "queries_per_zone": round(res.queries / res.zones, 2),
            "median_query_ms": round(float(q["latency_ms"].median()), 2),
            "errors": int(q["error"].notna().sum()),
            "error_kinds": {str(k)[:40]: int(v) for k, v in q["error"].value_counts().items()},
            "secure": int(res.statuses.get("secure", 0)),
            "indeterminate": int(res.statuses.get("indeterminate", 0)),
            "peak_rss_mb": round(res.hwm_sum_mb, 1),
            "peak_rss_sampled_mb": round(res.peak_rss_mb, 1),
            "cpu_s": round(res.cpu_s, 1),
        }
        return out
    finally:
        lab_down(lab_dir)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", type=int, nargs="+", default=[1000])
    ap.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 50.0, 200.0])
    ap.add_argument("--base", default="127.110.0")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--capped", action="store_true", help="also a run at 50 ms, default limits")
    ap.add_argument(
        "--inflight-per-server",
        type=int,
        default=128,
        help="throughput runs: queries in flight per server address, whole run (128)",
    )
    ap.add_argument("--dead-fraction", type=float, default=0.0, help="share of dead zones (0)")
    ap.add_argument("--loss", type=float, default=0.0, help="share of UDP queries lost (0)")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-rtt-"))
    results = []
    try:
        for n in args.zones:
            for rtt in args.rtt_ms:
                t0 = time.time()
                lifted = TransportConfig(
                    max_inflight_per_server=args.inflight_per_server, max_qps_per_server=0
                )
                faults = {"dead": args.dead_fraction, "loss": args.loss}
                ceil = rtt == 0 and not args.dead_fraction and not args.loss
                r = one(n, rtt, args.base, work, args.workers, lifted, ceil, **faults)
                print(json.dumps(r), f"({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
                results.append(r)
            if args.capped:
                r = one(n, 50.0, args.base, work, args.workers, TransportConfig(), ceil=False)
                print(json.dumps(r), file=sys.stderr, flush=True)
                results.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        doc = {"machine": bc.machine(), "runs": results}
        bc.write_atomic(args.json, json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["toolkit.collect.collector", "toolkit.lab.zones"]
    )
    sys.exit(main())
