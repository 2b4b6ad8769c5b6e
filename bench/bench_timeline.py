"""Where a collection waits: the timeline of one run's own ``queries`` frame.

Builds the synthetic lab (every server behind the shim at ``--rtt-ms``), collects it once with
the process pool, and reads the run's ``queries`` frame back as a timeline: queries in flight
every ``--step`` seconds (a query is in flight from its ``queried_at`` for its
``latency_ms``), each shard's first and last query, and each zone's span in round trips. A zone
should take about four round trips (the parent's referral; the gate SOA; the apex probes; the
parent's DS and NS alongside); more, and troughs of nothing in flight, say where the run
waits. This is how the fixed in-flight budget and the first wave waiting for ``test.`` were
found (issue 10; ``bench/results.md``, 2026-12-07). Per-server caps are lifted unless
``--inflight-per-server`` is given. Needs root (port 53 on loopback) and knotd::

    .venv/bin/python bench/bench_timeline.py --zones 3000 --rtt-ms 200
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.collect.collector import CollectConfig
from toolkit.collect.parallel import MAX_TASK_ZONES, TASKS_PER_WORKER, _split, collect_parallel
from toolkit.collect.transport import TransportConfig
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import lab_down
from toolkit.lab.network import NetworkConditions
from toolkit.lab.synthetic import synthetic_up


def timeline(
    queries: pd.DataFrame, inventory: list[str], workers: int, rtt_s: float, step: float
) -> dict[str, object]:
    """The figures of a run's ``queries`` frame: in flight per ``step``, per shard (the
    inventory cut as :func:`toolkit.collect.parallel.collect_parallel` cuts it) and per zone."""
    q = queries.copy()
    at = pd.to_datetime(q["queried_at"], utc=True)
    q["s"] = (at - at.min()).dt.total_seconds()
    q["e"] = q["s"] + q["latency_ms"].fillna(0).astype(float) / 1000.0
    ticks = np.arange(0.0, float(q["e"].max()) + step, step)
    starts, ends = np.sort(q["s"].to_numpy()), np.sort(q["e"].to_numpy())
    in_flight = np.searchsorted(starts, ticks, "right") - np.searchsorted(ends, ticks, "right")
    shards = max(workers * TASKS_PER_WORKER, -(-len(inventory) // MAX_TASK_ZONES))
    cut = _split(pd.DataFrame({"zone": inventory}), shards)
    shard_of = {z: i for i, part in enumerate(cut) for z in part["zone"]}
    q["shard"] = q["zone"].map(shard_of)
    per_shard = (
        q.dropna(subset=["shard"])
        .groupby("shard")
        .agg(first_s=("s", "min"), last_s=("e", "max"), queries=("s", "size"))
    )
    per_zone = (
        q[q["zone"].isin(shard_of)].groupby("zone").agg(first=("s", "min"), last=("e", "max"))
    )
    span = per_zone["last"] - per_zone["first"]
    return {
        "in_flight_every_step": [int(x) for x in in_flight],
        "step_s": step,
        "shards": [
            {"shard": int(k), **{c: round(float(v), 2) for c, v in row.items()}}
            for k, row in per_shard.iterrows()
        ],
        "zone_span_s": {
            "median": round(float(span.median()), 3),
            "p90": round(float(span.quantile(0.9)), 3),
            "max": round(float(span.max()), 3),
        },
        "zone_span_round_trips_median": round(float(span.median()) / rtt_s, 1) if rtt_s else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--zones", type=int, default=3000)
    ap.add_argument("--rtt-ms", type=float, default=200.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--addresses", type=int, default=48)
    ap.add_argument("--base", default="127.120.0", help="the synthetic lab's address base")
    ap.add_argument("--inflight-per-server", type=int, default=0, help="0: no per-server cap")
    ap.add_argument("--step", type=float, default=0.25, help="seconds between two samples")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-timeline-"))
    lab_dir = work / "lab"
    net = NetworkConditions(args.rtt_ms, 0.0, 0.0) if args.rtt_ms > 0 else None
    syn = synthetic_up(
        lab_dir, zones_count=args.zones, base=args.base, network=net, ns_addresses=args.addresses
    )
    try:
        portfolio = load_portfolio(syn.portfolio)
        transport = TransportConfig(
            max_inflight_per_server=args.inflight_per_server, max_qps_per_server=0
        )
        config = CollectConfig(
            trust_anchor=syn.info.trust_anchor,
            root_hints=syn.info.root_hints,
            transport=transport,
            progress=False,
        )
        t0 = time.perf_counter()
        frames = collect_parallel(portfolio, config, now=datetime.now(UTC), workers=args.workers)
        wall = time.perf_counter() - t0
    finally:
        lab_down(lab_dir)
        shutil.rmtree(work, ignore_errors=True)
    figures: dict[str, object] = {
        "zones": args.zones,
        "rtt_ms": args.rtt_ms,
        "workers": args.workers,
        "wall_s": round(wall, 2),
        "zones_per_s": round(len(frames["zones"]) / wall, 1),
        **timeline(
            frames["queries"],
            list(portfolio.inventory["zone"]),
            args.workers,
            args.rtt_ms / 1000.0,
            args.step,
        ),
    }
    shown = {k: v for k, v in figures.items() if k != "shards"}
    print(json.dumps(shown))
    for row in figures["shards"]:  # type: ignore[attr-defined]
        print(json.dumps(row))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
