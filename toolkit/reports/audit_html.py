"""HTML fragments of the audit report (``notebooks/audit_report.ipynb``).

The HTML is in templates (``report_templates/fragments/audit/``, rendered by
:mod:`toolkit.reports.templates` with autoescape): the functions here prepare plain values — text
and numbers formatted, CSS classes whitelisted — and hand them over, so every value from the
data (zone names, owners, messages, evidence text, records) is escaped by the template. A
fragment that is already markup (a heading, a badge, a table) is passed as
:class:`markupsafe.Markup`, rendered by its own template. A table is built by :func:`table_html`
from a frame and a list of :class:`Col`. Sections that have no evidence say so
(:func:`toolkit.reports.html.notice_html`), never invent. The results chart is drawn by
matplotlib in the reports' one chart style (:mod:`toolkit.reports.charts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from toolkit.checks.base import RESULT_STATUSES, SEVERITIES
from toolkit.reports import charts, templates
from toolkit.reports.audit import (
    VERDICTS,
    GovernanceView,
    collapse_findings,
    collapse_zone_findings,
)
from toolkit.reports.html import (
    STATUS_LABELS,
    anchor_id,
    facts_table_html,
    heading_html,
    notice_html,
    plural,
    status_class,
)
from toolkit.reports.zonefile import record_lines

RESULT_LABELS = {
    "pass": "Pass",
    "fail": "Fail",
    "indeterminate": "Indeterminate",
    "not_applicable": "Not applicable",
    "not_evidenced": "Not evidenced",
}
RESULT_COLOURS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "indeterminate": "#7e57c2",
    "not_applicable": "#9e9e9e",
}
VERDICT_LABELS = {
    "match": "DS matches DNSKEY",
    "digest_mismatch": "Digest differs",
    "no_dnskey": "No matching DNSKEY",
    "unsupported": "Not verifiable",
    "no_ds": "No DS published",
}
VERDICT_CLASSES = {
    "match": "result-pass",
    "digest_mismatch": "result-fail",
    "no_dnskey": "result-fail",
    "unsupported": "result-indeterminate",
    "no_ds": "result-not_applicable",
}
DASH = "—"


# -- values and tables ---------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """True for None, pd.NA, NaN and NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_time(value: Any, *, precise: bool = False) -> str:
    """A timestamp in UTC: ``2026-11-28 13:35:34 UTC`` (``precise``: with milliseconds)."""
    if is_missing(value):
        return DASH
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if precise:
        return ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt(value: Any) -> str:
    """Any value as report text: missing → an em dash, booleans → yes/no, timestamps in UTC,
    whole floats without decimals."""
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return fmt_time(value)
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    text = str(value)
    return text if text.strip() else DASH


def result_badge(status: Any) -> str:
    """A check result (pass, fail, indeterminate, not_applicable, not_evidenced) as a badge."""
    known = isinstance(status, str) and status in RESULT_LABELS
    cls = f"result-{status}" if known else "result-unknown"
    return _badge("badge", cls, RESULT_LABELS.get(status, str(status)))


def _badge(kind: str, cls: str, label: Any) -> str:
    return str(templates.render("audit/badge.html.j2", kind=kind, cls=cls, label=label))


def status_badge(status: Any) -> str:
    """A zone status (secure, insecure, bogus, indeterminate) as a badge."""
    return _badge("status", status_class(status), STATUS_LABELS.get(status, "Unknown"))


def severity_badge(severity: Any) -> str:
    """A check's severity as a small label."""
    cls = f"sev-{severity}" if severity in SEVERITIES else "sev-unknown"
    return _badge("severity", cls, severity)


@dataclass(frozen=True)
class Col:
    """A column of :func:`table_html`: the frame column ``key``, its heading, a CSS class
    (from the code, never from data), and how a cell is made: text from the value (``text``)
    or from the whole row (``row_text``), both escaped by the table's template; or a fragment
    (``html``, called with the whole row, returning markup rendered by another template)."""

    key: str
    label: str
    cls: str = ""
    text: Callable[[Any], str] = fmt
    html: Callable[[Mapping[str, Any]], str] | None = None
    row_text: Callable[[Mapping[str, Any]], str] | None = None


def table_html(
    df: pd.DataFrame, cols: Sequence[Col], *, cls: str = "data", empty: str = "No rows."
) -> str:
    """``df`` as an HTML table: a header row that repeats on every page the table spans, one
    row per frame row, every value escaped."""
    rows = [[_cell(c, row) for c in cols] for row in df.to_dict("records")]
    return str(templates.render("audit/table.html.j2", rows=rows, cols=cols, cls=cls, empty=empty))


def _cell(col: Col, row: Mapping[str, Any]) -> str:
    if col.html is not None:
        return Markup(col.html(row))
    if col.row_text is not None:
        return col.row_text(row)
    return col.text(row.get(col.key))


def facts_grid_html(facts: Sequence[tuple[str, Any]], *, cls: str = "facts grid") -> str:
    """Label/value pairs two to a row (four columns), for compact fact sheets."""
    cells = [(k, fmt(v)) for k, v in facts]
    if len(cells) % 2:
        cells.append(("", ""))
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    return str(templates.render("audit/facts_grid.html.j2", rows=rows, cls=cls))


def facts_html(facts: Iterable[tuple[str, Any]], *, cls: str = "facts") -> str:
    """Label/value pairs as a two-column table (values through :func:`fmt`)."""
    return facts_table_html([(k, fmt(v)) for k, v in facts], cls=cls)


def records_html(records: pd.DataFrame) -> str:
    """Raw DNS records as zone-file lines in a monospace block."""
    lines = None if records.empty else list(record_lines(records))
    return str(templates.render("audit/records.html.j2", lines=lines))


