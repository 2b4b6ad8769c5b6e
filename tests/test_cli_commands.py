"""The command tree of ``dnssec-audit``: ``lab`` and ``report`` (and ``inventory``,
``evidence``) have one nested subcommand per action or report kind, each with only its own
options; every ``--help`` works; the command lines of the README and the Makefile still parse."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.cli import main as cli
from toolkit.cli.commands import report_options
from toolkit.cli.main import build_parser, main
from toolkit.reports.registry import DEFAULT_HISTORY_RUNS, REPORTS

ROOT = Path(__file__).resolve().parent.parent


def commands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(command, parser) of every command that runs: ``runs``, ``lab up``, ``report audit``..."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from commands(child, f"{path} {name}".strip())


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


COMMANDS = dict(commands(build_parser()))
NESTED = {"lab": ["up", "down", "status", "synthetic", "drill"], "report": list(REPORTS),
          "inventory": ["export"], "evidence": ["verify"]}  # fmt: skip

#: What each report kind takes besides --workspace, --run and --out (spelt out, not derived from
#: the registry: the test fails if the registry or the parser drifts).
COMMON = {"-h", "--help", "--workspace", "--run", "--out"}
LABELS = {"--organisation", "--as-of", "--classification"}
REPORT_OPTIONS = {
    "board": LABELS | {"--period"},
    "audit": LABELS | {"--period", "--framework", "--inline-zone-limit", "--evidence", "--tsa-url"},
    "zone": LABELS | {"--period", "--zone"},
    "dashboard": LABELS | {"--history-runs"},
    "policy": LABELS | {"--portfolio"},
    "runbook": LABELS | {"--zone", "--portfolio"},
}


def test_lab_report_inventory_evidence_are_nested():
    for command, actions in NESTED.items():
        assert [c.split()[1] for c in COMMANDS if c.split()[0] == command] == actions
    assert "lab" not in COMMANDS and "report" not in COMMANDS  # no flat parser is left


@pytest.mark.parametrize("kind", list(REPORTS))
def test_each_report_kind_carries_exactly_the_options_it_uses(kind):
    assert options(COMMANDS[f"report {kind}"]) == COMMON | REPORT_OPTIONS[kind]
    # and every parameter the registry hands to the kind's notebook has its option
    spec = REPORTS[kind]
    assert {f"--{p.replace('_', '-')}" for p in spec.parameters} <= REPORT_OPTIONS[kind]


@pytest.mark.parametrize("kind", list(REPORTS))
def test_report_options_take_the_kinds_defaults(kind):
    spec = REPORTS[kind]
    argv = ["report", kind, "--workspace", "ws"] + (
        ["--zone", "corp.test"] if spec.takes("zone") else []
    )
    opts = report_options(build_parser().parse_args(argv))
    assert opts.classification == spec.classification
    assert opts.zone == ("corp.test" if spec.takes("zone") else "")
    assert opts.run == "latest" and opts.framework == "" and opts.portfolio is None
    assert opts.history_runs == DEFAULT_HISTORY_RUNS


def test_report_options_reach_the_report():
    args = build_parser().parse_args(
        [
            "report",
            "audit",
            "--run",
            "abc",
            "--framework",
            "nis2",
            "--inline-zone-limit",
            "7",
            "--organisation",
            "Acme <b>",
            "--period",
            "2026Q3",
            "--as-of",
            "2026-09-30",
            "--classification",
            "SECRET",
        ]  # fmt: skip
    )
    opts = report_options(args)
    assert (opts.run, opts.framework, opts.inline_zone_limit) == ("abc", "nis2", 7)
    assert (opts.organisation, opts.period, opts.as_of) == ("Acme <b>", "2026Q3", "2026-09-30")
    assert opts.classification == "SECRET"
    args = build_parser().parse_args(
        ["report", "runbook", "--zone", "corp.test", "--portfolio", "p", "--classification", ""]
    )
    assert report_options(args).portfolio == Path("p")
    dashboard = build_parser().parse_args(["report", "dashboard", "--history-runs", "12"])
    assert report_options(dashboard).history_runs == 12


@pytest.mark.parametrize(
    "argv, option",
    [
        (["report", "board", "--evidence", "e"], "--evidence e"),
        (["report", "board", "--framework", "soc2"], "--framework soc2"),
        (["report", "dashboard", "--zone", "corp.test"], "--zone corp.test"),
        (["report", "zone", "--zone", "corp.test", "--portfolio", "p"], "--portfolio p"),
        (["report", "policy", "--period", "2026Q4"], "--period 2026Q4"),
        (["lab", "down", "--base", "127.9.9"], "--base 127.9.9"),
        (["lab", "up", "--zones", "5"], "--zones 5"),
        (["lab", "status", "--list"], "--list"),
    ],
)
def test_an_option_of_another_command_is_refused_with_that_commands_usage(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    command = " ".join(argv[:2])
    assert err.startswith(f"usage: dnssec-audit {command} ")
    assert f"dnssec-audit {command}: error: unrecognized arguments: {option}" in err


def test_a_zone_report_without_a_zone_is_refused_by_its_parser(capsys):
    for kind in ("zone", "runbook"):
        with pytest.raises(SystemExit) as exc:
            main(["report", kind, "--workspace", "ws"])
        assert exc.value.code == 2
        assert "the following arguments are required: --zone" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["lab"], ["report"], ["evidence"], ["inventory"]])
def test_a_command_without_its_action_is_bad_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert (
        f"usage: dnssec-audit {argv[0]} " in err and "the following arguments are required" in err
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_command_works(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command.split(), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: dnssec-audit {command}")
    for option in options(COMMANDS[command]) - {"-h"}:
        assert option in out  # each option of the command is documented
    if command.startswith("report "):  # the kind's defaults, from the registry
        kind = REPORTS[command.split()[1]]
        text = " ".join(out.split())
        assert f"out/{kind.default_out}" in text and kind.classification in text


def test_report_help_lists_each_kind_with_its_description(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for kind in REPORTS.values():
        assert f"{kind.name} {' '.join(kind.description.split())[:30]}" in out


def test_the_lab_defaults_are_the_libraries():
    """The parser spells the lab's defaults (building it imports no lab code): the same."""
    from toolkit.lab import DEFAULT_BASE
    from toolkit.lab.lab import DEFAULT_DIR
    from toolkit.lab.synthetic import SYNTHETIC_BASE, SYNTHETIC_DIR

    assert (cli.DEFAULT_LAB_DIR, cli.DEFAULT_LAB_BASE) == (DEFAULT_DIR, DEFAULT_BASE)
    assert (cli.SYNTHETIC_LAB_DIR, cli.SYNTHETIC_LAB_BASE) == (SYNTHETIC_DIR, SYNTHETIC_BASE)
    synthetic = build_parser().parse_args(["lab", "synthetic"])
    assert (synthetic.dir, synthetic.base) == (SYNTHETIC_DIR, SYNTHETIC_BASE)
    up = build_parser().parse_args(["lab", "up"])
    assert (up.dir, up.base) == (DEFAULT_DIR, DEFAULT_BASE)


def _documented_command_lines() -> list[str]:
    """Every ``dnssec-audit`` command line of the README's shell blocks and the Makefile that
    is literal (no ``[optional]`` or ``a|b`` shorthand), comments and continuations resolved."""
    found = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S):
        found += block.replace("\\\n", " ").splitlines()
    found += (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    lines = []
    for line in found:
        for part in re.split(r";|&&", line.split(" # ")[0]):
            part = part.strip().removeprefix("-").removeprefix("$(VENV)/bin/")
            if part.startswith("dnssec-audit ") and not re.search(r"[\[|]", part):
                lines.append(part)
    return lines


def test_the_documented_command_lines_still_parse():
    lines = _documented_command_lines()
    assert {"dnssec-audit lab drill --list", "dnssec-audit lab down --dir .lab"} <= set(lines)
    assert any(
        line.startswith("dnssec-audit report audit --workspace ws --evidence") for line in lines
    )
    assert len(lines) >= 15
    parser = build_parser()
    for line in lines:
        argv = shlex.split(line)[1:]
        args, extra = parser.parse_known_args(argv)
        assert extra == [], line
        assert callable(args.func), line
