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


# -- the board's maturity fragment and the audit report's section builders (issue 13 item 2) --


def _board_view(**kw):
    from datetime import UTC, datetime

    from toolkit.reports.board import BoardView

    base = {"available": True, "reason": "", "period": "2026Q4"}
    return BoardView(**{**base, **kw}, as_of=datetime(2026, 12, 6, tzinfo=UTC))


def test_board_maturity_escapes_gates_and_reason():
    from datetime import UTC, datetime

    from toolkit.reports.board import QuarterScore
    from toolkit.reports.board_html import maturity_html

    at = datetime(2026, 12, 1, tzinfo=UTC)
    cur = QuarterScore(
        "2026Q4", "r1", at, 61.25, 3, {"technical": 70.0, "operational": 120.0}, (HOSTILE,)
    )
    prev = QuarterScore(HOSTILE, "r0", at, 58.0, 2, {})
    out = maturity_html(_board_view(current=cur, previous=prev, previous_period="2026Q3"))
    _no_raw_markup(out)
    assert "'\"" not in out and "&amp;" in out
    assert "capped by: &lt;script&gt;" in out
    assert '<div class="kpi-value">61.2<span class="of"> / 100</span>' in out
    assert '<div class="kpi-value change">▲ +3.2</div>' in out
    # a pillar above 100 is drawn full, one without a score says so
    assert 'style="width: 100.0%"' in out and 'style="width: 0.0%"' in out
    assert '<td class="pillar-score">not evidenced</td>' in out
    missing = maturity_html(_board_view(available=False, reason=HOSTILE))
    _no_raw_markup(missing)


def test_board_all_clear_lines():
    from toolkit.reports.board_html import decisions_html, risks_table_html

    view = _board_view()
    assert decisions_html(view).startswith('<p class="all-clear">No decision is needed')
    assert risks_table_html(view) == (
        '<p class="all-clear">No open risk: every assessed check passes.</p>'
    )


def _hostile_findings():
    from toolkit.schemas import FINDINGS

    rows = []
    for i, status in enumerate(["fail", "indeterminate", "pass", "not_applicable", "pass"]):
        rows.append(
            {
                "check_id": "chain_not_bogus",
                "zone": f"z{i}.example{HOSTILE}",
                "status": status,
                "severity": "critical",
                "pillar": HOSTILE,
                "title": HOSTILE,
                "message": HOSTILE,
                "evidence": HOSTILE,
                "references": HOSTILE,
            }
        )
    return FINDINGS.frame(rows)


def test_audit_check_section_escapes_every_data_value():
    from toolkit.reports import audit, audit_html

    findings = _hostile_findings()
    row = audit.check_summary(findings).iloc[0].to_dict()
    cat = {"chain_not_bogus": {"description": HOSTILE, "remediation": HOSTILE}}
    for limit in (1, 10):
        out = audit_html.check_section_html(row, findings, cat, run_id=HOSTILE, limit=limit)
        _no_raw_markup(out)
        assert "'\"" not in out and "&amp;" in out
        assert out.startswith('<section class="check"><h3 ') and out.endswith("</section>")
        assert '<p class="remediation"><b>Remediation:</b> &lt;script&gt;' in out
    assert '<p class="zone-list"><b>Passed:</b> z2.example&lt;script&gt;' in (
        audit_html.check_section_html(row, findings, cat, run_id="r", limit=10)
    )
    assert '<p class="zone-list">Passed: 2 zones (listed' in (
        audit_html.check_section_html(row, findings, cat, run_id="r", limit=1)
    )


def test_audit_requirement_section_escapes_and_says_unmapped():
    from toolkit.reports import audit_html

    findings = _hostile_findings()
    req = {
        "framework": HOSTILE,
        "requirement_id": HOSTILE,
        "title": HOSTILE,
        "status": "fail",
        "check_ids": "chain_not_bogus",
    }
    out = audit_html.requirement_section_html(req, findings, run_id=HOSTILE, limit=1)
    _no_raw_markup(out)
    assert "'\"" not in out
    assert '<p class="zone-list"><b>Passed for:</b> z2.example&lt;script&gt;' in out
    assert " and 1 more." in out
    unmapped = audit_html.requirement_section_html(
        {**req, "check_ids": ""}, findings, run_id="r", limit=1
    )
    _no_raw_markup(unmapped)
    assert "No check of the toolkit is mapped to this requirement." in unmapped


def test_audit_governance_topics_escape_reason_and_findings():
    from toolkit.reports import audit, audit_html

    out = audit_html.governance_topics_html(
        audit.GovernanceView(available=False, reason=HOSTILE), {}, run_id="r", limit=3
    )
    _no_raw_markup(out)
    assert out.count("Not evidenced: &lt;script&gt;") == len(audit.GOVERNANCE_TOPICS)
    findings = _hostile_findings().assign(check_id="dnskey_in_manifest")
    gov = audit.GovernanceView(available=True, findings=findings, records={"keys": findings})
    out = audit_html.governance_topics_html(gov, {}, run_id=HOSTILE, limit=3)
    _no_raw_markup(out)
    assert "<p>Records: keys.csv: 5 rows read.</p>" in out
    assert '<section class="check"><h4 ' in out


