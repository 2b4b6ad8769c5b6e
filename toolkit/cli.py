"""The ``dnssec-audit`` command line: each command parses arguments and calls one library
function. Exit codes: 0 success, 1 the toolkit failed (message on stderr), 2 bad usage."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from toolkit import __version__
from toolkit.errors import InputError, ToolkitError

DEFAULT_LAB_DIR = Path(".lab")
DEFAULT_LAB_BASE = "127.53.0"
SAMPLE_PORTFOLIO = Path(__file__).resolve().parent.parent / "data" / "sample-portfolio"


def _workspace_default() -> str:
    return os.environ.get("DNSSEC_AUDIT_WORKSPACE", "workspace")


def _parse_now(text: str | None) -> datetime:
    """``--now`` (ISO 8601, UTC if no offset) or the wall clock: the one place "now" is read."""
    if not text:
        return datetime.now(UTC)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("--now", f"expected an ISO 8601 time, got {text!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _add_workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workspace",
        default=_workspace_default(),
        help="folder holding the runs (default: $DNSSEC_AUDIT_WORKSPACE or ./workspace)",
    )


def _print_frame(df: object, fmt: str) -> None:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print(_json(df))
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(df.to_string(index=False) if len(df) else "(no rows)")


def _json(df: object) -> str:
    """A frame as a JSON list of objects (ISO 8601 times, nulls as null, UTF-8 text)."""
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    records = json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))
    return json.dumps(records, indent=2, ensure_ascii=False)


# -- lab ------------------------------------------------------------------------------------


def cmd_lab(args: argparse.Namespace) -> int:
    from toolkit import lab

    if args.action == "up":
        info = lab.lab_up(args.dir, base=args.base, now=_parse_now(args.now))
        print(f"lab up in {info.dir}")
        print(f"  trust anchor: {info.trust_anchor}")
        print(f"  root hints:   {info.root_hints}")
        for name, addr in info.resolvers.items():
            print(f"  resolver:     {name}={addr}")
        print(f"collect with: dnssec-audit collect --portfolio DIR --lab {args.dir}")
    elif args.action == "down":
        stopped = lab.lab_down(args.dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        _print_frame(lab.lab_status(args.dir), "table")
    return 0


# -- collect --------------------------------------------------------------------------------


def _collect_config(args: argparse.Namespace) -> object:
    from toolkit.collect import CollectConfig, ResolverSpec, TransportConfig

    anchor, hints = args.trust_anchor, args.root_hints
    resolvers = [ResolverSpec.parse(r) for r in args.resolver]
    if args.lab:
        from toolkit.lab import LabInfo

        info = LabInfo.load(args.lab)
        anchor = anchor or info.trust_anchor
        hints = hints or info.root_hints
        if not resolvers:
            resolvers = [ResolverSpec.parse(f"{n}={a}") for n, a in info.resolvers.items()]
    if not resolvers and not args.no_resolvers:
        import dns.resolver

        try:
            system = dns.resolver.Resolver().nameservers
        except dns.resolver.NoResolverConfiguration:
            system = []
        resolvers = [ResolverSpec(f"system{i + 1}", str(a)) for i, a in enumerate(system)]
    return CollectConfig(
        trust_anchor=Path(anchor) if anchor else None,
        root_hints=Path(hints) if hints else None,
        resolvers=tuple(resolvers),
        transport=TransportConfig(timeout=args.timeout, tries=args.tries),
        progress=False if args.no_progress else None,
    )


def cmd_collect(args: argparse.Namespace) -> int:
    from toolkit.assess import headline
    from toolkit.collect import collect_run

    config = _collect_config(args)
    run = collect_run(args.portfolio, args.workspace, config, now=_parse_now(args.now))
    h = headline(run.frames["zones"])
    print(
        f"run {run.run_id}: {h['zones']} zones, {h['secure']} secure, {h['insecure']} insecure,"
        f" {h['bogus']} bogus, {h['indeterminate']} indeterminate -> {run.path}"
    )
    return 0


# -- reading runs ---------------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    from toolkit.store import Store

    _print_frame(Store(args.workspace).list_runs(), args.format)
    return 0


def cmd_zones(args: argparse.Namespace) -> int:
    from toolkit.store import Store

    zones = Store(args.workspace).load(args.run).frames["zones"]
    if args.format == "json":
        out = zones.copy()
        out["reasons"] = out["reasons"].fillna("").map(lambda s: [c for c in s.split(";") if c])
        print(_json(out))
        return 0
    cols = ["zone", "risk_tier", "status", "reasons", "min_rrsig_days_left"]
    _print_frame(zones if args.format == "csv" else zones[cols], args.format)
    return 0


# -- reports --------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from toolkit.report import render_board_report

    out = render_board_report(
        args.workspace,
        args.out,
        run=args.run,
        organisation=args.organisation,
        period=args.period,
        as_of=args.as_of,
        classification=args.classification,
    )
    print(f"wrote {out}")
    return 0


# -- demo -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from toolkit.demo import run_demo

    pdf = run_demo(
        out_dir=Path(args.out),
        workspace=Path(args.workspace),
        lab_dir=Path(args.lab_dir),
        base=args.base,
        now=_parse_now(args.now),
    )
    print(f"board report: {pdf.resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnssec-audit",
        description="DNSSEC governance audit: collect, assess and report DNSSEC evidence.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("lab", help="a local DNSSEC lab of real servers on loopback")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--dir", type=Path, default=DEFAULT_LAB_DIR, help="lab folder (./.lab)")
    p.add_argument(
        "--base",
        default=DEFAULT_LAB_BASE,
        help="first three octets of the lab's loopback addresses (127.53.0)",
    )
    p.add_argument("--now", help="sign relative to this time (ISO 8601; default: now)")
    p.set_defaults(func=cmd_lab)

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
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per try (2)")
    p.add_argument("--tries", type=int, default=2, help="tries per server and transport (2)")
    p.add_argument("--now", help="validate as of this time (ISO 8601; default: now)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("runs", help="list the stored runs")
    _add_workspace(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("zones", help="print a run's zones frame")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_zones)

    p = sub.add_parser("report", help="render a report as PDF")
    p.add_argument("kind", choices=["board"])
    _add_workspace(p)
    p.add_argument("--run", default="latest")
    p.add_argument("--out", type=Path, default=Path("out/board-report.pdf"))
    p.add_argument("--organisation", default="Example Organisation")
    p.add_argument("--period", default="", help="e.g. 2026Q4 (default: from the run date)")
    p.add_argument("--as-of", default="", help="ISO date (default: the run's date)")
    p.add_argument("--classification", default="INTERNAL")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="lab up, collect the sample portfolio, board PDF, lab down")
    p.add_argument("--out", default="out")
    p.add_argument("--workspace", default="out/workspace")
    p.add_argument("--lab-dir", default=str(DEFAULT_LAB_DIR))
    p.add_argument("--base", default=DEFAULT_LAB_BASE)
    p.add_argument("--now", help="simulated time (ISO 8601; default: now)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ToolkitError as exc:
        print(f"dnssec-audit: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `dnssec-audit zones | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
