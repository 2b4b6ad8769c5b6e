"""The fault and fuzz suite (issue 12): property-based tests (Hypothesis) over every input file
the toolkit reads — inventory.csv, policy.yaml and the six governance CSVs — and every value a
command-line option takes. The property is the same everywhere: no input produces a traceback.
A reader either accepts the input or raises the toolkit's own InputError naming the file; a
command either runs or exits 1 (one ``dnssec-audit: error:`` line) or 2 (argparse usage).

Deterministic: ``derandomize=True`` (the examples follow from the test's code, not a seed), no
example database, no deadline; a few seconds per property.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from governance_fakes import SAMPLE, store_sample_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.cli.main import build_parser, main
from toolkit.errors import InputError, ToolkitError
from toolkit.inputs.governance.changes import CHANGES, load_changes
from toolkit.inputs.governance.drills import DRILLS, load_drills
from toolkit.inputs.governance.exceptions import EXCEPTIONS, load_exceptions
from toolkit.inputs.governance.incidents import INCIDENTS, load_incidents
from toolkit.inputs.governance.keys import KEYS, load_keys
from toolkit.inputs.governance.registrars import REGISTRARS, load_registrars
from toolkit.inputs.inventory import load_inventory
from toolkit.inputs.policy import load_policies
from toolkit.reports.registry import REPORTS
from toolkit.schemas import INVENTORY

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "60"))

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- values: what a hostile or careless user types ------------------------------------------

NASTY = [
    "",
    " ",
    "\t",
    "\r\n",
    "\x00",
    "\ufeff",
    "é",
    "ü",
    "😀",
    "\u202e",
    "'",
    '"',
    ",",
    ";",
    "\\",
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "0",
    "-0",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "9" * 40,
    "2026-02-30",
    "2026-13-01",
    "0001-01-01",
    "9999-12-31",
    "2026-11-28T12:00:00Z",
    "2026-11-28T25:00",
    "true",
    "yes",
    "null",
    "~",
    "127.0.0.1",
    "::1",
    "a..b",
    "_x.test",
    "xn--zz.test",
    "x" * 300,
    "corp.test",
    "ok.test",
    "bücher.test",
    "<script>",
    "../../etc",
    "%s%n",
    "{}",
    "[]",
    "*a",
    "&a",
    "!!python/object/apply:os.system ['true']",
    "- a",
    "a: b",
]
cell = st.one_of(st.sampled_from(NASTY), st.text(max_size=20))


def _csv_text(columns: list[str]) -> st.SearchStrategy[str]:
    """CSV documents: the real header (maybe shuffled, cut or extended) and rows of hostile
    cells of any width; or text that is no CSV at all."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        header = draw(
            st.one_of(
                st.just(columns),
                st.permutations(columns),
                st.lists(st.sampled_from([*columns, "unknown", "", "zone"]), max_size=12),
            )
        )
        width = max(len(header), 1)
        rows = draw(
            st.lists(
                st.lists(cell, min_size=0, max_size=width + 2),
                max_size=6,
            )
        )
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()

    return st.one_of(build(), st.text(max_size=200))


def _write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


@contextlib.contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        yield Path(d)


def _accepts_or_input_error(read: Callable[[Path], object], path: Path) -> None:
    """The property: ``read(path)`` returns, or raises InputError whose text names the file."""
    try:
        read(path)
    except InputError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        assert exc.problems, "an InputError lists its problems"


# -- input files ----------------------------------------------------------------------------

RECORD_FILES = [
    ("changes.csv", CHANGES, load_changes),
    ("drills.csv", DRILLS, load_drills),
    ("exceptions.csv", EXCEPTIONS, load_exceptions),
    ("incidents.csv", INCIDENTS, load_incidents),
    ("keys.csv", KEYS, load_keys),
]
INVENTORY_ZONES = ["corp.test", "ok.test", "bücher.test"]


@FUZZ
@given(text=_csv_text(list(INVENTORY.names)))
def test_inventory_csv_never_crashes(text):
    with _folder() as d:
        _accepts_or_input_error(load_inventory, _write(d, "inventory.csv", text))


@FUZZ
@given(data=st.binary(max_size=200))
def test_inventory_bytes_never_crash(data):
    with _folder() as d:
        _accepts_or_input_error(load_inventory, _write(d, "inventory.csv", data))


@pytest.mark.parametrize("name,spec,load", RECORD_FILES, ids=[r[0] for r in RECORD_FILES])
def test_governance_csv_never_crashes(name, spec, load):
    columns = [f.name for f in spec.fields]

    @FUZZ
    @given(text=_csv_text(columns), zones=st.sampled_from([None, INVENTORY_ZONES]))
    def run(text, zones):
        with _folder() as d:
            _accepts_or_input_error(lambda p: load(p, zones), _write(d, name, text))

    run()


