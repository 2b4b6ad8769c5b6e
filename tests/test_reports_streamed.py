"""The board and audit reports of a run above the streaming threshold read the streamed
assessment (issue 14): their figures, from DuckDB aggregates over the Parquet parts, equal
those of the in-memory path (assess()) on the same run — headline, maturity and its trend,
top risks, decisions, tier-1 RAG, check summary, requirements; the streamed assessment is
reused when current and made again when stale; the audit PDF names every part with the
SHA-256 of its bytes."""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from governance_fakes import store_sample_run
from pandas.testing import assert_frame_equal

from toolkit.assessment import stream
from toolkit.reports import board_html
from toolkit.reports.board import STREAMED_OPEN, board_view
from toolkit.reports.html import ReportInfo
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
    # a large run's open findings in the KPIs are its streamed assessment's failed technical
    # findings instead of the run judged in memory (not loaded whole): the rest is equal
    opened = [c for c in (*a.kpis.columns, *b.kpis.columns) if c.startswith("open_")]
    assert_frame_equal(
        b.kpis.drop(columns=opened, errors="ignore"), a.kpis.drop(columns=opened, errors="ignore")
    )
    for q in (b.current, b.previous):
        if q is not None:
            row = b.kpis[b.kpis["last_run_id"] == q.run_id].iloc[0]
            assert all(int(row[c]) >= 0 for c in opened)


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
    # the quarters whose open findings were counted over a streamed assessment are marked on
    # the chart, in its text alternative and in the sources; the in-memory board marks none
    marked = streamed.kpis.loc[streamed.kpis[STREAMED_OPEN].fillna(False).astype(bool)]
    assert set(marked["last_run_id"]) == set(streamed.assessed_runs)
    assert STREAMED_OPEN not in whole.kpis
    store = Store(history_ws)
    run = store.load("latest")
    info = ReportInfo("Board", "Example Ltd", "2026Q4", "2026-12-01", run.run_id, "internal")
    assert board_html.STREAMED_MARK in board_html.kpi_chart_svg(streamed.kpis)
    assert board_html.STREAMED_MARK not in board_html.kpi_chart_svg(whole.kpis)
    assert "(streamed count)" in board_html.kpi_chart_alt(streamed.kpis)
    assert "(streamed count)" not in board_html.kpi_chart_alt(whole.kpis)
    assert "history-based checks included" in board_html.sources_html(streamed, run, info)
    assert "history-based checks included" not in board_html.sources_html(whole, run, info)


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


def test_streamed_assessment_remade_when_a_portfolio_record_changes(replica, tmp_path):
    """The same folder, the same run and time, but a portfolio file edited in place: the
    assessment on disk is stale and made again."""
    ws, portfolio, run_id = replica
    copy = tmp_path / "portfolio"
    shutil.copytree(portfolio, copy)
    store = Store(ws)
    out = tmp_path / "assessment"
    stream.streamed_assessment(copy, store, run=run_id, now=NOW, out_dir=out)
    assert stream.is_current(out, run_id, NOW, copy)
    inventory = copy / "inventory.csv"
    text = inventory.read_text()
    assert "\n" in text
    inventory.write_text(text.replace("\n", "\r\n", 1))  # still valid CSV, same rows
    assert not stream.is_current(out, run_id, NOW, copy)
    stamp = (out / "summary.json").stat().st_mtime_ns
    stream.streamed_assessment(copy, store, run=run_id, now=NOW, out_dir=out)
    assert (out / "summary.json").stat().st_mtime_ns != stamp
    assert stream.is_current(out, run_id, NOW, copy)


def test_part_files_hashes_are_the_files(replica):
    ws, portfolio, run_id = replica
    s = stream.streamed_assessment(portfolio, Store(ws), run=run_id, now=NOW)
    files = stream.part_files(s)
    assert set(files["frame"]) >= {*stream.PARTS, "summary", "requirements"}
    for r in files.to_dict("records"):
        assert sha256_file(s.out_dir / r["path"]) == r["sha256"]
    assert int(files.loc[files["frame"] == "findings", "rows"].sum()) == s.findings


