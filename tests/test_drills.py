"""Drills on the real lab: every drill's fault is caught by the expected rule at the expected
step (and nothing fires in the control drill), the diffs and rollover phases of the drill
timelines, the drill record in drills.csv's columns, the lab restored afterwards; the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pandas as pd
import pytest

from toolkit import history
from toolkit.cli.main import main
from toolkit.inputs.governance.drills import load_drills
from toolkit.lab import LabInfo
from toolkit.lab.drills import DRILLS, DrillResult, drill_list, run_drill
from toolkit.lab.publish import served_files
from toolkit.store.runs import Store

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def played(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], DrillResult]:
    """Plays each drill once per module, on the session's lab, and remembers the result."""
    done: dict[str, DrillResult] = {}
    before = {f.file: f.file.read_bytes() for f in served_files(lab.dir)}

    def play(name: str) -> DrillResult:
        if name not in done:
            out = tmp_path_factory.mktemp(f"drill-{name}")
            done[name] = run_drill(name, lab.dir, out, now=datetime.now(UTC))
        return done[name]

    play.before = before  # type: ignore[attr-defined]
    return play


@pytest.mark.parametrize("name", list(DRILLS))
def test_each_drill_is_caught_by_the_expected_rule_at_the_expected_step(played, name):
    result = played(name)
    drill = DRILLS[name]
    assert result.outcome == "passed", (result.missed, result.unexpected, result.record)
    fired = {(r.rule, r.step) for r in result.detections.itertuples()}
    for e in drill.expected:
        assert (e.rule, e.step) in fired
        first = result.detections[result.detections["rule"] == e.rule]["step"].min()
        assert first == e.step  # not earlier: no false alarm before the fault
    if not drill.expected:
        assert result.detections.empty


def test_drill_runs_are_labelled_simulated_and_step_times_injected(played):
    result = played("signatures-expire")
    runs = history.load_history(result.workspace).runs
    assert runs["simulated"].all() and set(runs["label"]) == {"drill:signatures-expire"}
    expected = [pd.Timestamp(s.at) for s in result.steps]
    assert list(runs["created_at"]) == expected
    assert [s.status for s in result.steps] == ["secure", "secure", "secure", "bogus"]
    trend = history.signature_trend(history.load_history(result.workspace))
    assert list(trend["min_rrsig_days_left"].round(0)) == [14, 9, 5, -1]


def test_zsk_rollover_timeline_on_the_lab(played):
    h = history.load_history(played("zsk-rollover").workspace)
    assert list(history.timeline(h)["phases"]) == [
        "stable",
        "zsk_prepublish",
        "zsk_retire",
        "stable",
    ]
    ro = history.rollovers(h)
    assert len(ro) == 1
    r = ro.iloc[0]
    assert (r["kind"], r["method"], r["status"]) == ("zsk", "pre-publication", "completed")
    assert r["duration_days"] == 2.0 and bool(r["within_window"])
    ch = history.changes(h)
    assert list(ch["change"]) == [
        "dnskey_added",
        "signing_started",
        "signing_stopped",
        "dnskey_removed",
    ]
    assert history.faults(h).empty


def test_ksk_drill_timeline_shows_double_ds_then_the_fault(played):
    result = played("ksk-early-ds-withdrawal")
    h = history.load_history(result.workspace)
    tl = history.timeline(h)
    assert list(tl["phases"])[1] == "ksk_double_ds"
    faults = history.faults(h)
    assert list(faults["fault"]) == ["ds_withdrawn_sole_match"]
    assert faults.iloc[0]["run_id"] == result.steps[2].run_id
    ch = history.changes(h)
    at3 = set(ch[ch["run_id"] == result.steps[3].run_id]["change"])
    assert {"dnskey_added", "dnskey_removed", "status_changed"} <= at3
    kg = history.last_known_good(h)
    assert set(kg["run_id"]) == {result.steps[3].run_id}
    r = history.rollovers(h).iloc[0]
    assert (r["kind"], r["method"]) == ("ksk", "double-ds")


def test_the_record_is_a_valid_drills_csv_row(played, tmp_path):
    result = played("ds-never-published")
    record = load_drills(result.directory / "drill-record.csv", zones={"marketing.test"})
    row = record.iloc[0]
    assert row["scenario"] == "ds-never-published" and row["outcome"] == "passed"
    assert "ds_publish_overdue caught it at step 3" in row["lessons"]
    assert bool(row["follow_up_closed"])
    detections = pd.read_csv(result.directory / "detections.csv")
    assert set(detections["rule"]) == {"signed_without_ds", "ds_publish_overdue"}


def test_the_lab_is_restored_after_the_drills(played, lab):
    for name in DRILLS:
        played(name)
    assert {f.file: f.file.read_bytes() for f in served_files(lab.dir)} == played.before
    address, port = lab.resolver("unbound")
    q = dns.message.make_query("payments.test", "SOA", want_dnssec=True)
    resp = dns.query.udp(q, address, port=port, timeout=3)
    assert resp.flags & dns.flags.AD


def test_cli_lab_drill(lab, tmp_path, capsys):
    assert main(["lab", "drill", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in DRILLS)
    assert len(drill_list()) == len(DRILLS)
    assert main(["lab", "drill", "--dir", str(lab.dir)]) == 2
    assert main(["lab", "drill", "nope", "--dir", str(lab.dir)]) == 1
    capsys.readouterr()
    record = tmp_path / "drills.csv"
    argv = ["lab", "drill", "zsk-rollover-unapproved", "--dir", str(lab.dir),
            "--out", str(tmp_path / "d"), "--append-record", str(record)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "outcome: passed" in out and "unapproved_change" in out
    assert len(load_drills(record)) == 1
    assert len(Store(Path(tmp_path / "d" / "workspace")).list_runs()) == 4
