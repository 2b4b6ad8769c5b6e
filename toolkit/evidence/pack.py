"""The evidence pack: the audit PDF and everything behind it, hashed, in one folder.

Layout of a pack (``dnssec-audit report audit --evidence DIR``)::

    DIR/manifest.json                         format, report id, as_of, tool version, run ids,
                                              SHA-256, size and kind of every other file
    DIR/SHA256SUMS                            the same hashes for `sha256sum -c` (manifest too)
    DIR/README.txt                            what is where and how to verify it
    DIR/audit-report.pdf                      the audit report (its data embedded, PDF/A-3)
    DIR/manifest.json.sig                     Ed25519 signature of manifest.json by the
                                              workspace key (when the key is at hand)
    DIR/signing/run-signing-key.pub.pem       the workspace's public key
    DIR/runs/<run>/manifest.json              the run's own manifest, byte for byte
    DIR/runs/<run>/manifest.json.sig          its signature, as stored
    DIR/runs/<run>/frames/<frame>.parquet     the run's frames, byte for byte from the store
                                              (their SHA-256 are those of the run manifest)
    DIR/runs/<run>/frames/<frame>.csv         the same frames as CSV
    DIR/runs/<run>/records/<zone>.zone        the raw DNS records per zone, zone-file text
    DIR/report/tables/<table>.csv|.parquet    every table the report prints

The pack is built in a hidden folder beside ``DIR`` and renamed into place when complete; an
existing pack at ``DIR`` is replaced, anything else there is refused. The same run, options
and as_of give the same bytes in every file (frames written deterministically, figures
without timestamps, PDF dated as_of). :func:`verify_evidence_pack` recomputes every hash and
names every altered, missing or extra file, checks the signatures of the pack manifest and of
each run manifest, the chain links among the runs, the run manifests' hashes against the
pack's frames and the PDF's embedded attachments against the pack's files.

CSV text cells that a spreadsheet would run as a formula (starting with ``= + - @`` or a
tab) are prefixed with ``'``; the Parquet files hold the exact values.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit import __version__
from toolkit.atomic import sync_dir
from toolkit.errors import ToolkitError
from toolkit.reports.spreadsheet import defuse_formulas

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.reports.render import FetchPolicy, RenderedReport, ReportOptions
    from toolkit.store.runs import Run

FORMAT = "dnssec-audit-evidence-pack"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
PACK_SIGNATURE = "manifest.json.sig"
#: RFC 3161 timestamp token (the TSA's DER reply) over the pack manifest's bytes, when asked for
PACK_TIMESTAMP = "manifest.json.tsr"
PUBLIC_KEY = "signing/run-signing-key.pub.pem"
README = "README.txt"
REPORT_PDF = "audit-report.pdf"
RUN_MANIFEST_ATTACHMENT = "run-manifest.json"
_CSV_DATE = "%Y-%m-%dT%H:%M:%S.%fZ"


class EvidenceError(ToolkitError):
    """An evidence pack could not be written or read."""


# -- deterministic data files --------------------------------------------------------------------


def frame_csv_bytes(df: pd.DataFrame) -> bytes:
    """A frame as UTF-8 CSV, the same bytes for the same frame: header row, ``\\n`` line ends,
    times in UTC ISO 8601 with microseconds and ``Z``, nulls empty, text cells that would run
    as a spreadsheet formula prefixed with ``'``."""
    out = defuse_formulas(df)
    return out.to_csv(index=False, lineterminator="\n", date_format=_CSV_DATE).encode("utf-8")


def frame_parquet_bytes(df: pd.DataFrame) -> bytes:
    """A frame as Parquet (pyarrow, no index): the same bytes for the same frame and library
    versions."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class DataFile:
    """A file of data behind a report: its name, bytes, what it holds and its rows."""

    name: str
    data: bytes
    description: str
    rows: int | None = None

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.data)


def run_manifest_bytes(run: Run) -> bytes:
    """The run's manifest.json exactly as stored."""
    try:
        return (Path(run.path) / "manifest.json").read_bytes()
    except OSError as exc:
        raise EvidenceError(f"run {run.run_id}: cannot read its manifest: {exc}") from exc


