"""The ``dnssec-audit`` command line: the parser (:func:`build_parser`, one small function per
command; ``lab``, ``report``, ``inventory`` and ``evidence`` with one nested subcommand per
action or report kind, each carrying only its own options) and :func:`main`, which runs the
command's ``cmd_*`` of :mod:`toolkit.cli.commands`. Exit codes: 0 success, 1 the toolkit failed
(one ``dnssec-audit: error:`` line on stderr), 2 bad usage (argparse's usage line), 130
interrupted."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import __version__
from toolkit.cli.argtypes import (
    cluster_spec,
    milliseconds,
    non_negative_float,
    non_negative_int,
    period,
    positive_int,
    positive_seconds,
    share,
    vantage,
)
from toolkit.cli.commands import (
    cmd_alerts,
    cmd_assess,
    cmd_collect,
    cmd_demo,
    cmd_discover,
    cmd_evidence,
    cmd_history,
    cmd_inventory,
    cmd_lab_down,
    cmd_lab_drill,
    cmd_lab_status,
    cmd_lab_synthetic,
    cmd_lab_up,
    cmd_metrics,
    cmd_report,
    cmd_runs,
    cmd_zones,
)
from toolkit.errors import WRITE_ERRNOS, ToolkitError
from toolkit.vocabulary import HISTORY_VIEWS

if TYPE_CHECKING:
    from toolkit.reports.registry import ReportKind

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

# The lab's defaults, spelt here so that building the parser imports no lab code
# (tests/test_cli_commands.py checks them against toolkit.lab's DEFAULT_DIR, DEFAULT_BASE,
# SYNTHETIC_DIR and SYNTHETIC_BASE).
DEFAULT_LAB_DIR = Path(".lab")
DEFAULT_LAB_BASE = "127.53.0"
SYNTHETIC_LAB_DIR = Path(".lab-synthetic")
SYNTHETIC_LAB_BASE = "127.100.0"

FORMATS = ["table", "csv", "json"]


def _workspace_default() -> str:
    return os.environ.get("DNSSEC_AUDIT_WORKSPACE", "workspace")


def _add_workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workspace",
        default=_workspace_default(),
        help="folder holding the runs (default: $DNSSEC_AUDIT_WORKSPACE or ./workspace)",
    )


def _add_discover_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--zone-files",
        type=Path,
        metavar="DIR",
        help="discovery: folder of the organisation's zone files (ZONE, ZONE.zone or db.ZONE);"
        " on collect, implies --discover",
    )
    p.add_argument(
        "--max-walk-queries",
        type=positive_int,
        default=500,
        metavar="N",
        help="discovery: NSEC queries per zone at most; a longer walk stops as partial (500)",
    )


# -- the parser: one function per command -----------------------------------------------------


def _command(p: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]) -> None:
    """Make ``p`` a command that runs ``func``; it also names ``p``, so that an option another
    command takes is refused with this command's usage (see :func:`main`)."""
    p.set_defaults(func=func, command_parser=p)


def _add_lab_dir(p: argparse.ArgumentParser, default: Path = DEFAULT_LAB_DIR) -> None:
    p.add_argument("--dir", type=Path, default=default, help=f"lab folder (./{default})")


def _add_lab_signing(p: argparse.ArgumentParser, default_base: str) -> None:
    """--base, --now and the network shim's options of ``lab up`` and ``lab synthetic``."""
    p.add_argument(
        "--base",
        default=default_base,
        help=f"first three octets of the lab's loopback addresses ({default_base})",
    )
    p.add_argument("--now", help="sign relative to this time (ISO 8601; default: now)")
    p.add_argument(
        "--rtt-ms",
        type=milliseconds,
        default=0.0,
        help="round trip the network shim adds to every server (0: no shim)",
    )
    p.add_argument("--jitter-ms", type=milliseconds, default=0.0, help="± spread of it (0)")
    p.add_argument("--loss", type=share, default=0.0, help="share of UDP queries lost (0)")