def paragraph(text: str, cls: str = "") -> str:
    """A paragraph of escaped text (``cls``: its CSS class, from the code)."""
    return str(templates.render("audit/paragraph.html.j2", text=text, cls=cls))


def span(cls: str, text: Any) -> str:
    """``text`` escaped in a ``<span>`` of class ``cls`` (from the code, never from data)."""
    return str(templates.render("audit/span.html.j2", cls=cls, text=text))


def zone_label(zone: Any, zone_unicode: Any = None) -> str:
    """A zone's display name: the U-label with the A-label in brackets when they differ."""
    shown = fmt(zone_unicode) if not is_missing(zone_unicode) else fmt(zone)
    return shown if shown == fmt(zone) else f"{shown} ({fmt(zone)})"


# -- summary -------------------------------------------------------------------------------------


def check_results_svg(summary: pd.DataFrame, *, width_in: float = 7.2) -> str:
    """Horizontal stacked bars: per check, the number of zones per result (pass, fail,
    indeterminate, not applicable). Deterministic SVG: fixed hash salt, no date, text as
    text (DejaVu Sans)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = summary.to_dict("records")[::-1]
    height_in = 1.1 + 0.36 * max(len(rows), 1)
    with charts.chart_style():
        fig = Figure(figsize=(width_in, height_in))
        ax = fig.add_subplot()
        labels = [_short(str(r["title"]), 46) for r in rows]
        left = [0] * len(rows)
        total = max((int(r["zones"]) for r in rows), default=0)
        for status in RESULT_STATUSES:
            values = [int(r[status]) for r in rows]
            bars = ax.barh(
                labels,
                values,
                left=left,
                color=RESULT_COLOURS[status],
                label=RESULT_LABELS[status],
                height=0.62,
                edgecolor="white",
                linewidth=0.8,
            )
            for bar, v in zip(bars, values, strict=True):
                if v and total and v / total >= 0.06:
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        bar.get_y() + bar.get_height() / 2,
                        str(v),
                        ha="center",
                        va="center",
                        color="white",
                        fontsize=7.5,
                        fontweight="bold",
                    )
            left = [a + b for a, b in zip(left, values, strict=True)]
        if not rows:
            ax.text(0.5, 0.5, "No findings in this run", ha="center", va="center")
            ax.set_yticks([])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if total >= 10000:  # a large run: "20k", not 20000 (the labels would run together)
            from matplotlib.ticker import FuncFormatter

            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
        ax.set_xlim(0, max(total, 1))
        ax.set_xlabel("Number of zones")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", **charts.GRID)
        ax.set_axisbelow(True)
        fig.legend(
            loc="upper center",
            ncol=len(RESULT_STATUSES),
            frameon=False,
            bbox_to_anchor=(0.5, 1.0),
            handlelength=1.2,
            columnspacing=1.5,
        )
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.32 / height_in))
        return charts.svg_of(fig)


def chart_selection(summary: pd.DataFrame, max_rows: int = 18) -> tuple[pd.DataFrame, str]:
    """The checks the results chart shows: all of them while they fit (``max_rows``), else
    those with a failed or indeterminate result, most severe first, up to ``max_rows``; and a
    sentence saying which were left out (they are all in the table)."""
    if len(summary) <= max_rows:
        return summary, ""
    open_ = summary[summary["result"].isin(["fail", "indeterminate"])]
    shown = open_.head(max_rows)
    left = len(summary) - len(shown)
    return shown, (
        f"The chart shows the {len(shown)} most severe checks with a failed or indeterminate "
        f"result; the other {left} are in the table below."
    )


def check_results_alt(summary: pd.DataFrame) -> str:
    """The chart's alternative text: each check and its counts."""
    if summary.empty:
        return "Results per check: no findings in this run."
    parts = []
    for r in summary.to_dict("records"):
        counts = [f"{int(r[s]):,} {s.replace('_', ' ')}" for s in RESULT_STATUSES]
        parts.append(f"{r['title']}: {', '.join(counts)}")
    return "Results per check. " + "; ".join(parts) + "."


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def key_figures_html(scope: pd.DataFrame, summary: pd.DataFrame, zones: pd.DataFrame) -> str:
    """The summary's key figures as tiles: zones in the inventory and probed, zones secure,
    checks failing."""
    inv = int(scope["in_inventory"].sum())
    probed = int((scope["in_inventory"] & scope["probed"]).sum())
    answered = int((scope["in_inventory"] & (scope["servers_answered"].fillna(0) > 0)).sum())
    secure = int((zones["status"] == "secure").sum())
    failing = int((summary["result"] == "fail").sum()) if not summary.empty else 0
    fail_rows = int(summary["fail"].sum()) if not summary.empty else 0
    tiles = [
        (probed, inv, "zones probed", f"of the inventory; {answered:,} answered"),
        (secure, len(zones), "zones secure", "chain of trust validated"),
        (
            failing,
            len(summary),
            "checks failing",
            f"{plural(fail_rows, 'failed result')} over all zones",
        ),
    ]
    return str(
        templates.render(
            "audit/key_figures.html.j2",
            tiles=[
                {"value": f"{n:,}", "of": f"{of:,}", "label": label, "note": note}
                for n, of, label, note in tiles
            ],
        )
    )


def check_summary_html(summary: pd.DataFrame) -> str:
    """The results per check as a table: check, severity, counts per result, overall."""
    cols = [
        Col("title", "Check", "col-check", html=_check_cell),
        Col("severity", "Severity", "col-sev", html=lambda r: severity_badge(r["severity"])),
        Col("pass", "Pass", "col-n"),
        Col("fail", "Fail", "col-n"),
        Col("indeterminate", "Indet.", "col-n"),
        Col("not_applicable", "N/A", "col-n"),
        Col("result", "Result", "col-result", html=lambda r: result_badge(r["result"])),
    ]
    return table_html(summary, cols, cls="data summary", empty="No findings in this run.")


