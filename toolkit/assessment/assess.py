"""The full assessment of a portfolio: every check (technical, operational, governance) over a
stored run, the portfolio's records and the history of runs; the requirement roll-up of every
framework; the maturity scores. Notebooks and ``dnssec-audit assess`` both call :func:`assess`.

    a = assess("data/sample-portfolio", Store("workspace"), run="latest", now=now)
    a.findings                      # schema FINDINGS, all pillars
    a.requirements                  # pass / fail / not_evidenced per framework requirement
    a.maturity.scores               # per zone and portfolio: pillars, overall, level
    a.maturity.explain("corp.test") # the indicators, weights and rows behind a score
    a.to_dict(framework="nis2")     # the JSON document of the CLI

The run stored by ``collect`` holds observations only (a findings frame an older collector
stored is ignored); the assessment runs every check against ``now`` and the current portfolio
files. :mod:`toolkit.assessment.judge` gives a run's technical findings as of its own time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from toolkit.assessment.frameworks import Framework, load_frameworks, rollup
from toolkit.assessment.maturity import Maturity, score
from toolkit.checks import Context, check_ids, default_registry
from toolkit.errors import InputError
from toolkit.history import rollover_window
from toolkit.history.key_sets import key_set_changes, load_key_history
from toolkit.history.rollover import load_rollovers
from toolkit.history.signing import LOOKBACK_DAYS, load_signing_history
from toolkit.inputs.governance import GovernanceRecords, load_records
from toolkit.inputs.portfolio import Portfolio, load_portfolio
from toolkit.store.runs import Run, Store
from toolkit.vocabulary import SEVERITY_RANK

FORMAT_VERSION = 1
"""Version of the JSON document of :meth:`Assessment.to_dict`."""

SEVERITY_ORDER = SEVERITY_RANK


@dataclass(frozen=True)
class Assessment:
    """The result of :func:`assess`.

    ``findings`` (schema FINDINGS) of every check; ``requirements`` and
    ``requirement_evidence`` (schemas of :mod:`toolkit.assessment.frameworks`); ``maturity``
    (scores,
    indicators, evidence, gates); ``frames`` — every frame the checks read (run, inventory,
    records, ``key_sets`` and ``key_changes`` of the history, ``signature_history`` and
    ``cds_history`` of :mod:`toolkit.history.signing`, ``rollovers`` of
    :mod:`toolkit.history.rollover`).
    """

    run_id: str
    as_of: datetime
    portfolio: Portfolio
    records: GovernanceRecords
    frameworks: Mapping[str, Framework]
    frames: Mapping[str, pd.DataFrame]
    findings: pd.DataFrame
    requirements: pd.DataFrame
    requirement_evidence: pd.DataFrame
    maturity: Maturity

    def evidence_for(self, framework: str, requirement_id: str) -> pd.DataFrame:
        """The findings behind one requirement's status."""
        ev = self.requirement_evidence
        return ev[(ev["framework"] == framework) & (ev["requirement_id"] == requirement_id)]

    def to_dict(self, framework: str | None = None) -> dict[str, Any]:
        """The assessment as one JSON-ready object.

        Keys: ``format_version``, ``run_id``, ``as_of``, ``portfolio``, ``records`` (files
        given and missing), ``findings`` (zone, check_id, severity, status, message, pillar,
        title, evidence), ``requirements`` (framework, requirement_id, title, status,
        check_ids list, counts, failing_zones list) and ``scores`` (``portfolio`` and
        ``zones``: overall, pillars, level, score_level, gates). ``framework`` keeps only that
        framework's requirements and the findings of the checks it references.

        Raises KeyError for a framework that was not assessed.
        """
        findings, requirements = self.filtered(framework)
        cols = ["zone", "check_id", "severity", "status", "message", "pillar", "title", "evidence"]
        return {
            **document_head(self, framework),
            "findings": [_plain(r) for r in findings[cols].to_dict("records")],
            "requirements": [
                {
                    **_plain(r),
                    "check_ids": str(r["check_ids"]).split(";"),
                    "failing_zones": [] if pd.isna(r["failing_zones"]) else
                    str(r["failing_zones"]).split(";"),
                }
                for r in requirements.to_dict("records")
            ],
            "scores": {
                "portfolio": _score(self.maturity.portfolio),
                "zones": [
                    {"zone": r["zone"], "risk_tier": _plain_value(r["risk_tier"]), **_score(r)}
                    for r in self.maturity.scores.to_dict("records")
                    if r["zone"] != "(portfolio)"
                ],
            },
        }  # fmt: skip

    def filtered(self, framework: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(findings, requirements) kept to ``framework`` (all when None); raises KeyError for
        a framework that was not assessed."""
        if framework is None:
            return self.findings, self.requirements
        if framework not in self.frameworks:
            raise KeyError(framework)
        checks = self.frameworks[framework].check_ids()
        return (
            self.findings[self.findings["check_id"].isin(checks)],
            self.requirements[self.requirements["framework"] == framework],
        )


class _Assessed(Protocol):
    """What a JSON document's head reads of an assessment (in memory or streamed)."""

    @property
    def run_id(self) -> str: ...
    @property
    def as_of(self) -> datetime: ...
    @property
    def portfolio(self) -> Portfolio: ...
    @property
    def records(self) -> GovernanceRecords: ...


def document_head(a: _Assessed, framework: str | None) -> dict[str, Any]:
    """The fields every JSON document of ``dnssec-audit assess`` opens with (an assessment in
    memory or a streamed one): format, run, time, portfolio, framework, records given."""
    return {
        "format_version": FORMAT_VERSION,
        "run_id": a.run_id,
        "as_of": pd.Timestamp(a.as_of).isoformat(),
        "portfolio": str(a.portfolio.directory),
        "framework": framework,
        "records": {
            "given": sorted(f"{k}.csv" for k in a.records.frames),
            "missing": a.records.missing,
        },
    }


def _plain_value(v: Any) -> Any:
    if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain_value(v) for k, v in row.items()}


