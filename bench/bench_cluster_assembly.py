"""The client's side of a cluster run at scale: storing the run from the partitions' parts.

A cluster run's client gathers the partitions' Parquet parts and writes the run from them part
by part (:meth:`toolkit.collect.cluster.ClusterParts.frames`); before issue 14 it merged every
partition's frames in memory (:func:`toolkit.collect.parallel.merge_frames`) and then wrote
them. This measures both, each in a fresh process (wall time, peak RSS), on the parts of a
real stored run (``--run-ws``: a workspace holding a collected run, e.g. the 10,000-zone run of
``bench_cluster.py``) cut into partitions of 500 zones as the cluster cuts them and replicated
``--copies`` times under new zone names (``c<copy>-<zone>``): 10 copies of a 10,000-zone run
give the parts of a 100,000-zone run without collecting one.

    .venv/bin/python bench/bench_cluster_assembly.py --run-ws WS --copies 10 \\
        --json bench/results-cluster-assembly-100k.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.atomic import write_atomic  # noqa: E402

PARTITION = 500  # zones per partition, as toolkit.collect.parallel.MAX_TASK_ZONES


def _self_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_parts(run_ws: Path, copies: int, staging: Path) -> dict[str, Any]:
    """Write the partitions' parts of ``copies`` copies of the run into ``staging``."""
    import pandas as pd

    from toolkit.collect.collector import COLLECTED
    from toolkit.store.runs import Store

    run = Store(run_ws).load()
    inventory = run.frames["inventory"]
    zones = list(inventory["zone"])
    chunks = [zones[i : i + PARTITION] for i in range(0, len(zones), PARTITION)]
    index = 0
    invs = []
    for c in range(copies):
        inv = inventory.copy()
        inv["zone"] = f"c{c}-" + inv["zone"].astype(str)
        invs.append(inv)
        for chunk in chunks:
            wanted = set(chunk)
            for schema in COLLECTED:
                df = run.frames.get(schema.name, schema.empty())
                part = df[df["zone"].isin(wanted)].copy()
                part["zone"] = f"c{c}-" + part["zone"].astype(str)
                schema.cast(part).to_parquet(
                    staging / f"p{index:06d}-{schema.name}.parquet", index=False
                )
            index += 1
    pd.concat(invs, ignore_index=True).to_parquet(staging / "inventory.parquet", index=False)
    return {"zones": len(zones) * copies, "partitions": index}


def child(mode: str, staging: Path, partitions: int, ws: Path) -> dict[str, Any]:
    import pandas as pd

    from toolkit.collect.cluster import ClusterParts
    from toolkit.collect.collector import COLLECTED
    from toolkit.store.runs import Store

    inventory = pd.read_parquet(staging / "inventory.parquet")
    parts = ClusterParts(
        inventory,
        [
            {s.name: staging / f"p{i:06d}-{s.name}.parquet" for s in COLLECTED}
            for i in range(partitions)
        ],
    )
    base = _self_hwm_mb()
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    if mode == "parts":
        run = Store(ws).write(parts.frames(), parameters={}, now=now)
    else:
        run = Store(ws).write(parts.merged(), parameters={}, now=now)
    wall = time.perf_counter() - t0
    return {
        "mode": mode,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(_self_hwm_mb()),
        "rss_before_mb": round(base),
        "run_mb": round(sum(p.stat().st_size for p in run.path.iterdir()) / 1e6, 1),
        "rows": {m["frame"]: m["rows"] for m in run.manifest["files"].values()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--run-ws", type=Path, required=True)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--modes", default="parts,merge")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--staging", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--partitions", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--ws", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        got = child(args.child, args.staging, args.partitions, args.ws)
        write_atomic(args.child_out, json.dumps(got) + "\n")
        return 0
    figures: dict[str, Any] = {
        "copies": args.copies,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-assembly-") as tmp:
        staging = Path(tmp) / "staging"
        staging.mkdir()
        figures.update(make_parts(args.run_ws, args.copies, staging))
        for mode in args.modes.split(","):
            out = Path(tmp) / f"{mode}.json"
            load = [round(x, 2) for x in os.getloadavg()]
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--run-ws",
                    str(args.run_ws),
                    "--child",
                    mode,
                    "--staging",
                    str(staging),
                    "--partitions",
                    str(figures["partitions"]),
                    "--ws",
                    str(Path(tmp) / f"ws-{mode}"),
                    "--child-out",
                    str(out),
                ],
                check=True,
            )
            got = json.loads(out.read_text())
            got["load_before"] = load
            got["load_after"] = [round(x, 2) for x in os.getloadavg()]
            figures["runs"][mode] = got
            print(json.dumps(got), flush=True)
    text = json.dumps(figures, indent=2) + "\n"
    print(text)
    if args.json:
        write_atomic(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
