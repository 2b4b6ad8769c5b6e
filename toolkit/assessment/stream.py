"""The assessment of a large portfolio, partition by partition: memory bounded by the
partition, not the portfolio (issue 14).

:func:`toolkit.assessment.assess.assess` holds the whole run, its history and every finding in
memory: about 0.15 MB per zone (1.6 GB at 10,000 zones). :func:`assess_streaming` gives the same
result with a bounded working set:

1. The zones — the inventory's and every zone of the ``zones`` frames of the runs up to the
   assessed one (the key history can name a zone the inventory dropped) — are sorted and cut
   into partitions of ``partition_zones``.
2. **Portfolio-wide checks** (:data:`PORTFOLIO_WIDE`) are run once. They judge the policy
   settings and the record files (``policy.yaml``, ``drills.csv``, ``incidents.csv`` and the
   ``changes.csv`` tickets that name no zone), never the run: their inputs are the records the
   organisation writes by hand, loaded in full by the portfolio anyway, and they give one
   ``(portfolio)`` finding each.
3. Per partition, only that partition's rows are read: the run's frames through a DuckDB scan
   filtered on ``zone`` (``parent`` for ``delegations``), the key, signing and rollover history
   through the loaders' ``zones=`` scans, the inventory's and the records' rows of those zones.
   Every check runs on them (a zone's result depends on its own rows only; the one check that
   compares a zone with the rest of the portfolio, ``delegations_inventoried``, reads the
   portfolio's zone names from :attr:`Context.portfolio_zones`), and the partition's
   findings, requirement evidence and maturity rows (zone scores, indicators, their evidence,
   gates) are written as Parquet parts. ``(portfolio)`` findings of a partition are dropped: a
   check that gives one and is not in :data:`PORTFOLIO_WIDE` raises (it would be judged on a
   part of the portfolio).
4. The roll-ups are computed from the parts: requirement statuses and counts by DuckDB
   aggregates over the findings parts; the portfolio's maturity from the zone scores, with the
   exact sums (:func:`math.fsum`) of :func:`toolkit.assessment.maturity.score` carried across
   partitions, so the portfolio scores are equal to the last bit.

Everything is written in a temporary folder beside ``out_dir`` and renamed into place at the
end: a reader sees a complete result or none.

    s = assess_streaming("portfolio", Store("workspace"), now=now, out_dir="out/assessment")
    s.requirements, s.portfolio_score          # small: in memory
    s.read("findings", where="status = 'fail'")  # a filtered read of the parts
    s.to_assessment()                          # the Assessment of assess() (small runs only)

Layout of ``out_dir``: ``summary.json``, ``requirements.parquet`` and one folder per frame
(:data:`PARTS`) of ``part-NNNNN.parquet`` files (``part-portfolio.parquet``: the portfolio-wide
rows).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.assessment.assess import Assessment, _plain, _score, document_head
from toolkit.assessment.frameworks import (
    EVIDENCE,
    REQUIREMENTS,
    Framework,
    load_frameworks,
    requirement_status,
)
from toolkit.assessment.maturity import (
    GATES,
    INDICATOR_EVIDENCE,
    INDICATOR_SCORES,
    PORTFOLIO,
    SCORES,
    Maturity,
    level_for,
    score,
)
from toolkit.atomic import write_atomic
from toolkit.checks import FINDINGS, Context, check_ids, default_registry
from toolkit.errors import InputError, StoreError
from toolkit.history import rollover_window
from toolkit.history.key_sets import key_set_changes, load_key_history
from toolkit.history.rollover import load_rollovers
from toolkit.history.signing import LOOKBACK_DAYS, load_signing_history
from toolkit.inputs.governance import GovernanceRecords, load_records
from toolkit.inputs.portfolio import Portfolio, load_portfolio
from toolkit.schemas import ALL as SCHEMAS
from toolkit.schemas import FrameSchema
from toolkit.store.runs import Store, sha256_file
from toolkit.vocabulary import PILLARS

FORMAT_VERSION = 1
"""Version of the ``summary.json`` of a streamed assessment."""

DEFAULT_PARTITION_ZONES = 2000
"""Zones per partition: ~0.15 MB each in the assessment, so about 300 MB of working set."""

PORTFOLIO_WIDE = (
    "policy_reviewed_recently",
    "roles_assigned",
    "drill_followups_closed",
    "incidents_reviewed",
    "drills_on_schedule",
    "change_approval_segregated",
)
"""The checks that give a ``(portfolio)`` finding, run once over the whole portfolio's record
files and settings. ``change_approval_segregated`` also gives per-zone findings (a zone's
tickets): those come from the partitions, its ``(portfolio)`` one (the tickets naming no zone)
from this pass."""

PARTS: dict[str, FrameSchema] = {
    "findings": FINDINGS,
    "requirement_evidence": EVIDENCE,
    "scores": SCORES,
    "indicators": INDICATOR_SCORES,
    "indicator_evidence": INDICATOR_EVIDENCE,
    "gates": GATES,
}
"""The frames written per partition, with their schemas."""

_KEY_COLUMN = {"delegations": "parent"}
"""The column a run frame is partitioned on when it is not ``zone``."""


@dataclass(frozen=True)
class StreamedAssessment:
    """The result of :func:`assess_streaming`: the small roll-ups in memory, the large frames
    as Parquet parts under ``out_dir`` (:meth:`read`, :meth:`part_paths`).

    ``requirements`` (schema REQUIREMENTS); ``portfolio_score`` (the ``(portfolio)`` row of
    the maturity scores); ``status_counts`` (findings per status); ``partitions``, ``zones``
    (zones assessed), ``findings`` (rows); ``disk_bytes`` (size of ``out_dir``).
    """

    run_id: str
    as_of: datetime
    portfolio: Portfolio
    records: GovernanceRecords
    frameworks: Mapping[str, Framework]
    out_dir: Path
    requirements: pd.DataFrame
    portfolio_score: dict[str, Any]
    status_counts: dict[str, int]
    partitions: int
    zones: int
    findings: int
    disk_bytes: int
    store: Store = field(repr=False, compare=False)

    def part_paths(self, name: str) -> list[Path]:
        """The Parquet parts of frame ``name`` (one of :data:`PARTS`), in partition order."""
        if name not in PARTS:
            raise KeyError(f"no frame {name!r} in a streamed assessment: one of {sorted(PARTS)}")
        return sorted((self.out_dir / name).glob("part-*.parquet"))

    def read(self, name: str, *, where: str | None = None) -> pd.DataFrame:
        """Frame ``name`` read from its parts (with its schema's dtypes), optionally only the
        rows of a DuckDB SQL condition ``where`` (e.g. ``"status = 'fail'"``): the whole frame
        is as large as the portfolio, a filtered read need not be."""
        import duckdb

        paths = [str(p) for p in self.part_paths(name)]
        schema = PARTS[name]
        if not paths:
            return schema.empty()
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            sql = "SELECT * FROM read_parquet(?, union_by_name = true)"
            df = con.execute(sql + (f" WHERE {where}" if where else ""), [paths]).df()
        finally:
            con.close()
        return schema.cast(df)

    def to_assessment(self) -> Assessment:
        """The :class:`~toolkit.assessment.assess.Assessment` that ``assess()`` gives, read
        back from the parts — for a run small enough to hold in memory. Its ``frames`` are the
        assessed run's frames, inventory and records (not the history frames)."""
        run = self.store.load(self.run_id)
        frames = {
            **{k: v for k, v in run.frames.items() if k != "findings"},
            "inventory": self.portfolio.inventory,
            **self.records.frames,
        }
        scores = self.read("scores")
        portfolio_row = SCORES.frame([self.portfolio_score])
        return Assessment(
            run_id=self.run_id,
            as_of=self.as_of,
            portfolio=self.portfolio,
            records=self.records,
            frameworks=self.frameworks,
            frames=frames,
            findings=self.read("findings"),
            requirements=self.requirements,
            requirement_evidence=self.read("requirement_evidence"),
            maturity=Maturity(
                SCORES.cast(pd.concat([scores, portfolio_row], ignore_index=True)),
                self.read("indicators"),
                self.read("indicator_evidence"),
                self.read("gates"),
            ),
        )

    def to_dict(self, framework: str | None = None) -> dict[str, Any]:
        """The JSON document of ``dnssec-audit assess`` for a streamed assessment: as
        :meth:`Assessment.to_dict` without the findings and zone scores (as large as the
        portfolio: they are in the parts, ``streamed.out_dir``). Raises KeyError for a
        framework that was not assessed."""
        requirements = self.requirements
        if framework is not None:
            if framework not in self.frameworks:
                raise KeyError(framework)
            requirements = requirements[requirements["framework"] == framework]
        return {
            **document_head(self, framework),
            "streamed": {
                "out_dir": str(self.out_dir),
                "parts": sorted(PARTS),
                "partitions": self.partitions,
                "zones": self.zones,
                "findings": self.findings,
                "status_counts": self.status_counts,
            },
            "requirements": [
                {
                    **_plain(r),
                    "check_ids": str(r["check_ids"]).split(";"),
                    "failing_zones": [] if pd.isna(r["failing_zones"]) else
                    str(r["failing_zones"]).split(";"),
                }
                for r in requirements.to_dict("records")
            ],
            "scores": {"portfolio": _score(self.portfolio_score)},
        }  # fmt: skip

    def render_text(self, framework: str | None = None) -> str:
        """The plain-text summary of ``dnssec-audit assess`` for a streamed assessment:
        finding counts, requirement statuses, the portfolio's score, and where the findings
        and zone scores are. Raises KeyError for a framework that was not assessed."""
        doc = self.to_dict(framework)
        c = self.status_counts
        port = doc["scores"]["portfolio"]
        req = pd.DataFrame(doc["requirements"])
        cols = ["framework", "requirement_id", "status", "passed", "failed", "indeterminate",
                "title"]  # fmt: skip
        with pd.option_context("display.max_rows", None, "display.width", 250):
            table = req[cols].to_string(index=False) if len(req) else "(none)"
        return "\n".join([
            f"Assessment of run {self.run_id} as of {pd.Timestamp(self.as_of):%Y-%m-%d %H:%M} "
            f"UTC (streamed: {self.zones} zones in {self.partitions} partition(s))",
            f"Portfolio: {self.portfolio.directory}",
            f"Findings: {c.get('fail', 0)} fail, {c.get('indeterminate', 0)} not evidenced, "
            f"{c.get('pass', 0)} pass, {c.get('not_applicable', 0)} n/a",
            f"Findings, zone scores and evidence: Parquet parts in {self.out_dir}",
            "",
            "Requirements:",
            table,
            "",
            f"Portfolio maturity: overall {port['overall']}, level {port['level']} "
            f"(score level {port['score_level']}; gates: {', '.join(port['gates']) or 'none'})",
        ]) + "\n"  # fmt: skip


STREAM_ABOVE = 20000
"""``dnssec-audit assess`` streams a run of more zones than this (``assess()`` holds about
0.15 MB per zone: 3 GB here); the environment variable ``DNSSEC_AUDIT_STREAM_ABOVE`` sets
another threshold."""


def stream_threshold() -> int:
    """The zone count above which ``dnssec-audit assess`` streams; raises InputError for a
    ``DNSSEC_AUDIT_STREAM_ABOVE`` that is not a whole number >= 0."""
    raw = os.environ.get("DNSSEC_AUDIT_STREAM_ABOVE")
    if raw is None:
        return STREAM_ABOVE
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(
            "DNSSEC_AUDIT_STREAM_ABOVE", f"expected a whole number of zones >= 0, got {raw!r}"
        )
    return value


def default_out_dir(workspace: str | Path, run: str = "latest") -> Path:
    """Where ``dnssec-audit assess`` writes a streamed assessment of a run:
    ``WORKSPACE/assessments/RUN_ID`` (beside ``runs/``, never inside a run)."""
    return Path(workspace) / "assessments" / Store(workspace).resolve(run)


def run_zone_count(store: Store | str | Path, run: str = "latest") -> int:
    """The rows of a run's ``zones`` frame, from its manifest (nothing loaded)."""
    store = store if isinstance(store, Store) else Store(store)
    files = store.read_manifest(store.resolve(run))["files"]
    return int(files.get("zones.parquet", {}).get("rows") or 0)


class ExactSum:
    """An exactly rounded running sum of floats (Shewchuk's partials, as :func:`math.fsum`):
    :meth:`value` equals ``math.fsum`` of every value added, in any order and across any
    number of :meth:`add` calls — what lets the portfolio scores summed partition by
    partition equal those of :func:`toolkit.assessment.maturity.score` exactly."""

    def __init__(self) -> None:
        self._partials: list[float] = []

    def add(self, values: Iterable[float]) -> None:
        partials = self._partials
        for x in values:
            i = 0
            for y in partials:
                if abs(x) < abs(y):
                    x, y = y, x
                hi = x + y
                lo = y - (hi - x)
                if lo:
                    partials[i] = lo
                    i += 1
                x = hi
            partials[i:] = [x]

    def value(self) -> float:
        return math.fsum(self._partials)


def assess_streaming(
    portfolio: Portfolio | str | Path | None,
    store: Store | str | Path,
    *,
    run: str = "latest",
    now: datetime,
    out_dir: str | Path,
    partition_zones: int = DEFAULT_PARTITION_ZONES,
    frameworks: Iterable[str] | None = None,
) -> StreamedAssessment:
    """Assess a stored run as :func:`~toolkit.assessment.assess.assess` does, partition by
    partition (see the module docstring), writing the findings, requirement evidence and
    maturity rows under ``out_dir`` (replaced when it holds an earlier streamed assessment).

    Raises:
        StoreError: no such run, or a run's files were altered.
        InputError: a portfolio, record or framework file is invalid, the run records no
            portfolio and none was given, or ``out_dir`` exists and is not a streamed
            assessment.
        ValueError: ``now`` is naive, or ``partition_zones`` < 1.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if partition_zones < 1:
        raise ValueError(f"partition_zones must be at least 1, not {partition_zones}")
    store = store if isinstance(store, Store) else Store(store)
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / "summary.json").is_file():
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise InputError(out_dir, "exists and is not a streamed assessment: not replaced")
    run_id = store.resolve(run)
    manifest = store.read_manifest(run_id)
    if portfolio is None:
        recorded = manifest.get("parameters", {}).get("portfolio")
        if not recorded:
            raise InputError(store.runs_dir / run_id, "the run records no portfolio: give one")
        portfolio = recorded
    ids = check_ids()
    if not isinstance(portfolio, Portfolio):
        portfolio = load_portfolio(portfolio, ids)
    records = load_records(portfolio.directory, set(portfolio.inventory["zone"]), ids)
    fws = load_frameworks(frameworks)
    history_ids = _verify_history(store, run_id)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name in PARTS:
        (tmp / name).mkdir(parents=True)
    try:
        summary = _stream(
            _Job(store, run_id, manifest, portfolio, records, fws, now, history_ids), tmp,
            partition_zones,
        )  # fmt: skip
        _publish(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StreamedAssessment(
        run_id=run_id,
        as_of=now,
        portfolio=portfolio,
        records=records,
        frameworks=fws,
        out_dir=out_dir,
        requirements=REQUIREMENTS.cast(pd.read_parquet(out_dir / "requirements.parquet")),
        portfolio_score=summary["portfolio_score"],
        status_counts=summary["status_counts"],
        partitions=summary["partitions"],
        zones=summary["zones"],
        findings=summary["findings"],
        disk_bytes=_du(out_dir),
        store=store,
    )


@dataclass(frozen=True)
class _Job:
    store: Store
    run_id: str
    manifest: Mapping[str, Any]
    portfolio: Portfolio
    records: GovernanceRecords
    frameworks: Mapping[str, Framework]
    now: datetime
    history_ids: list[str]


def _verify_history(store: Store, run_id: str) -> list[str]:
    """Check the SHA-256 of every file of the intact runs up to ``run_id`` once (the
    partitions then read them without hashing again); returns those runs' ids."""
    listed = store.list_runs()
    ids = list(listed["run_id"])
    ids = ids[: ids.index(run_id) + 1]
    damaged = set(listed.loc[listed["status"].str.startswith("damaged"), "run_id"])
    if run_id in damaged:
        raise StoreError(f"run {run_id} is damaged: not assessed")
    kept = [r for r in ids if r not in damaged]
    for r in kept:
        for fname, meta in store.read_manifest(r)["files"].items():
            path = store.runs_dir / r / fname
            if not path.is_file():
                raise StoreError(f"run {r}: file {fname} listed in the manifest is missing")
            if sha256_file(path) != meta["sha256"]:
                raise StoreError(
                    f"run {r}: {fname} does not match the SHA-256 in its manifest "
                    "(the evidence was altered)"
                )
    return kept


def _all_zones(job: _Job) -> list[str]:
    """Sorted: the inventory's zones and every zone of the runs' ``zones`` frames."""
    import duckdb

    files = [
        str(job.store.runs_dir / r / "zones.parquet")
        for r in job.history_ids
        if "zones.parquet" in job.store.read_manifest(r)["files"]
    ]
    seen = set(job.portfolio.inventory["zone"].astype(str))
    if files:
        con = duckdb.connect()
        try:
            rows = con.execute(
                "SELECT DISTINCT zone FROM read_parquet(?) WHERE zone IS NOT NULL", [files]
            ).fetchall()
        finally:
            con.close()
        seen.update(str(r[0]) for r in rows)
    return sorted(seen)


def _partitions(zones: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(zones), size):
        yield list(zones[i : i + size])


def _stream(job: _Job, tmp: Path, size: int) -> dict[str, Any]:
    policies = job.portfolio.policies
    cfg = policies.settings.maturity
    inventory = job.portfolio.inventory
    tiers = dict(zip(inventory["zone"], inventory["risk_tier"], strict=True))
    tw = {
        z: float(cfg.tier_weights.get(None if pd.isna(t) else int(t), 1.0))
        for z, t in tiers.items()
    }
    total_tw = math.fsum(tw.values()) or 1.0
    registry = default_registry()

    # the portfolio-wide checks, once: the whole record files and settings, no zone's rows
    shared_ctx = Context(
        {
            **job.records.frames,
            "inventory": inventory.iloc[0:0],
            "zones": SCHEMAS["zones"].empty(),
        },
        policies,
        job.now,
        job.run_id,
        portfolio_zones=frozenset(inventory["zone"]),
    )
    shared = registry.run(shared_ctx, ids=PORTFOLIO_WIDE)
    shared = shared[shared["zone"] == PORTFOLIO].reset_index(drop=True)
    _write(tmp, "findings", "portfolio", shared)
    _write(tmp, "requirement_evidence", "portfolio", _evidence(shared, job.frameworks))

    overall = ExactSum()
    pillar_tw = {p: ExactSum() for p in PILLARS}
    cap = 5  # the lowest level cap of any gate triggered: the portfolio's
    gate_names: set[str] = set()
    portfolio_gates: pd.DataFrame | None = None
    counts: dict[str, int] = {}
    zones = _all_zones(job)
    known = frozenset(inventory["zone"])
    n_parts = 0
    for index, part in enumerate(_partitions(zones, size)):
        n_parts += 1
        frames = _partition_frames(job, part)
        ctx = Context(frames, policies, job.now, job.run_id, portfolio_zones=known)
        found = registry.run(ctx)
        wide = found[found["zone"] == PORTFOLIO]
        stray = sorted(set(wide["check_id"]) - set(PORTFOLIO_WIDE))
        if stray:
            raise RuntimeError(
                f"check(s) {', '.join(stray)} gave a (portfolio) finding from one partition: "
                "add them to toolkit.assessment.stream.PORTFOLIO_WIDE"
            )
        found = found[found["zone"] != PORTFOLIO].reset_index(drop=True)
        name = f"{index:05d}"
        _write(tmp, "findings", name, found)
        _write(tmp, "requirement_evidence", name, _evidence(found, job.frameworks))
        for status, n in found["status"].value_counts().items():
            counts[str(status)] = counts.get(str(status), 0) + int(n)
        m = score(
            FINDINGS.cast(pd.concat([found, shared], ignore_index=True)),
            frames["zones"],
            frames["inventory"],
            policies,
        )
        ind = m.indicators.copy()
        ind["portfolio_points"] = ind["overall_points"] * ind["zone"].map(tw) / total_tw
        ind["portfolio_pillar_points"] = pd.NA  # set once every partition is scored
        overall.add(ind["portfolio_points"].astype(float).tolist())
        zone_scores = m.scores[m.scores["zone"] != PORTFOLIO]
        for p in PILLARS:
            pillar_tw[p].add(tw[z] for z in zone_scores.loc[zone_scores[p].notna(), "zone"])
        gates = m.gates
        if portfolio_gates is None:
            portfolio_gates = gates[gates["zone"] == PORTFOLIO]
        gates = gates[gates["zone"] != PORTFOLIO]
        cap = min([cap, *(int(v) for v in gates["max_level"])])
        gate_names |= set(gates["gate"])
        _write(tmp, "scores", name, zone_scores)
        _write(tmp, "indicators", name, INDICATOR_SCORES.cast(ind))
        _write(tmp, "indicator_evidence", name, m.evidence)
        _write(tmp, "gates", name, gates)
        del frames, ctx, found, m, ind
    if portfolio_gates is None:  # no zone at all: the portfolio-wide gates alone
        portfolio_gates = score(shared, SCHEMAS["zones"].empty(), inventory.iloc[0:0],
                                policies).gates  # fmt: skip
    _write(tmp, "gates", "portfolio", portfolio_gates)
    cap = min([cap, *(int(v) for v in portfolio_gates["max_level"])])
    gate_names |= set(portfolio_gates["gate"])
    for status, n in shared["status"].value_counts().items():
        counts[str(status)] = counts.get(str(status), 0) + int(n)

    # second pass over the indicator parts: the portfolio's pillar points need every
    # partition's pillar weights first
    tw_of = {p: s.value() for p, s in pillar_tw.items()}
    port_pillars = {p: ExactSum() for p in PILLARS}
    for path in sorted((tmp / "indicators").glob("part-*.parquet")):
        ind = INDICATOR_SCORES.cast(pd.read_parquet(path))
        pts = [
            p_ * tw[z] / tw_of[p] if tw_of.get(p) else 0.0
            for p_, z, p in zip(
                ind["pillar_points"].astype(float).tolist(),
                ind["zone"].tolist(),
                ind["pillar"].tolist(),
                strict=True,
            )
        ]
        ind["portfolio_pillar_points"] = pts
        for p in PILLARS:
            port_pillars[p].add(v for v, q in zip(pts, ind["pillar"].tolist(), strict=True)
                                if q == p)  # fmt: skip
        _write(tmp, "indicators", path.stem.removeprefix("part-"), INDICATOR_SCORES.cast(ind))
    port_overall = overall.value()
    base = level_for(port_overall, cfg.levels)
    portfolio_score: dict[str, Any] = {
        "zone": PORTFOLIO,
        "risk_tier": None,
        "tier_weight": total_tw,
        **{p: (port_pillars[p].value() if tw_of.get(p) else None) for p in PILLARS},
        "overall": port_overall,
        "score_level": base,
        "level": min(base, cap),
        "gates": ";".join(sorted(gate_names)) or None,
    }
    requirements = _requirements(tmp, job.frameworks)
    write_atomic(tmp / "requirements.parquet", _parquet(REQUIREMENTS.cast(requirements)))
    summary = {
        "format_version": FORMAT_VERSION,
        "run_id": job.run_id,
        "as_of": pd.Timestamp(job.now).isoformat(),
        "portfolio": str(job.portfolio.directory),
        "portfolio_sha256": portfolio_digest(job.portfolio.directory),
        "partitions": n_parts,
        "partition_zones": size,
        "zones": len(zones),
        "findings": sum(counts.values()),
        "status_counts": dict(sorted(counts.items())),
        "portfolio_score": portfolio_score,
    }
    write_atomic(tmp / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _partition_frames(job: _Job, zones: list[str]) -> dict[str, pd.DataFrame]:
    """Every frame the checks read, holding only the rows of ``zones`` (records naming no
    zone kept: a zone's check may read them, as in the whole portfolio's context)."""
    store, run_id = job.store, job.run_id
    frames = _run_frames(store, run_id, job.manifest, zones)
    inv = job.portfolio.inventory
    frames["inventory"] = inv[inv["zone"].isin(zones)].reset_index(drop=True)
    for kind, df in job.records.frames.items():
        if "zone" in df.columns:
            df = df[df["zone"].isna() | df["zone"].isin(zones)].reset_index(drop=True)
        frames[kind] = df
    key_sets = load_key_history(store, run_id, zones=zones, verify=False)
    sightings, cds_states = load_signing_history(
        store, run_id, since=job.now - timedelta(days=LOOKBACK_DAYS), zones=zones, verify=False
    )
    window = rollover_window(job.portfolio.policies)
    frames.update(
        key_sets=key_sets,
        key_changes=key_set_changes(key_sets),
        signature_history=sightings,
        cds_history=cds_states,
        rollovers=load_rollovers(store, run_id, window, zones=zones, verify=False),
    )
    return frames


def _run_frames(
    store: Store, run_id: str, manifest: Mapping[str, Any], zones: list[str]
) -> dict[str, pd.DataFrame]:
    """The assessed run's frames (not ``findings``: a run holds observations), only the rows
    of ``zones``, in file order, read by DuckDB with the filter pushed into the scan."""
    import duckdb

    out: dict[str, pd.DataFrame] = {}
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE TEMP TABLE wanted AS SELECT unnest(?) AS zone", [zones])
        for fname, meta in manifest["files"].items():
            name = meta["frame"]
            if name == "findings":
                continue
            path = str(store.runs_dir / run_id / fname)
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path])
            cols = [r[0] for r in described.fetchall()]
            key = _KEY_COLUMN.get(name, "zone")
            if key in cols:
                df = con.execute(
                    "SELECT * EXCLUDE (file_row_number) "
                    "FROM read_parquet(?, file_row_number = true) "
                    f'WHERE "{key}" IN (SELECT zone FROM wanted) ORDER BY file_row_number',
                    [path],
                ).df()
            else:
                df = pd.read_parquet(path)
            if name in SCHEMAS:
                SCHEMAS[name].check(df, source=path)
                df = SCHEMAS[name].cast(df)
            out[name] = df
    finally:
        con.close()
    return out