def report_data_files(
    run: Run, tables: Mapping[str, pd.DataFrame], *, run_frames: bool = True
) -> Iterator[DataFile]:
    """The files the audit report embeds: the run's manifest, each frame of the run as CSV
    (``<frame>.csv``; not with ``run_frames`` False: a run reported from its streamed
    assessment, whose frames stay the run's hashed Parquet files), and each table the report
    prints (``table-<name>.csv``).

    Made one at a time as they are consumed: at 10,000 zones the CSVs come to ~500 MB, which
    :func:`write_attachment_dir` writes out file by file instead of holding them all."""
    from toolkit.reports.audit import RUN_FRAMES
    from toolkit.schemas import ALL as SCHEMAS

    yield DataFile(
        RUN_MANIFEST_ATTACHMENT,
        run_manifest_bytes(run),
        f"manifest of run {run.run_id}: parameters and the SHA-256 of each file of the run",
    )
    names = [n for n in RUN_FRAMES if n in run.frames] if run_frames else []
    names += sorted(n for n in run.frames if n not in RUN_FRAMES) if run_frames else []
    for name in names:
        df = run.frames[name]
        what = SCHEMAS[name].description if name in SCHEMAS else f"frame {name} of the run"
        what = f"frame {name} of the run: " + what.replace("`", "")
        yield DataFile(f"{name}.csv", frame_csv_bytes(df), what, len(df))
    for name, df in tables.items():
        yield DataFile(f"table-{name}.csv", frame_csv_bytes(df), table_description(name), len(df))


_TABLES = {
    "runs": "the runs of the period (from each run's manifest)",
    "scope": "zones in the inventory against zones probed",
    "chain_zones": "the zones above the inventory walked for the chains of trust",
    "trust_anchor_keys": "the root key-signing keys collected",
    "check_summary": "results per check over all zones",
    "ds_proofs": "DS publication proofs: each DS, who served it, when, and its verdict",
    "zone_annex": "the per-zone annex: status facts and counts per zone",
    "assessment_findings": "the governance assessment's findings (every check, every pillar)",
    "requirements": "the status of each framework requirement",
    "requirement_evidence": "the findings behind each requirement's status",
    "streamed_parts": "the files of the streamed assessment (findings, requirement evidence, "
    "scores, indicators) with the SHA-256 of each",
}


def table_description(name: str) -> str:
    """What the report table ``name`` holds (one line)."""
    if name.startswith("records_"):
        kind = name.removeprefix("records_")
        return f"the governance record {kind}.csv as the assessment read it"
    return f"report table: {_TABLES.get(name, name)}"


def write_attachment_dir(folder: Path | str, files: Iterable[DataFile]) -> list[dict[str, Any]]:
    """Write ``files`` into ``folder`` with the index the renderer reads
    (:data:`toolkit.reports.render.ATTACHMENTS_INDEX`); return the index entries (name, description,
    sha256, bytes, rows)."""
    from toolkit.reports.render import ATTACHMENTS_INDEX

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for f in files:
        (folder / f.name).write_bytes(f.data)
        entries.append(
            {
                "name": f.name,
                "description": f.description,
                "sha256": f.sha256,
                "bytes": len(f.data),
                "rows": f.rows,
            }
        )
    (folder / ATTACHMENTS_INDEX).write_text(json.dumps(entries, indent=1), encoding="utf-8")
    return entries


def attachment_entries(files: Iterable[DataFile]) -> list[dict[str, Any]]:
    """Index entries of ``files`` without writing them (name, description, sha256, bytes,
    rows)."""
    return [
        {
            "name": f.name,
            "description": f.description,
            "sha256": f.sha256,
            "bytes": len(f.data),
            "rows": f.rows,
        }
        for f in files
    ]


# -- writing a pack ------------------------------------------------------------------------------


