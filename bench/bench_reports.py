"""Benchmark of the reports: board report for 1,000 zones, audit report for 10,000 zones, and
(``--large 100000``) both reports of a run above the streaming threshold, read from its
streamed assessment.

The portfolio is made by replicating a real run (by default the demo's latest run in
``out/workspace``, made by ``make demo``) under new zone names — ``r00001-corp.test`` and so on
— with a matching synthetic portfolio folder (inventory plus the demo's governance records),
so the reports read realistic frames and the governance assessment runs over every zone.
Each report is rendered in a fresh process; wall time and peak memory (maximum RSS of that
process and, separately, of its largest child — the notebook kernel) are reported, and the
result table is written atomically to ``bench/results-reports.md``.

    make demo && .venv/bin/python bench/bench_reports.py
    .venv/bin/python bench/bench_reports.py --board-zones 200 --audit-zones 1000   # smoke
    .venv/bin/python bench/bench_reports.py --large 100000 --large-only \
        --large-workspace /tmp/r100k        # ~4 min replication, ~10 min assessment, reports
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
ANCESTORS = {".", "test"}


def _rename(zone: str, k: int) -> str:
    return f"r{k:05d}-{zone}"


def _alabel(zone: str) -> str:
    from toolkit.inputs.inventory import normalize_zone

    return normalize_zone(zone)[0]


FIELD_LIMIT = 131_000
"""A little under the CSV field limit of the record readers (131,072 characters): a drill's
``zones`` listing every copy of its zones passes it near 100,000 zones."""


def _capped(names: Iterable[str]) -> str:
    """``;``-joined, keeping names while the field stays under :data:`FIELD_LIMIT`."""
    out: list[str] = []
    size = 0
    for n in names:
        size += len(n) + (1 if out else 0)
        if size > FIELD_LIMIT:
            break
        out.append(n)
    return ";".join(out)


def replicate(source: Path, target: Path, zones: int) -> tuple[Path, Path, str]:
    """A workspace and portfolio folder under ``target`` holding ``zones`` zones made from the
    latest run of ``source``; returns (workspace, portfolio, run id)."""
    from toolkit.store.runs import Store

    run = Store(source).load("latest")
    src_zones = list(run["zones"]["zone"])
    copies = math.ceil(zones / len(src_zones))
    frames: dict[str, pd.DataFrame] = {}
    for name, df in run.frames.items():
        if "zone" not in df.columns:
            frames[name] = df
            continue
        keep = df[df["zone"].isin(ANCESTORS)]
        own = df[~df["zone"].isin(ANCESTORS)]
        parts = [keep]
        for k in range(copies):
            part = own.copy()
            part["zone"] = part["zone"].map(lambda z, k=k: _rename(z, k))
            if "zone_unicode" in part.columns:
                part["zone_unicode"] = part["zone"]
            parts.append(part)
        out = pd.concat(parts, ignore_index=True)
        wanted = {_rename(z, k) for k in range(copies) for z in src_zones}
        wanted = set(sorted(wanted)[:zones]) | ANCESTORS
        frames[name] = out[out["zone"].isin(wanted)].reset_index(drop=True)
    portfolio = target / "portfolio"
    portfolio.mkdir(parents=True)
    src_portfolio = Path(run.manifest["parameters"]["portfolio"])
    names = list(frames["zones"]["zone"])
    copies_of: dict[str, list[str]] = {}
    for z in names:
        copies_of.setdefault(z.split("-", 1)[1], []).append(z)
    for f in src_portfolio.iterdir():
        if f.name == "inventory.csv" or not f.is_file():
            continue
        if f.suffix != ".csv":
            shutil.copy(f, portfolio / f.name)
            continue
        records = pd.read_csv(f, dtype=str, keep_default_na=False)
        for col in ("zone", "zones"):  # each record is copied for every copy of its zone
            if col in records.columns:
                records[col] = records[col].map(
                    lambda v: _capped(
                        c for z in v.split(";") if z for c in copies_of.get(_alabel(z), [])
                    )
                )
                records = records[records[col] != ""] if col == "zone" else records
                if col == "zone":
                    records = records.assign(zone=records["zone"].str.split(";")).explode("zone")
        for key in ("ticket", "exception", "incident"):
            if key in records.columns:  # ids stay unique
                records[key] = records[key] + "-" + records.groupby(key).cumcount().astype(str)
        records.to_csv(portfolio / f.name, index=False)
    inv = run["inventory"].set_index("zone")
    inv_rows = []
    for z in frames["zones"]["zone"]:
        row = inv.loc[z.split("-", 1)[1]].to_dict()
        row["zone"] = z
        inv_rows.append(row)
    csv = pd.DataFrame(inv_rows).drop(columns=["zone_unicode", "source_line"])
    csv["last_reviewed"] = pd.to_datetime(csv["last_reviewed"], utc=True).dt.strftime("%Y-%m-%d")
    csv = csv[["zone", *[c for c in csv.columns if c != "zone"]]]
    csv.to_csv(portfolio / "inventory.csv", index=False)
    params = dict(run.manifest["parameters"], portfolio=str(portfolio), replicated_from=run.run_id)
    workspace = target / "ws"
    new = Store(workspace).write(frames, parameters=params, now=run.created_at)
    return workspace, portfolio, new.run_id


def render_one(kind: str, workspace: str, out: str) -> None:
    """Child mode: render one report (or, ``assess``, make the run's streamed assessment as
    the reports would), print JSON with seconds and peak memory."""
    from toolkit.reports.render import render_audit_report, render_board_report

    t0 = time.perf_counter()
    if kind == "board":
        render_board_report(workspace, out)
    elif kind == "assess":
        from toolkit.assessment.stream import streamed_assessment
        from toolkit.store.runs import Store

        store = Store(workspace)  # the run's time and portfolio, without loading its frames
        runs = store.list_runs().set_index("run_id")
        run_id = store.resolve("latest")
        now = pd.Timestamp(runs.loc[run_id, "created_at"]).to_pydatetime()
        portfolio = store.read_manifest(run_id)["parameters"]["portfolio"]
        from toolkit.assessment.stream import default_out_dir, is_current

        reused = is_current(default_out_dir(workspace, run_id), run_id, now, portfolio)
        s = streamed_assessment(portfolio, store, run=run_id, now=now)
        Path(out).write_text(
            json.dumps({"findings": s.findings, "disk_bytes": s.disk_bytes, "reused": reused})
        )
    else:
        render_audit_report(workspace, out, framework="iso27001")
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "self_mb": own, "child_mb": kids}))


def measure(kind: str, workspace: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(workspace), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} report failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()
    if kind == "assess":
        return {**result, **json.loads(out.read_text())}
    from pypdf import PdfReader

    result["pages"] = len(PdfReader(out).pages)
    result["pdf_mb"] = out.stat().st_size / 1e6
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=ROOT / "out" / "workspace")
    ap.add_argument("--board-zones", type=int, default=1000)
    ap.add_argument("--audit-zones", type=int, default=10000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results-reports.md")
    ap.add_argument(
        "--large",
        type=int,
        default=0,
        help="also a run of this many zones (above the streaming threshold): its streamed "
        "assessment, then board and audit from it (results added to --out)",
    )
    ap.add_argument(
        "--large-workspace",
        type=Path,
        help="where the large replica is made (kept; reused when it holds a run)",
    )
    ap.add_argument("--large-only", action="store_true", help="skip the 1,000/10,000 reports")
    ap.add_argument("--one", nargs=3, metavar=("KIND", "WORKSPACE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        render_one(*args.one)
        return
    if args.large_only:
        large(args)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        for kind, n in (("board", args.board_zones), ("audit", args.audit_zones)):
            if n <= 0:
                continue  # --board-zones 0 / --audit-zones 0: skip that report
            t0 = time.perf_counter()
            ws, _, run_id = replicate(args.source, Path(tmp) / f"{kind}-{n}", n)
            prep = time.perf_counter() - t0
            r = measure(kind, ws, Path(tmp) / f"{kind}.pdf")
            rows.append((kind, n, prep, r))
            print(f"{kind}: {n} zones, {r}", flush=True)
    load = os.getloadavg()
    lines = [
        "# Report benchmark",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"{platform.processor() or platform.machine()} · Python {platform.python_version()} · "
        f"load average at the end {load[0]:.2f}",
        "",
        "| report | zones | wall time | peak RSS renderer | peak RSS kernel | pages | PDF size |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, n, _prep, r in rows:
        lines.append(
            f"| {kind} | {n:,} | {r['seconds']:.1f} s | {r['self_mb']:.0f} MB | "
            f"{r['child_mb']:.0f} MB | {r['pages']} | {r['pdf_mb']:.1f} MB |"
        )
    lines += [
        "",
        "Wall time: papermill (kernel start, notebook), nbconvert and WeasyPrint, in a fresh "
        "process; the audit report includes the governance assessment of every zone. "
        "Portfolio: the demo's latest run replicated under new zone names.",
    ]
    text = "\n".join(lines) + "\n"
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(text)
    tmp_out.replace(args.out)
    print(text)
    if args.large:
        large(args)


LARGE_HEADING = "## A run above the streaming threshold"


def large(args: argparse.Namespace) -> None:
    """The large run: replicate (or reuse), its streamed assessment in a fresh process, then
    the board and the audit report, each in a fresh process; PDFs and page images kept next
    to the workspace; the section :data:`LARGE_HEADING` of ``args.out`` replaced."""
    n = args.large
    where = args.large_workspace or Path(tempfile.mkdtemp(prefix="bench-reports-large-"))
    ws = where / "ws"
    t0 = time.perf_counter()
    if not (ws / "runs").is_dir():
        ws, _, _ = replicate(args.source, where, n)
    prep = time.perf_counter() - t0
    rows = []
    for kind in ("assess", "board", "audit"):
        out = where / (f"{kind}.json" if kind == "assess" else f"{kind}-{n}.pdf")
        r = measure(kind, ws, out)
        rows.append((kind, r))
        print(f"{kind}: {n} zones, {r}", flush=True)
    lines = [
        LARGE_HEADING,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {n:,} zones (replicated in {prep:.0f} s) · "
        f"{os.cpu_count()} cores shared with other engineers' work: the load average (1/5/15 "
        "min) after each step is given; times under load are inflated, memory is not.",
        "",
        "| step | wall time | peak RSS process | peak RSS kernel | pages | PDF size | load after |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, r in rows:
        load = "/".join(f"{x:.1f}" for x in r["load"])
        if kind == "assess":
            how = "found current, reused" if r.get("reused") else "made"
            lines.append(
                f"| streamed assessment, {how} ({r['findings']:,} findings, "
                f"{r['disk_bytes'] / 1e9:.1f} GB of parts) | {r['seconds']:.0f} s | "
                f"{r['self_mb']:.0f} MB | — | — | — | {load} |"
            )
        else:
            lines.append(
                f"| {kind} report | {r['seconds']:.0f} s | {r['self_mb']:.0f} MB | "
                f"{r['child_mb']:.0f} MB | {r['pages']} | {r['pdf_mb']:.1f} MB | {load} |"
            )
    lines += [
        "",
        "The reports read the streamed assessment made in the first step (current for the run, "
        "its as-of time and portfolio); a report that finds none makes it first, adding that "
        "step's time. Peak RSS kernel: the notebook kernel (largest child of the renderer).",
    ]
    section = "\n".join(lines) + "\n"
    old = args.out.read_text() if args.out.is_file() else ""
    if LARGE_HEADING in old:
        old = old[: old.index(LARGE_HEADING)].rstrip("\n") + "\n"
    text = (old + "\n" if old else "") + section
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(text)
    tmp_out.replace(args.out)
    print(section)


if __name__ == "__main__":
    main()