def test_audit_figures_streamed_equal_assess(replica, monkeypatch):
    from toolkit.reports import audit
    from toolkit.reports import streamed as st

    ws, _, _ = replica
    store = Store(ws)
    run = store.load("latest")
    monkeypatch.delenv("DNSSEC_AUDIT_STREAM_ABOVE", raising=False)
    whole = audit.governance_view(run, store, framework="iso27001")
    monkeypatch.setenv("DNSSEC_AUDIT_STREAM_ABOVE", "0")
    part = audit.governance_view(run, store, framework="iso27001")
    assert whole.available and part.available and part.streamed is not None
    assert whole.findings is not None and part.findings is None  # never all in memory
    assert_frame_equal(part.requirements, whole.requirements)
    assert_frame_equal(part.check_summary, audit.check_summary(whole.findings))
    assert part.missing_records == whole.missing_records
    a = audit.report_frames(run, store, period="2026Q4", governance=whole)
    b = audit.report_frames(run, store, period="2026Q4", governance=part)
    for name in ("runs", "scope", "chain_zones", "trust_anchor_keys", "check_summary",
                 "zone_annex", "requirements"):  # fmt: skip
        assert_frame_equal(b[name], a[name], obj=name)
    detail = audit.zones_to_detail(run, 10, whole.findings)
    assert audit.zones_to_detail(run, 10, failing=st.failing_zones(part.streamed)) == detail
    assert_frame_equal(
        audit.ds_proofs(run, zones=detail),
        a["ds_proofs"][a["ds_proofs"]["zone"].isin(detail)].reset_index(drop=True),
        check_dtype=False,  # a column's time unit is inferred from the rows present
    )
    # the printed rows of each requirement: those of the in-memory collapse, first 10
    ev = whole.evidence
    collapsed = st.issue_rows(part.streamed, "requirement_evidence", "requirement_id",
                              "framework = ?", ["iso27001"], limit=10)  # fmt: skip
    stats = st.requirement_stats(part.streamed, "iso27001", limit=10)
    assert collapsed
    for req in whole.requirements["requirement_id"]:
        mine = ev[ev["requirement_id"] == req]
        issues = mine[mine["status"].isin(["fail", "indeterminate"])]
        if issues.empty:
            assert req not in collapsed
            continue
        want = audit.collapse_findings(issues).head(10)
        got = collapsed[req]
        key = ["zone", "check_id", "status", "message", "evidence", "zones"]
        assert_frame_equal(
            got[key].astype(str).sort_values(key).reset_index(drop=True),
            want[key].astype(str).sort_values(key).reset_index(drop=True),
            obj=req,
        )
        assert stats[req]["rows"] == len(mine)
        assert stats[req]["zones"] == mine["zone"].nunique()


def test_audit_pdf_of_streamed_run_lists_every_part_with_its_hash(
    history_ws, monkeypatch, tmp_path
):
    import subprocess

    from toolkit.reports.audit import assessment_time
    from toolkit.reports.render import render_audit_report

    monkeypatch.setenv("DNSSEC_AUDIT_STREAM_ABOVE", "0")
    out = tmp_path / "audit.pdf"
    render_audit_report(history_ws, out, framework="iso27001")
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(text.split())  # a hash may wrap inside its table cell
    store = Store(history_ws)
    run = store.load("latest")
    s = stream.load_streamed(stream.default_out_dir(history_ws, run.run_id), store)
    assert pd.Timestamp(s.as_of) == pd.Timestamp(assessment_time(run))  # the report's own
    files = stream.part_files(s)
    assert len(files) >= 8
    for r in files.to_dict("records"):
        assert r["path"] in flat
        assert r["sha256"] in flat, r["path"]
        assert sha256_file(s.out_dir / r["path"]) == r["sha256"]
    assert f"assessments/{run.run_id}" in flat
    assert "table-streamed_parts.csv" in flat
    from pypdf import PdfReader

    attached = set(PdfReader(out).attachments)
    assert "table-streamed_parts.csv" in attached and "table-check_summary.csv" in attached
    assert not attached & {"zones.csv", "records.csv", "queries.csv"}  # frames: the run's
