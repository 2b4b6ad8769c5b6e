"""Collect a large portfolio on every core: shards of the inventory in worker processes.

dnspython builds and parses messages in pure Python, so a collector is CPU-bound long before
the network is the limit (REFERENCE §6): one process parses a few thousand answers per second.
:func:`collect_parallel` cuts the inventory into contiguous shards and runs the ordinary
:func:`toolkit.collect.collector.collect` on each shard in a pool of worker processes; inside
a worker the asynchronous engine keeps hundreds of zones in flight in one event loop, so the
waits on the network overlap and only the CPU limits a worker.

The frames come back in inventory order with their schemas. Two things differ from one
sequential :func:`collect`, both by design:

* every shard rediscovers the zones above its first zone (the root, the TLD: a few queries),
  so the ``queries`` frame holds those queries once per shard — they were really sent;
* ``records`` keeps the evidence of each zone once (the first shard's), as a single walk
  would.

Every shard runs on one timeline: its clock starts at ``now`` plus the time elapsed since the
parallel run started, exactly as the single clock of a sequential run would read then.

Politeness holds for the run, not per process: each of the ``workers`` processes gets an equal
share of the per-server limits (in flight and queries per second), so the servers never see
more than the configured limits from the whole run.

Interruptions. Workers ignore SIGINT (Ctrl-C reaches the whole process group; the main process
alone decides), and end as soon as the main process ends, however it ends (a thread waits on a
pidfd of it, see :func:`_worker_init`); the forkserver and the resource tracker then exit by
themselves, so a ``kill -9`` of the main process leaves no process behind. A Ctrl-C in the
main process kills the workers at once and re-raises KeyboardInterrupt. A worker that dies is
named (pid, exit code or signal) in the error.

The workers are started with ``forkserver`` (never ``fork``: the parent may hold threads and
sockets), so a script that calls this must guard its entry point with
``if __name__ == "__main__":`` as :mod:`multiprocessing` requires.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import select
import signal
import sys
import threading
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
from toolkit.collect.transport import convert_enum_values_once, hash_added_rdata_once
from toolkit.errors import ToolkitError
from toolkit.inputs.policy import PolicySet
from toolkit.inputs.portfolio import Portfolio
from toolkit.schemas import RECORDS, FrameSchema

DEFAULT_THREADS = 1
"""Threads per worker process, each with its own event loop over a part of the shard. One is
enough: the asynchronous engine overlaps every wait in one loop, and more threads only
contend for the GIL."""

TASKS_PER_WORKER = 2
"""Shards per worker process at least: enough to even out the load when some are slower."""

MAX_TASK_ZONES = 500
"""Zones per shard at most. A worker's memory grows with its shard (the rows of its frames,
and each zone's verdict and apex data, are kept until the shard's frames are built), so large
portfolios are cut finer; each shard costs a few queries to rediscover the zones above and a
round trip or two of ramp-up and drain (~0.5 % more queries at 500). Measured on 10,000 zones
at 50 ms: shards of 1,000 zones peaked at 1,180 MB (sum of the processes' peaks)."""


WORKER_GC_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation of Python's cyclic
garbage collector in a collection worker (Python's default: 700). See :func:`tune_gc`."""

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
    wall_clock: bool = False  # t0 is time.time() (a cluster's machines share no monotonic clock)


def _split(df: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """``df`` cut into at most ``parts`` contiguous, non-empty, nearly equal slices."""
    n = len(df)
    parts = max(1, min(parts, n))
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [df.iloc[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _collect_part(task: _Task, inventory: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Run :func:`collect` on one part, its clock continuing the run's single timeline."""
    portfolio = Portfolio(inventory=inventory, policies=task.policies, directory=task.directory)
    elapsed = (time.time() if task.wall_clock else time.monotonic()) - task.t0
    start = task.now + timedelta(seconds=max(0.0, elapsed))
    frames = collect(portfolio, task.config, now=start)
    frames.pop("inventory", None)
    return frames


def _worker_init(main_pid: int) -> None:
    """Worker process set-up: leave Ctrl-C to the main process, no multiprocessing lock for
    the (disabled) progress bar, dnspython's ``Set.add`` hashing once and ``IntEnum.make``
    remembering its integers (:func:`~toolkit.collect.transport.hash_added_rdata_once`,
    :func:`~toolkit.collect.transport.convert_enum_values_once`: this process runs nothing
    but the collection), the garbage collector set for it (:func:`tune_gc`), and end when
    the main process ends.

    A forkserver worker's parent is the forkserver, and the forkserver outlives the main
    process as long as any worker lives (every worker holds its "alive" pipe), so neither
    PR_SET_PDEATHSIG nor the parent pid can tell a worker that the main process is gone: a
    thread waits on a pidfd of the main process instead, and ends the worker when it exits.
    The forkserver then sees its pipe close and exits, and the resource tracker after it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hash_added_rdata_once()
    convert_enum_values_once()
    tune_gc()
    tqdm.set_lock(threading.RLock())  # tqdm's default lock is a semaphore the tracker counts
    threading.Thread(target=_die_with, args=(main_pid,), daemon=True).start()


def tune_gc() -> None:
    """Set up Python's cyclic garbage collector for a process that runs nothing but the
    collection: everything alive now (the modules the worker imported: pandas, pyarrow,
    dnspython, cryptography, the toolkit) goes to the permanent generation (``gc.freeze``),
    and the youngest generation is collected every :data:`WORKER_GC_THRESHOLD` allocations
    instead of every 700.

    Parsing makes many short-lived objects, and with the defaults the collector spent about a
    fifth of a worker's CPU at 0 ms in the garbage collector (measured with ``gc.callbacks``,
    500 zones: 1.1-1.2 s of 5.4-6.2 s), most of it in a few full collections, each walking
    every object of the imported libraries, which never become garbage. Frozen, those are
    never walked again; collected less often, the young objects are mostly gone (freed by
    their reference counts) before a collection looks at them, so fewer are promoted, and
    the older generations are collected seldom (same run: 0.35 s). Nothing is collected
    differently: cyclic garbage is still found, only later, and a young generation of 20,000
    objects is a few MB. A worker process only (:func:`_worker_init`), never on import."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(WORKER_GC_THRESHOLD, older, oldest)


def _die_with(pid: int) -> None:
    """Wait for process ``pid`` to end, then end this process at once."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:  # no pidfd (old kernel): poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            time.sleep(0.5)
    os._exit(1)


def share_of_limits(config: CollectConfig, workers: int) -> CollectConfig:
    """``config`` with each per-server limit divided among ``workers`` processes (in flight
    rounded up, at least 1), so the whole run stays within the configured limits."""
    t = config.transport
    if workers <= 1:
        return config
    inflight = t.max_inflight_per_server
    qps = t.max_qps_per_server
    return replace(
        config,
        transport=replace(
            t,
            max_inflight_per_server=max(1, math.ceil(inflight / workers)) if inflight > 0 else 0,
            max_qps_per_server=qps / workers if qps > 0 else 0,
        ),
    )


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
    are. Every frame is cast to its schema; ``inventory`` is the full inventory given. The
    shards' frames are taken out of ``shards`` as they are merged.
    """
    out: dict[str, pd.DataFrame] = {"inventory": inventory}
    for schema in _FRAMES:
        parts = []
        seen: set[str] = set()
        for shard in shards:
            # taken out of the shard: each frame's parts are freed once concatenated, so the
            # run's frames are never held twice over at once
            df = shard.pop(schema.name, None)
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
    quiet = share_of_limits(replace(config, progress=False), workers * threads)
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
            ppool = ProcessPoolExecutor(
                min(workers, len(tasks)),
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
            stopped = False
            try:
                futures = {ppool.submit(_run_task, t): t for t in tasks}
                _gather(futures, results, bar)
            except BrokenProcessPool as exc:
                raise ParallelCollectionError(_death_note(ppool, futures, results)) from exc
            except BaseException:  # Ctrl-C, or a failure: stop the workers now, not at the end
                stopped = True
                _kill_workers(ppool)
                raise
            finally:
                # Once its workers are killed, the pool's manager thread may wait on a queue
                # nobody reads any more: do not wait for it then (the process is ending).
                ppool.shutdown(wait=not stopped, cancel_futures=True)
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


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill every worker process of ``pool`` now (their shards are abandoned)."""
    processes = dict(getattr(pool, "_processes", None) or {})
    for proc in processes.values():
        if proc.is_alive():
            proc.kill()
    for proc in processes.values():
        proc.join(timeout=2)


def _death_note(
    pool: ProcessPoolExecutor,
    futures: dict[Future[list[dict[str, pd.DataFrame]]], _Task],
    results: list[list[dict[str, pd.DataFrame]]],
) -> str:
    """The error of a broken pool: which worker died, how, and which shards were lost."""
    ended = []
    for pid, proc in sorted((getattr(pool, "_processes", None) or {}).items()):
        proc.join(timeout=1)
        code = proc.exitcode
        if code is None or code == 0:
            continue
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        ended.append((code, f"pid {pid} ({how})"))
    # the pool terminates (SIGTERM) the other workers once one has died: name the first
    dead = [text for code, text in ended if code != -signal.SIGTERM] or [t for _, t in ended]
    lost = [t for t in futures.values() if not results[t.index]]
    zones = [z for t in lost for z in t.inventory["zone"]]
    span = f"{zones[0]} ... {zones[-1]}" if len(zones) > 1 else "".join(zones)
    who = ", ".join(dead) or "a worker (its pid is no longer known)"
    return (
        f"collection worker process {who} died; {len(lost)} shard(s) of {len(zones)} zones "
        f"not collected ({span})"
    )
