"""The board report's figures: maturity and its change since last quarter, pillar scores, the
tier-1 RAG table, the top risks with owner and due date, the decisions asked of the board, and
the quarterly KPIs — as frames, from the assessment of the reported run and the run history.

:func:`board_view` is the one entry point that does I/O (it reads the store and assesses); the
rest are pure functions of frames. The HTML and SVG built from these frames live in
:mod:`toolkit.reports.board_html`.

Every number names its source: the portfolio score is ``Assessment.maturity.portfolio`` of the
reported run (``dnssec-audit assess --format json`` → ``scores.portfolio``, and
``maturity.explain()`` gives the indicators behind it); last quarter's is the same assessment of
that quarter's last run; the KPI trends are :func:`toolkit.history.trends` per quarter.

A run of more zones than the streaming threshold (``DNSSEC_AUDIT_STREAM_ABOVE``, 20,000) is
never assessed in memory: its streamed assessment (``WORKSPACE/assessments/RUN``, reused when
current, else made) gives the same figures by DuckDB aggregates over its Parquet parts
(:mod:`toolkit.reports.streamed`; :func:`streamed_top_risks`, :func:`streamed_decisions`).

When the run records no portfolio (a hand-built run) the view is *not available* and says why:
the report then prints "not evidenced", never a score it could not compute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.assessment.maturity import PORTFOLIO
from toolkit.reports.html import plural
from toolkit.vocabulary import PILLARS, SEVERITIES, SEVERITY_RANK

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.assessment.assess import Assessment
    from toolkit.assessment.stream import StreamedAssessment
    from toolkit.store.runs import Run, Store

#: Days from the as-of date to a risk's due date, by severity (the board report prints this).
DUE_DAYS: dict[str, int] = {"critical": 7, "high": 30, "medium": 90, "low": 180, "info": 365}
_SEV_RANK = SEVERITY_RANK
NOT_EVIDENCED = "not evidenced"

#: RAG of a tier-1 zone (the board report prints these rules).
RAG_RULES = (
    ("red", "bogus or indeterminate, or a critical finding open, or maturity level 1–2"),
    ("amber", "a high or medium finding open, insecure although it should be signed, or level 3"),
    ("green", "none of the above"),
)


@dataclass(frozen=True)
class Decision:
    """A decision the board may be asked to take: triggered when any of ``checks`` fails."""

    id: str
    checks: tuple[str, ...]
    ask: str
    why: str


#: The decisions, named data (first match order = print order after severity).
DECISIONS: tuple[Decision, ...] = (
    Decision(
        "outage",
        ("chain_not_bogus",),
        "Note the outage of {zones} and ask for a post-incident review by the next meeting.",
        "Validation fails for {zones_n}: customers behind checking resolvers cannot reach them.",
    ),
    Decision(
        "hsm",
        ("ksk_custody_offline",),
        "Approve a hardware security module (HSM) or offline custody for the key-signing keys.",
        "{zones_n} keep their master signing key on an online server: whoever steals that "
        "server can forge the zones' answers.",
    ),
    Decision(
        "unsigned",
        ("zone_signed_as_expected", "unsigned_zone_risk_accepted"),
        "Decide on the unprotected zones: fund signing {zones}, or accept the risk in writing, "
        "with an owner and an expiry date.",
        "{zones_n}: not protected although policy expects it, or without a recorded "
        "acceptance of that risk.",
    ),
    Decision(
        "change",
        ("key_changes_approved", "change_approval_segregated"),
        "Mandate that every key or DS change is approved by a second person before it is made.",
        "{findings_n} on key or DS changes without an approved, segregated ticket — the classic "
        "cause of DNSSEC outages.",
    ),
    Decision(
        "owners",
        ("zone_has_owner", "key_custodian_named", "roles_assigned"),
        "Require a named owner for every zone and key, and confirm the DNSSEC roles.",
        "{findings_n}: a zone, key or role with nobody accountable.",
    ),
    Decision(
        "drills",
        ("drills_on_schedule", "drill_followups_closed", "incidents_reviewed"),
        "Require the rollover and incident drills on schedule, with follow-ups closed.",
        "{findings_n} on drills or incidents: the team has not rehearsed recovery on time.",
    ),
    Decision(
        "policy",
        ("policy_reviewed_recently", "signing_policy_assigned"),
        "Re-approve the DNSSEC signing policy and apply it to every zone.",
        "{findings_n}: the policy is overdue for review or does not cover every zone.",
    ),
)


@dataclass(frozen=True)
class QuarterScore:
    """The assessed maturity of one quarter's last run."""

    period: str
    run_id: str
    at: datetime
    overall: float
    level: int
    pillars: Mapping[str, float]
    gates: tuple[str, ...] = ()
    open_by_severity: Mapping[str, int] = field(default_factory=dict)


