"""The import rule: a stage of the pipeline imports only the stages before it.

The package's folders are the stages, in this order (a module may import its own stage, the
base layer, and any stage listed before its own; never one after):

    base        toolkit/*.py: errors, atomic, vocabulary, resources, schemas, reasons
                (leaf helpers every stage uses; none imports a stage)
    inputs      the inventory, policies and their settings, portfolio, governance records
    store       the run store (the collector writes into it, so it sits below collect)
    collect     probing the portfolio into frames, stored as a run
    history     runs over time: key sets, reconciliation of the records with them, trends
    checks      the check catalogue: findings from a run's frames and the history
    assessment  findings judged as of a time, frameworks, maturity, headline
    alerts      alert rules, sinks and the Prometheus export
    reports     the rendering pipeline and what each report shows
    evidence    the audit's evidence pack
    lab         the local DNS lab (it collects and renders to simulate a portfolio's past)
    cli         dnssec-audit and the demo

Every ``import`` is counted — at module level, inside functions, and under ``TYPE_CHECKING``
(an annotation pointing up the pipeline is still a dependency on a later stage) — so no
function-local import can dodge the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "toolkit"

STAGES: tuple[str, ...] = (
    "base",
    "inputs",
    "store",
    "collect",
    "history",
    "checks",
    "assessment",
    "alerts",
    "reports",
    "evidence",
    "lab",
    "cli",
)
RANK = {stage: i for i, stage in enumerate(STAGES)}

#: Imports against the order that are allowed, with why (none: the checks run once, in the
#: assessment). The test below fails when an exception is no longer needed.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(module: str) -> str:
    """The stage of a ``toolkit`` module: its first folder below ``toolkit``, or ``base`` for
    ``toolkit`` itself and the modules directly in it."""
    parts = module.split(".")
    assert parts[0] == "toolkit", module
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "base"


def imported_modules(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every ``toolkit`` module ``path`` imports, with its line: ``import a.b``, ``from a.b
    import c`` (``a.b.c`` when ``c`` is a module), relative imports resolved; wherever the
    statement stands."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).is_dir() or (
                    ROOT / Path(*sub.split(".")).with_suffix(".py")
                ).is_file()
                found.append((node.lineno, sub if is_module else source))
    return [(line, name) for line, name in found if name.split(".")[0] == "toolkit"]


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_folder_of_the_package_is_a_stage():
    """A new folder must be given its place in the order (and the README's layout)."""
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(STAGES) - {"base"}


def test_the_base_layer_imports_no_stage():
    for path in modules():
        if stage_of(module_name(path)) != "base":
            continue
        for line, name in imported_modules(path):
            assert stage_of(name) == "base", f"{path.relative_to(ROOT)}:{line} imports {name}"


def test_a_stage_imports_only_the_stages_before_it():
    wrong, excepted = [], set()
    for path in modules():
        own = stage_of(module_name(path))
        for line, name in imported_modules(path):
            if RANK[stage_of(name)] > RANK[own]:
                key = (str(path.relative_to(ROOT)), name)
                if key in KNOWN_EXCEPTIONS:
                    excepted.add(key)
                else:
                    wrong.append(f"{key[0]}:{line} ({own}) imports {name}")
    assert wrong == []
    assert excepted == set(KNOWN_EXCEPTIONS), "an exception no longer needed: remove it"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from toolkit.checks import run_checks", "toolkit.checks"),
        ("from toolkit.history import oversight", "toolkit.history.oversight"),
        ("from . import base", "toolkit.checks.base"),
        ("from .base import Context", "toolkit.checks.base"),
        ("import toolkit.reports.render as r", "toolkit.reports.render"),
        (
            "def f():\n    from toolkit.assessment.maturity import score\n",
            "toolkit.assessment.maturity",
        ),
        (
            "if TYPE_CHECKING:\n    from toolkit.lab import LabInfo\n",
            "toolkit.lab",
        ),
    ],
)
def test_the_rule_sees_every_form_of_import(source, expected):
    """The scanner itself: relative, aliased, function-local and TYPE_CHECKING imports are all
    found (a scanner that missed one would let a violation pass)."""
    path = PACKAGE / "checks" / "_probe_for_test_layers.py"
    assert expected in [name for _, name in imported_modules(path, source)]


def test_the_readme_layout_is_the_folder_list():
    """The README's Layout section names every stage folder and base module of toolkit/, one
    line each, and nothing that is not there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    toolkit_part = block.split("\ntoolkit/", 1)[1].split("\nnotebooks/", 1)[0]
    listed = {
        line.split()[0]
        for line in toolkit_part.splitlines()[1:]
        if line.startswith("  ") and line[2] != " "
    }
    present = {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    present |= {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert listed == present


def test_the_inputs_import_each_other_at_module_level_only():
    """The inputs are read first and by everything: no import inside a function or under
    TYPE_CHECKING there (such imports held the old cycle policy_settings <-> maturity_settings
    open); their module-level imports form no cycle, or Python could not load them."""
    for path in sorted((PACKAGE / "inputs").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top = {id(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
                names = [a.name for a in node.names]
                source = getattr(node, "module", None) or ""
                assert not (
                    source.startswith("toolkit") or any(n.startswith("toolkit") for n in names)
                ), f"{path.relative_to(ROOT)}:{node.lineno} imports {source or names} locally"
