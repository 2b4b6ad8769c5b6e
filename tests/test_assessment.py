"""assess(): the orchestration notebooks and the CLI share; ``dnssec-audit assess`` (JSON
shape, table, framework filter, exit codes); ``dnssec-audit inventory export``; and, against
the real lab, the sample portfolio's every deliberate gap found from a collected run."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from governance_fakes import SAMPLE, store_sample_run
from test_governance_checks import DELIBERATE_GAPS

from toolkit.assessment.assess import assess, render_text
from toolkit.cli.main import main
from toolkit.errors import StoreError
from toolkit.inputs.portfolio import load_portfolio
from toolkit.reports.asset_export import EXPORT, enriched_inventory

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
NOW_TEXT = "2026-11-28T12:00:00Z"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    store_sample_run(ws, NOW - timedelta(hours=6))
    return ws


@pytest.fixture(scope="module")
def assessment(workspace):
    return assess(SAMPLE, workspace, now=NOW)


def test_assessment_holds_findings_requirements_and_scores(assessment):
    a = assessment
    assert set(a.findings["pillar"]) == {"technical", "operational", "governance"}
    assert set(a.requirements["framework"]) == {"iso27001", "soc2", "nist-800-53", "nis2", "cis"}
    assert set(a.requirements["status"]) <= {"pass", "fail", "not_evidenced"}
    cm3 = a.requirements.set_index(["framework", "requirement_id"]).loc[("nist-800-53", "CM-3")]
    assert cm3["status"] == "fail" and "legacy.test" in cm3["failing_zones"]
    ev = a.evidence_for("nist-800-53", "CM-3")
    assert {"change_approval_segregated", "key_changes_approved"} <= set(ev["check_id"])
    assert len(a.maturity.scores) == len(a.portfolio.inventory) + 1
    assert a.records.missing == []
    assert {"key_sets", "key_changes", "keys", "changes"} <= set(a.frames)


def test_portfolio_defaults_to_the_one_the_run_was_collected_from(workspace, assessment):
    again = assess(None, workspace, now=NOW)
    pd.testing.assert_frame_equal(again.findings, assessment.findings)


def test_json_document_shape(assessment):
    doc = json.loads(json.dumps(assessment.to_dict()))
    assert {"findings", "requirements", "scores", "run_id", "as_of"} <= set(doc)
    f = doc["findings"][0]
    assert {"zone", "check_id", "severity", "status", "message"} <= set(f)
    r = doc["requirements"][0]
    assert {"framework", "requirement_id", "status", "check_ids"} <= set(r)
    assert isinstance(r["check_ids"], list) and r["check_ids"]
    port = doc["scores"]["portfolio"]
    assert set(port) >= {"overall", "pillars", "level"}
    assert set(port["pillars"]) == {"technical", "operational", "governance"}
    assert 1 <= port["level"] <= 5 and 0 <= port["overall"] <= 100
    zones = {z["zone"]: z for z in doc["scores"]["zones"]}
    assert set(zones) == set(assessment.portfolio.inventory["zone"])
    assert zones["marketing.test"]["gates"] == ["zone-without-owner"]
    assert port["gates"] == ["unapproved-change", "zone-without-owner"]


def test_framework_filter(assessment):
    doc = assessment.to_dict("nis2")
    assert {r["framework"] for r in doc["requirements"]} == {"nis2"}
    ids = {r["requirement_id"] for r in doc["requirements"]}
    assert {"6.7.2(l)", "9.1.2(c)", "6.4"} <= ids
    mapped = assessment.frameworks["nis2"].check_ids()
    assert {f["check_id"] for f in doc["findings"]} <= mapped
    with pytest.raises(KeyError):
        assessment.to_dict("pci")


def test_printed_scores_are_explained_down_to_the_rows(assessment):
    m = assessment.maturity
    for zone in m.scores["zone"]:
        e = m.explain(zone)
        assert math.fsum(e.indicators["contribution"]) == e.score
        shown = round(e.score, 2)
        doc_zone = next(
            (z for z in assessment.to_dict()["scores"]["zones"] if z["zone"] == zone), None
        )
        if doc_zone:
            assert doc_zone["overall"] == shown
        assert not e.evidence.empty


def test_table_rendering(assessment):
    text = render_text(assessment)
    assert "Findings:" in text and "Requirements:" in text and "Maturity" in text
    assert "change_approval_segregated" in text and "(portfolio)" in text
    filtered = render_text(assessment, "cis")
    assert "nist-800-53" not in filtered


def test_cli_assess_json_finds_every_deliberate_gap(workspace, capsys):
    code = main(["assess", "--workspace", str(workspace), "--format", "json", "--now", NOW_TEXT])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    failing = {(f["zone"], f["check_id"]) for f in doc["findings"] if f["status"] == "fail"}
    assert set(DELIBERATE_GAPS) <= failing


def test_cli_assess_table_and_framework(workspace, capsys):
    code = main(["assess", "--workspace", str(workspace), "--framework", "soc2", "--now", NOW_TEXT])
    assert code == 0
    out = capsys.readouterr().out
    assert "CC8.1" in out and "SC-20" not in out


def test_cli_assess_errors(tmp_path, capsys):
    assert main(["assess", "--workspace", str(tmp_path / "empty")]) == 1
    assert "no runs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["assess", "--framework", "pci"])
    assert info.value.code == 2


def test_assess_unknown_run(workspace):
    with pytest.raises(StoreError):
        assess(SAMPLE, workspace, run="nope", now=NOW)


def test_inventory_export(workspace, tmp_path, capsys):
    out = tmp_path / "out" / "assets.csv"
    assert main(["inventory", "export", "--workspace", str(workspace), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    df = pd.read_csv(out)
    assert list(df.columns) == EXPORT.names
    assert len(df) == 14 and not list(out.parent.glob(".*.tmp"))
    row = df.set_index("zone").loc["brand.test"]
    assert (row["dnssec_signed"], row["ds_at_parent"], row["status"]) == (True, False, "insecure")
    assert row["policy"] == "standard" and row["algorithm"] == 13
    assert df.set_index("zone").loc["old-campaign.test", "status"] == "indeterminate"


def test_enriched_inventory_marks_zones_not_in_the_run():
    portfolio = load_portfolio(SAMPLE)
    zones = pd.DataFrame({"zone": [], "signed": [], "has_ds": [], "status": [],
                          "algorithms": [], "checked_at": []})  # fmt: skip
    df = enriched_inventory(portfolio.inventory, zones, portfolio.policies, "r1")
    assert set(df["status"]) == {"not_probed"} and df["dnssec_signed"].isna().all()


def test_export_failure_leaves_no_partial_file(workspace, tmp_path):
    from toolkit.reports.asset_export import export_inventory

    target = tmp_path / "assets.csv"
    target.write_text("previous\n")
    with pytest.raises(StoreError):
        export_inventory(SAMPLE, workspace, target, run="nope")
    assert target.read_text() == "previous\n"


@pytest.mark.lab
def test_assess_on_a_collected_lab_run_finds_every_deliberate_gap(lab, tmp_path, capsys):
    from toolkit.collect import CollectConfig, ResolverSpec, collect_run

    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )
    run = collect_run(SAMPLE, tmp_path / "ws", config, now=datetime.now(UTC))
    assert "findings" not in run.frames  # collection stores observations only
    code = main(
        ["assess", "--workspace", str(tmp_path / "ws"), "--format", "json", "--now", NOW_TEXT]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    failing = {
        (f["zone"], f["check_id"])
        for f in doc["findings"]
        if f["status"] == "fail" and f["pillar"] != "technical"
    }
    assert failing == set(DELIBERATE_GAPS)
    assert doc["scores"]["portfolio"]["level"] <= 3  # gated: no owner, unapproved change


@pytest.mark.parametrize(
    ("filename", "old", "bad", "column"),
    [
        ("policy.yaml", "checks: [zone_has_owner]", "zone_has_ownr", "checks"),
        ("exceptions.csv", "intranet.test,unsigned,", "unsigend", "scope"),
    ],
)
def test_assessment_rejects_inputs_naming_no_check(workspace, tmp_path, filename, old, bad, column):
    """The readers of policy.yaml and exceptions.csv sit below the check catalogue and take
    its ids from the caller: the assessment passes them, so a gate or an acceptance naming a
    check that does not exist stops it with the file, line and field, while the collector
    (which judges neither) reads the same portfolio."""
    import shutil

    from toolkit.errors import InputError

    folder = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, folder)
    text = (folder / filename).read_text(encoding="utf-8")
    good = "zone_has_owner" if column == "checks" else "unsigned"
    (folder / filename).write_text(text.replace(old, old.replace(good, bad)), encoding="utf-8")
    load_portfolio(folder)  # without the ids: not judged here
    with pytest.raises(InputError) as err:
        assess(folder, workspace, now=NOW)
    message = str(err.value)
    assert filename in message and column in message and bad in message and "line" in message
