"""Alerts: rules with thresholds from ``policy.yaml``, a state file so each condition alerts
once until it clears, acknowledgement, and delivery to the console, a JSON Lines file and a
webhook — a sink that is down keeps its alerts pending for the next run.

    run = evaluate_alerts("workspace", now=now, sinks=[ConsoleSink(), WebhookSink(url)])
    acknowledge("workspace", run.new[0]["id"], by="alice", now=now)

Rules: :mod:`toolkit.alerts.rules`; state file: :mod:`toolkit.alerts.state`; sinks:
:mod:`toolkit.alerts.sinks`; the evaluation: :mod:`toolkit.alerts.engine`.
"""

from toolkit.alerts.engine import (
    ALERTS,
    AlertRun,
    acknowledge,
    alert_id,
    alerts_frame,
    evaluate_alerts,
    last_evaluated_run,
)
from toolkit.alerts.rules import AlertContext, Condition, Registry, Rule, default_registry
from toolkit.alerts.sinks import ConsoleSink, JsonlSink, Sink, WebhookSink, payload
from toolkit.alerts.state import AlertState, AlertStateError, load_state, state_path

__all__ = [
    "ALERTS",
    "AlertContext",
    "AlertRun",
    "AlertState",
    "AlertStateError",
    "Condition",
    "ConsoleSink",
    "JsonlSink",
    "Registry",
    "Rule",
    "Sink",
    "WebhookSink",
    "acknowledge",
    "alert_id",
    "alerts_frame",
    "default_registry",
    "evaluate_alerts",
    "last_evaluated_run",
    "load_state",
    "payload",
    "state_path",
]