@dataclass
class BoardView:
    """Everything the board report shows beyond the run's zones frame.

    ``available`` is False (with ``reason``) when no assessment could be made: then
    ``current`` and ``previous`` are None and ``risks``/``decisions`` are empty — the report
    says *not evidenced*. ``kpis`` (per quarter, oldest first) comes from the history either
    way; its ``maturity_score`` is filled for the assessed quarters only.
    """

    available: bool
    reason: str
    period: str
    as_of: datetime
    current: QuarterScore | None = None
    previous: QuarterScore | None = None
    previous_period: str = ""
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)
    risks: pd.DataFrame = field(default_factory=pd.DataFrame)
    open_risks: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    tier1: pd.DataFrame = field(default_factory=pd.DataFrame)
    policy_owner: str = ""
    assessed_runs: list[str] = field(default_factory=list)
    maturity_levels: tuple[float, ...] = (40.0, 60.0, 75.0, 90.0)

    @property
    def change(self) -> float | None:
        """Points of overall score gained since last quarter (None: no previous quarter)."""
        if self.current is None or self.previous is None:
            return None
        return round(self.current.overall - self.previous.overall, 1)


# -- entry point ---------------------------------------------------------------------------------


def board_view(
    run: Run,
    store: Store,
    *,
    as_of: str = "",
    assess_quarters: int = 2,
    top: int = 5,
) -> BoardView:
    """Assess ``run`` (and the last run of up to ``assess_quarters - 1`` earlier quarters) and
    gather the history's quarterly KPIs.

    The assessment time is :func:`toolkit.reports.audit.assessment_time` (the run's time, or the end
    of ``as_of``); earlier quarters are assessed at their own last run's time, against the
    portfolio files as they are now. Never raises for a missing portfolio or a failing
    assessment: the view is then not available and ``reason`` says why.
    """
    from toolkit.assessment.judge import judged_history
    from toolkit.history import load_history, trends
    from toolkit.reports.audit import assessment_time

    now = assessment_time(run, as_of)
    period = _quarter(run.created_at)
    from toolkit.history import History
    from toolkit.reports.streamed import should_stream

    history = load_history(store.workspace, until=run.created_at, frames=("zones",))
    sizes = history["zones"].groupby("run_id").size() if len(history["zones"]) else {}
    large = {str(r) for r in history.run_ids if should_stream(int(sizes.get(r, 0)))}
    # a large run is not judged in memory (its technical findings alone would take GBs): its
    # period's open findings are those of its streamed assessment, when one is made below
    judged = judged_history(History(history.runs[~history.runs["run_id"].isin(large)]), store)
    history = History(history.runs, {**history.frames, "findings": judged["findings"]})
    kpis = trends(history, "quarter").copy()
    if large:
        for col in OPEN_COLUMNS:
            kpis[col] = kpis[col].astype("Int64")
            kpis.loc[kpis["last_run_id"].isin(large), col] = pd.NA
    run_at = dict(zip(history.runs["run_id"], history.runs["created_at"], strict=True))
    view = BoardView(False, "", period, now, kpis=kpis)
    portfolio = (run.manifest.get("parameters") or {}).get("portfolio")
    if not portfolio or not Path(str(portfolio)).is_dir():
        view.reason = (
            "the run records no portfolio"
            if not portfolio
            else f"the run's portfolio ({portfolio}) is not on this machine"
        ) + ", so there are no governance records to assess and no maturity score"
        view.tier1 = tier1_rag(run["zones"], None, None)
        return view
    from toolkit.assessment.assess import assess

    try:
        from toolkit.checks import check_ids
        from toolkit.inputs.portfolio import load_portfolio

        loaded = load_portfolio(str(portfolio), check_ids())
        streamed = should_stream(len(run["zones"]))
        if streamed:  # issue 14: figures from DuckDB aggregates over the streamed parts
            s = _streamed(loaded, store, run.run_id, now)
            current = streamed_quarter_score(s, period)
            _set_kpi_open(kpis, run.run_id, s)
        else:
            a = assess(loaded, store, run=run, now=now)
            current = quarter_score(a, period)
    except Exception as exc:  # reported, not hidden
        view.reason = f"the assessment could not be made: {type(exc).__name__}: {exc}"
        view.tier1 = tier1_rag(run["zones"], None, None)
        return view
    view.available = True
    view.current = current
    view.assessed_runs = [run.run_id]
    view.maturity_levels = tuple(loaded.policies.settings.maturity.levels)
    view.policy_owner = str(loaded.policies.settings.policy_owner or "")
    earlier = kpis[kpis["period"] < period].sort_values("period_start", ascending=False)
    for row in earlier.head(max(assess_quarters - 1, 0)).itertuples(index=False):
        prev_run = str(row.last_run_id)
        at = pd.Timestamp(run_at[prev_run]).to_pydatetime().astimezone(UTC)
        try:
            if should_stream(_zone_count(store, prev_run)):  # its scores from its parts
                ps = _streamed(loaded, store, prev_run, at)
                qs = streamed_quarter_score(ps, str(row.period))
                _set_kpi_open(view.kpis, prev_run, ps)
            else:
                qs = quarter_score(assess(loaded, store, run=prev_run, now=at), str(row.period))
        except Exception:  # an earlier run that cannot be assessed: leave its point out
            continue
        view.assessed_runs.append(prev_run)
        if view.previous is None:
            view.previous = qs
        _set_kpi_maturity(view.kpis, qs)
    if view.previous is None and len(earlier):
        view.previous_period = str(earlier.iloc[0]["period"])
    _set_kpi_maturity(view.kpis, view.current)
    zones = run["zones"]
    if streamed:
        view.risks, view.open_risks = streamed_top_risks(
            s, loaded.inventory, as_of=now.date(), policy_owner=view.policy_owner, n=top
        )
        view.decisions = streamed_decisions(s, zones)
        t1 = list(zones.loc[zones["risk_tier"].astype("Float64") == 1, "zone"])
        from toolkit.reports.streamed import rows_of_zones

        view.tier1 = tier1_rag(
            zones,
            rows_of_zones(s, "scores", t1),
            rows_of_zones(s, "findings", t1, where="status = 'fail'"),
        )
        return view
    view.risks, view.open_risks = top_risks(
        a.findings, a.portfolio.inventory, as_of=now.date(), policy_owner=view.policy_owner, n=top
    )
    view.decisions = decisions(a.findings, zones)
    view.tier1 = tier1_rag(zones, a.maturity.scores, a.findings)
    return view


