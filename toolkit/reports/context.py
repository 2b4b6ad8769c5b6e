"""What a report notebook reads, loaded by one call: :func:`load_context` -> :class:`ReportContext`.

Every notebook of ``notebooks/`` (board, audit, zone, dashboard, policy statement, runbook,
explore) starts with the same questions: which workspace, which run, which portfolio, which
date is "now", and what goes in the title block. :func:`load_context` answers them once, from
the notebook's papermill parameters, so the notebook's loading cell is one call and the cells
after it (and the figure modules they call) work on frames only.

Cheap parts are loaded at once: the store, the run (hashes verified), the report metadata
(:class:`~toolkit.reports.html.ReportInfo`) and the assessment time. Expensive parts are
computed only when a notebook asks, then kept: the portfolio and its governance records, the
governance assessment (:meth:`ReportContext.governance`, :meth:`ReportContext.assessment`),
the history of runs (:meth:`ReportContext.history`, one load per distinct question), the alerts.

Time is injected: the context's ``now`` is the run's own time, or the end of the ``as_of`` day
when that is later (:func:`toolkit.reports.audit.assessment_time`); the clock is never read.

The policy statement has no run: ``load_context(None, portfolio=...)`` gives a context of the
portfolio's ``policy.yaml`` alone (``run`` and ``store`` are None, ``policy_document`` is read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import toolkit
from toolkit.errors import ReportError, StoreError
from toolkit.reports import html as rh
from toolkit.reports.audit import GovernanceView, assessment_time, governance_view
from toolkit.store.runs import Run, Store

if TYPE_CHECKING:
    from toolkit.assessment.assess import Assessment
    from toolkit.history.load import History
    from toolkit.inputs.governance import GovernanceRecords
    from toolkit.inputs.policy import PolicySet
    from toolkit.inputs.portfolio import Portfolio
    from toolkit.reports.statement import PolicyDocument

#: The title of each kind of report (the zone report and the runbook add the zone's name).
TITLES = {
    "board": rh.BOARD_TITLE,
    "audit": rh.AUDIT_TITLE,
    "zone": rh.ZONE_TITLE,
    "dashboard": "DNSSEC health dashboard",
    "policy": rh.POLICY_TITLE,
    "runbook": rh.RUNBOOK_TITLE,
    "explore": rh.BOARD_TITLE,
}


def _search_path() -> list[Path]:
    """Where a relative workspace or portfolio is looked for after the current folder: the
    folder above the package (the repository, in a checkout)."""
    return [Path(toolkit.__file__).resolve().parent.parent]


@dataclass(frozen=True)
class ReportContext:
    """The store, the run, the portfolio, the assessment and the history one report reads.

    ``workspace`` and ``portfolio_dir`` are absolute paths (``portfolio_dir``: the folder
    given, else the one the run's manifest records, else None); ``info`` is the report's
    metadata (title, period, as-of date, report id); ``now`` the time the governance
    assessment is made against; ``zone`` the zone of a zone report or runbook ("" otherwise).
    The rest is computed on first use and kept.
    """

    workspace: Path | None
    store: Store | None
    run: Run | None
    info: rh.ReportInfo
    now: datetime
    portfolio_dir: Path | None
    zone: str = ""
    _cache: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- the run's frames ---------------------------------------------------------------------

    def _the_run(self) -> Run:
        if self.run is None:
            raise ReportError("this report context has no run (it was loaded from a portfolio)")
        return self.run

    def _the_store(self) -> Store:
        if self.store is None:
            raise ReportError(
                "this report context has no workspace (it was loaded from a portfolio)"
            )
        return self.store

    @property
    def zones(self) -> pd.DataFrame:
        """The run's ``zones`` frame (one row per inventory zone)."""
        return self._the_run()["zones"]

    def frame(self, name: str) -> pd.DataFrame | None:
        """The run's frame ``name``, or None when the run has none (an older run)."""
        return self._the_run().frames.get(name)

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters the run was collected with (from its manifest)."""
        return dict(self._the_run().manifest.get("parameters") or {})

    # -- the portfolio (lazy) -----------------------------------------------------------------

    def _portfolio_folder(self) -> Path:
        if self.portfolio_dir is None:
            raise ReportError(
                "no portfolio: the run records none and none was given (pass the portfolio folder)"
            )
        if not self.portfolio_dir.is_dir():
            raise ReportError(f"portfolio folder {self.portfolio_dir} does not exist")
        return self.portfolio_dir

    @cached_property
    def portfolio(self) -> Portfolio:
        """The portfolio (inventory and policies), loaded on first use; raises ReportError when
        there is none, InputError when a file of it is invalid."""
        from toolkit.inputs.portfolio import load_portfolio

        return load_portfolio(self._portfolio_folder())

    @cached_property
    def records(self) -> GovernanceRecords:
        """The portfolio's governance records (keys, changes, drills, ...), loaded on first use."""
        from toolkit.inputs.governance import load_records

        return load_records(self._portfolio_folder())

    @cached_property
    def policies(self) -> PolicySet | None:
        """The portfolio's ``policy.yaml``, or None when there is no portfolio on this machine
        or it has no ``policy.yaml`` (the reports then use the defaults)."""
        from toolkit.inputs.policy import load_policies

        if self.portfolio_dir is None or not (self.portfolio_dir / "policy.yaml").is_file():
            return None
        return load_policies(self.portfolio_dir / "policy.yaml")

    @cached_property
    def policy_document(self) -> PolicyDocument:
        """The portfolio's ``policy.yaml`` as the policy statement prints it (validated)."""
        from toolkit.reports.statement import read_policy_document

        return read_policy_document(self._portfolio_folder() / "policy.yaml")

    @property
    def inventory(self) -> pd.DataFrame | None:
        """The portfolio's inventory, or None when the portfolio has no ``inventory.csv``."""
        if self.portfolio_dir is None or not (self.portfolio_dir / "inventory.csv").is_file():
            return None
        return self.portfolio.inventory

    # -- the assessment (lazy) ----------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def governance(self, framework: str = "") -> GovernanceView:
        """The governance assessment of the run as of ``now`` for ``framework`` ("" for check
        by check): :func:`toolkit.reports.audit.governance_view`, made once per framework.
        Never raises: when it cannot be made the view says why."""
        run, store = self._the_run(), self._the_store()
        return self._cached(
            ("governance", framework),
            lambda: governance_view(run, store, framework=framework, as_of=self.info.as_of),
        )

    def findings(self, framework: str = "") -> tuple[pd.DataFrame, bool]:
        """The run's findings and whether they are the governance assessment's (every pillar,
        True) or, when that cannot be made, the technical checks over the run as of its own
        time (False)."""
        gov = self.governance(framework)
        if gov.available and gov.findings is not None:
            return gov.findings, True
        from toolkit.assessment.judge import run_findings

        run = self._the_run()
        return self._cached(("run_findings",), lambda: run_findings(run)), False

    def assessment(self, frameworks: Sequence[str] | None = None) -> Assessment:
        """The full assessment (:func:`toolkit.assessment.assess.assess`) of the run against
        the portfolio (the one given, else the run's) as of ``now``; raises what it raises."""
        from toolkit.assessment.assess import assess

        run, store = self._the_run(), self._the_store()
        key = ("assessment", tuple(frameworks) if frameworks is not None else None)
        return self._cached(
            key,
            lambda: assess(self.portfolio_dir, store, run=run, now=self.now, frameworks=frameworks),
        )

    # -- the history (lazy) -------------------------------------------------------------------

    def history(
        self,
        frames: Sequence[str] = ("zones",),
        *,
        zones: Sequence[str] | None = None,
        until_run: bool = True,
        last: int | None = None,
    ) -> History:
        """The history of the workspace's runs (:func:`toolkit.history.load_history`): the
        ``frames`` of every run up to the report's run (``until_run``, the default) or of every
        run, only ``zones`` when given; with ``last``, the ``last`` most recent runs up to and
        including the report's run (a report of an older run never shows a later one; with
        ``until_run=False``, the workspace's ``last`` runs). Loaded once per distinct question."""
        from toolkit.history import load_history

        run, store = self._the_run(), self._the_store()
        key = ("history", tuple(frames), tuple(zones or ()) or None, until_run, last)

        def make() -> History:
            wanted = list(zones) if zones is not None else None
            if last is not None:
                ids = list(store.list_runs()["run_id"])
                if until_run and run.run_id in ids:
                    ids = ids[: ids.index(run.run_id) + 1]
                ids = ids[-int(last) :]
                return load_history(store.workspace, run_ids=ids, zones=wanted, frames=frames)
            return load_history(
                store.workspace,
                until=run.created_at if until_run else None,
                zones=wanted,
                frames=tuple(frames),
            )

        return self._cached(key, make)

    # -- alerts (lazy) ------------------------------------------------------------------------

    @cached_property
    def alerts(self) -> pd.DataFrame:
        """The workspace's alerts (:func:`toolkit.alerts.alerts_frame`)."""
        from toolkit.alerts import alerts_frame

        return alerts_frame(self._the_store().workspace)

    @cached_property
    def last_evaluated_run(self) -> str | None:
        """The run the alerts were last evaluated on (:func:`toolkit.alerts.last_evaluated_run`)."""
        from toolkit.alerts import last_evaluated_run

        return last_evaluated_run(self._the_store().workspace)


def _resolve(path: str | Path, search: Sequence[Path]) -> Path:
    return rh.resolve_workspace(path, search)


def _open_store(workspace: Path, given: str | Path) -> Store:
    if not workspace.exists():
        raise ReportError(f"workspace {workspace} does not exist (given as {str(given)!r})")
    if not workspace.is_dir():
        raise ReportError(f"workspace {workspace} is not a folder (given as {str(given)!r})")
    if not (workspace / "runs").is_dir():
        # the store's own words, as the command line says them before starting a kernel
        raise StoreError(f"no runs in workspace {workspace} (run `dnssec-audit collect` first)")
    return Store(workspace)


def load_context(
    workspace: str | Path | None = "workspace",
    run: str = "latest",
    *,
    portfolio: str | Path | None = None,
    as_of: str = "",
    period: str = "",
    organisation: str = "",
    classification: str = "INTERNAL",
    kind: str = "board",
    framework: str = "",
    zone: str = "",
    title: str = "",
    search: Sequence[Path] | None = None,
) -> ReportContext:
    """Load what a report of ``kind`` reads, from a notebook's parameters.

    ``workspace`` (a relative path is looked for in the current folder, then in the
    repository) and ``run`` (a run id or ``latest``) give the store and the run, loaded and
    verified; ``portfolio`` the portfolio folder ("" or None: the one the run records).
    ``as_of`` (ISO date; "": the run's date), ``period`` (""; the quarter of ``as_of``),
    ``organisation``, ``classification`` and ``framework`` fill the report's metadata with
    :func:`toolkit.reports.html.report_info`; ``title`` overrides the kind's own
    (:data:`TITLES`). For a zone report ``zone`` is looked up in the run (A- or U-label, any
    case) and the title names it; for a runbook it is taken as given, and the title and the
    report id name it.

    With ``workspace`` None the context is the portfolio's ``policy.yaml`` alone (the policy
    statement): its ``as_of`` defaults to the file's last review, else its modification date.

    Raises ReportError for a workspace that does not exist or is not a folder, an unknown
    zone, or no workspace and no portfolio; StoreError for a folder holding no runs, a missing
    or altered run; ValueError for an ``as_of`` that is not an ISO date.
    """
    where = list(search) if search is not None else _search_path()
    folder = _resolve(portfolio, where) if portfolio else None
    if workspace is None:
        if folder is None:
            raise ReportError("a report context needs a workspace or a portfolio folder")
        return _portfolio_context(
            folder,
            as_of=as_of,
            organisation=organisation,
            classification=classification,
            kind=kind,
            title=title,
        )
    ws = _resolve(workspace, where)
    store = _open_store(ws, workspace)
    the_run = store.load(run)  # StoreError names the run and the workspace
    if folder is None:
        recorded = (the_run.manifest.get("parameters") or {}).get("portfolio")
        folder = Path(str(recorded)) if recorded else None
    name = title or TITLES.get(kind, rh.BOARD_TITLE)
    if kind == "zone":
        zone = rh.find_zone(the_run["zones"], zone)
        z = the_run["zones"].set_index("zone").loc[zone]
        label = (
            z["zone_unicode"] if isinstance(z["zone_unicode"], str) and z["zone_unicode"] else zone
        )
        name = title or f"{rh.ZONE_TITLE}: {label}"
    elif kind == "runbook":
        name = title or f"{rh.RUNBOOK_TITLE}: {zone}"
        # a runbook's report id names its zone, in the slot of the framework (it has none)
        framework = framework or zone
    info = rh.report_info(
        the_run,
        title=name,
        organisation=organisation,
        period=period,
        as_of=as_of,
        classification=classification,
        kind=kind,
        framework=framework,
    )
    return ReportContext(
        workspace=ws,
        store=store,
        run=the_run,
        info=info,
        now=assessment_time(the_run, as_of),
        portfolio_dir=folder,
        zone=zone,
    )


def _portfolio_context(
    folder: Path,
    *,
    as_of: str,
    organisation: str,
    classification: str,
    kind: str,
    title: str,
) -> ReportContext:
    from toolkit.reports.statement import read_policy_document

    if not folder.is_dir():
        raise ReportError(f"portfolio folder {folder} does not exist")
    doc = read_policy_document(folder / "policy.yaml")
    if as_of:
        day = date.fromisoformat(as_of)
    elif doc.policies.settings.last_review is not None:
        day = doc.policies.settings.last_review.date()
    else:
        day = datetime.fromtimestamp(doc.path.stat().st_mtime, UTC).date()
    period = rh.quarter(day)
    info = rh.ReportInfo(
        title=title or TITLES.get(kind, rh.POLICY_TITLE),
        organisation=organisation.strip() or "—",
        period=period,
        as_of=day.isoformat(),
        run_id=f"policy.yaml {doc.sha256[:12]}",
        classification=classification.strip().upper() or "INTERNAL",
        kind=kind,
    )
    info = replace(
        info,
        report_id=rh.report_id(
            kind,
            doc.sha256,
            as_of=info.as_of,
            period=period,
            organisation=info.organisation,
            classification=info.classification,
        ),
    )
    ctx = ReportContext(
        workspace=None,
        store=None,
        run=None,
        info=info,
        now=datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC),
        portfolio_dir=folder,
    )
    ctx.__dict__["policy_document"] = doc  # already read: the cached property's value
    return ctx
