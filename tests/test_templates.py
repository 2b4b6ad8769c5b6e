"""The report fragments' Jinja2 environment: autoescape, nulls shown empty, undefined names fail."""

from __future__ import annotations

import jinja2
import pandas as pd
import pytest

from toolkit.reports import render, templates
from toolkit.reports.html import notice_html


def test_the_override_variable_is_the_renderers():
    assert templates.TEMPLATES_ENV == render.TEMPLATES_ENV


def test_untrusted_text_is_escaped_in_a_fragment():
    out = notice_html('<script>alert("x")</script>', "a & b <i>", kind="warning")
    assert "<script>" not in out and "<i>" not in out
    assert "&lt;script&gt;" in out and "a &amp; b &lt;i&gt;" in out
    assert 'class="notice notice-warning"' in out


@pytest.mark.parametrize("null", [None, pd.NA, float("nan")])
def test_null_values_render_as_nothing(null):
    out = notice_html("Title", null)
    assert out.endswith("<p></p></div>")


def test_an_undefined_name_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        templates.render("common/notice.html.j2", title="t", kind="info")


def test_an_unknown_notice_kind_is_refused():
    with pytest.raises(ValueError, match="notice kind"):
        notice_html("t", "x", kind="danger")


HOSTILE = '<script>alert("x")</script>\'"&'


def _no_raw_markup(out: str) -> None:
    assert "<script>" not in out
    assert "&lt;script&gt;" in out


def test_title_block_and_cover_escape_inventory_text():
    from toolkit.reports.html import ReportInfo, cover_html, title_block_html

    info = ReportInfo(
        title="T",
        organisation=HOSTILE,
        period="2026Q4",
        as_of="2026-12-06",
        run_id="r1",
        classification="INTERNAL",
        report_id="RID",
    )
    for out in (title_block_html(info), cover_html(info, [(HOSTILE, HOSTILE)], note=HOSTILE)):
        _no_raw_markup(out)
        assert '"x"' not in out and "'\"" not in out
    assert '<dd class="report-id">RID</dd>' in title_block_html(info)


def test_action_table_escapes_zone_names_owners_and_reasons():
    from toolkit.reports.html import action_table_html

    groups = pd.DataFrame(
        [
            {
                "status": "bogus",
                "zones": 1,
                "zone_names": [(HOSTILE, "xn--" + HOSTILE)],
                "risk_tier": 1,
                "owners": [HOSTILE],
                "action": HOSTILE,
                "why": HOSTILE,
            },
            {
                "status": "<b>",
                "zones": 3,
                "zone_names": [(HOSTILE, None), ("b.example", None)],
                "risk_tier": None,
                "owners": [],
                "action": "x",
                "why": None,
            },
        ]
    )
    out = action_table_html(groups)
    _no_raw_markup(out)
    assert out.count("&lt;script&gt;") == 6
    assert 'class="status-unknown"' in out and "<b>" not in out
    assert '<span class="none-named">none named</span>' in out and " and 1 more" in out
    assert '<td class="col-tier">—</td>' in out


def test_headings_figures_and_toc_escape_text_but_keep_our_markup():
    from toolkit.reports.html import (
        figure_html,
        fill_toc,
        heading_html,
        section_html,
        toc_placeholder_html,
    )

    h = heading_html(HOSTILE, level=3, anchor="a-1", toc=True)
    assert h.startswith('<h3 id="a-1" data-toc="2">') and h.endswith("</h3>")
    _no_raw_markup(h)
    _no_raw_markup(section_html(HOSTILE, HOSTILE))
    fig = figure_html("<svg/>", HOSTILE, title=HOSTILE, note=HOSTILE)
    assert fig.startswith('<figure class="chart"><h3>')  # the heading is ours: not escaped
    assert 'alt="&lt;script&gt;alert(&#34;x&#34;)' in fig
    toc = fill_toc(toc_placeholder_html() + h)
    assert '<li class="toc-level-2"><a href="#a-1">&lt;script&gt;' in toc


def test_board_fragments_escape_zone_owner_and_risk_text():
    from datetime import UTC, date, datetime

    from toolkit.reports.board import BoardView
    from toolkit.reports.board_html import decisions_html, rag_table_html, risks_table_html

    risks = pd.DataFrame(
        [
            {
                "title": HOSTILE,
                "risk": HOSTILE,
                "zone_list": HOSTILE,
                "owner": HOSTILE,
                "severity": "<b>high",
                "due": date(2027, 1, 1),
            }
        ]
    )
    tier1 = pd.DataFrame(
        [
            {
                "rag": '"><script>',
                "zone": "a.example",
                "zone_unicode": HOSTILE,
                "owner": None,
                "status": HOSTILE,
                "score": None,
                "level": None,
                "open": None,
                "why": HOSTILE,
            }
        ]
    )
    decisions = [{"severity": "x", "ask": HOSTILE, "why": HOSTILE, "checks": HOSTILE}]
    view = BoardView(
        available=True,
        reason="",
        period="2026Q4",
        as_of=datetime(2026, 12, 6, tzinfo=UTC),
        risks=risks,
        open_risks=3,
        decisions=decisions,
        tier1=tier1,
    )
    for out in (risks_table_html(view), rag_table_html(view), decisions_html(view)):
        _no_raw_markup(out)
        assert "<b>" not in out
    rag = rag_table_html(view)
    assert '<tr class="rag-unknown">' in rag and '<span class="none-named">none named</span>' in rag
    assert 'class="severity sev-info"' in risks_table_html(view)
    assert "1 of 3 open risks shown" in risks_table_html(view)