def _check_cell(row: Mapping[str, Any]) -> str:
    return str(
        templates.render("audit/check_cell.html.j2", title=row["title"], check_id=row["check_id"])
    )


# -- scope and method ----------------------------------------------------------------------------


def scope_words(scope: pd.DataFrame, chain: pd.DataFrame) -> str:
    """Zones in the inventory against zones probed, in one paragraph."""
    inv = scope[scope["in_inventory"]]
    probed = inv[inv["probed"]]
    answered = inv[inv["servers_answered"].fillna(0) > 0]
    silent = inv[inv["probed"] & (inv["servers_answered"].fillna(0) == 0)]
    extra = scope[~scope["in_inventory"]]
    text = (
        f"The inventory lists {plural(len(inv), 'zone')}; the run probed {len(probed)} of them "
        f"and at least one authoritative server answered for {len(answered)}."
    )
    if len(silent):
        names = ", ".join(fmt(z) for z in silent["zone"].head(10))
        more = f" and {len(silent) - 10} more" if len(silent) > 10 else ""
        text += f" No server answered for {len(silent)}: {names}{more}."
    if len(inv) != len(probed):
        text += f" {len(inv) - len(probed)} inventory zones were not probed."
    if len(extra):
        text += f" The run also holds {plural(len(extra), 'zone')} not in the inventory."
    if not chain.empty:
        text += (
            " To build the chains of trust the collector also walked "
            f"{plural(len(chain), 'zone')} above them: "
            + ", ".join("the root (.)" if z == "." else fmt(z) for z in chain["zone"])
            + "."
        )
    return paragraph(text)


def scope_table_html(scope: pd.DataFrame) -> str:
    """The scope table: one row per zone."""
    cols = [
        Col(
            "zone",
            "Zone",
            "col-zone",
            row_text=lambda r: zone_label(r["zone"], r["zone_unicode"]),
        ),
        Col("risk_tier", "Tier", "col-n"),
        Col("owner", "Owner", "col-owner"),
        Col("in_inventory", "In inventory", "col-yn"),
        Col("probed", "Probed", "col-yn"),
        Col(
            "servers_answered",
            "Servers answered",
            "col-n",
            row_text=lambda r: f"{fmt(r['servers_answered'])} of {fmt(r['servers'])}",
        ),
        Col("records", "Records", "col-n"),
        Col("status", "Status", "col-status", html=lambda r: status_badge(r["status"])),
    ]
    return table_html(scope, cols, cls="data scope")


def trust_anchor_html(run_params: Mapping[str, Any], keys: pd.DataFrame) -> str:
    """The trust anchor and root hints the run used (from its manifest) and the root keys it
    collected."""
    facts = [
        ("Trust anchor file", run_params.get("trust_anchor", "not recorded")),
        ("Root hints file", run_params.get("root_hints", "not recorded")),
        (
            "Root key-signing keys seen",
            ", ".join(
                f"key tag {fmt(k)} (algorithm {fmt(a)})"
                for k, a in zip(keys["key_tag"], keys["algorithm"], strict=True)
            )
            or "none collected",
        ),
    ]
    note = paragraph(
        "The run records the path of the trust anchor file it started from, not the file's "
        "content; the root's DNSKEY records it collected are in the records frame.",
        "note",
    )
    return facts_html(facts) + note


def resolvers_html(run_params: Mapping[str, Any], checks: pd.DataFrame | None) -> str:
    """The validating resolvers the run asked, with what they answered over all zones."""
    configured = [str(x) for x in run_params.get("resolvers", []) or []]
    if checks is None or checks.empty:
        if configured:
            return paragraph(
                f"Configured: {', '.join(configured)}; no answers are recorded in this run."
            )
        return notice_html(
            "Not evidenced",
            "No validating resolver was asked in this run: the toolkit's own validation was not "
            "cross-checked.",
        )
    rows = []
    # answers seen from named vantage points (a cluster's, or collect --vantage) are shown
    # per vantage: a failure local to one network path shows up as one vantage's bogus
    by_vantage = "vantage" in checks.columns and checks["vantage"].notna().any()
    keys = ["resolver", "address", "port"] + (["vantage"] if by_vantage else [])
    for key, g in checks.groupby(keys, sort=True, dropna=False):
        name, address, port = key[:3]
        counts = g["resolver_status"].value_counts()
        rows.append(
            {
                "vantage": (str(key[3]) if pd.notna(key[3]) else "not named") if by_vantage else "",
                "resolver": name,
                "address": f"{address} port {port}",
                "zones": len(g),
                "secure": int(counts.get("secure", 0)),
                "insecure": int(counts.get("insecure", 0)),
                "bogus": int(counts.get("bogus", 0)),
                "indeterminate": int(counts.get("indeterminate", 0)),
                "errors": int(g["error"].notna().sum()),
            }
        )
    cols = [Col("vantage", "Seen from", "col-resolver")] if by_vantage else []
    cols += [
        Col("resolver", "Resolver", "col-resolver"),
        Col("address", "Address", "col-address"),
        Col("zones", "Zones asked", "col-n"),
        Col("secure", "Secure", "col-n"),
        Col("insecure", "Insecure", "col-n"),
        Col("bogus", "Bogus", "col-n"),
        Col("indeterminate", "Indet.", "col-n"),
        Col("errors", "Errors", "col-n"),
    ]
    return table_html(pd.DataFrame(rows), cols, cls="data resolvers")


