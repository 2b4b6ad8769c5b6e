"""The analysts' notebook runs top to bottom against a workspace with history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from governance_fakes import store_sample_run

pytestmark = pytest.mark.report

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "explore.ipynb"
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_explore_notebook_runs_and_shows_the_frames(tmp_path):
    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(days=30))
    run = store_sample_run(ws, NOW)
    out = tmp_path / "explore.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"workspace": str(ws)},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert run.run_id in text  # the run loaded is the latest
    assert "corp.test" in text  # the zones frame was shown
    assert "'overall':" in text and "'level':" in text  # the portfolio's maturity row
