"""Collect: probe every zone of a portfolio and validate its chain of trust.

:func:`collect` returns the run frames; :func:`collect_run` also stores them as an immutable
run. The pieces: ``anchors`` (trust anchor, root hints), ``plan`` (which question to which
server, pure), ``walk`` (the walk's decisions as pure functions;
:class:`~toolkit.collect.walk.WalkState`, what both drivers learn and keep; the sequential driver),
``aio_walk`` and ``aio_transport`` (the asynchronous driver and sender :func:`collect` uses:
many zones and queries in flight, polite per server address), ``transport`` (the blocking
sender, the shared query message and :class:`Exchange`), ``validate`` (pure chain
validation), ``evidence`` (pure evidence rows), ``resolvers``, ``parallel`` (worker processes),
``cluster`` (a Dask cluster).

Two drivers run one walk, as dnspython's ``query`` and ``asyncquery`` share message building
and parsing: the asynchronous one collects; the sequential one
(:func:`toolkit.collect.collector.collect_sequential`) is kept as the reference the
asynchronous engine is proven equal to (``tests/test_aio_equivalence.py``), frame for frame.
"""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from toolkit.collect.collector import CollectConfig, collect, with_politeness
from toolkit.collect.discover import (
    DiscoverConfig,
    check_zone_files,
    polite_discovery,
    servers_from_nameservers,
)
from toolkit.collect.discover import discover as discover_zones
from toolkit.collect.resolvers import ResolverSpec
from toolkit.collect.transport import TransportConfig
from toolkit.errors import WriteError
from toolkit.inputs.portfolio import Portfolio, load_portfolio
from toolkit.store.runs import Run, Store

__all__ = ["CollectConfig", "ResolverSpec", "TransportConfig", "collect", "collect_run"]


def collect_run(
    portfolio_dir: str | Path,
    workspace: str | Path,
    config: CollectConfig,
    *,
    now: datetime,
    workers: int | None = 1,
    cluster: str | None = None,
    tsa_url: str | None = None,
    discover: DiscoverConfig | None = None,
) -> Run:
    """Load the portfolio, collect it, and store the frames (observations only: the checks
    judge them in :mod:`toolkit.assessment`) as a new run, which is returned.

    Raises InputError for bad portfolio, trust-anchor or hints files; WriteError when the
    workspace cannot be written (checked before probing) or the disk fills; StoreError when the run
    cannot be written. Nothing is stored when collection fails. ``workers`` > 1 (``None``: one
    per core) collects in that many processes (:func:`toolkit.collect.parallel.collect_parallel`);
    ``cluster`` (``local``, ``local:N``, ``tcp://host:port``) collects on a Dask cluster instead
    (:func:`toolkit.collect.cluster.collect_cluster`) and is recorded in the run's parameters.
    ``tsa_url``: the run's manifest is timestamped by that RFC 3161 TSA (see Store.write).
    ``discover``: zone discovery runs after the collection (its servers: those that answered
    for each zone) and its ``delegations`` and ``discovery`` frames are stored with the run
    (:mod:`toolkit.collect.discover`); a bad zone file stops it before anything is stored.
    """
    portfolio = load_portfolio(portfolio_dir)
    check_writable(workspace)  # before minutes of probing, not after
    config = with_politeness(config, portfolio.policies.settings.collector)
    if discover is not None:  # a bad zone file is named before minutes of probing, not after
        discover = polite_discovery(discover, config.transport)
        check_zone_files(discover, list(portfolio.inventory["zone"]))
    if cluster is not None:
        return _collect_cluster_run(
            portfolio, Path(portfolio_dir), workspace, config, now, cluster, tsa_url, discover
        )
    if workers == 1:
        frames = collect(portfolio, config, now=now)
    else:
        from toolkit.collect.parallel import collect_parallel

        frames = collect_parallel(portfolio, config, now=now, workers=workers)
    parameters = {"portfolio": str(Path(portfolio_dir).resolve()), **config.parameters()}
    if discover is not None:
        frames.update(_discovered(portfolio, frames.get("nameservers"), discover, now))
        parameters["discover"] = discover.parameters()
    try:
        return Store(workspace).write(frames, parameters=parameters, now=now, tsa_url=tsa_url)
    except OSError as exc:  # a disk that filled up during collection
        raise WriteError(workspace, exc, "cannot store the run in") from exc


def _discovered(
    portfolio: Portfolio,
    nameservers: pd.DataFrame | None,
    discover: DiscoverConfig,
    now: datetime,
) -> dict[str, pd.DataFrame]:
    """Zone discovery after a collection, asking the servers that answered for each zone
    (the run's ``nameservers`` frame): its ``delegations`` and ``discovery`` frames."""
    zones = list(portfolio.inventory["zone"])
    servers = servers_from_nameservers(nameservers)
    found, tried = discover_zones(zones, servers, discover, now=now)
    return {"delegations": found, "discovery": tried}


def _collect_cluster_run(
    portfolio: Portfolio,
    portfolio_dir: Path,
    workspace: str | Path,
    config: CollectConfig,
    now: datetime,
    cluster: str,
    tsa_url: str | None,
    discover: DiscoverConfig | None,
) -> Run:
    """:func:`collect_run` on a Dask cluster: the partitions' parts are staged in the
    workspace and the run is written from them part by part (never whole in this process).
    The returned run's ``frames`` hold ``zones`` (read back from the stored run), the
    inventory and discovery's frames."""
    from toolkit.collect.cluster import ClusterSpec, collect_cluster_parts

    spec = ClusterSpec.parse(cluster)
    store = Store(workspace)
    try:
        with store.staging() as staging:
            parts = collect_cluster_parts(portfolio, config, now=now, cluster=spec, staging=staging)
            frames = parts.frames()
            parameters = {
                "portfolio": str(portfolio_dir.resolve()),
                **config.parameters(),
                "cluster": str(spec),
                "cluster_split": parts.parameters,
            }
            if discover is not None:
                frames.update(_discovered(portfolio, parts.read("nameservers"), discover, now))
                parameters["discover"] = discover.parameters()
            run = store.write(frames, parameters=parameters, now=now, tsa_url=tsa_url)
    except OSError as exc:  # a disk that filled up during collection
        raise WriteError(workspace, exc, "cannot store the run in") from exc
    run.frames["zones"] = store.load(run.run_id, frames=["zones"]).frames["zones"]
    return run


def check_writable(workspace: str | Path) -> None:
    """Raise WriteError unless ``workspace`` (or, when it does not exist yet, the nearest folder
    above it that does) can be written. Creates nothing."""
    path = Path(workspace).absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise WriteError(workspace, NotADirectoryError(errno.ENOTDIR, "not a folder", str(probe)))
    for folder in (probe, probe / "runs"):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            reason = "Read-only file system" if _read_only(folder) else "Permission denied"
            raise WriteError(
                workspace,
                OSError(errno.EROFS, f"{reason} ({folder}); checked before probing"),
                "workspace not writable:",
            )


def _read_only(folder: Path) -> bool:
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
