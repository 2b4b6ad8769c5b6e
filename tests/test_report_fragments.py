"""The zone report's and the dashboard's HTML fragments (Jinja2 templates, autoescape) and the
dashboard's matplotlib charts: hostile text stays text, charts are the same bytes every time."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from toolkit.reports import dashboard, zone
from toolkit.reports.charts import inline_svg

HOSTILE = '<script>alert("x")</script> \'q\' & "dq"'
NOW = pd.Timestamp("2026-12-06T12:00Z")


def _assert_text_only(out: str) -> None:
    assert "<script>" not in out and "</script>" not in out
    assert "&lt;script&gt;" in out
    # quotes escaped too, in the HTML (an SVG text node from matplotlib may keep them: harmless)
    html = re.sub(r"<svg.*?</svg>", "", out, flags=re.S)
    assert '"dq"' not in html and "'q'" not in html


def _chain() -> dict[str, pd.DataFrame]:
    return {
        "ds": pd.DataFrame(
            [{"key_tag": 1, "algorithm": 13, "digest_type": HOSTILE, "ok": False, "fault": HOSTILE}]
        ),  # fmt: skip
        "dnskey": pd.DataFrame(
            [
                {
                    "key_tag": 1,
                    "algorithm": 13,
                    "role": "KSK",
                    "has_ds": True,
                    "signs": HOSTILE,
                    "ok": True,
                    "fault": "",
                }
            ]
        ),  # fmt: skip
        "rrsig": pd.DataFrame(
            [
                {
                    "covered": HOSTILE,
                    "key_tag": 1,
                    "algorithm": 13,
                    "expires": "2027-01-01",
                    "ok": True,
                    "fault": "",
                }
            ]
        ),  # fmt: skip
    }


def test_zone_chain_escapes_record_text_and_whitelists_the_status_class():
    out = zone.chain_html(HOSTILE, HOSTILE, _chain(), HOSTILE)
    _assert_text_only(out)
    assert 'class="status status-unknown"' in out
    assert 'class="node node-fault"' in out and "✗ &lt;script&gt;" in out


def test_zone_chain_says_what_is_missing():
    empty = {k: pd.DataFrame() for k in ("ds", "dnskey", "rrsig")}
    out = zone.chain_html("z.test", "test", empty, "insecure")
    for said in ("no DS at the parent", "no DNSKEY", "no signatures", "status-insecure"):
        assert said in out


def test_zone_table_escapes_cells_and_headings():
    df = pd.DataFrame([{"run_id": HOSTILE, "run_at": NOW, "status": "bogus", "reasons": None}])
    cols = [("run_id", HOSTILE), ("run_at", "At"), ("status", "Status"), ("reasons", "Why")]
    out = zone.table_html(df, cols, "none")
    _assert_text_only(out)
    assert "2026-12-06 12:00" in out and '<td class="status-bogus">bogus</td>' in out
    assert "<td></td>" in out  # a null cell is empty, not "None"
    assert zone.table_html(df.iloc[:0], cols, HOSTILE).startswith('<p class="empty">&lt;script')


def test_dashboard_panels_escape_data():
    _assert_text_only(dashboard.header_html(HOSTILE, HOSTILE, HOSTILE, HOSTILE))
    table = pd.DataFrame({s: [1] for s in dashboard.RESOLVER_STATUSES}, index=[HOSTILE])
    _assert_text_only(dashboard.resolver_status_html(table))
    alert = {"severity": "critical", "zone": HOSTILE, "rule": HOSTILE, "message": HOSTILE}
    alerts = pd.DataFrame([{**alert, "first_seen_at": NOW, "acknowledged": False}])
    out = dashboard.alerts_html(alerts)
    _assert_text_only(out)
    assert "Open alerts (1)" in out and 'class="sev sev-critical"' in out
    _assert_text_only(dashboard.alerts_html(alerts, run_id=HOSTILE, evaluated_run=None))
    soon = pd.DataFrame([{"zone": HOSTILE, "zone_unicode": None, "risk_tier": 1,
                          "min_rrsig_days_left": -1.0, "earliest_expiration": NOW}])  # fmt: skip
    horizon = pd.DataFrame({"bucket": [b[0] for b in dashboard.EXPIRY_BUCKETS] + ["unknown"],
                            "zones": [1, 0, 0, 0, 0, 0, 2]})  # fmt: skip
    out = dashboard.expiry_html(horizon, soon, 7)
    _assert_text_only(out)
    assert '<tr class="bad">' in out and "2 signed zones without" in out


def test_no_open_alert_is_said_only_when_there_is_none():
    none = pd.DataFrame(columns=["severity", "zone", "rule", "message", "first_seen_at"])
    assert "No open alert." in dashboard.alerts_html(none)


def _chart(labels: list[str]) -> str:
    return dashboard.bar_chart_svg(
        labels, [("a&b", "#123456", [3] * len(labels)), ("c", "#abcdef", [1.5] * len(labels))],
        title=HOSTILE, unit=" ms", stacked=False,
    )  # fmt: skip


@pytest.mark.parametrize("labels", [["unbound", "<b>bind</b>"], []])
def test_charts_are_deterministic_inline_svg(labels):
    first, second = _chart(labels), _chart(labels)
    assert first == second
    assert first.startswith('<svg class="chart" role="img" ') and first.endswith("</svg>")
    assert "<?xml" not in first and "DOCTYPE" not in first and "<metadata>" not in first
    assert "http://" not in first and "https://" not in first  # nothing a browser could fetch
    assert "<b>" not in first and "a&amp;b" in first and "<script>" not in first
    if labels:
        assert "&lt;b&gt;bind&lt;/b&gt;" in first and "1.5 ms" in first
    else:
        assert "No data" in first


def test_chart_labels_are_not_math():
    svg = dashboard.bar_chart_svg(["$x^2$"], [("n", "#123456", [1])], title="t")
    assert "$x^2$" in svg


def test_inline_svg_refuses_what_is_not_svg():
    with pytest.raises(ValueError, match="no <svg>"):
        inline_svg("<p>hi</p>", "t")


def test_runbook_fragments_escape_the_records():
    from toolkit.reports import runbook

    inv = pd.DataFrame([{"zone": "a.example", "owner": HOSTILE, "registrar": "R1"}])
    reg = {"registrar": "r1", "contact": HOSTILE, "escalation": HOSTILE, "sla_hours": 24}
    regs = pd.DataFrame([{**reg, "ds_submission": "portal", "account_access": "x"}])
    ctx = runbook.zone_context("a.example", inv, regs, {"security_lead": HOSTILE},
                               portfolio="p", workspace="w")  # fmt: skip
    good = pd.DataFrame([{"zone": "a.example", "rrtype": "DS", "ttl": 3600, "at": NOW,
                          "rdata": "1 13 2 <AB>", "run_id": HOSTILE}])  # fmt: skip
    for out in (runbook.contacts_html(ctx), runbook.known_good_html(good),
                runbook.procedures_html(ctx, good)):  # fmt: skip
        _assert_text_only(out)
    proc = runbook.procedures_html(ctx, good)
    assert proc.count('<ol class="procedure">') == 3 and "1 13 2 &lt;AB&gt;" in proc
    assert "<strong>&lt;script&gt;" in proc  # our markup kept, theirs escaped
    assert "No run of the workspace shows this zone secure" in runbook.known_good_html(
        good.iloc[:0]
    )


def test_policy_statement_escapes_the_file(tmp_path):
    import yaml

    from toolkit.reports import statement
    from toolkit.resources import REPO_ROOT

    data = yaml.safe_load((REPO_ROOT / "data/sample-portfolio/policy.yaml").read_text())
    name = next(iter(data["policies"]))
    data["policies"][name]["description"] = HOSTILE
    data["roles"] = {"security_lead": HOSTILE}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    doc = statement.read_policy_document(path)
    intro = statement.introduction_html(doc, HOSTILE, {name: 2})
    for out in (intro, statement.management_html(doc), statement.annex_html(doc)):
        _assert_text_only(out)
    assert '<h2 id="s1" data-toc="1">1 Introduction</h2>' in intro  # our markup kept
    assert 'class="value not-defined"' in statement.technical_html(doc)


def test_headline_counts_past_999_carry_the_thousands_separator():
    """A board member reads '100,000 zones checked', not '100000' beside '42,858'."""
    from toolkit.reports.html import headline_html

    h = {
        "zones": 100000,
        "signed": 71428,
        "signed_pct": 71.4,
        "secure": 49999,
        "secure_pct": 50.0,
        "insecure": 28572,
        "bogus": 14286,
        "indeterminate": 7143,
        "needing_action": 42858,
    }
    out = headline_html(h)
    for text in ("100,000", "71,428 of 100,000", "49,999 of 100,000", "14,286 are bogus"):
        assert text in out, text
    assert "Of the other 50,001 zones" in out
    assert not re.search(r"\b\d{4,}\b", re.sub(r"<[^>]+>", " ", out)), "a count without separator"