def _evidence(findings: pd.DataFrame, frameworks: Mapping[str, Framework]) -> pd.DataFrame:
    """The requirement evidence rows of :func:`toolkit.assessment.frameworks.rollup` (one per
    requirement and finding of its checks, in its order) by one join with the requirements'
    checks: ``rollup`` concatenates per requirement, a fixed cost paid per partition."""
    links = pd.DataFrame(
        [
            (fw.id, r.id, c, order, pos)
            for order, (fw, r) in enumerate(
                (fw, r) for fw in frameworks.values() for r in fw.requirements
            )
            for pos, c in enumerate(r.checks)
        ],
        columns=["framework", "requirement_id", "check_id", "_order", "_pos"],
    )
    rows = findings.drop(columns=["references"]).assign(_row=range(len(findings)))
    ev = links.merge(rows.assign(check_id=rows["check_id"].astype(object)), on="check_id")
    ev = ev.sort_values(["_order", "_pos", "_row"], kind="stable")
    return EVIDENCE.cast(ev.drop(columns=["_order", "_pos", "_row"]).reset_index(drop=True))


def _requirements(tmp: Path, frameworks: Mapping[str, Framework]) -> pd.DataFrame:
    """The requirement roll-up of :func:`toolkit.assessment.frameworks.rollup`, from DuckDB
    aggregates over the findings parts joined with the requirements' checks: counts per
    status, and the failing zones (sorted, distinct) — no finding row held in memory."""
    import duckdb

    reqs = [(fw, r) for fw in frameworks.values() for r in fw.requirements]
    links = pd.DataFrame(
        [(i, c) for i, (_, r) in enumerate(reqs) for c in r.checks], columns=["req", "check_id"]
    ).astype({"req": "int64", "check_id": "object"})
    paths = [str(p) for p in sorted((tmp / "findings").glob("part-*.parquet"))]
    con = duckdb.connect()
    try:
        con.register("links", links)
        f = "read_parquet(?) AS f JOIN links AS l USING (check_id)"
        counted = con.execute(
            f"SELECT l.req, f.status, count(*) FROM {f} GROUP BY l.req, f.status", [paths]
        ).fetchall()
        failing_rows = con.execute(
            "SELECT l.req, string_agg(DISTINCT f.zone, ';' ORDER BY f.zone) "
            f"FROM {f} WHERE f.status = 'fail' GROUP BY l.req",
            [paths],
        ).fetchall()
    finally:
        con.close()
    n: dict[int, dict[str, int]] = {}
    for req, status, rows_ in counted:
        n.setdefault(int(req), {})[str(status)] = int(rows_)
    failing = {int(req): str(zones) for req, zones in failing_rows}
    rows = []
    for i, (fw, r) in enumerate(reqs):
        mine = n.get(i, {})
        rows.append(
            {
                "framework": fw.id,
                "requirement_id": r.id,
                "title": r.title,
                "status": requirement_status(s for s, k in mine.items() if k),
                "check_ids": ";".join(r.checks),
                "passed": mine.get("pass", 0),
                "failed": mine.get("fail", 0),
                "indeterminate": mine.get("indeterminate", 0),
                "not_applicable": mine.get("not_applicable", 0),
                "failing_zones": failing.get(i),
            }
        )
    return REQUIREMENTS.frame(rows)


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _write(tmp: Path, frame: str, part: str, df: pd.DataFrame) -> None:
    write_atomic(tmp / frame / f"part-{part}.parquet", _parquet(PARTS[frame].cast(df)))


