"""The run store: every collection run kept as an immutable, hashed snapshot.

Layout of a workspace::

    WORKSPACE/runs/<run_id>/manifest.json     format version, run id, UTC time, tool version,
                                              parameters, SHA-256 and row count of each file
    WORKSPACE/runs/<run_id>/<frame>.parquet   one file per frame (see toolkit.schemas)
    WORKSPACE/runs/<run_id>/manifest.json.sig Ed25519 signature of manifest.json's bytes
    WORKSPACE/signing/                        the workspace's public key, its fingerprint and
                                              the chain head (see toolkit.store.signing)

Signed, chained manifests: each manifest also records ``sequence`` (its place in the order of
publication, from 1), ``previous_manifest_sha256`` (the SHA-256 of the previous published run's
manifest.json, null for the first) and ``signing_key`` (the key's fingerprint), and is signed
by the workspace key. ``signing/chain-head`` (signed too) names the last published run, so a
deleted last run is noticed as well as a deleted, inserted or reordered one. Runs written before
signing existed have none of these and load as "unsigned (created before signing)".

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
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from toolkit import __version__
from toolkit.atomic import sync_dir, write_atomic
from toolkit.errors import StoreError
from toolkit.schemas import ALL as SCHEMAS
from toolkit.store.signing import SIGNATURE_SUFFIX, SIGNING_DIR, WorkspaceKey, fingerprint, verify

FORMAT_VERSION = 1
DEFAULT_WORKSPACE = Path("workspace")
_RUNS = "runs"
_MANIFEST = "manifest.json"
_LOCK = ".lock"
_SIGNATURE = _MANIFEST + SIGNATURE_SUFFIX
#: RFC 3161 token over manifest.json's bytes, when the run was collected with a TSA URL
TIMESTAMP = _MANIFEST + ".tsr"
_HEAD = "chain-head"
CLOCK_SKEW = timedelta(days=1)
"""A run dated further than this ahead of the real clock is ``simulated`` (see Store.write)."""
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
UNSIGNED = "unsigned (created before signing)"
SIGNED = "signed"
STALE_TMP_SECONDS = 24 * 3600
"""A temporary folder untouched this long is stale even if a process with its writer's pid runs."""
_TMP_NAME = re.compile(r"^\.tmp-(?P<pid>[0-9]+)-[0-9a-f]{8}-")


@dataclass(frozen=True)
class FrameParts:
    """A frame given as ordered parts, for a run too large to hold in one process.

    ``parts()`` yields the frame's parts in order (each a DataFrame of the frame's columns);
    :meth:`Store.write` writes each as one row group of the frame's single Parquet file as it
    comes, so only one part is in memory at a time. The stored file is an ordinary frame file
    (same name, hash and manifest entry as a frame given whole): the run format stays one
    format. ``parts`` may be called once only.
    """

    parts: Callable[[], Iterable[pd.DataFrame]]


