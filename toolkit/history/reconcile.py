"""Reconcile the key manifest and the change log with what DNS showed: pure, frames in and out.

* :func:`manifest_reconciliation` — DNSKEYs served but not in the manifest, manifest keys that
  should be published but were never (or are no longer) seen;
* :func:`key_ages` — each published key's age against its policy's lifetime;
* :func:`ksk_custody` — where each active KSK/CSK is kept, against the policy's ``ksk_storage``;
* :func:`ticket_review` — each implemented ticket: approver named, not the requester, approved
  before it was implemented;
* :func:`change_reconciliation` — each DNSKEY/DS change seen between two runs matched to an
  approved ticket (else an *unapproved change*);
* :func:`ds_publication` — each ``ds_publish`` ticket followed by the DS at the parent, and how
  long it took against the registrar's SLA.

Inputs are the record frames of :mod:`toolkit.inputs.governance` (KEYS, CHANGES, REGISTRARS), the
history frames of :mod:`toolkit.history.key_sets` (KEY_SETS, KEY_CHANGES), the inventory and
the policies. ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd

from toolkit.history.key_sets import latest_sets, observed_span
from toolkit.history.record_frames import DAY, HOUR, schema, ts, utc
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.schemas import UTC_TS

CLOSED_TICKET = ("rejected", "cancelled")


def key_role(flags: Any) -> str:
    """``ksk`` for a DNSKEY with the SEP bit (flags 257), else ``zsk``."""
    return "ksk" if not pd.isna(flags) and int(flags) & 1 else "zsk"


def is_active(key: Any, now: pd.Timestamp) -> bool:
    """Whether a manifest row (KEYS) says the key should be published at ``now``: started
    (published, activated or created at or before now, or no date given) and not retired
    (no planned retirement, or one after now)."""
    start = next((t for t in (key.published, key.activated, key.created) if ts(t)), None)
    retire = ts(key.planned_retirement)
    return (start is None or start <= now) and (retire is None or retire > now)


def _key_ids(frame: pd.DataFrame) -> set[tuple[str, int]]:
    """The ``(zone, key tag)`` pairs of ``frame``'s rows."""
    return {(zone, int(tag)) for zone, tag in zip(frame["zone"], frame["key_tag"], strict=True)}


def _served_keys(latest: pd.DataFrame) -> Iterator[tuple[str, Any, Any]]:
    """``(zone, key_tag, flags)`` of each key in the latest DNSKEY sets, once (first row)."""
    keys = latest.drop_duplicates(["zone", "key_tag"])
    return zip(keys["zone"], keys["key_tag"], keys["flags"], strict=True)


def _first_by_zone(inventory: pd.DataFrame, column: str) -> dict[str, str | None]:
    """``column`` of each zone's first inventory row, as a string (None: empty)."""
    out: dict[str, str | None] = {}
    for zone, v in zip(inventory["zone"], inventory[column], strict=True):
        if zone not in out:
            out[zone] = None if pd.isna(v) else str(v)
    return out


def zone_policies(inventory: pd.DataFrame, policies: PolicySet) -> dict[str, SigningPolicy | None]:
    """The signing policy that applies to each zone of the inventory (None: not evidenced).
    A zone the inventory does not list has none either: look it up with ``.get``."""
    return {zone: policies.get(name) for zone, name in _first_by_zone(inventory, "policy").items()}


MANIFEST_CHECK = schema(
    "manifest_check",
    "Each key served in DNS or listed in the manifest, and whether the two agree.",
    ("zone", "string", "zone"),
    ("key_tag", "Int64", "key tag"),
    ("role", "string", "ksk | zsk | csk (manifest; else from the DNSKEY flags)"),
    (
        "status",
        "string",
        "listed | unlisted | never_seen | no_longer_seen | retired | not_observed",
    ),
    ("in_manifest", "boolean", "listed in keys.csv"),
    ("in_dns", "boolean", "in the zone's latest observed DNSKEY set"),
    ("first_seen_at", UTC_TS, "first run showing the key"),
    ("last_seen_at", UTC_TS, "last run showing the key"),
    ("source_line", "Int64", "line of keys.csv"),
)


