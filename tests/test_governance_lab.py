"""Reconciliation against the real lab: two stored runs whose DNSKEY and DS sets differ (a
second lab built from another key seed), held against the change log."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from conftest import SECOND_LAB_BASE
from governance_fakes import SAMPLE

from toolkit.assessment.assess import assess
from toolkit.collect import CollectConfig, ResolverSpec, collect_run
from toolkit.lab import lab_down, lab_up
from toolkit.lab.zones import generate_lab_keys

pytestmark = pytest.mark.lab


def config(info) -> CollectConfig:
    return CollectConfig(
        trust_anchor=info.trust_anchor,
        root_hints=info.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in info.resolvers.items()),
        progress=False,
    )


def test_key_changes_between_two_lab_runs_need_approved_tickets(lab, tmp_path):
    portfolio = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, portfolio)
    now = datetime.now(UTC)
    other = generate_lab_keys(seed="other")
    at = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    approved = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    corp, api = other.zones["corp.test."], other.zones["api.test."]
    with (portfolio / "changes.csv").open("a") as fh:
        fh.write(
            f"LAB-1,corp.test,ksk_rollover,{corp.ksk.key_tag},r.okoye,m.varga,{approved},{at},"
            "implemented,lab\n"
            f"LAB-2,corp.test,zsk_rollover,{corp.zsk.key_tag},r.okoye,m.varga,{approved},{at},"
            "implemented,lab\n"
            f"LAB-3,api.test,ksk_rollover,{api.ksk.key_tag},j.tan,j.tan,{approved},{at},"
            "implemented,lab\n"
        )
    ws = tmp_path / "ws"
    first = collect_run(portfolio, ws, config(lab), now=datetime.now(UTC))
    second_dir = tmp_path / "lab2"
    try:
        second_lab = lab_up(second_dir, base=SECOND_LAB_BASE, key_seed="other")
        second = collect_run(portfolio, ws, config(second_lab), now=datetime.now(UTC))
    finally:
        lab_down(second_dir)
    assert first.run_id != second.run_id

    a = assess(portfolio, ws, now=datetime.now(UTC))
    changes = a.frames["key_changes"]
    corp_changes = changes[changes["zone"] == "corp.test"]
    assert set(zip(corp_changes["rrtype"], corp_changes["change"], strict=True)) == {
        ("DNSKEY", "added"),
        ("DNSKEY", "removed"),
        ("DS", "added"),
        ("DS", "removed"),
    }
    assert set(corp_changes.loc[corp_changes["change"] == "added", "key_tag"]) == {
        corp.ksk.key_tag,
        corp.zsk.key_tag,
    }
    kc = a.findings[a.findings["check_id"] == "key_changes_approved"].set_index("zone")
    assert kc.loc["corp.test", "status"] == "pass"
    assert kc.loc["api.test", "status"] == "fail"
    assert "approved by its own requester (j.tan)" in kc.loc["api.test", "message"]
    assert kc.loc["payments.test", "status"] == "fail"  # keys changed, no ticket at all
    assert "no ticket of payments.test" in kc.loc["payments.test", "message"]
    assert kc.loc["marketing.test", "status"] == "pass"  # unsigned in both runs
    assert kc.loc["old-campaign.test", "status"] == "indeterminate"  # never observed
    gates = a.maturity.scores.set_index("zone")["gates"]
    assert "unapproved-change" in gates["payments.test"]
    # the manifest no longer matches DNS: the new keys are not listed
    manifest = a.findings[a.findings["check_id"] == "dnskey_in_manifest"].set_index("zone")
    assert manifest.loc["corp.test", "status"] == "fail"