def runs_table_html(runs: pd.DataFrame) -> str:
    """The runs of the period: time, tool version, zones, trust anchor, resolvers; the
    reported run marked."""
    cols = [
        Col(
            "run_id",
            "Run",
            "col-run",
            html=lambda r: str(
                templates.render(
                    "audit/run_cell.html.j2", run_id=r["run_id"], reported=bool(r["reported"])
                )
            ),
        ),
        Col("created_at", "Collected (UTC)", "col-time", text=fmt_time),
        Col("tool_version", "Tool version", "col-n"),
        Col("zones", "Zones", "col-n"),
        Col("trust_anchor", "Trust anchor", "col-path"),
        Col("resolvers", "Resolvers", "col-path"),
    ]
    return table_html(runs, cols, cls="data runs")


def run_files_html(manifest: Mapping[str, Any], manifest_sha256: str) -> str:
    """The files of the run with their rows and the SHA-256 its manifest records."""
    files = manifest.get("files", {}) or {}
    rows = [
        {"file": name, "rows": meta.get("rows"), "sha256": meta.get("sha256")}
        for name, meta in sorted(files.items())
    ]
    rows.append({"file": "manifest.json", "rows": None, "sha256": manifest_sha256})
    cols = [
        Col("file", "File of the run", "col-file"),
        Col("rows", "Rows", "col-n"),
        Col(
            "sha256",
            "SHA-256",
            "col-hash",
            html=lambda r: span("hash", r["sha256"]),
        ),
    ]
    return table_html(pd.DataFrame(rows), cols, cls="data files")


# -- findings ------------------------------------------------------------------------------------

FINDING_COLS = [
    Col("zone", "Zone", "col-zone"),
    Col("status", "Result", "col-result", html=lambda r: result_badge(r["status"])),
    Col("message", "Finding", "col-message"),
    Col(
        "evidence",
        "Evidence",
        "col-evidence",
        html=lambda r: span("evidence", fmt(r["evidence"])),
    ),
]


def check_section_html(
    row: Mapping[str, Any],
    findings: pd.DataFrame,
    catalogue: Mapping[str, Mapping[str, Any]],
    *,
    run_id: str,
    limit: int,
    toc: bool = True,
    level: int = 3,
    collapsed: pd.DataFrame | None = None,
    where: str = "",
) -> str:
    """One check, for the check-by-check findings: what it checks, severity, references, the
    count per result, every fail and indeterminate row with its evidence, and the zones that
    passed (listed while there are at most ``limit``, else counted: they are in findings.csv).
    ``level`` is the heading level (3, or 4 inside a governance topic).

    The counts are ``row``'s (a :func:`toolkit.reports.audit.check_summary` row). A streamed
    assessment's report gives ``collapsed`` (the fail and indeterminate rows already as
    :func:`~toolkit.reports.audit.collapse_findings` prints them, at least the first
    ``limit``: :func:`toolkit.reports.streamed.issue_rows`), ``findings`` holding the first
    ``limit`` + 1 rows of the other results, and ``where`` the place of every row (words).
    """
    meta = catalogue.get(str(row["check_id"]), {})
    counts = ", ".join(
        f"{int(row[s]):,} {RESULT_LABELS[s].lower()}" for s in RESULT_STATUSES if int(row[s])
    )
    n_issues = int(row["fail"]) + int(row["indeterminate"])
    table, more = "", ""
    if n_issues:
        if collapsed is not None:
            rows = collapsed
        else:
            rows = collapse_findings(findings[findings["status"].isin(["fail", "indeterminate"])])
        table = table_html(rows.head(limit), FINDING_COLS, cls="data findings")
        rest = n_issues - int(rows["zones"].head(limit).sum())
        if rest > 0:
            more = (
                f"{rest} more failed or indeterminate "
                f"results are in {where or 'the findings attachment'}, each with its evidence."
            )
    zone_lists = []
    for status, words in (("pass", "Passed"), ("not_applicable", "Not applicable")):
        n = int(row[status])
        if not n:
            continue
        if n <= limit:
            zones = list(findings.loc[findings["status"] == status, "zone"])
            zone_lists.append({"label": words, "text": ", ".join(fmt(z) for z in zones) + "."})
        else:
            zone_lists.append(
                {
                    "label": "",
                    "text": f"{words}: {plural(n, 'zone')} (listed with their evidence "
                    f"in {where or 'the attachment findings.csv'}).",
                }
            )
    return str(
        templates.render(
            "audit/check_section.html.j2",
            heading=Markup(
                heading_html(
                    f"{row['title']}",
                    level=level,
                    anchor=anchor_id("check", f"{level}:{row['check_id']}"),
                    toc=toc and level == 3,
                )
            ),
            check_id=row["check_id"],
            severity=Markup(severity_badge(row["severity"])),
            pillar=row["pillar"],
            result=Markup(result_badge(row["result"])),
            description=str(meta["description"]) if meta.get("description") else "",
            counts=f"{plural(int(row['zones']), 'zone')} assessed in run {run_id}: {counts}. "
            f"References: {str(row['references']).replace(';', '; ') or DASH}.",
            table=Markup(table),
            more=more,
            zone_lists=zone_lists,
            remediation=meta["remediation"] if meta.get("remediation") and n_issues else "",
        )
    )


def requirements_table_html(reqs: pd.DataFrame) -> str:
    """The status of every requirement of a framework: id, title, status, and the number of
    findings per result behind it."""
    cols = [
        Col("requirement_id", "Requirement", "col-req"),
        Col("title", "Title", "col-title"),
        Col("status", "Status", "col-result", html=lambda r: result_badge(r["status"])),
        Col("passed", "Pass", "col-n"),
        Col("failed", "Fail", "col-n"),
        Col("indeterminate", "Indet.", "col-n"),
        Col("not_applicable", "N/A", "col-n"),
    ]
    return table_html(reqs, cols, cls="data requirements", empty="No requirements assessed.")