def manifest_reconciliation(
    manifest: pd.DataFrame, key_sets: pd.DataFrame, *, now: datetime
) -> pd.DataFrame:
    """Compare the manifest with the observed DNSKEY sets (schema :data:`MANIFEST_CHECK`).

    ``unlisted``: served now, not in the manifest. ``never_seen``: the manifest says it should
    be published but no run ever showed it; ``no_longer_seen``: it was seen once but is gone
    although the manifest does not retire it; ``retired``: retired (or not yet published) per
    the manifest and not served; ``not_observed``: the zone's DNSKEY set was never observed.
    """
    t = utc(now)
    dnskeys = key_sets[key_sets["rrtype"] == "DNSKEY"]
    latest = latest_sets(dnskeys).dropna(subset=["rdata"])
    span = observed_span(dnskeys, by=("zone", "key_tag")).set_index(["zone", "key_tag"])
    first = span["first_observed"].to_dict()
    last = span["last_observed"].to_dict()
    observed_zones = set(dnskeys["zone"])
    listed = _key_ids(manifest)
    rows: list[dict[str, Any]] = []
    for zone, key_tag, flags in _served_keys(latest):
        if (zone, int(key_tag)) not in listed:
            rows.append(
                {
                    "zone": zone,
                    "key_tag": key_tag,
                    "role": key_role(flags),
                    "status": "unlisted",
                    "in_manifest": False,
                    "in_dns": True,
                }
            )
    now_served = _key_ids(latest)
    for k in manifest.itertuples():
        key = (k.zone, int(k.key_tag))
        ever = key in first
        if key in now_served:
            status = "listed"
        elif k.zone not in observed_zones:
            status = "not_observed"
        elif not is_active(k, t):
            status = "retired"
        else:
            status = "no_longer_seen" if ever else "never_seen"
        rows.append(
            {
                "zone": k.zone,
                "key_tag": k.key_tag,
                "role": k.role,
                "status": status,
                "in_manifest": True,
                "in_dns": key in now_served,
                "first_seen_at": first.get(key),
                "last_seen_at": last.get(key),
                "source_line": k.source_line,
            }
        )
    return MANIFEST_CHECK.frame(rows)


KEY_AGES = schema(
    "key_ages",
    "Each key in a zone's latest DNSKEY set: its age against the policy's lifetime.",
    ("zone", "string", "zone"),
    ("key_tag", "Int64", "key tag"),
    ("role", "string", "ksk | zsk | csk"),
    ("policy", "string", "signing policy applied"),
    ("since", UTC_TS, "activated (else published, else created) per the manifest"),
    ("age_days", "Float64", "days from `since` to now"),
    ("lifetime_days", "Int64", "the policy's maximum age for the role"),
    ("planned_retirement", UTC_TS, "manifest's planned retirement"),
    ("status", "string", "within | overdue | retirement_passed | age_unknown | no_policy"),
    ("source_line", "Int64", "line of keys.csv"),
)


def key_ages(
    manifest: pd.DataFrame,
    key_sets: pd.DataFrame,
    inventory: pd.DataFrame,
    policies: PolicySet,
    *,
    now: datetime,
) -> pd.DataFrame:
    """Age of every key in each zone's latest DNSKEY set (schema :data:`KEY_AGES`).

    ``overdue``: older than the policy's lifetime for its role (rollover overdue);
    ``retirement_passed``: still published after its planned retirement; ``age_unknown``: not
    in the manifest, or no date recorded; ``no_policy``: no signing policy applies.
    """
    t = utc(now)
    latest = latest_sets(key_sets[key_sets["rrtype"] == "DNSKEY"]).dropna(subset=["rdata"])
    by_key = {(k.zone, int(k.key_tag)): k for k in manifest.itertuples()}
    policy_of = zone_policies(inventory, policies)
    rows: list[dict[str, Any]] = []
    for zone, key_tag, flags in _served_keys(latest):
        k = by_key.get((zone, int(key_tag)))
        role = k.role if k is not None else key_role(flags)
        policy = policy_of.get(zone)
        since = None
        if k is not None:
            since = next((ts(x) for x in (k.activated, k.published, k.created) if ts(x)), None)
        retire = ts(k.planned_retirement) if k is not None else None
        lifetime = policy.lifetime_days(role) if policy is not None else None
        age = (t - since) / DAY if since is not None else None
        if policy is None:
            status = "no_policy"
        elif age is None:
            status = "age_unknown"
        elif lifetime is not None and age > lifetime:
            status = "overdue"
        elif retire is not None and retire <= t:
            status = "retirement_passed"
        else:
            status = "within"
        rows.append(
            {
                "zone": zone,
                "key_tag": key_tag,
                "role": role,
                "policy": None if policy is None else policy.name,
                "since": since,
                "age_days": age,
                "lifetime_days": lifetime,
                "planned_retirement": retire,
                "status": status,
                "source_line": None if k is None else k.source_line,
            }
        )
    return KEY_AGES.frame(rows)