def _zone_count(store: Store, run_id: str) -> int:
    from toolkit.assessment.stream import run_zone_count

    return run_zone_count(store, run_id)


def _streamed(portfolio: Any, store: Store, run_id: str, now: datetime) -> StreamedAssessment:
    from toolkit.assessment.stream import streamed_assessment

    return streamed_assessment(portfolio, store, run=run_id, now=now)


def _quarter(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year}Q{(at.month - 1) // 3 + 1}"


OPEN_COLUMNS = tuple(f"open_{s}" for s in ("critical", "high", "medium", "low"))
"""The KPI columns of open findings by severity (toolkit.history.trends)."""


def _set_kpi_maturity(kpis: pd.DataFrame, qs: QuarterScore | None) -> None:
    if qs is None or kpis.empty:
        return
    hit = kpis["period"] == qs.period
    kpis["maturity_score"] = kpis["maturity_score"].astype("Float64")
    kpis.loc[hit, "maturity_score"] = qs.overall
    kpis.loc[hit, "maturity_level"] = qs.level


def _set_kpi_open(kpis: pd.DataFrame, run_id: str, s: StreamedAssessment) -> None:
    """A large run's open findings in the KPIs (left null by the judged history): the failed
    technical findings of its streamed assessment, as the chart says."""
    from toolkit.reports.streamed import fails_by_severity

    hit = kpis["last_run_id"] == run_id
    if not hit.any():
        return
    fails = fails_by_severity(s, pillar="technical")
    for col in OPEN_COLUMNS:
        kpis.loc[hit, col] = fails.get(col.removeprefix("open_"), 0)
    if STREAMED_OPEN not in kpis:
        kpis[STREAMED_OPEN] = False
    kpis.loc[hit, STREAMED_OPEN] = True


STREAMED_OPEN = "open_streamed"
"""KPI column: True where a quarter's open findings were counted over its run's streamed
assessment (a run above the streaming threshold, as of that assessment's time, history-based
checks included) rather than judged on the run alone; the chart and the sources say so."""


def quarter_score(a: Assessment, period: str) -> QuarterScore:
    """The portfolio's maturity of an assessment, with its open (failed) findings by severity."""
    fails = a.findings[a.findings["status"] == "fail"]["severity"].value_counts()
    return _quarter_score(
        a.maturity.portfolio, {s: int(fails.get(s, 0)) for s in SEVERITIES}, a, period
    )


def streamed_quarter_score(s: StreamedAssessment, period: str) -> QuarterScore:
    """:func:`quarter_score` of a streamed assessment: its portfolio score, and its failed
    findings by severity counted by DuckDB over the parts."""
    from toolkit.reports.streamed import fails_by_severity

    return _quarter_score(s.portfolio_score, fails_by_severity(s), s, period)


def _quarter_score(
    p: Mapping[str, Any], fails: Mapping[str, int], a: Assessment | StreamedAssessment, period: str
) -> QuarterScore:
    gates = () if pd.isna(p.get("gates")) else tuple(str(p["gates"]).split(";"))
    return QuarterScore(
        period=period,
        run_id=a.run_id,
        at=a.as_of,
        overall=round(float(p["overall"]), 1),
        level=int(p["level"]),
        pillars={k: round(float(p[k]), 1) for k in PILLARS if not pd.isna(p.get(k))},
        gates=gates,
        open_by_severity={s: int(fails.get(s, 0)) for s in SEVERITIES},
    )


# -- pure frames ---------------------------------------------------------------------------------


def due_date(severity: str, as_of: date) -> date:
    """The due date of a risk of ``severity``: ``as_of`` + :data:`DUE_DAYS` (unknown: 90)."""
    return as_of + timedelta(days=DUE_DAYS.get(str(severity), 90))


def top_risks(
    findings: pd.DataFrame,
    inventory: pd.DataFrame,
    *,
    as_of: date,
    policy_owner: str = "",
    n: int = 5,
) -> tuple[pd.DataFrame, int]:
    """The ``n`` worst risks and how many there are in all.

    A risk is one check failing for one or more zones (failed findings grouped by check), so
    the board reads "expired signatures on 2 zones", not 2 lines. Columns: check_id,
    severity, title, risk (plain words, from the check's metadata), zones (count), zone_list
    (up to three names, then "and N more"), owner (the zones' owners from the inventory, the
    policy owner for a portfolio-wide finding, "not named" otherwise), tier (the most critical
    tier affected), due (:func:`due_date`). Worst first: severity, tier, zones, check.
    """
    failed = findings[findings["status"] == "fail"]
    if failed.empty:
        return pd.DataFrame(columns=RISK_COLUMNS), 0
    from toolkit.checks import default_registry

    catalogue = default_registry().catalogue()
    risk_text = dict(zip(catalogue["check_id"], catalogue["risk"], strict=True))
    owners = dict(zip(inventory["zone"], inventory["owner"], strict=True))
    tiers = dict(zip(inventory["zone"], inventory["risk_tier"], strict=True))
    unicode = (
        dict(zip(inventory["zone"], inventory["zone_unicode"], strict=True))
        if "zone_unicode" in inventory
        else {}
    )
    rows = []
    for check_id, g in failed.groupby("check_id", sort=True):
        zones = sorted({str(z) for z in g["zone"].dropna()}, key=lambda z: (_tier(tiers, z), z))
        named = [unicode.get(z) or z for z in zones if z != PORTFOLIO]
        who: list[str] = []
        for z in zones:
            o = policy_owner if z == PORTFOLIO else owners.get(z)
            o = "" if o is None or pd.isna(o) else str(o).strip()
            if o and o not in who:
                who.append(o)
        rows.append(
            _risk_row(
                str(check_id),
                str(g["severity"].iloc[0]),
                str(g["title"].iloc[0]),
                str(risk_text.get(check_id) or g["message"].iloc[0]),
                named=named,
                named_n=len(named),
                portfolio=PORTFOLIO in zones,
                owners=who,
                owners_n=len(who),
                tier=min((_tier(tiers, z) for z in zones), default=9),
                as_of=as_of,
            )
        )
    return _rank_risks(rows, n)


def streamed_top_risks(
    s: StreamedAssessment,
    inventory: pd.DataFrame,
    *,
    as_of: date,
    policy_owner: str = "",
    n: int = 5,
) -> tuple[pd.DataFrame, int]:
    """:func:`top_risks` of a streamed assessment's findings, from DuckDB aggregates per
    failing check (:func:`toolkit.reports.streamed.risk_groups`): the same rows."""
    from toolkit.checks import default_registry
    from toolkit.reports.streamed import risk_groups

    groups = risk_groups(s, inventory, policy_owner=policy_owner)
    if groups.empty:
        return pd.DataFrame(columns=RISK_COLUMNS), 0
    catalogue = default_registry().catalogue()
    risk_text = dict(zip(catalogue["check_id"], catalogue["risk"], strict=True))
    rows = [
        _risk_row(
            g["check_id"],
            g["severity"],
            g["title"],
            str(risk_text.get(g["check_id"]) or g["message"]),
            named=g["labels"],
            named_n=g["named"],
            portfolio=g["portfolio"],
            owners=g["owners"],
            owners_n=g["owners_n"],
            tier=g["tier"],
            as_of=as_of,
        )
        for g in groups.to_dict("records")
    ]
    return _rank_risks(rows, n)


RISK_COLUMNS = ["check_id", "severity", "title", "risk", "zones", "zone_list", "owner", "tier",
                "due"]  # fmt: skip


def _risk_row(
    check_id: str,
    sev: str,
    title: str,
    risk: str,
    *,
    named: list[str],
    named_n: int,
    portfolio: bool,
    owners: list[str],
    owners_n: int,
    tier: int,
    as_of: date,
) -> dict[str, Any]:
    """One risk of :func:`top_risks`: ``named`` holds at least the first three zones' names
    (by tier, then name) of the ``named_n``, ``owners`` the first three of ``owners_n``."""
    shown = ", ".join(named[:3]) + (f" and {named_n - 3:,} more" if named_n > 3 else "")
    if portfolio:
        shown = "the whole portfolio" + (f"; {shown}" if shown else "")
    return {
        "check_id": check_id,
        "severity": sev,
        "title": title,
        "risk": risk,
        "zones": named_n or 1,
        "zone_list": shown,
        "owner": (", ".join(owners[:3]) + (f" +{owners_n - 3:,} more" if owners_n > 3 else ""))
        if owners_n
        else "not named",
        "tier": tier,
        "due": due_date(sev, as_of),
    }


def _rank_risks(rows: list[dict[str, Any]], n: int) -> tuple[pd.DataFrame, int]:
    df = pd.DataFrame(rows, columns=RISK_COLUMNS)
    df["_s"] = df["severity"].map(_SEV_RANK).fillna(9)
    df = df.sort_values(["_s", "tier", "zones", "check_id"], ascending=[True, True, False, True])
    df = df.drop(columns="_s").reset_index(drop=True)
    df["tier"] = df["tier"].where(df["tier"] < 9, None)
    return df.head(n), len(df)


def _tier(tiers: Mapping[str, Any], zone: str) -> int:
    t = tiers.get(zone)
    return 9 if t is None or pd.isna(t) else int(t)


def decisions(findings: pd.DataFrame, zones: pd.DataFrame) -> list[dict[str, Any]]:
    """The decisions of :data:`DECISIONS` whose checks fail, worst severity first: dicts with
    id, ask, why (filled in), severity, findings (count), checks, zones (names)."""
    failed = findings[findings["status"] == "fail"]
    names = _display_names(zones)
    out = []
    for order, d in enumerate(DECISIONS):
        hit = failed[failed["check_id"].isin(d.checks)]
        if hit.empty:
            continue
        zs = [names.get(z, z) for z in sorted({str(z) for z in hit["zone"].dropna()})]
        zs = [z for z in zs if z != PORTFOLIO]
        sev = min((_SEV_RANK.get(str(s), 9) for s in hit["severity"]), default=9)
        out.append(
            _decision_row(order, d, zs, len(zs), len(hit), sev, sorted(set(hit["check_id"])))
        )
    out.sort(key=lambda x: (_SEV_RANK.get(x["severity"], 9), x["order"]))
    return out


def streamed_decisions(s: StreamedAssessment, zones: pd.DataFrame) -> list[dict[str, Any]]:
    """:func:`decisions` of a streamed assessment's findings, from DuckDB aggregates per
    decision (:func:`toolkit.reports.streamed.decision_hits`): the same rows."""
    from toolkit.reports.streamed import decision_hits

    names = _display_names(zones)
    out = []
    for order, (d, hit) in enumerate(
        zip(DECISIONS, decision_hits(s, [d.checks for d in DECISIONS]), strict=True)
    ):
        if hit is None:
            continue
        zs = [names.get(z, z) for z in hit["zones"]]
        sev = min((_SEV_RANK.get(x, 9) for x in hit["severities"]), default=9)
        out.append(_decision_row(order, d, zs, hit["zones_n"], hit["findings"], sev, hit["checks"]))
    out.sort(key=lambda x: (_SEV_RANK.get(x["severity"], 9), x["order"]))
    return out


def _display_names(zones: pd.DataFrame) -> dict[str, str]:
    return dict(zip(zones["zone"], zones["zone_unicode"].fillna(zones["zone"]), strict=True))


def _decision_row(
    order: int,
    d: Decision,
    zs: list[str],
    zones_n: int,
    findings_n: int,
    sev: int,
    checks: list[str],
) -> dict[str, Any]:
    """One decision of :func:`decisions`: ``zs`` holds at least the first five of the
    ``zones_n`` zones' names (by zone), ``findings_n`` the failed findings behind it."""
    listed = ", ".join(zs[:4]) + (f" and {zones_n - 4:,} more" if zones_n > 4 else "")
    return {
        "id": d.id,
        "ask": d.ask.format(zones=listed or "the zones concerned"),
        "why": d.why.format(
            zones_n=plural(zones_n, "zone"), findings_n=plural(findings_n, "finding")
        ),
        "severity": SEVERITIES[sev] if sev < len(SEVERITIES) else "info",
        "findings": findings_n,
        "checks": ", ".join(checks),
        "order": order,
    }


def tier1_rag(
    zones: pd.DataFrame, scores: pd.DataFrame | None, findings: pd.DataFrame | None
) -> pd.DataFrame:
    """Tier-1 zones with a red / amber / green rating (:data:`RAG_RULES`).

    Columns: zone, zone_unicode, owner, status, score, level, open (failed findings: count),
    worst (their worst severity), rag, why. Without ``scores``/``findings`` (no assessment)
    score and level are null and the rating rests on the DNSSEC status alone.
    """
    from toolkit.checks.base import zone_rows

    t1 = zones[zones["risk_tier"].astype("Float64") == 1].sort_values("zone")
    score_of = zone_rows(scores)
    failed_of = zone_rows(findings[findings["status"] == "fail"] if findings is not None else None)
    rows = []
    for z in t1.itertuples(index=False):
        score = level = None
        if scores is not None:
            s = score_of(z.zone)
            if s:
                score, level = round(float(s[0]["overall"]), 1), int(s[0]["level"])
        open_n, worst = 0, ""
        if findings is not None:
            f = failed_of(z.zone)
            open_n = len(f)
            ranks = sorted(_SEV_RANK.get(str(r["severity"]), 9) for r in f)
            worst = SEVERITIES[ranks[0]] if ranks and ranks[0] < len(SEVERITIES) else ""
        status = str(z.status)
        expected = bool(z.expected_signed) if not pd.isna(z.expected_signed) else True
        why: list[str] = []
        if status in ("bogus", "indeterminate"):
            why.append(f"status {status}")
        if worst == "critical":
            why.append("critical finding open")
        if level is not None and level <= 2:
            why.append(f"level {level}")
        if why:
            rag = "red"
        else:
            if worst in ("high", "medium"):
                why.append(f"{worst} finding open")
            if status == "insecure" and expected:
                why.append("insecure, should be signed")
            if level == 3:
                why.append("level 3")
            rag = "amber" if why else "green"
        rows.append(
            {
                "zone": z.zone,
                "zone_unicode": z.zone_unicode,
                "owner": z.owner,
                "status": status,
                "score": score,
                "level": level,
                "open": open_n if findings is not None else None,
                "worst": worst,
                "rag": rag,
                "why": "; ".join(why) if why else "in good order",
            }
        )
    cols = ["zone", "zone_unicode", "owner", "status", "score", "level", "open", "worst", "rag"]
    return pd.DataFrame(rows, columns=[*cols, "why"])


def fmt_change(change: float | None, previous_period: str = "") -> str:
    """The change since last quarter in words."""
    if change is None:
        return (
            "first quarter measured"
            if not previous_period
            else (f"no assessed score for {previous_period}")
        )
    if change > 0:
        return f"up {change:.1f} points since last quarter"
    if change < 0:
        return f"down {-change:.1f} points since last quarter"
    return "unchanged since last quarter"


def kpi_rows(kpis: pd.DataFrame) -> Iterable[dict[str, Any]]:
    """The KPI frame as plain dicts (periods oldest first), for charts and alt text."""
    for r in kpis.to_dict("records"):
        yield {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in r.items()}