def test_audit_ds_proof_and_records_escape_dns_data():
    from datetime import UTC, datetime

    from toolkit.reports import audit_html
    from toolkit.schemas import RECORDS

    at = datetime(2026, 12, 1, tzinfo=UTC)
    proofs = pd.DataFrame(
        [
            {"verdict": "no_ds", "parent": HOSTILE},
            {
                "verdict": "digest_mismatch",
                "parent": HOSTILE,
                "ds_key_tag": 1,
                "ds_algorithm": 13,
                "ds_digest_type": 2,
                "ds_server": HOSTILE,
                "ds_received": at,
                "ds_signed_by": HOSTILE,
                "ds_signature_valid_from": at,
                "ds_signature_valid_until": at,
                "dnskey_key_tag": 4,
                "dnskey_flags": 257,
                "dnskey_server": HOSTILE,
                "dnskey_received": at,
            },
        ]
    )
    records = RECORDS.frame(
        [
            {
                "zone": "a.example",
                "owner_name": HOSTILE,
                "ttl": 300,
                "rrtype": "TXT",
                "rdata": HOSTILE,
            }
        ]
    )
    out = audit_html.ds_proof_html(HOSTILE, HOSTILE, proofs, records, toc=True)
    _no_raw_markup(out)
    assert "'\"" not in out
    assert "publishes no DS record for &lt;script&gt;" in out
    assert "No signed proof of absence was collected." in out
    assert '<pre class="records">&lt;script&gt;' in out
    assert (
        audit_html.records_html(records.iloc[0:0]) == '<p class="empty">No records collected.</p>'
    )
    two = pd.concat([records, records], ignore_index=True)
    assert audit_html.records_html(two).count("\n") == 1


def test_audit_zone_annex_escapes_zone_facts_resolvers_and_findings():
    from datetime import UTC, datetime

    from toolkit.reports import audit_html

    at = datetime(2026, 12, 1, tzinfo=UTC)
    zone = {
        "zone": "a.example",
        "zone_unicode": HOSTILE,
        "status": "bogus",
        "reason_text": HOSTILE,
        "reasons": HOSTILE,
        "owner": HOSTILE,
        "risk_tier": 1,
        "expected_signed": True,
        "parent": HOSTILE,
        "has_ds": True,
        "signed": True,
        "algorithms": "13",
        "ns_answered": 1,
        "ns_servers": 2,
        "min_rrsig_days_left": 3.0,
        "earliest_expiration": at,
        "checked_at": at,
    }
    resolvers = pd.DataFrame(
        [
            {
                "vantage": HOSTILE,
                "resolver": HOSTILE,
                "rcode": "SERVFAIL",
                "ad": False,
                "ede_code": 6,
                "ede_text": HOSTILE,
                "resolver_status": "bogus",
                "latency_ms": 3.0,
                "queried_at": at,
            }
        ]
    )
    out = audit_html.zone_annex_html(
        zone,
        {"checks_failed": 1, "checks_indeterminate": 1},
        resolvers,
        _hostile_findings(),
        toc=True,
    )
    _no_raw_markup(out)
    assert "'\"" not in out
    assert out.startswith('<section class="zone-annex"><h3 ') and out.endswith("</section>")
    assert "<h4>Validating resolvers</h4>" in out and "<h4>Checks</h4>" in out
    assert '<p class="zone-list"><b>Passed (2):</b> &lt;script&gt;' in out


def test_audit_key_figures_and_cells():
    from toolkit.reports import audit, audit_html

    scope = pd.DataFrame(
        {"in_inventory": [True] * 3, "probed": [True] * 3, "servers_answered": [1, 0, None]}
    )
    zones = pd.DataFrame({"status": ["secure", "bogus", "secure"]})
    summary = audit.check_summary(_hostile_findings())
    kf = audit_html.key_figures_html(scope, summary, zones)
    assert kf.startswith('<div class="kpis"><div class="kpi"><div class="kpi-value">3<span')
    assert "1 answered" in kf and kf.count('class="kpi"') == 3
    out = audit_html.check_summary_html(summary)
    _no_raw_markup(out)
    assert '<span class="check-title">&lt;script&gt;' in out
    runs = pd.DataFrame(
        [
            {
                "run_id": HOSTILE,
                "reported": True,
                "created_at": None,
                "tool_version": "1",
                "zones": 1,
                "trust_anchor": HOSTILE,
                "resolvers": "",
            }
        ]
    )
    out = audit_html.runs_table_html(runs)
    _no_raw_markup(out)
    assert ' <span class="badge result-pass">reported</span>' in out
    out = audit_html.run_files_html({"files": {HOSTILE: {"rows": 1, "sha256": HOSTILE}}}, "ab")
    _no_raw_markup(out)
    assert '<span class="hash">ab</span>' in out
    assert audit_html.paragraph(HOSTILE, "note").startswith('<p class="note">&lt;script&gt;')
