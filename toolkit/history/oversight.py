"""Oversight rules on the records and the zones' status: pure, frames in and frames out.

* :func:`risk_acceptance` — every unsigned (or insecure) zone covered by an unexpired,
  approved risk acceptance;
* :func:`bogus_incidents` — every bogus zone has an incident on record;
* :func:`incident_review` — resolved incidents carry lessons learned and closed follow-ups;
* :func:`drill_schedule` / :func:`drill_followups` — drills held on schedule, follow-ups closed;
* :func:`probe_coverage` — every inventory zone probed recently;
* :func:`registrar_documentation` — every zone's registrar documented (contact, escalation,
  DS submission, SLA).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from toolkit.history.record_frames import DAY, schema, ts, utc
from toolkit.inputs.policy_settings import DrillPolicy
from toolkit.schemas import UTC_TS

ACCEPTANCE_SCOPES = ("unsigned", "zone_signed_as_expected", "ds_published_for_signed_zone")
"""Scopes of exceptions.csv that accept a zone being unsigned or insecure."""

RISK_ACCEPTANCE = schema(
    "risk_acceptance",
    "Each zone that is unsigned (by decision, or as observed) and the acceptance covering it.",
    ("zone", "string", "zone"),
    ("why", "string", "why it needs an acceptance"),
    ("exception", "string", "the acceptance considered (null: none)"),
    ("approved_by", "string", "who accepted the risk"),
    ("expires", UTC_TS, "when the acceptance ends"),
    ("status", "string", "accepted | expired | unapproved | none"),
)


def risk_acceptance(
    zones: pd.DataFrame, inventory: pd.DataFrame, exceptions: pd.DataFrame, *, now: datetime
) -> pd.DataFrame:
    """Risk acceptances of the zones that need one (schema :data:`RISK_ACCEPTANCE`).

    A zone needs one when the inventory marks it not expected to be signed, or its chain is
    insecure in the run. An acceptance covers it when its scope is one of
    :data:`ACCEPTANCE_SCOPES`, it names an approver, and it has not expired at ``now``.
    """
    t = utc(now)
    status = dict(zip(zones["zone"], zones["status"], strict=True))
    reasons = dict(zip(zones["zone"], zones["reason_text"], strict=True))
    covering: dict[str, list[Any]] = {}  # zone -> its acceptances, latest expiry first
    in_scope = exceptions[exceptions["scope"].isin(ACCEPTANCE_SCOPES)]
    for e in in_scope.sort_values("expires", ascending=False, kind="stable").itertuples():
        covering.setdefault(e.zone, []).append(e)
    rows = []
    for z in inventory[["zone", "expected_signed"]].itertuples():
        by_decision = not pd.isna(z.expected_signed) and not bool(z.expected_signed)
        if by_decision:
            why = "unsigned by decision in the inventory"
        elif status.get(z.zone) == "insecure":
            why = f"chain insecure: {reasons.get(z.zone)}"
        else:
            continue
        chosen, verdict = None, "none"
        for e in covering.get(z.zone, []):
            approved = not pd.isna(e.approved_by)
            if approved and e.expires > t and (ts(e.approved_at) or t) <= t:
                chosen, verdict = e, "accepted"
                break
            if chosen is None:
                chosen, verdict = e, ("expired" if e.expires <= t else "unapproved")
        rows.append(
            {
                "zone": z.zone,
                "why": why,
                "exception": None if chosen is None else chosen.exception,
                "approved_by": None if chosen is None else chosen.approved_by,
                "expires": None if chosen is None else chosen.expires,
                "status": verdict,
            }
        )
    return RISK_ACCEPTANCE.frame(rows)


BOGUS_INCIDENTS = schema(
    "bogus_incidents",
    "Each zone bogus in the run, and the incident on record for it.",
    ("zone", "string", "zone"),
    ("checked_at", UTC_TS, "when the run saw it bogus"),
    ("incidents", "string", "incidents covering that time, `;`-joined (null: none)"),
    ("status", "string", "recorded | not_recorded"),
)


def bogus_incidents(zones: pd.DataFrame, incidents: pd.DataFrame) -> pd.DataFrame:
    """Whether each bogus zone has an incident open at (or resolved after) the time the run saw
    it bogus (schema :data:`BOGUS_INCIDENTS`)."""
    by_zone: dict[str, list[Any]] = {}
    for i in incidents.itertuples():  # grouped once: a filter per bogus zone costs zones x rows
        by_zone.setdefault(i.zone, []).append(i)
    rows = []
    for z in zones[zones["status"] == "bogus"].itertuples():
        seen = ts(z.checked_at)
        open_then = [
            str(i.incident)
            for i in by_zone.get(z.zone, [])
            if pd.isna(i.resolved_at) or (seen is not None and i.resolved_at >= seen)
        ]
        ids = ";".join(open_then) or None
        rows.append(
            {
                "zone": z.zone,
                "checked_at": seen,
                "incidents": ids,
                "status": "recorded" if ids else "not_recorded",
            }
        )
    return BOGUS_INCIDENTS.frame(rows)


INCIDENT_REVIEW = schema(
    "incident_review",
    "Each incident: open, or resolved with lessons learned and follow-ups closed.",
    ("incident", "string", "incident id"),
    ("zone", "string", "zone"),
    ("resolved_at", UTC_TS, "when resolved"),
    ("status", "string", "open | reviewed | no_lessons | follow_up_open | follow_up_not_recorded"),
    ("source_line", "Int64", "line of incidents.csv"),
)


def incident_review(incidents: pd.DataFrame) -> pd.DataFrame:
    """The post-incident review state of every incident (schema :data:`INCIDENT_REVIEW`)."""
    rows = []
    for i in incidents.itertuples():
        if pd.isna(i.resolved_at):
            status = "open"
        elif pd.isna(i.lessons):
            status = "no_lessons"
        elif pd.isna(i.follow_up_closed):
            status = "follow_up_not_recorded"
        else:
            status = "reviewed" if bool(i.follow_up_closed) else "follow_up_open"
        rows.append(
            {
                "incident": i.incident,
                "zone": i.zone,
                "resolved_at": i.resolved_at,
                "status": status,
                "source_line": i.source_line,
            }
        )
    return INCIDENT_REVIEW.frame(rows)


DRILL_SCHEDULE = schema(
    "drill_schedule",
    "Each required drill scenario (or `*`: any drill): when it was last held, against the cadence.",
    ("scenario", "string", "scenario (`*`: any)"),
    ("last_held", UTC_TS, "date of the last drill held (not missed)"),
    ("days_since", "Float64", "days from then to now"),
    ("cadence_days", "Float64", "required cadence"),
    ("missed", "string", "dates of missed drills since, `;`-joined"),
    ("status", "string", "on_schedule | overdue | never_held"),
)


def drill_schedule(drills: pd.DataFrame, policy: DrillPolicy, *, now: datetime) -> pd.DataFrame:
    """Drill cadence per required scenario (schema :data:`DRILL_SCHEDULE`).

    The scenarios are the policy's ``drills.scenarios`` (none given: one row ``*`` for any
    drill). A scenario is overdue when its last drill held (outcome other than ``missed``)
    is older than ``cadence_days``, or was never held.
    """
    t = utc(now)
    past = drills[drills["date"] <= t]
    rows = []
    for scenario in policy.scenarios or ("*",):
        mine = past if scenario == "*" else past[past["scenario"] == scenario]
        held = mine[mine["outcome"] != "missed"]
        last = ts(held["date"].max()) if not held.empty else None
        missed = mine[mine["outcome"] == "missed"]
        if last is not None:
            missed = missed[missed["date"] > last]
        days: float | None = None
        if last is None:
            status = "never_held"
        else:
            days = (t - last) / DAY
            status = "on_schedule" if days <= policy.cadence_days else "overdue"
        rows.append(
            {
                "scenario": scenario,
                "last_held": last,
                "days_since": days,
                "cadence_days": policy.cadence_days,
                "missed": ";".join(f"{d:%Y-%m-%d}" for d in missed["date"]) or None,
                "status": status,
            }
        )
    return DRILL_SCHEDULE.frame(rows)


DRILL_FOLLOWUPS = schema(
    "drill_followups",
    "Each drill held: whether its follow-up actions are closed, against the deadline.",
    ("date", UTC_TS, "drill date"),
    ("scenario", "string", "scenario"),
    ("due", UTC_TS, "follow-ups due by (date + followup_max_days)"),
    ("status", "string", "closed | open | overdue | not_recorded"),
    ("source_line", "Int64", "line of drills.csv"),
)


def drill_followups(drills: pd.DataFrame, policy: DrillPolicy, *, now: datetime) -> pd.DataFrame:
    """Follow-up state of every drill held (schema :data:`DRILL_FOLLOWUPS`)."""
    t = utc(now)
    rows = []
    for d in drills[(drills["outcome"] != "missed") & (drills["date"] <= t)].itertuples():
        due = d.date + policy.followup_max_days * DAY
        if pd.isna(d.follow_up_closed):
            status = "not_recorded"
        elif bool(d.follow_up_closed):
            status = "closed"
        else:
            status = "overdue" if due < t else "open"
        rows.append(
            {
                "date": d.date,
                "scenario": d.scenario,
                "due": due,
                "status": status,
                "source_line": d.source_line,
            }
        )
    return DRILL_FOLLOWUPS.frame(rows)


PROBE_COVERAGE = schema(
    "probe_coverage",
    "Each inventory zone: when the run probed it, against the coverage threshold.",
    ("zone", "string", "zone"),
    ("checked_at", UTC_TS, "when the run probed it (null: not in the run)"),
    ("age_days", "Float64", "days from then to now (0 for a run later than now)"),
    ("status", "string", "fresh | stale | not_probed"),
)


def probe_coverage(
    inventory: pd.DataFrame, zones: pd.DataFrame, *, now: datetime, max_age_days: float
) -> pd.DataFrame:
    """Coverage of the inventory by the run (schema :data:`PROBE_COVERAGE`)."""
    t = utc(now)
    checked = dict(zip(zones["zone"], zones["checked_at"], strict=True))
    rows = []
    for zone in inventory["zone"]:
        when = ts(checked.get(zone))
        if when is None:
            rows.append({"zone": zone, "status": "not_probed"})
            continue
        age = max((t - when) / DAY, 0.0)
        status = "fresh" if age <= max_age_days else "stale"
        rows.append({"zone": zone, "checked_at": when, "age_days": age, "status": status})
    return PROBE_COVERAGE.frame(rows)


REGISTRAR_DOCUMENTATION = schema(
    "registrar_documentation",
    "Each inventory zone: is its registrar documented in registrars.csv.",
    ("zone", "string", "zone"),
    ("registrar", "string", "registrar named in the inventory"),
    ("missing", "string", "registrars.csv fields left empty, `;`-joined"),
    ("status", "string", "documented | incomplete | undocumented | no_registrar"),
)

_REGISTRAR_FIELDS = ("contact", "escalation", "ds_submission", "sla_hours")


def registrar_documentation(inventory: pd.DataFrame, registrars: pd.DataFrame) -> pd.DataFrame:
    """Registrar documentation of every inventory zone (schema
    :data:`REGISTRAR_DOCUMENTATION`); names match case-insensitively."""
    by_name: dict[str, Any] = {str(r.registrar).casefold(): r for r in registrars.itertuples()}
    rows = []
    for z in inventory.itertuples():
        if pd.isna(z.registrar):
            rows.append({"zone": z.zone, "status": "no_registrar"})
            continue
        r = by_name.get(str(z.registrar).casefold())
        if r is None:
            rows.append({"zone": z.zone, "registrar": z.registrar, "status": "undocumented"})
            continue
        missing = [f for f in _REGISTRAR_FIELDS if pd.isna(getattr(r, f))]
        rows.append(
            {
                "zone": z.zone,
                "registrar": z.registrar,
                "missing": ";".join(missing) or None,
                "status": "incomplete" if missing else "documented",
            }
        )
    return REGISTRAR_DOCUMENTATION.frame(rows)