def requirement_section_html(
    req: Mapping[str, Any],
    evidence: pd.DataFrame,
    *,
    run_id: str,
    limit: int,
    stats: Mapping[str, Any] | None = None,
    collapsed: pd.DataFrame | None = None,
    where: str = "",
) -> str:
    """One requirement of a framework, for the control-by-control findings: its status (rolled
    up by the governance assessment: any fail → fail; no pass, or an indeterminate →
    not evidenced), the checks mapped to it, and the findings behind it (``evidence``: the
    requirement_evidence rows of this requirement).

    A streamed assessment's report gives the figures instead of every row: ``stats`` (one
    entry of :func:`toolkit.reports.streamed.requirement_stats`), ``collapsed`` (the fail and
    indeterminate rows as printed, :func:`toolkit.reports.streamed.issue_rows`) and ``where``
    the place of every row (words)."""
    ids = [c for c in str(req["check_ids"]).split(";") if c]
    title = f"{req['requirement_id']} — {req['title']}" if not is_missing(req["title"]) else ""
    heading = heading_html(
        title or str(req["requirement_id"]),
        level=3,
        anchor=anchor_id("req", f"{req['framework']}:{req['requirement_id']}"),
        toc=True,
    )
    page: dict[str, Any] = {
        "heading": Markup(heading),
        "framework": req["framework"],
        "status": Markup(result_badge(req["status"])),
        "unmapped": "",
        "summary": "",
        "table": "",
        "more": "",
        "passed": "",
    }
    if not ids:
        page["unmapped"] = Markup(
            notice_html("Not evidenced", "No check of the toolkit is mapped to this requirement.")
        )
        return str(templates.render("audit/requirement_section.html.j2", **page))
    if stats is None:
        stats = _requirement_stats(evidence, limit)
    counts = stats["counts"]
    seen = stats["checks"]
    unseen = [c for c in ids if c not in seen]
    text = (
        f"Evidenced by {plural(len(ids), 'check')} ({', '.join(ids)}): "
        f"{plural(stats['rows'], 'finding')} over "
        f"{plural(stats['zones'], 'zone')} "
        f"(run {run_id}): "
        + ", ".join(
            f"{int(counts.get(s, 0)):,} {RESULT_LABELS[s].lower()}" for s in RESULT_STATUSES
        )
        + "."
    )
    if unseen:
        text += f" No finding of {', '.join(unseen)}: not evidenced."
    page["summary"] = text
    n_issues = int(counts.get("fail", 0)) + int(counts.get("indeterminate", 0))
    if n_issues:
        cols = [
            Col(
                "check_id",
                "Check",
                "col-checkid",
                html=lambda r: span("check-id", r["check_id"]),
            ),
            *FINDING_COLS,
        ]
        if collapsed is not None:
            rows = collapsed
        else:
            rows = collapse_findings(evidence[evidence["status"].isin(["fail", "indeterminate"])])
        page["table"] = Markup(table_html(rows.head(limit), cols, cls="data findings"))
        rest = n_issues - int(rows["zones"].head(limit).sum())
        if rest > 0:
            page["more"] = (
                f"{rest} more failed or indeterminate "
                f"findings are in {where or 'the attachment table-requirement_evidence.csv'}."
            )
    if stats["passed_n"]:
        zones = stats["passed"]
        listed = ", ".join(fmt(z) for z in zones[:limit])
        more = f" and {stats['passed_n'] - limit} more" if stats["passed_n"] > limit else ""
        page["passed"] = listed + more + "."
    return str(templates.render("audit/requirement_section.html.j2", **page))


def _requirement_stats(evidence: pd.DataFrame, limit: int) -> dict[str, Any]:
    """What :func:`requirement_section_html` prints of a requirement's evidence rows."""
    counts = evidence["status"].value_counts() if not evidence.empty else pd.Series(dtype=int)
    passed = sorted(set(evidence.loc[evidence["status"] == "pass", "zone"]))
    return {
        "rows": len(evidence),
        "zones": int(evidence["zone"].nunique()) if len(evidence) else 0,
        "checks": sorted(set(evidence["check_id"])) if not evidence.empty else [],
        "counts": {s: int(counts.get(s, 0)) for s in RESULT_STATUSES},
        "passed": passed[:limit],
        "passed_n": len(passed),
    }


def governance_notice_html(gov: GovernanceView, framework: str) -> str:
    """Why the findings are listed check by check: the governance view is not available."""
    target = f" against {framework}" if framework else ""
    return notice_html(
        f"Not evidenced: {gov.reason}",
        f"A control-by-control view{target} needs the governance assessment (the portfolio's "
        "records, the framework mapping, the requirement roll-up). None is available for this "
        "run, so no control is reported as met or not met; the findings of the run are listed "
        "check by check, each with its evidence.",
    )


