"""The operational and governance checks: the sample portfolio's deliberate gaps are found (and
nothing else fails), a missing record is never a pass, and observed key changes are held
against the change log across runs."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from governance_fakes import SAMPLE, sample_frames, store_sample_run

from toolkit.assessment.assess import assess
from toolkit.checks import Context, default_registry
from toolkit.checks import governance as governance_checks
from toolkit.checks import operational as operational_checks
from toolkit.checks.records import PORTFOLIO
from toolkit.inputs.governance import load_records
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab.zones import generate_lab_keys

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
RUN_AT = NOW - timedelta(hours=6)

# Every deliberate gap of the sample portfolio, and the check that finds it.
DELIBERATE_GAPS = {
    ("partners.test", "dnskey_in_manifest"): "a ZSK missing from the key manifest",
    ("corp.test", "key_rollover_not_overdue"): "a KSK 800 days old, lifetime 365",
    ("shop.test", "ksk_custody_offline"): "a KSK kept online, policy demands hsm/offline",
    ("legacy.test", "change_approval_segregated"): "a KSK rollover approved by its requester",
    ("events.test", "change_approval_segregated"): "a ZSK rollover approved after the fact",
    (PORTFOLIO, "drills_on_schedule"): "the bogus-zone rollback drill missed",
    ("marketing.test", "unsigned_zone_risk_accepted"): "its risk acceptance expired",
    ("marketing.test", "zone_has_owner"): "no owner in the inventory",
    ("brand.test", "ds_publish_within_sla"): "a DS submitted in October never appeared",
    ("brand.test", "unsigned_zone_risk_accepted"): "an island nobody accepted",
    ("legacy.test", "bogus_zone_has_incident"): "a bogus zone with no incident raised",
}
RECORD_CHECKS = [c.id for c, _ in (*operational_checks.CHECKS, *governance_checks.CHECKS)]


@pytest.fixture(scope="module")
def sample_assessment(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    store_sample_run(ws, RUN_AT)
    return assess(None, ws, now=NOW)


def failed(findings: pd.DataFrame, pillars=("operational", "governance")) -> set:
    f = findings[(findings["status"] == "fail") & findings["pillar"].isin(pillars)]
    return set(zip(f["zone"], f["check_id"], strict=True))


def test_every_deliberate_gap_is_found_and_nothing_else(sample_assessment):
    assert failed(sample_assessment.findings) == set(DELIBERATE_GAPS)


def test_gap_messages_name_the_facts(sample_assessment):
    f = sample_assessment.findings.set_index(["zone", "check_id"])["message"]
    keys = generate_lab_keys()
    partners_zsk = keys.zones["partners.test."].zsk.key_tag
    assert str(partners_zsk) in f[("partners.test", "dnskey_in_manifest")]
    assert "KSK 37117" in f[("corp.test", "key_rollover_not_overdue")]
    assert "lifetime 365" in f[("corp.test", "key_rollover_not_overdue")]
    assert "54431 is online" in f[("shop.test", "ksk_custody_offline")]
    assert "CHG-2026-041" in f[("legacy.test", "change_approval_segregated")]
    assert "own requester" in f[("legacy.test", "change_approval_segregated")]
    assert "after it was implemented" in f[("events.test", "change_approval_segregated")]
    assert "missed on 2026-05-20" in f[(PORTFOLIO, "drills_on_schedule")]
    assert (
        "RA-2025-014 expired on 2026-06-30" in f[("marketing.test", "unsigned_zone_risk_accepted")]
    )
    assert "never appeared" in f[("brand.test", "ds_publish_within_sla")]


def test_what_should_pass_passes(sample_assessment):
    f = sample_assessment.findings.set_index(["zone", "check_id"])["status"]
    for key in [
        ("intranet.test", "unsigned_zone_risk_accepted"),  # valid acceptance RA-2026-003
        ("careers.test", "unsigned_zone_risk_accepted"),
        ("events.test", "bogus_zone_has_incident"),  # INC-2026-007 is open
        ("payments.test", "ds_publish_within_sla"),
        ("corp.test", "zone_has_owner"),
        (PORTFOLIO, "roles_assigned"),
        (PORTFOLIO, "policy_reviewed_recently"),
        (PORTFOLIO, "incidents_reviewed"),
        (PORTFOLIO, "drill_followups_closed"),
        (PORTFOLIO, "change_approval_segregated"),  # the policy_change ticket
        ("api.test", "registrar_documented"),
        ("payments.test", "dnskey_in_manifest"),
    ]:
        assert f[key] == "pass", key
    # one run only: changes between runs are not evidenced, never passed
    history = sample_assessment.findings
    assert set(history.loc[history["check_id"] == "key_changes_approved", "status"]) == {
        "indeterminate"
    }


def context(frames, portfolio, now=NOW):
    return Context(frames, portfolio.policies, now, "run")


def test_missing_record_files_are_never_a_pass(tmp_path):
    directory = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, directory)
    for name in ("keys.csv", "changes.csv", "drills.csv", "incidents.csv", "registrars.csv",
                 "exceptions.csv"):  # fmt: skip
        (directory / name).unlink()
    portfolio = load_portfolio(directory)
    frames = {**sample_frames(RUN_AT, portfolio=directory), "inventory": portfolio.inventory}
    findings = default_registry().run(context(frames, portfolio), RECORD_CHECKS)
    needs_records = findings[
        ~findings["check_id"].isin(
            ["zone_has_owner", "signing_policy_assigned", "zone_probed_recently",
             "policy_reviewed_recently", "roles_assigned", "key_changes_approved"]
        )
    ]  # fmt: skip
    assert set(needs_records["status"]) <= {"indeterminate", "not_applicable"}
    assert (needs_records["status"] == "indeterminate").sum() > 0
    texts = set(needs_records.loc[needs_records["status"] == "indeterminate", "message"])
    assert any("keys.csv not given: not evidenced" in t for t in texts)
    assert any("drills.csv not given" in t for t in texts)


def test_missing_policy_file_leaves_policy_facts_not_evidenced(tmp_path):
    directory = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, directory)
    (directory / "policy.yaml").unlink()
    portfolio = load_portfolio(directory)
    frames = {**sample_frames(RUN_AT, portfolio=directory), "inventory": portfolio.inventory}
    ids = ["policy_reviewed_recently", "roles_assigned", "signing_policy_assigned",
           "key_rollover_not_overdue"]  # fmt: skip
    f = default_registry().run(context(frames, portfolio), ids)
    assert set(f["status"]) <= {"indeterminate", "not_applicable"}


def test_policy_without_governance_facts_is_not_evidenced(tmp_path):
    directory = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, directory)
    text = (directory / "policy.yaml").read_text()
    (directory / "policy.yaml").write_text(text[: text.index("# --- organisation-wide")])
    portfolio = load_portfolio(directory)
    frames = {**sample_frames(RUN_AT, portfolio=directory), "inventory": portfolio.inventory}
    f = default_registry().run(
        context(frames, portfolio), ["policy_reviewed_recently", "roles_assigned"]
    )
    assert list(f["status"]) == ["indeterminate", "indeterminate"]
    assert "not evidenced" in f["message"].iloc[0]


def test_overdue_policy_review_and_incomplete_roles(tmp_path):
    directory = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, directory)
    path = directory / "policy.yaml"
    text = path.read_text().replace("last_review: 2026-06-15", "last_review: 2025-06-15")
    path.write_text(text.replace("  registrar_liaison: Domains Desk (S. Patel)\n", ""))
    portfolio = load_portfolio(directory)
    frames = {**sample_frames(RUN_AT, portfolio=directory), "inventory": portfolio.inventory}
    f = (
        default_registry()
        .run(context(frames, portfolio), ["policy_reviewed_recently", "roles_assigned"])
        .set_index("check_id")
    )
    assert f.loc["policy_reviewed_recently", "status"] == "fail"
    assert "2025-06-15" in f.loc["policy_reviewed_recently", "message"]
    assert f.loc["roles_assigned", "message"] == "Not named in policy.yaml: registrar_liaison."


def test_stale_run_fails_coverage(tmp_path):
    store_sample_run(tmp_path, NOW - timedelta(days=30))
    f = assess(None, tmp_path, now=NOW).findings
    cov = f[f["check_id"] == "zone_probed_recently"]
    assert set(cov["status"]) == {"fail"} and "30.0 days ago" in cov["message"].iloc[0]


def test_key_changes_between_runs_are_held_against_the_change_log(tmp_path):
    """Two runs whose keys differ everywhere: changes with an approved ticket pass, others are
    unapproved changes."""
    directory = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, directory)
    other = generate_lab_keys(seed="other")
    new_zsk = other.zones["corp.test."].zsk.key_tag
    new_ksk = other.zones["api.test."].ksk.key_tag
    with (directory / "changes.csv").open("a") as fh:
        fh.write(
            f"CHG-T1,corp.test,zsk_rollover,{new_zsk},r.okoye,m.varga,2026-11-20T09:00:00Z,"
            "2026-11-21T09:00:00Z,implemented,test\n"
            f"CHG-T2,corp.test,ksk_rollover,{other.zones['corp.test.'].ksk.key_tag},r.okoye,"
            "m.varga,2026-11-20T09:00:00Z,2026-11-21T10:00:00Z,implemented,test\n"
            f"CHG-T3,api.test,ksk_rollover,{new_ksk},j.tan,j.tan,2026-11-20T09:00:00Z,"
            "2026-11-21T09:00:00Z,implemented,test\n"
        )
    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(days=14), portfolio=directory)
    store_sample_run(ws, NOW - timedelta(hours=6), key_seed="other", portfolio=directory)
    a = assess(None, ws, now=NOW)
    kc = a.findings[a.findings["check_id"] == "key_changes_approved"].set_index("zone")
    assert kc.loc["corp.test", "status"] == "pass"  # every change covered by CHG-T1/T2
    assert kc.loc["api.test", "status"] == "fail"
    assert "own requester" in kc.loc["api.test", "message"]
    assert kc.loc["payments.test", "status"] == "fail"
    assert "no ticket of payments.test" in kc.loc["payments.test", "message"]
    assert kc.loc["intranet.test", "status"] == "pass"  # unsigned in both runs: no change
    assert kc.loc["old-campaign.test", "status"] == "indeterminate"  # never observed
    assert len(a.frames["key_changes"]) > 0
    levels = a.maturity.scores.set_index("zone")["gates"]
    assert "unapproved-change" in levels["payments.test"]


def test_record_checks_have_operational_or_governance_pillars():
    for check, _ in (*operational_checks.CHECKS, *governance_checks.CHECKS):
        assert check.pillar in ("operational", "governance"), check.id


def test_records_of_the_sample_reference_inventory_zones_only():
    portfolio = load_portfolio(SAMPLE)
    records = load_records(SAMPLE, set(portfolio.inventory["zone"]))
    assert records.get("changes")["zone"].dropna().isin(portfolio.inventory["zone"]).all()
