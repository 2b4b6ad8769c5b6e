"""Health dashboard: notebook -> self-contained HTML, opened in a real headless browser.

One render of a hand-built workspace (the sample portfolio's run, resolver checks of two
families with latencies, an open alert whose zone and message hold markup) is shared by the
module. Chromium (Debian's ``chromium``, installed by scripts/install-debian-packages.sh) loads
it from a file: URL with networking off; its DOM, screenshot and console log are checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from governance_fakes import sample_frames

from toolkit.alerts.state import AlertState, save_state
from toolkit.errors import ReportError
from toolkit.reports import dashboard
from toolkit.reports import render as report
from toolkit.schemas import RESOLVER_CHECKS
from toolkit.store.runs import Store

pytestmark = pytest.mark.report

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src="http://192.0.2.1/x.png" onerror="alert(2)">'


def _workspace(ws: Path) -> None:
    frames = sample_frames(NOW)
    checks = frames["resolver_checks"]
    more = checks.assign(resolver="bind", address="127.0.0.2")
    both = pd.concat([checks, more], ignore_index=True)
    frames["resolver_checks"] = RESOLVER_CHECKS.cast(
        both.assign(latency_ms=[1.0 + (i % 5) for i in range(len(both))])
    )
    Store(ws).write(frames, parameters={"fake": True}, now=NOW - timedelta(days=1))
    latest = Store(ws).write(frames, parameters={"fake": True}, now=NOW)
    alert = {
        "id": "a1b2c3",
        "key": "k1",
        "rule": "zone_bogus",
        "severity": "critical",
        "zone": f"evil{SCRIPT}.test",
        "status": "active",
        "first_seen_at": NOW.isoformat(),
        "cleared_at": None,
        "run_id": "r",
        "owed": [],
        "delivered": {},
        "message": f"Validation fails {IMG}",
    }
    cleared = {**alert, "id": "d4e5f6", "key": "k2", "status": "cleared", "zone": "old.test",
               "cleared_at": NOW.isoformat(), "message": "long gone"}  # fmt: skip
    # the alert rules were evaluated on the latest run (else the page says "not evaluated")
    save_state(ws, AlertState({"a1b2c3": alert, "d4e5f6": cleared}, last_run_id=latest.run_id))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> report.RenderedReport:
    tmp = tmp_path_factory.mktemp("dashboard")
    _workspace(tmp / "ws")
    return report.render_dashboard(tmp / "ws", tmp / "out" / "dashboard.html", organisation="ACME")


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed (scripts/install-debian-packages.sh installs it)")
    return exe


def _browse(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open ``page`` in headless chromium with every background network feature off."""
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2000",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_the_page_is_self_contained(rendered):
    html = rendered.path.read_text(encoding="utf-8")
    assert report.external_references(html) == []
    tags = _Tags()
    tags.feed(html)
    # the only URL in the page is the injected one, as text: no attribute holds a URL
    assert not [a for _, attrs in tags.tags for a in attrs.values() if "//" in (a or "")]
    names = {t for t, _ in tags.tags}
    assert not names & {"script", "link", "iframe", "object", "embed", "img"}
    assert "svg" in names and "style" in names
    csp = [a for t, a in tags.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_markup_from_the_data_is_text(rendered):
    html = rendered.path.read_text(encoding="utf-8")
    assert SCRIPT not in html and "<img" not in html
    assert "evil&lt;script&gt;alert(1)&lt;/script&gt;.test" in html


def test_cleared_alerts_are_not_open(rendered):
    html = rendered.path.read_text(encoding="utf-8")
    assert "Open alerts (1)" in html and "long gone" not in html


def test_chromium_renders_it_without_errors(rendered, tmp_path):
    dom = _browse(rendered.path, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r"\s+", " ", dom.stdout)
    for key in (
        "DNSSEC health dashboard",
        "Validation coverage",
        "Status by resolver family",
        "Resolver latency",
        "Signature-expiry horizon",
        "Open alerts (1)",
        "ACME",
        "unbound",
        "bind",
    ):
        assert key in text, key
    assert text.count("<svg") >= 3
    # the injected markup stayed text in the browser's DOM too
    assert "<script" not in dom.stdout.lower()
    assert "evil&lt;script&gt;" in dom.stdout
    shot = tmp_path / "dashboard.png"
    run = _browse(rendered.path, tmp_path, f"--screenshot={shot}")
    assert run.returncode == 0 and shot.stat().st_size > 20_000
    log = dom.stderr + run.stderr
    assert "ERROR:CONSOLE" not in log and "Uncaught" not in log, log[-2000:]
    assert "Content Security Policy" not in log and "Refused to" not in log, log[-2000:]
    # no request left the machine: chromium logs a failed load, and the page names no URL
    assert "net::ERR_" not in log, log[-2000:]


def test_no_partial_file_when_the_notebook_fails(tmp_path, monkeypatch):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    src = json.loads((report.notebooks_dir() / report.DASHBOARD_NOTEBOOK).read_text())
    boom = "raise RuntimeError('boom')"
    src["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None,
                         "outputs": [], "source": boom, "id": "boom"})  # fmt: skip
    (nbdir / report.DASHBOARD_NOTEBOOK).write_text(json.dumps(src))
    monkeypatch.setenv(report.NOTEBOOKS_ENV, str(nbdir))
    _workspace(tmp_path / "ws")
    out = tmp_path / "dash.html"
    with pytest.raises(report.NotebookError, match="boom"):
        report.render_dashboard(tmp_path / "ws", out, history_runs=0)
    assert not out.exists() and out.with_suffix(".failed.ipynb").exists()


def test_unknown_run_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="cannot make a dashboard"):
        report.render_dashboard(tmp_path / "empty", tmp_path / "d.html")


@pytest.mark.parametrize(
    "html, problem",
    [
        ('<img src="http://x/y.png">', "src="),
        ("<script>1</script>", "<script>"),
        ('<link rel="stylesheet" href="a.css">', "<link>"),
        ('<div style="background:url(http://x)">', "url()"),
        ("<style>@import 'x.css';</style>", "@import"),
        ('<p onclick="x()">', "onclick"),
    ],
)
def test_external_references_are_found(html, problem):
    assert any(problem in p for p in report.external_references(html))


def test_bar_chart_escapes_labels_and_refuses_odd_colours():
    svg = dashboard.bar_chart_svg(["<b>"], [("a&b", "#123456", [3])], title="<t>")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a&amp;b" in svg
    with pytest.raises(ValueError):
        dashboard.bar_chart_svg(["x"], [("a", "red;", [1])], title="t")