def governance_topics_html(
    gov: GovernanceView,
    catalogue: Mapping[str, Mapping[str, Any]],
    *,
    run_id: str,
    limit: int,
) -> str:
    """The governance records sections (key manifest, change control, drills and incidents,
    exceptions): for each, the record files it rests on (rows read, or not given) and the
    results of the checks that reconcile them with DNS, with the evidence. Without a
    governance assessment each section says *not evidenced*."""
    from toolkit.reports.audit import GOVERNANCE_TOPICS, check_summary, findings_of

    topics = []
    for key, (title, kinds, checks) in GOVERNANCE_TOPICS.items():
        topic: dict[str, Any] = {
            "heading": Markup(heading_html(title, level=3, anchor=f"gov-{key}", toc=True)),
            "missing": "",
            "records": "",
            "absent": "",
            "sections": [],
        }
        topics.append(topic)
        if not gov.available:
            topic["missing"] = Markup(
                notice_html(
                    f"Not evidenced: {gov.reason}",
                    "Nothing in this section is claimed: the records "
                    f"({', '.join(k + '.csv' for k in kinds)}) were not reconciled with DNS.",
                )
            )
            continue
        files = []
        for kind in kinds:
            df = gov.records.get(kind)
            files.append(
                f"{kind}.csv: {plural(len(df), 'row')} read"
                if df is not None
                else f"{kind}.csv: not given — not evidenced"
            )
        topic["records"] = "Records: " + "; ".join(files) + "."
        if gov.streamed is not None:  # a large run: its figures from the streamed parts
            topic["sections"] = _streamed_topic(topic, gov, checks, catalogue, run_id, limit)
            continue
        findings = gov.findings if gov.findings is not None else pd.DataFrame()
        mine = findings[findings["check_id"].isin(checks)] if len(findings) else findings
        absent = [c for c in checks if c not in set(mine.get("check_id", []))]
        if absent:
            topic["absent"] = Markup(
                notice_html(
                    "Not evidenced",
                    f"No result of {', '.join(absent)} in the assessment of this run.",
                )
            )
        for row in check_summary(mine).to_dict("records") if len(mine) else []:
            topic["sections"].append(
                Markup(
                    check_section_html(
                        row,
                        findings_of(mine, check_id=row["check_id"]),
                        catalogue,
                        run_id=run_id,
                        limit=limit,
                        toc=False,
                        level=4,
                    )
                )
            )
    return str(templates.render("audit/governance_topics.html.j2", topics=topics))


def _streamed_topic(
    topic: dict[str, Any],
    gov: GovernanceView,
    checks: Sequence[str],
    catalogue: Mapping[str, Mapping[str, Any]],
    run_id: str,
    limit: int,
) -> list[Markup]:
    """The check sections of one governance topic from a streamed assessment."""
    from toolkit.reports import streamed

    s = gov.streamed
    assert s is not None
    summary = gov.check_summary if gov.check_summary is not None else streamed.check_summary(s)
    mine = summary[summary["check_id"].isin(checks)]
    absent = [c for c in checks if c not in set(mine["check_id"])]
    if absent:
        topic["absent"] = Markup(
            notice_html(
                "Not evidenced",
                f"No result of {', '.join(absent)} in the assessment of this run.",
            )
        )
    return [
        Markup(h)
        for h in streamed_check_sections(s, mine, catalogue, run_id=run_id, limit=limit, level=4)
    ]


def streamed_check_sections(
    s: Any,
    summary: pd.DataFrame,
    catalogue: Mapping[str, Mapping[str, Any]],
    *,
    run_id: str,
    limit: int,
    level: int = 3,
) -> list[str]:
    """:func:`check_section_html` of each row of ``summary`` (check summary rows of the
    streamed assessment ``s``), the printed rows read from its parts by DuckDB
    (:func:`toolkit.reports.streamed.issue_rows`, :func:`~toolkit.reports.streamed.zone_lists`)."""
    from toolkit.reports import streamed

    if summary.empty:
        return []
    ids = [str(c) for c in summary["check_id"]]
    cond = f"check_id IN ({', '.join('?' for _ in ids)})"
    collapsed = streamed.issue_rows(s, "findings", "check_id", cond, ids, limit=limit)
    firsts = streamed.zone_lists(s, "findings", "check_id", cond, ids, limit=limit)
    where = streamed_where(s, "findings")
    out = []
    for row in summary.to_dict("records"):
        c = str(row["check_id"])
        shown = pd.DataFrame(
            [
                {"zone": z, "status": st}
                for st in ("pass", "not_applicable")
                for z in firsts.get((c, st), [])
            ],
            columns=["zone", "status"],
        )
        out.append(
            check_section_html(
                row,
                shown,
                catalogue,
                run_id=run_id,
                limit=limit,
                toc=level == 3,
                level=level,
                collapsed=collapsed.get(c, pd.DataFrame(columns=["zones"])),
                where=where,
            )
        )
    return out


def streamed_notice_html(s: Any, zones: int, parts: pd.DataFrame, limit: int) -> str:
    """Where a large run's per-zone data is: the notice of the summary section."""
    return notice_html(
        f"{zones:,} zones: per-zone data in hashed Parquet files, not in this PDF",
        "The governance assessment was made partition by partition "
        f"({plural(s.partitions, 'partition')}) and its {s.findings:,} findings, the "
        "requirement evidence and the zone "
        f"scores are {len(parts)} Parquet files in assessments/{s.run_id} of the workspace "
        "(section 7 lists each with its SHA-256 and rows). This report prints every summary — "
        "requirements, results per check, the failed and indeterminate findings up to "
        f"{limit} per check or requirement with the count of the rest — computed by DuckDB "
        "from those files; the run's own frames are its Parquet files, hashed in its "
        "manifest (section 2.4).",
        kind="info",
    )


def streamed_parts_html(parts: pd.DataFrame) -> str:
    """The files of a streamed assessment with rows, size and SHA-256 (section 7)."""
    cols = [
        Col("path", "File", "col-file", html=lambda r: span("mono", r["path"])),
        Col("rows", "Rows", "col-n"),
        Col("bytes", "Bytes", "col-n"),
        Col("sha256", "SHA-256", "col-hash", html=lambda r: span("hash", r["sha256"])),
    ]
    return table_html(parts, cols, cls="data attachments")


