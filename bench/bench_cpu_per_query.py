"""CPU time per query of one collector process: the measure of issue 10's 0 ms aim, made less
sensitive to a shared machine than any wall-clock figure.

Runs :func:`toolkit.collect.collect` once, in this process, over a running synthetic lab
(``dnssec-audit lab synthetic --dir DIR --zones N --ns-addresses 48``, no round trip), as one
worker process of ``collect_parallel`` would: set up by the measured version's own
:func:`~toolkit.collect.parallel._worker_init` (its worker-only dnspython patches), the
per-server caps lifted
as ``bench_collect.py``'s sweep lifts them (128 in flight, no rate limit). Prints one JSON line:
the zones, the queries sent (rows of the ``queries`` frame), the process CPU time of the
collection (``time.process_time``: user + system of this process, every thread) and of it per
query, the wall time and the load average.

To compare two versions of the toolkit, run this same script against each, alternating::

    git archive <base> | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python bench/bench_cpu_per_query.py --lab DIR
    .venv/bin/python bench/bench_cpu_per_query.py --lab DIR

or let the script alternate them itself, ``--pairs`` times each, one fresh process per run, and
print the medians (``--against`` is the other version's source tree)::

    .venv/bin/python bench/bench_cpu_per_query.py --lab DIR --against /tmp/before --pairs 3

``--digest`` adds a hash of every frame's rows with the columns that vary from run to run left
out (times, latencies, days left), sorted: equal digests say the two versions drew the same
frames. ``--profile FILE`` runs the collection under cProfile and writes its statistics (the CPU
figure is then the profiler's, not a measure).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import toolkit
from toolkit.collect import CollectConfig, TransportConfig, collect
from toolkit.collect.parallel import _worker_init
from toolkit.inputs.portfolio import load_portfolio

VOLATILE = {
    "queried_at",
    "checked_at",
    "latency_ms",
    "days_left",
    "min_rrsig_days_left",
}
"""Columns whose values differ between two collections of the same lab (clock, network)."""


def frames_digest(frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Per frame, a short hash of its rows without the :data:`VOLATILE` columns, in sorted
    order (the ``queries`` frame's order follows the answers' arrival)."""
    out = {}
    for name in sorted(frames):
        df = frames[name]
        cols = [c for c in df.columns if c not in VOLATILE]
        rows = sorted(repr(tuple(r)) for r in df[cols].astype(object).itertuples(index=False))
        h = hashlib.sha256("\n".join([repr(cols), *rows]).encode()).hexdigest()[:16]
        out[name] = f"{len(df)}:{h}"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lab", type=Path, required=True, help="a running synthetic lab's folder")
    ap.add_argument("--zones", type=int, help="collect only the first N zones (all)")
    ap.add_argument("--inflight-per-server", type=int, default=128)
    ap.add_argument("--digest", action="store_true", help="also hash the frames")
    ap.add_argument("--profile", type=Path, help="write cProfile statistics here")
    ap.add_argument("--label", default="", help="a label copied into the output line")
    ap.add_argument("--against", type=Path, help="alternate with this source tree's toolkit")
    ap.add_argument("--tree", type=Path, help="the other version's tree (this script's own)")
    ap.add_argument("--pairs", type=int, default=3, help="runs of each version (3)")
    ap.add_argument(
        "--together", action="store_true", help="run both versions of a pair at the same time"
    )
    args = ap.parse_args(argv)
    if args.against:
        return alternate(args)

    portfolio = load_portfolio(args.lab / "portfolio")
    if args.zones:
        inv = portfolio.inventory.iloc[: args.zones].reset_index(drop=True)
        portfolio = type(portfolio)(
            inventory=inv, policies=portfolio.policies, directory=portfolio.directory
        )
    config = CollectConfig(
        trust_anchor=args.lab / "root.ds",
        root_hints=args.lab / "root.hints",
        transport=TransportConfig(
            max_inflight_per_server=args.inflight_per_server, max_qps_per_server=0
        ),
        progress=False,
    )
    _worker_init(os.getpid())  # as a worker: the version's own worker-only set-up
    load = os.getloadavg()
    prof = cProfile.Profile() if args.profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if prof is not None:
        prof.enable()
    frames = collect(portfolio, config, now=datetime.now(UTC))
    if prof is not None:
        prof.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if prof is not None:
        prof.dump_stats(args.profile)
    queries = len(frames["queries"])
    out: dict[str, object] = {
        "label": args.label,
        "toolkit": str(Path(toolkit.__file__).parent.parent),
        "zones": len(frames["zones"]),
        "queries": queries,
        "secure": int((frames["zones"]["status"] == "secure").sum()),
        "errors": int(frames["queries"]["error"].notna().sum()),
        "cpu_s": round(cpu, 3),
        "cpu_us_per_query": round(cpu / max(1, queries) * 1e6, 1),
        "wall_s": round(wall, 3),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.digest:
        out["digest"] = frames_digest(frames)
    print(json.dumps(out), flush=True)
    return 0


def alternate(args: argparse.Namespace) -> int:
    """Run this script ``--pairs`` times against ``--against`` ("before") and as many times
    against ``--tree`` ("after", default: this script's own tree), each in a fresh process:
    one after the other, which goes first alternating, or with ``--together`` both versions of
    a pair at the same time, so that both see the same load from the rest of the machine.
    Prints every run's line, the medians and the ratio of each pair."""
    trees = {
        "before": args.against.resolve(),
        "after": (args.tree or Path(__file__).resolve().parent.parent).resolve(),
    }
    common = [sys.executable, str(Path(__file__).resolve()), "--lab", str(args.lab)]
    common += ["--inflight-per-server", str(args.inflight_per_server)]
    if args.zones:
        common += ["--zones", str(args.zones)]
    if args.digest:
        common.append("--digest")

    def start(label: str) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(trees[label]))
        cmd = [*common, "--label", label]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)

    def finish(proc: subprocess.Popen[str]) -> dict:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a run failed (exit code {proc.returncode})")
        line = out.strip().splitlines()[-1]
        print(line, flush=True)
        return dict(json.loads(line))

    results: dict[str, list[dict]] = {"before": [], "after": []}
    for i in range(args.pairs):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        if args.together:
            procs = {label: start(label) for label in order}
            for label in order:
                results[label].append(finish(procs[label]))
        else:
            for label in order:
                results[label].append(finish(start(label)))
    summary: dict[str, object] = {
        label: {
            "cpu_us_per_query": [r["cpu_us_per_query"] for r in runs],
            "median": statistics.median(r["cpu_us_per_query"] for r in runs),
            "min": min(r["cpu_us_per_query"] for r in runs),
        }
        for label, runs in results.items()
    }
    # the two runs of a pair are next to each other in time (or at the same time): their
    # ratio is the least disturbed by the machine's load drifting over the comparison
    ratios = [
        a["cpu_us_per_query"] / b["cpu_us_per_query"]
        for a, b in zip(results["after"], results["before"], strict=True)
    ]
    b, a = summary["before"]["median"], summary["after"]["median"]  # type: ignore[index]
    summary |= {
        "trees": {k: str(v) for k, v in trees.items()},
        "together": args.together,
        "change_of_medians": f"{(a - b) / b:+.1%}",
        "pair_ratios": [round(r, 3) for r in ratios],
        "median_pair_change": f"{statistics.median(ratios) - 1:+.1%}",
    }
    print(json.dumps(summary), flush=True)
    if args.digest:
        digests = {json.dumps(r["digest"], sort_keys=True) for rs in results.values() for r in rs}
        print("frames", "the same in every run" if len(digests) == 1 else "DIFFER", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
