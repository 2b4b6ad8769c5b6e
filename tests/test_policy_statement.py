"""Policy statement: policy.yaml -> DNSSEC Policy and Practice Statement (RFC 6841 outline) PDF.

Rendered once from a copy of the sample portfolio whose policy owner holds markup and whose
second policy leaves optional keys out; checked through the PDF's text.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from toolkit.reports import render as report
from toolkit.reports import statement

pytestmark = pytest.mark.report

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-portfolio"
OWNER = "<script>alert(1)</script> Head of DNS"


def _text(pdf: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(pdf).pages))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("policy")
    folder = tmp / "portfolio"
    shutil.copytree(SAMPLE, folder)
    raw = yaml.safe_load((folder / "policy.yaml").read_text())
    raw["policy_owner"] = OWNER
    raw["policies"]["minimal"] = {
        "allowed_algorithms": [13],
        "zsk_lifetime_days": 30,
        "ksk_lifetime_days": 400,
        "min_rrsig_validity_days": 2.5,
    }
    (folder / "policy.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp / "policy.pdf"
    done = report.render_policy_statement(folder, out, organisation="ACME", keep_intermediate=True)
    return folder, done, _text(out)


def test_follows_the_rfc_6841_outline(rendered):
    _, done, text = rendered
    for title in ("1 Introduction", "2 Publication and repositories", "3 Operational requirements",
                  "4 Facility, management and operational controls",
                  "5 Technical security controls", "5.3 Key lifetimes",
                  "5.4 Signature validity and re-signing", "5.5 DS records and TTLs",
                  "5.6 Authenticated denial of existence (NSEC/NSEC3)", "5.7 Key rollover methods",
                  "6 Compliance audit", "Annex A"):  # fmt: skip
        assert title in text, title
    assert 6 <= len(PdfReader(done.path).pages) <= 30
    assert PdfReader(done.path).outline  # bookmarks


def test_every_value_of_policy_yaml_appears(rendered):
    folder, _, text = rendered
    raw = yaml.safe_load((folder / "policy.yaml").read_text())
    squeezed = text.replace(" ", "")
    missing = [
        (path, value)
        for path, value in statement.leaves(raw)
        if statement.fmt(value).replace(" ", "") not in squeezed
    ]
    assert not missing


def test_absent_values_are_stated_as_not_defined(rendered):
    _, _, text = rendered
    assert "not defined in policy.yaml" in text
    # the minimal policy gives no denial: the statement says so and names the default
    assert "not defined in policy.yaml (the toolkit applies its default: nsec)" in text


def test_markup_in_the_policy_owner_is_text(rendered):
    folder, done, text = rendered
    assert "<script>alert(1)</script> Head of DNS" in text
    html = done.path.with_suffix(".html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_an_invalid_policy_is_an_error_and_no_pdf(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "policy.yaml").write_text(
        "format_version: 1\npolicies: {x: {zsk_lifetime_days: -1}}\n"
    )
    out = tmp_path / "p.pdf"
    with pytest.raises(report.ReportError):
        report.render_policy_statement(folder, out)
    assert not out.exists()
