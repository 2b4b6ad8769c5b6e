"""The ``dnssec-audit`` command line: each command parses arguments and calls one library
function. Exit codes: 0 success, 1 the toolkit failed (message on stderr), 2 bad usage."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import __version__
from toolkit.cli.argtypes import (
    cluster_spec,
    milliseconds,
    non_negative_float,
    non_negative_int,
    parse_now,
    period,
    positive_int,
    positive_seconds,
    share,
    vantage,
)
from toolkit.errors import WRITE_ERRNOS, InputError, ToolkitError

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.lab.network import NetworkConditions

DEFAULT_LAB_DIR = Path(".lab")
DEFAULT_LAB_BASE = "127.53.0"
SYNTHETIC_LAB_DIR = Path(".lab-synthetic")
SYNTHETIC_LAB_BASE = "127.100.0"


def _workspace_default() -> str:
    return os.environ.get("DNSSEC_AUDIT_WORKSPACE", "workspace")


def _network(args: argparse.Namespace) -> NetworkConditions | None:
    """The lab's network conditions from --rtt-ms, --jitter-ms and --loss (None: all 0)."""
    from toolkit.lab.network import NetworkConditions

    conditions = NetworkConditions(args.rtt_ms, args.jitter_ms, args.loss)
    return conditions if conditions.active else None


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


