"""Zone report: chain of trust with faults marked, key timeline, findings, history; untrusted
zone data stays text. Built from hand-made runs (no DNS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from pypdf import PdfReader

from tests.governance_fakes import sample_frames, store_sample_run
from toolkit.errors import ReportError
from toolkit.reports import render as report
from toolkit.reports import zone as zone_report
from toolkit.store.runs import Store

pytestmark = pytest.mark.report

Q3 = datetime(2026, 8, 15, 6, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 6, tzinfo=UTC)


def _zone(frames, scenario_zone):
    recs = frames["records"]
    return recs[recs["zone"] == scenario_zone]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = tmp_path_factory.mktemp("zone") / "ws"
    store_sample_run(ws, Q3)
    store_sample_run(ws, NOW)
    return ws


def test_zone_report_shows_key_tags_and_a_failing_check(ws, tmp_path):
    run = Store(ws).load("latest")
    bogus = run["zones"][run["zones"]["reasons"] == "DS_NO_MATCHING_DNSKEY"]["zone"].iloc[0]
    out = report.render_zone_report(ws, tmp_path / "zone.pdf", zone=bogus.upper() + ".")
    words = " ".join("\n".join(p.extract_text() for p in PdfReader(out).pages).split())
    tags = _zone(run.frames, bogus)
    for tag in tags[tags["rrtype"] == "DNSKEY"]["key_tag"].unique():
        assert f"key tag {tag}" in words
    assert "matches no DNSKEY of the zone" in words  # the fault, marked
    assert "fail" in words and "chain_not_bogus" in words
    assert "Key timeline" in words and "History" in words


def test_unknown_zone_is_refused_before_a_kernel(ws, tmp_path):
    with pytest.raises(ReportError, match="not in the run"):
        report.render_zone_report(ws, tmp_path / "x.pdf", zone="nope.example")
    assert not (tmp_path / "x.pdf").exists()


def test_chain_marks_expired_signature_and_escapes_markup():
    frames = sample_frames(NOW)
    recs = frames["records"]
    zone = str(recs[recs["rrtype"] == "DNSKEY"]["zone"].iloc[0])
    rec = recs[recs["zone"] == zone].copy()
    key = rec[rec["rrtype"] == "DNSKEY"].iloc[0]
    sig = {c: None for c in rec.columns}
    sig.update(zone=zone, rrtype="RRSIG", source="child", covered_type="<script>x</script>",
               key_tag=key["key_tag"], algorithm=13, expiration=NOW - pd.Timedelta(days=1),
               inception=NOW - pd.Timedelta(days=30))  # fmt: skip
    rec = pd.concat([rec, pd.DataFrame([sig]).astype(rec.dtypes.to_dict())], ignore_index=True)
    chain = zone_report.chain_frames(rec, NOW)
    assert not chain["rrsig"]["ok"].all()
    html = zone_report.chain_html('<img src="http://192.0.2.1/x">', "test", chain, "bogus")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img" in html
    assert "expired" in html and "node-fault" in html