def streamed_where(s: Any, frame: str) -> str:
    """Where the rows of ``frame`` of a streamed assessment are, in words for the PDF."""
    return (
        f"the Parquet parts {frame}/part-*.parquet of the streamed assessment "
        f"(assessments/{s.run_id} of the workspace; section 7 lists each with its SHA-256)"
    )


# -- DS publication proofs -----------------------------------------------------------------------


def ds_summary_html(proofs: pd.DataFrame) -> str:
    """One row per DS record (or zone without DS): what the parent publishes and the verdict."""
    cols = [
        Col("zone", "Zone", "col-zone"),
        Col("status", "Status", "col-status", html=lambda r: status_badge(r["status"])),
        Col(
            "ds_key_tag",
            "DS (tag / alg / digest)",
            "col-ds",
            row_text=lambda r: (
                DASH
                if is_missing(r["ds_key_tag"])
                else f"{r['ds_key_tag']} / {r['ds_algorithm']} / {r['ds_digest_type']}"
            ),
        ),
        Col("ds_server", "Served by (parent)", "col-server"),
        Col("ds_received", "Received", "col-time", text=fmt_time),
        Col("verdict", "Verdict", "col-verdict", html=lambda r: verdict_badge(r["verdict"])),
    ]
    return table_html(proofs, cols, cls="data ds-summary", empty="No zones in this run.")


def verdict_badge(verdict: Any) -> str:
    """A DS verdict (:data:`toolkit.reports.audit.VERDICTS`) as a badge."""
    cls = (
        VERDICT_CLASSES.get(verdict, "result-unknown")
        if isinstance(verdict, str)
        else "result-unknown"
    )
    return _badge("badge", cls, VERDICT_LABELS.get(verdict, str(verdict)))


def ds_proof_html(
    zone: str, label: str, proofs: pd.DataFrame, records: pd.DataFrame, *, toc: bool
) -> str:
    """A zone's DS publication proof: each DS in words (who served it, when, who signed it,
    which DNSKEY its digest was recomputed from, the verdict), then the raw records."""
    paragraphs = []
    for p in proofs.to_dict("records"):
        if p["verdict"] == "no_ds":
            denial = records[records["rrtype"].isin(["NSEC", "NSEC3"])]
            how = (
                " The parent's signed proof of absence (NSEC/NSEC3) is quoted below."
                if not denial.empty
                else " No signed proof of absence was collected."
            )
            paragraphs.append(
                {
                    "badge": Markup(verdict_badge("no_ds")),
                    "no_ds": True,
                    "parent": fmt(p["parent"]),
                    "how": how,
                }
            )
            continue
        sig = (
            f"signed by {fmt(p['ds_signed_by'])}, signature valid "
            f"{fmt_time(p['ds_signature_valid_from'])} to {fmt_time(p['ds_signature_valid_until'])}"
            if not is_missing(p["ds_signed_by"])
            else "no signature over the DS set was collected"
        )
        if is_missing(p["dnskey_key_tag"]):
            key = f"{VERDICTS[p['verdict']]}."
        else:
            key = (
                f"The digest was recomputed from the zone's DNSKEY {fmt(p['dnskey_key_tag'])} "
                f"(flags {fmt(p['dnskey_flags'])}) served by {fmt(p['dnskey_server'])} at "
                f"{fmt_time(p['dnskey_received'], precise=True)}: {VERDICTS[p['verdict']]}."
            )
        paragraphs.append(
            {
                "badge": Markup(verdict_badge(p["verdict"])),
                "no_ds": False,
                "tag": fmt(p["ds_key_tag"]),
                "algorithm": fmt(p["ds_algorithm"]),
                "digest_type": fmt(p["ds_digest_type"]),
                "parent": fmt(p["parent"]),
                "server": fmt(p["ds_server"]),
                "received": fmt_time(p["ds_received"], precise=True),
                "signature": sig,
                "key": key,
            }
        )
    return str(
        templates.render(
            "audit/ds_proof.html.j2",
            heading=Markup(heading_html(label, level=3, anchor=anchor_id("ds", zone), toc=toc)),
            zone=zone,
            proofs=paragraphs,
            records=Markup(records_html(records)),
        )
    )


# -- per-zone annex ------------------------------------------------------------------------------


