"""Board report: notebook -> papermill -> nbconvert -> WeasyPrint, checked on the PDF's text.

One render of a hand-built run (no DNS) is shared by the module; its zones cover every status,
an IDN, a zone without owner or tier, and untrusted markup in an owner and a reason text.
"""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from toolkit.assessment import headline as assess
from toolkit.errors import ReportError
from toolkit.reports import html as report_html
from toolkit.reports import render as report
from toolkit.schemas import ZONES
from toolkit.store.runs import Store

pytestmark = pytest.mark.report

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ORG = "Example Organisation"
SCRIPT_OWNER = "<script>alert(1)</script>"
IMG_REASON = '<img src="http://192.0.2.1/x.png">'


def _zones():
    def z(zone, status, **kw):
        row = {
            "zone": zone,
            "zone_unicode": zone,
            "owner": "DNS team",
            "business_unit": "IT",
            "risk_tier": 1,
            "expected_signed": True,
            "status": status,
            "reasons": "",
            "reason_text": "",
            "signed": True,
            "has_ds": True,
            "checked_at": NOW,
        }
        row.update(kw)
        return row

    return ZONES.frame(
        [
            z("example.com", "secure"),
            z(
                "xn--bcher-kva.example",
                "secure",
                zone_unicode="bücher.example",
                risk_tier=2,
                reasons="SIG_EXPIRING_SOON",
                reason_text="Signatures expire within the policy's alert window.",
                earliest_expiration=datetime(2026, 12, 3, tzinfo=UTC),
            ),
            z(
                "broken.example",
                "bogus",
                owner=SCRIPT_OWNER,
                reasons="RRSIG_EXPIRED",
                reason_text="The zone's signatures have expired.",
            ),
            z(
                "island.example",
                "insecure",
                risk_tier=2,
                has_ds=False,
                reasons="NO_DS_SIGNED",
                reason_text=f"The parent publishes no DS record. {IMG_REASON}",
            ),
            z(
                "legacy.example",
                "insecure",
                risk_tier=3,
                expected_signed=False,
                signed=False,
                has_ds=False,
                reasons="UNSIGNED",
                reason_text="The zone is not signed with DNSSEC.",
            ),
            z(
                "gone.example",
                "indeterminate",
                owner=None,
                risk_tier=None,
                signed=None,
                has_ds=None,
                reasons="ZONE_NOT_FOUND",
                reason_text="The zone does not exist in DNS.",
            ),
            z("shop.example", "secure", risk_tier=3),
        ]
    )


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def _tags(html):
    parser = _TagCollector()
    parser.feed(html)
    return parser.tags


