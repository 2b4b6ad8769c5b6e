"""The words every stage shares: severities, pillars and the history views, in one leaf module
(imports nothing, so the inputs, the checks, the assessment, the alerts, the reports and the
command line can all use it)."""

from __future__ import annotations

#: Severities of checks, findings and alerts, most severe first.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
#: A severity's rank: 0 for critical (sort ascending for most severe first).
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
#: The maturity model's pillars.
PILLARS: tuple[str, ...] = ("technical", "operational", "governance")
#: The views of the key history ``dnssec-audit history --view`` shows
#: (:func:`toolkit.assessment.judge.history_view`).
HISTORY_VIEWS: tuple[str, ...] = (
    "changes",
    "timeline",
    "rollovers",
    "faults",
    "known-good",
    "signatures",
    "trends",
)