@dataclass
class EvidencePack:
    """A written pack: its folder, its manifest, the rendered report and seconds per stage."""

    path: Path
    manifest: dict[str, Any]
    report: RenderedReport
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def manifest_sha256(self) -> str:
        return sha256_bytes((self.path / MANIFEST).read_bytes())


def write_evidence_pack(
    workspace: Path | str,
    out_dir: Path | str,
    options: ReportOptions | None = None,
    *,
    policy: FetchPolicy | None = None,
    tsa_url: str | None = None,
) -> EvidencePack:
    """Render the audit report of a run and write it with its evidence to ``out_dir``.

    ``tsa_url`` names an RFC 3161 Time-Stamping Authority: its token over the pack manifest is
    stored as ``manifest.json.tsr`` (the pack is not written when the TSA fails:
    TimestampError).

    ``options`` are the audit report's (run, organisation, period, as_of, classification,
    framework, ...). The pack is complete or absent: it is built beside ``out_dir`` and
    renamed into place; a pack already at ``out_dir`` is replaced, a folder holding anything
    else is refused. A failing notebook is kept at ``<out_dir>.failed.ipynb``.

    Raises EvidenceError, ReportError (report rendering) or StoreError (an altered run).
    """
    import time
    from dataclasses import replace

    from toolkit.errors import StoreError
    from toolkit.reports import audit
    from toolkit.reports.render import ReportOptions, render_report
    from toolkit.reports.zonefile import zone_file_stem, zone_file_text
    from toolkit.store.runs import Store
    from toolkit.store.signing import public_pem

    out_dir = Path(out_dir).expanduser().resolve()
    workspace = Path(workspace).expanduser().resolve()
    options = options or ReportOptions(classification="CONFIDENTIAL")
    _check_target(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{secrets.token_hex(4)}"
    t0 = time.perf_counter()
    tmp.mkdir(parents=True)
    try:
        failed = options.failed_notebook or out_dir.parent / f"{out_dir.name}.failed.ipynb"
        rendered = render_report(
            "audit",
            workspace,
            tmp / REPORT_PDF,
            replace(options, keep_intermediate=False, failed_notebook=failed),
            policy=policy,
        )
        t1 = time.perf_counter()
        store = Store(workspace)
        run = store.load(rendered.run_id)
        meta = rendered.metadata
        embedded = {a.name: sha256_bytes(a.data) for a in rendered.attachments}
        files: dict[str, dict[str, Any]] = {}

        def put(rel: str, data: bytes, kind: str, rows: int | None = None, src: str = "") -> None:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            entry: dict[str, Any] = {"sha256": sha256_bytes(data), "bytes": len(data), "kind": kind}
            if rows is not None:
                entry["rows"] = rows
            if src and embedded.get(src) == entry["sha256"]:
                entry["embedded_in_pdf_as"] = src
            files[rel] = entry

        pdf = (tmp / REPORT_PDF).read_bytes()
        files[REPORT_PDF] = {"sha256": sha256_bytes(pdf), "bytes": len(pdf), "kind": "report"}
        base = f"runs/{run.run_id}"
        put(
            f"{base}/manifest.json",
            run_manifest_bytes(run),
            "run-manifest",
            None,
            RUN_MANIFEST_ATTACHMENT,
        )
        for fname, fmeta in sorted(run.manifest.get("files", {}).items()):
            name = fmeta.get("frame", Path(fname).stem)
            put(
                f"{base}/frames/{fname}",
                (run.path / fname).read_bytes(),
                "frame",
                fmeta.get("rows"),
            )
            if name in run.frames:
                df = run.frames[name]
                put(
                    f"{base}/frames/{name}.csv",
                    frame_csv_bytes(df),
                    "frame",
                    len(df),
                    f"{name}.csv",
                )
        records = run.frames.get("records")
        zones = sorted(
            set(run.frames["zones"]["zone"])
            | set([] if records is None else records["zone"].dropna())
        )
        header = (
            f"collected {run.manifest.get('created_at', '')} by "
            f"{run.manifest.get('tool', 'dnssec-governance-toolkit')} "
            f"{run.manifest.get('tool_version', '')}"
        )
        stems: set[str] = set()
        for zone in zones:
            stem = zone_file_stem(zone)
            if stem in stems:  # pragma: no cover - zone_file_stem never collides
                raise EvidenceError(f"two zones map to the file name {stem}.zone")
            stems.add(stem)
            text = zone_file_text(
                records if records is not None else _empty_records(),
                zone,
                run_id=run.run_id,
                header=header,
            )
            rows = 0 if records is None else int((records["zone"] == zone).sum())
            put(f"{base}/records/{stem}.zone", text.encode("utf-8"), "records", rows)
        gov = audit.governance_view(
            run, store, framework=options.framework, as_of=meta.get("created", "")
        )
        tables = audit.report_frames(
            run, store, period=meta.get("period", ""), as_of=meta.get("created", ""), governance=gov
        )
        for name, df in tables.items():
            put(
                f"report/tables/{name}.csv",
                frame_csv_bytes(df),
                "table",
                len(df),
                f"table-{name}.csv",
            )
            put(f"report/tables/{name}.parquet", frame_parquet_bytes(df), "table", len(df))
        put(README, _readme(run.run_id).encode("utf-8"), "readme")
        signature = run.path / "manifest.json.sig"
        if signature.is_file():
            put(f"{base}/manifest.json.sig", signature.read_bytes(), "run-signature")
        token = run.path / "manifest.json.tsr"
        if token.is_file():
            put(f"{base}/manifest.json.tsr", token.read_bytes(), "run-timestamp")
        try:
            key = store.key.private_key()
        except StoreError:
            key = None  # the key is kept offline: the pack is left unsigned
        public = store.key.public_key()
        if public is not None:
            put(PUBLIC_KEY, public_pem(public), "public-key")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool": "dnssec-governance-toolkit",
            "tool_version": __version__,
            "as_of": meta.get("created", ""),
            "report": {
                "kind": "audit",
                "file": REPORT_PDF,
                "report_id": meta.get("report_id", ""),
                "title": meta.get("title", ""),
                "organisation": meta.get("author", ""),
                "period": meta.get("period", ""),
                "classification": meta.get("classification", ""),
                "framework": meta.get("framework", ""),
                "embedded_files": sorted(embedded),
            },
            "runs": [
                {
                    "run_id": run.run_id,
                    "created_at": run.manifest.get("created_at", ""),
                    "tool_version": run.manifest.get("tool_version", ""),
                    "manifest_sha256": files[f"{base}/manifest.json"]["sha256"],
                }
            ],
            "files": dict(sorted(files.items())),
        }
        manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
        (tmp / MANIFEST).write_bytes(manifest_bytes)
        if key is not None:
            (tmp / PACK_SIGNATURE).write_bytes(key.sign(manifest_bytes))
        if tsa_url:
            from toolkit.store.timestamp import request_timestamp

            (tmp / PACK_TIMESTAMP).write_bytes(request_timestamp(manifest_bytes, tsa_url))
        (tmp / SUMS).write_text(_sums_text(manifest, manifest_bytes), encoding="utf-8")
        _fsync_tree(tmp)
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    t2 = time.perf_counter()
    return EvidencePack(
        out_dir,
        manifest,
        rendered,
        {**rendered.timings, "report": t1 - t0, "pack": t2 - t1},
    )


