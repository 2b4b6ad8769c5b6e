"""Checks on the names beyond the apex that the inventory lists (issue 11): a zone is more than
its SOA, and a signed zone whose ``www`` does not validate is broken for its users even when the
apex is fine.

They read the ``names`` evidence frame (each listed name's A, AAAA, MX and TXT answers at every
zone server, judged against the zone's validated DNSKEY set by
:mod:`toolkit.collect.names`) and ``name_resolvers`` (the same questions put to the validating
resolvers). A zone without listed names is not_applicable; a run collected before names were
probed has neither frame, and a zone whose inventory row lists names is then indeterminate.
"""

from __future__ import annotations

from collections.abc import Iterator

from toolkit.checks.base import Context, Result, Row, collector, records_by_zone
from toolkit.checks.evidence import Evidence, each_zone

CHECKS, check = collector()

_SHOWN = 12  # evidence items named at most, then "… and N more"


def _listed(ctx: Context) -> dict[str, list[str]]:
    """The listed names of each inventory zone that has some (``@`` the apex)."""
    inventory = ctx.frame("inventory")
    if inventory is None or "names" not in inventory.columns:
        return {}
    out = {}
    for zone, (row, *_) in records_by_zone(inventory).items():
        cell = row.get("names")
        if cell:
            out[zone] = [n for n in str(cell).split(";") if n]
    return out


def _absolute(zone: str, name: str) -> str:
    return zone if name == "@" else f"{name}.{zone}"


def _more(items: list[str]) -> str:
    extra = f"; … and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return "; ".join(items[:_SHOWN]) + extra


def _not_listed(zone: str) -> Result:
    detail = "no names beyond the apex are listed for the zone (inventory column names)"
    return Result(zone, "not_applicable", {"detail": detail}, f"inventory[{zone}].names empty")


def _name_ref(r: Row) -> str:
    return f"names[{r['server']} {r['name']} {r['qtype']}]"


@check(
    id="names_validate",
    title="Listed names validate",
    severity="critical",
    pillar="technical",
    description="Every answer the zone's servers give for the names the inventory lists "
    "beyond the apex (A, AAAA, MX and TXT of each: data, or the proof that there is none) "
    "validates against the zone's validated DNSKEY set, as it does for a validating resolver.",
    risk="A validating resolver answers SERVFAIL for a name whose answer does not validate: "
    "the website, mail or policy record behind that name is unreachable for every user of a "
    "validating resolver, exactly as if the whole zone were bogus, while the apex (and every "
    "apex-only monitor) looks healthy. Critical for the same reason chain_not_bogus is: the "
    "organisation itself listed these names as the ones its users need.",
    remediation="Re-sign the zone so that the name's RRsets carry signatures by a key of the "
    "published DNSKEY set (a signer that lost a key, a stale copy of the zone on one server, or "
    "records added by hand after signing are the usual causes); check every server.",
    references=("RFC 4035 §5.3", "RFC 4035 §5.4", "RFC 4033 §5", "RFC 5155 §8"),
    message="{count} answer(s) for listed names do not validate ({names}) although the zone is "
    "secure.",
)
def names_validate(ctx: Context) -> Iterator[Result]:
    listed = _listed(ctx)

    def scope_zone(ev: Evidence) -> Result | None:
        if ev.zone not in listed:
            return _not_listed(ev.zone)
        unprobed = ev.unprobed()
        if unprobed is not None:
            return unprobed
        status = ev.row.get("status")
        evidence = f"zones[{ev.zone}] status={status}"
        if status == "insecure":
            detail = "the zone is insecure: its names have nothing to validate"
            return Result(ev.zone, "not_applicable", {"detail": detail}, evidence)
        if status == "bogus":
            detail = "the zone's own chain is bogus (chain_not_bogus): its names cannot validate"
            return Result(ev.zone, "not_applicable", {"detail": detail}, evidence)
        if status != "secure":
            detail = "the zone's status is indeterminate: no validated key set to judge with"
            return Result(ev.zone, "indeterminate", {"detail": detail}, evidence)
        return None

    def decide(ev: Evidence) -> Result:
        rows = ev.rows("names")
        names = [_absolute(ev.zone, n) for n in listed[ev.zone]]
        if not rows:
            detail = "names are listed but none was probed (a run collected before names were)"
            return Result(
                ev.zone, "indeterminate", {"detail": detail}, f"names: no row for {ev.zone}"
            )
        bogus = [r for r in rows if r["status"] == "bogus"]
        if bogus:
            failures = [f"{_name_ref(r)}: {r['reason']}" for r in bogus]
            params = {
                "count": len(bogus),
                "names": ", ".join(sorted({f"{r['name']} {r['qtype']}" for r in bogus})),
            }
            return Result(ev.zone, "fail", params, _more(failures))
        decided = {(r["name"], r["qtype"]) for r in rows if r["status"] == "secure"}
        asked = {(r["name"], r["qtype"]) for r in rows}
        open_ = sorted(asked - decided)
        missing = sorted(set(names) - {r["name"] for r in rows})
        if open_ or missing:
            undecided = [f"{n} {t}" for n, t in open_] + [f"{n} (not probed)" for n in missing]
            why = {(r["name"], r["qtype"]): r["reason"] for r in rows if r["status"] != "secure"}
            evidence = [f"{n} {t}: {why.get((n, t), '-')}" for n, t in open_]
            detail = f"no server gave a validating answer for: {_more(undecided)}"
            return Result(ev.zone, "indeterminate", {"detail": detail}, _more(evidence) or detail)
        detail = f"{len(asked)} name/type answers of {len(names)} listed names validate"
        return Result(ev.zone, "pass", {"detail": detail}, f"names[{ev.zone}]: {len(rows)} rows")

    yield from each_zone(ctx, ("names",), (scope_zone,), decide)