def zone_annex_html(
    zone_row: Mapping[str, Any],
    annex_row: Mapping[str, Any],
    resolver_rows: pd.DataFrame | None,
    findings: pd.DataFrame,
    *,
    toc: bool,
    names: pd.DataFrame | None = None,
) -> str:
    """A zone's page of the technical annex: its facts, what each validating resolver
    answered, the listed names beyond the apex (``names``: rows of
    :func:`toolkit.reports.audit.name_answers`, when the zone has some), and every check's
    result for it with the evidence."""
    label = zone_label(zone_row["zone"], zone_row["zone_unicode"])
    facts = [
        ("Status", STATUS_LABELS.get(zone_row["status"], fmt(zone_row["status"]))),
        ("Why", zone_row["reason_text"] if fmt(zone_row["reason_text"]) != DASH else "—"),
        ("Reason codes", zone_row["reasons"] if fmt(zone_row["reasons"]) != DASH else "—"),
        ("Owner", zone_row["owner"]),
        ("Risk tier", zone_row["risk_tier"]),
        ("Expected signed", zone_row["expected_signed"]),
        ("Parent zone", zone_row["parent"]),
        ("DS at parent", zone_row["has_ds"]),
        ("Signed (DNSKEY served)", zone_row["signed"]),
        ("DNSKEY algorithms", zone_row["algorithms"]),
        (
            "Authoritative servers answered",
            f"{fmt(zone_row['ns_answered'])} of {fmt(zone_row['ns_servers'])}",
        ),
        (
            "Shortest signature validity left",
            f"{fmt(zone_row['min_rrsig_days_left'])} days"
            if not is_missing(zone_row["min_rrsig_days_left"])
            else DASH,
        ),
        ("Earliest signature expiry", fmt_time(zone_row["earliest_expiration"])),
        ("Validated as of", fmt_time(zone_row["checked_at"], precise=True)),
        (
            "Checks failed / indeterminate",
            f"{fmt(annex_row['checks_failed'])} / {fmt(annex_row['checks_indeterminate'])}",
        ),
    ]
    tables: list[tuple[Markup, Markup]] = []
    if resolver_rows is not None and not resolver_rows.empty:
        named = "vantage" in resolver_rows.columns and resolver_rows["vantage"].notna().any()
        cols = [Col("vantage", "Seen from", "col-resolver")] if named else []
        cols += [
            Col("resolver", "Resolver", "col-resolver"),
            Col("rcode", "Rcode", "col-rcode"),
            Col("ad", "AD", "col-yn"),
            Col(
                "ede_code",
                "EDE",
                "col-n",
                row_text=lambda r: _ede(r["ede_code"], r["ede_text"]),
            ),
            Col(
                "resolver_status",
                "Resolver saw",
                "col-status",
                html=lambda r: status_badge(r["resolver_status"]),
            ),
            Col("latency_ms", "ms", "col-n"),
            Col("queried_at", "Asked (UTC)", "col-time", text=lambda v: fmt_time(v, precise=True)),
        ]
        tables.append(
            (
                Markup(heading_html("Validating resolvers", level=4)),
                Markup(table_html(resolver_rows, cols, cls="data resolver-results")),
            )
        )
    if names is not None and not names.empty:
        tables.append(
            (
                Markup(heading_html("Names beyond the apex", level=4)),
                Markup(names_table_html(names)),
            )
        )
    cols = [
        Col("title", "Check", "col-check", row_text=lambda r: str(templates.text(r["title"]))),
        Col("status", "Result", "col-result", html=lambda r: result_badge(r["status"])),
        Col("message", "Finding", "col-message"),
        Col(
            "evidence",
            "Evidence",
            "col-evidence",
            html=lambda r: span("evidence", fmt(r["evidence"])),
        ),
    ]
    issues = collapse_zone_findings(findings[findings["status"].isin(["fail", "indeterminate"])])
    tables.append(
        (
            Markup(heading_html("Checks", level=4)),
            Markup(
                table_html(
                    issues, cols, cls="data findings", empty="No check failed or was undecided."
                )
            ),
        )
    )
    zone_lists = []
    for status, words in (("pass", "Passed"), ("not_applicable", "Not applicable")):
        titles = [fmt(t) for t in findings.loc[findings["status"] == status, "title"]]
        if titles:
            zone_lists.append(
                {"label": f"{words} ({len(titles)})", "text": "; ".join(titles) + "."}
            )
    return str(
        templates.render(
            "audit/zone_annex.html.j2",
            heading=Markup(
                heading_html(label, level=3, anchor=anchor_id("zone", zone_row["zone"]), toc=toc)
            ),
            facts=Markup(facts_grid_html(facts, cls="facts grid zone-facts")),
            tables=tables,
            zone_lists=zone_lists,
        )
    )


def names_table_html(names: pd.DataFrame) -> str:
    """The listed names of a zone: per name and type, what the servers answered, the toolkit's
    verdict (the worst over the servers) and why, and what the validating resolvers saw. Every
    cell is escaped: names, reasons and resolver labels come from DNS answers and inputs."""
    cols = [
        Col("name", "Name", "col-zone"),
        Col("qtype", "Type", "col-rcode"),
        Col("answer", "Answer", "col-rcode"),
        Col("status", "Toolkit", "col-status", html=lambda r: status_badge(r["status"])),
        Col("servers", "Servers", "col-n"),
        Col("reason", "Why", "col-message"),
        Col("resolvers", "Resolvers saw", "col-message"),
    ]
    return table_html(names, cols, cls="data names")


def _ede(code: Any, text: Any) -> str:
    if is_missing(code):
        return DASH
    return f"{code} {'' if is_missing(text) else text}".strip()


def annex_table_html(annex: pd.DataFrame) -> str:
    """The whole annex as one compact table (used past the inline limit, for the zones shown)."""
    cols = [
        Col("zone", "Zone", "col-zone"),
        Col("status", "Status", "col-status", html=lambda r: status_badge(r["status"])),
        Col("risk_tier", "Tier", "col-n"),
        Col("ns_answered", "Servers", "col-n"),
        Col("min_rrsig_days_left", "Days left", "col-n"),
        Col("checks_failed", "Failed", "col-n"),
        Col("resolvers_secure", "Resolvers secure", "col-n"),
    ]
    return table_html(annex, cols, cls="data annex")


# -- attachments ---------------------------------------------------------------------------------


def attachments_html(entries: Sequence[Mapping[str, Any]]) -> str:
    """The files embedded in the PDF: name, rows, size, SHA-256 and what each holds."""
    cols = [
        Col(
            "name",
            "Attachment",
            "col-file",
            html=lambda r: span("mono", r["name"]),
        ),
        Col("rows", "Rows", "col-n"),
        Col("bytes", "Bytes", "col-n"),
        Col("description", "Holds", "col-desc"),
        Col(
            "sha256",
            "SHA-256",
            "col-hash",
            html=lambda r: span("hash", r["sha256"]),
        ),
    ]
    return table_html(
        pd.DataFrame(list(entries)), cols, cls="data attachments", empty="No attachments."
    )
