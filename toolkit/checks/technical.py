"""Technical checks on what DNS shows: chain status, DS publication, signature validity,
server responsiveness and agreement with validating resolvers.

Each check is its metadata (:class:`Check`) beside its function. Functions read the run's
frames through the :class:`Context` and yield one :class:`Result` per zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from toolkit.checks.base import (
    Context,
    Result,
    Row,
    collector,
    plain_rows,
    value,
    zone_rows,
)

CHECKS, check = collector()


def _zones(ctx: Context) -> list[Row]:
    """The run's zones frame as plain rows (missing values None; a missing status counts as
    indeterminate, so that a malformed row can never pass)."""
    zones = ctx.frame("zones")
    if zones is None:
        raise ValueError("the run has no zones frame")
    return [
        r if r["status"] is not None else {**r, "status": "indeterminate"}
        for r in plain_rows(zones)
    ]


def _shown(v: Any) -> Any:
    """A cell as evidence and messages print it: a missing value as ``<NA>`` (how pandas
    prints a null of the frames' nullable dtypes)."""
    return "<NA>" if v is None else v


def _ev(row: Row) -> str:
    return f"zones[{row['zone']}] status={_shown(row['status'])} reasons={row['reasons'] or '-'}"


def _named(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and v != v) and str(v) != "<NA>"


def _who(r: Row) -> str:
    """A resolver's label, with its vantage point when the run names one."""
    v = r.get("vantage")
    return f"{_shown(r['resolver'])} from {v}" if _named(v) else str(_shown(r["resolver"]))


def _resolver_ev(r: Row) -> str:
    """A resolver_checks row in the evidence: who was asked (and from where, when the run
    names vantage points) and what came back."""
    where = f" from {r['vantage']}" if _named(r.get("vantage")) else ""
    return (
        f"{_shown(r['resolver'])}@{_shown(r['address'])}{where}: rcode={_shown(r['rcode'])} "
        f"ad={_shown(r['ad'])} ede={_shown(r['ede_code'])}"
    )


@check(
    id="chain_not_bogus",
    title="Chain of trust validates",
    severity="critical",
    pillar="technical",
    description="The zone's DNSSEC chain of trust, validated by the toolkit from the trust "
    "anchor, is not bogus.",
    risk="Validating resolvers refuse a bogus zone: its names stop resolving for every user "
    "behind a validating resolver.",
    remediation="Find the broken link (DS matching no key, expired or invalid signatures) and "
    "re-sign or correct the DS at the registrar.",
    references=("RFC 4035 §5", "RFC 4033 §5"),
    message="The chain of trust is bogus: {why}",
)
def chain_not_bogus(ctx: Context) -> Iterator[Result]:
    for row in _zones(ctx):
        status = row["status"]
        if status == "bogus":
            yield Result(row["zone"], "fail", {"why": _shown(row["reason_text"])}, _ev(row))
        elif status == "indeterminate":
            yield Result(row["zone"], "indeterminate", {"detail": row["reason_text"]}, _ev(row))
        else:
            yield Result(row["zone"], "pass", {"detail": f"chain is {status}"}, _ev(row))


@check(
    id="zone_signed_as_expected",
    title="Zone signed as the inventory expects",
    severity="high",
    pillar="technical",
    description="A zone the inventory marks as expected to be signed has a secure chain of "
    "trust (signed, and a DS at the parent).",
    risk="An unsigned or island zone can be spoofed by cache poisoning or on-path attackers.",
    remediation="Sign the zone and publish its DS record through the registrar.",
    references=("RFC 4033", "RFC 4035 §4.3"),
    message="Expected to be signed but the chain is {status}: {why}",
)
def zone_signed_as_expected(ctx: Context) -> Iterator[Result]:
    for row in _zones(ctx):
        expected = row["expected_signed"]
        if expected is not None and not expected:
            detail = "the inventory records the zone as deliberately unsigned"
            yield Result(row["zone"], "not_applicable", {"detail": detail}, _ev(row))
        elif row["status"] == "indeterminate":
            yield Result(row["zone"], "indeterminate", {"detail": row["reason_text"]}, _ev(row))
        elif row["status"] == "insecure":
            params = {"status": row["status"], "why": _shown(row["reason_text"])}
            yield Result(row["zone"], "fail", params, _ev(row))
        else:  # secure, or bogus (signed; its breakage is chain_not_bogus's finding)
            yield Result(row["zone"], "pass", {"detail": "zone is signed"}, _ev(row))


@check(
    id="ds_published_for_signed_zone",
    title="Signed zone has a DS at its parent",
    severity="high",
    pillar="technical",
    description="A zone that serves DNSKEY records also has a DS record at its parent, so "
    "validators can trust it (no island of security).",
    risk="Without a DS the signatures protect nobody: validators treat the zone as unsigned.",
    remediation="Submit the KSK's DS record (SHA-256) to the registrar and verify it appears.",
    references=("RFC 4035 §4.3", "RFC 6781 §4.1.2"),
    message="The zone is signed (algorithms {algorithms}) but its parent {parent} publishes "
    "no DS record.",
)
def ds_published_for_signed_zone(ctx: Context) -> Iterator[Result]:
    for row in _zones(ctx):
        signed, has_ds = row["signed"], row["has_ds"]
        if signed is None:
            yield Result(row["zone"], "indeterminate", {"detail": "signing unknown"}, _ev(row))
        elif not signed:
            yield Result(row["zone"], "not_applicable", {"detail": "zone not signed"}, _ev(row))
        elif has_ds is None:
            yield Result(row["zone"], "indeterminate", {"detail": "DS unknown"}, _ev(row))
        elif not has_ds:
            params = {"algorithms": _shown(row["algorithms"]), "parent": _shown(row["parent"])}
            yield Result(row["zone"], "fail", params, _ev(row))
        else:
            yield Result(row["zone"], "pass", {"detail": "DS published"}, _ev(row))


@check(
    id="rrsig_validity_above_floor",
    title="Signatures valid for longer than the policy floor",
    severity="high",
    pillar="technical",
    description="The apex signatures' remaining validity is above the signing policy's "
    "minimum (min_rrsig_validity_days), so there is time to re-sign before they expire.",
    risk="Signatures that expire make the zone bogus: an outage for validating users.",
    remediation="Check the signer's re-signing schedule; re-sign now.",
    references=("RFC 4035 §5.3.1", "RFC 6781 §4.4.2"),
    message="Signatures expire in {days:.1f} days (on {when}), below the floor of {floor} days.",
)
def rrsig_validity_above_floor(ctx: Context) -> Iterator[Result]:
    inventory = ctx.frame("inventory")
    policies = (
        dict(zip(inventory["zone"], inventory["policy"], strict=True))
        if inventory is not None
        else {}
    )
    for row in _zones(ctx):
        days = row["min_rrsig_days_left"]
        if row["signed"] is None or days is None:
            if row["signed"] is not None and not row["signed"]:
                yield Result(row["zone"], "not_applicable", {"detail": "zone not signed"})
            else:
                yield Result(row["zone"], "indeterminate", {"detail": "no signature observed"})
            continue
        name = policies.get(row["zone"])
        policy = ctx.policies.get(value(name))
        if policy is None:
            detail = "no signing policy applies: the floor is not evidenced"
            yield Result(row["zone"], "indeterminate", {"detail": detail}, _ev(row))
            continue
        floor = policy.min_rrsig_validity_days
        ev = f"zones[{row['zone']}] min_rrsig_days_left={days:.2f}; policy {policy.name}"
        if days < floor:
            when = row["earliest_expiration"]
            when_text = "an unrecorded date" if when is None else f"{when:%Y-%m-%d %H:%M} UTC"
            params = {"days": float(days), "when": when_text, "floor": floor}
            yield Result(row["zone"], "fail", params, ev)
        else:
            detail = f"{days:.1f} days left (floor {floor})"
            yield Result(row["zone"], "pass", {"detail": detail}, ev)


@check(
    id="authoritative_servers_answer",
    title="Every authoritative server answers",
    severity="medium",
    pillar="technical",
    description="Every address of every authoritative server of the zone answers with "
    "authority for the zone apex.",
    risk="A dead or lame server slows resolution and, during a rollover, can serve stale keys.",
    remediation="Repair or remove the server from the NS set at the zone and the parent.",
    references=("RFC 1034 §4.2", "RFC 2182"),
    message="{bad} of {total} authoritative server addresses did not answer with authority.",
)
def authoritative_servers_answer(ctx: Context) -> Iterator[Result]:
    for row in _zones(ctx):
        total, answered = row["ns_servers"], row["ns_answered"]
        ev = (
            f"zones[{row['zone']}] ns_servers={_shown(total)} ns_answered={_shown(answered)}; "
            "queries frame"
        )
        if total is None or total == 0:
            yield Result(row["zone"], "indeterminate", {"detail": "no server known"}, ev)
        elif answered < total:
            yield Result(
                row["zone"], "fail", {"bad": int(total - answered), "total": int(total)}, ev
            )
        else:
            yield Result(row["zone"], "pass", {"detail": f"all {int(total)} answered"}, ev)


@check(
    id="resolvers_agree_with_validation",
    title="Validating resolvers agree with the toolkit",
    severity="high",
    pillar="technical",
    description="Every configured validating resolver gives the zone the status the toolkit's "
    "own validation found (AD on secure, SERVFAIL on bogus, neither on insecure).",
    risk="Users behind a disagreeing resolver see a different Internet: an outage the "
    "toolkit's own view would hide, or a resolver that does not validate at all.",
    remediation="Find which resolver disagrees and why (Extended DNS Error, resolver logs).",
    references=("RFC 4035 §4.9", "RFC 8914", "NIST SP 800-53 SC-21"),
    message="{resolvers} disagree: they see the zone as {seen}, the toolkit as {status}.",
)
def resolvers_agree_with_validation(ctx: Context) -> Iterator[Result]:
    of = zone_rows(ctx.frame("resolver_checks"))
    for row in _zones(ctx):
        status = row["status"]
        mine = of(row["zone"])
        if not mine:
            yield Result(row["zone"], "indeterminate", {"detail": "no resolver was asked"})
            continue
        if status == "indeterminate":
            yield Result(row["zone"], "indeterminate", {"detail": row["reason_text"]})
            continue
        answered = [r for r in mine if r["resolver_status"] != "indeterminate"]
        off = [r for r in answered if r["resolver_status"] != status]
        ev = "; ".join(_resolver_ev(r) for r in mine)
        if off:
            params = {
                "resolvers": ", ".join(_who(r) for r in off),
                "seen": ", ".join(sorted({r["resolver_status"] for r in off})),
                "status": status,
            }
            yield Result(row["zone"], "fail", params, ev)
        elif not answered:
            yield Result(row["zone"], "indeterminate", {"detail": "no resolver answered"}, ev)
        else:
            yield Result(row["zone"], "pass", {"detail": f"{len(answered)} agree"}, ev)


@check(
    id="resolver_families_agree",
    title="Validating resolver families agree with each other",
    severity="high",
    pillar="technical",
    description="Every configured validating resolver (each its own implementation: Unbound, "
    "BIND, Knot Resolver, PowerDNS Recursor, ...) that answered gives the zone the same "
    "status: secure, insecure or bogus.",
    risk="When implementations disagree, whether the zone resolves depends on which resolver "
    "a user happens to sit behind: a partial outage that is hard to diagnose and that one "
    "resolver's view alone hides.",
    remediation="Compare what each resolver saw (rcode, AD, Extended DNS Error, logs); fix "
    "the zone so that every implementation validates it the same way (e.g. consistent keys "
    "and signatures on every authoritative server, algorithms all of them support).",
    references=("RFC 4035 §5", "RFC 8914", "RFC 9276"),
    message="Resolver families disagree on the zone's status: {seen}.",
)
def resolver_families_agree(ctx: Context) -> Iterator[Result]:
    """One result per zone: fail when the resolvers that answered see different statuses
    (the message names who saw what), pass when they all agree, indeterminate when fewer than
    two answered. A resolver's label stands for its family. Agreement on a zone the toolkit
    could not assess (own status indeterminate, e.g. the zone does not exist) is no evidence:
    indeterminate, never a pass."""
    of = zone_rows(ctx.frame("resolver_checks"))
    for row in _zones(ctx):
        zone = row["zone"]
        mine = of(zone)
        if not mine:
            yield Result(zone, "indeterminate", {"detail": "no resolver was asked"})
            continue
        answered = [r for r in mine if r["resolver_status"] not in (None, "indeterminate")]
        ev = "; ".join(f"{_resolver_ev(r)} status={_shown(r['resolver_status'])}" for r in mine)
        if len(answered) < 2:
            detail = (
                f"{len(answered)} of {len(mine)} resolvers answered: agreement needs at least two"
            )
            yield Result(zone, "indeterminate", {"detail": detail}, ev)
            continue
        seen: dict[str, list[str]] = {}
        for r in answered:
            seen.setdefault(str(r["resolver_status"]), []).append(_who(r))
        if len(seen) > 1:
            text = "; ".join(
                f"{', '.join(sorted(names))} saw {st}" for st, names in sorted(seen.items())
            )
            yield Result(zone, "fail", {"seen": text}, ev)
        else:
            (st,) = seen
            detail = f"{len(answered)} resolvers agree: {st}"
            if row["status"] == "indeterminate":
                why = (
                    f"{detail}, but the zone itself is indeterminate: {_shown(row['reason_text'])}"
                )
                yield Result(zone, "indeterminate", {"detail": why}, ev)
            else:
                yield Result(zone, "pass", {"detail": detail}, ev)
