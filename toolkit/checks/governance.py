"""Governance checks: ownership, coverage, policy, roles, risk acceptances, registrars, drill
follow-ups — the visibility pillar of REFERENCE §5.

Each check is its metadata beside its function; the rules are the pure functions of
:mod:`toolkit.history.oversight`. A missing record (file or policy fact) gives
"indeterminate" (not evidenced), never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pandas as pd

from toolkit.checks.base import Context, Result, collector, zone_rows
from toolkit.checks.records import (
    PORTFOLIO,
    dnskey_state,
    inventory,
    inventory_zones,
    known_zones,
    listing,
    missing,
    not_evidenced,
    rows_evidence,
    zones,
)
from toolkit.history import oversight
from toolkit.history.reconcile import is_active
from toolkit.inputs.governance.exceptions import EXCEPTIONS
from toolkit.inputs.policy_settings import ROLES

CHECKS, check = collector()


@check(
    id="zone_has_owner",
    title="Every zone has a named owner",
    severity="medium",
    pillar="governance",
    description="The inventory names the person or team accountable for the zone.",
    risk="A zone nobody owns is a zone nobody re-signs, renews or decommissions: expiring "
    "signatures and dangling delegations go unnoticed.",
    remediation="Name an owner in inventory.csv and have them review the entry.",
    references=("ISO/IEC 27001:2022 A.5.9", "ISO/IEC 27001:2022 A.5.2", "NIST SP 800-53 CM-8"),
    message="No owner is named for the zone in the inventory (line {line}).",
)
def zone_has_owner(ctx: Context) -> Iterator[Result]:
    for r in inventory(ctx).itertuples():
        ev = f"inventory.csv line {r.source_line}"
        if pd.isna(r.owner):
            yield Result(r.zone, "fail", {"line": r.source_line}, ev)
        else:
            yield Result(r.zone, "pass", {"detail": f"owner: {r.owner}"}, ev)


@check(
    id="signing_policy_assigned",
    title="Every zone has a signing policy",
    severity="medium",
    pillar="governance",
    description="A signing policy of policy.yaml applies to the zone (its own, or the default "
    "policy).",
    risk="Without a policy there is no agreed algorithm, crypto-period or signature floor: "
    "nothing to measure the zone against, and every key decision is ad hoc.",
    remediation="Name a policy for the zone in inventory.csv or set default_policy.",
    references=("ISO/IEC 27001:2022 A.5.1", "ISO/IEC 27001:2022 A.8.24", "NIST SP 800-53 SC-12"),
    message="No signing policy applies to the zone.",
)
def signing_policy_assigned(ctx: Context) -> Iterator[Result]:
    for r in inventory(ctx).itertuples():
        ev = f"inventory.csv line {r.source_line}; policy.yaml"
        if not pd.isna(r.expected_signed) and not bool(r.expected_signed):
            yield Result(r.zone, "not_applicable", {"detail": "unsigned by decision"}, ev)
        elif len(ctx.policies) == 0:
            yield Result(r.zone, "indeterminate", {"detail": "policy.yaml not given"}, ev)
        else:
            policy = ctx.policies.get(None if pd.isna(r.policy) else str(r.policy))
            if policy is None:
                yield Result(r.zone, "fail", {}, ev)
            else:
                yield Result(r.zone, "pass", {"detail": f"policy {policy.name}"}, ev)


@check(
    id="zone_probed_recently",
    title="Every inventory zone is probed",
    severity="medium",
    pillar="governance",
    description="The assessed run probed every inventory zone, within "
    "alerts.coverage_max_age_days (default 7) of the assessment.",
    risk="A zone outside monitoring can go bogus or expire without anyone seeing it; the "
    "reports would overstate coverage.",
    remediation="Collect again with the current inventory (dnssec-audit collect) and schedule "
    "collection at least as often as the threshold.",
    references=("NIST SP 800-53 CA-7", "NIST SP 800-53 CM-8", "ISO/IEC 27001:2022 A.8.16"),
    message="The zone {what}.",
)
def zone_probed_recently(ctx: Context) -> Iterator[Result]:
    limit = ctx.policies.settings.alerts.coverage_max_age_days
    rows = oversight.probe_coverage(inventory(ctx), zones(ctx), now=ctx.now, max_age_days=limit)
    for r in rows.itertuples():
        ev = f"probe_coverage[{r.zone}]: zones frame of run {ctx.run_id or '-'}"
        if r.status == "fresh":
            yield Result(r.zone, "pass", {"detail": f"probed {r.age_days:.1f} days ago"}, ev)
        elif r.status == "stale":
            what = f"was last probed {r.age_days:.1f} days ago (limit {limit:g})"
            yield Result(r.zone, "fail", {"what": what}, ev)
        else:
            yield Result(r.zone, "fail", {"what": "is not in the assessed run"}, ev)


@check(
    id="unsigned_zone_risk_accepted",
    title="Every unsigned zone is a decision someone took",
    severity="high",
    pillar="governance",
    description="A zone that is unsigned by decision, or insecure as observed, is covered by an "
    "approved, unexpired risk acceptance in exceptions.csv (scope unsigned, "
    "zone_signed_as_expected or ds_published_for_signed_zone).",
    risk="An unsigned zone without an accepted risk is a gap nobody decided on; an expired "
    "acceptance means the decision is no longer owned.",
    remediation="Sign the zone, or have the risk owner renew the acceptance with an expiry.",
    references=("ISO/IEC 27001:2022 A.5.36", "ISO/IEC 27001:2022 6.1.3", "NIST SP 800-53 RA-7"),
    message="Unsigned without a current risk acceptance: {what} ({why}).",
)
def unsigned_zone_risk_accepted(ctx: Context) -> Iterator[Result]:
    exceptions = ctx.frame("exceptions")
    given = exceptions if exceptions is not None else EXCEPTIONS.schema.empty()
    rows = oversight.risk_acceptance(zones(ctx), inventory(ctx), given, now=ctx.now)
    of = zone_rows(rows)
    for zone in inventory_zones(ctx):
        mine = of(zone)
        if not mine:
            yield Result(zone, "not_applicable", {"detail": "signed, or status unknown"})
            continue
        r = mine[0]
        which = "" if r["exception"] is None else f" ({r['exception']})"
        ev = f"risk_acceptance[{zone}]: zones/inventory vs exceptions.csv{which}"
        if exceptions is None:
            yield Result(zone, "indeterminate", {"detail": missing("exceptions")}, ev)
        elif r["status"] == "accepted":
            detail = (
                f"{r['exception']} approved by {r['approved_by']} until {r['expires']:%Y-%m-%d}"
            )
            yield Result(zone, "pass", {"detail": detail}, ev)
        else:
            if r["status"] == "expired":
                what = f"{r['exception']} expired on {r['expires']:%Y-%m-%d}"
            elif r["status"] == "unapproved":
                what = f"{r['exception']} names no approver"
            else:
                what = "none on record"
            yield Result(zone, "fail", {"why": str(r["why"]).rstrip("."), "what": what}, ev)


@check(
    id="policy_reviewed_recently",
    title="The signing policy is reviewed regularly",
    severity="medium",
    pillar="governance",
    description="policy.yaml records a last_review within alerts.policy_review_max_days "
    "(default 365).",
    risk="A policy nobody reviews drifts from practice and from current algorithm guidance "
    "(RFC 8624/9904).",
    remediation="Review the policy with its owner; record the date in policy.yaml.",
    references=("ISO/IEC 27001:2022 A.5.1", "NIST SP 800-53 SC-1"),
    message="The policy was last reviewed on {when} ({days:.0f} days ago; limit {limit:g}).",
)
def policy_reviewed_recently(ctx: Context) -> Iterator[Result]:
    settings = ctx.policies.settings
    ev = "policy.yaml last_review"
    if len(ctx.policies) == 0:
        yield Result(PORTFOLIO, "indeterminate", {"detail": "policy.yaml not given"}, ev)
        return
    if settings.last_review is None:
        detail = "policy.yaml records no last_review: not evidenced"
        yield Result(PORTFOLIO, "indeterminate", {"detail": detail}, ev)
        return
    days = (pd.Timestamp(ctx.now) - settings.last_review) / pd.Timedelta(days=1)
    limit = settings.alerts.policy_review_max_days
    params = {"when": f"{settings.last_review:%Y-%m-%d}", "days": days, "limit": limit}
    if days > limit:
        yield Result(PORTFOLIO, "fail", params, ev)
    else:
        detail = f"reviewed {params['when']} by owner {settings.policy_owner or '(not named)'}"
        yield Result(PORTFOLIO, "pass", {"detail": detail}, ev)


@check(
    id="roles_assigned",
    title="DNSSEC roles are assigned",
    severity="medium",
    pillar="governance",
    description="policy.yaml names the policy owner and who holds each role: zone "
    "administrator, security lead, registrar liaison.",
    risk="When nobody is named, an emergency rollover or a registrar escalation waits while "
    "people find out who may act.",
    remediation="Name the policy owner and the three roles in policy.yaml.",
    references=("ISO/IEC 27001:2022 A.5.2", "NIS2 IR 2024/2690 1.2", "SOC 2 CC1.3"),
    message="Not named in policy.yaml: {missing}.",
)
def roles_assigned(ctx: Context) -> Iterator[Result]:
    s = ctx.policies.settings
    ev = "policy.yaml policy_owner, roles"
    if len(ctx.policies) == 0:
        yield Result(PORTFOLIO, "indeterminate", {"detail": "policy.yaml not given"}, ev)
        return
    if not {"roles", "policy_owner"} & s.given:
        detail = "policy.yaml names no roles and no owner: not evidenced"
        yield Result(PORTFOLIO, "indeterminate", {"detail": detail}, ev)
        return
    absent = [r for r in ROLES if not s.roles.get(r)]
    if s.policy_owner is None:
        absent.insert(0, "policy_owner")
    if absent:
        yield Result(PORTFOLIO, "fail", {"missing": ", ".join(absent)}, ev)
    else:
        named = ", ".join(f"{k}: {v}" for k, v in s.roles.items())
        yield Result(PORTFOLIO, "pass", {"detail": named}, ev)


@check(
    id="registrar_documented",
    title="Every zone's registrar is documented",
    severity="low",
    pillar="governance",
    description="The registrar the inventory names for the zone has a row in registrars.csv "
    "with a contact, an escalation path, the DS submission method and an SLA.",
    risk="During a KSK emergency or a stuck DS the organisation loses hours finding who to "
    "call and how to submit a DS.",
    remediation="Complete registrars.csv for the registrar.",
    references=("ISO/IEC 27001:2022 A.5.19", "ISO/IEC 27001:2022 A.5.20", "SOC 2 CC9.2"),
    message="Registrar {what}.",
)
def registrar_documented(ctx: Context) -> Iterator[Result]:
    registrars = ctx.frame("registrars")
    if registrars is None:
        yield from not_evidenced(inventory_zones(ctx), "registrars")
        return
    rows = oversight.registrar_documentation(inventory(ctx), registrars)
    for r in rows.itertuples():
        ev = f"registrar_documentation[{r.zone}] (inventory.csv, registrars.csv)"
        if r.status == "documented":
            yield Result(r.zone, "pass", {"detail": f"{r.registrar} documented"}, ev)
        else:
            what = {
                "no_registrar": "not named in the inventory",
                "undocumented": f"'{r.registrar}' has no row in registrars.csv",
                "incomplete": f"'{r.registrar}' lacks {str(r.missing).replace(';', ', ')}",
            }[r.status]
            yield Result(r.zone, "fail", {"what": what}, ev)


@check(
    id="key_custodian_named",
    title="Every active key has a custodian",
    severity="medium",
    pillar="governance",
    description="Every active key of the manifest names its custodian.",
    risk="A key without a custodian has nobody accountable for its storage, backup and "
    "destruction.",
    remediation="Name a custodian for each key in keys.csv.",
    references=("ISO/IEC 27001:2022 A.5.2", "NIST SP 800-57 Part 1 §5.3.4"),
    message="Key(s) without a custodian: {tags}.",
)
def key_custodian_named(ctx: Context) -> Iterator[Result]:
    manifest = ctx.frame("keys")
    state = dnskey_state(ctx)
    if manifest is None:
        yield from not_evidenced(inventory_zones(ctx), "keys")
        return
    now = pd.Timestamp(ctx.now)
    of = zone_rows(manifest)
    for zone in inventory_zones(ctx):
        # is_active reads a manifest row's fields as attributes
        active = [k for k in of(zone) if is_active(SimpleNamespace(**k), now)]
        ev = rows_evidence(f"keys.csv[{zone}]", active)
        if not active:
            status = "indeterminate" if state.get(zone) == "signed" else "not_applicable"
            yield Result(zone, status, {"detail": "no active key in the manifest"}, ev)
            continue
        bad = [k for k in active if k["custodian"] is None]
        if not bad:
            detail = ", ".join(sorted({k["custodian"] for k in active}))
            yield Result(zone, "pass", {"detail": detail}, ev)
        else:
            tags = [f"{int(k['key_tag'])}" for k in bad]
            yield Result(zone, "fail", {"tags": listing(tags)}, ev)


@check(
    id="drill_followups_closed",
    title="Drill follow-ups are closed in time",
    severity="low",
    pillar="governance",
    description="The follow-up actions of every drill held are recorded closed within "
    "drills.followup_max_days (default 90).",
    risk="Lessons that are never acted on make the next drill (or incident) fail the same way.",
    remediation="Close the actions, or re-plan them with an owner and a date.",
    references=("ISO/IEC 27001:2022 A.5.27", "NIST SP 800-53 IR-3"),
    message="Drill follow-ups overdue: {drills}.",
)
def drill_followups_closed(ctx: Context) -> Iterator[Result]:
    drills = ctx.frame("drills")
    if drills is None:
        yield from not_evidenced([PORTFOLIO], "drills")
        return
    rows = oversight.drill_followups(drills, ctx.policies.settings.drills, now=ctx.now)
    ev = rows_evidence("drill_followups (drills.csv)", rows)
    late = rows[rows["status"] == "overdue"]
    unknown = rows[rows["status"] == "not_recorded"]
    if not late.empty:
        what = [
            f"{r.scenario} of {r.date:%Y-%m-%d} (due {r.due:%Y-%m-%d})" for r in late.itertuples()
        ]
        yield Result(PORTFOLIO, "fail", {"drills": listing(what)}, ev)
    elif not unknown.empty:
        detail = f"{len(unknown)} drill(s) do not record their follow-up state"
        yield Result(PORTFOLIO, "indeterminate", {"detail": detail}, ev)
    elif rows.empty:
        yield Result(PORTFOLIO, "not_applicable", {"detail": "no drill held"}, ev)
    else:
        yield Result(PORTFOLIO, "pass", {"detail": f"{len(rows)} drill(s), follow-ups ok"}, ev)


@check(
    id="delegations_inventoried",
    title="Every delegated zone below an inventory zone is in the inventory",
    severity="medium",
    pillar="governance",
    description="Zone discovery (collect --discover: the organisation's zone files, AXFR where "
    "a server allows it, the NSEC chain where the zone uses NSEC) found no delegation below "
    "the zone to a zone the inventory lacks.",
    risk="A delegated zone nobody inventoried is never probed, signed to policy or "
    "decommissioned: its signatures can expire and its delegation can dangle (a lame "
    "delegation to a lapsed name can be taken over) without any report showing it.",
    remediation="Add each named zone to inventory.csv with an owner (or remove the delegation "
    "if it is no longer used), then collect again with --discover.",
    references=(
        "ISO/IEC 27001:2022 A.5.9",
        "NIST SP 800-53 CM-8",
        "CIS Controls v8.1 1.1",
        "RFC 1034 §4.2",
    ),
    message="Delegated below the zone but not in the inventory: {children}.",
)
def delegations_inventoried(ctx: Context) -> Iterator[Result]:
    tried = ctx.frame("discovery")
    found = ctx.frame("delegations")
    zones_ = inventory_zones(ctx)
    if tried is None or found is None:
        detail = "zone discovery was not run for this run (collect --discover): not evidenced"
        for zone in zones_:
            yield Result(zone, "indeterminate", {"detail": detail})
        return
    known = known_zones(ctx)  # the whole portfolio's, also when ctx holds one partition
    tried_of, found_of = zone_rows(tried), zone_rows(found.rename(columns={"parent": "zone"}))
    for zone in zones_:
        sources = tried_of(zone)
        rows = found_of(zone)
        ev = "discovery: " + "; ".join(
            " ".join(filter(None, (r["source"], r["server"] or r["file"]))) + f": {r['outcome']}"
            for r in sources
        )
        missing_ = sorted({r["child"] for r in rows if r["child"] not in known})
        if missing_:
            where = {c: sorted({r["source"] for r in rows if r["child"] == c}) for c in missing_}
            children = listing([f"{c} (seen by {', '.join(where[c])})" for c in missing_], 10)
            yield Result(zone, "fail", {"children": children}, ev)
            continue
        whole = [r for r in sources if r["outcome"] == "complete"]
        if not whole:
            detail = "no discovery source saw the whole zone" + (
                f" ({ev.removeprefix('discovery: ')})" if sources else ""
            )
            yield Result(zone, "indeterminate", {"detail": detail}, ev)
            continue
        seen_by = ", ".join(sorted({r["source"] for r in whole}))
        delegated = sorted({r["child"] for r in rows})
        what = f"{len(delegated)} delegation(s), all inventoried" if delegated else "no delegation"
        yield Result(zone, "pass", {"detail": f"{what} (whole zone seen by {seen_by})"}, ev)
