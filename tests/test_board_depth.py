"""Board report in depth: maturity and its change since last quarter, top risks with due dates,
decisions, tier-1 RAG — rendered from a hand-built workspace with a history of runs (no DNS)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from tests.governance_fakes import store_sample_run
from toolkit.reports import board
from toolkit.reports import render as report
from toolkit.store.runs import Store

pytestmark = pytest.mark.report

Q2 = datetime(2026, 5, 15, 6, tzinfo=UTC)
Q3 = datetime(2026, 8, 15, 6, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("board-depth")
    ws = tmp / "ws"
    for when in (Q2, Q3, NOW):
        store_sample_run(ws, when)
    out = report.render_board_report(ws, tmp / "board.pdf", organisation="Example Org")
    reader = PdfReader(out)
    text = "\n".join(p.extract_text() for p in reader.pages)
    store = Store(ws)
    view = board.board_view(store.load("latest"), store)
    return reader, " ".join(text.split()), view


def test_page_count_is_two_to_four(rendered):
    reader, _, _ = rendered
    assert 2 <= len(reader.pages) <= 4


def test_maturity_level_score_and_change(rendered):
    _, words, view = rendered
    assert view.available and view.current is not None and view.previous is not None
    assert view.previous.period == "2026Q3"
    assert f"Level {view.current.level}" in words
    assert f"{view.current.overall:.1f}" in words
    assert "since last quarter" in words
    for pillar in ("Technical", "Operational", "Governance"):
        assert pillar in words


def test_top_risks_with_owner_and_due_date(rendered):
    _, words, view = rendered
    assert "Top five risks" in words
    assert 1 <= len(view.risks) <= 5
    first = view.risks.iloc[0]
    assert first["due"] == board.due_date(first["severity"], NOW.date())
    assert first["due"].isoformat() in words
    assert "critical 7 days, high 30 days, medium 90 days" in words


def test_decisions_and_sources(rendered):
    _, words, view = rendered
    assert "Decisions the board is asked to take" in words
    assert view.decisions
    assert view.decisions[0]["ask"][:40] in words
    assert "Where these numbers come from" in words
    assert "--format json" in words and "explain()" in words


def test_tier1_rag_table(rendered):
    _, words, view = rendered
    assert "Tier-1 zones at a glance" in words
    assert set(view.tier1["rag"]) <= {"red", "amber", "green"}
    for z in view.tier1["zone"]:
        assert z in words


def test_due_dates_follow_severity():
    d = date(2026, 11, 28)
    assert board.due_date("critical", d) == date(2026, 12, 5)
    assert board.due_date("high", d) == date(2026, 12, 28)
    assert board.due_date("medium", d) == date(2027, 2, 26)


def test_first_quarter_measured_wording():
    assert board.fmt_change(None) == "first quarter measured"
    assert board.fmt_change(2.04) == "up 2.0 points since last quarter"
    assert board.fmt_change(-1.0) == "down 1.0 points since last quarter"


def test_kpi_chart_is_deterministic(rendered):
    from toolkit.reports import board_html

    _, _, view = rendered
    a = board_html.kpi_chart_svg(view.kpis)
    assert a == board_html.kpi_chart_svg(view.kpis)
    assert "<dc:date>" not in a
