"""The maturity model: the score arithmetic on a hand-built portfolio, each gate, the levels,
weights from policy.yaml, not-evidenced vs not-applicable, and explain() summing back to every
score exactly."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from toolkit.assessment.maturity import PORTFOLIO, level_for, score
from toolkit.inputs.maturity_settings import INDICATOR_NAMES, INDICATORS, Gate, MaturitySettings
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.inputs.policy_settings import Settings
from toolkit.schemas import FINDINGS, INVENTORY, ZONES

# Only four indicators weigh in the arithmetic tests: the numbers can be checked by hand.
KEEP = {"chain_status": 2, "delegation_secure": 1, "change_approval": 1, "ownership": 1}
WEIGHTS = {name: float(KEEP.get(name, 0)) for name in INDICATOR_NAMES}
POLICIES = PolicySet(
    {"standard": SigningPolicy("standard", "", (13,), 90, 365, 5.0)},
    "standard",
    Settings(maturity=MaturitySettings(indicator_weights=WEIGHTS)),
)


def findings(*rows):
    pillars = {
        "key_changes_approved": "operational",
        "change_approval_segregated": "operational",
        "zone_has_owner": "governance",
    }
    return FINDINGS.frame(
        {"zone": z, "check_id": c, "status": s, "pillar": pillars.get(c, "technical"),
         "severity": "high", "message": f"{c} {s}", "evidence": "test"}
        for z, c, s in rows
    )  # fmt: skip


def portfolio(tier_b=3):
    inv = INVENTORY.frame(
        [{"zone": "a.test", "risk_tier": 1}, {"zone": "b.test", "risk_tier": tier_b}]
    )
    zones = ZONES.frame(
        [
            {"zone": "a.test", "status": "secure", "signed": True, "algorithms": "13"},
            {"zone": "b.test", "status": "bogus", "signed": True, "algorithms": "13"},
        ]
    )
    f = findings(
        ("a.test", "zone_signed_as_expected", "pass"),
        ("a.test", "ds_published_for_signed_zone", "fail"),
        ("a.test", "key_changes_approved", "indeterminate"),
        ("a.test", "change_approval_segregated", "pass"),
        ("a.test", "zone_has_owner", "pass"),
        ("b.test", "zone_signed_as_expected", "pass"),
        ("b.test", "ds_published_for_signed_zone", "pass"),
        ("b.test", "zone_has_owner", "fail"),
    )
    return f, zones, inv


def test_score_arithmetic_by_hand():
    m = score(*portfolio(), POLICIES)
    s = m.scores.set_index("zone")
    # a.test: chain 1 (w2), delegation 1/2 (w1) -> 100*2.5/3; change approval 1/2 (one
    # finding not evidenced); owner 1
    assert s.loc["a.test", "technical"] == pytest.approx(250 / 3)
    assert s.loc["a.test", "operational"] == pytest.approx(50)
    assert s.loc["a.test", "governance"] == pytest.approx(100)
    assert s.loc["a.test", "overall"] == pytest.approx(0.4 * 250 / 3 + 0.35 * 50 + 0.25 * 100)
    # b.test: bogus chain 0, delegation 1 -> 100/3; change approval not evidenced -> 0; no owner
    assert s.loc["b.test", "technical"] == pytest.approx(100 / 3)
    assert s.loc["b.test", "operational"] == 0 and s.loc["b.test", "governance"] == 0
    assert s.loc["b.test", "overall"] == pytest.approx(0.4 * 100 / 3)
    # portfolio: tier 1 weighs 3, tier 3 weighs 1
    expected = (3 * s.loc["a.test", "overall"] + 1 * s.loc["b.test", "overall"]) / 4
    assert s.loc[PORTFOLIO, "overall"] == pytest.approx(expected)
    assert s.loc[PORTFOLIO, "technical"] == pytest.approx((3 * 250 / 3 + 100 / 3) / 4)
    assert list(s["score_level"]) == [4, 1, 3]  # 75.8, 13.3, 60.2
    ind = m.indicators.set_index(["zone", "indicator"])
    assert ind.loc[("b.test", "change_approval"), "status"] == "not_evidenced"
    assert ind.loc[("b.test", "change_approval"), "score"] == 0


def test_explain_sums_back_to_every_score_exactly():
    m = score(*portfolio(), POLICIES)
    for zone in ["a.test", "b.test", None]:
        for pillar in [None, "technical", "operational", "governance"]:
            e = m.explain(zone, pillar)
            assert math.fsum(e.indicators["contribution"]) == e.score, (zone, pillar)
            row = m.scores.set_index("zone").loc[zone or PORTFOLIO]
            assert e.score == float(row[pillar or "overall"])
            assert set(e.indicators.columns) >= {"indicator", "weight", "score", "contribution"}
    e = m.explain("a.test")
    assert e.level == 4 and e.pillar == "overall"
    chain = e.evidence[e.evidence["indicator"] == "chain_status"]
    assert set(chain["source"]) == {"zones"} and "secure" in set(chain["status"])
    owner = e.evidence[e.evidence["indicator"] == "ownership"]
    assert list(owner["check_id"]) == ["zone_has_owner"]
    with pytest.raises(KeyError):
        m.explain("nowhere.test")


def test_explain_of_the_sample_assessment_sums_back(tmp_path):
    from datetime import UTC, datetime

    from governance_fakes import store_sample_run

    from toolkit.assessment.assess import assess

    store_sample_run(tmp_path, datetime(2026, 11, 28, 6, tzinfo=UTC))
    m = assess(None, tmp_path, now=datetime(2026, 11, 28, 12, tzinfo=UTC)).maturity
    for zone in [*m.scores["zone"]]:
        for pillar in [None, "technical", "operational", "governance"]:
            e = m.explain(zone, pillar)
            assert math.fsum(e.indicators["contribution"]) == e.score
    weights = m.explain(None).indicators
    assert weights["weight"].notna().all() and (weights["contribution"] >= 0).all()


def test_not_applicable_indicators_leave_the_mean_but_not_evidenced_ones_count_zero():
    f, zones, inv = portfolio()
    # change approval: only not-applicable findings for a.test -> left out of its pillar
    f = f[~((f["zone"] == "a.test") & f["check_id"].str.startswith(("key_", "change_")))]
    f = FINDINGS.cast(
        pd.concat([f, findings(("a.test", "change_approval_segregated", "not_applicable"))])
    )
    s = score(f, zones, inv, POLICIES).scores.set_index("zone")
    assert pd.isna(s.loc["a.test", "operational"])
    assert s.loc["a.test", "overall"] == pytest.approx((0.4 * 250 / 3 + 0.25 * 100) / (0.4 + 0.25))


def test_indeterminate_findings_never_raise_a_score():
    f, zones, inv = portfolio()
    base = score(f, zones, inv, POLICIES).scores.set_index("zone").loc["a.test", "governance"]
    f = FINDINGS.cast(pd.concat([f, findings(("a.test", "zone_has_owner", "indeterminate"))]))
    after = score(f, zones, inv, POLICIES).scores.set_index("zone").loc["a.test", "governance"]
    assert after == pytest.approx(50) and after < base


@pytest.mark.parametrize(
    ("tier_b", "gates", "portfolio_level"),
    [
        pytest.param(1, {"bogus-tier-1", "zone-without-owner"}, 2, id="bogus-tier-1-caps-at-2"),
        pytest.param(3, {"zone-without-owner"}, 3, id="bogus-tier-3-is-not-gated"),
    ],
)
def test_bogus_and_owner_gates(tier_b, gates, portfolio_level):
    low = MaturitySettings(indicator_weights=WEIGHTS, levels=(10.0, 20.0, 30.0, 40.0))
    m = score(*portfolio(tier_b), replace(POLICIES, settings=Settings(maturity=low)))
    s = m.scores.set_index("zone")
    assert set(m.gates["gate"]) == gates
    assert s.loc[PORTFOLIO, "score_level"] == 5  # the score alone says level 5
    assert s.loc[PORTFOLIO, "level"] == portfolio_level
    assert set(s.loc[PORTFOLIO, "gates"].split(";")) == gates
    assert s.loc["b.test", "gates"] == ";".join(sorted(gates))  # b.test triggers them all


def test_unapproved_change_gate_caps_a_zone_at_3():
    f, zones, inv = portfolio()
    f = FINDINGS.cast(pd.concat([f, findings(("a.test", "key_changes_approved", "fail"))]))
    weights = {**WEIGHTS, "change_approval": 0.0}  # the fail must not move the score itself
    policies = replace(POLICIES, settings=Settings(maturity=MaturitySettings(
        indicator_weights=weights)))  # fmt: skip
    m = score(f, zones, inv, policies)
    a = m.scores.set_index("zone").loc["a.test"]
    assert (a["score_level"], a["level"], a["gates"]) == (4, 3, "unapproved-change")
    assert pd.isna(a["operational"])  # no weighted operational indicator left
    gate = m.gates[m.gates["gate"] == "unapproved-change"].iloc[0]
    assert gate["zone"] == "a.test" and "key_changes_approved" in gate["evidence"]


def test_gate_without_trigger_leaves_level_alone():
    f, zones, inv = portfolio()
    f = f[~((f["zone"] == "b.test") & (f["check_id"] == "zone_has_owner"))]
    m = score(f, zones, inv, POLICIES)
    assert m.gates.empty
    s = m.scores.set_index("zone")
    assert (s["level"] == s["score_level"]).all() and s["gates"].isna().all()


def test_gates_weights_and_levels_come_from_policy():
    f, zones, inv = portfolio()
    cfg = MaturitySettings(
        pillar_weights={"technical": 1.0, "operational": 0.0, "governance": 0.0},
        tier_weights={1: 1.0, 2: 1.0, 3: 1.0, None: 1.0},
        indicator_weights=WEIGHTS,
        levels=(10.0, 20.0, 30.0, 40.0),
        gates=(Gate("no-split", "check_fails", 4, checks=("ds_published_for_signed_zone",)),),
    )
    m = score(f, zones, inv, replace(POLICIES, settings=Settings(maturity=cfg)))
    s = m.scores.set_index("zone")
    assert s.loc["a.test", "overall"] == pytest.approx(250 / 3)
    assert s.loc[PORTFOLIO, "overall"] == pytest.approx((250 / 3 + 100 / 3) / 2)
    assert s.loc["a.test", "score_level"] == 5 and s.loc["a.test", "level"] == 4
    assert s.loc["b.test", "level"] == 4 and s.loc["b.test", "gates"] is not None
    assert list(m.gates["zone"]) == ["a.test"]


def test_portfolio_wide_finding_applies_to_every_zone():
    f, zones, inv = portfolio()
    f = FINDINGS.cast(pd.concat([f, findings((PORTFOLIO, "key_changes_approved", "fail"))]))
    m = score(f, zones, inv, POLICIES)
    s = m.scores.set_index("zone")
    assert s.loc["b.test", "operational"] == 0  # the portfolio-wide fail counts for b.test
    assert (s["level"] <= 3).all()


@pytest.mark.parametrize(
    ("value", "level"), [(0, 1), (39.99, 1), (40, 2), (59.9, 2), (60, 3), (75, 4), (90, 5)]
)
def test_levels(value, level):
    assert level_for(value, (40, 60, 75, 90)) == level


def test_every_check_pillar_has_a_catch_all_indicator():
    pillars = {i.pillar for i in INDICATORS if i.grade == "other"}
    assert pillars == {"technical", "operational", "governance"}


def test_maturity_scorer_scores_a_run_as_score_does():
    """The scorer the history's trends take (passed in from the assessment, which history may
    not import) gives the portfolio's overall score and level of :func:`score`, and nothing for
    a run without an inventory."""
    from toolkit.assessment.maturity import maturity_scorer

    f, zones, inv = portfolio()
    m = score(f, zones, inv, POLICIES)
    scorer = maturity_scorer(POLICIES)
    got = scorer({"findings": f, "zones": zones, "inventory": inv})
    assert got == (round(float(m.portfolio["overall"]), 2), int(m.portfolio["level"]))
    assert scorer({"findings": f, "zones": zones, "inventory": inv.iloc[0:0]}) is None
    assert scorer({"findings": f, "zones": zones}) is None
