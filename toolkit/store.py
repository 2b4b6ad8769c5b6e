"""The run store: every collection run kept as an immutable, hashed snapshot.

Layout of a workspace::

    WORKSPACE/runs/<run_id>/manifest.json     format version, run id, UTC time, tool version,
                                              parameters, SHA-256 and row count of each file
    WORKSPACE/runs/<run_id>/<frame>.parquet   one file per frame (see toolkit.schemas)

A run is written into a hidden temporary folder beside its final place and renamed into place
in one step, so an interrupted run leaves no half-written run behind (at worst a ``.tmp-*``
folder that no listing shows). Files are made read-only. Loading a run recomputes every hash and
refuses a run whose files were altered.

Many writers may share a workspace (several collects at once). Each writer's temporary folder is
named after it (``.tmp-<pid>-<random>-<run_id>``); publishing a run (the rename) and cleaning
temporary folders happen under an exclusive ``fcntl`` lock on ``runs/.lock``. A writer removes
another's temporary folder only when that writer's process is gone, or when the folder is older
than :data:`STALE_TMP_SECONDS` (a pid reused by another program), or when it has a name no
current writer gives (left by an older version).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit import __version__
from toolkit.errors import StoreError
from toolkit.schemas import ALL as SCHEMAS

FORMAT_VERSION = 1
DEFAULT_WORKSPACE = Path("workspace")
_RUNS = "runs"
_MANIFEST = "manifest.json"
_LOCK = ".lock"
STALE_TMP_SECONDS = 24 * 3600
"""A temporary folder untouched this long is stale even if a process with its writer's pid runs."""
_TMP_NAME = re.compile(r"^\.tmp-(?P<pid>[0-9]+)-[0-9a-f]{8}-")


