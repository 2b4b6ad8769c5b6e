"""The registry of report kinds: every kind is complete, and the command line takes its
choices and defaults from it."""

import json

import pytest

from toolkit.cli.main import build_parser
from toolkit.errors import ReportError
from toolkit.reports import render
from toolkit.reports.registry import REPORTS, report_kind


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_each_kind_names_a_notebook_and_template_that_exist(name):
    kind = REPORTS[name]
    nb = render.notebooks_dir() / kind.notebook
    assert nb.is_file()
    assert (render.templates_dir() / kind.template / "conf.json").is_file()
    for sheet in kind.stylesheets:
        assert (render.templates_dir() / sheet).is_file()
    # every parameter the registry hands over is declared in the notebook's parameters cell
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    params = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    declared = {ln.split("=")[0].strip() for ln in "".join(params["source"]).splitlines()}
    source = {"run": {"workspace", "run"}, "portfolio": {"portfolio"}}[kind.source]
    assert set(kind.parameters) | source <= declared, declared
    assert kind.default_out.endswith(".html" if kind.output == "html" else ".pdf")


def test_unknown_kind_is_refused_naming_the_known_ones():
    with pytest.raises(ReportError, match="known: audit, board, dashboard"):
        report_kind("weekly")


def test_the_cli_offers_exactly_the_registry():
    parser = build_parser()
    args = parser.parse_args(["report", "dashboard"])
    assert args.kind == "dashboard"
    sub = next(a for a in parser._actions if a.dest == "command")
    report = sub.choices["report"]
    kind = next(a for a in report._actions if a.dest == "kind")
    assert list(kind.choices) == list(REPORTS)


def test_a_required_option_is_refused_before_any_kernel(tmp_path):
    with pytest.raises(ReportError, match=r"the runbook needs a zone \(--zone\)"):
        render.render_report("runbook", tmp_path, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