def copy_report_pdf(pack: Path | str, out: Path | str) -> Path:
    """Copy the audit report PDF of the evidence pack at ``pack`` to ``out`` atomically (the
    pack's very bytes, so the copy matches the manifest); returns ``out``. Raises WriteError
    when ``out`` cannot be written."""
    from toolkit.atomic import write_atomic
    from toolkit.errors import WriteError

    out = Path(out)
    data = (Path(pack) / REPORT_PDF).read_bytes()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(out, data)
    except OSError as exc:
        raise WriteError(out, exc) from exc


def _empty_records() -> pd.DataFrame:
    from toolkit.schemas import RECORDS

    return RECORDS.empty()


def _sums_text(manifest: Mapping[str, Any], manifest_bytes: bytes) -> str:
    lines = [f"{meta['sha256']}  {name}" for name, meta in sorted(manifest["files"].items())]
    lines.append(f"{sha256_bytes(manifest_bytes)}  {MANIFEST}")
    return "\n".join(lines) + "\n"


def _readme(run_id: str) -> str:
    return f"""DNSSEC audit evidence pack
==========================

{REPORT_PDF}  the audit report. Its data is embedded in it (PDF/A-3 attachments; list them
    with `pdfdetach -list {REPORT_PDF}`, extract with `pdfdetach -saveall`); each embedded CSV
    is byte-identical to the file of this pack that the manifest names ("embedded_in_pdf_as").
runs/{run_id}/manifest.json  the run's own manifest, byte for byte as stored.
runs/{run_id}/frames/  the run's frames: Parquet byte for byte from the store (SHA-256 as in
    the run's manifest) and the same frames as CSV.
runs/{run_id}/records/  the raw DNS records collected per zone, as zone-file text, one block
    per answer with the server and the UTC time it was received.
report/tables/  every table the report prints, as CSV and Parquet.
{MANIFEST}  the SHA-256, size and kind of every file above, the run ids, tool version, as_of.
{SUMS}  the same hashes (and the manifest's) for `sha256sum -c {SUMS}`.
{PACK_SIGNATURE}, runs/{run_id}/manifest.json.sig  Ed25519 signatures of the pack manifest and
    of the run manifest by the workspace key, {PUBLIC_KEY} (compare its fingerprint with the
    one the audit report prints). Without the toolkit:
        openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin \\
            -in {MANIFEST} -sigfile {PACK_SIGNATURE}

Verify: `dnssec-audit evidence verify <this folder>` names every altered, missing or extra
file and checks the signatures and the PDF's attachments. CSV text cells starting with
= + - @ or a tab are prefixed with ' so that a spreadsheet does not run them; the Parquet
files hold the exact values.
"""


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise EvidenceError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not _is_pack(out_dir):
        raise EvidenceError(
            f"{out_dir} holds files that are not an evidence pack: refusing to replace it"
        )


