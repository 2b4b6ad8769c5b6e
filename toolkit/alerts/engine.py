"""Evaluate the alert rules against the runs, keep the alert state, deliver to the sinks.

One evaluation (:func:`evaluate_alerts`):

1. load the runs of the last ``lookback_days`` up to ``now`` (:func:`toolkit.history.load_history`)
   and the portfolio's policy and records;
2. run every rule (:mod:`toolkit.alerts.rules`): the conditions that hold;
3. a condition with no active alert becomes a **new** alert, owed to every sink configured
   now; an active alert whose condition no longer holds is **cleared** (a later return of
   the condition is a new alert): an alert fires once per condition until it clears;
4. every alert still owed to a configured sink is delivered — this run's new ones and those a
   sink failed to take earlier (a webhook that was down): nothing is lost;
5. the state is written atomically.

Delivery is at least once: a crash between a delivery and the state write re-sends that
alert next time, with the same ``id``, so a receiver can drop duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.alerts.rules import AlertContext, Condition, Registry, default_registry
from toolkit.alerts.sinks import Sink
from toolkit.alerts.state import AlertState, load_state, locked, save_state
from toolkit.checks import check_ids
from toolkit.errors import StoreError
from toolkit.history import load_history
from toolkit.history.load import read_manifest
from toolkit.inputs.governance import GovernanceRecords, load_records
from toolkit.inputs.policy import PolicySet
from toolkit.inputs.portfolio import load_portfolio
from toolkit.schemas import UTC_TS, Column, FrameSchema
from toolkit.store.runs import Store

DEFAULT_LOOKBACK_DAYS = 120.0
HISTORY_FRAMES = ("inventory", "zones", "records", "resolver_checks")

ALERTS = FrameSchema(
    "alerts",
    "One row per alert of the state file, newest first.",
    (
        Column("id", "string", "alert id (stable: the receiver's deduplication key)"),
        Column("rule", "string", "the rule that raised it (toolkit.alerts.rules)"),
        Column("severity", "string", "critical | high | medium | low | info"),
        Column("zone", "string", "zone concerned"),
        Column("status", "string", "active | cleared"),
        Column("acknowledged", "boolean", "someone acknowledged it"),
        Column("first_seen_at", UTC_TS, "evaluation time at which it fired"),
        Column("cleared_at", UTC_TS, "evaluation time at which its condition no longer held"),
        Column("run_id", "string", "the run that showed the condition"),
        Column("pending", "string", "sinks that still owe its delivery, `;`-joined"),
        Column("message", "string", "what is wrong, in words"),
    ),
)


@dataclass(frozen=True)
class AlertRun:
    """What one evaluation did: alerts ``new`` and ``cleared`` now, those ``active``, and per
    sink id the number of alerts still ``pending`` after delivery."""

    latest_run_id: str | None
    new: list[dict[str, Any]]
    cleared: list[dict[str, Any]]
    active: list[dict[str, Any]]
    delivered: dict[str, int]
    pending: dict[str, int]


def alert_id(key: str, run_id: str) -> str:
    """The id of the alert raised for condition ``key`` first shown by ``run_id``."""
    return hashlib.sha256(f"{key}|{run_id}".encode()).hexdigest()[:12]


def _portfolio_inputs(
    store: Store, run_id: str, portfolio_dir: str | Path | None
) -> tuple[PolicySet, GovernanceRecords | None]:
    if portfolio_dir is None:
        manifest = read_manifest(store.runs_dir / run_id)
        guess = (manifest.get("parameters") or {}).get("portfolio")
        if not guess or not Path(guess).is_dir():
            return PolicySet(), None
        portfolio_dir = guess
    ids = check_ids()
    portfolio = load_portfolio(portfolio_dir, ids)
    records = load_records(
        portfolio.directory, zones=set(portfolio.inventory["zone"]), check_ids=ids
    )
    return portfolio.policies, records


def _new_runs(run_ids: list[str], last: str | None) -> tuple[str, ...]:
    if not run_ids:
        return ()
    if last is None:
        return (run_ids[-1],)
    if last in run_ids:
        return tuple(run_ids[run_ids.index(last) + 1 :])
    return tuple(r for r in run_ids if r > last)


def _no_run_in_window(
    store: Store, workspace: str | Path, now_ts: pd.Timestamp, lookback_days: float
) -> str:
    """Why no run was evaluated: the workspace has none, or its runs lie outside the look-back
    window that ends at ``now`` (say which, and where the runs are)."""
    window = f"{now_ts - timedelta(days=lookback_days):%Y-%m-%d %H:%M} to {now_ts:%Y-%m-%d %H:%M}"
    runs = store.list_runs()
    if runs.empty:
        return f"no runs in {workspace} (run `dnssec-audit collect` first)"
    first, last = runs["created_at"].min(), runs["created_at"].max()
    where = "after" if first > now_ts else "before" if last <= now_ts else "outside"
    return (
        f"no run in the look-back window ({lookback_days:g} days, {window} UTC, ending at "
        f"--now): the workspace's {len(runs)} run(s), from {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M} UTC, are all {where} it"
    )


def evaluate_alerts(
    workspace: str | Path,
    *,
    now: datetime,
    sinks: Sequence[Sink] = (),
    portfolio_dir: str | Path | None = None,
    registry: Registry | None = None,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
) -> AlertRun:
    """Evaluate the rules on the runs of ``workspace`` made up to ``now``, update the alert
    state and deliver to ``sinks`` (see the module docstring).

    ``portfolio_dir`` gives policy.yaml (thresholds) and the record files (changes.csv,
    registrars.csv); by default the portfolio recorded in the latest run's manifest, when it
    still exists (else default thresholds and no records: changes are then unapproved, as
    nothing evidences them). Returns an :class:`AlertRun`. Raises StoreError when the
    workspace has no run, InputError for bad portfolio files, AlertStateError for an
    unreadable state file.
    """
    registry = registry or default_registry()
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    store = Store(workspace)
    with locked(workspace):
        state = load_state(workspace)
        history = load_history(
            workspace,
            since=now_ts - timedelta(days=lookback_days),
            until=now_ts,
            frames=HISTORY_FRAMES,
        )
        if history.runs.empty:
            raise StoreError(_no_run_in_window(store, workspace, now_ts, lookback_days))
        latest = history.run_ids[-1]
        policies, records = _portfolio_inputs(store, latest, portfolio_dir)
        ctx = AlertContext(
            history=history,
            latest_run_id=latest,
            new_run_ids=_new_runs(history.run_ids, state.last_run_id),
            policies=policies,
            records=records,
            now=now_ts,
        )
        conditions = registry.evaluate(ctx)
        new, cleared = _apply(state, conditions, registry, [s.id for s in sinks], now_ts)
        delivered = _deliver(state, sinks, now_ts)
        state.last_run_id = latest
        save_state(workspace, state)
    active = [a for a in state.alerts.values() if a["status"] == "active"]
    return AlertRun(latest, new, cleared, active, delivered, _pending(state))


def _apply(
    state: AlertState,
    conditions: list[Condition],
    registry: Registry,
    sink_ids: list[str],
    now: pd.Timestamp,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    active = state.active_by_key()
    holding: set[str] = set()
    new = []
    for c in conditions:
        key = f"{c.rule}|{c.zone}|{c.key}"
        if key in holding:
            continue
        holding.add(key)
        if key in active:
            a = state.alerts[active[key]]
            a.update(last_seen_run=c.run_id, message=c.message, severity=c.severity)
            continue
        aid = alert_id(key, c.run_id)
        rule = registry[c.rule]
        a = {
            "id": aid,
            "key": key,
            "rule": c.rule,
            "kind": rule.kind,
            "title": rule.title,
            "severity": c.severity,
            "zone": c.zone,
            "message": c.message,
            "evidence": c.evidence,
            "run_id": c.run_id,
            "last_seen_run": c.run_id,
            "status": "active",
            "first_seen_at": now.isoformat(),
            "cleared_at": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "owed": list(sink_ids),
            "delivered": {},
        }
        state.alerts[aid] = a
        new.append(a)
    cleared = []
    for key, aid in active.items():
        if key not in holding:
            a = state.alerts[aid]
            a.update(status="cleared", cleared_at=now.isoformat())
            cleared.append(a)
    return new, cleared


def sink_kind(sink_id: str) -> str:
    """``webhook`` of ``webhook:URL``, ``jsonl`` of ``jsonl:PATH``, ``console``."""
    return sink_id.split(":", 1)[0]


def _retarget(state: AlertState, sinks: Sequence[Sink]) -> None:
    """Owe each undelivered alert to this run's sink of the same kind: a webhook URL that was
    wrong and has been corrected receives what the wrong one still owed (never twice: an alert
    already delivered by a sink of that kind owes it nothing more)."""
    given = {s.id for s in sinks}
    by_kind = {sink_kind(s.id): s.id for s in sinks}
    for a in state.alerts.values():
        owed = []
        for sid in a["owed"]:
            if sid not in given and sid not in a["delivered"]:
                sid = by_kind.get(sink_kind(sid), sid)
            if sid not in owed:
                owed.append(sid)
        a["owed"] = owed


def _deliver(state: AlertState, sinks: Sequence[Sink], now: pd.Timestamp) -> dict[str, int]:
    _retarget(state, sinks)
    counts = {}
    ordered = sorted(state.alerts.values(), key=lambda a: (a["first_seen_at"], a["id"]))
    for sink in sinks:
        owed = [a for a in ordered if sink.id in a["owed"] and sink.id not in a["delivered"]]
        done = sink.deliver(owed) if owed else set()
        for a in owed:
            if a["id"] in done:
                a["delivered"][sink.id] = now.isoformat()
        counts[sink.id] = len(done)
    return counts


def _pending(state: AlertState) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in state.alerts.values():
        for sink in a["owed"]:
            if sink not in a["delivered"]:
                out[sink] = out.get(sink, 0) + 1
    return out


def acknowledge(workspace: str | Path, alert: str, *, by: str, now: datetime) -> dict[str, Any]:
    """Mark the alert whose id is (or starts with) ``alert`` as acknowledged by ``by`` at
    ``now``; returns it. Acknowledging changes nothing else: an acknowledged alert stays until
    its condition clears, and pending deliveries still go out. Raises KeyError when no alert,
    or more than one, matches."""
    with locked(workspace):
        state = load_state(workspace)
        matches = [i for i in state.alerts if i == alert or i.startswith(alert)]
        if len(matches) != 1:
            what = "no alert" if not matches else f"{len(matches)} alerts"
            raise KeyError(f"{what} in {workspace} match {alert!r}")
        a = state.alerts[matches[0]]
        a.update(
            acknowledged_at=pd.Timestamp(now).tz_convert("UTC").isoformat(), acknowledged_by=by
        )
        save_state(workspace, state)
    return a


def alerts_frame(workspace: str | Path) -> pd.DataFrame:
    """The workspace's alerts (schema :data:`ALERTS`), newest first."""
    state = load_state(workspace)
    rows = [
        {
            "id": a["id"],
            "rule": a["rule"],
            "severity": a["severity"],
            "zone": a["zone"],
            "status": a["status"],
            "acknowledged": a.get("acknowledged_at") is not None,
            "first_seen_at": pd.Timestamp(a["first_seen_at"]),
            "cleared_at": pd.Timestamp(a["cleared_at"]) if a.get("cleared_at") else None,
            "run_id": a["run_id"],
            "pending": ";".join(s for s in a["owed"] if s not in a["delivered"]),
            "message": a["message"],
        }
        for a in state.alerts.values()
    ]
    df = ALERTS.frame(rows)
    return df.sort_values(["first_seen_at", "id"], ascending=False).reset_index(drop=True)


def last_evaluated_run(workspace: str | Path) -> str | None:
    """The run the alert rules were last evaluated on (None: never). Raises AlertStateError
    for an unreadable state file."""
    return load_state(workspace).last_run_id
