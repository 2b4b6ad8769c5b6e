"""The kinds of report the toolkit renders, one :class:`ReportKind` each, in :data:`REPORTS`.

Everything that differs between two reports is data here: the notebook papermill executes, the
nbconvert template, the default output file, the parameters the notebook takes (required and
optional), the default classification, the stylesheets and how the file is written (a PDF, a
PDF/A-3 with attachments, a self-contained HTML page). :func:`toolkit.reports.render.
render_report` is the one engine that renders any of them; the command line
(``dnssec-audit report KIND``) takes its choices, defaults and help from here.

This module imports nothing heavy: the command line reads it to build its parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The print stylesheet every PDF uses (in ``report_templates/``).
PRINT_CSS = "print.css"
#: Extra print stylesheet of the policy statement and the runbooks (beside print.css).
DOCUMENTS_CSS = "documents.css"

#: Parameters every report takes (besides its source: ``workspace`` + ``run``, or ``portfolio``).
COMMON_PARAMETERS = ("organisation", "as_of", "classification")

#: Defaults of the parameters that have one besides "" (:class:`toolkit.reports.render.
#: ReportOptions` and the command line both take them from here).
DEFAULT_ORGANISATION = "Example Organisation"
DEFAULT_INLINE_ZONE_LIMIT = 25
DEFAULT_HISTORY_RUNS = 400

#: What each parameter a report can take means (the command line's help, option by option;
#: the option is ``--`` and the name with ``-`` for ``_``).
PARAMETER_HELP: dict[str, str] = {
    "organisation": f"organisation named in the report ({DEFAULT_ORGANISATION})",
    "period": "period covered, e.g. 2026Q4, 2026-H2, 2026-11, 2026 (default: the run's quarter)",
    "as_of": "ISO date the report speaks as of (default: the run's date)",
    "classification": "classification label on every page (default: the report's own)",
    "framework": "report control by control for iso27001|soc2|nist-800-53|nis2|cis",
    "inline_zone_limit": "past this many zones, per-zone detail goes to PDF attachments"
    f" ({DEFAULT_INLINE_ZONE_LIMIT})",
    "zone": "the zone to report on (A- or U-label)",
    "portfolio": "portfolio folder (default: the one the run was collected from)",
    "history_runs": f"recent runs the latency trend covers ({DEFAULT_HISTORY_RUNS})",
}


@dataclass(frozen=True)
class ReportKind:
    """One kind of report.

    ``name`` is what ``dnssec-audit report NAME`` and ``render_report(NAME, ...)`` take;
    ``notebook`` (in ``notebooks/``) and ``template`` (an nbconvert template of
    ``report_templates/``) make it; ``default_out`` is the file the command line writes when
    given no ``--out``; ``required`` and ``optional`` name the options of
    :class:`toolkit.reports.render.ReportOptions` handed to the notebook as parameters (besides
    ``workspace`` and the pinned ``run`` when ``source`` is ``"run"``, or ``portfolio`` when it
    is ``"portfolio"``); ``classification`` is the label used when none is given. ``output``
    says how the file is written: ``"pdf"`` (WeasyPrint with ``stylesheets``, as
    ``pdf_variant`` when set, embedding the files the notebook lists when ``attachments``) or
    ``"html"`` (one self-contained page).
    """

    name: str
    notebook: str
    template: str
    default_out: str
    description: str
    #: what the report is called in messages ("cannot make a board report of run ...")
    noun: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    classification: str = "INTERNAL"
    source: Literal["run", "portfolio"] = "run"
    output: Literal["pdf", "html"] = "pdf"
    stylesheets: tuple[str, ...] = (PRINT_CSS,)
    pdf_variant: str | None = None
    #: the notebook takes an ``attachments_dir`` and lists files to embed there
    attachments: bool = False
    #: can be written as a signed evidence pack (``dnssec-audit report NAME --evidence DIR``)
    evidence_pack: bool = False
    #: ``zone`` must be one of the run's (checked, and spelt as the run does, before a kernel)
    zone_in_run: bool = False

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every option the notebook takes, required ones first."""
        return (*self.required, *self.optional)

    def takes(self, option: str) -> bool:
        """Whether this report takes ``option`` (a :class:`ReportOptions` field name)."""
        return option in self.parameters


#: The reports, by name, in the order the command line lists them.
REPORTS: dict[str, ReportKind] = {
    kind.name: kind
    for kind in (
        ReportKind(
            "board",
            "board_report.ipynb",
            "board",
            "board-report.pdf",
            "the quarterly board report of a run: headline, trend, maturity, zones needing action",
            "board report",
            optional=("organisation", "period", "as_of", "classification"),
            stylesheets=(PRINT_CSS, "board/board.css"),
        ),
        ReportKind(
            "audit",
            "audit_report.ipynb",
            "audit",
            "audit-report.pdf",
            "the audit report of a run (PDF/A-3, the run's frames attached); with --evidence, "
            "the signed evidence pack too",
            "audit report",
            optional=(
                "organisation",
                "period",
                "as_of",
                "classification",
                "framework",
                "inline_zone_limit",
            ),  # fmt: skip
            classification="CONFIDENTIAL",
            pdf_variant="pdf/a-3b",
            attachments=True,
            evidence_pack=True,
        ),
        ReportKind(
            "zone",
            "zone_report.ipynb",
            "zone",
            "zone-report.pdf",
            "the report of one zone: chain of trust, key timeline, findings, status per run",
            "zone report",
            required=("zone",),
            optional=("organisation", "period", "as_of", "classification"),
            stylesheets=(PRINT_CSS, "board/board.css", "zone/zone.css"),
            zone_in_run=True,
        ),
        ReportKind(
            "dashboard",
            "dashboard.ipynb",
            "dashboard",
            "dashboard.html",
            "the health dashboard of a run, one self-contained HTML page",
            "dashboard",
            optional=(*COMMON_PARAMETERS, "history_runs"),
            output="html",
        ),
        ReportKind(
            "policy",
            "policy_statement.ipynb",
            "policy",
            "policy-statement.pdf",
            "the DNSSEC Policy and Practice Statement (RFC 6841) of a portfolio's policy.yaml",
            "policy statement",
            optional=COMMON_PARAMETERS,
            source="portfolio",
            stylesheets=(PRINT_CSS, DOCUMENTS_CSS),
        ),
        ReportKind(
            "runbook",
            "runbook.ipynb",
            "runbook",
            "runbook.pdf",
            "the incident runbook of one zone: procedures, contacts, last known-good keys",
            "runbook",
            required=("zone",),
            optional=("portfolio", *COMMON_PARAMETERS),
            classification="CONFIDENTIAL",
            stylesheets=(PRINT_CSS, DOCUMENTS_CSS),
        ),
    )
}


def report_kind(name: str) -> ReportKind:
    """The report called ``name``; raises ReportError naming the known ones."""
    from toolkit.errors import ReportError

    try:
        return REPORTS[name]
    except KeyError:
        known = ", ".join(sorted(REPORTS))
        raise ReportError(f"unknown report '{name}' (known: {known})") from None
