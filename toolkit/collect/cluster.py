"""Collect on a Dask cluster: partitions of the inventory become tasks of ``dask.distributed``.

:func:`collect_cluster` is :func:`toolkit.collect.parallel.collect_parallel` with Dask's
scheduler in place of a local process pool. Each task runs the ordinary asynchronous collector
(:func:`toolkit.collect.collector.collect`) on one contiguous partition of the inventory and
returns its frames; the frames are merged exactly as the process pool's are
(:func:`toolkit.collect.parallel.merge_frames`), so a cluster run and a single-machine run of the
same inventory give one run format, the same zones, statuses and findings.

Parts, not frames, come back. A task writes its partition's frames as Parquet parts into a
staging folder (:meth:`toolkit.store.runs.Store.staging`, a hidden ``.tmp-*`` folder of the
workspace's ``runs/``) and returns only their file names; :func:`collect_cluster_parts` gathers
the names, and :meth:`ClusterParts.frames` hands the store each frame as ordered parts
(:class:`toolkit.store.runs.FrameParts`), which it writes one row group per part, in partition
order: the client never holds more than one part of one frame, whatever the portfolio's size.
The assembly is :func:`~toolkit.collect.parallel.merge_frames`, part by part: ``records`` keeps
each zone's evidence from the first partition that holds it, every part is cast to its schema,
the inventory is the client's own. A worker that cannot see the staging folder (a remote worker
without the workspace at the same path on a shared filesystem) returns its parts' bytes instead,
and the client writes them into the staging folder as each partition comes back: still one
partition in memory at a time, at the cost of sending the parts over the network. The staging
folder is removed when the run is stored and when it fails; a client killed mid-run leaves it to
the store's clean-up of abandoned temporary folders (its name carries the client's pid).

``cluster`` is ``local`` (a :class:`distributed.LocalCluster` with one worker process per core),
``local:N`` (N worker processes), or the address of a running scheduler (``tcp://host:8786``).
On a remote cluster every worker must have the toolkit installed and read the trust-anchor and
root-hints files at the same paths.

Failures. Dask re-runs a task whose worker died (the worker's nanny restarts it) and retries a
task that raised (``retries``); a partition that still fails stops the collection with
:class:`ClusterCollectionError` naming the partition and its zones, and nothing is stored.

Vantage points. Validation failures are often local to a network path, so the validating
resolvers can be asked from several places: a worker started with the Dask resource
``vantage-NAME`` (``dask worker ADDR --resources vantage-eu-west=1``) stands in the network
``NAME``. When the cluster has such workers, every partition's resolver questions are asked once
from each vantage, by a task pinned to a worker of that vantage, and each ``resolver_checks``
row records the vantage it was seen from (the worker's own resource, checked at run time); the
rest of the collection (the walk and the toolkit's own validation) runs once, on any worker.
Without vantage workers, the resolvers are asked by the worker collecting the partition and the
rows carry ``config.vantage``.

Politeness holds for the whole cluster, split by address. At most W tasks run at once (W: the
cluster's worker threads), so an address that only n partitions ask sees at most min(W, n)
tasks at once, and each of them may have cap / min(W, n) of it (:func:`split_by_address`):
the sum never exceeds the cap. That needs the addresses each partition asks, and most are only
discovered during the walk (the parents' and the zones' own servers); so the split applies to
the addresses known before probing — the root hints (every partition asks them) and those a
caller vouches for (``known_addresses``: zone → every address its collection asks) — and every
other address keeps the safe equal share cap / W
(:func:`toolkit.collect.parallel.share_of_limits`). The split is recorded in the run's
manifest (``cluster_split``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.collect.anchors import load_root_hints, load_trust_anchor
from toolkit.collect.collector import COLLECTED, CollectConfig
from toolkit.collect.parallel import (
    MAX_TASK_ZONES,
    _collect_part,
    _split,
    _Task,
    merge_frames,
    share_of_limits,
)
from toolkit.collect.resolvers import ResolverSpec, check_resolvers
from toolkit.collect.transport import TransportConfig
from toolkit.errors import ToolkitError
from toolkit.inputs.portfolio import Portfolio
from toolkit.schemas import RECORDS, RESOLVER_CHECKS
from toolkit.store.runs import FrameParts

if TYPE_CHECKING:  # Dask is optional: imported where a cluster is used
    from distributed import Client, LocalCluster

#: A worker's Dask resource ``vantage-NAME`` places it at the vantage point NAME.
VANTAGE_RESOURCE = "vantage-"

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


#: A part as a task returns it: a file name in the staging folder, or the Parquet bytes when
#: the worker cannot see the staging folder.
_Part = str | bytes


def _put_part(df: pd.DataFrame, staging: str, name: str) -> _Part:
    """Write ``df`` as the part ``name`` into ``staging`` (atomically: a temporary file renamed,
    so a retried task replaces a killed attempt's part whole) and return its file name; the
    Parquet bytes instead when this worker cannot see ``staging``."""
    if not os.path.isdir(staging):
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    fname = f"{name}.parquet"
    tmp = os.path.join(staging, f".{name}-{secrets.token_hex(4)}.tmp")
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, os.path.join(staging, fname))
    except FileNotFoundError:  # the run was given up meanwhile (its staging removed): no debris
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    return fname


def _run_partition(task: _Task, staging: str) -> dict[str, _Part]:
    """Dask task: collect one partition (its clock continuing the run's single timeline) and
    write each frame as a part; return the parts by frame name."""
    frames = _collect_part(task, task.inventory)
    out: dict[str, _Part] = {}
    for schema in COLLECTED:
        df = frames.pop(schema.name, None)
        df = schema.empty() if df is None else schema.cast(df)
        out[schema.name] = _put_part(df, staging, f"p{task.index:06d}-{schema.name}")
    return out


@dataclass(frozen=True)
class _ResolverTask:
    """The resolver questions of one partition, asked from one vantage point."""

    index: int
    zones: tuple[str, ...]
    resolvers: tuple[ResolverSpec, ...]
    transport: TransportConfig
    vantage: str
    now: datetime
    t0: float  # wall clock when the run started


def _ask_from_vantage(task: _ResolverTask, staging: str) -> _Part:
    """Dask task: ask the partition's resolver questions from this worker, which must stand at
    ``task.vantage`` (a task of Dask's resource constraint can only land there; checked), and
    write the ``resolver_checks`` rows as a part."""
    from distributed import get_worker

    have = get_worker().state.total_resources
    if VANTAGE_RESOURCE + task.vantage not in have:
        raise RuntimeError(
            f"worker without resource {VANTAGE_RESOURCE}{task.vantage} ran its task ({have})"
        )
    start = task.now + timedelta(seconds=max(0.0, time.time() - task.t0))
    rows = check_resolvers(
        task.zones, task.resolvers, transport=task.transport, now=start, vantage=task.vantage
    )
    name = f"v-{task.vantage}-{task.index:06d}-{RESOLVER_CHECKS.name}"
    return _put_part(RESOLVER_CHECKS.frame(rows), staging, name)


def cluster_vantages(client: Client) -> list[str]:
    """The vantage points of the cluster's workers (their ``vantage-NAME`` resources), sorted."""
    workers = client.scheduler_info()["workers"]
    names = {
        key[len(VANTAGE_RESOURCE) :]
        for w in workers.values()
        for key in (w.get("resources") or {})
        if key.startswith(VANTAGE_RESOURCE)
    }
    return sorted(names)


def _client(spec: ClusterSpec) -> tuple[Client, LocalCluster | None]:
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
            # distributed's Client and LocalCluster constructors are not annotated
            return Client(spec.address, timeout="10s"), None  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise ClusterCollectionError(
                f"cannot reach the Dask scheduler at {spec.address}: {exc}"
            ) from exc
    local = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=spec.workers or (os.cpu_count() or 1),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(local), local  # type: ignore[no-untyped-call]


@dataclass
class ClusterParts:
    """The parts a cluster collection left in its staging folder, in partition order.

    ``partitions[i]`` maps each frame of :data:`~toolkit.collect.collector.COLLECTED` to the
    path of partition i's part; ``vantage_parts`` are the ``resolver_checks`` parts asked from
    the vantage points (vantage by vantage, partition by partition), when the cluster has any.
    ``parameters`` describe how the run was split (recorded in the run's manifest).
    """

    inventory: pd.DataFrame
    partitions: list[dict[str, Path]]
    vantage_parts: list[Path] | None = None
    parameters: dict[str, object] = field(default_factory=dict)

    def _paths(self, name: str) -> list[Path]:
        if name == RESOLVER_CHECKS.name and self.vantage_parts is not None:
            return list(self.vantage_parts)
        return [p[name] for p in self.partitions]

    def iter_parts(self, name: str) -> Iterator[pd.DataFrame]:
        """Frame ``name``'s parts in order, read one at a time, as
        :func:`~toolkit.collect.parallel.merge_frames` merges them: ``records`` without the
        zones an earlier partition already holds."""
        seen: set[str] = set()
        for path in self._paths(name):
            df = pd.read_parquet(path)
            if name == RECORDS.name:
                here = set(df["zone"].dropna())
                df = df[~df["zone"].isin(seen)]
                seen |= here
            yield df

    def frames(self) -> dict[str, pd.DataFrame | FrameParts]:
        """The run's frames for :meth:`toolkit.store.runs.Store.write`: the inventory whole,
        every collected frame as ordered parts."""
        out: dict[str, pd.DataFrame | FrameParts] = {"inventory": self.inventory}
        for schema in COLLECTED:
            out[schema.name] = FrameParts(functools.partial(self.iter_parts, schema.name))
        return out

    def read(self, name: str) -> pd.DataFrame:
        """Frame ``name`` whole, in memory (what :func:`merge_frames` gives for it)."""
        schema = next(s for s in COLLECTED if s.name == name)
        parts = [df for df in self.iter_parts(name) if not df.empty]
        if not parts:
            return schema.empty()
        return schema.cast(pd.concat(parts, ignore_index=True))

    def merged(self) -> dict[str, pd.DataFrame]:
        """Every frame whole, exactly as :func:`merge_frames` merges the partitions' frames."""
        shards = [
            {name: pd.read_parquet(path) for name, path in part.items()} for part in self.partitions
        ]
        frames = merge_frames(self.inventory, shards)
        if self.vantage_parts is not None:
            frames[RESOLVER_CHECKS.name] = self.read(RESOLVER_CHECKS.name)
        return frames


def split_by_address(
    config: CollectConfig, tasks_at_once: int, uses: Sequence[Collection[str]]
) -> tuple[list[CollectConfig], dict[str, dict[str, float | int]]]:
    """Each partition's collector configuration, its per-server caps split by address.

    ``uses[i]`` holds the addresses partition i is known to ask. An address that n partitions
    ask gets cap / min(``tasks_at_once``, n) in each of them (in flight rounded up, as
    :func:`share_of_limits` does); every other address the equal share cap / tasks_at_once.
    Returns the configurations (partition order) and, by address, the split (for the
    manifest: partitions asking it, tasks at once, the caps each task has)."""
    equal = share_of_limits(config, tasks_at_once)
    t = config.transport
    count = Counter(a for part in uses for a in set(part))
    split: dict[str, dict[str, float | int]] = {}
    for address, n in sorted(count.items()):
        k = max(1, min(tasks_at_once, n))
        inflight = t.max_inflight_per_server
        qps = t.max_qps_per_server
        split[address] = {
            "partitions": n,
            "tasks_at_once": k,
            "max_inflight_per_server": max(1, math.ceil(inflight / k)) if inflight > 0 else 0,
            "max_qps_per_server": qps / k if qps > 0 else 0,
        }
    if t.max_inflight_per_server <= 0 and t.max_qps_per_server <= 0:
        return [equal] * len(uses), split  # no caps: nothing to split
    configs = []
    for part in uses:
        own = tuple(
            (a, int(split[a]["max_inflight_per_server"]), float(split[a]["max_qps_per_server"]))
            for a in sorted(set(part))
            if split[a]["tasks_at_once"] < tasks_at_once
        )
        configs.append(replace(equal, transport=replace(equal.transport, server_caps=own)))
    return configs, split


def _root_addresses(config: CollectConfig) -> set[str]:
    """The addresses of the root hints (every partition's walk starts there)."""
    return {address for _name, address in load_root_hints(config.root_hints).servers}


def collect_cluster_parts(
    portfolio: Portfolio,
    config: CollectConfig,
    *,
    now: datetime,
    cluster: ClusterSpec | str,
    staging: Path,
    partition_zones: int = MAX_TASK_ZONES,
    retries: int = DEFAULT_RETRIES,
    on_partition_done: Callable[[int, object], None] | None = None,
    known_addresses: Mapping[str, Collection[str]] | None = None,
) -> ClusterParts:
    """Probe every inventory zone on a Dask cluster, each partition's frames written as parts
    into the existing folder ``staging``; return where they are.

    The inventory is cut into contiguous partitions of at most ``partition_zones`` zones (and
    at least two per worker); each is a Dask task. ``on_partition_done(index, client)`` is
    called in this process as each partition comes back (progress, tests). Raises InputError
    for an unusable trust anchor or hints file, ValueError for a bad cluster spec,
    ClusterCollectionError when a partition fails after Dask's retries, the scheduler cannot be
    reached or Dask is not installed. The caller owns ``staging`` (and removes it).
    ``known_addresses`` (zone → every server address its collection asks, as the caller
    knows it before probing) lets the per-server caps be split by address (see the module
    docstring); the root hints' addresses are always known.
    """
    spec = ClusterSpec.parse(cluster) if isinstance(cluster, str) else cluster
    if partition_zones < 1:
        raise ValueError(f"partition_zones must be at least 1, got {partition_zones}")
    load_trust_anchor(config.trust_anchor)  # fail here, once, on a bad file
    load_root_hints(config.root_hints)
    inventory = portfolio.inventory
    where = str(staging.resolve())
    client, local = _client(spec)
    try:
        info = client.scheduler_info()["workers"]
        workers = max(1, len(info))
        # tasks at once: every thread of every worker runs one (README: one thread each)
        at_once = max(workers, sum(int(w.get("nthreads") or 1) for w in info.values()))
        quiet = share_of_limits(replace(config, progress=False), at_once)
        vantages = cluster_vantages(client) if config.resolvers else []
        n_parts = max(2 * workers, -(-len(inventory) // partition_zones))
        parts = _split(inventory, n_parts)
        roots = _root_addresses(config)
        known = known_addresses or {}
        uses = [roots.union(*(known.get(z, ()) for z in part["zone"])) for part in parts]
        walk = (
            replace(config, progress=False, resolvers=())
            if vantages
            else replace(config, progress=False)
        )
        configs, split = split_by_address(walk, at_once, uses)
        t0 = time.time()
        tasks = [
            _Task(i, part, portfolio.policies, portfolio.directory, configs[i], now, t0, 1, True)
            for i, part in enumerate(parts)
        ]
        futures = client.map(
            _run_partition,
            tasks,
            staging=where,
            key=[f"collect-partition-{i}-{t0:.6f}" for i in range(len(tasks))],
            retries=retries,
            pure=False,
        )
        asked = [
            _ResolverTask(
                i, tuple(part["zone"]), quiet.resolvers, quiet.transport, vantage, now, t0
            )
            for vantage in vantages
            for i, part in enumerate(parts)
        ]
        resolver_futures = [
            client.submit(
                _ask_from_vantage,
                task,
                where,
                key=f"resolvers-{task.vantage}-{task.index}-{t0:.6f}",
                resources={VANTAGE_RESOURCE + task.vantage: 1},
                retries=retries,
                pure=False,
            )
            for task in asked
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[dict[str, Path]] = [{} for _ in tasks]
        from distributed import as_completed

        # distributed's as_completed is not annotated
        for fut in as_completed(futures):  # type: ignore[no-untyped-call]
            i = index[fut.key]
            try:
                got = fut.result()
            except Exception as exc:
                raise ClusterCollectionError(_failed(tasks[i].inventory, i, retries, exc)) from exc
            results[i] = {
                name: _land(part, staging, f"p{i:06d}-{name}") for name, part in got.items()
            }
            # the part is landed: let the cluster forget the task (its result, and the task
            # with its partition of the inventory, which a worker keeps while a client holds
            # the future: the list above would hold every one to the end of the run)
            fut.release()
            del got, fut  # the bytes of a remote worker's parts: written, not kept
            if on_partition_done is not None:
                on_partition_done(i, client)
        vantage_parts: list[Path] = []
        for task, vfut in zip(asked, resolver_futures, strict=True):
            try:
                part = vfut.result()
            except Exception as exc:
                raise ClusterCollectionError(
                    f"from vantage {task.vantage}: "
                    + _failed(parts[task.index], task.index, retries, exc)
                ) from exc
            name = f"v-{task.vantage}-{task.index:06d}-{RESOLVER_CHECKS.name}"
            vantage_parts.append(_land(part, staging, name))
    finally:
        # distributed's Client.close is not annotated
        client.close()  # type: ignore[no-untyped-call]
        if local is not None:
            local.close()
    t = quiet.transport
    parameters: dict[str, object] = {
        "workers": workers,
        "tasks_at_once": at_once,
        "partitions": len(tasks),
        "equal_share": {
            "max_inflight_per_server": t.max_inflight_per_server,
            "max_qps_per_server": t.max_qps_per_server,
        },
        "by_address": split,
    }
    return ClusterParts(inventory, results, vantage_parts if vantages else None, parameters)


def _land(part: _Part, staging: Path, name: str) -> Path:
    """The path of a part in ``staging``: the file the worker wrote, or its bytes written now."""
    if isinstance(part, str):
        return staging / part
    path = staging / f"{name}.parquet"
    path.write_bytes(part)
    return path


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
    """Probe every inventory zone on a Dask cluster and return the run frames, whole, in this
    process (:func:`collect_cluster_parts` into a private temporary folder, then
    :meth:`ClusterParts.merged`). For a large portfolio, store the run from its parts instead
    (:func:`toolkit.collect.collect_run` with ``cluster``). Raises as
    :func:`collect_cluster_parts`."""
    staging = Path(tempfile.mkdtemp(prefix="dnssec-cluster-parts-"))
    try:
        parts = collect_cluster_parts(
            portfolio,
            config,
            now=now,
            cluster=cluster,
            staging=staging,
            partition_zones=partition_zones,
            retries=retries,
            on_partition_done=on_partition_done,
        )
        return parts.merged()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _failed(part: pd.DataFrame, index: int, retries: int, exc: BaseException) -> str:
    zones = list(part["zone"])
    return (
        f"partition {index} ({len(zones)} zones, {zones[0]} … {zones[-1]}) failed "
        f"on the cluster after {retries} retries: {type(exc).__name__}: {exc}"
    )