def _is_pack(path: Path) -> bool:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename ``tmp`` to ``out_dir``; an existing pack there is moved aside first, then
    removed (the new pack is in place before the old one is deleted)."""
    _check_target(out_dir)
    old = None
    if out_dir.is_dir():
        if any(out_dir.iterdir()):
            old = out_dir.parent / f".{out_dir.name}.old-{secrets.token_hex(4)}"
            os.rename(out_dir, old)
        else:
            out_dir.rmdir()
    os.rename(tmp, out_dir)
    sync_dir(out_dir.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# -- verifying a pack ----------------------------------------------------------------------------


@dataclass
class Verification:
    """What :func:`verify_evidence_pack` found: files whose bytes differ from the manifest
    (``altered``), listed but absent (``missing``), present but not listed (``extra``), and
    other ``problems`` (unreadable manifest, unsafe paths, SHA256SUMS disagreeing)."""

    path: Path
    checked: int = 0
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifest_sha256: str = ""
    key_fingerprint: str = ""
    pack_signed: bool = False
    run_manifests: int = 0
    signed_runs: int = 0
    chain_links: int = 0
    pdf_attachments: int = 0
    unproved: list[str] = field(default_factory=list)
    timestamp: str = "no timestamp"  # what the RFC 3161 token proved, or why it could not
    timestamped_runs: int = 0  # run manifests whose RFC 3161 token verified

    @property
    def ok(self) -> bool:
        return not (self.altered or self.missing or self.extra or self.problems)

    def summary(self) -> str:
        """One line: what the verification proved and what it could not."""
        if not self.ok:
            return (
                f"NOT verified: {len(self.altered)} altered, {len(self.missing)} missing, "
                f"{len(self.extra)} extra, {len(self.problems)} other problem(s)"
            )
        key = self.key_fingerprint or "no key"
        parts = [f"verified: {self.checked} files"]
        parts.append(
            f"pack manifest signed by key {key}" if self.pack_signed else "pack manifest unsigned"
        )
        parts.append(f"{self.signed_runs} of {self.run_manifests} run manifest(s) signed")
        if self.signed_runs > 1:
            parts.append(f"chain intact ({self.chain_links} link(s))")
        parts.append(f"{self.pdf_attachments} PDF attachment(s) match the pack")
        if self.timestamped_runs:
            parts.append(f"{self.timestamped_runs} run manifest(s) timestamped (RFC 3161)")
        return "; ".join([", ".join(parts), *self.unproved, self.timestamp])

    def lines(self) -> list[str]:
        """The findings, one per line (``ALTERED path``, ``MISSING path``, ...)."""
        out = [f"PROBLEM {p}" for p in self.problems]
        out += [f"ALTERED {p}" for p in self.altered]
        out += [f"MISSING {p}" for p in self.missing]
        out += [f"EXTRA   {p}" for p in self.extra]
        return out


def _safe_relpath(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def verify_evidence_pack(
    path: Path | str, *, expect_key: str = "", tsa_ca: Path | str | None = None
) -> Verification:
    """Recompute the SHA-256 of every file of the pack at ``path`` against its manifest, and
    check the signatures (pack manifest, run manifests; signed by ``expect_key`` when given),
    the chain links among the run manifests, their hashes against the pack's frames and the
    PDF's embedded attachments against the pack's files. An RFC 3161 token
    (``manifest.json.tsr``) is verified against the TSA's CA certificate ``tsa_ca``; without
    it the summary says the token was not checked.

    Every listed file must exist as a regular file (not a link) with the recorded hash and
    size; every file in the folder must be listed (except the manifest and SHA256SUMS, which
    must agree with it). Returns a :class:`Verification`; raises nothing for a damaged pack
    (its damage is the result), EvidenceError only when ``path`` is not a folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise EvidenceError(f"{root} is not a folder")
    result = Verification(root)
    try:
        manifest_bytes = (root / MANIFEST).read_bytes()
        manifest = json.loads(manifest_bytes)
    except FileNotFoundError:
        result.missing.append(MANIFEST)
        result.extra = sorted(_all_files(root))
        return result
    except (OSError, ValueError) as exc:
        result.problems.append(f"{MANIFEST} is unreadable: {exc}")
        return result
    result.manifest_sha256 = sha256_bytes(manifest_bytes)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        result.problems.append(f"{MANIFEST} is not the manifest of an evidence pack")
        return result
    if manifest.get("format_version") != FORMAT_VERSION:
        result.problems.append(
            f"{MANIFEST}: format_version {manifest.get('format_version')!r}, "
            f"this tool reads {FORMAT_VERSION}"
        )
        return result
    listed: dict[str, Any] = manifest.get("files") or {}
    for name, meta in sorted(listed.items()):
        if not _safe_relpath(name) or name in (MANIFEST, SUMS):
            result.problems.append(f"{MANIFEST} lists an unsafe path: {name!r}")
            continue
        file = root / name
        if file.is_symlink() or (file.exists() and not file.is_file()):
            result.altered.append(name)
            continue
        if not file.is_file():
            result.missing.append(name)
            continue
        result.checked += 1
        data = file.read_bytes()
        if sha256_bytes(data) != meta.get("sha256") or len(data) != meta.get("bytes"):
            result.altered.append(name)
    for name in sorted(_all_files(root)):
        if name not in listed and name not in (MANIFEST, SUMS, PACK_SIGNATURE, PACK_TIMESTAMP):
            result.extra.append(name)
    sums = root / SUMS
    if not sums.is_file() or sums.is_symlink():
        result.missing.append(SUMS)
    elif sums.read_text(encoding="utf-8", errors="replace") != _sums_text(manifest, manifest_bytes):
        result.altered.append(SUMS)
    _verify_signatures(root, manifest, manifest_bytes, result, expect_key)
    _verify_pdf(root, listed, result)
    _verify_timestamp(root, manifest_bytes, result, tsa_ca)
    return result


