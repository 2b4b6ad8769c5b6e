"""Collect a large portfolio on every core: shards of the inventory in worker processes.

dnspython builds and parses messages in pure Python, so a collector is CPU-bound long before
the network is the limit (REFERENCE §6): one process does a few thousand queries per second.
:func:`collect_parallel` cuts the inventory into contiguous shards and runs the ordinary
:func:`toolkit.collect.collector.collect` on each shard in a pool of worker processes, each
shard with its own delegation walker (and so its own cache of the zones above). Inside a
worker a task's shard can be split again over a few threads, which overlaps the waits of
dead or slow servers (the GIL is released while a socket waits); against live local servers
extra threads buy little, against timeouts they divide the wait.

The frames come back in inventory order with their schemas. Two things differ from one
sequential :func:`collect`, both by design:

* every shard rediscovers the zones above its first zone (the root, the TLD: a few queries),
  so the ``queries`` frame holds those queries once per shard — they were really sent;
* ``records`` keeps the evidence of each zone once (the first shard's), as a single walk
  would.

Every shard runs on one timeline: its clock starts at ``now`` plus the time elapsed since the
parallel run started, exactly as the single clock of a sequential run would read then.

The workers are started with ``forkserver`` (never ``fork``: the parent may hold threads and
sockets), so a script that calls this must guard its entry point with
``if __name__ == "__main__":`` as :mod:`multiprocessing` requires.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from toolkit.collect.anchors import load_root_hints, load_trust_anchor
from toolkit.collect.collector import COLLECTED, CollectConfig, collect
from toolkit.errors import ToolkitError
from toolkit.policy import PolicySet
from toolkit.portfolio import Portfolio
from toolkit.schemas import RECORDS, FrameSchema

DEFAULT_THREADS = 2
"""Threads per worker process. Measured on the synthetic lab (2 cores, two workers, other
work on the machine making every figure noisy): against 2,000 live zones 1 and 2 threads are
level (a thread parses while another waits for the server) and 4 to 8 threads lose to GIL
contention; with 10 % dead servers (500 zones, 0.3 s timeout, 1 try) 1 thread took 18.2 s,
2 threads 10.9 s, 4 threads 8.5 s. Pass ``threads`` to favour the latter case."""

TASKS_PER_WORKER = 4
"""Shards per worker process at least: enough to even out the load when some are slower."""

MAX_TASK_ZONES = 500
"""Zones per shard at most. A worker's memory grows with its shard (the rows of its frames,
and each zone's verdict and apex data, are kept until the shard's frames are built), so large
portfolios are cut finer; each shard costs a few queries to rediscover the zones above
(~0.5 % more queries at 500)."""

_FRAMES: tuple[FrameSchema, ...] = COLLECTED  # every frame collect() returns


class ParallelCollectionError(ToolkitError):
    """A collection worker process died (killed, out of memory) before returning its shard."""


@dataclass(frozen=True)
class _Task:
    """One shard for one worker process, cut again into ``threads`` contiguous parts."""

    index: int
    inventory: pd.DataFrame
    policies: PolicySet
    directory: Path
    config: CollectConfig
    now: datetime
    t0: float  # time.monotonic() when the run started (CLOCK_MONOTONIC is system-wide)
    threads: int


def _split(df: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """``df`` cut into at most ``parts`` contiguous, non-empty, nearly equal slices."""
    n = len(df)
    parts = max(1, min(parts, n))
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [df.iloc[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _collect_part(task: _Task, inventory: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Run :func:`collect` on one part, its clock continuing the run's single timeline."""
    portfolio = Portfolio(inventory=inventory, policies=task.policies, directory=task.directory)
    start = task.now + timedelta(seconds=max(0.0, time.monotonic() - task.t0))
    frames = collect(portfolio, task.config, now=start)
    frames.pop("inventory", None)
    return frames


def _run_task(task: _Task) -> list[dict[str, pd.DataFrame]]:
    """Worker process entry: collect the task's shard, in ``threads`` parts concurrently."""
    parts = _split(task.inventory, task.threads)
    if len(parts) == 1:
        return [_collect_part(task, parts[0])]
    with ThreadPoolExecutor(len(parts), thread_name_prefix="collect") as pool:
        return list(pool.map(lambda part: _collect_part(task, part), parts))