def _score(row: Mapping[str, Any]) -> dict[str, Any]:
    def rounded(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else round(float(v), 2)

    return {
        "overall": rounded(row["overall"]),
        "pillars": {p: rounded(row[p]) for p in ("technical", "operational", "governance")},
        "level": int(row["level"]),
        "score_level": int(row["score_level"]),
        "gates": [] if pd.isna(row["gates"]) else str(row["gates"]).split(";"),
    }


def assess(
    portfolio: Portfolio | str | Path | None,
    store: Store | str | Path,
    *,
    run: str | Run = "latest",
    now: datetime,
    frameworks: Iterable[str] | None = None,
) -> Assessment:
    """Assess a stored run against the portfolio's records, as of ``now`` (timezone-aware).

    ``portfolio`` is a loaded :class:`Portfolio`, a directory, or None for the directory the
    run was collected from (its manifest records it). ``run`` is a run id (or ``latest``), or
    a run of ``store`` already loaded (a report that holds it saves loading it twice). The
    history is every run of the store up to and including ``run``. ``frameworks`` limits the
    roll-up (default: all).

    Raises:
        StoreError: no such run, or a run's files were altered.
        InputError: a portfolio file or record file is invalid, the run records no portfolio
            and none was given, or a framework file is invalid or unknown.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    store = store if isinstance(store, Store) else Store(store)
    if isinstance(run, Run):
        run_id, loaded = run.run_id, run
    else:
        run_id = store.resolve(run)
        loaded = store.load(run_id)
    if portfolio is None:
        recorded = loaded.manifest.get("parameters", {}).get("portfolio")
        if not recorded:
            raise InputError(store.runs_dir / run_id, "the run records no portfolio: give one")
        portfolio = recorded
    ids = check_ids()
    if not isinstance(portfolio, Portfolio):
        portfolio = load_portfolio(portfolio, ids)
    records = load_records(portfolio.directory, set(portfolio.inventory["zone"]), ids)
    key_sets = load_key_history(store, run_id)
    sightings, cds_states = load_signing_history(
        store, run_id, since=now - timedelta(days=LOOKBACK_DAYS)
    )
    frames: dict[str, pd.DataFrame] = {
        **{k: v for k, v in loaded.frames.items() if k != "findings"},
        "inventory": portfolio.inventory,
        **records.frames,
        "key_sets": key_sets,
        "key_changes": key_set_changes(key_sets),
        "signature_history": sightings,
        "cds_history": cds_states,
        "rollovers": load_rollovers(store, run_id, rollover_window(portfolio.policies)),
    }
    findings = default_registry().run(Context(frames, portfolio.policies, now, run_id))
    fws = load_frameworks(frameworks)
    requirements, evidence = rollup(findings, fws)
    maturity = score(findings, loaded["zones"], portfolio.inventory, portfolio.policies)
    return Assessment(
        run_id=run_id,
        as_of=now,
        portfolio=portfolio,
        records=records,
        frameworks=fws,
        frames=frames,
        findings=findings,
        requirements=requirements,
        requirement_evidence=evidence,
        maturity=maturity,
    )


def render_text(a: Assessment, framework: str | None = None) -> str:
    """The assessment as plain-text tables: findings needing attention (fail, then
    indeterminate, by severity), requirement statuses, scores. Raises KeyError for a
    framework that was not assessed."""
    findings, requirements = a.filtered(framework)
    counts = findings["status"].value_counts()
    out = [
        f"Assessment of run {a.run_id} as of {pd.Timestamp(a.as_of):%Y-%m-%d %H:%M} UTC",
        f"Portfolio: {a.portfolio.directory}",
        "Records given: " + (", ".join(sorted(f"{k}.csv" for k in a.records.frames)) or "none")
        + ("; missing (not evidenced): " + ", ".join(a.records.missing) if a.records.missing
           else ""),
        "",
        f"Findings: {counts.get('fail', 0)} fail, {counts.get('indeterminate', 0)} not "
        f"evidenced, {counts.get('pass', 0)} pass, {counts.get('not_applicable', 0)} n/a",
    ]  # fmt: skip
    attention = findings[findings["status"].isin(["fail", "indeterminate"])].assign(
        _s=lambda d: d["status"].map({"fail": 0, "indeterminate": 1}),
        _v=lambda d: d["severity"].map(SEVERITY_ORDER),
    )
    attention = attention.sort_values(["_s", "_v", "check_id", "zone"])
    cols = ["status", "severity", "zone", "check_id", "message"]
    out.append(_table(attention[cols]))
    out += ["", "Requirements:"]
    req = requirements[["framework", "requirement_id", "status", "passed", "failed",
                        "indeterminate", "title"]]  # fmt: skip
    out.append(_table(req))
    out += ["", "Maturity (0-100; level 1-5 after gates):"]
    sc = a.maturity.scores.copy()
    for c in ("technical", "operational", "governance", "overall"):
        sc[c] = sc[c].astype(float).round(1)
    cols = ["zone", "risk_tier", "technical", "operational", "governance", "overall",
            "score_level", "level", "gates"]  # fmt: skip
    out.append(_table(sc[cols]))
    return "\n".join(out) + "\n"


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)"
    with pd.option_context("display.max_rows", None, "display.width", 250,
                           "display.max_colwidth", 110):  # fmt: skip
        return df.to_string(index=False)
