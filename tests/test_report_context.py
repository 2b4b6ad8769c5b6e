"""The report context loader: one call gives store, run, report metadata and the assessment time;
the portfolio, the assessment and the history are computed only when asked, once; a bad
workspace is a clear error. Built from hand-made runs of the sample portfolio (no DNS)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from tests.governance_fakes import SAMPLE, store_sample_run
from toolkit.errors import InputError, ReportError, StoreError
from toolkit.reports import html as rh
from toolkit.reports.context import ReportContext, load_context
from toolkit.reports.registry import REPORTS

pytestmark = pytest.mark.report

Q3 = datetime(2026, 8, 15, 6, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ctx") / "ws"
    store_sample_run(ws, Q3)
    store_sample_run(ws, NOW)
    return ws


def _lazy_parts(ctx: ReportContext) -> set[str]:
    """What the context has computed beyond what load_context loads at once."""
    cached = {"portfolio", "records", "policies", "alerts", "last_evaluated_run"}
    return {k for k in ctx.__dict__ if k in cached} | {str(k[0]) for k in ctx._cache}


def test_loads_the_run_and_fills_the_report_info_from_it(ws):
    ctx = load_context(ws, organisation=" Example Org ", classification="confidential")
    assert ctx.run is not None and ctx.run.created_at == NOW
    assert ctx.workspace == ws.resolve()
    assert ctx.info.run_id == ctx.run.run_id
    assert (ctx.info.as_of, ctx.info.period) == ("2026-11-28", "2026Q4")
    assert (ctx.info.organisation, ctx.info.classification) == ("Example Org", "CONFIDENTIAL")
    assert ctx.info.title == rh.BOARD_TITLE
    # the report id is the one the notebooks computed before the loader existed
    assert ctx.info == rh.report_info(
        ctx.run, organisation=" Example Org ", classification="confidential"
    )
    assert ctx.now == NOW  # the run's own time, not the clock
    assert ctx.portfolio_dir == SAMPLE  # the one the run's manifest records
    assert list(ctx.zones["zone"]) == list(ctx.run["zones"]["zone"])
    assert ctx.frame("no_such_frame") is None
    assert ctx.parameters["portfolio"] == str(SAMPLE)


def test_as_of_after_the_run_moves_now_to_the_end_of_that_day(ws):
    ctx = load_context(ws, as_of="2026-12-03")
    assert ctx.now == datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC)
    assert ctx.info.as_of == "2026-12-03"
    # an as-of before the run cannot move the assessment back before its evidence
    assert load_context(ws, as_of="2026-01-01").now == NOW
    with pytest.raises(ValueError):
        load_context(ws, as_of="28/11/2026")


def test_expensive_parts_are_computed_only_when_asked_and_once(ws):
    ctx = load_context(ws)
    assert _lazy_parts(ctx) == set()

    gov = ctx.governance()
    assert gov.available, gov.reason
    assert gov.now == ctx.now
    assert _lazy_parts(ctx) == {"governance"}
    assert ctx.governance() is gov  # kept, not assessed again

    findings, assessed = ctx.findings()
    assert assessed and findings is gov.findings
    assert {"corp.test", "payments.test"} <= set(findings["zone"])

    first = ctx.history(("zones",))
    assert ctx.history(("zones",)) is first
    assert _lazy_parts(ctx) == {"governance", "history"}
    assert "portfolio" not in ctx.__dict__  # the governance view reads its own files

    assert ctx.portfolio is ctx.portfolio
    assert "corp.test" in set(ctx.portfolio.inventory["zone"])
    assert _lazy_parts(ctx) == {"governance", "history", "portfolio"}


def test_history_is_up_to_the_run_unless_asked_for_every_run(ws):
    first = load_context(ws, run=load_context(ws).store.list_runs()["run_id"].iloc[0])
    assert first.run is not None and first.run.created_at == Q3
    assert len(first.history(("zones",)).runs) == 1
    assert len(first.history(("zones",), until_run=False).runs) == 2
    # the last runs up to the report's run: a report of the first run never shows the second
    latest = first.history(("zones",), last=2).runs
    assert list(latest["run_id"]) == [first.run.run_id]
    workspace_last = first.history(("zones",), last=1, until_run=False).runs
    assert len(workspace_last) == 1 and workspace_last["run_id"].iloc[0] != first.run.run_id
    one = first.history(("zones", "records"), zones=["corp.test"])
    assert set(one["zones"]["zone"]) == {"corp.test"}
    both = load_context(ws).history(("zones",), zones=["corp.test"], last=2)
    assert len(both.runs) == 2 and set(both["zones"]["zone"]) == {"corp.test"}


def test_an_invalid_portfolio_does_not_stop_loading_only_the_parts_that_read_it(ws, tmp_path):
    broken = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, broken)
    (broken / "policy.yaml").write_text("policies: [unclosed\n", encoding="utf-8")
    ctx = load_context(ws, portfolio=broken)
    assert ctx.portfolio_dir == broken
    assert ctx.run is not None  # loading never read the portfolio
    with pytest.raises(InputError, match="policy.yaml"):
        ctx.portfolio  # noqa: B018  (the property loads it)


def test_a_run_whose_portfolio_is_not_here_says_so(tmp_path):
    ws = tmp_path / "ws"
    gone = tmp_path / "gone"
    shutil.copytree(SAMPLE, gone)
    store_sample_run(ws, NOW, portfolio=gone)
    shutil.rmtree(gone)
    ctx = load_context(ws)
    gov = ctx.governance()
    assert not gov.available and "not on this machine" in gov.reason
    findings, assessed = ctx.findings()
    assert not assessed and not findings.empty  # the technical checks over the run
    assert ctx.policies is None
    with pytest.raises(ReportError, match=f"portfolio folder {gone} does not exist"):
        ctx.portfolio  # noqa: B018


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: p / "missing", ReportError, "does not exist"),
        (lambda p: (p / "file").write_text("x") and p / "file", ReportError, "is not a folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", StoreError, "no runs in workspace"),
    ],
    ids=["missing", "a-file", "not-a-workspace"],
)
def test_a_bad_workspace_is_a_clear_error_naming_it(tmp_path, make, error, message):
    path = make(tmp_path)
    with pytest.raises(error, match=message) as err:
        load_context(path)
    assert str(path) in str(err.value)


def test_an_unknown_run_names_the_run_and_the_workspace(ws):
    with pytest.raises(StoreError, match=r"no run in .* match '20990101T000000Z-abcdef'") as err:
        load_context(ws, run="20990101T000000Z-abcdef")
    assert str(ws.resolve()) in str(err.value)


def test_a_zone_report_context_finds_the_zone_and_names_it(ws):
    ctx = load_context(ws, kind="zone", zone="BÜCHER.TEST.")
    assert ctx.zone == "xn--bcher-kva.test"
    assert ctx.info.title == f"{rh.ZONE_TITLE}: bücher.test"
    with pytest.raises(ReportError, match="not in the run"):
        load_context(ws, kind="zone", zone="nowhere.test")


def test_a_policy_context_has_no_run_and_is_dated_by_the_file(ws):
    ctx = load_context(None, portfolio=SAMPLE, kind="policy", as_of="2026-10-01")
    assert ctx.run is None and ctx.store is None
    assert ctx.info.run_id == f"policy.yaml {ctx.policy_document.sha256[:12]}"
    assert (ctx.info.as_of, ctx.info.period) == ("2026-10-01", "2026Q4")
    assert ctx.inventory is not None and "corp.test" in set(ctx.inventory["zone"])
    with pytest.raises(ReportError, match="no run"):
        ctx.zones  # noqa: B018
    with pytest.raises(ReportError, match="needs a workspace or a portfolio"):
        load_context(None)


NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize(
    "notebook", [*(kind.notebook for kind in REPORTS.values()), "explore.ipynb"]
)
def test_every_notebook_loads_what_it_reads_with_one_call(notebook):
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    code = [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    ]
    text = "\n".join(code)
    assert text.count("load_context(") == 1 and "load_context(" in code[0]
    # no loading of its own, no path bootstrap, no clock
    for own in ("Store(", "load_history(", "load_portfolio(", "sys.path", ".now(", "today("):
        assert own not in text, f"{notebook} calls {own} itself"


def test_a_runbook_context_names_its_zone_in_the_title_and_the_report_id(ws):
    a = load_context(ws, kind="runbook", zone="corp.test", portfolio=SAMPLE)
    b = load_context(ws, kind="runbook", zone="shop.test", portfolio=SAMPLE)
    assert a.info.title == f"{rh.RUNBOOK_TITLE}: corp.test"
    assert a.info.report_id != b.info.report_id
    assert a.info == rh.report_info(
        a.run, title=a.info.title, kind="runbook", framework="corp.test", classification=""
    )