def _verify_timestamp(
    root: Path, manifest_bytes: bytes, result: Verification, tsa_ca: Path | str | None
) -> None:
    from toolkit.store.timestamp import TimestampError, verify_timestamp

    _verify_run_timestamps(root, result, tsa_ca)
    token = _read_pack_file(root, PACK_TIMESTAMP)
    if token is None:
        if (root / PACK_TIMESTAMP).exists():  # a link or a folder in its place
            result.altered.append(PACK_TIMESTAMP)
        elif tsa_ca is not None:
            result.problems.append(f"a TSA CA was given but the pack has no {PACK_TIMESTAMP}")
        return
    if tsa_ca is None:
        result.timestamp = "RFC 3161 timestamp present but not checked (give --tsa-ca)"
        return
    try:
        ts = verify_timestamp(manifest_bytes, token, tsa_ca)
    except TimestampError as exc:
        result.problems.append(f"{PACK_TIMESTAMP}: {exc}")
        return
    by = f" by {ts.tsa}" if ts.tsa else ""
    result.timestamp = f"manifest timestamped {ts.time}{by} (RFC 3161, serial {ts.serial})"


def _verify_run_timestamps(root: Path, result: Verification, tsa_ca: Path | str | None) -> None:
    """Each run manifest's RFC 3161 token in the pack (``runs/<run>/manifest.json.tsr``)."""
    from toolkit.store.timestamp import TimestampError, verify_timestamp

    unchecked = 0
    for folder in sorted((root / "runs").glob("*")) if (root / "runs").is_dir() else []:
        base = f"runs/{folder.name}"
        token = _read_pack_file(root, f"{base}/manifest.json.tsr")
        data = _read_pack_file(root, f"{base}/manifest.json")
        if token is None or data is None:
            continue
        if tsa_ca is None:
            unchecked += 1
            continue
        try:
            verify_timestamp(data, token, tsa_ca)
        except TimestampError as exc:
            result.problems.append(f"{base}/manifest.json.tsr: {exc}")
            continue
        result.timestamped_runs += 1
    if unchecked:
        result.unproved.append(f"{unchecked} run timestamp(s) present but not checked")


