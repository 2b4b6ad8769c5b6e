"""Incident runbook of one zone: hand-built runs of the sample portfolio (no DNS), a registrar
whose contact holds markup; checked through the PDF's text."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from governance_fakes import SAMPLE, store_sample_run
from pypdf import PdfReader

from toolkit.errors import ReportError
from toolkit.reports import render as report

pytestmark = pytest.mark.report

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CONTACT = "<script>alert(1)</script> ops@lab-registrar.test"
ESCALATION = "Account manager K. Brandt, then 24/7 NOC +1 555 0199"


def _text(pdf: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(pdf).pages))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runbook")
    folder = tmp / "portfolio"
    shutil.copytree(SAMPLE, folder)
    reg = (folder / "registrars.csv").read_text()
    reg = reg.replace("registry-support@lab-registrar.test / +1 555 0100", CONTACT)
    (folder / "registrars.csv").write_text(reg)
    ws = tmp / "ws"
    store_sample_run(ws, NOW - timedelta(days=30), portfolio=folder)
    run = store_sample_run(ws, NOW, portfolio=folder)
    out = tmp / "runbook.pdf"
    done = report.render_runbook(ws, out, zone="corp.test", keep_intermediate=True)
    return run, done, _text(out)


def test_three_numbered_procedures(rendered):
    _, done, text = rendered
    for title in ("1 Suspected DS mispublication", "2 Failed rollover", "3 Validation failures"):
        assert title in text
    assert 4 <= len(PdfReader(done.path).pages) <= 12


def test_registrar_contact_escalation_and_roles(rendered):
    _, _, text = rendered
    assert ESCALATION in text
    assert CONTACT in text  # as text
    assert "Domains Desk (S. Patel)" in text and "DNS Operations (R. Okoye)" in text
    assert "48 hours" in text


def test_last_known_good_ds_and_dnskey_in_zone_file_syntax(rendered):
    run, _, text = rendered
    records = run.frames["records"]
    ds = records[(records["zone"] == "corp.test") & (records["rrtype"] == "DS")].iloc[0]
    squeezed = text.replace(" ", "")
    assert f"corp.test. 3600 IN DS {ds.rdata}".replace(" ", "") in squeezed
    assert "INDNSKEY257313" in squeezed


def test_verification_commands(rendered):
    _, _, text = rendered
    assert "dig +dnssec +norecurse corp.test. DS" in text
    assert "delv" in text and "+vtrace" in text
    assert "dnssec-audit collect --portfolio" in text


def test_markup_is_escaped(rendered):
    _, done, _ = rendered
    html = done.path.with_suffix(".html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_unknown_zone_fails_without_a_pdf(rendered, tmp_path):
    run, done, _ = rendered
    ws = done.path.parent / "ws"
    out = tmp_path / "x.pdf"
    with pytest.raises(ReportError, match="not in the inventory"):
        report.render_runbook(ws, out, zone="nowhere.test")
    assert not out.exists()
