"""Load a span of stored runs as one set of frames, with DuckDB over the runs' Parquet files.

Why DuckDB: a history is the same frame read from many immutable Parquet files (one per run).
DuckDB reads a list of Parquet files in one SQL query, pushes the column selection and the
zone filter down into the scan, reconciles files written by different tool versions by column
name (``union_by_name``) and hands back one pandas frame, without loading every run into
memory first as ``Store.load`` run by run followed by ``pd.concat`` would. It runs in-process
(no server, nothing to configure) and the same SQL works from a notebook. The store stays the
single writer; this module only reads, and checks every file's SHA-256 against its run's
manifest before DuckDB reads it (as ``Store.load`` does), so an altered run is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import StoreError
from toolkit.history.frames import RUNS
from toolkit.schemas import ALL as SCHEMAS
from toolkit.schemas import FrameSchema
from toolkit.store.runs import Store, sha256_file

DEFAULT_FRAMES = ("inventory", "zones", "records", "resolver_checks")
"""The frames :func:`load_history` reads by default. Not ``findings``: a run holds observations;
its findings are judged by the assessment (:func:`toolkit.assessment.judge.judged_history`), and
a findings frame an older collector stored is ignored."""


@dataclass
class History:
    """A span of runs: ``runs`` (schema :data:`~toolkit.history.frames.RUNS`) and, per frame
    name, every run's rows of that frame with two leading columns ``run_id`` and ``run_at``
    (the run's time), oldest run first."""

    runs: pd.DataFrame
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    @property
    def run_ids(self) -> list[str]:
        """The runs' ids, oldest first."""
        return [str(r) for r in self.runs["run_id"]]

    def run(self, run_id: str) -> dict[str, pd.DataFrame]:
        """One run's frames (without the ``run_id``/``run_at`` columns)."""
        out = {}
        for name, df in self.frames.items():
            rows = df[df["run_id"] == run_id].drop(columns=["run_id", "run_at"], errors="ignore")
            out[name] = rows.reset_index(drop=True)
        return out


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the run folder ``path``; raises StoreError when unreadable or of
    another format version."""
    return Store(path.parent.parent).read_manifest(path.name)


def runs_frame(manifests: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The :data:`RUNS` frame of some run manifests, oldest first."""
    rows = []
    for m in manifests:
        params = m.get("parameters") or {}
        rows.append(
            {
                "run_id": m["run_id"],
                "created_at": pd.Timestamp(m["created_at"]),
                "simulated": bool(params.get("simulated", False)),
                "label": params.get("simulation"),
                "tool_version": m.get("tool_version"),
                "zones": m["files"].get("zones.parquet", {}).get("rows"),
            }
        )
    df = RUNS.frame(rows)
    return df.sort_values(["created_at", "run_id"]).reset_index(drop=True)


def load_history(
    workspace: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    run_ids: Sequence[str] | None = None,
    zones: Sequence[str] | None = None,
    frames: Sequence[str] = DEFAULT_FRAMES,
    verify: bool = True,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> History:
    """Load the runs of ``workspace`` made in ``[since, until]`` (or those of ``run_ids``),
    keeping only ``zones`` when given, as one :class:`History`.

    Each frame of ``frames`` comes back with the columns of its schema in
    :mod:`toolkit.schemas` (dtypes cast), preceded by ``run_id`` and ``run_at``; a run without
    that frame contributes no rows; ``columns`` limits a frame to some of its schema's columns
    (only those are read from the files). With ``verify`` every file read is first checked against
    its manifest's SHA-256. Returns an empty history (no runs, empty frames) for an empty
    workspace. Raises StoreError for an unreadable manifest, an unknown format version, a
    missing or altered file, or an unknown run id.
    """
    store = Store(workspace)
    listed = store.list_runs()
    listed = listed[~listed["status"].str.startswith("damaged")]
    if run_ids is not None:
        unknown = sorted(set(run_ids) - set(listed["run_id"]))
        if unknown:
            raise StoreError(f"no run {', '.join(unknown)} in {store.workspace}")
        listed = listed[listed["run_id"].isin(list(run_ids))]
    if since is not None:
        listed = listed[listed["created_at"] >= pd.Timestamp(since)]
    if until is not None:
        listed = listed[listed["created_at"] <= pd.Timestamp(until)]
    manifests = [read_manifest(store.runs_dir / r) for r in listed["run_id"]]
    runs = runs_frame(manifests)
    at = dict(zip(runs["run_id"], runs["created_at"], strict=True))
    out: dict[str, pd.DataFrame] = {}
    con = _Connection()  # one DuckDB connection for every frame (~30 ms each to open)
    try:
        for name in frames:
            files: dict[str, str] = {}
            for m in manifests:
                fname = f"{name}.parquet"
                meta = m["files"].get(fname)
                if meta is None:
                    continue
                path = store.runs_dir / m["run_id"] / fname
                if not path.is_file():
                    raise StoreError(
                        f"run {m['run_id']}: file {fname} listed in the manifest is missing"
                    )
                if verify and sha256_file(path) != meta["sha256"]:
                    raise StoreError(
                        f"run {m['run_id']}: {fname} does not match the SHA-256 in its manifest "
                        "(the evidence was altered)"
                    )
                files[str(path)] = m["run_id"]
            out[name] = _read(con, name, files, at, zones, (columns or {}).get(name))
    finally:
        con.close()
    return History(runs, out)


class _Connection:
    """A DuckDB connection opened on first use (an empty history opens none)."""

    def __init__(self) -> None:
        self._con: Any = None

    def get(self) -> Any:
        if self._con is None:
            import duckdb

            self._con = duckdb.connect()
            self._con.execute("SET TimeZone = 'UTC'")
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _read(
    connection: _Connection,
    name: str,
    files: dict[str, str],
    at: dict[str, pd.Timestamp],
    zones: Sequence[str] | None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    schema = SCHEMAS.get(name)
    if schema is not None and columns is not None:
        schema = FrameSchema(
            schema.name, schema.description, tuple(c for c in schema.columns if c.name in columns)
        )
    if not files:
        base = schema.empty() if schema is not None else pd.DataFrame()
        return _with_run(base, pd.Series([], dtype="string"), at)
    con = connection.get()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE run_files AS SELECT * FROM (VALUES "
        + ", ".join(["(?, ?)"] * len(files))
        + ") AS t(filename, run_id)",
        [v for item in files.items() for v in item],
    )
    where = ""
    params: list[Any] = [list(files)]
    if zones is not None and schema is not None and "zone" in schema.names:
        where = "WHERE f.zone IN (SELECT unnest(?))"
        params.append(list(zones))
    picked = "f.* EXCLUDE (filename)"
    if columns is not None:
        picked = ", ".join(f'f."{c}"' for c in columns)
    df = con.execute(
        f"SELECT r.run_id, {picked} "
        "FROM read_parquet(?, union_by_name = true, filename = true) AS f "
        f"JOIN run_files AS r USING (filename) {where}",
        params,
    ).df()
    run_id = df.pop("run_id").astype("string")
    if schema is not None:
        df = schema.cast(df)
    return _with_run(df.reset_index(drop=True), run_id.reset_index(drop=True), at)


def _with_run(df: pd.DataFrame, run_id: pd.Series, at: dict[str, pd.Timestamp]) -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "run_id", pd.Series(list(run_id), index=df.index, dtype="string"))
    times = [at.get(r) for r in run_id]
    run_at = pd.to_datetime(pd.Series(times, index=df.index, dtype=object), utc=True)
    df.insert(1, "run_at", run_at.astype("datetime64[ns, UTC]"))
    return df.sort_values(["run_at", "run_id"], kind="stable").reset_index(drop=True)
