"""Trends per week, month or quarter, and each zone's last known-good DS and DNSKEY sets.

Pure functions over a :class:`~toolkit.history.History`'s frames. A period's row shows the
state at the period's **last run** (a board reads "where we stood at the end of Q3"), plus
how many runs the period had; resolver latency is taken over all of the period's runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from toolkit.history.frames import KNOWN_GOOD, LATENCY_TRENDS, TRENDS

FREQUENCIES = ("week", "month", "quarter")
SEVERITY_COLUMNS = ("critical", "high", "medium", "low")
"""The severities of the ``open_*`` columns of TRENDS."""

Scorer = Callable[[Mapping[str, pd.DataFrame]], "tuple[float, int] | None"]
"""A run's frames -> (maturity score 0-100, level 1-5), or None when it cannot be scored."""


def period_of(at: pd.Series, freq: str) -> tuple[pd.Series, pd.Series]:
    """Labels (``2026-W48``, ``2026-11``, ``2026Q4``) and start instants (UTC) of the
    periods the times ``at`` fall in. Raises ValueError for an unknown ``freq``."""
    if freq not in FREQUENCIES:
        raise ValueError(f"frequency {freq!r} is not one of {', '.join(FREQUENCIES)}")
    naive = pd.to_datetime(at, utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
    code = {"week": "W-SUN", "month": "M", "quarter": "Q"}[freq]
    periods = naive.dt.to_period(code)
    start = periods.dt.start_time.dt.tz_localize("UTC")
    if freq == "week":
        iso = start.dt.isocalendar()
        labels = iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    elif freq == "month":
        labels = periods.dt.strftime("%Y-%m")
    else:
        labels = periods.astype(str)
    return labels.astype("string"), start


def run_metrics(
    runs: pd.DataFrame, zones: pd.DataFrame, findings: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per run: the figures of :data:`~toolkit.history.frames.TRENDS` for that run
    (maturity left null: see :func:`trends_frame`; the open findings null when ``findings``,
    the runs' judged findings with ``run_id``, is None)."""
    rows = []
    z_by = dict(tuple(zones.groupby("run_id"))) if len(zones) else {}
    f_by = dict(tuple(findings.groupby("run_id"))) if findings is not None and len(findings) else {}
    for r in runs.itertuples(index=False):
        z = z_by.get(r.run_id, zones.iloc[0:0])
        n = len(z)
        days = z["min_rrsig_days_left"].dropna().astype(float) if n else pd.Series(dtype=float)
        opened: dict[str, int | None] = dict.fromkeys(SEVERITY_COLUMNS)
        if findings is not None:
            f = f_by.get(r.run_id, findings.iloc[0:0])
            fails = f[f["status"] == "fail"]["severity"].value_counts() if len(f) else {}
            opened = {s: int(fails.get(s, 0)) for s in SEVERITY_COLUMNS}
        row = {
            "run_id": r.run_id,
            "at": r.created_at,
            "simulated": r.simulated,
            "zones": n,
            "signed_pct": round(100 * z["signed"].fillna(False).astype(bool).sum() / n, 1)
            if n
            else None,
            "secure_pct": round(100 * (z["status"] == "secure").sum() / n, 1) if n else None,
            "bogus": int((z["status"] == "bogus").sum()) if n else 0,
            "min_days_left": float(days.min()) if len(days) else None,
            "median_days_left": float(days.median()) if len(days) else None,
            **{f"open_{s}": v for s, v in opened.items()},
            "maturity_score": None,
            "maturity_level": None,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def trends_frame(
    runs: pd.DataFrame,
    zones: pd.DataFrame,
    findings: pd.DataFrame | None,
    freq: str = "quarter",
    *,
    scorer: Scorer | None = None,
    frames_of: Callable[[str], Mapping[str, pd.DataFrame]] | None = None,
) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.TRENDS` frame: one row per ``freq`` period that had
    runs, oldest first. Only each period's last run is scored (``scorer``, given the run's
    frames by ``frames_of``). Raises ValueError for an unknown ``freq``."""
    if runs.empty:
        period_of(pd.Series([], dtype="datetime64[ns, UTC]"), freq)
        return TRENDS.empty()
    per_run = run_metrics(runs, zones, findings)
    labels, starts = period_of(per_run["at"], freq)
    per_run["period"], per_run["period_start"] = labels, starts
    out = []
    for (label, start), g in per_run.groupby(["period", "period_start"], sort=True):
        last = g.sort_values(["at", "run_id"]).iloc[-1].to_dict()
        last.update(period=label, period_start=start, runs=len(g), last_run_id=last["run_id"])
        if scorer is not None and frames_of is not None:
            scored = scorer(frames_of(last["run_id"]))
            if scored is not None:
                last["maturity_score"], last["maturity_level"] = scored
        out.append({k: last.get(k) for k in TRENDS.names})
    return TRENDS.frame(out).sort_values("period_start").reset_index(drop=True)


def latency_trends_frame(resolver_checks: pd.DataFrame, freq: str = "quarter") -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.LATENCY_TRENDS` frame of a history's resolver
    checks (with ``run_at``): median and 95th percentile latency per period and resolver."""
    answered = resolver_checks[resolver_checks["latency_ms"].notna()]
    if answered.empty:
        period_of(pd.Series([], dtype="datetime64[ns, UTC]"), freq)
        return LATENCY_TRENDS.empty()
    labels, starts = period_of(answered["run_at"], freq)
    df = answered.assign(period=labels, period_start=starts)
    rows = []
    for (label, start, resolver), g in df.groupby(["period", "period_start", "resolver"]):
        lat = g["latency_ms"].astype(float)
        rows.append(
            {
                "period": label,
                "period_start": start,
                "resolver": resolver,
                "checks": len(g),
                "median_ms": round(float(lat.median()), 3),
                "p95_ms": round(float(lat.quantile(0.95)), 3),
            }
        )
    return (
        LATENCY_TRENDS.frame(rows).sort_values(["period_start", "resolver"]).reset_index(drop=True)
    )


def known_good_frame(zones: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.KNOWN_GOOD` frame: for each zone that was ever
    secure, the DS (parent) and DNSKEY (zone) records of the last run in which it was."""
    secure = zones[zones["status"] == "secure"]
    if secure.empty:
        return KNOWN_GOOD.empty()
    last = secure.sort_values(["run_at", "run_id"]).groupby("zone").tail(1)
    keep = set(zip(last["zone"], last["run_id"], strict=True))
    at = dict(zip(last["zone"], last["run_at"], strict=True))
    rec = records[
        ((records["rrtype"] == "DS") & (records["source"] == "parent"))
        | ((records["rrtype"] == "DNSKEY") & (records["source"] == "child"))
    ]
    rec = rec[[k in keep for k in zip(rec["zone"], rec["run_id"], strict=True)]]
    rec = rec.drop_duplicates(["zone", "rrtype", "rdata"])
    out = rec.assign(at=[at[z] for z in rec["zone"]])
    out = out.sort_values(["zone", "rrtype", "key_tag"], kind="stable")
    return KNOWN_GOOD.cast(out[KNOWN_GOOD.names].reset_index(drop=True))
