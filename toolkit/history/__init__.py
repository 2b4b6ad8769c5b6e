"""History across runs: what changed, when, and how the portfolio trends.

Load a span of stored runs as one set of frames (:func:`load_history`, DuckDB over the runs'
Parquet files — see :mod:`toolkit.history.load` for why), then, all pure:

* :func:`changes` — per zone, between consecutive runs: DNSKEY added / removed / revoked, DS
  added / removed, signing started / stopped, algorithm change, status change;
* :func:`signature_trend` — days of signature validity left per zone and run, re-signing seen;
* :func:`timeline` — per zone and run, the rollover phases shown (ZSK pre-publication, double
  signature, KSK double-DS, ...);
* :func:`rollovers` — each rollover, its method and duration against the policy's window;
* :func:`faults` — rollover timing faults provable from outside (RFC 6781, RFC 7583);
* :func:`last_known_good` — each zone's DS and DNSKEY sets of the last run it validated;
* :func:`trends` / :func:`latency_trends` — per week, month or quarter, ready for charts.

Frame schemas: :mod:`toolkit.history.frames`.
"""

from __future__ import annotations

import pandas as pd

from toolkit.history import frames
from toolkit.history.diff import changes_from_snapshots
from toolkit.history.diff import signature_trend as _signature_trend
from toolkit.history.load import DEFAULT_FRAMES, History, load_history
from toolkit.history.rollover import (
    DEFAULT_WINDOW_DAYS,
    faults_from_snapshots,
    rollovers_from_snapshots,
    timeline_from_snapshots,
)
from toolkit.history.snapshots import Snapshot, snapshots
from toolkit.history.trends import (
    FREQUENCIES,
    Scorer,
    known_good_frame,
    latency_trends_frame,
    trends_frame,
)
from toolkit.inputs.policy import PolicySet

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_WINDOW_DAYS",
    "FREQUENCIES",
    "History",
    "Scorer",
    "changes",
    "faults",
    "frames",
    "last_known_good",
    "latency_trends",
    "load_history",
    "rollover_window",
    "rollovers",
    "signature_trend",
    "snapshots_of",
    "timeline",
    "trends",
]


def snapshots_of(history: History) -> list[Snapshot]:
    """Every zone's :class:`~toolkit.history.snapshots.Snapshot` in every run of ``history``
    (needs its ``zones`` and ``records`` frames)."""
    return list(snapshots(history["zones"], history["records"]))


def changes(history: History) -> pd.DataFrame:
    """Changes between consecutive runs of each zone (schema :data:`frames.CHANGES`)."""
    return changes_from_snapshots(snapshots_of(history))


def signature_trend(history: History) -> pd.DataFrame:
    """Signature validity left per zone and run (schema :data:`frames.SIGNATURE_TREND`)."""
    return _signature_trend(history["zones"])


def timeline(history: History) -> pd.DataFrame:
    """Rollover phases per zone and run (schema :data:`frames.TIMELINE`)."""
    return timeline_from_snapshots(snapshots_of(history))


def rollover_window(policies: PolicySet | None) -> float:
    """The rollover window in days: ``alerts.rollover_window_days`` of policy.yaml, else
    :data:`DEFAULT_WINDOW_DAYS`."""
    if policies is None:
        return DEFAULT_WINDOW_DAYS
    return float(policies.settings.alerts.rollover_window_days)


def rollovers(history: History, policies: PolicySet | None = None) -> pd.DataFrame:
    """Rollovers seen, with duration against the policy's window (schema
    :data:`frames.ROLLOVERS`)."""
    return rollovers_from_snapshots(snapshots_of(history), rollover_window(policies))


def faults(history: History) -> pd.DataFrame:
    """Rollover timing faults visible from outside (schema :data:`frames.FAULTS`)."""
    return faults_from_snapshots(snapshots_of(history))


def last_known_good(history: History) -> pd.DataFrame:
    """Each zone's DS and DNSKEY sets of the last run it was secure in (schema
    :data:`frames.KNOWN_GOOD`)."""
    return known_good_frame(history["zones"], history["records"])


def trends(
    history: History, freq: str = "quarter", *, scorer: Scorer | None = None
) -> pd.DataFrame:
    """Per-period figures (schema :data:`frames.TRENDS`); with a ``scorer`` (the assessment's
    :func:`toolkit.assessment.maturity.maturity_scorer`, passed in: history sits below the
    assessment) each period's last run is also scored. The open findings and the score need
    the runs' findings: a history given them by the assessment
    (:func:`toolkit.assessment.judge.judged_history`); without, those columns are null. Raises
    ValueError for an unknown ``freq`` (one of :data:`FREQUENCIES`)."""
    return trends_frame(
        history.runs,
        history["zones"],
        history.frames.get("findings"),
        freq,
        scorer=scorer,
        frames_of=history.run,
    )


def latency_trends(history: History, freq: str = "quarter") -> pd.DataFrame:
    """Resolver latency per period and family (schema :data:`frames.LATENCY_TRENDS`)."""
    return latency_trends_frame(history["resolver_checks"], freq)
