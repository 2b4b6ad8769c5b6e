"""The alert rules: small pure functions from the runs (and the portfolio's records) to the
conditions that hold now. Thresholds come from ``policy.yaml`` (``alerts`` and
``change_control``, see :mod:`toolkit.inputs.policy_settings`).

Two kinds of rule:

* **state** rules describe how things are in the latest run (a signature expiring, a zone
  bogus). The condition holds run after run until it clears; the engine alerts once.
* **event** rules describe something that happened between two runs (an unapproved change, a
  rollover timing fault). They are looked for only in the runs not evaluated before, so each
  event is alerted once and clears at the next evaluation.

:func:`default_registry` holds every rule by explicit registration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from toolkit.history import History, snapshots_of
from toolkit.history.key_sets import history_key_sets, key_set_changes
from toolkit.history.reconcile import change_reconciliation, ds_publication
from toolkit.history.rollover import faults_from_snapshots
from toolkit.history.snapshots import codes
from toolkit.inputs.governance import RECORD_SPECS, GovernanceRecords
from toolkit.inputs.policy import PolicySet
from toolkit.inputs.policy_settings import Settings
from toolkit.vocabulary import SEVERITIES


@dataclass(frozen=True)
class Condition:
    """One condition a rule found. ``key`` identifies it across runs (same key, same
    condition); ``run_id`` is the run that shows it."""

    rule: str
    zone: str
    key: str
    severity: str
    message: str
    run_id: str
    evidence: str = ""


@dataclass(frozen=True)
class AlertContext:
    """What the rules read.

    ``history`` is the span of runs loaded (zones, records, resolver_checks, inventory), with
    ``latest_run_id`` its last run; ``new_run_ids`` are the runs the event rules look at;
    ``records`` the portfolio's governance records (None: not given); ``now`` the time of the
    evaluation.
    """

    history: History
    latest_run_id: str
    new_run_ids: tuple[str, ...]
    policies: PolicySet
    records: GovernanceRecords | None
    now: pd.Timestamp

    @property
    def settings(self) -> Settings:
        return self.policies.settings

    def latest(self, frame: str) -> pd.DataFrame:
        """The latest run's rows of ``frame``."""
        df = self.history.frames.get(frame)
        if df is None:
            return pd.DataFrame()
        return df[df["run_id"] == self.latest_run_id]


RuleFunc = Callable[[AlertContext], Iterator[Condition]]


