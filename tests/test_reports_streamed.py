"""The board and audit reports of a run above the streaming threshold read the streamed
assessment (issue 14): their figures, from DuckDB aggregates over the Parquet parts, equal
those of the in-memory path (assess()) on the same run — headline, maturity and its trend,
top risks, decisions, tier-1 RAG, check summary, requirements; the streamed assessment is
reused when current and made again when stale; the audit PDF names every part with the
SHA-256 of its bytes."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from governance_fakes import store_sample_run
from pandas.testing import assert_frame_equal

from toolkit.assessment import stream
from toolkit.reports.board import board_view
from toolkit.store.runs import Store, sha256_file

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def _replicate():
    spec = importlib.util.spec_from_file_location(
        "bench_reports", ROOT / "bench" / "bench_reports.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.replicate


@pytest.fixture(scope="module")
def history_ws(tmp_path_factory):
    """The sample run stored in two quarters: a trend vs the previous quarter."""
    ws = tmp_path_factory.mktemp("hist")
    store_sample_run(ws, NOW - timedelta(days=80))
    store_sample_run(ws, NOW - timedelta(hours=6))
    return ws


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    """The sample run replicated to 300 zones (the benchmark's replication)."""
    tmp = tmp_path_factory.mktemp("rep")
    store_sample_run(tmp / "sample", NOW - timedelta(hours=6))
    ws, portfolio, run_id = _replicate()(tmp / "sample", tmp / "r", 300)
    return ws, portfolio, run_id


def _both(ws: Path, monkeypatch, *, partition_zones: int | None = None, **kw):
    store = Store(ws)
    run = store.load("latest")
    monkeypatch.delenv("DNSSEC_AUDIT_STREAM_ABOVE", raising=False)
    whole = board_view(run, store, **kw)
    monkeypatch.setenv("DNSSEC_AUDIT_STREAM_ABOVE", "0")
    if partition_zones is not None:  # made here in several partitions, then reused
        from toolkit.reports.audit import assessment_time

        stream.streamed_assessment(
            str(run.manifest["parameters"]["portfolio"]),
            store,
            run=run.run_id,
            now=assessment_time(run, kw.get("as_of", "")),
            partition_zones=partition_zones,
        )
    streamed = board_view(run, store, **kw)
    return whole, streamed


def assert_same_board(a, b) -> None:
    assert a.available and b.available, (a.reason, b.reason)
    assert b.current == a.current
    assert b.previous == a.previous
    assert b.assessed_runs == a.assessed_runs
    assert_frame_equal(b.risks, a.risks)
    assert b.open_risks == a.open_risks
    assert b.decisions == a.decisions
    assert_frame_equal(b.tier1, a.tier1)
    assert_frame_equal(b.kpis, a.kpis)


def test_board_of_replicated_run_streamed_in_partitions_equals_assess(replica, monkeypatch):
    ws, _, run_id = replica
    whole, streamed = _both(ws, monkeypatch, partition_zones=64)
    assert_same_board(whole, streamed)
    summary = json.loads((ws / "assessments" / run_id / "summary.json").read_text())
    assert summary["partitions"] >= 5  # the figures were read from several parts
    assert streamed.open_risks > 0 and streamed.decisions and len(streamed.tier1)
    assert streamed.risks["zones"].max() > 3  # "and N more" counted over the parts


def test_board_trend_vs_previous_quarter_streamed_equals_assess(history_ws, monkeypatch):
    whole, streamed = _both(history_ws, monkeypatch)
    assert whole.previous is not None
    assert_same_board(whole, streamed)
    for run_id in streamed.assessed_runs:  # each quarter's run has its streamed assessment
        assert (history_ws / "assessments" / run_id / "summary.json").is_file()


def test_streamed_assessment_reused_when_current_and_remade_when_stale(replica):
    ws, portfolio, run_id = replica
    store = Store(ws)
    out = stream.default_out_dir(ws, run_id)
    first = stream.streamed_assessment(portfolio, store, run=run_id, now=NOW)
    stamp = (out / "summary.json").stat().st_mtime_ns
    again = stream.streamed_assessment(portfolio, store, run=run_id, now=NOW)
    assert (out / "summary.json").stat().st_mtime_ns == stamp  # read back, not made again
    assert again.portfolio_score == first.portfolio_score
    assert_frame_equal(again.requirements, first.requirements)
    later = NOW + timedelta(days=30)
    assert not stream.is_current(out, run_id, later, Path(portfolio))
    remade = stream.streamed_assessment(portfolio, store, run=run_id, now=later)
    assert pd.Timestamp(remade.as_of) == pd.Timestamp(later)
    assert json.loads((out / "summary.json").read_text())["as_of"] == later.isoformat()


def test_part_files_hashes_are_the_files(replica):
    ws, portfolio, run_id = replica
    s = stream.streamed_assessment(portfolio, Store(ws), run=run_id, now=NOW)
    files = stream.part_files(s)
    assert set(files["frame"]) >= {*stream.PARTS, "summary", "requirements"}
    for r in files.to_dict("records"):
        assert sha256_file(s.out_dir / r["path"]) == r["sha256"]
    assert int(files.loc[files["frame"] == "findings", "rows"].sum()) == s.findings