def _add_lab(sub: Subparsers) -> None:
    lab = sub.add_parser(
        "lab",
        help="a local DNSSEC lab of real servers on loopback",
        description="A local DNSSEC lab of real servers on loopback: up, down, status, a"
        " synthetic lab of many zones, and incident drills played on the lab.",
    )
    actions = lab.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser("up", help="sign the lab's zones, start its servers and resolvers")
    _add_lab_dir(p)
    _add_lab_signing(p, DEFAULT_LAB_BASE)
    _command(p, cmd_lab_up)

    p = actions.add_parser("down", help="stop a lab's processes (by the PIDs it recorded)")
    _add_lab_dir(p)
    _command(p, cmd_lab_down)

    p = actions.add_parser("status", help="a lab's processes: running, answering")
    _add_lab_dir(p)
    _command(p, cmd_lab_status)

    p = actions.add_parser(
        "synthetic",
        help="a lab of many signed zones, for collecting at scale",
        description="A synthetic lab of many signed zones, in its own folder on its own"
        " addresses (it never replaces the regular lab); stop it with lab down --dir.",
    )
    _add_lab_dir(p, SYNTHETIC_LAB_DIR)
    _add_lab_signing(p, SYNTHETIC_LAB_BASE)
    p.add_argument("--zones", type=positive_int, default=10000, help="signed zones (10000)")
    p.add_argument(
        "--dead-fraction",
        type=share,
        default=0.0,
        help="share of zones delegated to an address where nothing listens (0)",
    )
    p.add_argument(
        "--rude-servers",
        action="store_true",
        help="add one zone per rude server (slow, RRL, truncating, EDNS FORMERR, no TCP)"
        " behind the shim",
    )
    p.add_argument(
        "--ns-addresses",
        type=positive_int,
        default=2,
        metavar="N",
        help="spread the zones over N name-server addresses (even, 2 to 64; 2)",
    )
    _command(p, cmd_lab_synthetic)

    p = actions.add_parser("drill", help="play an incident drill on the running lab")
    p.add_argument("drill_name", nargs="?", metavar="NAME", help="the drill to play")
    _add_lab_dir(p)
    p.add_argument("--now", help="start the drill at this time (ISO 8601; default: now)")
    p.add_argument("--list", action="store_true", help="list the drills")
    p.add_argument("--out", type=Path, help="output folder (out/drills/NAME-TIME)")
    p.add_argument("--append-record", type=Path, help="append the record to this drills.csv")
    _command(p, cmd_lab_drill)


def _add_collect(sub: Subparsers) -> None:
    p = sub.add_parser("collect", help="probe every zone of a portfolio and store a run")
    p.add_argument("--portfolio", required=True, type=Path, help="folder with inventory.csv")
    _add_workspace(p)
    p.add_argument("--trust-anchor", type=Path, help="DS/DNSKEY file (default: IANA root)")
    p.add_argument("--root-hints", type=Path, help="NS + A/AAAA file (default: IANA root)")
    p.add_argument(
        "--resolver",
        action="append",
        default=[],
        metavar="NAME=ADDR[@PORT]",
        help="validating resolver to check (repeatable; default: the system's resolvers)",
    )
    p.add_argument("--no-resolvers", action="store_true", help="ask no validating resolver")
    p.add_argument("--lab", type=Path, help="take anchor, hints and resolvers from a lab folder")
    p.add_argument("--timeout", type=positive_seconds, default=2.0, help="seconds per try (2)")
    p.add_argument(
        "--tries", type=positive_int, default=2, help="tries per server and transport (2)"
    )
    p.add_argument(
        "--max-inflight-per-server",
        type=non_negative_int,
        metavar="N",
        help="queries in flight to one server address at most, for the whole run"
        " (default: policy.yaml's collector section, else 16; 0: no limit)",
    )
    p.add_argument(
        "--max-qps-per-server",
        type=non_negative_float,
        metavar="Q",
        help="queries per second to one server address at most, for the whole run"
        " (default: policy.yaml's collector section, else 100; 0: no limit)",
    )
    p.add_argument("--now", help="validate as of this time (ISO 8601; default: now)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="collector processes (default: one per core; 1: a single sequential process)",
    )
    p.add_argument(
        "--cluster",
        metavar="SPEC",
        type=cluster_spec,
        help="collect on a Dask cluster instead: local, local:N (N worker processes) or a"
        " scheduler address such as tcp://scheduler:8786 (needs the 'cluster' extra)",
    )
    p.add_argument(
        "--tsa-url",
        metavar="URL",
        help="timestamp the run's manifest at this RFC 3161 Time-Stamping Authority (proves "
        "the run existed by then; no run is stored when the TSA fails)",
    )
    p.add_argument(
        "--vantage",
        type=vantage,
        metavar="NAME",
        help="name of the network this collection asks the resolvers from (recorded with each"
        " answer; on a cluster, workers with a vantage-NAME resource ask from their own)",
    )
    _add_discover_options(p)
    p.add_argument(
        "--discover",
        action="store_true",
        help="also discover the delegations below each zone (zone files, AXFR, NSEC walk) and"
        " store them with the run (frames delegations and discovery)",
    )
    _command(p, cmd_collect)


