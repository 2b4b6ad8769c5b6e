"""A zone's incident runbook: the records of the portfolio in, numbered procedures out (no I/O).

``notebooks/runbook.ipynb`` loads the zone's inventory row, its registrar's row of
``registrars.csv``, the roles of ``policy.yaml`` and its last known-good DS and DNSKEY sets
(:func:`toolkit.history.last_known_good`), and displays the fragments built here;
:func:`toolkit.reports.render.render_runbook` prints the PDF. Three procedures: suspected DS
mispublication, failed rollover, validation failures — each filled with who to call and the
exact commands to verify. Every value from the records is escaped.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from toolkit.reports.html import escape, heading_html

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
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="contacts">{body}</table>'


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
        return (
            '<p class="notice notice-warning">No run of the workspace shows this zone secure: '
            "there is no known-good DS or DNSKEY set to restore. Rebuild the chain from the "
            "key manifest.</p>"
        )
    at = pd.Timestamp(known_good["at"].iloc[0]).strftime("%Y-%m-%d %H:%M UTC")
    run = str(known_good["run_id"].iloc[0])
    parts = [f"<p>Last validated (secure) in run <code>{escape(run)}</code> at {escape(at)}.</p>"]
    for rrtype, what in (("DS", "DS set at the parent"), ("DNSKEY", "DNSKEY set of the zone")):
        lines = zonefile_lines(known_good, rrtype)
        parts.append(f"<h4>{escape(what)}</h4>")
        parts.append(
            f'<pre class="zonefile">{escape(chr(10).join(lines))}</pre>'
            if lines
            else f'<p class="empty">{escape(NOT_RECORDED)}</p>'
        )
    return "".join(parts)


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


def _cmd(text: str) -> str:
    return f'<pre class="command">{escape(text)}</pre>'


def _steps(items: Sequence[str]) -> str:
    return '<ol class="procedure">' + "".join(f"<li>{i}</li>" for i in items) + "</ol>"


def procedures_html(ctx: ZoneContext, known_good: pd.DataFrame, *, resolver: str = "") -> str:
    """The three numbered procedures of the zone's runbook."""
    c = commands(ctx, resolver=resolver)
    e = escape
    admin, sec, liaison = (e(role(ctx, r)) for r in ("zone_administrator", "security_lead",
                                                      "registrar_liaison"))  # fmt: skip
    ds_lines = zonefile_lines(known_good, "DS")
    ds_block = (
        _cmd("\n".join(ds_lines)) if ds_lines else f"<p>{e(NOT_RECORDED)} (no known-good DS)</p>"
    )
    call_registrar = (
        f"{liaison} contacts the registrar {e(ctx.registrar)}: <strong>{e(ctx.contact)}</strong>; "
        f"DS submission by {e(ctx.ds_submission)}, agreed publication time {e(ctx.sla_hours)}. "
        f"If there is no answer within the SLA, escalate: <strong>{e(ctx.escalation)}</strong>."
    )
    ds = _steps(
        [
            f"{admin} confirms the symptom: compare the DS set the parent serves with the "
            f"known-good set.{_cmd(c['ds'])}",
            f"Check which DNSKEY the DS must match (the KSK, flags 257).{_cmd(c['dnskey'])}",
            f"If the DS matches no published KSK, the zone is bogus for validating resolvers: "
            f"inform {sec} and the zone owner ({e(ctx.owner)}) now.",
            f"{call_registrar} Ask for the DS set to be restored to:{ds_block}",
            "Do not change the zone's keys while the DS is wrong: the known-good DS must keep "
            "matching a published KSK.",
            f"Verify from a validating resolver once the parent serves the restored DS, "
            f"allowing the DS TTL to expire.{_cmd(c['validate'])}{_cmd(c['resolver'])}",
            f"Record the evidence with a new run, and open a change ticket.{_cmd(c['collect'])}",
        ]
    )
    rollover = _steps(
        [
            f"{admin} stops the rollover: no further key is removed and no DS is withdrawn.",
            f"Find the step that failed: the keys the zone serves and the DS at the parent."
            f"{_cmd(c['dnskey'])}{_cmd(c['ds'])}",
            "If a DS points at a key the zone no longer publishes, re-publish that key from the "
            "known-good DNSKEY set below (keeping its private key available) or, failing that, "
            "go to the DS mispublication procedure.",
            f"If the new DS is not yet at the parent: {call_registrar}",
            "Wait for the TTLs of the old records (DNSKEY TTL, DS TTL) before the next step of "
            "the rollover; the policy's rollover method sets the order of steps.",
            f"Verify validation, then record a new run.{_cmd(c['validate'])}{_cmd(c['collect'])}",
        ]
    )
    validation = _steps(
        [
            f"{admin} confirms the failure from a validating resolver (SERVFAIL, or no ad flag)."
            f"{_cmd(c['resolver'])}{_cmd(c['validate'])}",
            "Read delv's reason: expired or not-yet-valid signatures → re-sign the zone now and "
            "check the signer's clock; DS with no matching key → DS mispublication procedure; "
            "missing DNSKEY → failed rollover procedure.",
            f"Inform {sec} and the zone owner ({e(ctx.owner)}); users behind validating "
            "resolvers cannot reach the zone while it is bogus.",
            f"If the zone cannot be repaired within the hour, ask the registrar to remove the "
            f"DS (the zone becomes insecure but reachable): {call_registrar}",
            f"Once repaired, verify and record a new run, then restore the DS if it was removed."
            f"{_cmd(c['collect'])}",
        ]
    )
    return (
        heading_html("1 Suspected DS mispublication", anchor="p-ds", toc=True)
        + ds
        + heading_html("2 Failed rollover", anchor="p-rollover", toc=True)
        + rollover
        + heading_html("3 Validation failures", anchor="p-validation", toc=True)
        + validation
    )