def _read_pack_file(root: Path, rel: str) -> bytes | None:
    path = root / rel
    if path.is_symlink() or not path.is_file():
        return None
    return path.read_bytes()


def _verify_signatures(
    root: Path,
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    result: Verification,
    expect_key: str,
) -> None:
    from toolkit.errors import StoreError
    from toolkit.store.signing import fingerprint, load_public_pem, verify

    public = None
    pem = _read_pack_file(root, PUBLIC_KEY)
    if pem is not None:
        try:
            public = load_public_pem(pem, PUBLIC_KEY)
        except StoreError as exc:
            result.problems.append(str(exc))
    fp = fingerprint(public) if public is not None else ""
    result.key_fingerprint = fp
    if expect_key and fp != expect_key:
        result.problems.append(f"the pack's key is {fp or 'absent'}, not the expected {expect_key}")
    signature = _read_pack_file(root, PACK_SIGNATURE)
    if signature is not None:
        if public is None:
            result.problems.append(f"{PACK_SIGNATURE} present but no public key ({PUBLIC_KEY})")
        elif not verify(public, signature, manifest_bytes):
            result.problems.append(
                f"{PACK_SIGNATURE} does not match {MANIFEST} (the pack was edited after signing)"
            )
        else:
            result.pack_signed = True
    else:
        result.unproved.append("pack manifest unsigned: its edits would go unnoticed")
    links: list[tuple[int, str, Any, str]] = []
    for entry in manifest.get("runs") or []:
        run_id = str(entry.get("run_id", "")) if isinstance(entry, Mapping) else ""
        base = f"runs/{run_id}"
        data = _read_pack_file(root, f"{base}/manifest.json")
        if not run_id or data is None:
            result.problems.append(f"run manifest {base}/manifest.json is absent")
            continue
        result.run_manifests += 1
        if sha256_bytes(data) != entry.get("manifest_sha256"):
            result.problems.append(f"{base}/manifest.json differs from the pack's runs entry")
        try:
            run_manifest = json.loads(data)
            run_files = dict(run_manifest.get("files") or {})
        except (ValueError, AttributeError, TypeError):
            result.problems.append(f"{base}/manifest.json is unreadable")
            continue
        for fname, meta in sorted(run_files.items()):
            frame = _read_pack_file(root, f"{base}/frames/{fname}")
            if frame is not None and sha256_bytes(frame) != (meta or {}).get("sha256"):
                result.problems.append(f"{base}/frames/{fname} differs from its run manifest")
        run_sig = _read_pack_file(root, f"{base}/manifest.json.sig")
        if run_sig is None:
            if "signing_key" in run_manifest:
                result.problems.append(
                    f"{base}/manifest.json is signed but its signature is absent"
                )
            else:
                result.unproved.append(f"run {run_id} unsigned (created before signing)")
            continue
        if public is None or run_manifest.get("signing_key") != fp:
            result.problems.append(
                f"{base}/manifest.json signed by key {run_manifest.get('signing_key')}, "
                f"not the pack's {fp or '(none)'}"
            )
        elif not verify(public, run_sig, data):
            result.problems.append(f"{base}/manifest.json does not match its signature")
        else:
            result.signed_runs += 1
            links.append(
                (
                    int(run_manifest.get("sequence") or 0),
                    sha256_bytes(data),
                    run_manifest.get("previous_manifest_sha256"),
                    run_id,
                )
            )
    links.sort()
    for before, after in zip(links, links[1:], strict=False):
        if after[0] == before[0]:
            result.problems.append(f"runs {before[3]} and {after[3]} share sequence {after[0]}")
        elif after[0] == before[0] + 1:
            if after[2] != before[1]:
                result.problems.append(f"run {after[3]} does not follow run {before[3]}")
            else:
                result.chain_links += 1
        else:
            result.unproved.append(
                f"runs {before[3]} and {after[3]} are not consecutive: the runs between are "
                "not in the pack"
            )


