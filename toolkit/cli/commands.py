"""The ``dnssec-audit`` commands: each ``cmd_*`` takes the parsed arguments of its command
(:func:`toolkit.cli.main.build_parser`), calls the library and prints what it did; it returns the
exit code (0 success, 1 the toolkit failed, 2 bad usage). The logic is in the library: a command
turns options into arguments and results into lines. Heavy modules are imported inside each
command, so that ``dnssec-audit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.cli.argtypes import parse_now
from toolkit.errors import InputError

if TYPE_CHECKING:
    from toolkit.collect import CollectConfig
    from toolkit.collect.discover import DiscoverConfig
    from toolkit.lab.network import NetworkConditions
    from toolkit.reports.render import ReportOptions


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


def _network(args: argparse.Namespace) -> NetworkConditions | None:
    """The lab's network conditions from --rtt-ms, --jitter-ms and --loss (None: all 0)."""
    from toolkit.lab.network import NetworkConditions

    conditions = NetworkConditions(args.rtt_ms, args.jitter_ms, args.loss)
    return conditions if conditions.active else None


def cmd_lab_up(args: argparse.Namespace) -> int:
    from toolkit.lab import lab_up

    info = lab_up(args.dir, base=args.base, now=parse_now(args.now), network=_network(args))
    print(f"lab up in {info.dir}")
    print(f"  trust anchor: {info.trust_anchor}")
    print(f"  root hints:   {info.root_hints}")
    for name, addr in info.resolvers.items():
        print(f"  resolver:     {name}={addr}")
    print(f"collect with: dnssec-audit collect --portfolio DIR --lab {args.dir}")
    return 0


def cmd_lab_synthetic(args: argparse.Namespace) -> int:
    from toolkit.lab.synthetic import synthetic_up

    syn = synthetic_up(
        args.dir,
        zones_count=args.zones,
        base=args.base,
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
        f"collect with: dnssec-audit collect --portfolio {syn.portfolio} --lab {args.dir}"
        " --no-resolvers"
    )
    print(f"stop with:    dnssec-audit lab down --dir {args.dir}")
    return 0


def cmd_lab_down(args: argparse.Namespace) -> int:
    from toolkit.lab import lab_down

    stopped = lab_down(args.dir)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_lab_status(args: argparse.Namespace) -> int:
    from toolkit.lab import lab_status

    _print_frame(lab_status(args.dir), "table")
    return 0


def cmd_lab_drill(args: argparse.Namespace) -> int:
    from toolkit.lab.drills import append_record, drill_list, drill_out_dir, run_drill

    if args.list:
        _print_frame(drill_list(), "table")
        return 0
    if not args.drill_name:
        print("dnssec-audit: error: lab drill needs a NAME (or --list)", file=sys.stderr)
        return 2
    now = parse_now(args.now)
    out = args.out or drill_out_dir(args.drill_name, now)
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


def _collect_config(args: argparse.Namespace) -> CollectConfig:
    from toolkit.collect import CollectConfig, ResolverSpec, TransportConfig
    from toolkit.collect.resolvers import system_resolvers

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
        resolvers = system_resolvers()
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


def _discover_config(args: argparse.Namespace) -> DiscoverConfig:
    from toolkit.collect.discover import DiscoverConfig

    return DiscoverConfig(
        zone_files=args.zone_files,
        axfr=not getattr(args, "no_axfr", False),
        walk=not getattr(args, "no_walk", False),
        max_walk_queries=args.max_walk_queries,
        **({"max_qps": qps} if (qps := getattr(args, "walk_max_qps", None)) is not None else {}),
        timeout=args.timeout,
    )


def cmd_discover(args: argparse.Namespace) -> int:
    from toolkit.collect.discover import discover_portfolio, summary
    from toolkit.reports.spreadsheet import write_frame

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


def report_options(args: argparse.Namespace) -> ReportOptions:
    """The :class:`ReportOptions` of a parsed ``report KIND`` command line: the kind's parser
    holds exactly the options the kind takes, each named as its field (defaults included)."""
    from dataclasses import fields

    from toolkit.reports.render import ReportOptions

    return ReportOptions(
        **{f.name: getattr(args, f.name) for f in fields(ReportOptions) if f.name in args}
    )


def cmd_report(args: argparse.Namespace) -> int:
    """Any kind of report of the registry, through the one engine (render_report); the audit
    report with --evidence as a signed evidence pack (write_evidence_pack)."""
    from toolkit.reports.registry import REPORTS
    from toolkit.reports.render import render_report

    spec = REPORTS[args.kind]
    options = report_options(args)
    evidence = getattr(args, "evidence", None)
    if getattr(args, "tsa_url", None) and not evidence:
        raise InputError("--tsa-url", "timestamps an evidence pack: give --evidence DIR too")
    if evidence:
        from toolkit.evidence.pack import copy_report_pdf, write_evidence_pack

        pack = write_evidence_pack(args.workspace, evidence, options, tsa_url=args.tsa_url)
        print(
            f"wrote evidence pack {pack.path} ({len(pack.manifest['files'])} files, "
            f"report {pack.manifest['report']['report_id']}, manifest SHA-256 "
            f"{pack.manifest_sha256})"
        )
        if args.out:  # the user asked for the PDF there too: the pack's very bytes
            print(f"wrote {copy_report_pdf(pack.path, args.out)} (the pack's audit-report.pdf)")
        return 0
    out = args.out or Path("out") / spec.default_out
    done = render_report(spec.name, args.workspace, out, options)
    print(f"wrote {done.path}")
    return 0


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

_HISTORY_COLUMNS = {  # the columns a table shows (csv and json: every column)
    "changes": ["zone", "at", "change", "key_tag", "role", "detail"],
    "timeline": ["zone", "at", "status", "phases", "dnskeys", "ds"],
    "faults": ["zone", "at", "fault", "key_tag", "severity", "detail"],
    "known-good": ["zone", "at", "rrtype", "key_tag", "algorithm", "flags", "digest_type"],
}


def cmd_history(args: argparse.Namespace) -> int:
    from toolkit.assessment.judge import history_view

    df = history_view(
        args.workspace, args.view, zone=args.zone, portfolio=args.portfolio, period=args.period
    )
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