KSK_CUSTODY = schema(
    "ksk_custody",
    "Each active KSK/CSK of the manifest: where its private key is kept, against the policy.",
    ("zone", "string", "zone"),
    ("key_tag", "Int64", "key tag"),
    ("role", "string", "ksk | csk"),
    ("storage", "string", "hsm | offline | online (null: not recorded)"),
    ("allowed", "string", "storage the policy allows, `;`-joined"),
    ("custodian", "string", "custodian named"),
    ("status", "string", "compliant | non_compliant | not_recorded | no_policy"),
    ("source_line", "Int64", "line of keys.csv"),
)


def ksk_custody(
    manifest: pd.DataFrame,
    key_sets: pd.DataFrame,
    inventory: pd.DataFrame,
    policies: PolicySet,
    *,
    now: datetime,
) -> pd.DataFrame:
    """Storage of every KSK and CSK of the manifest that is active per its dates or still
    served in the zone's latest DNSKEY set (schema :data:`KSK_CUSTODY`)."""
    t = utc(now)
    latest = latest_sets(key_sets[key_sets["rrtype"] == "DNSKEY"]).dropna(subset=["rdata"])
    served = _key_ids(latest)
    policy_of = zone_policies(inventory, policies)
    rows: list[dict[str, Any]] = []
    for k in manifest[manifest["role"].isin(["ksk", "csk"])].itertuples():
        if not is_active(k, t) and (k.zone, int(k.key_tag)) not in served:
            continue
        policy = policy_of.get(k.zone)
        storage = None if pd.isna(k.storage) else str(k.storage)
        if policy is None:
            status = "no_policy"
        elif storage is None:
            status = "not_recorded"
        else:
            status = "compliant" if storage in policy.ksk_storage else "non_compliant"
        rows.append(
            {
                "zone": k.zone,
                "key_tag": k.key_tag,
                "role": k.role,
                "storage": storage,
                "allowed": None if policy is None else ";".join(policy.ksk_storage),
                "custodian": k.custodian,
                "status": status,
                "source_line": k.source_line,
            }
        )
    return KSK_CUSTODY.frame(rows)


TICKET_REVIEW = schema(
    "ticket_review",
    "Each change ticket: was it implemented, and was its approval segregated and in time.",
    ("ticket", "string", "ticket id"),
    ("zone", "string", "zone"),
    ("action", "string", "action"),
    ("implemented", "boolean", "the change was made (implemented_at given or status says so)"),
    ("approved", "boolean", "approver named, not the requester, approved before implementation"),
    ("problem", "string", "what is wrong with the approval, in words (null: nothing)"),
    ("source_line", "Int64", "line of changes.csv"),
)


def approval_problem(ticket: Any, observed_at: pd.Timestamp | None = None) -> str | None:
    """What is wrong with a ticket's approval (None: approved properly).

    Rejected or cancelled, no approver, approved by its own requester, no approval date,
    approved after it was implemented, or (given ``observed_at``) approved after the change
    was observed.
    """
    t = ticket.ticket
    if not pd.isna(ticket.status) and ticket.status in CLOSED_TICKET:
        return f"ticket {t} was {ticket.status}"
    if pd.isna(ticket.approved_by):
        return f"ticket {t} names no approver"
    requester = "" if pd.isna(ticket.requested_by) else str(ticket.requested_by)
    if requester.strip().casefold() == str(ticket.approved_by).strip().casefold():
        return f"ticket {t} was approved by its own requester ({ticket.approved_by})"
    approved = ts(ticket.approved_at)
    if approved is None:
        return f"ticket {t} has no approval date"
    done = ts(ticket.implemented_at)
    if done is not None and approved > done:
        return (
            f"ticket {t} was approved on {approved:%Y-%m-%d %H:%M}, after it was implemented "
            f"on {done:%Y-%m-%d %H:%M}"
        )
    if observed_at is not None and approved > observed_at:
        return f"ticket {t} was approved on {approved:%Y-%m-%d}, after the change was observed"
    return None


def ticket_review(changes: pd.DataFrame) -> pd.DataFrame:
    """Review the approval of every ticket (schema :data:`TICKET_REVIEW`)."""
    rows = []
    for c in changes.itertuples():
        implemented = not pd.isna(c.implemented_at) or (
            not pd.isna(c.status) and c.status in ("implemented", "rolled_back")
        )
        problem = approval_problem(c) if implemented else None
        rows.append(
            {
                "ticket": c.ticket,
                "zone": c.zone,
                "action": c.action,
                "implemented": implemented,
                "approved": problem is None,
                "problem": problem,
                "source_line": c.source_line,
            }
        )
    return TICKET_REVIEW.frame(rows)


