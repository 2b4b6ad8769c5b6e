"""Operational checks: the key manifest, rollovers, custody, change control, DS publication,
incidents and drills — records reconciled with what DNS showed (REFERENCE §5, pillar 2).

Each check is its metadata beside its function; the rules themselves are the pure functions of
:mod:`toolkit.history.reconcile` and :mod:`toolkit.history.oversight`. A missing record
file gives "indeterminate" (not evidenced), never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from toolkit.checks.base import Context, Result, Row, collector, flag, plain_rows, zone_rows
from toolkit.checks.records import (
    PORTFOLIO,
    dnskey_state,
    inventory,
    inventory_zones,
    key_changes,
    key_sets,
    listing,
    missing,
    not_evidenced,
    rows_evidence,
    zones,
)
from toolkit.history import oversight, reconcile

CHECKS, check = collector()

_KEYS_EV = "keys.csv reconciled with the DNSKEY sets of the runs (records frame)"


@check(
    id="dnskey_in_manifest",
    title="Every published key is in the key manifest",
    severity="high",
    pillar="operational",
    description="Every DNSKEY the zone serves (latest run) is listed in keys.csv.",
    risk="A key nobody recorded has no custodian, no crypto-period and no approved origin: it "
    "may be a forgotten test key, a rogue key, or a rollover done outside change control.",
    remediation="Identify who generated the key; add it to the manifest with its dates, "
    "storage and custodian, or remove it from the zone through an approved change.",
    references=("RFC 6781 §3", "NIST SP 800-57 Part 1 §8.2", "NIST SP 800-53 SC-12"),
    message="DNS publishes key(s) missing from the manifest: {tags}.",
)
def dnskey_in_manifest(ctx: Context) -> Iterator[Result]:
    state = dnskey_state(ctx)
    manifest = ctx.frame("keys")
    check_rows = (
        reconcile.manifest_reconciliation(manifest, key_sets(ctx), now=ctx.now)
        if manifest is not None
        else None
    )
    of = zone_rows(check_rows)
    for zone, seen in state.items():
        if seen == "unobserved":
            yield Result(zone, "indeterminate", {"detail": "DNSKEY set not observed"})
        elif seen == "unsigned":
            yield Result(zone, "not_applicable", {"detail": "the zone serves no DNSKEY"})
        elif check_rows is None:
            yield Result(zone, "indeterminate", {"detail": missing("keys")})
        else:
            bad = _with_status(of(zone), "unlisted")
            ev = f"manifest_check[{zone}]: {_KEYS_EV}"
            if not bad:
                yield Result(zone, "pass", {"detail": "every DNSKEY is in the manifest"}, ev)
            else:
                tags = [f"{int(r['key_tag'])} ({r['role']})" for r in bad]
                yield Result(zone, "fail", {"tags": listing(tags)}, ev)


def _with_status(rows: list[Row], *statuses: str) -> list[Row]:
    """The rows whose ``status`` is one of ``statuses`` (in their order)."""
    return [r for r in rows if r["status"] in statuses]


@check(
    id="manifest_key_observed",
    title="Every active manifest key is published",
    severity="medium",
    pillar="operational",
    description="Every key keys.csv says should be published now (published, not retired) was "
    "seen in the zone's DNSKEY set.",
    risk="A manifest that lists keys DNS does not serve is stale: rollover plans, custody and "
    "incident response would work from wrong facts.",
    remediation="Update the manifest (retirement date) or find out why the key is not published.",
    references=("RFC 6781 §4.1", "NIST SP 800-53 CM-8"),
    message="Manifest key(s) not published in DNS: {tags}.",
)
def manifest_key_observed(ctx: Context) -> Iterator[Result]:
    manifest = ctx.frame("keys")
    if manifest is None:
        yield from not_evidenced(inventory_zones(ctx), "keys")
        return
    rows = reconcile.manifest_reconciliation(manifest, key_sets(ctx), now=ctx.now)
    of = zone_rows(rows)
    for zone in inventory_zones(ctx):
        mine = [r for r in of(zone) if flag(r["in_manifest"])]
        active = [r for r in mine if r["status"] != "retired"]
        ev = rows_evidence(f"manifest_check[{zone}] (keys.csv)", mine)
        if not active:
            yield Result(zone, "not_applicable", {"detail": "no active key in the manifest"}, ev)
        elif any(r["status"] == "not_observed" for r in active):
            yield Result(zone, "indeterminate", {"detail": "DNSKEY set never observed"}, ev)
        else:
            bad = _with_status(active, "never_seen", "no_longer_seen")
            if not bad:
                yield Result(zone, "pass", {"detail": f"{len(active)} key(s) published"}, ev)
            else:
                tags = [f"{int(r['key_tag'])} ({r['role']}, {r['status']})" for r in bad]
                yield Result(zone, "fail", {"tags": listing(tags)}, ev)


@check(
    id="key_rollover_not_overdue",
    title="Keys are rolled within the policy's crypto-period",
    severity="high",
    pillar="operational",
    description="Every published key is younger than its policy's lifetime for its role "
    "(ksk_lifetime_days, zsk_lifetime_days, csk_lifetime_days) and still before its planned "
    "retirement; ages come from the manifest's activation (else publication, else creation).",
    risk="A key used beyond its crypto-period gives an attacker more time and material to "
    "attack it, and a rollover nobody has practised recently is more likely to break the zone.",
    remediation="Schedule the rollover through change control (pre-publication for a ZSK, "
    "double-DS for a KSK) and record the new key in the manifest.",
    references=("RFC 6781 §3.1", "RFC 7583", "NIST SP 800-57 Part 1 §5.3"),
    message="Rollover overdue: {keys}.",
)
def key_rollover_not_overdue(ctx: Context) -> Iterator[Result]:
    state = dnskey_state(ctx)
    manifest = ctx.frame("keys")
    ages = (
        reconcile.key_ages(manifest, key_sets(ctx), inventory(ctx), ctx.policies, now=ctx.now)
        if manifest is not None
        else None
    )
    of_ages = zone_rows(ages)
    for zone, seen in state.items():
        if seen != "signed":
            status = "indeterminate" if seen == "unobserved" else "not_applicable"
            yield Result(zone, status, {"detail": f"DNSKEY set {seen}"})
            continue
        if ages is None:
            yield Result(zone, "indeterminate", {"detail": missing("keys")})
            continue
        mine = of_ages(zone)
        ev = rows_evidence(f"key_ages[{zone}] (keys.csv dates, policy lifetimes)", mine)
        late = _with_status(mine, "overdue", "retirement_passed")
        unknown = _with_status(mine, "age_unknown", "no_policy")
        if late:
            yield Result(zone, "fail", {"keys": listing([_late_key(r) for r in late])}, ev)
        elif unknown:
            what = ", ".join(f"{int(r['key_tag'])}: {r['status']}" for r in unknown)
            yield Result(zone, "indeterminate", {"detail": f"age not evidenced ({what})"}, ev)
        else:
            oldest = max(r["age_days"] for r in mine)
            yield Result(zone, "pass", {"detail": f"oldest key {oldest:.0f} days"}, ev)


def _late_key(r: Row) -> str:
    """A key_ages row of an overdue key (or one past its planned retirement), in words."""
    key = f"{r['role'].upper()} {int(r['key_tag'])}"
    if r["status"] == "overdue":
        return f"{key} is {r['age_days']:.0f} days old (lifetime {r['lifetime_days']})"
    return f"{key} past its planned retirement ({r['planned_retirement']:%Y-%m-%d})"


@check(
    id="ksk_custody_offline",
    title="KSKs are kept where the policy demands",
    severity="high",
    pillar="operational",
    description="Every active KSK or CSK of the manifest is stored as the zone's policy allows "
    "(ksk_storage; default: hsm or offline).",
    risk="A KSK kept on an online signer can be stolen with the host: whoever holds it can "
    "sign any data for the zone until the DS is changed at the parent.",
    remediation="Move the KSK to an HSM or offline storage (or roll it into one), and record "
    "the storage in keys.csv.",
    references=("RFC 6781 §3.2", "NIST SP 800-57 Part 1 §6.2", "NIST SP 800-53 SC-12"),
    message="KSK stored against the policy: {keys}.",
)
def ksk_custody_offline(ctx: Context) -> Iterator[Result]:
    manifest = ctx.frame("keys")
    state = dnskey_state(ctx)
    if manifest is None:
        yield from not_evidenced(inventory_zones(ctx), "keys")
        return
    rows = reconcile.ksk_custody(manifest, key_sets(ctx), inventory(ctx), ctx.policies, now=ctx.now)
    of = zone_rows(rows)
    for zone in inventory_zones(ctx):
        mine = of(zone)
        ev = rows_evidence(f"ksk_custody[{zone}] (keys.csv storage, policy ksk_storage)", mine)
        bad = _with_status(mine, "non_compliant")
        statuses = {r["status"] for r in mine}
        if bad:
            keys = [f"{int(r['key_tag'])} is {r['storage']} (allowed: {r['allowed']})" for r in bad]
            yield Result(zone, "fail", {"keys": listing(keys)}, ev)
        elif not mine:
            if state.get(zone) == "signed":
                detail = "no active KSK of this zone in the manifest"
                yield Result(zone, "indeterminate", {"detail": detail}, ev)
            else:
                yield Result(zone, "not_applicable", {"detail": "no active KSK"}, ev)
        elif statuses != {"compliant"}:
            what = ", ".join(sorted(statuses - {"compliant"}))
            yield Result(zone, "indeterminate", {"detail": f"custody not evidenced: {what}"}, ev)
        else:
            yield Result(zone, "pass", {"detail": ", ".join(r["storage"] for r in mine)}, ev)


@check(
    id="key_changes_approved",
    title="Every DNSKEY/DS change is tied to an approved ticket",
    severity="high",
    pillar="operational",
    description="Every DNSKEY or DS record that appeared or disappeared between two consecutive "
    "runs matches a ticket of changes.csv (same zone, an action that explains it, the key tag, "
    "implemented between the runs within change_control.match_window_hours) approved by "
    "someone other than the requester before it was implemented.",
    risk="An unapproved change to keys or DS is either a process failure (a rollover nobody "
    "reviewed — the classic cause of DNSSEC outages) or an intrusion.",
    remediation="Find who made the change; raise a retrospective ticket, review it, and "
    "restore change control on the signer and the registrar account.",
    references=("RFC 6781 §4.1", "NIST SP 800-53 CM-3", "ISO/IEC 27001:2022 A.8.32"),
    message="{count} unapproved change(s): {changes}.",
)
def key_changes_approved(ctx: Context) -> Iterator[Result]:
    ks = key_sets(ctx)
    runs = ks.groupby("zone")["run_id"].nunique() if not ks.empty else pd.Series(dtype=int)
    kc = key_changes(ctx)
    log = ctx.frame("changes")
    window = ctx.policies.settings.change_control.match_window_hours
    recon = (
        reconcile.change_reconciliation(kc, log, window_hours=window) if log is not None else None
    )
    of_kc, of_recon = zone_rows(kc), zone_rows(recon)
    for zone in inventory_zones(ctx):
        n = int(runs.get(zone, 0))
        mine = of_kc(zone)
        ev = f"key_changes[{zone}] over {n} run(s); change_reconciliation (changes.csv)"
        if n < 2:
            detail = "fewer than two runs observed the zone: no history to compare"
            yield Result(zone, "indeterminate", {"detail": detail}, ev)
        elif not mine:
            yield Result(zone, "pass", {"detail": f"no DNSKEY/DS change in {n} runs"}, ev)
        elif recon is None:
            detail = f"{len(mine)} change(s) observed; {missing('changes')}"
            yield Result(zone, "indeterminate", {"detail": detail}, ev)
        else:
            rec = of_recon(zone)
            bad = [r for r in rec if not flag(r["approved"])]
            if not bad:
                detail = f"{len(rec)} change(s), each with an approved ticket"
                yield Result(zone, "pass", {"detail": detail}, ev)
            else:
                changes = [
                    f"{r['rrtype']} {int(r['key_tag'])} {r['change']} between "
                    f"{r['before_at']:%Y-%m-%d %H:%M} and {r['after_at']:%Y-%m-%d %H:%M} "
                    f"({r['reason']})"
                    for r in bad
                ]
                yield Result(zone, "fail", {"count": len(bad), "changes": listing(changes, 3)}, ev)


@check(
    id="change_approval_segregated",
    title="Change tickets are approved by someone else, before implementation",
    severity="high",
    pillar="operational",
    description="Every implemented ticket of changes.csv names an approver who is not the "
    "requester and was approved before it was implemented.",
    risk="Self-approved or retro-approved changes defeat the four-eyes principle that catches "
    "a wrong DS or a premature key removal before it takes the zone down.",
    remediation="Enforce approval by a second person in the ticketing tool before a rollover "
    "or DS change can be scheduled; review the tickets listed.",
    references=("NIST SP 800-53 CM-3", "NIST SP 800-53 AC-5", "ISO/IEC 27001:2022 A.8.32"),
    message="Ticket(s) not properly approved: {problems}.",
)
def change_approval_segregated(ctx: Context) -> Iterator[Result]:
    log = ctx.frame("changes")
    if log is None:
        yield from not_evidenced(inventory_zones(ctx), "changes")
        return
    done: dict[str | None, list[Row]] = {}  # implemented tickets by zone (None: no zone)
    for r in plain_rows(reconcile.ticket_review(log)):
        if flag(r["implemented"]):
            done.setdefault(r["zone"], []).append(r)
    targets = inventory_zones(ctx) + ([PORTFOLIO] if None in done else [])
    for zone in targets:
        mine = done.get(None if zone == PORTFOLIO else zone, [])
        ev = rows_evidence(f"ticket_review[{zone}] (changes.csv)", mine)
        bad = [r for r in mine if not flag(r["approved"])]
        if not mine:
            yield Result(zone, "not_applicable", {"detail": "no implemented ticket"}, ev)
        elif not bad:
            yield Result(zone, "pass", {"detail": f"{len(mine)} ticket(s) approved"}, ev)
        else:
            yield Result(zone, "fail", {"problems": listing([r["problem"] for r in bad], 3)}, ev)


@check(
    id="ds_publish_within_sla",
    title="Submitted DS records appear at the parent within the SLA",
    severity="medium",
    pillar="operational",
    description="Every implemented ds_publish ticket is followed by the DS (its key tag) at the "
    "parent within the registrar's SLA (registrars.csv sla_hours, else "
    "alerts.ds_publish_sla_hours), measured to the first run showing it.",
    risk="A DS that never appears leaves the zone an island (or, in a KSK rollover, leaves the "
    "old DS as the only link: removing the old key then breaks the zone).",
    remediation="Escalate with the registrar; do not retire the old key until the new DS is "
    "visible and its TTL has passed.",
    references=("RFC 7583 §3.3", "RFC 6781 §4.1.2", "ISO/IEC 27001:2022 A.5.22"),
    message="DS publication {problems}.",
)
def ds_publish_within_sla(ctx: Context) -> Iterator[Result]:
    log = ctx.frame("changes")
    if log is None:
        yield from not_evidenced(inventory_zones(ctx), "changes")
        return
    sla = ctx.policies.settings.alerts.ds_publish_sla_hours
    rows = reconcile.ds_publication(
        log, key_sets(ctx), inventory(ctx), ctx.frame("registrars"), default_sla_hours=sla
    )
    of = zone_rows(rows)
    for zone in inventory_zones(ctx):
        mine = of(zone)
        ev = f"ds_publication[{zone}]: changes.csv ds_publish tickets vs DS sets at the parent"
        bad = _with_status(mine, "late", "missing")
        if not mine:
            yield Result(zone, "not_applicable", {"detail": "no ds_publish ticket"}, ev)
        elif bad:
            problems = [_ds_problem(r) for r in bad]
            yield Result(zone, "fail", {"problems": "late: " + listing(problems, 3)}, ev)
        elif any(r["status"] not in ("on_time", "unmeasured") for r in mine):
            what = ", ".join(f"{r['ticket']}: {r['status']}" for r in mine)
            yield Result(zone, "indeterminate", {"detail": what}, ev)
        else:
            seen = [_ds_seen(r) for r in mine]
            yield Result(zone, "pass", {"detail": listing(seen, 3)}, ev)


def _ds_problem(r: Row) -> str:
    """A ds_publication row whose DS came late or never, in words."""
    ds = f"{r['ticket']}: DS {int(r['key_tag'])}"
    if r["status"] == "late":
        return f"{ds} appeared after {r['hours']:.0f} h (SLA {r['sla_hours']:g} h)"
    return (
        f"{ds} submitted {r['implemented_at']:%Y-%m-%d} never appeared (SLA {r['sla_hours']:g} h)"
    )


def _ds_seen(r: Row) -> str:
    """A ds_publication row whose DS appeared (on time, or unmeasured), in words."""
    ds = f"{r['ticket']}: DS {int(r['key_tag'])}"
    if r["status"] == "on_time":
        return f"{ds} seen {r['hours']:.0f} h after submission"
    return (
        f"{ds} published (first run after submission came {r['hours']:.0f} h later: "
        "delay not measurable)"
    )


@check(
    id="bogus_zone_has_incident",
    title="Every bogus zone has an incident on record",
    severity="high",
    pillar="operational",
    description="A zone the run found bogus has an incident in incidents.csv that was open at "
    "that time (or resolved after it).",
    risk="A bogus zone nobody has raised an incident for is an outage the organisation has not "
    "noticed: users behind validating resolvers cannot reach it.",
    remediation="Open an incident now, restore the chain of trust, and review why monitoring "
    "did not raise it.",
    references=("NIST SP 800-53 IR-4", "ISO/IEC 27001:2022 A.5.26"),
    message="The zone is bogus (seen {when}) and no incident is on record.",
)
def bogus_zone_has_incident(ctx: Context) -> Iterator[Result]:
    z = zones(ctx)
    incidents = ctx.frame("incidents")
    rows = oversight.bogus_incidents(z, incidents) if incidents is not None else None
    of = zone_rows(rows)
    bogus = set(z.loc[z["status"] == "bogus", "zone"])
    for zone in inventory_zones(ctx):
        if zone not in bogus:
            yield Result(zone, "not_applicable", {"detail": "zone not bogus"})
        elif rows is None:
            yield Result(zone, "indeterminate", {"detail": missing("incidents")})
        else:
            r = of(zone)[0]
            ids = "none" if r["incidents"] is None else r["incidents"]
            ev = f"zones[{zone}] status=bogus; incidents.csv: {ids}"
            if r["status"] == "recorded":
                yield Result(zone, "pass", {"detail": f"incident {r['incidents']}"}, ev)
            else:
                yield Result(zone, "fail", {"when": f"{r['checked_at']:%Y-%m-%d %H:%M}"}, ev)


@check(
    id="incidents_reviewed",
    title="Resolved incidents have lessons learned and closed follow-ups",
    severity="low",
    pillar="operational",
    description="Every resolved incident of incidents.csv records lessons learned and its "
    "follow-up actions closed.",
    risk="Incidents without a review repeat: the same expired signature or forgotten DS comes "
    "back at the next rollover.",
    remediation="Hold the post-incident review, record the lessons and close the actions.",
    references=("NIST SP 800-53 IR-4(4)", "ISO/IEC 27001:2022 A.5.27"),
    message="Incident review incomplete: {incidents}.",
)
def incidents_reviewed(ctx: Context) -> Iterator[Result]:
    incidents = ctx.frame("incidents")
    if incidents is None:
        yield from not_evidenced([PORTFOLIO], "incidents")
        return
    rows = oversight.incident_review(incidents)
    ev = rows_evidence("incident_review (incidents.csv)", rows)
    bad = rows[~rows["status"].isin(["open", "reviewed"])]
    if not bad.empty:
        what = [f"{r.incident} ({r.status})" for r in bad.itertuples()]
        yield Result(PORTFOLIO, "fail", {"incidents": listing(what)}, ev)
    else:
        done = int((rows["status"] == "reviewed").sum())
        detail = f"{done} resolved incident(s) reviewed, {len(rows) - done} open"
        yield Result(PORTFOLIO, "pass", {"detail": detail}, ev)


@check(
    id="drills_on_schedule",
    title="Runbook drills held on schedule",
    severity="medium",
    pillar="operational",
    description="Each drill scenario the policy requires (drills.scenarios; none: any drill) "
    "was held — not missed — within drills.cadence_days (default 365: REFERENCE §5, rollback "
    "runbook tested within 12 months).",
    risk="An emergency KSK rollover or a rollback from a bogus zone done for the first time "
    "during an incident takes hours longer and often makes things worse.",
    remediation="Hold the overdue drill and record its outcome and lessons in drills.csv.",
    references=("NIST SP 800-53 IR-3", "NIST SP 800-53 CP-4", "ISO/IEC 27001:2022 A.5.30"),
    message="Drills overdue: {drills}.",
)
def drills_on_schedule(ctx: Context) -> Iterator[Result]:
    drills = ctx.frame("drills")
    if drills is None:
        yield from not_evidenced([PORTFOLIO], "drills")
        return
    rows = oversight.drill_schedule(drills, ctx.policies.settings.drills, now=ctx.now)
    ev = "drill_schedule (drills.csv, policy drills.cadence_days)"
    bad = rows[rows["status"] != "on_schedule"]
    if bad.empty:
        yield Result(PORTFOLIO, "pass", {"detail": f"{len(rows)} scenario(s) on schedule"}, ev)
        return
    what = []
    for r in bad.itertuples():
        text = (
            f"{r.scenario} never held"
            if pd.isna(r.last_held)
            else (
                f"{r.scenario} last held {r.last_held:%Y-%m-%d} ({r.days_since:.0f} days ago, "
                f"cadence {r.cadence_days:g})"
            )
        )
        if not pd.isna(r.missed):
            text += f", missed on {r.missed}"
        what.append(text)
    yield Result(PORTFOLIO, "fail", {"drills": listing(what)}, ev)
