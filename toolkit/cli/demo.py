"""The demo (``make demo``): the whole path once, on the lab's real servers.

lab up → simulated history (a year of runs, clearly labelled simulated) → today's run with
all four resolver families → lab down → board report, audit report and a verified evidence
pack in the output folder.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from toolkit.collect import CollectConfig, ResolverSpec, collect_run
from toolkit.collect.discover import DiscoverConfig
from toolkit.resources import shipped

SAMPLE_PORTFOLIO = shipped("sample_portfolio")
ORGANISATION = "Example Organisation (demo lab)"


@dataclass(frozen=True)
class DemoOutputs:
    """What the demo leaves behind."""

    board_pdf: Path
    audit_pdf: Path
    evidence_dir: Path
    run_id: str
    history_runs: int


def _say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def run_demo(
    *,
    out_dir: Path,
    workspace: Path,
    lab_dir: Path,
    base: str,
    now: datetime,
    portfolio: Path = SAMPLE_PORTFOLIO,
    history_quarters: int = 4,
) -> DemoOutputs:
    """Run the whole path against a fresh lab; return where the reports are.

    ``workspace`` is emptied first so the demo is reproducible. With ``history_quarters`` > 0
    the lab first plays that many quarters of simulated history (runs labelled simulated in
    their manifests), so the reports have real trends. The lab is stopped (by PID) whatever
    happens. Raises LabError, InputError, StoreError, ReportError or EvidenceError from the
    stage that failed.
    """
    from toolkit.evidence.pack import (
        REPORT_PDF,
        EvidenceError,
        verify_evidence_pack,
        write_evidence_pack,
    )
    from toolkit.lab import lab_down, lab_up
    from toolkit.lab.demo_history import build_demo_history
    from toolkit.reports.render import ReportOptions, render_board_report

    out_dir.mkdir(parents=True, exist_ok=True)
    if workspace.exists():
        shutil.rmtree(workspace)
    _say(f"lab up in {lab_dir} (base {base})")
    info = lab_up(lab_dir, base=base, now=now)
    try:
        history: list[str] = []
        if history_quarters > 0:
            _say(f"simulating {history_quarters} quarters of history through the collector")
            history = build_demo_history(
                lab_dir, workspace, portfolio, now=now, quarters=history_quarters
            )
        _say("collecting today's run with every resolver family")
        config = CollectConfig(
            trust_anchor=info.trust_anchor,
            root_hints=info.root_hints,
            resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in info.resolvers.items()),
        )
        # zone discovery: the organisation's zone files (the lab's own), AXFR and NSEC walks
        discover = DiscoverConfig(zone_files=lab_dir / "zones")
        run = collect_run(portfolio, workspace, config, now=now, discover=discover)
    finally:
        lab_down(lab_dir)
        _say("lab down")
    _say("rendering the board report")
    board = render_board_report(
        workspace, out_dir / "board-report.pdf", run=run.run_id, organisation=ORGANISATION
    )
    _say("rendering the audit report and its evidence pack")
    evidence_dir = out_dir / "evidence"
    options = ReportOptions(run=run.run_id, organisation=ORGANISATION, framework="iso27001")
    write_evidence_pack(workspace, evidence_dir, options)
    result = verify_evidence_pack(evidence_dir)
    if not result.ok:
        problems = "; ".join(result.lines())
        raise EvidenceError(f"the evidence pack just written does not verify: {problems}")
    audit = out_dir / "audit-report.pdf"
    tmp = out_dir / ".audit-report.pdf.tmp"
    shutil.copyfile(evidence_dir / REPORT_PDF, tmp)
    tmp.replace(audit)
    return DemoOutputs(board, audit, evidence_dir, run.run_id, len(history))