def _publish(tmp: Path, out_dir: Path) -> None:
    """Rename the finished folder into place; an earlier result is moved aside first and
    removed once the new one is in."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# -- reading a streamed assessment back (the reports, issue 14) -------------------------------


def load_streamed(
    out_dir: str | Path,
    store: Store | str | Path,
    *,
    portfolio: Portfolio | str | Path | None = None,
    frameworks: Iterable[str] | None = None,
) -> StreamedAssessment:
    """The streamed assessment written in ``out_dir`` by :func:`assess_streaming`, read back
    from its ``summary.json`` and ``requirements.parquet`` (the parts stay on disk); the
    portfolio and its records are loaded again (``portfolio``: the one the summary names when
    None). Raises InputError when ``out_dir`` holds no streamed assessment of this format."""
    out_dir = Path(out_dir)
    store = store if isinstance(store, Store) else Store(store)
    summary = _summary(out_dir)
    if summary is None:
        raise InputError(out_dir / "summary.json", "not a streamed assessment of this format")
    ids = check_ids()
    if not isinstance(portfolio, Portfolio):
        portfolio = load_portfolio(portfolio or summary["portfolio"], ids)
    records = load_records(portfolio.directory, set(portfolio.inventory["zone"]), ids)
    return StreamedAssessment(
        run_id=str(summary["run_id"]),
        as_of=pd.Timestamp(summary["as_of"]).to_pydatetime(),
        portfolio=portfolio,
        records=records,
        frameworks=load_frameworks(frameworks),
        out_dir=out_dir,
        requirements=REQUIREMENTS.cast(pd.read_parquet(out_dir / "requirements.parquet")),
        portfolio_score=summary["portfolio_score"],
        status_counts=summary["status_counts"],
        partitions=int(summary["partitions"]),
        zones=int(summary["zones"]),
        findings=int(summary["findings"]),
        disk_bytes=_du(out_dir),
        store=store,
    )


def _summary(out_dir: Path) -> dict[str, Any] | None:
    """``out_dir``'s summary.json when it is one of this format, else None."""
    try:
        summary = json.loads((out_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("format_version") != FORMAT_VERSION:
        return None
    if not (out_dir / "requirements.parquet").is_file():
        return None
    return summary


def portfolio_digest(directory: str | Path) -> str:
    """SHA-256 of what a portfolio folder holds: every regular file under it (inventory,
    policy, governance records), by relative path and content, sorted by path. An edit to any
    record changes it, whatever the files' times say."""
    root = Path(directory)
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        h.update(f"{rel}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def is_current(out_dir: str | Path, run_id: str, now: datetime, portfolio: str | Path) -> bool:
    """Whether ``out_dir`` holds a streamed assessment of run ``run_id`` as of ``now``
    against the portfolio folder ``portfolio`` with the same contents as when it was made
    (:func:`portfolio_digest`, as :func:`assess_streaming` records it)."""
    summary = _summary(Path(out_dir))
    return (
        summary is not None
        and summary.get("run_id") == run_id
        and pd.Timestamp(summary.get("as_of")) == pd.Timestamp(now)
        and summary.get("portfolio") == str(portfolio)
        and summary.get("portfolio_sha256") == portfolio_digest(portfolio)
    )


def streamed_assessment(
    portfolio: Portfolio | str | Path,
    store: Store | str | Path,
    *,
    run: str = "latest",
    now: datetime,
    out_dir: str | Path | None = None,
    partition_zones: int = DEFAULT_PARTITION_ZONES,
) -> StreamedAssessment:
    """The streamed assessment of ``run`` as of ``now``: the one already in ``out_dir``
    (default :func:`default_out_dir`: ``WORKSPACE/assessments/RUN_ID``) when it is of that
    run, time and portfolio (:func:`is_current`), else made by :func:`assess_streaming`
    (replacing a stale one). Every framework is assessed. Raises what they raise."""
    store = store if isinstance(store, Store) else Store(store)
    run_id = store.resolve(run)
    folder = out_dir if out_dir is not None else default_out_dir(store.workspace, run_id)
    if not isinstance(portfolio, Portfolio):
        portfolio = load_portfolio(portfolio, check_ids())
    if is_current(folder, run_id, now, portfolio.directory):
        return load_streamed(folder, store, portfolio=portfolio)
    return assess_streaming(
        portfolio, store, run=run_id, now=now, out_dir=folder, partition_zones=partition_zones
    )


PART_FILES_COLUMNS = ["path", "frame", "rows", "bytes", "sha256"]


def part_files(s: StreamedAssessment) -> pd.DataFrame:
    """Every file of a streamed assessment (summary.json, requirements.parquet and each part
    of :data:`PARTS`), with its path relative to ``s.out_dir``, frame, rows (Parquet
    metadata; null for summary.json), size and SHA-256 computed now from the bytes on disk.
    Columns: :data:`PART_FILES_COLUMNS`, in path order."""
    import pyarrow.parquet as pq

    rows = []
    files = [s.out_dir / "summary.json", s.out_dir / "requirements.parquet"]
    files += [p for name in PARTS for p in s.part_paths(name)]
    for p in sorted(files, key=lambda f: f.relative_to(s.out_dir).as_posix()):
        rel = p.relative_to(s.out_dir).as_posix()
        rows.append(
            {
                "path": rel,
                "frame": rel.split("/")[0] if "/" in rel else p.stem,
                "rows": pq.ParquetFile(p).metadata.num_rows if p.suffix == ".parquet" else None,
                "bytes": p.stat().st_size,
                "sha256": sha256_file(p),
            }
        )
    df = pd.DataFrame(rows, columns=PART_FILES_COLUMNS)
    df["rows"] = df["rows"].astype("Int64")
    return df
