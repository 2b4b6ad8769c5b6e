"""Benchmark of collection on a Dask ``LocalCluster`` against the single-machine process pool.

One run builds the synthetic lab (real Knot DNS, every server behind the network shim at round
trip D) and measures, each step in a fresh process so that every peak is its own:

* ``cluster`` / ``cluster-free``: ``collect --cluster local:N`` as the command does it
  (:func:`~toolkit.collect.cluster.collect_cluster_parts` into the workspace's staging folder,
  then the store writes the run from the parts), with the default per-server caps or with
  them lifted: zones/s, the peak RSS (VmHWM) of each Dask worker and of the client process
  (which also hosts the LocalCluster's scheduler);
* ``pool`` / ``pool-free``: the single-machine process pool of N workers
  (:func:`~toolkit.collect.collect_run` with ``workers=N``: the frames merged in the main
  process, then stored): zones/s, peak RSS of each worker and of the main process;
* ``assess``: the streamed assessment (:func:`~toolkit.assessment.stream.assess_streaming`)
  of the first cluster run: wall time and peak RSS of its process;
* on paper, from the caps-lifted cluster's per-worker rate: workers for 1,000,000 zones in
  24 hours and in 1 hour, and what the politeness budget allows through the address asked most
  (the TLD's).

Every step appends its figures to ``--json`` as soon as it ends (a long run stopped early keeps
what it measured) and the Markdown summary is written atomically to ``--out`` at the end.
Every daemon it starts is stopped at the end. Needs root (port 53 on loopback), knotd and
dask[distributed].

    .venv/bin/python bench/bench_cluster.py --zones 10000 --rtt-ms 50 --base 127.90.0 \\
        --modes cluster,cluster-free,pool,pool-free --assess --json bench/results-cluster-10k.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_collect import MemorySampler  # noqa: E402  (the collector benchmark's sampler)

from toolkit.atomic import write_atomic  # noqa: E402
from toolkit.collect import CollectConfig, TransportConfig  # noqa: E402

MODES = ("cluster", "cluster-free", "pool", "pool-free")


def _self_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _config(lab: dict[str, Any], free: bool) -> CollectConfig:
    transport = TransportConfig()
    if free:
        transport = replace(transport, max_inflight_per_server=0, max_qps_per_server=0)
    return CollectConfig(
        trust_anchor=Path(lab["trust_anchor"]),
        root_hints=Path(lab["root_hints"]),
        transport=transport,
        progress=False,
    )


def child(mode: str, lab: dict[str, Any], ws: Path, workers: int) -> dict[str, Any]:
    """One measured step, in this (fresh) process."""
    from toolkit.store.runs import Store

    now = datetime.now(UTC)
    if mode == "assess":
        from toolkit.assessment.stream import assess_streaming

        store = Store(ws)
        t0 = time.perf_counter()
        res = assess_streaming(lab["portfolio"], store, now=now, out_dir=ws.parent / "assessed")
        wall = time.perf_counter() - t0
        return {
            "assess_s": round(wall, 1),
            "assess_peak_rss_mb": round(_self_hwm_mb()),
            "findings": int(res.findings),
            "partitions": int(res.partitions),
            "disk_mb": round(res.disk_bytes / 1e6),
        }
    free = mode.endswith("-free")
    config = _config(lab, free)
    store = Store(ws)
    if mode.startswith("cluster"):
        from toolkit.collect.cluster import collect_cluster_parts
        from toolkit.inputs.portfolio import load_portfolio

        portfolio = load_portfolio(lab["portfolio"])
        hwm: dict[str, float] = {}

        progress = ws.parent / "progress.jsonl"
        done = [0]

        def worker_hwm(_index: int, client: Any) -> None:  # each worker's own VmHWM
            hwm.update(client.run(_self_hwm_mb))
            done[0] += 1
            line = {
                "partitions_done": done[0],
                "elapsed_s": round(time.perf_counter() - t0, 1),
                "client_hwm_mb": round(_self_hwm_mb()),
                "worker_hwm_mb": sorted(round(x) for x in hwm.values()),
                "load": os.getloadavg()[0],
            }
            with open(progress, "a") as fh:
                fh.write(json.dumps(line) + "\n")

        t0 = time.perf_counter()
        with store.staging() as staging:
            parts = collect_cluster_parts(
                portfolio,
                config,
                now=now,
                cluster=f"local:{workers}",
                staging=staging,
                on_partition_done=worker_hwm,
            )
            collected = time.perf_counter() - t0
            store.write(
                parts.frames(),
                parameters={"portfolio": lab["portfolio"], "cluster_split": parts.parameters},
                now=now,
            )
        wall = time.perf_counter() - t0
        worker_peaks = sorted(hwm.values())
        partitions = len(parts.partitions)
    else:
        from toolkit.collect import collect_run

        sampler = MemorySampler(set())
        sampler.start()
        t0 = time.perf_counter()
        collect_run(lab["portfolio"], ws, config, now=now, workers=workers)
        wall = time.perf_counter() - t0
        collected = wall
        sampler.stop()
        me = os.getpid()
        # the pool's workers are the largest of this process's descendants (the forkserver and
        # the resource tracker are small)
        others = sorted(kb / 1024 for pid, kb in sampler.hwm.items() if pid != me)
        worker_peaks = others[-workers:]
        partitions = None
    return {
        "mode": mode,
        "wall_s": round(wall, 1),
        "collect_s": round(collected, 1),
        "worker_peak_rss_mb": [round(x) for x in worker_peaks],
        "client_peak_rss_mb": round(_self_hwm_mb()),
        "partitions": partitions,
    }


def _run_child(args: argparse.Namespace, mode: str, lab: dict[str, Any], ws: Path) -> dict:
    out = ws.parent / f"{mode}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--lab-json",
        json.dumps(lab),
        "--ws",
        str(ws),
        "--workers",
        str(args.workers),
        "--child-out",
        str(out),
    ]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def _statuses(ws: Path) -> list[str]:
    from toolkit.store.runs import Store

    zones = Store(ws).load(frames=["zones"]).frames["zones"]
    return zones.sort_values("zone")["status"].astype(str).tolist()


def _hottest(ws: Path) -> tuple[str, int, int]:
    """The address asked most in the run, its queries, and all queries."""
    import pyarrow.parquet as pq

    from toolkit.store.runs import Store

    store = Store(ws)
    run_id = store.resolve("latest")
    col = pq.read_table(store.runs_dir / run_id / "queries.parquet", columns=["server"])
    counts = col.column("server").drop_null().value_counts().to_pylist()
    best = max(counts, key=lambda c: c["counts"])
    return str(best["values"]), int(best["counts"]), col.num_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--zones", type=int, default=2000)
    ap.add_argument("--rtt-ms", type=float, default=50.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--base", default="127.120.0", help="the synthetic lab's address base")
    ap.add_argument(
        "--addresses", type=int, default=48, help="name-server addresses the zones spread over"
    )
    ap.add_argument("--modes", default="cluster,cluster-free,pool", help=", ".join(MODES))
    ap.add_argument("--assess", action="store_true", help="assess the first cluster run")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results-cluster.md")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--lab-json", help=argparse.SUPPRESS)
    ap.add_argument("--ws", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        figures = child(args.child, json.loads(args.lab_json), args.ws, args.workers)
        write_atomic(args.child_out, json.dumps(figures) + "\n")
        return 0

    from toolkit.lab import lab_down
    from toolkit.lab.network import NetworkConditions
    from toolkit.lab.synthetic import synthetic_up

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        ap.error(f"unknown mode(s) {bad}: {', '.join(MODES)}")
    figures: dict[str, Any] = {
        "zones": args.zones,
        "rtt_ms": args.rtt_ms,
        "workers": args.workers,
        "addresses": args.addresses,
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": {},
    }

    def save() -> None:
        if args.json:
            write_atomic(args.json, json.dumps(figures, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        lab_dir = Path(tmp) / "lab"
        figures["load_before_lab"] = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        syn = synthetic_up(
            lab_dir,
            zones_count=args.zones,
            base=args.base,
            ns_addresses=args.addresses,
            network=NetworkConditions(rtt_ms=args.rtt_ms) if args.rtt_ms else None,
        )
        figures["lab_build_s"] = round(time.perf_counter() - t0, 1)
        save()
        lab = {
            "trust_anchor": str(syn.info.trust_anchor),
            "root_hints": str(syn.info.root_hints),
            "portfolio": str(syn.portfolio),
        }
        statuses: dict[str, list[str]] = {}
        try:
            for mode in modes:
                ws = Path(tmp) / mode / "ws"
                ws.parent.mkdir()
                load = [round(x, 2) for x in os.getloadavg()]
                got = _run_child(args, mode, lab, ws)
                got["load_before"] = load
                got["load_after"] = [round(x, 2) for x in os.getloadavg()]
                got["zones_per_s"] = round(args.zones / got["collect_s"], 1)
                statuses[mode] = _statuses(ws)
                got["statuses"] = {s: statuses[mode].count(s) for s in sorted(set(statuses[mode]))}
                if mode == "cluster-free" or (mode == "cluster" and "hottest" not in figures):
                    address, hot, total = _hottest(ws)
                    figures["hottest"] = {"address": address, "queries": hot, "total": total}
                figures["runs"][mode] = got
                print(mode, json.dumps(got), flush=True)
                save()
                if args.assess and mode.startswith("cluster") and "assess" not in figures:
                    load = [round(x, 2) for x in os.getloadavg()]
                    a = _run_child(args, "assess", lab, ws)
                    a["load_before"] = load
                    a["load_after"] = [round(x, 2) for x in os.getloadavg()]
                    a["of_run"] = mode
                    figures["assess"] = a
                    print("assess", json.dumps(a)[:400], flush=True)
                    save()
                    import shutil

                    shutil.rmtree(ws.parent / "assessed", ignore_errors=True)
        finally:
            lab_down(lab_dir)
    ref = next(iter(statuses.values()), [])
    figures["same_statuses"] = all(s == ref for s in statuses.values())
    _paper(figures)
    save()
    report = markdown(figures)
    print(report)
    write_atomic(args.out, report)
    return 0


def _paper(figures: dict[str, Any]) -> None:
    """The 1,000,000-zone estimate from the caps-lifted cluster's per-worker rate."""
    free = figures["runs"].get("cluster-free")
    hot = figures.get("hottest")
    if not free or not hot:
        return
    n, workers = figures["zones"], figures["workers"]
    per_worker = n / free["collect_s"] / workers
    cap = TransportConfig().max_qps_per_server
    per_zone_hot = hot["queries"] / n
    polite = cap / per_zone_hot
    figures["paper"] = {
        "per_worker_zones_per_s": round(per_worker, 1),
        "queries_per_zone": round(hot["total"] / n, 2),
        "queries_per_zone_at_hottest": round(per_zone_hot, 2),
        "max_qps_per_server": cap,
        "politeness_limit_zones_per_s": round(polite, 1),
        "workers_for_1M_in_24h": math.ceil(1e6 / (86400 * per_worker)),
        "workers_for_1M_in_1h": math.ceil(1e6 / (3600 * per_worker)),
        "hours_for_1M_at_cap": round(1e6 / polite / 3600, 1),
        "qps_at_tld_for_1M_in_1h": round(1e6 / 3600 * per_zone_hot),
    }


