"""Benchmark of collection on a Dask ``LocalCluster`` against the single-machine process pool.

One run, on the synthetic lab (real Knot DNS, every server behind the network shim at round
trip D), measures in this order:

a. the single-machine collector (``collect_parallel``, one process per worker asked): zones/s,
   wall time, peak RSS of every process;
b. the same inventory on a ``LocalCluster`` of the same number of worker processes
   (``collect_cluster``): zones/s, peak RSS per worker, and that it gives the same zone
   statuses as (a);
   then the same cluster with the per-server caps lifted (the workers' own capacity);
c. the assessment of the cluster run (``toolkit.assessment.assess.assess`` on the stored run): time
   and the growth of this process's peak RSS;
d. on paper, from (b)'s per-worker rate: workers needed for 1,000,000 zones in 24 hours and in
   1 hour, and what the per-server politeness budget allows: the address asked most per zone
   (the parent's server) sees at most ``max_qps_per_server`` from the whole cluster.

It prints a Markdown report, writes it atomically (``--out``, default
``bench/results-cluster.md``) and with ``--json FILE`` the figures as JSON. Every daemon it
starts is stopped at the end. Needs root (port 53 on loopback), knotd and dask[distributed].

    .venv/bin/python bench/bench_cluster.py --zones 2000 --rtt-ms 50
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_collect import MemorySampler  # noqa: E402  (the collector benchmark's sampler)

from toolkit.assessment.assess import assess  # noqa: E402
from toolkit.atomic import write_atomic  # noqa: E402
from toolkit.collect import CollectConfig, TransportConfig  # noqa: E402
from toolkit.collect.cluster import collect_cluster  # noqa: E402
from toolkit.collect.parallel import collect_parallel  # noqa: E402
from toolkit.inputs.portfolio import load_portfolio  # noqa: E402
from toolkit.lab import lab_down  # noqa: E402
from toolkit.lab.network import NetworkConditions  # noqa: E402
from toolkit.lab.synthetic import synthetic_up  # noqa: E402
from toolkit.store.runs import Store  # noqa: E402


def _self_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zones", type=int, default=2000)
    ap.add_argument("--rtt-ms", type=float, default=50.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--base", default="127.120.0", help="the synthetic lab's address base")
    ap.add_argument(
        "--addresses", type=int, default=48, help="name-server addresses the zones spread over"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results-cluster.md")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        lab_dir = Path(tmp) / "lab"
        syn = synthetic_up(
            lab_dir,
            zones_count=args.zones,
            base=args.base,
            ns_addresses=args.addresses,
            network=NetworkConditions(rtt_ms=args.rtt_ms) if args.rtt_ms else None,
        )
        try:
            portfolio = load_portfolio(syn.portfolio)
            transport = TransportConfig()
            config = CollectConfig(
                trust_anchor=syn.info.trust_anchor,
                root_hints=syn.info.root_hints,
                transport=transport,
                progress=False,
            )
            lab_pids = {p.pid for p in syn.info.processes}

            sampler = MemorySampler(lab_pids)
            sampler.start()
            t0 = time.perf_counter()
            single = collect_parallel(
                portfolio, config, now=datetime.now(UTC), workers=args.workers
            )
            single_s = time.perf_counter() - t0
            sampler.stop()
            single_peak = sampler.peak_sum_mb

            hwm: dict[str, float] = {}

            def worker_hwm(_index: int, client: object) -> None:  # each worker's own VmHWM
                hwm.update(client.run(_self_hwm_mb))  # type: ignore[attr-defined]

            t0 = time.perf_counter()
            now = datetime.now(UTC)
            frames = collect_cluster(
                portfolio,
                config,
                now=now,
                cluster=f"local:{args.workers}",
                on_partition_done=worker_hwm,
            )
            cluster_s = time.perf_counter() - t0
            worker_peaks = list(hwm.values())

            # the workers' own capacity: the same run with the per-server caps lifted (what a
            # portfolio spread over many providers' and TLDs' addresses would allow)
            free = replace(
                config,
                transport=replace(transport, max_inflight_per_server=0, max_qps_per_server=0),
            )
            t0 = time.perf_counter()
            uncapped = collect_cluster(
                portfolio, free, now=datetime.now(UTC), cluster=f"local:{args.workers}"
            )
            uncapped_s = time.perf_counter() - t0
            same_uncapped = (
                uncapped["zones"].sort_values("zone")["status"].tolist()
                == frames["zones"].sort_values("zone")["status"].tolist()
            )

            same = (
                single["zones"].sort_values("zone")["status"].tolist()
                == frames["zones"].sort_values("zone")["status"].tolist()
            )
            store = Store(Path(tmp) / "ws")
            run = store.write(frames, parameters={"portfolio": str(syn.portfolio)}, now=now)
            hwm0 = _self_hwm_mb()
            t0 = time.perf_counter()
            a = assess(portfolio, store, run=run.run_id, now=now)
            assess_s = time.perf_counter() - t0
            assess_growth = _self_hwm_mb() - hwm0
            findings = len(a.findings)
            queries = len(frames["queries"])
            per_address = frames["queries"]["server"].dropna().value_counts()
            hottest, hottest_queries = per_address.index[0], int(per_address.iloc[0])
        finally:
            lab_down(lab_dir)

    n = args.zones
    per_worker = n / uncapped_s / args.workers
    qpz = queries / n
    cap = transport.max_qps_per_server
    # the address asked most per zone (the TLD's, in a real portfolio as here) binds first
    per_zone_at_hottest = hottest_queries / n
    polite_zps = cap / per_zone_at_hottest if cap else math.inf
    figures = {
        "zones": n,
        "rtt_ms": args.rtt_ms,
        "workers": args.workers,
        "single_zones_per_s": round(n / single_s, 1),
        "single_peak_rss_mb_sum": round(single_peak),
        "cluster_zones_per_s": round(n / cluster_s, 1),
        "cluster_worker_peak_rss_mb": [round(x) for x in sorted(worker_peaks)],
        "cluster_uncapped_zones_per_s": round(n / uncapped_s, 1),
        "same_statuses": same and same_uncapped,
        "assess_s": round(assess_s, 2),
        "assess_peak_rss_growth_mb": round(assess_growth),
        "findings": findings,
        "queries_per_zone": round(qpz, 2),
        "hottest_address": hottest,
        "queries_per_zone_at_hottest_address": round(per_zone_at_hottest, 2),
        "max_qps_per_server": cap,
        "politeness_limit_zones_per_s": round(polite_zps, 1),
        "workers_for_1M_in_24h": math.ceil(1e6 / (86400 * per_worker)),
        "workers_for_1M_in_1h": math.ceil(1e6 / (3600 * per_worker)),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    fits_1h = polite_zps >= 1e6 / 3600
    lines = [
        "# Collection on a Dask LocalCluster vs the single-machine pool",
        "",
        f"{figures['date']}; {figures['machine']}; load average before "
        f"{figures['load_before']}, after {figures['load_after']}.",
        f"{n} synthetic zones on {args.addresses} name-server addresses, every server behind "
        f"the shim at {args.rtt_ms:g} ms RTT, "
        f"{args.workers} worker processes in both.",
        "",
        "| | zones/s | peak RSS (MB) |",
        "|---|---|---|",
        f"| single machine (process pool) | {figures['single_zones_per_s']} | "
        f"{figures['single_peak_rss_mb_sum']} (largest sampled sum of its processes) |",
        f"| Dask LocalCluster | {figures['cluster_zones_per_s']} | "
        f"{', '.join(map(str, figures['cluster_worker_peak_rss_mb']))} (per worker) |",
        f"| Dask LocalCluster, per-server caps lifted | "
        f"{figures['cluster_uncapped_zones_per_s']} | |",
        "",
        "With the default caps (100 queries/s per server address for the whole run) the lab's "
        "single TLD address binds both runs; lifted, the workers' own capacity shows.",
        "",
        f"Same zone statuses in all runs: {'yes' if figures['same_statuses'] else 'NO'}. "
        "Assessment of the cluster "
        f"run: {figures['assess_s']} s, peak RSS +{figures['assess_peak_rss_growth_mb']} MB, "
        f"{findings} findings.",
        "",
        "## 1,000,000 zones on paper",
        "",
        f"Per worker process (caps lifted): {per_worker:.1f} zones/s at {args.rtt_ms:g} ms "
        f"({qpz:.1f} queries per zone). Workers needed: "
        f"**{figures['workers_for_1M_in_24h']}** for a 24-hour audit, "
        f"**{figures['workers_for_1M_in_1h']}** for a 1-hour audit (the lab's knotd and shim "
        "share the same cores, so a dedicated worker does at least this).",
        f"Politeness: the address asked most ({hottest}) gets "
        f"{per_zone_at_hottest:.2f} queries per zone; at {cap:g} queries/s per address for the "
        f"whole cluster that allows at most {polite_zps:,.0f} zones/s "
        f"({polite_zps * 3600:,.0f} zones/hour) through it. In a real portfolio that address "
        "is a TLD server: the collector asks every parent server for each zone's DS and NS, so "
        "a TLD's many addresses do not share the load, each sees it all. 1,000,000 zones under "
        f"one TLD therefore take at least {1e6 / polite_zps / 3600:.1f} hours at this cap, "
        "whatever the number of workers: "
        + (
            "a 1-hour audit fits."
            if fits_1h
            else "a 1-hour audit needs a higher rate agreed with the TLD operator (or a "
            "collector that spreads parent questions over the TLD's servers), not more workers."
        ),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, report)
    if args.json:
        write_atomic(args.json, json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
