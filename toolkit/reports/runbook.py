"""A zone's incident runbook: the records of the portfolio in, numbered procedures out (no I/O).

``notebooks/runbook.ipynb`` loads the zone's inventory row, its registrar's row of
``registrars.csv``, the roles of ``policy.yaml`` and its last known-good DS and DNSKEY sets
(:func:`toolkit.history.last_known_good`), and displays the fragments built here;
:func:`toolkit.reports.render.render_runbook` prints the PDF. Three procedures: suspected DS
mispublication, failed rollover, validation failures — each filled with who to call and the
exact commands to verify. The HTML is in the Jinja2 templates of
``report_templates/fragments/runbook/`` (:mod:`toolkit.reports.templates`): autoescape escapes
every value from the records.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup

from toolkit.reports import templates
from toolkit.reports.html import heading_html

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class ZoneContext:
    """What a runbook needs to know about its zone (all text as recorded, unescaped)."""

    zone: str
    owner: str
    registrar: str
    contact: str
    escalation: str
    ds_submission: str
    sla_hours: str
    account_access: str
    roles: Mapping[str, str]
    portfolio: str
    workspace: str


def zone_context(
    zone: str,
    inventory: pd.DataFrame,
    registrars: pd.DataFrame | None,
    roles: Mapping[str, str],
    *,
    portfolio: str,
    workspace: str,
) -> ZoneContext:
    """The zone's facts from the inventory and registrars.csv; a missing fact is "not
    recorded". Raises KeyError when ``zone`` is not in the inventory."""
    row = inventory[inventory["zone"] == zone]
    if row.empty:
        raise KeyError(f"zone {zone!r} is not in the inventory")
    inv = row.iloc[0]

    def text(v: object) -> str:
        return NOT_RECORDED if v is None or pd.isna(v) or not str(v).strip() else str(v)

    registrar = text(inv.get("registrar"))
    reg: Mapping[str, object] = {}
    if registrars is not None and registrar != NOT_RECORDED:
        match = registrars[
            registrars["registrar"].astype(str).str.casefold() == registrar.casefold()
        ]
        if not match.empty:
            reg = match.iloc[0].to_dict()
    sla = reg.get("sla_hours")
    return ZoneContext(
        zone=zone,
        owner=text(inv.get("owner")),
        registrar=registrar,
        contact=text(reg.get("contact")),
        escalation=text(reg.get("escalation")),
        ds_submission=text(reg.get("ds_submission")),
        sla_hours=NOT_RECORDED if sla is None or pd.isna(sla) else f"{float(sla):g} hours",
        account_access=text(reg.get("account_access")),
        roles=dict(roles),
        portfolio=portfolio,
        workspace=workspace,
    )


def role(ctx: ZoneContext, name: str) -> str:
    return ctx.roles.get(name) or f"{name.replace('_', ' ')} ({NOT_RECORDED} in policy.yaml)"


def contacts_html(ctx: ZoneContext) -> str:
    """Who is involved: owner, roles, registrar contact, escalation path, DS submission."""
    rows = [
        ("Zone", ctx.zone),
        ("Zone owner (inventory)", ctx.owner),
        ("Zone administrator", role(ctx, "zone_administrator")),
        ("Security lead", role(ctx, "security_lead")),
        ("Registrar liaison", role(ctx, "registrar_liaison")),
        ("Registrar", ctx.registrar),
        ("Registrar contact", ctx.contact),
        ("Escalation path", ctx.escalation),
        ("DS submission", ctx.ds_submission),
        ("DS publication SLA", ctx.sla_hours),
        ("Registrar account access", ctx.account_access),
    ]
    return str(templates.render("runbook/contacts.html.j2", rows=rows))


def zonefile_lines(known_good: pd.DataFrame, rrtype: str) -> list[str]:
    """The known-good records of ``rrtype`` as zone-file lines (owner, TTL, IN, type, rdata)."""
    rows = known_good[known_good["rrtype"] == rrtype]
    out = []
    for r in rows.itertuples(index=False):
        owner = str(r.zone).rstrip(".") + "."
        ttl = "" if pd.isna(r.ttl) else f"{int(r.ttl)} "
        out.append(f"{owner} {ttl}IN {rrtype} {r.rdata}")
    return out


def known_good_html(known_good: pd.DataFrame) -> str:
    """The last known-good DS and DNSKEY sets, or a notice that the zone never validated."""
    if known_good.empty:
        return str(templates.render("runbook/known_good.html.j2", run=None))
    at = pd.Timestamp(known_good["at"].iloc[0]).strftime("%Y-%m-%d %H:%M UTC")
    sets = [
        (what, zonefile_lines(known_good, rrtype))
        for rrtype, what in (("DS", "DS set at the parent"), ("DNSKEY", "DNSKEY set of the zone"))
    ]
    return str(
        templates.render(
            "runbook/known_good.html.j2",
            run=str(known_good["run_id"].iloc[0]),
            at=at,
            sets=sets,
            not_recorded=NOT_RECORDED,
        )
    )


def commands(ctx: ZoneContext, *, resolver: str = "") -> dict[str, str]:
    """The verification commands, by purpose (shell-quoted)."""
    z = shlex.quote(ctx.zone.rstrip(".") + ".")
    parent = ctx.zone.rstrip(".").partition(".")[2] or "."
    p = shlex.quote(parent.rstrip(".") + "." if parent != "." else ".")
    at = f" @{shlex.quote(resolver)}" if resolver else ""
    return {
        "ds": f"dig +dnssec +norecurse {z} DS @$(dig +short NS {p} | head -n1)",
        "dnskey": f"dig +dnssec +multi {z} DNSKEY @$(dig +short NS {z} | head -n1)",
        "validate": f"delv{at} {z} SOA +vtrace",
        "resolver": f"dig +dnssec{at} {z} SOA  # look for the ad flag and no SERVFAIL",
        "collect": (
            f"dnssec-audit collect --portfolio {shlex.quote(ctx.portfolio)} "
            f"--workspace {shlex.quote(ctx.workspace)}"
        ),
    }


def procedures_html(ctx: ZoneContext, known_good: pd.DataFrame, *, resolver: str = "") -> str:
    """The three numbered procedures of the zone's runbook."""
    headings = [
        Markup(heading_html("1 Suspected DS mispublication", anchor="p-ds", toc=True)),
        Markup(heading_html("2 Failed rollover", anchor="p-rollover", toc=True)),
        Markup(heading_html("3 Validation failures", anchor="p-validation", toc=True)),
    ]
    return str(
        templates.render(
            "runbook/procedures.html.j2",
            ctx=ctx,
            admin=role(ctx, "zone_administrator"),
            sec=role(ctx, "security_lead"),
            liaison=role(ctx, "registrar_liaison"),
            c=commands(ctx, resolver=resolver),
            ds_lines=zonefile_lines(known_good, "DS"),
            not_recorded=NOT_RECORDED,
            headings=headings,
        )
    )