@FUZZ
@given(text=_csv_text([f.name for f in REGISTRARS.fields]), data=st.binary(max_size=64))
def test_registrars_csv_never_crashes(text, data):
    with _folder() as d:
        _accepts_or_input_error(load_registrars, _write(d, "registrars.csv", text))
        _accepts_or_input_error(load_registrars, _write(d, "registrars2.csv", data))


SAMPLE_POLICY = (SAMPLE / "policy.yaml").read_text(encoding="utf-8").splitlines()
yaml_value = st.one_of(
    st.sampled_from(NASTY),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=30),
)


@st.composite
def _policy_text(draw: st.DrawFn) -> str:
    """policy.yaml: the sample with lines' values replaced, lines dropped or duplicated, or
    deep nesting, or any text."""
    kind = draw(st.sampled_from(["edit", "drop", "date", "nest", "text"]))
    lines = list(SAMPLE_POLICY)
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "date":  # dates that may not exist (2026-02-30), where the policy has one
        y, m, d = (draw(st.integers(min_value=lo, max_value=hi)) for lo, hi in
                   ((1, 9999), (0, 19), (0, 39)))  # fmt: skip
        at = next(i for i, line in enumerate(lines) if line.startswith("last_review:"))
        lines[at] = f"last_review: {y:04}-{m:02}-{d:02}"
        return "\n".join(lines) + "\n"
    if kind == "nest":
        depth = draw(st.sampled_from([2, 40, 1200, 5000]))
        opener = draw(st.sampled_from(["[", "{a: "]))
        closer = "]" if opener == "[" else "}"
        return "format_version: 1\npolicies: " + opener * depth + "1" + closer * depth + "\n"
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        if kind == "drop":
            del lines[i]
            if not lines:
                break
        elif ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(yaml_value)}"
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=_policy_text())
def test_policy_yaml_never_crashes(text):
    with _folder() as d:
        _accepts_or_input_error(load_policies, _write(d, "policy.yaml", text))


# -- command-line values --------------------------------------------------------------------


def _commands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(command, parser) of every command that runs, nested ones included: ``collect``,
    ``lab up``, ``report audit``, ``evidence verify``, ..."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _commands(child, f"{path} {name}".strip())


def _value_options() -> list[tuple[str, str, argparse.Action]]:
    """(command, option, action) for every option of every command that takes a value."""
    out = []
    for command, p in _commands(build_parser()):
        for action in p._actions:
            if action.option_strings and action.nargs != 0 and not action.choices:
                out.append((command, action.option_strings[-1], action))
    return out


VALUE_OPTIONS = _value_options()
option_value = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.integers().map(str),
    st.floats().map(str),
)


def test_every_value_option_is_fuzzed():
    """The list below covers the parser: a new option with a value is fuzzed automatically."""
    names = {f"{c} {o}" for c, o, _ in VALUE_OPTIONS}
    assert {"collect --now", "collect --resolver", "report audit --period", "alerts --webhook",
            "lab up --loss", "lab synthetic --loss", "inventory export --out",
            "report zone --zone", "report audit --evidence", "report policy --portfolio",
            "evidence verify --expect-key", "lab drill --append-record"} <= names  # fmt: skip
    assert "report board --evidence" not in names  # the board report has no evidence pack
    # every command of the parser is walked, nested ones included
    commands = {c for c, _ in _commands(build_parser())}
    assert {f"report {kind}" for kind in REPORTS} <= commands
    assert {"lab up", "lab down", "lab status", "lab synthetic", "lab drill"} <= commands
    assert len(VALUE_OPTIONS) >= 80


@FUZZ
@given(data=st.data())
def test_argument_types_accept_or_refuse_cleanly(data):
    """Each option's type function returns a value or raises what argparse turns into a
    usage line (ArgumentTypeError, ValueError, TypeError) — never anything else."""
    typed = [(c, o, a) for c, o, a in VALUE_OPTIONS if callable(a.type)]
    command, option, action = data.draw(st.sampled_from(typed), label="option")
    value = data.draw(option_value, label="value")
    try:
        action.type(value)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        pass


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    """An empty workspace, and one holding the sample run."""
    base = tmp_path_factory.mktemp("fuzz-cli")
    store_sample_run(base / "full", datetime(2026, 11, 28, 6, tzinfo=UTC))
    (base / "empty").mkdir()
    return base


