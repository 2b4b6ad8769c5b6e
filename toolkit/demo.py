"""The demo (``make demo``): lab up → collect the sample portfolio → board PDF → lab down."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from toolkit.collect import CollectConfig, ResolverSpec, collect_run

SAMPLE_PORTFOLIO = Path(__file__).resolve().parent.parent / "data" / "sample-portfolio"


def run_demo(
    *,
    out_dir: Path,
    workspace: Path,
    lab_dir: Path,
    base: str,
    now: datetime,
    portfolio: Path = SAMPLE_PORTFOLIO,
) -> Path:
    """Run the whole path once against a fresh lab and return the board report's path.

    The lab is stopped (by PID) whatever happens. Raises LabError, InputError, StoreError or
    ReportError from the stage that failed.
    """
    from toolkit.lab import lab_down, lab_up
    from toolkit.report import render_board_report

    out_dir.mkdir(parents=True, exist_ok=True)
    info = lab_up(lab_dir, base=base, now=now)
    try:
        config = CollectConfig(
            trust_anchor=info.trust_anchor,
            root_hints=info.root_hints,
            resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in info.resolvers.items()),
        )
        run = collect_run(portfolio, workspace, config, now=now)
    finally:
        lab_down(lab_dir)
    return render_board_report(
        workspace,
        out_dir / "board-report.pdf",
        run=run.run_id,
        organisation="Example Organisation (demo lab)",
    )