@dataclass(frozen=True)
class Rule:
    """An alert rule's metadata next to its function."""

    id: str
    title: str
    severity: str
    kind: str  # state | event
    description: str
    func: RuleFunc = field(repr=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: severity {self.severity!r} not in {SEVERITIES}")
        if self.kind not in ("state", "event"):
            raise ValueError(f"rule {self.id}: kind must be state or event")


class Registry:
    """The alert rules, in registration order."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def register(self, rule: Rule) -> None:
        """Add ``rule``; raises ValueError when its id is taken."""
        if rule.id in self._rules:
            raise ValueError(f"alert rule {rule.id} registered twice")
        self._rules[rule.id] = rule

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def evaluate(self, ctx: AlertContext) -> list[Condition]:
        """Every condition of every rule, rule by rule."""
        return [c for rule in self for c in rule.func(ctx)]


# --- state rules ------------------------------------------------------------------------------


def _zones(ctx: AlertContext) -> pd.DataFrame:
    return ctx.latest("zones")


def signature_expiring(ctx: AlertContext) -> Iterator[Condition]:
    """Signed zones whose earliest apex signature expires within ``signature_expiry_days``."""
    limit = ctx.settings.alerts.signature_expiry_days
    z = _zones(ctx)
    for r in z[z["min_rrsig_days_left"].notna()].itertuples(index=False):
        days = float(r.min_rrsig_days_left)
        if days < limit:
            when = "expired" if days < 0 else "expire"
            yield Condition(
                "signature_expiring",
                r.zone,
                "",
                "critical" if days < 0 else "high",
                f"signatures of {r.zone} {when} {abs(days):.1f} days "
                f"{'ago' if days < 0 else 'from now'} ({r.earliest_expiration:%Y-%m-%d %H:%M} "
                f"UTC); alert threshold {limit:g} days",
                ctx.latest_run_id,
                "zones.min_rrsig_days_left",
            )


def signed_without_ds(ctx: AlertContext) -> Iterator[Condition]:
    """Signed zones whose parent publishes no DS (an island of security)."""
    z = _zones(ctx)
    for r in z.itertuples(index=False):
        if "NO_DS_SIGNED" in codes(r.reasons) and r.expected_signed is not False:
            yield Condition(
                "signed_without_ds",
                r.zone,
                "",
                "medium",
                f"{r.zone} is signed but its parent ({r.parent}) publishes no DS: no validator "
                "can trust it",
                ctx.latest_run_id,
                "zones.reasons NO_DS_SIGNED",
            )


def ds_no_matching_key(ctx: AlertContext) -> Iterator[Condition]:
    """Zones whose DS matches no key that signs the DNSKEY set."""
    z = _zones(ctx)
    for r in z.itertuples(index=False):
        if "DS_NO_MATCHING_DNSKEY" in codes(r.reasons):
            yield Condition(
                "ds_no_matching_key",
                r.zone,
                "",
                "critical",
                f"the DS of {r.zone} at {r.parent} matches no key signing its DNSKEY set: "
                "validating resolvers reject the zone",
                ctx.latest_run_id,
                "zones.reasons DS_NO_MATCHING_DNSKEY; records (DS, DNSKEY)",
            )


def chain_bogus(ctx: AlertContext) -> Iterator[Condition]:
    """Zones the toolkit's own validation finds bogus."""
    z = _zones(ctx)
    for r in z[z["status"] == "bogus"].itertuples(index=False):
        yield Condition(
            "chain_bogus",
            r.zone,
            "",
            "critical",
            f"{r.zone} fails DNSSEC validation ({r.reasons}): {r.reason_text}",
            ctx.latest_run_id,
            "zones.status",
        )


def _resolver_rows(ctx: AlertContext) -> pd.DataFrame:
    rc = ctx.latest("resolver_checks")
    return rc if len(rc) else pd.DataFrame(columns=["zone", "resolver", "resolver_status"])


def resolver_bogus(ctx: AlertContext) -> Iterator[Condition]:
    """Zones that some validating resolver family answers SERVFAIL (bogus) for."""
    rc = _resolver_rows(ctx)
    for zone, g in rc[rc["resolver_status"] == "bogus"].groupby("zone", sort=True):
        names = ", ".join(sorted(g["resolver"].astype(str)))
        yield Condition(
            "resolver_bogus",
            str(zone),
            "",
            "critical",
            f"{zone} is bogus at {names}: users behind {'it' if len(g) == 1 else 'them'} "
            "cannot resolve it",
            ctx.latest_run_id,
            f"resolver_checks ({names})",
        )


def resolver_disagreement(ctx: AlertContext) -> Iterator[Condition]:
    """Zones that the resolver families that answered judge differently."""
    rc = _resolver_rows(ctx)
    rc = rc[rc["resolver_status"].isin(["secure", "insecure", "bogus"])]
    for zone, g in rc.groupby("zone", sort=True):
        seen = dict(zip(g["resolver"].astype(str), g["resolver_status"].astype(str), strict=True))
        if len(set(seen.values())) > 1:
            text = ", ".join(f"{k}: {v}" for k, v in sorted(seen.items()))
            yield Condition(
                "resolver_disagreement",
                str(zone),
                "",
                "high",
                f"the resolver families disagree on {zone} ({text})",
                ctx.latest_run_id,
                "resolver_checks.resolver_status",
            )


def zone_not_probed(ctx: AlertContext) -> Iterator[Condition]:
    """Inventory zones with no answered probe within ``coverage_max_age_days``."""
    limit = ctx.settings.alerts.coverage_max_age_days
    inv = ctx.latest("inventory")
    zones = ctx.history["zones"]
    answered = zones[zones["ns_answered"].fillna(0) > 0]
    last = answered.groupby("zone")["run_at"].max() if len(answered) else pd.Series(dtype=object)
    for zone in inv["zone"] if len(inv) else []:
        seen = last.get(zone)
        age = None if seen is None else (ctx.now - seen).total_seconds() / 86400
        if age is None or age > limit:
            since = (
                f"last answered probe {seen:%Y-%m-%d %H:%M} UTC ({age:.1f} days ago)"
                if seen is not None
                else "no answered probe in the runs loaded"
            )
            yield Condition(
                "zone_not_probed",
                str(zone),
                "",
                "medium",
                f"{zone} has not been probed successfully for more than {limit:g} days ({since})",
                ctx.latest_run_id,
                "zones.ns_answered over the runs",
            )


def _records(ctx: AlertContext, kind: str) -> pd.DataFrame | None:
    return ctx.records.get(kind) if ctx.records is not None else None


def ds_publish_overdue(ctx: AlertContext) -> Iterator[Condition]:
    """``ds_publish`` tickets whose DS is still not at the parent after the SLA."""
    changes = _records(ctx, "changes")
    if changes is None or changes.empty:
        return
    pub = ds_publication(
        changes,
        history_key_sets(ctx.history),
        ctx.latest("inventory"),
        _records(ctx, "registrars"),
        default_sla_hours=ctx.settings.alerts.ds_publish_sla_hours,
    )
    for r in pub[pub["status"] == "missing"].itertuples(index=False):
        yield Condition(
            "ds_publish_overdue",
            str(r.zone),
            str(r.ticket),
            "high",
            f"ticket {r.ticket}: the DS of {r.zone} (key {r.key_tag}) submitted "
            f"{r.implemented_at:%Y-%m-%d %H:%M} UTC is still not at the parent after the "
            f"{r.sla_hours:g} h SLA ({r.sla_source})",
            ctx.latest_run_id,
            "changes.csv; records (DS at the parent)",
        )


# --- event rules ------------------------------------------------------------------------------


def _with_previous(ctx: AlertContext) -> list[str]:
    """The new runs and the run just before the first of them."""
    ids = ctx.history.run_ids
    if not ctx.new_run_ids:
        return []
    first = min(ids.index(r) for r in ctx.new_run_ids if r in ids)
    return ids[max(0, first - 1) :]


def unapproved_change(ctx: AlertContext) -> Iterator[Condition]:
    """DNSKEY or DS changes in the new runs that no approved ticket covers."""
    span = _with_previous(ctx)
    if len(span) < 2:
        return
    changes = _records(ctx, "changes")
    if changes is None:
        changes = RECORD_SPECS["changes"].schema.empty()
    seen = key_set_changes(history_key_sets(ctx.history, span))
    seen = seen[seen["after_run"].isin(ctx.new_run_ids)]
    if seen.empty:
        return
    rec = change_reconciliation(
        seen, changes, window_hours=ctx.settings.change_control.match_window_hours
    )
    rec = rec.assign(after_run=seen["after_run"].values)
    for r in rec[~rec["approved"].astype(bool)].itertuples(index=False):
        yield Condition(
            "unapproved_change",
            str(r.zone),
            f"{r.rrtype}/{r.change}/{r.key_tag}/{r.after_run}",
            "high",
            f"{r.rrtype} {r.key_tag} of {r.zone} {r.change} between "
            f"{r.before_at:%Y-%m-%d %H:%M} and {r.after_at:%Y-%m-%d %H:%M} UTC without an "
            f"approved ticket: {r.reason}",
            str(r.after_run),
            "changes.csv; records (DNSKEY, DS)"
            + ("" if pd.isna(r.ticket) else f"; ticket {r.ticket}"),
        )


def rollover_fault(ctx: AlertContext) -> Iterator[Condition]:
    """Rollover timing faults (:mod:`toolkit.history.rollover`) shown by the new runs."""
    if not ctx.new_run_ids:
        return
    faults = faults_from_snapshots(snapshots_of(ctx.history))
    for r in faults[faults["run_id"].isin(ctx.new_run_ids)].itertuples(index=False):
        yield Condition(
            "rollover_fault",
            str(r.zone),
            f"{r.fault}/{r.key_tag}/{r.run_id}",
            str(r.severity),
            f"{r.zone}: {r.fault}: {r.detail} ({r.reference})",
            str(r.run_id),
            "history of records (DNSKEY, DS, RRSIG)",
        )


def default_registry() -> Registry:
    """Every alert rule of the toolkit."""
    reg = Registry()
    for rule in (
        Rule("signature_expiring", "Signatures expire soon", "high", "state",
             "The earliest apex signature expires within alerts.signature_expiry_days "
             "(critical once expired).", signature_expiring),
        Rule("signed_without_ds", "Signed zone without DS", "medium", "state",
             "The zone is signed but the parent publishes no DS.", signed_without_ds),
        Rule("ds_no_matching_key", "DS matches no key", "critical", "state",
             "The parent's DS matches no key that signs the zone's DNSKEY set.",
             ds_no_matching_key),
        Rule("chain_bogus", "Zone fails validation", "critical", "state",
             "The toolkit's own validation of the chain of trust finds the zone bogus.",
             chain_bogus),
        Rule("resolver_bogus", "Bogus at a resolver family", "critical", "state",
             "A validating resolver family answers SERVFAIL for the zone.", resolver_bogus),
        Rule("resolver_disagreement", "Resolver families disagree", "high", "state",
             "The resolver families that answered judge the zone differently.",
             resolver_disagreement),
        Rule("zone_not_probed", "Zone not probed", "medium", "state",
             "No answered probe of the zone within alerts.coverage_max_age_days.",
             zone_not_probed),
        Rule("ds_publish_overdue", "DS publication overdue", "high", "state",
             "A ds_publish ticket's DS is not at the parent after the registrar's SLA "
             "(registrars.csv, else alerts.ds_publish_sla_hours).", ds_publish_overdue),
        Rule("unapproved_change", "Change without approved ticket", "high", "event",
             "A DNSKEY or DS change that no approved ticket of changes.csv covers "
             "(change_control.match_window_hours).", unapproved_change),
        Rule("rollover_fault", "Rollover timing fault", "critical", "event",
             "A rollover step visible from outside broke RFC 6781 / RFC 7583 timing.",
             rollover_fault),
    ):  # fmt: skip
        reg.register(rule)
    return reg