@dataclass
class Run:
    """One stored run: its manifest and its frames (name → DataFrame)."""

    run_id: str
    path: Path
    manifest: dict[str, Any]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["created_at"])

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id: UTC time of the run plus 6 random hex digits."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class Store:
    """A workspace of runs. Cheap to create; does no I/O until asked."""

    def __init__(self, workspace: str | Path = DEFAULT_WORKSPACE) -> None:
        self.workspace = Path(workspace)
        self.runs_dir = self.workspace / _RUNS

    # -- writing ---------------------------------------------------------------------------

    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        parameters: Mapping[str, Any],
        now: datetime,
        run_id: str | None = None,
    ) -> Run:
        """Store ``frames`` as a new immutable run and return it.

        ``now`` is the run's time (UTC); ``parameters`` (JSON-serialisable) records how the run
        was made. Frames named after a schema in :mod:`toolkit.schemas` are checked against it.
        Raises StoreError if the run id exists or a frame does not match its schema.
        """
        if now.tzinfo is None:
            raise StoreError("run time must be timezone-aware (UTC)")
        run_id = run_id or new_run_id(now)
        final = self.runs_dir / run_id
        if final.exists():
            raise StoreError(f"run {run_id} already exists in {self.runs_dir}")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.runs_dir / f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{run_id}"
        tmp.mkdir()
        try:
            files: dict[str, dict[str, Any]] = {}
            for name, df in frames.items():
                if name in SCHEMAS:
                    try:
                        SCHEMAS[name].check(df, source=f"run {run_id}")
                    except ValueError as exc:
                        raise StoreError(str(exc)) from exc
                fname = f"{name}.parquet"
                df.to_parquet(tmp / fname, index=False)
                files[fname] = {
                    "frame": name,
                    "rows": len(df),
                    "sha256": sha256_file(tmp / fname),
                }
            manifest = {
                "format_version": FORMAT_VERSION,
                "run_id": run_id,
                "created_at": now.astimezone(UTC).isoformat(),
                "tool": "dnssec-governance-toolkit",
                "tool_version": __version__,
                "parameters": dict(parameters),
                "files": files,
            }
            with self._locked():
                self._clean_temporaries(keep=tmp)
                if final.exists():
                    raise StoreError(f"run {run_id} already exists in {self.runs_dir}")
                (tmp / _MANIFEST).write_text(
                    json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
                )
                for p in tmp.iterdir():
                    p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                    _fsync(p)
                os.rename(tmp, final)
                _fsync_dir(self.runs_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Run(run_id, final, manifest, dict(frames))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the workspace's exclusive writer lock (``runs/.lock``, fcntl) for the block."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.runs_dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _clean_temporaries(self, keep: Path | None = None) -> None:
        """Remove the temporary folders whose writer is gone (call with the lock held)."""
        for p in self.runs_dir.glob(".tmp-*"):
            if p == keep or not _tmp_is_abandoned(p):
                continue
            try:
                entries = [p, *p.iterdir()]
            except OSError:
                entries = [p]
            for q in entries:  # read-only files of an interrupted publication
                with contextlib.suppress(OSError):
                    q.chmod(q.stat().st_mode | stat.S_IWUSR)
            shutil.rmtree(p, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------------

    def list_runs(self) -> pd.DataFrame:
        """One row per complete run, oldest first: run_id, created_at, tool_version, zones.

        Temporary folders of interrupted writes are not runs and are not listed.
        """
        rows = []
        if self.runs_dir.is_dir():
            for p in sorted(self.runs_dir.iterdir()):
                if p.name.startswith(".") or not (p / _MANIFEST).is_file():
                    continue
                m = self._read_manifest(p)
                zones = m["files"].get("zones.parquet", {}).get("rows")
                rows.append(
                    {
                        "run_id": m["run_id"],
                        "created_at": pd.Timestamp(m["created_at"]),
                        "tool_version": m["tool_version"],
                        "zones": zones,
                    }
                )
        df = pd.DataFrame(rows, columns=["run_id", "created_at", "tool_version", "zones"])
        return df.sort_values(["created_at", "run_id"]).reset_index(drop=True)

    def resolve(self, run: str = "latest") -> str:
        """The run id that ``run`` ("latest" or an id or a unique id prefix) names.

        Raises StoreError when no run matches or the prefix is ambiguous.
        """
        runs = self.list_runs()
        if runs.empty:
            raise StoreError(
                f"no runs in workspace {self.workspace} (run `dnssec-audit collect` first)"
            )
        if run == "latest":
            return str(runs["run_id"].iloc[-1])
        matches = [r for r in runs["run_id"] if r == run or r.startswith(run)]
        if len(matches) != 1:
            what = "no run" if not matches else f"{len(matches)} runs"
            raise StoreError(f"{what} in {self.workspace} match '{run}'")
        return matches[0]

    def load(
        self, run: str = "latest", *, verify: bool = True, frames: Iterable[str] | None = None
    ) -> Run:
        """Load a run's manifest and frames (all, or only those named in ``frames``). With
        ``verify`` (default) the SHA-256 of every file loaded is recomputed first. Raises
        StoreError on a missing run, an altered or missing file, or an unknown format version.
        """
        wanted = None if frames is None else set(frames)
        run_id = self.resolve(run)
        path = self.runs_dir / run_id
        manifest = self._read_manifest(path)
        frames: dict[str, pd.DataFrame] = {}
        for fname, meta in manifest["files"].items():
            if wanted is not None and meta["frame"] not in wanted:
                continue
            fpath = path / fname
            if not fpath.is_file():
                raise StoreError(f"run {run_id}: file {fname} listed in the manifest is missing")
            if verify and sha256_file(fpath) != meta["sha256"]:
                raise StoreError(
                    f"run {run_id}: {fname} does not match the SHA-256 in its manifest "
                    "(the evidence was altered)"
                )
            df = pd.read_parquet(fpath)
            name = meta["frame"]
            if name in SCHEMAS:
                SCHEMAS[name].check(df, source=str(fpath))
                df = SCHEMAS[name].cast(df)
            frames[name] = df
        return Run(run_id, path, manifest, frames)

    def _read_manifest(self, path: Path) -> dict[str, Any]:
        mpath = path / _MANIFEST
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{mpath}: unreadable manifest ({exc})") from exc
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise StoreError(
                f"{mpath}: format_version {version!r}, this tool reads {FORMAT_VERSION}"
            )
        return manifest


def _tmp_is_abandoned(path: Path) -> bool:
    """Whether no live writer owns the temporary folder ``path``."""
    m = _TMP_NAME.match(path.name)
    if m is None:
        return True  # not a name this version gives: left by an older version's interrupted write
    try:
        if time.time() - path.stat().st_mtime > STALE_TMP_SECONDS:
            return True
    except OSError:
        return False  # already gone
    return not _pid_alive(int(m["pid"]))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync(path)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