def _resolver_ref(r: Row) -> str:
    ede = f" ede={r['ede_code']}" if r.get("ede_code") is not None else ""
    return f"{r['resolver']}@{r['address']}: {r['name']} {r['qtype']} rcode={r['rcode']}{ede}"


@check(
    id="names_resolve_at_resolvers",
    title="Listed names resolve at validating resolvers",
    severity="high",
    pillar="technical",
    description="The configured validating resolvers answer the names the inventory lists "
    "beyond the apex (A, AAAA, MX, TXT) without SERVFAIL: what the users behind each resolver "
    "actually get for them.",
    risk="A SERVFAIL for a listed name is an outage of that name for every user behind that "
    "resolver, whatever the apex shows. Beside names_validate (the toolkit's own verdict) it "
    "shows which resolver families fail, or an outage the toolkit's view alone does not explain "
    "(a server a resolver cannot reach, a resolver's own policy).",
    remediation="Read the Extended DNS Error and the resolver's log for the name; fix the "
    "signature or proof names_validate reports, or the server the resolver cannot use.",
    references=("RFC 4035 §5.5", "RFC 8914", "NIST SP 800-53 SC-21"),
    message="Validating resolvers answer SERVFAIL for listed names: {failures}.",
)
def names_resolve_at_resolvers(ctx: Context) -> Iterator[Result]:
    listed = _listed(ctx)
    frame = ctx.frame("name_resolvers")
    by_zone = records_by_zone(frame) if frame is not None else {}
    zones = ctx.frame("zones")
    if zones is None:
        raise ValueError("the run has no zones frame")
    for zone in records_by_zone(zones):
        if zone not in listed:
            yield _not_listed(zone)
            continue
        rows = by_zone.get(zone, [])
        if not rows:
            detail = "no validating resolver was asked the listed names"
            yield Result(
                zone, "indeterminate", {"detail": detail}, f"name_resolvers: no row for {zone}"
            )
            continue
        failed = [r for r in rows if r["resolver_status"] == "bogus"]
        answered = [r for r in rows if r["resolver_status"] not in (None, "indeterminate")]
        if failed:
            shown = sorted({f"{r['name']} {r['qtype']} at {r['resolver']}" for r in failed})
            params = {"failures": _more(shown)}
            yield Result(zone, "fail", params, _more([_resolver_ref(r) for r in failed]))
        elif not answered:
            detail = f"none of {len(rows)} questions to the resolvers was answered"
            yield Result(
                zone, "indeterminate", {"detail": detail}, _more([_resolver_ref(r) for r in rows])
            )
        else:
            detail = f"{len(answered)} of {len(rows)} resolver answers, none SERVFAIL"
            yield Result(
                zone, "pass", {"detail": detail}, f"name_resolvers[{zone}]: {len(rows)} rows"
            )
