"""The whole path on real parts: lab -> collect -> store -> notebook -> PDF, and the PDF's
figures checked against what the lab's scenarios say they must be (an independent oracle,
not the frames the report was made from)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from toolkit.collect import CollectConfig, ResolverSpec, collect_run
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import LAB_ZONES
from toolkit.reports.render import render_board_report

pytestmark = [pytest.mark.lab, pytest.mark.report]

SAMPLE = "data/sample-portfolio"
SIGNED_SCENARIOS = {"secure", "expiring", "island", "ds-mismatch", "expired"}


def test_board_pdf_figures_match_the_lab_scenarios(lab, tmp_path):
    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )
    run = collect_run(SAMPLE, tmp_path / "ws", config, now=datetime.now(UTC))
    pdf = render_board_report(tmp_path / "ws", tmp_path / "board.pdf", run=run.run_id)

    catalog = {z.zone: z for z in LAB_ZONES}
    zones = list(load_portfolio(SAMPLE).inventory["zone"])
    n = len(zones)
    secure = sum(1 for z in zones if z in catalog and catalog[z].expected_status == "secure")
    signed = sum(1 for z in zones if z in catalog and catalog[z].scenario in SIGNED_SCENARIOS)
    bogus = sum(1 for z in zones if z in catalog and catalog[z].expected_status == "bogus")

    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    text = " ".join(text.split())
    assert f"{n} zones checked" in text
    assert f"{100 * signed / n:.1f}%" in text and f"{100 * secure / n:.1f}%" in text
    assert f"{bogus} are bogus" in text
    assert run.run_id in text
    actions = text.rsplit("Zones needing action", 1)[1].split("How to read this report", 1)[0]
    for zone in ("legacy.test", "events.test", "marketing.test", "old-campaign.test"):
        assert zone in actions  # every zone needing action is named
    assert "payments.test" not in actions  # a healthy zone is not on the action list