def _add_discover(sub: Subparsers) -> None:
    p = sub.add_parser(
        "discover", help="list the delegations below the inventory's zones and the uninventoried"
    )
    p.add_argument("--portfolio", required=True, type=Path, help="folder with inventory.csv")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run whose servers are asked (latest)")
    _add_discover_options(p)
    p.add_argument("--no-axfr", action="store_true", help="ask no server for a zone transfer")
    p.add_argument("--no-walk", action="store_true", help="walk no NSEC chain")
    p.add_argument(
        "--walk-max-qps",
        type=non_negative_float,
        metavar="Q",
        help="NSEC walk: queries per second to one server at most (20; 0: no cap)",
    )
    p.add_argument("--timeout", type=positive_seconds, default=2.0, help="seconds per query (2)")
    p.add_argument("--out", type=Path, help="write the delegations frame here (.csv or .parquet)")
    p.add_argument("--now", help="the time recorded as seen_at (ISO 8601; default: now)")
    p.add_argument("--format", choices=FORMATS, default="table")
    _command(p, cmd_discover)


def _add_runs(sub: Subparsers) -> None:
    p = sub.add_parser("runs", help="list the stored runs")
    _add_workspace(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    _command(p, cmd_runs)


def _add_zones(sub: Subparsers) -> None:
    p = sub.add_parser("zones", help="print a run's zones frame")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--format", choices=FORMATS, default="table")
    _command(p, cmd_zones)


def _add_assess(sub: Subparsers) -> None:
    p = sub.add_parser(
        "assess", help="findings, framework requirements and maturity scores of a run"
    )
    p.add_argument("--portfolio", type=Path, help="portfolio folder (default: the run's)")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument(
        "--framework",
        choices=["iso27001", "soc2", "nist-800-53", "nis2", "cis"],
        help="only this framework's requirements (and the findings of its checks)",
    )
    p.add_argument("--now", help="assess as of this time (ISO 8601; default: now)")
    _command(p, cmd_assess)


def _add_inventory(sub: Subparsers) -> None:
    inventory = sub.add_parser("inventory", help="the inventory enriched with a run's DNSSEC facts")
    actions = inventory.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("export", help="write the asset register: inventory + DNSSEC facts")
    p.add_argument("--portfolio", type=Path, help="portfolio folder (default: the run's)")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write")
    _command(p, cmd_inventory)


def _add_report_kind(kinds: Subparsers, kind: ReportKind) -> None:
    """The parser of ``report KIND``: the run it covers (or the portfolio), --out, and one
    option per parameter the registry names for the kind; --evidence/--tsa-url when the kind
    can be written as an evidence pack."""
    from toolkit.reports.registry import (
        DEFAULT_HISTORY_RUNS,
        DEFAULT_INLINE_ZONE_LIMIT,
        DEFAULT_ORGANISATION,
        PARAMETER_HELP,
    )

    p = kinds.add_parser(
        kind.name,
        help=kind.description,
        description=f"Render {kind.description} (default: out/{kind.default_out},"
        f" classified {kind.classification}).",
    )
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    source = "; with --evidence, a copy of the pack's PDF" if kind.evidence_pack else ""
    p.add_argument("--out", type=Path, help=f"file to write (out/{kind.default_out}){source}")
    if kind.source == "portfolio" and not kind.takes("portfolio"):
        p.add_argument("--portfolio", type=Path, help=PARAMETER_HELP["portfolio"])
    typed: dict[str, dict[str, Any]] = {  # every other parameter: text, default ""
        "organisation": {"default": DEFAULT_ORGANISATION},
        "period": {"type": period, "default": ""},
        "classification": {"default": kind.classification},
        "inline_zone_limit": {"type": positive_int, "default": DEFAULT_INLINE_ZONE_LIMIT},
        "zone": {"required": True},
        "portfolio": {"type": Path},
        "history_runs": {"type": positive_int, "default": DEFAULT_HISTORY_RUNS},
    }
    for name in kind.parameters:
        help_text = PARAMETER_HELP[name]
        if name == "classification":
            help_text = f"classification label on every page ({kind.classification})"
        options = typed.get(name, {"default": ""})
        p.add_argument(f"--{name.replace('_', '-')}", help=help_text, **options)
    if kind.evidence_pack:
        p.add_argument(
            "--evidence",
            type=Path,
            metavar="DIR",
            help="write the evidence pack (PDF, frames, records, manifest) to DIR",
        )
        p.add_argument(
            "--tsa-url",
            metavar="URL",
            help="with --evidence: timestamp the pack's manifest at this RFC 3161 TSA",
        )
    _command(p, cmd_report)


def _add_report(sub: Subparsers) -> None:
    from toolkit.reports.registry import REPORTS

    report = sub.add_parser(
        "report",
        help="render a report: " + ", ".join(REPORTS),
        description="Render a report; each KIND has its own options (report KIND --help).",
    )
    kinds = report.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in REPORTS.values():
        _add_report_kind(kinds, kind)


def _add_evidence(sub: Subparsers) -> None:
    evidence = sub.add_parser("evidence", help="check an evidence pack")
    actions = evidence.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("verify", help="check every file of a pack against its signed manifest")
    p.add_argument("dir", type=Path, help="the evidence pack's folder")
    p.add_argument(
        "--expect-key",
        metavar="SHA256:HEX",
        help="fail unless the pack is signed by the key of this fingerprint (as the audit "
        "report prints it)",
    )
    p.add_argument(
        "--tsa-ca",
        type=Path,
        metavar="PEM",
        help="verify the pack's RFC 3161 timestamp against this TSA CA certificate",
    )
    _command(p, cmd_evidence)


def _add_history(sub: Subparsers) -> None:
    p = sub.add_parser("history", help="what changed across the stored runs, and the trends")
    _add_workspace(p)
    p.add_argument("--zone", help="only this zone")
    p.add_argument("--view", choices=HISTORY_VIEWS, default="changes", help="(changes)")
    p.add_argument("--period", choices=["week", "month", "quarter"], default="quarter")
    p.add_argument("--portfolio", type=Path, help="policy.yaml from here (rollover window)")
    p.add_argument("--format", choices=FORMATS, default="table")
    _command(p, cmd_history)


def _add_alerts(sub: Subparsers) -> None:
    p = sub.add_parser("alerts", help="evaluate the alert rules on the latest run, deliver")
    _add_workspace(p)
    p.add_argument("--portfolio", type=Path, help="policy and records (default: the run's)")
    p.add_argument("--ack", metavar="ID", help="acknowledge alert ID (or a unique prefix)")
    p.add_argument("--by", help="who acknowledges (default: $USER)")
    p.add_argument("--list", action="store_true", help="print every alert of the state")
    p.add_argument("--webhook", metavar="URL", help="POST each new alert as JSON to URL")
    p.add_argument("--jsonl", type=Path, metavar="FILE", help="append new alerts to FILE")
    p.add_argument(
        "--timeout", type=positive_seconds, default=5.0, help="webhook timeout, seconds (5)"
    )
    p.add_argument("--now", help="evaluate as of this time (ISO 8601; default: now)")
    p.add_argument("--format", choices=FORMATS, default="table")
    _command(p, cmd_alerts)


def _add_metrics(sub: Subparsers) -> None:
    p = sub.add_parser("metrics", help="a run as Prometheus text exposition (textfile collector)")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--out", type=Path, help="write here atomically (default: stdout)")
    _command(p, cmd_metrics)


def _add_demo(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="lab up, collect the sample portfolio, board PDF, lab down")
    p.add_argument("--out", default="out")
    p.add_argument("--workspace", default="out/workspace")
    p.add_argument("--lab-dir", default=str(DEFAULT_LAB_DIR))
    p.add_argument("--base", default=DEFAULT_LAB_BASE)
    p.add_argument("--now", help="simulated time (ISO 8601; default: now)")
    p.add_argument(
        "--history-quarters",
        type=non_negative_int,
        default=4,
        help="quarters of simulated history to play before today's run (4; 0 for none)",
    )
    _command(p, cmd_demo)


#: The commands, in the order ``dnssec-audit --help`` lists them.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    _add_lab,
    _add_collect,
    _add_discover,
    _add_runs,
    _add_zones,
    _add_assess,
    _add_inventory,
    _add_report,
    _add_evidence,
    _add_history,
    _add_alerts,
    _add_metrics,
    _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``dnssec-audit`` parser: one subcommand per command; ``lab``, ``report``,
    ``inventory`` and ``evidence`` have one nested subcommand per action (or report kind),
    each with only its own options."""
    parser = argparse.ArgumentParser(
        prog="dnssec-audit",
        description="DNSSEC governance audit: collect, assess and report DNSSEC evidence.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # e.g. `report board --evidence DIR`: the usage of `report board`, exit 2
        command: argparse.ArgumentParser = getattr(args, "command_parser", parser)
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ToolkitError as exc:
        print(f"dnssec-audit: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `dnssec-audit zones | head`
        return 0
    except OSError as exc:  # the environment (disk full, read-only): one line, no traceback
        if exc.errno not in WRITE_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dnssec-audit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's exit code for SIGINT
        print("dnssec-audit: interrupted (nothing was stored)", file=sys.stderr, flush=True)
        return INTERRUPTED


INTERRUPTED = 130
"""The exit code after a Ctrl-C (the shell's code for SIGINT)."""

EXIT_GRACE_SECONDS = 3.0
"""After a Ctrl-C, the longest the interpreter's own exit may take before the process ends."""


def console_main() -> None:
    """The ``dnssec-audit`` command: :func:`main`, then exit with its code; after a Ctrl-C the
    process ends within :data:`EXIT_GRACE_SECONDS` however the interpreter's exit goes
    (:func:`_exit_soon`). Only the command does this: :func:`main` called inside another
    program (a notebook, a test) never ends that program."""
    code = main()
    if code == INTERRUPTED:
        _exit_soon(code)
    sys.exit(code)


def _exit_soon(code: int) -> None:
    """End the process with ``code`` if the interpreter's exit has not ended it within
    :data:`EXIT_GRACE_SECONDS`. After a Ctrl-C the exit runs the handlers of the libraries
    (``concurrent.futures`` joins its pools' manager threads, ``multiprocessing`` its queues'
    feeder threads); one of them waiting on a worker killed mid-write would keep the process
    alive. Nothing is lost by ending it: every write of the toolkit is atomic (temporary path,
    then rename), and a temporary folder left behind is removed by the next writer."""
    timer = threading.Timer(EXIT_GRACE_SECONDS, os._exit, args=(code,))
    timer.daemon = True
    timer.start()


if __name__ == "__main__":
    console_main()