def _print_frame(df: object, fmt: str) -> None:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    if fmt == "csv":
        from toolkit.reports.spreadsheet import defuse_formulas

        defuse_formulas(df).to_csv(sys.stdout, index=False)
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

    if args.drill_name and args.action != "drill":
        print(f"dnssec-audit: error: lab {args.action} takes no NAME", file=sys.stderr)
        return 2
    if args.action == "up":
        info = lab.lab_up(args.dir, base=args.base, now=parse_now(args.now), network=_network(args))
        print(f"lab up in {info.dir}")
        print(f"  trust anchor: {info.trust_anchor}")
        print(f"  root hints:   {info.root_hints}")
        for name, addr in info.resolvers.items():
            print(f"  resolver:     {name}={addr}")
        print(f"collect with: dnssec-audit collect --portfolio DIR --lab {args.dir}")
    elif args.action == "synthetic":
        from toolkit.lab.synthetic import synthetic_up

        # its own defaults, so it never replaces the regular lab of ./.lab on 127.53.0
        lab_dir = SYNTHETIC_LAB_DIR if args.dir == DEFAULT_LAB_DIR else args.dir
        base = SYNTHETIC_LAB_BASE if args.base == DEFAULT_LAB_BASE else args.base
        syn = synthetic_up(
            lab_dir,
            zones_count=args.zones,
            base=base,
            dead_fraction=args.dead_fraction,
            now=parse_now(args.now),
            network=_network(args),
            rude=args.rude_servers,
            ns_addresses=args.ns_addresses,
        )
        print(
            f"synthetic lab up in {syn.info.dir}: {len(syn.zones)} signed zones"
            f" on {len(syn.ns_addresses)} name-server addresses"
            f" ({len(syn.dead)} delegated to {syn.dead_address}, where nothing listens)"
            f" in {syn.timings['total']:.1f} s"
        )
        print(f"  portfolio:    {syn.portfolio}")
        for zone, fault in syn.rude.items():
            print(f"  rude server:  {zone} (ns2 {fault})")
        print(
            f"collect with: dnssec-audit collect --portfolio {syn.portfolio} --lab {lab_dir}"
            " --no-resolvers"
        )
        print(f"stop with:    dnssec-audit lab down --dir {lab_dir}")
    elif args.action == "drill":
        return cmd_lab_drill(args)
    elif args.action == "down":
        stopped = lab.lab_down(args.dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        _print_frame(lab.lab_status(args.dir), "table")
    return 0


def cmd_lab_drill(args: argparse.Namespace) -> int:
    from toolkit.lab.drills import append_record, drill_list, run_drill

    if args.list:
        _print_frame(drill_list(), "table")
        return 0
    if not args.drill_name:
        print("dnssec-audit: error: lab drill needs a NAME (or --list)", file=sys.stderr)
        return 2
    now = parse_now(args.now)
    out = args.out or Path("out") / "drills" / f"{args.drill_name}-{now:%Y%m%dT%H%M%SZ}"
    result = run_drill(args.drill_name, args.dir, out, now=now)
    for step in result.steps:
        fired = ", ".join(a["rule"] for a in step.alerts) or "-"
        print(f"step {step.index} {step.at:%Y-%m-%d %H:%M} {step.status:13} alerts: {fired}")
        print(f"       {step.title}")
    print(f"outcome: {result.outcome}")
    print(f"lessons: {result.record['lessons']}")
    print(f"record:  {result.directory / 'drill-record.csv'}")
    if args.append_record:
        append_record(args.append_record, result.record)
        print(f"appended to {args.append_record}")
    return 0 if result.outcome == "passed" else 1


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
    caps = {  # the command line wins over policy.yaml's collector section
        k: v
        for k, v in (
            ("max_inflight_per_server", args.max_inflight_per_server),
            ("max_qps_per_server", args.max_qps_per_server),
        )
        if v is not None
    }
    return CollectConfig(
        trust_anchor=Path(anchor) if anchor else None,
        root_hints=Path(hints) if hints else None,
        resolvers=tuple(resolvers),
        transport=TransportConfig(
            timeout=args.timeout,
            tries=args.tries,
            **caps,
        ),
        progress=False if args.no_progress else None,
        vantage=args.vantage,
        cap_sources=dict.fromkeys(caps, "command line"),
    )


def cmd_collect(args: argparse.Namespace) -> int:
    from toolkit.assessment.headline import headline
    from toolkit.collect import collect_run

    config = _collect_config(args)
    run = collect_run(
        args.portfolio,
        args.workspace,
        config,
        now=parse_now(args.now),
        workers=args.workers,
        cluster=args.cluster,
        tsa_url=args.tsa_url,
        discover=_discover_config(args) if args.discover or args.zone_files else None,
    )
    h = headline(run.frames["zones"])
    print(
        f"run {run.run_id}: {h['zones']} zones, {h['secure']} secure, {h['insecure']} insecure,"
        f" {h['bogus']} bogus, {h['indeterminate']} indeterminate -> {run.path}"
    )
    if "delegations" in run.frames:
        from toolkit.collect.discover import summary

        print(summary(run.frames["delegations"], run.frames["discovery"]))
    return 0


# -- discover ------------------------------------------------------------------------------


def _discover_config(args: argparse.Namespace) -> object:
    from toolkit.collect.discover import DiscoverConfig

    return DiscoverConfig(
        zone_files=args.zone_files,
        axfr=not getattr(args, "no_axfr", False),
        walk=not getattr(args, "no_walk", False),
        max_walk_queries=args.max_walk_queries,
        **({"max_qps": qps} if (qps := getattr(args, "walk_max_qps", None)) is not None else {}),
        timeout=args.timeout,
    )


def write_frame(df: pd.DataFrame, path: Path) -> Path:
    """Write a discovery frame atomically: Parquet for ``.parquet``, else CSV (cells that a
    spreadsheet would run as formulas are defused: zone data is untrusted)."""
    from toolkit.atomic import open_atomic
    from toolkit.errors import WriteError
    from toolkit.reports.spreadsheet import defuse_formulas

    try:
        if path.suffix == ".parquet":
            with open_atomic(path, "wb") as fh:
                df.to_parquet(fh, index=False)
        else:
            with open_atomic(path, "w", encoding="utf-8", newline="") as fh:
                defuse_formulas(df).to_csv(fh, index=False)
    except OSError as exc:
        raise WriteError(path, exc) from exc
    return path


def cmd_discover(args: argparse.Namespace) -> int:
    from toolkit.collect.discover import discover_portfolio, summary

    found, tried = discover_portfolio(
        args.portfolio, args.workspace, args.run, _discover_config(args), now=parse_now(args.now)
    )
    if args.out:
        write_frame(found, args.out)
    if args.format != "table":
        _print_frame(found, args.format)
        return 0
    cols = ["parent", "child", "source", "server", "in_inventory"]
    _print_frame(found[cols], "table")
    print()
    _print_frame(tried[["zone", "source", "server", "outcome", "detail"]], "table")
    print(summary(found, tried) + (f" -> {args.out}" if args.out else ""))
    return 0


# -- reading runs ---------------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    from toolkit.store.runs import Store

    _print_frame(Store(args.workspace).list_runs(), args.format)
    return 0


def cmd_zones(args: argparse.Namespace) -> int:
    from toolkit.store.runs import Store

    zones = Store(args.workspace).load(args.run).frames["zones"]
    if args.format == "json":
        out = zones.copy()
        out["reasons"] = out["reasons"].fillna("").map(lambda s: [c for c in s.split(";") if c])
        print(_json(out))
        return 0
    cols = ["zone", "risk_tier", "status", "reasons", "min_rrsig_days_left"]
    _print_frame(zones if args.format == "csv" else zones[cols], args.format)
    return 0


# -- assessment -----------------------------------------------------------------------------


def cmd_assess(args: argparse.Namespace) -> int:
    from toolkit.assessment import stream
    from toolkit.assessment.assess import assess, render_text

    if stream.run_zone_count(args.workspace, args.run) > stream.stream_threshold():  # issue 14
        s = stream.assess_streaming(
            args.portfolio,
            args.workspace,
            run=args.run,
            now=parse_now(args.now),
            out_dir=stream.default_out_dir(args.workspace, args.run),
        )
        doc = json.dumps(s.to_dict(args.framework), indent=2, ensure_ascii=False) + "\n"
        print(doc if args.format == "json" else s.render_text(args.framework), end="")
        return 0
    result = assess(args.portfolio, args.workspace, run=args.run, now=parse_now(args.now))
    if args.format == "json":
        print(json.dumps(result.to_dict(args.framework), indent=2, ensure_ascii=False))
    else:
        print(render_text(result, args.framework), end="")
    return 0


def cmd_inventory(args: argparse.Namespace) -> int:
    from toolkit.reports.asset_export import export_inventory

    out = export_inventory(args.portfolio, args.workspace, args.out, run=args.run)
    print(f"wrote {out}")
    return 0


# -- reports --------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Any kind of report of the registry, through the one engine (render_report)."""
    from toolkit.reports.registry import REPORTS
    from toolkit.reports.render import ReportOptions, render_report

    spec = REPORTS[args.kind]
    if args.tsa_url and not args.evidence:
        raise InputError("--tsa-url", "timestamps an evidence pack: give --evidence DIR too")
    if not spec.evidence_pack and (args.evidence or args.framework):
        raise InputError("--evidence/--framework", "only the audit report takes them")
    if spec.takes("zone") != bool(args.zone):
        raise InputError("--zone", "the zone report and the runbook need --zone; no other does")
    if args.portfolio and not (spec.source == "portfolio" or spec.takes("portfolio")):
        raise InputError("--portfolio", "only the policy statement and the runbook take it")
    options = ReportOptions(
        run=args.run,
        organisation=args.organisation,
        period=args.period,
        as_of=args.as_of,
        classification=args.classification or spec.classification,
        framework=args.framework or "",
        inline_zone_limit=args.inline_zone_limit,
        zone=args.zone or "",
        portfolio=args.portfolio,
    )
    if args.evidence:
        from toolkit.evidence.pack import write_evidence_pack

        pack = write_evidence_pack(args.workspace, args.evidence, options, tsa_url=args.tsa_url)
        print(
            f"wrote evidence pack {pack.path} ({len(pack.manifest['files'])} files, "
            f"report {pack.manifest['report']['report_id']}, manifest SHA-256 "
            f"{pack.manifest_sha256})"
        )
        if args.out:  # the user asked for the PDF there too: the pack's very bytes
            print(f"wrote {_copy_pack_pdf(pack.path, args.out)} (the pack's audit-report.pdf)")
        return 0
    out = args.out or Path("out") / spec.default_out
    done = render_report(spec.name, args.workspace, out, options)
    print(f"wrote {done.path}")
    return 0


def _copy_pack_pdf(pack: Path, out: Path) -> Path:
    """Copy an evidence pack's PDF to ``out`` atomically; returns ``out``."""
    from toolkit.errors import WriteError
    from toolkit.evidence.pack import REPORT_PDF
    from toolkit.reports.render import _write_atomically

    data = (pack / REPORT_PDF).read_bytes()
    try:
        _write_atomically(out, lambda fh: fh.write(data))
    except OSError as exc:
        raise WriteError(out, exc) from exc
    return out


def cmd_evidence(args: argparse.Namespace) -> int:
    from toolkit.evidence.pack import verify_evidence_pack

    result = verify_evidence_pack(args.dir, expect_key=args.expect_key or "", tsa_ca=args.tsa_ca)
    for line in result.lines():
        print(line)
    if not result.ok:
        print(
            f"dnssec-audit: evidence pack {args.dir} does NOT verify: "
            f"{len(result.altered)} altered, {len(result.missing)} missing, "
            f"{len(result.extra)} extra, {len(result.problems)} other problem(s)",
            file=sys.stderr,
        )
        return 1
    print(
        f"evidence pack {args.dir} verifies: {result.checked} files match the manifest "
        f"(manifest SHA-256 {result.manifest_sha256})"
    )
    print(result.summary())
    return 0


# -- history, alerts, metrics -----------------------------------------------------------------

HISTORY_VIEWS = ("changes", "timeline", "rollovers", "faults", "known-good", "signatures", "trends")
_HISTORY_COLUMNS = {
    "changes": ["zone", "at", "change", "key_tag", "role", "detail"],
    "timeline": ["zone", "at", "status", "phases", "dnskeys", "ds"],
    "faults": ["zone", "at", "fault", "key_tag", "severity", "detail"],
    "known-good": ["zone", "at", "rrtype", "key_tag", "algorithm", "flags", "digest_type"],
}


def cmd_history(args: argparse.Namespace) -> int:
    from toolkit import history
    from toolkit.assessment.judge import judged_history
    from toolkit.assessment.maturity import maturity_scorer
    from toolkit.checks import check_ids
    from toolkit.inputs.inventory import normalize_zone
    from toolkit.inputs.portfolio import load_portfolio

    zones = None
    if args.zone:
        try:
            zones = [normalize_zone(args.zone)[0]]
        except ValueError as exc:
            raise InputError("--zone", f"{args.zone!r} is not a zone name: {exc}") from None
    h = history.load_history(args.workspace, zones=zones)
    policies = load_portfolio(args.portfolio, check_ids()).policies if args.portfolio else None
    scorer = maturity_scorer(policies) if policies is not None else None
    views = {
        "changes": lambda: history.changes(h),
        "timeline": lambda: history.timeline(h),
        "rollovers": lambda: history.rollovers(h, policies),
        "faults": lambda: history.faults(h),
        "known-good": lambda: history.last_known_good(h),
        "signatures": lambda: history.signature_trend(h),
        "trends": lambda: history.trends(
            judged_history(h, args.workspace, policies, zones=zones), args.period, scorer=scorer
        ),
    }
    df = views[args.view]()
    cols = _HISTORY_COLUMNS.get(args.view)
    _print_frame(df[cols] if cols and args.format == "table" else df, args.format)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from toolkit.alerts import (
        ConsoleSink,
        JsonlSink,
        WebhookSink,
        acknowledge,
        alerts_frame,
        evaluate_alerts,
    )

    now = parse_now(args.now)
    if args.ack:
        by = args.by or os.environ.get("USER") or "unknown"
        try:
            alert = acknowledge(args.workspace, args.ack, by=by, now=now)
        except KeyError as exc:
            print(f"dnssec-audit: error: {exc.args[0]}", file=sys.stderr)
            return 1
        print(f"acknowledged {alert['id']} ({alert['rule']} {alert['zone']}) by {by}")
        return 0
    if args.list:
        _print_frame(alerts_frame(args.workspace), args.format)
        return 0
    sinks: list = [ConsoleSink()]
    if args.jsonl:
        sinks.append(JsonlSink(args.jsonl))
    if args.webhook:
        try:
            sinks.append(WebhookSink(args.webhook, timeout=args.timeout))
        except ValueError as exc:
            raise InputError("--webhook", str(exc)) from None
    run = evaluate_alerts(args.workspace, now=now, sinks=sinks, portfolio_dir=args.portfolio)
    acked = sum(1 for a in run.active if a.get("acknowledged_at"))
    print(
        f"run {run.latest_run_id}: {len(run.new)} new, {len(run.cleared)} cleared, "
        f"{len(run.active)} active ({acked} acknowledged)"
    )
    failed = [s for s in sinks if run.pending.get(s.id)]
    for sink_id, n in sorted(run.pending.items()):
        if all(s.id != sink_id for s in failed):  # owed to a sink not given this time
            print(f"dnssec-audit: {n} alert(s) pending delivery to {sink_id}", file=sys.stderr)
    if failed:
        print(
            "dnssec-audit: error: delivery failed: "
            + "; ".join(
                f"{s.id} ({getattr(s, 'last_error', '') or 'not delivered'}): "
                f"{run.pending[s.id]} alert(s) kept pending for the next run"
                for s in failed
            ),
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from toolkit.alerts.metrics import latest_exposition, write_metrics

    text = latest_exposition(args.workspace, args.run)
    if args.out:
        print(f"wrote {write_metrics(text, args.out)}")
    else:
        sys.stdout.write(text)
    return 0


# -- demo -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from toolkit.cli.demo import run_demo

    out = run_demo(
        out_dir=Path(args.out),
        workspace=Path(args.workspace),
        lab_dir=Path(args.lab_dir),
        base=args.base,
        now=parse_now(args.now),
        history_quarters=args.history_quarters,
    )
    print(f"board report:  {out.board_pdf.resolve()}")
    print(f"audit report:  {out.audit_pdf.resolve()}")
    print(f"evidence pack: {out.evidence_dir.resolve()} (verified)")
    print(f"runs:          {out.history_runs} simulated history + today's {out.run_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnssec-audit",
        description="DNSSEC governance audit: collect, assess and report DNSSEC evidence.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("lab", help="a local DNSSEC lab of real servers on loopback")
    p.add_argument("action", choices=["up", "down", "status", "synthetic", "drill"])
    p.add_argument("drill_name", nargs="?", metavar="NAME", help="drill: the drill to play")
    p.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_LAB_DIR,
        help="lab folder (./.lab; synthetic: ./.lab-synthetic)",
    )
    p.add_argument(
        "--base",
        default=DEFAULT_LAB_BASE,
        help="first three octets of the lab's loopback addresses (127.53.0; synthetic: 127.100.0)",
    )
    p.add_argument("--now", help="sign relative to this time (ISO 8601; default: now)")
    p.add_argument(
        "--zones", type=positive_int, default=10000, help="synthetic: signed zones (10000)"
    )
    p.add_argument(
        "--dead-fraction",
        type=share,
        default=0.0,
        help="synthetic: share of zones delegated to an address where nothing listens (0)",
    )
    p.add_argument(
        "--rtt-ms",
        type=milliseconds,
        default=0.0,
        help="up, synthetic: round trip the network shim adds to every server (0: no shim)",
    )
    p.add_argument(
        "--jitter-ms", type=milliseconds, default=0.0, help="up, synthetic: ± spread of it (0)"
    )
    p.add_argument(
        "--loss", type=share, default=0.0, help="up, synthetic: share of UDP queries lost (0)"
    )
    p.add_argument(
        "--rude-servers",
        action="store_true",
        help="synthetic: add one zone per rude server (slow, RRL, truncating, EDNS FORMERR, "
        "no TCP) behind the shim",
    )
    p.add_argument(
        "--ns-addresses",
        type=positive_int,
        default=2,
        metavar="N",
        help="synthetic: spread the zones over N name-server addresses (even, 2 to 64; 2)",
    )
    p.add_argument("--list", action="store_true", help="drill: list the drills")
    p.add_argument("--out", type=Path, help="drill: output folder (out/drills/NAME-TIME)")
    p.add_argument("--append-record", type=Path, help="drill: append the record to drills.csv")
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
    p.set_defaults(func=cmd_collect)

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
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("runs", help="list the stored runs")
    _add_workspace(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("zones", help="print a run's zones frame")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_zones)

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
    p.set_defaults(func=cmd_assess)

    p = sub.add_parser("inventory", help="the inventory enriched with a run's DNSSEC facts")
    p.add_argument("action", choices=["export"])
    p.add_argument("--portfolio", type=Path, help="portfolio folder (default: the run's)")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write")
    p.set_defaults(func=cmd_inventory)

    from toolkit.reports.registry import REPORTS

    p = sub.add_parser(
        "report",
        help="render a report: " + ", ".join(REPORTS),
        description="Render a report. "
        + "; ".join(
            f"{k.name}: {k.description} (writes out/{k.default_out}, {k.classification})"
            for k in REPORTS.values()
        ),
    )
    p.add_argument("kind", choices=list(REPORTS), metavar="KIND", help=" | ".join(REPORTS))
    _add_workspace(p)
    p.add_argument("--run", default="latest")
    p.add_argument(
        "--out",
        type=Path,
        help="file to write (out/"
        + ", out/".join(k.default_out for k in REPORTS.values())
        + "); with --evidence, a copy of the pack's PDF",
    )
    p.add_argument("--organisation", default="Example Organisation")
    p.add_argument(
        "--period", type=period, default="", help="e.g. 2026Q4 (default: from the run date)"
    )
    p.add_argument("--as-of", default="", help="ISO date (default: the run's date)")
    p.add_argument(
        "--classification",
        default="",
        help=", ".join(f"{k.classification} ({k.name})" for k in REPORTS.values()),
    )
    p.add_argument("--zone", default="", help="zone: the zone to report on (A- or U-label)")
    p.add_argument(
        "--portfolio", type=Path, help="policy, runbook: portfolio folder (default: the run's)"
    )
    p.add_argument(
        "--framework",
        default="",
        help="audit: report control by control for iso27001|soc2|nist-800-53|nis2|cis",
    )
    p.add_argument(
        "--evidence",
        type=Path,
        metavar="DIR",
        help="audit: write the evidence pack (PDF, frames, records, manifest) to DIR",
    )
    p.add_argument(
        "--tsa-url",
        metavar="URL",
        help="audit --evidence: timestamp the pack's manifest at this RFC 3161 TSA",
    )
    p.add_argument(
        "--inline-zone-limit",
        type=positive_int,
        default=25,
        help="audit: past this many zones, per-zone detail goes to PDF attachments (25)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("evidence", help="check an evidence pack")
    p.add_argument("action", choices=["verify"])
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
    p.set_defaults(func=cmd_evidence)

    p = sub.add_parser("history", help="what changed across the stored runs, and the trends")
    _add_workspace(p)
    p.add_argument("--zone", help="only this zone")
    p.add_argument("--view", choices=HISTORY_VIEWS, default="changes", help="(changes)")
    p.add_argument("--period", choices=["week", "month", "quarter"], default="quarter")
    p.add_argument("--portfolio", type=Path, help="policy.yaml from here (rollover window)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_history)

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
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("metrics", help="a run as Prometheus text exposition (textfile collector)")
    _add_workspace(p)
    p.add_argument("--run", default="latest", help="run id, unique prefix, or latest")
    p.add_argument("--out", type=Path, help="write here atomically (default: stdout)")
    p.set_defaults(func=cmd_metrics)

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
    except OSError as exc:  # the environment (disk full, read-only): one line, no traceback
        if exc.errno not in WRITE_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dnssec-audit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's exit code for SIGINT
        print("dnssec-audit: interrupted (nothing was stored)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