CHANGE_RECONCILIATION = schema(
    "change_reconciliation",
    "Each DNSKEY/DS change observed between two runs, and the approved ticket behind it.",
    ("zone", "string", "zone"),
    ("rrtype", "string", "DNSKEY | DS"),
    ("change", "string", "added | removed"),
    ("key_tag", "Int64", "key tag"),
    ("before_at", UTC_TS, "the change happened after this run"),
    ("after_at", UTC_TS, "and before this one"),
    ("ticket", "string", "ticket matched (null: none)"),
    ("approved", "boolean", "an approved ticket covers the change"),
    ("reason", "string", "why it is not approved (null when it is)"),
)

_ACTIONS: dict[tuple[str, str, str], frozenset[str]] = {
    ("DNSKEY", "added", "ksk"): frozenset({"ksk_rollover", "algorithm_rollover", "sign"}),
    ("DNSKEY", "removed", "ksk"): frozenset({"ksk_rollover", "algorithm_rollover", "unsign"}),
    ("DNSKEY", "added", "zsk"): frozenset({"zsk_rollover", "algorithm_rollover", "sign"}),
    ("DNSKEY", "removed", "zsk"): frozenset({"zsk_rollover", "algorithm_rollover", "unsign"}),
    ("DS", "added", "-"): frozenset({"ds_publish", "ksk_rollover", "algorithm_rollover", "sign"}),
    ("DS", "removed", "-"): frozenset(
        {"ds_withdraw", "ksk_rollover", "algorithm_rollover", "unsign"}
    ),
}
"""(record type, change, key kind) -> ticket actions that may explain it."""


def change_reconciliation(
    key_changes: pd.DataFrame, changes: pd.DataFrame, *, window_hours: float
) -> pd.DataFrame:
    """Match every observed change to a ticket (schema :data:`CHANGE_RECONCILIATION`).

    A ticket matches a change when it is for the same zone, its action can explain the change
    (a ZSK added: zsk_rollover, algorithm_rollover or sign; a DS removed: ds_withdraw,
    ksk_rollover, algorithm_rollover or unsign; ...), its key tag (if any) is the added key's,
    and it was implemented between the two runs, give or take ``window_hours`` (a ticket with
    no implementation time matches only by an exact key tag). The change is approved when a
    matching ticket passes :func:`approval_problem`; otherwise it is an *unapproved change*,
    with the reason.
    """
    window = pd.Timedelta(hours=window_hours)
    tickets_of: dict[str, list[Any]] = {}
    for t in changes[changes["zone"].isin(key_changes["zone"])].itertuples():
        tickets_of.setdefault(t.zone, []).append(t)
    rows = []
    for c in key_changes.itertuples():
        kind = key_role(c.flags) if c.rrtype == "DNSKEY" else "-"
        actions = _ACTIONS[(c.rrtype, c.change, kind)]
        ranked = []
        for t in tickets_of.get(c.zone, []):
            if t.action not in actions:
                continue
            tag_given = not pd.isna(t.key_tag)
            exact = tag_given and int(t.key_tag) == int(c.key_tag)
            if c.change == "added" and tag_given and not exact:
                continue
            done = ts(t.implemented_at)
            if done is None:
                if not exact:
                    continue
                distance = pd.Timedelta(0)
            elif c.before_at - window <= done <= c.after_at + window:
                distance = max(c.before_at - done, done - c.after_at, pd.Timedelta(0))
            else:
                continue
            ranked.append((not exact, distance, t))
        ranked.sort(key=lambda x: (x[0], x[1]))
        verdicts = [(t, approval_problem(t, c.after_at)) for _, _, t in ranked]
        good = [t for t, p in verdicts if p is None]
        if good:
            ticket, reason = good[0].ticket, None
        elif verdicts:
            ticket, reason = verdicts[0][0].ticket, verdicts[0][1]
        else:
            ticket = None
            reason = (
                f"no ticket of {c.zone} for {' or '.join(sorted(actions))}"
                f" around that time (window {window_hours:g} h)"
            )
        rows.append(
            {
                "zone": c.zone,
                "rrtype": c.rrtype,
                "change": c.change,
                "key_tag": c.key_tag,
                "before_at": c.before_at,
                "after_at": c.after_at,
                "ticket": ticket,
                "approved": reason is None,
                "reason": reason,
            }
        )
    return CHANGE_RECONCILIATION.frame(rows)