def merge_frames(
    inventory: pd.DataFrame, shards: list[dict[str, pd.DataFrame]]
) -> dict[str, pd.DataFrame]:
    """Concatenate shard frames (given in inventory order) into the run frames.

    ``records`` keeps each zone's evidence from the first shard that holds it (shards
    re-collect the zones above their first zone); the other frames are concatenated as they
    are. Every frame is cast to its schema; ``inventory`` is the full inventory given.
    """
    out: dict[str, pd.DataFrame] = {"inventory": inventory}
    for schema in _FRAMES:
        parts = []
        seen: set[str] = set()
        for shard in shards:
            df = shard.get(schema.name)
            if df is None or df.empty:
                continue
            if schema is RECORDS:
                zones_here = set(df["zone"].dropna())
                df = df[~df["zone"].isin(seen)]
                seen |= zones_here
            if not df.empty:
                parts.append(df)
        if parts:
            df = pd.concat(parts, ignore_index=True)
            same = list(df.columns) == schema.names and all(
                str(df[c.name].dtype) == c.dtype for c in schema.columns
            )
            out[schema.name] = df if same else schema.cast(df)
        else:
            out[schema.name] = schema.empty()
    return out


def collect_parallel(
    portfolio: Portfolio,
    config: CollectConfig,
    *,
    now: datetime,
    workers: int | None = None,
    threads: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Probe every inventory zone using ``workers`` processes and return the run frames.

    ``workers`` defaults to the number of cores; ``threads`` per worker (default
    :data:`DEFAULT_THREADS`, or 1 when ``workers=1``) overlap waits on slow or dead servers.
    With ``workers=1`` and no ``threads`` this is exactly
    :func:`toolkit.collect.collector.collect`, in this process. ``now`` is the
    start of the run's single clock for every shard. Returns the frames of :func:`collect`
    (see the module docstring for how ``queries`` and ``records`` are merged).

    Raises InputError for unusable trust-anchor or hints files (checked before any worker
    starts), ValueError for ``workers`` or ``threads`` below 1, and ParallelCollectionError
    when a worker process dies.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if threads is None:
        threads = 1 if workers == 1 else DEFAULT_THREADS
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be at least 1, got {workers}, {threads}")
    inventory = portfolio.inventory
    if (workers == 1 and threads == 1) or len(inventory) <= 1:
        return collect(portfolio, config, now=now)
    load_trust_anchor(config.trust_anchor)  # fail here, once, on a bad file
    load_root_hints(config.root_hints)

    t0 = time.monotonic()
    quiet = replace(config, progress=False)
    per_task = threads if workers > 1 else 1
    if workers > 1:
        n_tasks = max(workers * TASKS_PER_WORKER, -(-len(inventory) // MAX_TASK_ZONES))
    else:
        n_tasks = threads
    shards = _split(inventory, n_tasks)
    tasks = [
        _Task(i, s, portfolio.policies, portfolio.directory, quiet, now, t0, per_task)
        for i, s in enumerate(shards)
    ]
    disable = None if config.progress is None else not config.progress
    bar = tqdm(total=len(inventory), desc="collect", unit="zone", file=sys.stderr, disable=disable)
    results: list[list[dict[str, pd.DataFrame]]] = [[] for _ in tasks]
    try:
        if workers == 1:  # threads only, in this process
            with ThreadPoolExecutor(threads, thread_name_prefix="collect") as tpool:
                futures = {tpool.submit(_run_task, replace(t, threads=1)): t for t in tasks}
                _gather(futures, results, bar)
        else:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["toolkit.collect.collector"])
            with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx) as ppool:
                futures = {ppool.submit(_run_task, t): t for t in tasks}
                _gather(futures, results, bar)
    except BrokenProcessPool as exc:
        raise ParallelCollectionError(f"a collection worker process died: {exc}") from exc
    finally:
        bar.close()
    return merge_frames(inventory, [frames for task in results for frames in task])


def _gather(
    futures: dict[Future[list[dict[str, pd.DataFrame]]], _Task],
    results: list[list[dict[str, pd.DataFrame]]],
    bar: tqdm,
) -> None:
    for fut in as_completed(futures):
        task = futures[fut]
        results[task.index] = fut.result()
        bar.update(len(task.inventory))