def _safe_argv(command: str, option: str, value: str, base: Path) -> list[str] | None:
    """A command line that reads ``value`` for ``option`` and can touch nothing outside
    ``base`` nor the network: an empty workspace (the command stops at "no runs" after its
    options are read), a portfolio that does not exist (collect stops before probing).
    None for the commands that would start servers (lab ..., demo)."""
    if command.split()[0] in ("lab", "demo"):
        return None
    empty = str(base / "empty")
    nowhere = str(base / "no-portfolio")
    if option in ("--workspace",):
        value = str(base / "ws-fuzz" / value.replace("/", "_").replace("\x00", "\\0"))
    elif option in ("--out", "--jsonl", "--evidence", "--append-record"):
        value = str(base / "out-fuzz" / value.replace("/", "_"))
    full = str(base / "full")  # commands that only read the run (or write under base) use it
    alerts_ws = full if option in ("--now", "--portfolio", "--ack", "--by", "--jsonl") else empty
    argv = {
        "collect": ["collect", "--portfolio", nowhere, "--workspace", empty],
        "discover": ["discover", "--portfolio", nowhere, "--workspace", empty],
        "runs": ["runs", "--workspace", empty],
        "zones": ["zones", "--workspace", full],
        "assess": ["assess", "--workspace", full],
        "inventory export": [
            *("inventory", "export", "--workspace", full, "--out", str(base / "x.csv")),
        ],
        **{  # an empty workspace: every report stops at "no runs" after reading its options
            f"report {kind}": ["report", kind, "--workspace", empty]
            + (["--zone", "corp.test"] if REPORTS[kind].takes("zone") else [])
            for kind in REPORTS
        },
        "evidence verify": ["evidence", "verify", str(base / "no-pack")],
        "history": ["history", "--workspace", full],
        "alerts": ["alerts", "--workspace", alerts_ws],
        "metrics": ["metrics", "--workspace", full],
    }[command]
    return [*argv, option, value]


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage and exit 2
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, code)
    assert "Traceback" not in err
    if code == 1:
        assert err.startswith("dnssec-audit: error: "), (argv, err)


@FUZZ
@given(data=st.data())
def test_cli_values_never_crash(data, workspaces, capsys, monkeypatch):
    """Every option with a value, on every command that reads without probing: exit 0, 1 with
    one error line, or 2 — never a traceback."""
    monkeypatch.chdir(workspaces)
    command, option, _ = data.draw(st.sampled_from(VALUE_OPTIONS), label="option")
    value = data.draw(option_value, label="value")
    argv = _safe_argv(command, option, value, workspaces)
    if argv is not None:
        _run_cli(argv, capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["collect", "--now", "9999-12-31"],
        ["assess", "--now", "9999-12-31"],
        ["alerts", "--now", "0001-01-01T00:00:00-12:00"],
        ["collect", "--resolver", "x=notanip"],
        ["collect", "--resolver", "x=1.2.3.4@0"],
        ["collect", "--timeout", "nan"],
        ["collect", "--workers", "0"],
        ["collect", "--max-qps-per-server", "inf"],
        ["report audit", "--period", "2026Q9"],
        ["report zone", "--zone", "\x00"],
        ["report dashboard", "--history-runs", "-1"],
        ["history", "--zone", "127.0.0.1"],
        ["zones", "--run", "\x00"],
        ["alerts", "--webhook", "http://[::1"],
        ["alerts", "--now", "2026-02-30"],
    ],
    ids=lambda a: " ".join(a).replace("\x00", "NUL"),
)
def test_known_hostile_values_are_one_clear_line(argv, workspaces, capsys, monkeypatch):
    """The values of the issue's report, and the ones the fuzzing above found."""
    monkeypatch.chdir(workspaces)
    command, option, value = argv
    full = _safe_argv(command, option, value, workspaces)
    assert full is not None
    _run_cli(full, capsys)


def test_cli_values_reach_the_commands(workspaces, capsys):
    """The safe command lines do reach the code that reads each value (so the fuzzing above
    tests more than argparse): a good --run prints the zones, a bad one names it."""
    base = ["zones", "--workspace", str(workspaces / "full"), "--run"]
    assert main([*base, "latest"]) == 0
    assert "corp.test" in capsys.readouterr().out
    assert main([*base, "no-such-run"]) == 1
    assert "no-such-run" in capsys.readouterr().err


def test_toolkit_error_is_the_only_error_type():
    """InputError is a ToolkitError: main() turns it into one line (exit 1)."""
    assert issubclass(InputError, ToolkitError)