class Rendered:
    def __init__(self, tmp: Path) -> None:
        self.zones = _zones()
        self.workspace = tmp / "ws"
        self.run = Store(self.workspace).write(
            {"zones": self.zones}, parameters={"inventory": "test"}, now=NOW
        )
        self.out = tmp / "out" / "board.pdf"
        self.policy = report.FetchPolicy(report.templates_dir())
        t0 = time.perf_counter()
        self.path = report.render_board_report(
            self.workspace,
            self.out,
            organisation=ORG,
            keep_intermediate=True,
            policy=self.policy,
        )
        self.seconds = time.perf_counter() - t0
        self.reader = PdfReader(self.path)
        self.text = "\n".join(page.extract_text() for page in self.reader.pages)
        self.words = " ".join(self.text.split())  # whitespace normalised
        self.squeezed = "".join(self.text.split())  # no whitespace at all (line wraps)
        self.html = self.out.with_suffix(".html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return Rendered(tmp_path_factory.mktemp("board"))


def test_returns_the_pdf(rendered):
    assert rendered.path == rendered.out.resolve()
    assert rendered.path.read_bytes().startswith(b"%PDF-")
    assert len(rendered.reader.pages) >= 1
    assert not list(rendered.out.parent.glob(".*.tmp")), "temporary file left behind"


def test_headline_figures_in_pdf(rendered):
    h = assess.headline(rendered.zones)
    assert (h["zones"], h["signed_pct"], h["secure_pct"]) == (7, 71.4, 42.9)
    assert f"{h['zones']} zones" in rendered.words
    assert f"{h['signed_pct']:.1f}%" in rendered.words
    assert f"{h['secure_pct']:.1f}%" in rendered.words
    assert f"{h['needing_action']} zones need action" in rendered.words
    assert f"{h['bogus']} is bogus" in rendered.words
    assert f"{h['insecure']} are insecure" in rendered.words


def test_title_block_and_running_elements(rendered):
    words = rendered.words
    assert "DNSSEC status — board report" in words
    assert ORG in words
    assert "2026Q4" in words  # period derived from the run's date
    assert "2026-11-28" in words  # as-of: the run's date
    assert rendered.run.run_id in words
    n = len(rendered.reader.pages)
    assert f"Page 1 of {n}" in words
    assert "INTERNAL" in words


def test_zones_needing_action_listed(rendered):
    items = assess.action_items(rendered.zones)
    assert len(items) == 4
    for zone in items["zone_unicode"]:
        assert zone in rendered.words
    assert "xn--bcher-kva.example" in rendered.squeezed  # A-label shown under the U-label
    assert "none named" in rendered.words  # gone.example has no owner
    assert "Repair now" in rendered.words
    assert "legacy.example" not in rendered.words  # unsigned on purpose: no action


def test_untrusted_text_stays_text(rendered):
    assert SCRIPT_OWNER in rendered.squeezed
    assert "".join(IMG_REASON.split()) in rendered.squeezed
    tags = _tags(rendered.html)
    assert "script" not in {t for t, _ in tags}
    assert "link" not in {t for t, _ in tags}
    for tag, attrs in tags:
        for name, value in attrs:
            if name in ("src", "href") and value:
                assert value.startswith(("data:", "#")), (tag, name, value[:60])


def test_no_remote_fetch(rendered):
    assert rendered.policy.refused == []
    for url in rendered.policy.requested:
        assert url.startswith(("data:", "file:")), url[:80]
    assert not any("192.0.2.1" in url for url in rendered.policy.requested)


def test_no_code_or_prompts(rendered):
    for needle in ("In [", "Out[", "import ", "display(", "report.", "parameters", "Traceback"):
        assert needle not in rendered.text, needle
    assert "remove-cell" not in rendered.html
    assert "Board report (developer note" not in rendered.text


def test_pdf_metadata(rendered):
    meta = rendered.reader.metadata
    assert meta.title.startswith("DNSSEC status — board report")
    assert "2026Q4" in meta.title
    assert meta.author == ORG
    assert meta.creation_date.date().isoformat() == "2026-11-28"
    assert meta.modification_date.date().isoformat() == "2026-11-28"


def test_chart_svg_has_no_date(rendered):
    svgs = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', rendered.html)
    assert len(svgs) == 1  # the KPI trends
    svg = base64.b64decode(svgs[0]).decode()
    assert "<dc:date>" not in svg
    assert "Zones secure and signed" in svg


def test_intermediates_kept(rendered):
    assert rendered.out.with_suffix(".ipynb").is_file()
    assert rendered.html.startswith("<!DOCTYPE html>")


def test_render_is_reasonably_fast(rendered):
    assert rendered.seconds < 60


# -- failures ------------------------------------------------------------------------------------


def test_failing_notebook_raises_report_error(tmp_path):
    empty = tmp_path / "empty-ws"
    empty.mkdir()
    params = {"workspace": str(empty), "run": "latest"}
    with pytest.raises(ReportError, match="StoreError: no runs in workspace"):
        report.execute_notebook(
            report.notebooks_dir() / report.BOARD_NOTEBOOK, tmp_path / "exec", params
        )


def test_render_without_runs_raises_before_starting_a_kernel(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(ReportError, match="no runs"):
        report.render_board_report(tmp_path / "nothing", tmp_path / "x.pdf")
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "x.pdf").exists()


def test_bad_as_of_raises(tmp_path):
    with pytest.raises(ReportError, match="ISO date"):
        report.render_board_report(tmp_path, tmp_path / "x.pdf", as_of="28/11/2026")


def test_missing_notebook_raises(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        report.execute_notebook(tmp_path / "nope.ipynb", tmp_path, {})


# -- the WeasyPrint step on its own --------------------------------------------------------------


def test_fetch_policy(tmp_path):
    root = report.templates_dir()
    policy = report.FetchPolicy(root)
    assert policy.allows("data:image/png;base64,AAAA")
    assert policy.allows((root / "print.css").resolve().as_uri())
    for url in (
        "http://192.0.2.1/x.png",
        "https://cdn.example/require.js",
        "ftp://192.0.2.1/f",
        "file:///etc/passwd",
        (root / ".." / "toolkit" / "report.py").resolve().as_uri(),
        "file://192.0.2.1/share/x.css",
        "gopher://x/",
    ):
        assert not policy.allows(url), url
        with pytest.raises(ValueError):
            policy.check(url)
    assert len(policy.refused) == 7


def test_html_to_pdf_refuses_remote_resources(tmp_path):
    html = (
        "<html><head><title>t</title>"
        '<link rel="stylesheet" href="https://cdn.example/x.css"></head><body>'
        '<p>hello</p><img src="http://192.0.2.1/x.png"><img src="file:///etc/hostname">'
        '<p style="background: url(ftp://192.0.2.1/bg.png)">x</p></body></html>'
    )
    policy = report.FetchPolicy(report.templates_dir())
    t0 = time.perf_counter()
    out = report.html_to_pdf(
        html, tmp_path / "r.pdf", metadata={"title": "Refusals", "author": ORG}, policy=policy
    )
    assert time.perf_counter() - t0 < 10  # a real fetch of 192.0.2.1 would hang
    assert "http://192.0.2.1/x.png" in policy.refused
    assert "https://cdn.example/x.css" in policy.refused
    assert "file:///etc/hostname" in policy.refused
    assert "ftp://192.0.2.1/bg.png" in policy.refused
    reader = PdfReader(out)
    assert "hello" in reader.pages[0].extract_text()
    assert reader.metadata.title == "Refusals"


def test_html_to_pdf_failure_leaves_previous_file(tmp_path, monkeypatch):
    import weasyprint

    def broken_write_pdf(self, target=None, *args, **kwargs):
        target.write(b"%PDF-1.7 half a document")
        raise RuntimeError("disk on fire")

    out = tmp_path / "r.pdf"
    out.write_bytes(b"previous")
    monkeypatch.setattr(weasyprint.Document, "write_pdf", broken_write_pdf)
    with pytest.raises(ReportError, match="disk on fire"):
        report.html_to_pdf("<p>x</p>", out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


def test_html_to_pdf_rejects_unknown_metadata(tmp_path):
    with pytest.raises(ReportError, match="unknown PDF metadata key"):
        report.html_to_pdf("<p>x</p>", tmp_path / "r.pdf", metadata={"colour": "blue"})
    assert not (tmp_path / "r.pdf").exists()


# -- fragments -----------------------------------------------------------------------------------


def test_status_class_is_whitelisted():
    assert report_html.status_class("bogus") == "status-bogus"
    assert report_html.status_class('x" onload="y') == "status-unknown"
    assert report_html.status_class(None) == "status-unknown"


def test_action_table_escapes_everything():
    items = assess.action_items(_zones())
    items.loc[0, "zone_unicode"] = "<b>bold</b>.example"
    items.loc[1, "status"] = '"><script>'
    html = report_html.action_table_html(assess.action_groups(items))
    assert "<b>bold" not in html and "&lt;b&gt;bold&lt;/b&gt;.example" in html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=&#34;http://192.0.2.1/x.png&#34;&gt;" in html  # markupsafe spelling
    assert 'class="status-unknown"' in html


def test_headline_html_all_secure_and_empty():
    zones = _zones()
    secure = zones[zones["status"] == "secure"].iloc[[0, 2]]
    html = report_html.headline_html(assess.headline(secure))
    assert "100.0%" in html and "All of them are secure" in html
    assert "No zone needs action" in html
    empty = report_html.headline_html(assess.headline(ZONES.empty()))
    assert "no zones" in empty


def test_action_groups_one_row_per_problem():
    """Zones sharing a problem (status, action, reason) make one row: the count, the most
    critical tier, the zones in tier order and their distinct owners; most urgent first."""
    items = assess.action_items(_zones())
    bogus = items[items["status"] == "bogus"].iloc[0]
    more = [
        bogus.to_dict() | {"zone": f"z{i}.example", "zone_unicode": f"z{i}.example", **kw}
        for i, kw in enumerate([{"risk_tier": 3, "owner": "Web"}, {"risk_tier": 1, "owner": ""}])
    ]
    grown = assess.action_items(_zones())
    grown = pd.concat([grown, pd.DataFrame(more)], ignore_index=True)
    grown = grown.sort_values(["priority", "risk_tier", "zone"]).reset_index(drop=True)
    groups = assess.action_groups(grown)
    assert len(groups) == len(items)  # the two new zones joined the bogus zone's problem
    top = groups.iloc[0]
    assert top["status"] == "bogus" and top["zones"] == 3
    assert top["risk_tier"] == 1
    tier1 = sorted([bogus["zone"], "z1.example"])  # tier 1 first, then by name
    assert [a for _, a in top["zone_names"]] == [*tier1, "z0.example"]
    assert top["owners"] == [o for o in [bogus["owner"], "Web"] if o]
    html = report_html.action_table_html(groups)
    assert "3 zones" in html and "and 1 more" in html
    assert list(groups["priority"]) == sorted(groups["priority"])
