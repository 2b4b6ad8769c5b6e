"""Benchmark of the assessment (``toolkit.assessment.assess.assess``) at 10,000 and 100,000 zones.

Measures the assessment as it is today (the whole run's frames loaded at once), before making
it stream per partition (issue 14): wall time and peak RSS of one ``assess()`` in a fresh
process. The run is built without a collection: the hand-built sample run of the tests
(``tests/governance_fakes.store_sample_run``: zones, DNSKEY/DS records, resolver checks), or
``--source`` (a workspace whose latest run names its portfolio, e.g. ``out/workspace`` after
``make demo``), replicated under new zone names with a matching portfolio folder by
``bench_reports.replicate``, which writes through the store's own writer (so the run is
hashed, signed and verified on load like any other).

    .venv/bin/python bench/bench_assess.py --zones 10000 100000
    .venv/bin/python bench/bench_assess.py --zones 1000          # smoke

``--streaming`` measures :func:`toolkit.assessment.stream.assess_streaming` instead (partition
by partition, ``--partition-zones``, default 2,000), also in a fresh process, and adds the disk
used by the run and by the streamed result; ``--compare-upto N`` also measures ``assess()`` on
the same runs up to N zones. Figures are written to ``--json`` after every size, so a long
sweep keeps what it measured.

    .venv/bin/python bench/bench_assess.py --streaming --zones 1000 10000 30000 100000 \
        --compare-upto 10000 --json bench/results-assess-streaming.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def assess_one(workspace: str) -> None:
    """Child mode: assess the latest run of ``workspace``; print JSON figures."""
    from toolkit.assessment.assess import assess

    t0 = time.perf_counter()
    a = assess(None, workspace, now=NOW)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "findings": len(a.findings),
                "zones": len(a.frames["zones"]),
                "rows": {k: len(v) for k, v in a.frames.items()},
            }
        )
    )


def stream_one(workspace: str, out: str, partition_zones: int) -> None:
    """Child mode: stream the assessment of the latest run of ``workspace`` into ``out``."""
    from toolkit.assessment.stream import assess_streaming

    t0 = time.perf_counter()
    s = assess_streaming(None, workspace, now=NOW, out_dir=out, partition_zones=partition_zones)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "findings": s.findings,
                "zones": s.zones,
                "partitions": s.partitions,
                "partition_zones": partition_zones,
                "result_disk_mb": s.disk_bytes / 2**20,
                "portfolio_overall": s.portfolio_score["overall"],
                "portfolio_level": s.portfolio_score["level"],
            }
        )
    )


def _du_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def measure(workspace: Path, *extra: str) -> dict:
    args = ["--one", str(workspace)] if not extra else ["--stream-one", str(workspace), *extra]
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"assessment failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--source", type=Path, help="workspace to replicate (default: sample run)")
    ap.add_argument("--json", type=Path, help="write the raw figures here")
    ap.add_argument("--streaming", action="store_true", help="measure assess_streaming()")
    ap.add_argument("--partition-zones", type=int, default=2000)
    ap.add_argument(
        "--compare-upto",
        type=int,
        default=0,
        help="with --streaming: also assess() in memory up to this many zones",
    )
    ap.add_argument("--one", metavar="WORKSPACE", help=argparse.SUPPRESS)
    ap.add_argument("--stream-one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        assess_one(args.one)
        return
    if args.stream_one:
        ws, out, size = args.stream_one
        stream_one(ws, out, int(size))
        return
    from bench_reports import replicate

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-assess-") as tmp:
        source = args.source
        if source is None:
            from governance_fakes import store_sample_run

            source = Path(tmp) / "sample"
            store_sample_run(source, NOW - timedelta(hours=6))
        for n in args.zones:
            load_before = os.getloadavg()
            t0 = time.perf_counter()
            ws, _, _ = replicate(source, Path(tmp) / f"z{n}", n)
            prep = time.perf_counter() - t0
            modes = ["streaming"] if args.streaming else ["memory"]
            if args.streaming and n <= args.compare_upto:
                modes.append("memory")
            for mode in modes:
                load_before = os.getloadavg()
                if mode == "memory":
                    r = measure(ws)
                else:
                    out = Path(tmp) / f"z{n}-streamed"
                    r = measure(ws, str(out), str(args.partition_zones))
                    r["run_disk_mb"] = _du_mb(ws / "runs")
                    shutil.rmtree(out, ignore_errors=True)
                r.update(mode=mode, zones_asked=n, build_seconds=prep, load_before=load_before,
                         load_after=os.getloadavg())  # fmt: skip
                rows.append(r)
                print(json.dumps(r), flush=True)
                _save(args, rows)
            shutil.rmtree(Path(tmp) / f"z{n}", ignore_errors=True)
    print(json.dumps(_save(args, rows), indent=2))


def _save(args: argparse.Namespace, rows: list[dict]) -> dict:
    info = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "source": str(args.source or "tests/governance_fakes.store_sample_run"),
        "results": rows,
    }
    if args.json:
        tmp_out = args.json.with_suffix(".tmp")
        tmp_out.write_text(json.dumps(info, indent=2) + "\n")
        tmp_out.replace(args.json)
    return info


if __name__ == "__main__":
    main()