def _verify_pdf(root: Path, listed: Mapping[str, Any], result: Verification) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    wanted = {
        meta["embedded_in_pdf_as"]: name
        for name, meta in listed.items()
        if isinstance(meta, Mapping) and meta.get("embedded_in_pdf_as")
    }
    report = (root / REPORT_PDF) if REPORT_PDF in listed else None
    if report is None or not report.is_file():
        if wanted:
            result.problems.append(f"{REPORT_PDF} is absent: its attachments cannot be checked")
        return
    try:
        attached = PdfReader(report).attachments
    except (PyPdfError, OSError, ValueError, KeyError) as exc:
        result.problems.append(f"{REPORT_PDF}: unreadable PDF ({exc})")
        return
    for src, name in sorted(wanted.items()):
        copies = attached.get(src) or []
        data = _read_pack_file(root, name)
        if not copies:
            result.problems.append(f"{REPORT_PDF} does not embed {src} (for {name})")
        elif data is None or any(sha256_bytes(c) != sha256_bytes(data) for c in copies):
            result.problems.append(f"{REPORT_PDF}'s attachment {src} differs from {name}")
        else:
            result.pdf_attachments += 1


def _all_files(root: Path) -> Iterable[str]:
    """Every non-directory entry under ``root`` (files, links, others), as POSIX paths."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():  # a link to a folder is an entry, not a folder to enter
                dirnames.remove(d)
                yield (base / d).relative_to(root).as_posix()
        for f in filenames:
            yield (base / f).relative_to(root).as_posix()