def markdown(f: dict[str, Any]) -> str:
    names = {
        "pool": "single machine (process pool), default caps",
        "pool-free": "single machine (process pool), caps lifted",
        "cluster": "Dask LocalCluster, default caps",
        "cluster-free": "Dask LocalCluster, caps lifted",
    }
    lines = [
        f"## {f['zones']:,} zones",
        "",
        f"{f['date']}; {f['machine']}; {f['zones']:,} synthetic zones on {f['addresses']} "
        f"name-server addresses behind the shim at {f['rtt_ms']:g} ms RTT; {f['workers']} worker "
        f"processes in every run. Synthetic lab built in {f.get('lab_build_s')} s.",
        "",
        "| run | zones/s | wall (s) | peak RSS per worker (MB) | peak RSS of the client / "
        "main process (MB) | load before → after |",
        "|---|---|---|---|---|---|",
    ]
    for mode, r in f["runs"].items():
        lines.append(
            f"| {names[mode]} | {r['zones_per_s']} | {r['wall_s']} | "
            f"{', '.join(map(str, r['worker_peak_rss_mb']))} | {r['client_peak_rss_mb']} | "
            f"{r['load_before'][0]} → {r['load_after'][0]} |"
        )
    counts = "; ".join(f"{mode}: {r.get('statuses')}" for mode, r in f["runs"].items())
    same = "yes" if f.get("same_statuses") else "NO"
    lines += ["", f"Same zone statuses in every run: {same} ({counts})."]
    a = f.get("assess")
    if a:
        lines += [
            "",
            f"Streamed assessment of the {a['of_run']} run: {a['assess_s']} s, peak RSS "
            f"{a['assess_peak_rss_mb']} MB (load {a['load_before'][0]} → {a['load_after'][0]}).",
        ]
    p = f.get("paper")
    if p:
        lines += [
            "",
            f"Per worker process (caps lifted): {p['per_worker_zones_per_s']} zones/s "
            f"({p['queries_per_zone']} queries per zone): 1,000,000 zones need "
            f"**{p['workers_for_1M_in_24h']}** worker(s) in 24 hours, "
            f"**{p['workers_for_1M_in_1h']}** in 1 hour, by CPU. The address asked most "
            f"({f['hottest']['address']}, the TLD's) gets {p['queries_per_zone_at_hottest']} "
            f"queries per zone: at {p['max_qps_per_server']:g} queries/s per address for the "
            f"whole cluster, at most {p['politeness_limit_zones_per_s']} zones/s, "
            f"{p['hours_for_1M_at_cap']} hours for 1,000,000 zones; a 1-hour audit needs "
            f"{p['qps_at_tld_for_1M_in_1h']:,} queries/s at that address.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
