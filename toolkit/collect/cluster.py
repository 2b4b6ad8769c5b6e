"""Collect on a Dask cluster: partitions of the inventory become tasks of ``dask.distributed``.

:func:`collect_cluster` is :func:`toolkit.collect.parallel.collect_parallel` with Dask's
scheduler in place of a local process pool. Each task runs the ordinary asynchronous collector
(:func:`toolkit.collect.collector.collect`) on one contiguous partition of the inventory and
returns its frames; the frames are merged exactly as the process pool's are
(:func:`toolkit.collect.parallel.merge_frames`), so a cluster run and a single-machine run of the
same inventory give one run format, the same zones, statuses and findings.

``cluster`` is ``local`` (a :class:`distributed.LocalCluster` with one worker process per core),
``local:N`` (N worker processes), or the address of a running scheduler (``tcp://host:8786``).
On a remote cluster every worker must have the toolkit installed and read the trust-anchor and
root-hints files at the same paths.

Failures. Dask re-runs a task whose worker died (the worker's nanny restarts it) and retries a
task that raised (``retries``); a partition that still fails stops the collection with
:class:`ClusterCollectionError` naming the partition and its zones, and nothing is stored.

Politeness holds for the whole cluster: each of the cluster's worker processes gets an equal
share of the per-server limits (:func:`toolkit.collect.parallel.share_of_limits`), so a server
never sees more than the configured limits from the whole run, however many workers ask it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from toolkit.collect.anchors import load_root_hints, load_trust_anchor
from toolkit.collect.collector import CollectConfig, collect
from toolkit.collect.parallel import MAX_TASK_ZONES, _split, _Task, merge_frames, share_of_limits
from toolkit.errors import ToolkitError
from toolkit.portfolio import Portfolio

DEFAULT_RETRIES = 2
"""Times Dask re-runs a partition whose task raised before the collection gives up."""

_LOCAL = re.compile(r"local(?::(\d+))?")


class ClusterCollectionError(ToolkitError):
    """A partition could not be collected on the cluster (after Dask's retries)."""


@dataclass(frozen=True)
class ClusterSpec:
    """Where to collect: a local cluster of ``workers`` processes, or a scheduler address."""

    address: str | None = None  # tcp://host:port of a running scheduler
    workers: int | None = None  # local cluster: worker processes (None: one per core)

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        """``local``, ``local:N`` or a scheduler address (``tcp://host:port``, ``tls://…``);
        ValueError naming the expected forms otherwise."""
        text = text.strip()
        m = _LOCAL.fullmatch(text)
        if m:
            workers = int(m.group(1)) if m.group(1) else None
            if workers is not None and not 1 <= workers <= 256:
                raise ValueError(f"{text}: local takes 1 to 256 workers")
            return cls(workers=workers)
        if re.fullmatch(r"(tcp|tls|ucx|inproc)://[^\s/]+", text):
            return cls(address=text)
        raise ValueError(
            f"{text!r}: expected 'local', 'local:N' or a scheduler address "
            "such as tcp://scheduler:8786"
        )

    def __str__(self) -> str:
        if self.address:
            return self.address
        return "local" if self.workers is None else f"local:{self.workers}"


def _run_partition(task: _Task) -> dict[str, pd.DataFrame]:
    """Dask task: collect one partition, its clock continuing the run's single timeline.

    ``task.t0`` is wall-clock time here (a cluster's machines share no monotonic clock)."""
    portfolio = Portfolio(
        inventory=task.inventory, policies=task.policies, directory=task.directory
    )
    start = task.now + timedelta(seconds=max(0.0, time.time() - task.t0))
    frames = collect(portfolio, task.config, now=start)
    frames.pop("inventory", None)
    return frames


def _client(spec: ClusterSpec) -> tuple[object, object | None]:
    """A connected ``distributed.Client`` and the LocalCluster it started (or None)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # an optional dependency
        raise ClusterCollectionError(
            "--cluster needs Dask: pip install 'dnssec-governance-toolkit[cluster]' "
            "(dask[distributed])"
        ) from exc
    if spec.address:
        try:
            return Client(spec.address, timeout="10s"), None
        except OSError as exc:
            raise ClusterCollectionError(
                f"cannot reach the Dask scheduler at {spec.address}: {exc}"
            ) from exc
    local = LocalCluster(
        n_workers=spec.workers or (os.cpu_count() or 1),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(local), local


def collect_cluster(
    portfolio: Portfolio,
    config: CollectConfig,
    *,
    now: datetime,
    cluster: ClusterSpec | str,
    partition_zones: int = MAX_TASK_ZONES,
    retries: int = DEFAULT_RETRIES,
    on_partition_done: Callable[[int, object], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Probe every inventory zone on a Dask cluster and return the run frames.

    The inventory is cut into contiguous partitions of at most ``partition_zones`` zones (and
    at least two per worker); each is a Dask task. ``on_partition_done(index, client)`` is
    called in this process as each partition comes back (progress, tests). Raises InputError
    for an unusable trust anchor or hints file, ValueError for a bad cluster spec,
    ClusterCollectionError when a partition fails after Dask's retries, the scheduler cannot be
    reached or Dask is not installed.
    """
    spec = ClusterSpec.parse(cluster) if isinstance(cluster, str) else cluster
    if partition_zones < 1:
        raise ValueError(f"partition_zones must be at least 1, got {partition_zones}")
    load_trust_anchor(config.trust_anchor)  # fail here, once, on a bad file
    load_root_hints(config.root_hints)
    inventory = portfolio.inventory
    client, local = _client(spec)
    try:
        workers = max(1, len(client.scheduler_info()["workers"]))  # type: ignore[attr-defined]
        quiet = share_of_limits(replace(config, progress=False), workers)
        n_parts = max(2 * workers, -(-len(inventory) // partition_zones))
        parts = _split(inventory, n_parts)
        t0 = time.time()
        tasks = [
            _Task(i, part, portfolio.policies, portfolio.directory, quiet, now, t0, 1)
            for i, part in enumerate(parts)
        ]
        futures = client.map(  # type: ignore[attr-defined]
            _run_partition,
            tasks,
            key=[f"collect-partition-{i}-{t0:.6f}" for i in range(len(tasks))],
            retries=retries,
            pure=False,
        )
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[dict[str, pd.DataFrame] | None] = [None] * len(tasks)
        from distributed import as_completed

        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                results[i] = fut.result()
            except Exception as exc:
                zones = list(tasks[i].inventory["zone"])
                raise ClusterCollectionError(
                    f"partition {i} ({len(zones)} zones, {zones[0]} … {zones[-1]}) failed "
                    f"on the cluster after {retries} retries: {type(exc).__name__}: {exc}"
                ) from exc
            if on_partition_done is not None:
                on_partition_done(i, client)
    finally:
        client.close()  # type: ignore[attr-defined]
        if local is not None:
            local.close()  # type: ignore[attr-defined]
    return merge_frames(inventory, [r for r in results if r is not None])