@dataclass
class Run:
    """One stored run: its manifest and its frames (name → DataFrame)."""

    run_id: str
    path: Path
    manifest: dict[str, Any]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    integrity: str = SIGNED
    """``signed`` (signature checked) or :data:`UNSIGNED` (a run older than signing)."""

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

    def __init__(
        self, workspace: str | Path = DEFAULT_WORKSPACE, *, signing_key: str | Path | None = None
    ) -> None:
        self.workspace = Path(workspace)
        self.runs_dir = self.workspace / _RUNS
        self.key = WorkspaceKey.of(self.workspace, signing_key)

    def key_fingerprint(self) -> str | None:
        """The fingerprint of the workspace's signing key, or None when it has none yet."""
        public = self.key.public_key()
        return None if public is None else fingerprint(public)

    # -- writing ---------------------------------------------------------------------------

    def write(
        self,
        frames: Mapping[str, pd.DataFrame | FrameParts],
        *,
        parameters: Mapping[str, Any],
        now: datetime,
        run_id: str | None = None,
        clock: datetime | None = None,
        tsa_url: str | None = None,
    ) -> Run:
        """Store ``frames`` as a new immutable run and return it.

        ``now`` is the run's time (UTC); ``parameters`` (JSON-serialisable) records how the run
        was made. Frames named after a schema in :mod:`toolkit.schemas` are checked against it.
        Raises StoreError if the run id exists or a frame does not match its schema.
        A frame given as :class:`FrameParts` is written part by part (one row group each,
        never whole in memory); the returned run's ``frames`` hold only the frames given whole.

        ``clock`` is the real time (default: the system clock). A run dated more than
        :data:`CLOCK_SKEW` ahead of it, or whose parameters say ``simulated`` (drills, the demo
        history), is marked ``simulated: true`` in its manifest and is never "latest" while a
        real run exists. Runs dated in the past are ordinary runs (a late import of a
        collection). A time before 1990 or from 2200 on is refused.

        ``tsa_url`` names an RFC 3161 Time-Stamping Authority: its token over the signed manifest
        is stored as ``manifest.json.tsr`` before the run is published (no run when the TSA
        fails: TimestampError). It proves the run existed by the TSA's time: not backfilled.
        """
        if now.tzinfo is None:
            raise StoreError("run time must be timezone-aware (UTC)")
        if not EARLIEST <= now < LATEST:
            raise StoreError(
                f"run time {now.isoformat()} is out of range "
                f"({EARLIEST.year}-01-01 to {LATEST.year - 1}-12-31 expected)"
            )
        clock = clock or datetime.now(UTC)
        simulated = now - clock > CLOCK_SKEW or parameters.get("simulated") is True
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
                if name in SCHEMAS and not isinstance(df, FrameParts):
                    try:
                        SCHEMAS[name].check(df, source=f"run {run_id}")
                    except ValueError as exc:
                        raise StoreError(str(exc)) from exc
                fname = f"{name}.parquet"
                if isinstance(df, FrameParts):
                    rows = _write_parts(tmp / fname, name, df, source=f"run {run_id}")
                else:
                    df.to_parquet(tmp / fname, index=False)
                    rows = len(df)
                files[fname] = {
                    "frame": name,
                    "rows": rows,
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
                "simulated": simulated,
                "recorded_at": clock.astimezone(UTC).isoformat(),
            }
            with self._locked():
                self._clean_temporaries(keep=tmp)
                if final.exists():
                    raise StoreError(f"run {run_id} already exists in {self.runs_dir}")
                key = self.key.private_key()
                sequence, previous = self._chain_tail()
                manifest["sequence"] = sequence + 1
                manifest["previous_manifest_sha256"] = previous
                manifest["signing_key"] = fingerprint(key.public_key())
                data = (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()
                (tmp / _MANIFEST).write_bytes(data)
                (tmp / _SIGNATURE).write_bytes(key.sign(data))
                if tsa_url:  # the manifest's place in the chain is fixed only here
                    from toolkit.store.timestamp import request_timestamp

                    (tmp / TIMESTAMP).write_bytes(request_timestamp(data, tsa_url))
                for p in tmp.iterdir():
                    p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                    _fsync(p)
                os.rename(tmp, final)
                sync_dir(self.runs_dir)
                head = f"{sequence + 1} {run_id} {hashlib.sha256(data).hexdigest()}".encode()
                self._write_head(head + b"\n" + key.sign(head).hex().encode() + b"\n")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        whole = {n: df for n, df in frames.items() if isinstance(df, pd.DataFrame)}
        return Run(run_id, final, manifest, whole)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A new private folder of this workspace for a run's parts before the run is written
        (a cluster's workers write into it), removed on leaving the block, whatever happens.

        It is a hidden temporary folder of ``runs/`` named after this process
        (``.tmp-<pid>-<random>-staging``): never listed as a run, and removed by any writer's
        clean-up once this process is gone (a client killed mid-run). Folders it had to create
        (the workspace, ``runs/``) are removed with it when they are still empty: a run that
        fails leaves the workspace as it found it."""
        created = [p for p in (self.workspace, self.runs_dir) if not p.exists()]
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path = self.runs_dir / f".tmp-{os.getpid()}-{secrets.token_hex(4)}-staging"
        path.mkdir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            for folder in reversed(created):
                with contextlib.suppress(OSError):  # not empty: a run or a lock is in it
                    folder.rmdir()

    def _chain_tail(self) -> tuple[int, str | None]:
        """The sequence number and manifest SHA-256 of the last published signed run."""
        best: tuple[int, str | None] = (0, None)
        if not self.runs_dir.is_dir():
            return best
        for p in self.runs_dir.iterdir():
            if p.name.startswith("."):
                continue
            try:
                data = (p / _MANIFEST).read_bytes()
                seq = json.loads(data).get("sequence")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(seq, int) and seq > best[0]:
                best = (seq, hashlib.sha256(data).hexdigest())
        return best

    def _write_head(self, data: bytes) -> None:
        """Replace ``signing/chain-head`` (the last run's sequence, id and manifest SHA-256 on
        one line, its hex Ed25519 signature on the next)."""
        write_atomic(self.workspace / SIGNING_DIR / _HEAD, data)

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
        """One row per run folder, oldest first: run_id, created_at, tool_version, zones and
        status — ``signed``, :data:`UNSIGNED`, ``damaged: <why>`` (the run cannot be trusted
        and is not loaded) or ``signed; chain: <why>`` (the run is intact but the chain of
        manifests around it is broken: a run deleted, inserted or reordered).

        Temporary folders of interrupted writes are not runs and are not listed. Each damaged
        run is named once on stderr.
        """
        rows = []
        signed: list[tuple[int, str, str | None, str, dict[str, Any]]] = []
        if self.runs_dir.is_dir():
            for p in sorted(self.runs_dir.iterdir()):
                if p.name.startswith(".") or not p.is_dir():
                    continue
                row: dict[str, Any] = {"run_id": p.name, "created_at": pd.NaT}
                try:
                    m, data, integrity = self._check_manifest(p)
                except StoreError as exc:
                    row["created_at"] = _created_at_if_readable(p)
                    row["status"] = f"damaged: {exc}"
                    _report_damaged(p.name, str(exc))
                    rows.append(row)
                    continue
                row.update(
                    created_at=pd.Timestamp(m["created_at"]),
                    tool_version=m.get("tool_version"),
                    zones=m["files"].get("zones.parquet", {}).get("rows"),
                    simulated=_simulated(m),
                    status=integrity,
                )
                if integrity == SIGNED:
                    signed.append(
                        (
                            m["sequence"],
                            hashlib.sha256(data).hexdigest(),
                            m["previous_manifest_sha256"],
                            p.name,
                            row,
                        )
                    )
                rows.append(row)
        for problem, row in self._chain_problems(signed):
            row["status"] = f"{SIGNED}; chain: {problem}"
        cols = ["run_id", "created_at", "tool_version", "zones", "simulated", "status"]
        df = pd.DataFrame(rows, columns=cols)
        df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
        return df.sort_values(["created_at", "run_id"]).reset_index(drop=True)

    def _chain_problems(
        self, signed: list[tuple[int, str, str | None, str, dict[str, Any]]]
    ) -> list[tuple[str, dict[str, Any]]]:
        """The breaks in the chain of signed manifests, each with the row it is seen at."""
        problems: list[tuple[str, dict[str, Any]]] = []
        signed = sorted(signed, key=lambda t: (t[0], t[3]))
        before: tuple[int, str | None] = (0, None)
        for seq, digest, previous, _run_id, row in signed:
            if seq == before[0]:
                problems.append((f"sequence {seq} used twice (a run was inserted)", row))
            elif previous != before[1] or seq != before[0] + 1:
                problems.append(
                    (
                        f"sequence {seq} does not follow the previous run's manifest "
                        "(a run was deleted, inserted or reordered)",
                        row,
                    )
                )
            before = (seq, digest)
        if signed:
            head = self._read_head()
            last = signed[-1]
            if head is None:
                problems.append(
                    ("the chain head (signing/chain-head) is missing or forged", last[4])
                )
            elif head != (last[0], last[3], last[1]):
                problems.append(
                    (
                        f"the chain head names run {head[1]} (sequence {head[0]}): the last "
                        "published run was deleted or replaced",
                        last[4],
                    )
                )
        return problems

    def _read_head(self) -> tuple[int, str, str] | None:
        """The verified chain head (sequence, run id, manifest SHA-256), or None."""
        public = self._public()
        try:
            head, sig = (self.workspace / SIGNING_DIR / _HEAD).read_bytes().split(b"\n")[:2]
            if public is None or not verify(public, bytes.fromhex(sig.decode()), head):
                return None
            seq, run_id, digest = head.decode().split(" ")
            return int(seq), run_id, digest
        except (OSError, ValueError):
            return None

    def _public(self) -> Any:
        """The workspace's public key, read once it exists (None until the first run)."""
        if getattr(self, "_public_key", None) is None:
            self._public_key = self.key.public_key()
        return self._public_key

    def _check_manifest(self, path: Path) -> tuple[dict[str, Any], bytes, str]:
        """The manifest of run folder ``path``, its bytes and integrity (``signed`` or
        :data:`UNSIGNED`). Raises StoreError when the manifest is unreadable, incomplete, of
        another format version, signed by another key, its signature does not match, or the
        folder holds a file the manifest does not name."""
        mpath = path / _MANIFEST
        try:
            data = mpath.read_bytes()
            manifest = json.loads(data)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{mpath}: unreadable manifest ({exc})") from exc
        if not isinstance(manifest, dict):
            raise StoreError(f"{mpath}: not a JSON object")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise StoreError(
                f"{mpath}: format_version {version!r}, this tool reads {FORMAT_VERSION}"
            )
        files = manifest.get("files")
        if (
            not isinstance(files, dict)
            or not all(
                isinstance(m, dict) and {"frame", "rows", "sha256"} <= set(m)
                for m in files.values()
            )
            or not isinstance(manifest.get("created_at"), str)
        ):
            raise StoreError(f"{mpath}: incomplete manifest (created_at and files expected)")
        if manifest.get("run_id") != path.name:
            raise StoreError(f"{mpath}: names run {manifest.get('run_id')!r}, not {path.name}")
        try:
            created = datetime.fromisoformat(manifest["created_at"])
        except ValueError as exc:
            raise StoreError(f"{mpath}: created_at is not an ISO time ({exc})") from exc
        if created.tzinfo is None:
            raise StoreError(f"{mpath}: created_at has no time zone")
        sig = path / _SIGNATURE
        if "signing_key" in manifest or sig.exists():
            public = self._public()
            if public is None:
                raise StoreError(
                    f"{mpath}: signed, but the workspace has no public key ({self.key.public_path})"
                )
            if manifest.get("signing_key") != fingerprint(public):
                raise StoreError(
                    f"{mpath}: signed by key {manifest.get('signing_key')}, not the "
                    f"workspace's {fingerprint(public)}"
                )
            try:
                signature = sig.read_bytes()
            except OSError as exc:
                raise StoreError(f"{sig}: signature missing ({exc})") from exc
            if not verify(public, signature, data):
                raise StoreError(
                    f"{mpath}: the signature does not match (the manifest was altered)"
                )
            if (
                not isinstance(manifest.get("sequence"), int)
                or "previous_manifest_sha256" not in manifest
            ):
                raise StoreError(f"{mpath}: signed but without its place in the chain")
            integrity = SIGNED
        else:
            integrity = UNSIGNED
        expected = set(files) | {_MANIFEST, _SIGNATURE, TIMESTAMP}
        extra = sorted(n for n in os.listdir(path) if n not in expected)
        if extra:
            raise StoreError(f"{path}: unexpected file(s) in the run: {', '.join(extra)}")
        return manifest, data, integrity

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
            intact = runs[~runs["status"].str.startswith("damaged")]
            if intact.empty:
                raise StoreError(f"no intact run in workspace {self.workspace}")
            real = intact[~intact["simulated"].astype(bool)]
            return str((real if not real.empty else intact)["run_id"].iloc[-1])
        matches: list[str] = [r for r in runs["run_id"] if r == run or r.startswith(run)]
        if len(matches) != 1:
            what = "no run" if not matches else f"{len(matches)} runs"
            raise StoreError(f"{what} in {self.workspace} match '{run}'")
        return matches[0]

    def load(
        self, run: str = "latest", *, verify: bool = True, frames: Iterable[str] | None = None
    ) -> Run:
        """Load a run's manifest and frames (all, or only those named in ``frames``). With
        ``verify`` (default) the SHA-256 and row count of every file loaded are checked
        first; the manifest's signature is always checked. Raises StoreError on a missing run,
        a damaged manifest (see :meth:`list_runs`), an altered or missing file, or an unknown
        format version.
        """
        wanted = None if frames is None else set(frames)
        run_id = self.resolve(run)
        path = self.runs_dir / run_id
        manifest, _, integrity = self._check_manifest(path)
        loaded: dict[str, pd.DataFrame] = {}
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
            if verify and len(df) != meta["rows"]:
                raise StoreError(
                    f"run {run_id}: {fname} has {len(df)} rows, its manifest says {meta['rows']}"
                )
            name = meta["frame"]
            if name in SCHEMAS:
                SCHEMAS[name].check(df, source=str(fpath))
                df = SCHEMAS[name].cast(df)
            loaded[name] = df
        return Run(run_id, path, manifest, loaded, integrity)

    def read_manifest(self, run_id: str) -> dict[str, Any]:
        """A run's checked manifest (signature included) without its frames. Raises
        StoreError when it is damaged."""
        return self._check_manifest(self.runs_dir / run_id)[0]


def _write_parts(path: Path, name: str, given: FrameParts, *, source: str) -> int:
    """Write the parts of frame ``name`` into one Parquet file, one row group per part, in
    order; return the rows written. A part that does not match the frame's schema (when it has
    one) is a StoreError naming the part. Parts are cast to the schema's dtypes, so every row
    group has the file's one Arrow schema (the schema's, or the first part's)."""
    schema = SCHEMAS.get(name)
    arrow: pa.Schema | None = None
    if schema is not None:
        arrow = pa.Schema.from_pandas(schema.empty(), preserve_index=False)
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for i, part in enumerate(given.parts()):
            if schema is not None:
                try:
                    schema.check(part, source=f"{source}, part {i}")
                except ValueError as exc:
                    raise StoreError(str(exc)) from exc
                part = schema.cast(part)
            table = pa.Table.from_pandas(part, schema=arrow, preserve_index=False)
            if writer is None:
                arrow = table.schema
                writer = pq.ParquetWriter(path, arrow)
            if table.num_rows:
                writer.write_table(table, row_group_size=table.num_rows)
                rows += table.num_rows
        if writer is None:  # no parts at all: the frame's empty file
            empty = schema.empty() if schema is not None else pd.DataFrame()
            empty.to_parquet(path, index=False)
    finally:
        if writer is not None:
            writer.close()
    return rows


_REPORTED: set[tuple[str, str]] = set()


def _created_at_if_readable(path: Path) -> Any:
    """The time a damaged run's manifest gives, to list it in its place; NaT if none."""
    try:
        return pd.Timestamp(json.loads((path / _MANIFEST).read_text())["created_at"])
    except (OSError, ValueError, TypeError, KeyError):
        return pd.NaT


def _simulated(manifest: Mapping[str, Any]) -> bool:
    """Whether a run is on simulated time: marked so when written, or (older runs) by the
    ``simulated`` parameter the drills and the demo history give."""
    params = manifest.get("parameters")
    return manifest.get("simulated") is True or (
        isinstance(params, dict) and params.get("simulated") is True
    )


def _report_damaged(run_id: str, why: str) -> None:
    """Name a damaged run on stderr, once per process."""
    if (run_id, why) not in _REPORTED:
        _REPORTED.add((run_id, why))
        print(f"warning: run {run_id} is damaged and left out: {why}", file=sys.stderr)


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
