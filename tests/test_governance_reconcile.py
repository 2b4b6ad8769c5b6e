"""Each reconciliation rule on small hand-built frames: the history of key sets, the manifest,
key ages, custody, ticket approval, observed changes vs tickets, DS publication vs SLA, risk
acceptances, incidents, drills, coverage, registrars."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from toolkit.history import oversight as ov
from toolkit.history import reconcile as rc
from toolkit.history.key_sets import KEY_SETS, key_set_changes, observed_key_sets, observed_span
from toolkit.inputs.governance import RECORD_SPECS
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.inputs.policy_settings import DrillPolicy
from toolkit.schemas import INVENTORY, RECORDS, ZONES

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
T = pd.Timestamp
POLICIES = PolicySet(
    {"standard": SigningPolicy("standard", "", (13,), 90, 365, 5.0)}, default="standard"
)


def frame(kind, *rows):
    return RECORD_SPECS[kind].schema.frame(
        [{"source_line": i + 2, **r} for i, r in enumerate(rows)]
    )


def inventory(*zones, **columns):
    return INVENTORY.frame({"zone": z, "zone_unicode": z, **columns} for z in zones)


def sets(*observations):
    """KEY_SETS rows from (run, time, zone, rrtype, key_tag, flags) tuples; key_tag None marks a
    set observed empty."""
    rows = []
    for run, when, zone, rrtype, tag, flags in observations:
        row = {"run_id": run, "observed_at": T(when, tz="UTC"), "zone": zone, "rrtype": rrtype}
        if tag is not None:
            row.update(key_tag=tag, flags=flags, algorithm=13, rdata=f"{rrtype}-{zone}-{tag}")
        rows.append(row)
    return KEY_SETS.frame(rows)


# --- history -------------------------------------------------------------------------------


def test_observed_key_sets_keeps_empty_sets_and_skips_unobserved():
    zones = ZONES.frame(
        [
            {"zone": "a.test", "status": "secure", "signed": True, "has_ds": True},
            {"zone": "plain.test", "status": "insecure", "signed": False, "has_ds": False},
            {"zone": "gone.test", "status": "indeterminate"},  # unreachable: nothing known
            # does not exist: no key, but that is no observation of an empty key set
            {"zone": "nx.test", "status": "indeterminate", "signed": False, "has_ds": False},
        ]
    )
    base = {"ttl": 3600, "algorithm": 13}
    records = RECORDS.frame(
        [
            {
                **base,
                "zone": "a.test",
                "rrtype": "DNSKEY",
                "source": "child",
                "server": s,
                "key_tag": 1,
                "flags": 257,
                "rdata": "k1",
            }
            for s in ("ns1", "ns2")
        ]  # fmt: skip
        + [
            {
                **base,
                "zone": "a.test",
                "rrtype": "DS",
                "source": "parent",
                "key_tag": 1,
                "digest_type": 2,
                "rdata": "d1",
            },
            {**base, "zone": "a.test", "rrtype": "RRSIG", "source": "child", "rdata": "sig"},
        ]  # fmt: skip
    )
    ks = observed_key_sets("r1", T("2026-11-01", tz="UTC"), zones, records)
    assert set(zip(ks["zone"], ks["rrtype"], ks["rdata"].fillna("-"), strict=True)) == {
        ("a.test", "DNSKEY", "k1"),  # once, although two servers served it
        ("a.test", "DS", "d1"),
        ("plain.test", "DNSKEY", "-"),
        ("plain.test", "DS", "-"),
    }


def test_one_definition_of_observed_for_key_sets_and_snapshots():
    """The key sets (reconciliation, alerts) and the snapshots (history views, rollovers) read
    the same sides as observed: an indeterminate zone whose servers answered with only a SOA
    is not observed (no "every key removed"), a DS the parent showed is observed even when the
    run could not tell ``has_ds``, an unsigned decided zone is observed empty."""
    from toolkit.history.key_sets import observed_sides
    from toolkit.history.snapshots import snapshots

    at = T("2026-11-01", tz="UTC")
    zones = ZONES.frame(
        [
            {"zone": "soa.test", "status": "indeterminate", "signed": False, "has_ds": False},
            {"zone": "ds.test", "status": "bogus", "signed": True},
            {"zone": "plain.test", "status": "insecure", "signed": False, "has_ds": False},
        ]
    ).assign(run_id="r1", run_at=at)
    base = {"ttl": 3600, "algorithm": 13, "server": "ns1"}
    records = RECORDS.frame(
        [
            {**base, "zone": "soa.test", "rrtype": "SOA", "source": "child", "rdata": "soa"},
            {
                **base,
                "zone": "ds.test",
                "rrtype": "DS",
                "source": "parent",
                "key_tag": 7,
                "digest_type": 2,
                "rdata": "7 13 2 ab",
            },
        ]  # fmt: skip
    ).assign(run_id="r1", run_at=at)
    sides = observed_sides(zones, records)
    expected = {"soa.test": (False, False), "ds.test": (True, True), "plain.test": (True, True)}
    cols = zip(sides["zone"], sides["DNSKEY"], sides["DS"], strict=True)
    got = {z: (bool(k), bool(d)) for z, k, d in cols}
    assert got == expected
    snaps = {s.zone: (s.child_seen, s.parent_seen) for s in snapshots(zones, records)}
    assert snaps == expected
    ks = observed_key_sets("r1", at, zones.drop(columns=["run_id", "run_at"]), records)
    assert set(zip(ks["zone"], ks["rrtype"], ks["rdata"].fillna("-"), strict=True)) == {
        ("ds.test", "DNSKEY", "-"),
        ("ds.test", "DS", "7 13 2 ab"),
        ("plain.test", "DNSKEY", "-"),
        ("plain.test", "DS", "-"),
    }


def test_key_set_changes_between_consecutive_observations():
    ks = sets(
        ("r1", "2026-10-01", "a.test", "DNSKEY", 1, 257),
        ("r1", "2026-10-01", "a.test", "DNSKEY", 2, 256),
        ("r2", "2026-10-08", "a.test", "DNSKEY", 1, 257),
        ("r2", "2026-10-08", "a.test", "DNSKEY", 3, 256),
        ("r3", "2026-10-15", "a.test", "DNSKEY", 1, 257),
        ("r3", "2026-10-15", "a.test", "DNSKEY", 3, 256),
        ("r1", "2026-10-01", "b.test", "DS", None, None),
        ("r3", "2026-10-15", "b.test", "DS", 9, None),  # r2 did not observe b.test's DS set
    )
    ch = key_set_changes(ks)
    cols = ["zone", "rrtype", "change", "key_tag", "after_run"]
    got = set(ch[cols].itertuples(index=False, name=None))
    assert got == {
        ("a.test", "DNSKEY", "removed", 2, "r2"),
        ("a.test", "DNSKEY", "added", 3, "r2"),
        ("b.test", "DS", "added", 9, "r3"),
    }
    b = ch[ch["zone"] == "b.test"].iloc[0]
    assert (b["before_run"], b["before_at"]) == ("r1", T("2026-10-01", tz="UTC"))


def test_no_history_no_changes():
    assert key_set_changes(KEY_SETS.empty()).empty
    assert key_set_changes(sets(("r1", "2026-10-01", "a.test", "DNSKEY", 1, 257))).empty


def test_observed_span_first_and_last_run_that_recorded_the_record():
    ks = sets(
        ("r1", "2026-10-01", "a.test", "DNSKEY", 1, 257),
        ("r2", "2026-10-08", "a.test", "DNSKEY", 1, 257),
        ("r2", "2026-10-08", "a.test", "DNSKEY", 3, 256),
        ("r3", "2026-10-15", "a.test", "DNSKEY", 1, 257),
        ("r1", "2026-10-01", "b.test", "DS", None, None),  # observed empty: not a record
    )
    span = observed_span(ks, by=("zone", "key_tag")).set_index(["zone", "key_tag"])
    assert list(span.index) == [("a.test", 1), ("a.test", 3)]
    assert span.loc[("a.test", 1), "first_observed"] == T("2026-10-01", tz="UTC")
    assert span.loc[("a.test", 1), "last_observed"] == T("2026-10-15", tz="UTC")
    assert span.loc[("a.test", 3), "first_observed"] == T("2026-10-08", tz="UTC")
    assert span.loc[("a.test", 3), "last_observed"] == T("2026-10-08", tz="UTC")
    by_record = observed_span(ks)  # default: per record (zone, type, rdata)
    assert len(by_record) == 2 and by_record["rdata"].notna().all()
    assert observed_span(ks[ks["rdata"].isna()]).empty


# --- the manifest --------------------------------------------------------------------------


KEYS = frame(
    "keys",
    {"zone": "a.test", "key_tag": 1, "role": "ksk", "activated": T("2024-01-01", tz="UTC")},
    {"zone": "a.test", "key_tag": 2, "role": "zsk", "activated": T("2026-10-01", tz="UTC")},
    {"zone": "a.test", "key_tag": 4, "role": "zsk", "published": T("2026-09-01", tz="UTC")},
    {"zone": "a.test", "key_tag": 5, "role": "zsk",
     "planned_retirement": T("2026-06-01", tz="UTC")},
    {"zone": "a.test", "key_tag": 6, "role": "zsk"},
    {"zone": "z.test", "key_tag": 7, "role": "ksk"},
)  # fmt: skip
HISTORY = sets(
    ("r1", "2026-10-01", "a.test", "DNSKEY", 1, 257),
    ("r1", "2026-10-01", "a.test", "DNSKEY", 2, 256),
    ("r1", "2026-10-01", "a.test", "DNSKEY", 6, 256),
    ("r2", "2026-11-27", "a.test", "DNSKEY", 1, 257),
    ("r2", "2026-11-27", "a.test", "DNSKEY", 2, 256),
    ("r2", "2026-11-27", "a.test", "DNSKEY", 3, 256),
)


def test_manifest_reconciliation_each_status():
    m = rc.manifest_reconciliation(KEYS, HISTORY, now=NOW)
    status = dict(zip(m["key_tag"], m["status"], strict=True))
    assert status == {
        1: "listed",
        2: "listed",
        3: "unlisted",  # served, not in the manifest
        4: "never_seen",  # published per the manifest, never in DNS
        5: "retired",
        6: "no_longer_seen",  # was served, is gone, manifest does not retire it
        7: "not_observed",  # z.test's DNSKEY set never observed
    }
    assert m.set_index("key_tag").loc[3, "role"] == "zsk"


def test_key_ages_against_policy_lifetimes():
    inv = inventory("a.test")
    ages = rc.key_ages(KEYS, HISTORY, inv, POLICIES, now=NOW).set_index("key_tag")
    assert ages.loc[1, "status"] == "overdue"
    assert ages.loc[1, "age_days"] == pytest.approx(1062.5)  # NOW is at noon
    assert ages.loc[1, "lifetime_days"] == 365
    assert ages.loc[2, "status"] == "within"
    assert ages.loc[3, "status"] == "age_unknown"  # not in the manifest
    nopolicy = rc.key_ages(KEYS, HISTORY, inv, PolicySet(), now=NOW)
    assert set(nopolicy["status"]) == {"no_policy"}


def test_key_past_planned_retirement_but_still_served():
    keys = frame(
        "keys",
        {"zone": "a.test", "key_tag": 2, "role": "zsk", "activated": T("2026-10-01", tz="UTC"),
         "planned_retirement": T("2026-11-01", tz="UTC")},
    )  # fmt: skip
    ages = rc.key_ages(keys, HISTORY, inventory("a.test"), POLICIES, now=NOW)
    assert ages.set_index("key_tag").loc[2, "status"] == "retirement_passed"


def test_ksk_custody_against_policy_storage():
    keys = frame(
        "keys",
        {"zone": "a.test", "key_tag": 1, "role": "ksk", "storage": "online"},
        {"zone": "b.test", "key_tag": 8, "role": "csk", "storage": "hsm"},
        {"zone": "c.test", "key_tag": 9, "role": "ksk"},
        {"zone": "a.test", "key_tag": 2, "role": "zsk", "storage": "online"},
        {"zone": "d.test", "key_tag": 10, "role": "ksk", "storage": "online",
         "planned_retirement": T("2025-01-01", tz="UTC")},  # retired and not served: ignored
    )  # fmt: skip
    inv = inventory("a.test", "b.test", "c.test", "d.test")
    c = rc.ksk_custody(keys, HISTORY, inv, POLICIES, now=NOW).set_index("key_tag")
    assert dict(c["status"]) == {1: "non_compliant", 8: "compliant", 9: "not_recorded"}
    assert c.loc[1, "allowed"] == "hsm;offline"


def test_zone_policies_first_inventory_row_and_default():
    strict = SigningPolicy("strict", "", (13,), 30, 180, 5.0)
    policies = PolicySet(
        {"standard": POLICIES.get("standard"), "strict": strict}, default="standard"
    )
    inv = INVENTORY.frame(
        [
            {"zone": "a.test", "zone_unicode": "a.test", "policy": "strict"},
            {"zone": "a.test", "zone_unicode": "a.test", "policy": "standard"},  # not the first
            {"zone": "b.test", "zone_unicode": "b.test"},  # none named: the default
            {"zone": "c.test", "zone_unicode": "c.test", "policy": "nope"},  # unknown: none
        ]
    )
    of = rc.zone_policies(inv, policies)
    assert of == {"a.test": strict, "b.test": POLICIES.get("standard"), "c.test": None}
    assert of.get("unlisted.test") is None


# --- change control --------------------------------------------------------------------------


def tickets(*rows):
    base = {"zone": "a.test", "requested_by": "ann", "approved_by": "bob", "status": "implemented"}
    return frame("changes", *({**base, **r} for r in rows))


def test_ticket_review_segregation_and_timing():
    log = tickets(
        {"ticket": "ok", "action": "zsk_rollover", "approved_at": T("2026-10-01", tz="UTC"),
         "implemented_at": T("2026-10-02", tz="UTC")},
        {"ticket": "self", "action": "ksk_rollover", "approved_by": "Ann ",
         "approved_at": T("2026-10-01", tz="UTC"), "implemented_at": T("2026-10-02", tz="UTC")},
        {"ticket": "late", "action": "ds_publish", "approved_at": T("2026-10-05", tz="UTC"),
         "implemented_at": T("2026-10-02", tz="UTC")},
        {"ticket": "none", "action": "sign", "approved_by": None,
         "implemented_at": T("2026-10-02", tz="UTC")},
        {"ticket": "todo", "action": "sign", "approved_by": None, "status": "requested"},
    )  # fmt: skip
    r = rc.ticket_review(log).set_index("ticket")
    assert list(r["approved"]) == [True, False, False, False, True]
    assert "approved by its own requester (Ann )" in r.loc["self", "problem"]
    assert "after it was implemented" in r.loc["late", "problem"]
    assert "names no approver" in r.loc["none", "problem"]
    assert not r.loc["todo", "implemented"]


def change(zone="a.test", rrtype="DNSKEY", kind="added", tag=3, flags=256):
    return {
        "zone": zone, "rrtype": rrtype, "change": kind, "key_tag": tag, "flags": flags,
        "before_at": T("2026-10-01", tz="UTC"), "after_at": T("2026-10-08", tz="UTC"),
    }  # fmt: skip


def reconcile(changes, log):
    from toolkit.history.key_sets import KEY_CHANGES

    return rc.change_reconciliation(KEY_CHANGES.frame(changes), log, window_hours=48)


@pytest.mark.parametrize(
    ("ticket", "approved", "reason"),
    [
        pytest.param({}, True, None, id="approved-ticket"),
        pytest.param({"approved_by": "ann"}, False, "own requester", id="self-approved"),
        pytest.param(
            {"approved_at": T("2026-10-06", tz="UTC")},
            False,
            "after it was implemented",
            id="approved-after",
        ),  # fmt: skip
        pytest.param({"status": "rejected"}, False, "was rejected", id="rejected"),
        pytest.param({"key_tag": 99}, False, "no ticket", id="other-key"),
        pytest.param(
            {"implemented_at": T("2026-09-01", tz="UTC")}, False, "no ticket", id="outside-window"
        ),
        pytest.param(
            {"implemented_at": T("2026-10-09T12:00", tz="UTC")}, True, None, id="inside-window"
        ),
        pytest.param({"action": "ksk_rollover"}, False, "no ticket", id="action-cannot-explain"),
    ],
)
def test_observed_change_matched_to_ticket(ticket, approved, reason):
    base = {
        "ticket": "CHG-1",
        "action": "zsk_rollover",
        "key_tag": 3,
        "approved_at": T("2026-10-02", tz="UTC"),
        "implemented_at": T("2026-10-04", tz="UTC"),
    }
    out = reconcile([change()], tickets({**base, **ticket})).iloc[0]  # fmt: skip
    assert bool(out["approved"]) is approved
    if reason:
        assert reason in out["reason"]


def test_removal_and_ds_changes_match_a_rollover_ticket_without_their_tag():
    log = tickets(
        {"ticket": "CHG-2", "action": "ksk_rollover", "key_tag": 5,
         "approved_at": T("2026-10-02", tz="UTC"), "implemented_at": T("2026-10-04", tz="UTC")},
    )  # fmt: skip
    out = reconcile(
        [
            change(tag=5, flags=257),
            change(kind="removed", tag=4, flags=257),
            change(rrtype="DS", tag=5, flags=None),
            change(rrtype="DS", kind="removed", tag=4, flags=None),
        ],
        log,
    )
    assert out["approved"].all() and set(out["ticket"]) == {"CHG-2"}


def test_an_approved_ticket_wins_over_a_bad_one():
    log = tickets(
        {"ticket": "bad", "action": "zsk_rollover", "approved_by": "ann",
         "approved_at": T("2026-10-02", tz="UTC"), "implemented_at": T("2026-10-04", tz="UTC")},
        {"ticket": "good", "action": "zsk_rollover",
         "approved_at": T("2026-10-02", tz="UTC"), "implemented_at": T("2026-10-05", tz="UTC")},
    )  # fmt: skip
    assert reconcile([change()], log).iloc[0]["ticket"] == "good"


# --- DS publication ----------------------------------------------------------------------------


def ds_sets(*observations):
    return sets(*((run, when, "a.test", "DS", tag, None) for run, when, tag in observations))


@pytest.mark.parametrize(
    ("observations", "status", "hours"),
    [
        pytest.param([("r1", "2026-10-02", 5)], "on_time", 24, id="on-time"),
        pytest.param([("r1", "2026-10-04", None), ("r2", "2026-10-06", 5)], "late", 120, id="late"),
        pytest.param([("r1", "2026-10-20", 5)], "unmeasured", 456, id="unmeasured"),
        pytest.param([("r1", "2026-10-20", None)], "missing", None, id="missing"),
        pytest.param([("r1", "2026-10-01T12:00", None)], "pending", None, id="pending"),
        pytest.param([("r0", "2026-09-01", None)], "not_observed", None, id="not-observed"),
    ],
)
def test_ds_publication_against_registrar_sla(observations, status, hours):
    log = tickets({"ticket": "DS-1", "action": "ds_publish", "key_tag": 5,
                   "implemented_at": T("2026-10-01", tz="UTC")})  # fmt: skip
    regs = frame("registrars", {"registrar": "Reg", "sla_hours": 48.0})
    inv = inventory("a.test", registrar="reg")  # matched case-insensitively
    out = rc.ds_publication(log, ds_sets(*observations), inv, regs, default_sla_hours=72)
    row = out.iloc[0]
    assert (row["status"], row["sla_hours"], row["sla_source"]) == (status, 48, "registrars.csv")
    if hours is not None:
        assert row["hours"] == pytest.approx(hours)


def test_ds_publication_default_sla_and_ticket_without_key_tag():
    log = tickets(
        {"ticket": "DS-1", "action": "ds_publish", "key_tag": 5,
         "implemented_at": T("2026-10-01", tz="UTC")},
        {"ticket": "DS-2", "action": "ds_publish", "implemented_at": T("2026-10-01", tz="UTC")},
        {"ticket": "DS-3", "action": "ds_publish", "key_tag": 5, "status": "cancelled",
         "implemented_at": T("2026-10-01", tz="UTC")},
    )  # fmt: skip
    out = rc.ds_publication(
        log, ds_sets(("r1", "2026-10-03", 5)), inventory("a.test"), None, default_sla_hours=72
    ).set_index("ticket")
    assert list(out.index) == ["DS-1", "DS-2"]  # a cancelled ticket published nothing
    assert (out.loc["DS-1", "status"], out.loc["DS-1", "sla_source"]) == ("on_time", "default")
    assert out.loc["DS-2", "status"] == "no_key_tag"


# --- oversight ---------------------------------------------------------------------------------


def zones_frame(*rows):
    return ZONES.frame(
        {"zone": z, "status": s, "reason_text": s, "checked_at": T("2026-11-27", tz="UTC")}
        for z, s in rows
    )


def test_risk_acceptance_of_unsigned_zones():
    zones = zones_frame(
        ("ok.test", "secure"),
        ("valid.test", "insecure"),
        ("expired.test", "insecure"),
        ("unapproved.test", "insecure"),
        ("none.test", "insecure"),
        ("decided.test", "secure"),
    )
    inv = INVENTORY.frame(
        [{"zone": z} for z in zones["zone"] if z != "decided.test"]
        + [{"zone": "decided.test", "expected_signed": False}]
    )
    exc = frame(
        "exceptions",
        {"exception": "A", "zone": "valid.test", "scope": "unsigned", "approved_by": "ciso",
         "expires": T("2027-01-01", tz="UTC")},
        {"exception": "B", "zone": "expired.test", "scope": "unsigned", "approved_by": "ciso",
         "expires": T("2026-06-30", tz="UTC")},
        {"exception": "C", "zone": "unapproved.test", "scope": "unsigned",
         "expires": T("2027-01-01", tz="UTC")},
        {"exception": "D", "zone": "none.test", "scope": "rrsig_validity_above_floor",
         "approved_by": "ciso", "expires": T("2027-01-01", tz="UTC")},
        {"exception": "E", "zone": "decided.test", "scope": "unsigned", "approved_by": "ciso",
         "expires": T("2027-01-01", tz="UTC")},
    )  # fmt: skip
    out = ov.risk_acceptance(zones, inv, exc, now=NOW).set_index("zone")
    assert dict(out["status"]) == {
        "valid.test": "accepted",
        "expired.test": "expired",
        "unapproved.test": "unapproved",
        "none.test": "none",  # an acceptance of another control does not cover it
        "decided.test": "accepted",  # unsigned by decision: needs one too
    }


def test_bogus_zone_needs_an_incident_open_at_the_time():
    zones = zones_frame(("a.test", "bogus"), ("b.test", "bogus"), ("c.test", "bogus"))
    inc = frame(
        "incidents",
        {"incident": "I-1", "zone": "a.test", "opened_at": T("2026-11-20", tz="UTC")},
        {"incident": "I-2", "zone": "b.test", "opened_at": T("2026-01-01", tz="UTC"),
         "resolved_at": T("2026-01-02", tz="UTC")},
    )  # fmt: skip
    out = ov.bogus_incidents(zones, inc).set_index("zone")
    assert dict(out["status"]) == {
        "a.test": "recorded",
        "b.test": "not_recorded",  # resolved long before the zone went bogus again
        "c.test": "not_recorded",
    }


def test_incident_review_states():
    inc = frame(
        "incidents",
        {"incident": "open", "opened_at": T("2026-11-20", tz="UTC")},
        {"incident": "done", "opened_at": T("2026-01-01", tz="UTC"),
         "resolved_at": T("2026-01-02", tz="UTC"), "lessons": "x", "follow_up_closed": True},
        {"incident": "nolessons", "opened_at": T("2026-01-01", tz="UTC"),
         "resolved_at": T("2026-01-02", tz="UTC")},
        {"incident": "actions", "opened_at": T("2026-01-01", tz="UTC"),
         "resolved_at": T("2026-01-02", tz="UTC"), "lessons": "x", "follow_up_closed": False},
    )  # fmt: skip
    out = ov.incident_review(inc)
    assert list(out["status"]) == ["open", "reviewed", "no_lessons", "follow_up_open"]


DRILLS = frame(
    "drills",
    {"date": T("2025-11-18", tz="UTC"), "scenario": "rollback", "outcome": "partial",
     "follow_up_closed": True},
    {"date": T("2026-05-20", tz="UTC"), "scenario": "rollback", "outcome": "missed"},
    {"date": T("2026-10-01", tz="UTC"), "scenario": "ksk", "outcome": "passed",
     "follow_up_closed": False},
    {"date": T("2026-06-01", tz="UTC"), "scenario": "ds", "outcome": "passed"},
    {"date": T("2027-01-01", tz="UTC"), "scenario": "registrar", "outcome": "passed"},
)  # fmt: skip


def test_drill_schedule_overdue_missed_and_never_held():
    policy = DrillPolicy(cadence_days=180, scenarios=("rollback", "ksk", "registrar"))
    out = ov.drill_schedule(DRILLS, policy, now=NOW).set_index("scenario")
    assert dict(out["status"]) == {
        "rollback": "overdue",
        "ksk": "on_schedule",
        "registrar": "never_held",  # a drill planned in the future does not count
    }
    assert out.loc["rollback", "missed"] == "2026-05-20"
    assert out.loc["rollback", "days_since"] == pytest.approx(375.5)
    anyone = ov.drill_schedule(DRILLS, DrillPolicy(cadence_days=365), now=NOW)
    assert list(anyone["status"]) == ["on_schedule"] and anyone["scenario"].iloc[0] == "*"


def test_drill_followups():
    out = ov.drill_followups(DRILLS, DrillPolicy(followup_max_days=30), now=NOW)
    assert dict(zip(out["scenario"], out["status"], strict=True)) == {
        "rollback": "closed",
        "ksk": "overdue",
        "ds": "not_recorded",
    }
    later = ov.drill_followups(DRILLS, DrillPolicy(followup_max_days=90), now=NOW)
    assert later.set_index("scenario").loc["ksk", "status"] == "open"


def test_probe_coverage():
    zones = ZONES.frame(
        [
            {"zone": "fresh.test", "checked_at": T("2026-11-27", tz="UTC")},
            {"zone": "stale.test", "checked_at": T("2026-11-01", tz="UTC")},
            {"zone": "future.test", "checked_at": T("2026-11-29", tz="UTC")},
        ]
    )
    names = ("fresh.test", "stale.test", "future.test", "new.test")
    inv = INVENTORY.frame({"zone": z} for z in names)
    out = ov.probe_coverage(inv, zones, now=NOW, max_age_days=7).set_index("zone")
    assert dict(out["status"]) == {
        "fresh.test": "fresh",
        "stale.test": "stale",
        "future.test": "fresh",
        "new.test": "not_probed",
    }
    assert out.loc["future.test", "age_days"] == 0


def test_registrar_documentation():
    regs = frame(
        "registrars",
        {"registrar": "Full", "contact": "c", "escalation": "e", "ds_submission": "api",
         "sla_hours": 24.0},
        {"registrar": "Thin", "contact": "c"},
    )  # fmt: skip
    inv = INVENTORY.frame(
        [
            {"zone": "a.test", "registrar": "full"},
            {"zone": "b.test", "registrar": "Thin"},
            {"zone": "c.test", "registrar": "Other"},
            {"zone": "d.test"},
        ]
    )
    out = ov.registrar_documentation(inv, regs).set_index("zone")
    assert list(out["status"]) == ["documented", "incomplete", "undocumented", "no_registrar"]
    assert out.loc["b.test", "missing"] == "escalation;ds_submission;sla_hours"