DS_PUBLICATION = schema(
    "ds_publication",
    "Each implemented ds_publish ticket: did the DS appear at the parent, and how fast.",
    ("ticket", "string", "ticket id"),
    ("zone", "string", "zone"),
    ("key_tag", "Int64", "key tag of the DS"),
    ("implemented_at", UTC_TS, "when the DS was submitted"),
    ("registrar", "string", "the zone's registrar (inventory)"),
    ("sla_hours", "Float64", "agreed hours to appear (registrars.csv, else the policy default)"),
    ("sla_source", "string", "registrars.csv | default"),
    ("first_seen_at", UTC_TS, "first run at or after submission showing the DS"),
    ("hours", "Float64", "hours from submission to that run (an upper bound)"),
    (
        "status",
        "string",
        "on_time | late | unmeasured | missing | pending | not_observed | no_key_tag",
    ),
)


def ds_publication(
    changes: pd.DataFrame,
    key_sets: pd.DataFrame,
    inventory: pd.DataFrame,
    registrars: pd.DataFrame | None,
    *,
    default_sla_hours: float,
) -> pd.DataFrame:
    """Follow every implemented ``ds_publish`` ticket to the parent (schema DS_PUBLICATION).

    ``on_time``: the DS was first seen within the SLA (measured to the first run showing it,
    an upper bound); ``late``: a run after the SLA elapsed did not show it yet, a later one
    did; ``unmeasured``: it appeared, but the first run after submission came after the SLA
    had elapsed, so the delay cannot be told; ``missing``: runs after the SLA elapsed still do
    not show it; ``pending``: not seen yet, but the SLA has not elapsed at the last run;
    ``not_observed``: no run observed the zone's DS set after submission. Deadlines are
    judged against the runs, never the clock.
    """
    ds = key_sets[key_sets["rrtype"] == "DS"]
    tickets = changes[(changes["action"] == "ds_publish") & changes["implemented_at"].notna()]
    tickets = tickets[~tickets["status"].fillna("").isin(CLOSED_TICKET)]
    slas: dict[str, float] = {}
    if registrars is not None:
        for r in registrars.dropna(subset=["sla_hours"]).itertuples():
            slas[str(r.registrar).casefold()] = float(r.sla_hours)
    registrar_of = _first_by_zone(inventory, "registrar")
    observations = _ds_observations(ds)
    rows = []
    for c in tickets.itertuples():
        registrar = registrar_of.get(c.zone)
        sla = slas.get((registrar or "").casefold())
        source = "registrars.csv" if sla is not None else "default"
        sla = default_sla_hours if sla is None else sla
        row: dict[str, Any] = {
            "ticket": c.ticket,
            "zone": c.zone,
            "key_tag": c.key_tag,
            "implemented_at": c.implemented_at,
            "registrar": registrar,
            "sla_hours": sla,
            "sla_source": source,
        }
        after = [(at, tag) for at, tag in observations.get(c.zone, []) if at >= c.implemented_at]
        if pd.isna(c.key_tag):
            row["status"] = "no_key_tag"
        elif not after:
            row["status"] = "not_observed"
        else:
            row.update(_ds_appearance(after, c.key_tag, c.implemented_at, sla))
        rows.append(row)
    return DS_PUBLICATION.frame(rows)


def _ds_observations(ds: pd.DataFrame) -> dict[str, list[tuple[pd.Timestamp, Any]]]:
    """Each zone's DS rows as ``(observed_at, key_tag)`` pairs, in frame order (rows without
    an observation time left out; a null key tag: the run saw no DS)."""
    out: dict[str, list[tuple[pd.Timestamp, Any]]] = {}
    for zone, at, tag in zip(ds["zone"], ds["observed_at"], ds["key_tag"], strict=True):
        if not pd.isna(at):
            out.setdefault(zone, []).append((at, tag))
    return out


def _ds_appearance(
    after: list[tuple[pd.Timestamp, Any]], key_tag: int, submitted: pd.Timestamp, sla: float
) -> dict[str, Any]:
    """Status (and first sighting) of the DS ``key_tag`` submitted at ``submitted``, from the
    zone's DS observations made since (not empty)."""
    deadline = submitted + sla * HOUR
    hits = [at for at, tag in after if not pd.isna(tag) and tag == key_tag]
    if not hits:
        return {"status": "missing" if max(at for at, _ in after) >= deadline else "pending"}
    first = min(hits)
    hours = (first - submitted) / HOUR
    if hours <= sla:
        status = "on_time"
    elif any(deadline <= at < first for at, _ in after):
        status = "late"
    else:
        status = "unmeasured"
    return {"first_seen_at": first, "hours": hours, "status": status}
