"""The check catalogue: metadata is complete, results are honest, a broken check cannot hide
the others."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from toolkit.checks import Check, Context, Registry, Result, default_registry, run_checks
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.schemas import FINDINGS, INVENTORY, RESOLVER_CHECKS, ZONES

NOW = datetime(2026, 11, 28, tzinfo=UTC)
POLICIES = PolicySet({"standard": SigningPolicy("standard", "", (13,), 90, 365, 5.0)}, "standard")


def zone(name, status, reasons="", **kw):
    row = dict(
        zone=name,
        zone_unicode=name,
        status=status,
        reasons=reasons,
        reason_text=reasons,
        expected_signed=True,
        signed=status != "insecure" or reasons == "NO_DS_SIGNED",
        has_ds=status in ("secure", "bogus"),
        ns_servers=2,
        ns_answered=2,
        parent="test",
        algorithms="13",
    )
    row.update(kw)
    return row


@pytest.fixture
def frames():
    zones = ZONES.frame(
        [
            zone("ok.test", "secure", min_rrsig_days_left=20.0),
            zone(
                "soon.test",
                "secure",
                "SIG_EXPIRING_SOON",
                min_rrsig_days_left=2.0,
                earliest_expiration=datetime(2026, 11, 30, tzinfo=UTC),
            ),
            zone("broken.test", "bogus", "RRSIG_EXPIRED", min_rrsig_days_left=-3.0),
            zone("island.test", "insecure", "NO_DS_SIGNED", min_rrsig_days_left=20.0),
            zone("plain.test", "insecure", "UNSIGNED", signed=False),
            zone("internal.test", "insecure", "UNSIGNED", signed=False, expected_signed=False),
            zone(
                "gone.test",
                "indeterminate",
                "ZONE_NOT_FOUND",
                signed=None,
                has_ds=None,
                ns_servers=0,
                ns_answered=0,
            ),
            zone("lame.test", "secure", "LAME_SERVER", ns_answered=1, min_rrsig_days_left=20.0),
        ]
    )
    inventory = INVENTORY.frame({"zone": z, "policy": "standard"} for z in zones["zone"])
    checks = RESOLVER_CHECKS.frame(
        {"zone": z, "resolver": "r1", "address": "127.0.0.1", "resolver_status": s}
        for z, s in zip(zones["zone"], zones["status"], strict=True)
        if z != "ok.test"
    )
    extra = RESOLVER_CHECKS.frame(
        [
            {"zone": "ok.test", "resolver": "r1", "resolver_status": "secure"},
            {"zone": "ok.test", "resolver": "r2", "resolver_status": "bogus"},
        ]
    )
    return {
        "zones": zones,
        "inventory": inventory,
        "resolver_checks": pd.concat([checks, extra], ignore_index=True),
    }


def outcome(findings, check_id):
    f = findings[findings["check_id"] == check_id]
    return dict(zip(f["zone"], f["status"], strict=True))


def test_catalogue_metadata_is_complete_and_ids_unique():
    registry = default_registry()
    cat = registry.catalogue()
    assert len(cat) == len(registry) >= 6
    assert cat["check_id"].is_unique
    assert cat["references"].str.len().gt(0).all()
    assert cat.notna().all().all()


def test_each_zone_gets_the_honest_status(frames):
    f = run_checks(frames, POLICIES, now=NOW)
    FINDINGS.check(f)
    assert outcome(f, "chain_not_bogus") == {
        "ok.test": "pass",
        "soon.test": "pass",
        "broken.test": "fail",
        "island.test": "pass",
        "plain.test": "pass",
        "internal.test": "pass",
        "gone.test": "indeterminate",
        "lame.test": "pass",
    }
    signed = outcome(f, "zone_signed_as_expected")
    assert signed["island.test"] == signed["plain.test"] == "fail"
    assert signed["internal.test"] == "not_applicable"
    assert signed["gone.test"] == "indeterminate"
    ds = outcome(f, "ds_published_for_signed_zone")
    assert ds["island.test"] == "fail" and ds["plain.test"] == "not_applicable"
    assert ds["ok.test"] == "pass" and ds["gone.test"] == "indeterminate"
    floor = outcome(f, "rrsig_validity_above_floor")
    assert floor["soon.test"] == floor["broken.test"] == "fail"
    assert floor["ok.test"] == "pass" and floor["plain.test"] == "not_applicable"
    servers = outcome(f, "authoritative_servers_answer")
    assert servers["lame.test"] == "fail" and servers["ok.test"] == "pass"
    assert servers["gone.test"] == "indeterminate"
    agree = outcome(f, "resolvers_agree_with_validation")
    assert agree["ok.test"] == "fail" and agree["broken.test"] == "pass"
    msg = f[(f["check_id"] == "resolvers_agree_with_validation") & (f["zone"] == "ok.test")]
    assert (
        msg["message"].iloc[0] == "r2 disagree: they see the zone as bogus, the toolkit as secure."
    )
    soon = f[(f["check_id"] == "rrsig_validity_above_floor") & (f["zone"] == "soon.test")]
    assert (
        "2.0 days (on 2026-11-30 00:00 UTC), below the floor of 5.0 days" in soon["message"].iloc[0]
    )


def test_without_a_policy_the_floor_is_not_evidenced(frames):
    f = run_checks(frames, PolicySet(), now=NOW)
    floor = outcome(f, "rrsig_validity_above_floor")
    assert floor["ok.test"] == "indeterminate"
    assert "not evidenced" in f[f["check_id"] == "rrsig_validity_above_floor"]["message"].iloc[0]


def test_a_broken_check_is_indeterminate_for_every_zone_and_others_still_run(frames):
    meta = dict(
        title="t",
        severity="low",
        pillar="technical",
        description="d",
        risk="r",
        remediation="m",
        references=("RFC 0",),
        message="m",
    )

    def boom(ctx):
        raise RuntimeError("bad day")

    def fine(ctx):
        yield Result("ok.test", "pass")

    registry = Registry()
    registry.register(Check(id="boom_check", **meta), boom)
    registry.register(Check(id="fine_check", **meta), fine)
    f = registry.run(Context(frames, POLICIES, NOW))
    boom_rows = f[f["check_id"] == "boom_check"]
    assert len(boom_rows) == len(frames["zones"])
    assert (boom_rows["status"] == "indeterminate").all()
    assert boom_rows["evidence"].str.contains("bad day").all()
    assert outcome(f, "fine_check") == {"ok.test": "pass"}
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Check(id="fine_check", **meta), fine)


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("id", "Bad Id", "lower_snake_case"),
        ("severity", "urgent", "severity"),
        ("pillar", "magic", "pillar"),
        ("risk", " ", "risk is empty"),
    ],
)
def test_check_metadata_is_validated(field, value, error):
    meta = dict(
        id="a_check",
        title="t",
        severity="low",
        pillar="technical",
        description="d",
        risk="r",
        remediation="m",
        references=(),
        message="m",
    )
    meta[field] = value
    with pytest.raises(ValueError, match=error):
        Check(**meta)
    with pytest.raises(ValueError, match="status"):
        Result("z", "ok")
