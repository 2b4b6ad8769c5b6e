"""The health dashboard: frames in, self-contained HTML fragments out (no I/O).

``notebooks/dashboard.ipynb`` displays these fragments;
:func:`toolkit.reports.render.render_dashboard`
turns the executed notebook into one HTML file that needs nothing else: its stylesheet is
inline, its charts are inline SVG written here by hand (no plotting library, no script), and a
Content-Security-Policy forbids the browser to load anything at all.

Five panels, each a pure function of stored frames:

* :func:`coverage` — validation coverage of the run (zones, signed, secure, cross-checked);
* :func:`resolver_status` — status seen by each validating resolver family;
* :func:`resolver_latency` — median and 95th-percentile latency per resolver family;
* :func:`expiry_horizon` — zones by days of signature validity left;
* :func:`open_alerts` — the alerts still active, most severe first.

Every value from the data (zone names, resolver labels, alert messages) is escaped with
:func:`toolkit.reports.html.escape`; CSS classes and colours come from fixed tables, never from
data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from toolkit.reports.html import STATUS_COLOURS, STATUS_LABELS, escape, pct, plural

#: Resolver answers as :func:`toolkit.collect.resolvers.resolver_status` names them, in order.
RESOLVER_STATUSES = ("secure", "insecure", "bogus", "indeterminate")
#: Buckets of the signature-expiry horizon: (label, lowest days left, highest days left).
EXPIRY_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("expired", float("-inf"), 0.0),
    ("< 1 day", 0.0, 1.0),
    ("1–7 days", 1.0, 7.0),
    ("7–14 days", 7.0, 14.0),
    ("14–30 days", 14.0, 30.0),
    ("30+ days", 30.0, float("inf")),
)
_EXPIRY_COLOURS = ("#c62828", "#c62828", "#e0a100", "#9ccc65", "#2e7d32", "#2e7d32")
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
_SEVERITY_CLASS = {s: f"sev-{s}" for s in _SEVERITY_ORDER}


# -- frames --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Validation coverage of one run (counts of zones)."""

    zones: int
    signed: int
    secure: int
    expected_signed: int
    expected_secure: int
    cross_checked: int

    def share(self, part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 0.0


def coverage(zones: pd.DataFrame, resolver_checks: pd.DataFrame | None) -> Coverage:
    """Counts behind the coverage tiles: zones, signed, secure, zones expected signed and how
    many of those are secure, zones cross-checked by at least one resolver that answered."""
    expected = zones["expected_signed"].fillna(False).astype(bool)
    secure = zones["status"] == "secure"
    checked = 0
    if resolver_checks is not None and not resolver_checks.empty:
        answered = resolver_checks[resolver_checks["resolver_status"].notna()]
        checked = len(set(answered["zone"].astype(str)) & set(zones["zone"].astype(str)))
    return Coverage(
        zones=len(zones),
        signed=int(zones["signed"].fillna(False).astype(bool).sum()),
        secure=int(secure.sum()),
        expected_signed=int(expected.sum()),
        expected_secure=int((expected & secure).sum()),
        cross_checked=checked,
    )


def resolver_status(resolver_checks: pd.DataFrame | None) -> pd.DataFrame:
    """Zones per resolver family (rows, sorted) and status it reported (columns, fixed order)."""
    cols = list(RESOLVER_STATUSES)
    if resolver_checks is None or resolver_checks.empty:
        return pd.DataFrame(columns=cols, dtype="int64")
    rc = resolver_checks.assign(
        resolver_status=resolver_checks["resolver_status"].fillna("indeterminate")
    )
    rc = rc[rc["resolver_status"].isin(cols)]
    table = pd.crosstab(rc["resolver"].astype(str), rc["resolver_status"].astype(str))
    return table.reindex(columns=cols, fill_value=0).sort_index().astype("int64")


def resolver_latency(resolver_checks: pd.DataFrame | None) -> pd.DataFrame:
    """Per resolver family: checks with a latency, median and 95th percentile in ms."""
    cols = ["resolver", "checks", "median_ms", "p95_ms"]
    if resolver_checks is None or resolver_checks.empty:
        return pd.DataFrame(columns=cols)
    rc = resolver_checks.dropna(subset=["latency_ms"])
    if rc.empty:
        return pd.DataFrame(columns=cols)
    g = rc["latency_ms"].astype("float64").groupby(rc["resolver"].astype(str))
    out = pd.DataFrame(
        {
            "checks": g.size(),
            "median_ms": g.median(),
            "p95_ms": g.quantile(0.95),
        }
    )
    return out.rename_axis("resolver").reset_index()[cols]


def expiry_horizon(zones: pd.DataFrame) -> pd.DataFrame:
    """Signed zones per bucket of :data:`EXPIRY_BUCKETS` (columns ``bucket``, ``zones``), then
    a row ``unknown`` for signed zones with no signature validity recorded."""
    signed = zones[zones["signed"].fillna(False).astype(bool)]
    left = signed["min_rrsig_days_left"].astype("Float64")
    rows = []
    for label, low, high in EXPIRY_BUCKETS:
        rows.append({"bucket": label, "zones": int(((left >= low) & (left < high)).sum())})
    rows.append({"bucket": "unknown", "zones": int(left.isna().sum())})
    return pd.DataFrame(rows)


def soonest_expiring(zones: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The signed zones with the least signature validity left, soonest first."""
    signed = zones[zones["signed"].fillna(False).astype(bool)].dropna(
        subset=["min_rrsig_days_left"]
    )
    cols = ["zone", "zone_unicode", "risk_tier", "min_rrsig_days_left", "earliest_expiration"]
    return signed.sort_values(["min_rrsig_days_left", "zone"])[cols].head(limit)


def open_alerts(alerts: pd.DataFrame | None) -> pd.DataFrame:
    """The active alerts (schema ``toolkit.alerts.ALERTS``), most severe then newest first."""
    if alerts is None or alerts.empty:
        return pd.DataFrame(columns=getattr(alerts, "columns", []))
    active = alerts[alerts["status"] == "active"]
    order = active["severity"].map(lambda s: _SEVERITY_ORDER.get(str(s), 9))
    return (
        active.assign(_o=order)
        .sort_values(["_o", "first_seen_at"], ascending=[True, False])
        .drop(columns="_o")
        .reset_index(drop=True)
    )


# -- SVG -----------------------------------------------------------------------------------------


def bar_chart_svg(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    title: str,
    unit: str = "",
    stacked: bool = True,
    legend: bool = True,
    width: int = 560,
) -> str:
    """A horizontal bar chart as inline SVG: one row per label; ``series`` are (name, colour,
    values). Stacked bars add up; grouped bars sit under each other. Values are written at the
    end of each bar. ``title`` becomes the SVG's <title> (accessible name). All text escaped;
    colours must be ``#rrggbb`` from the code's own tables."""
    for _, colour, _ in series:
        if not (
            len(colour) == 7
            and colour[0] == "#"
            and all(c in "0123456789abcdef" for c in colour[1:].lower())
        ):
            raise ValueError(f"colour {colour!r}: expected #rrggbb")
    label_w, right_pad, bar_h, gap = 150, 60, 16, 10
    per_row = bar_h * (1 if stacked else len(series)) + gap
    legend_h = 22 if legend else 4
    height = legend_h + max(len(labels), 1) * per_row + 6
    plot_w = width - label_w - right_pad
    if stacked:
        totals = [sum(float(s[2][i]) for s in series) for i in range(len(labels))]
    else:
        totals = [float(v) for s in series for v in s[2]]
    top = max(totals, default=0.0) or 1.0
    parts = [
        f'<svg class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title>"
    ]
    x = label_w
    for name, colour, _ in series if legend else ():
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="13" class="legend">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    if not labels:
        parts.append(f'<text x="{label_w}" y="{legend_h + 14}" class="empty">No data</text>')
    for i, label in enumerate(labels):
        y = legend_h + i * per_row
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.75:.1f}" text-anchor="end" '
            f'class="label">{escape(label)}</text>'
        )
        x0 = float(label_w)
        for j, (name, colour, values) in enumerate(series):
            v = float(values[i])
            w = plot_w * v / top
            yy = y if stacked else y + j * bar_h
            if v > 0:
                tip = f"{label}: {name} {_num(v)}{unit}"
                parts.append(
                    f'<rect x="{x0:.1f}" y="{yy}" width="{max(w, 1):.1f}" height="{bar_h - 2}" '
                    f'fill="{colour}"><title>{escape(tip)}</title></rect>'
                )
            if not stacked:
                parts.append(
                    f'<text x="{x0 + w + 4:.1f}" y="{yy + bar_h * 0.7:.1f}" class="value">'
                    f"{escape(_num(v) + unit)}</text>"
                )
            else:
                x0 += w
        if stacked:
            parts.append(
                f'<text x="{x0 + 4:.1f}" y="{y + bar_h * 0.7:.1f}" class="value">'
                f"{escape(_num(totals[i]) + unit)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _ms(v: object) -> str:
    return "" if pd.isna(v) else f"{float(v):.1f}"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


# -- HTML panels ---------------------------------------------------------------------------------


def header_html(title: str, organisation: str, run_id: str, as_of: str) -> str:
    """The dashboard's header: title, organisation, run and time of the data."""
    return (
        '<header class="dash-header">'
        f"<h1>{escape(title)}</h1>"
        f'<p class="dash-meta"><span class="org">{escape(organisation)}</span> · '
        f'run <code class="run-id">{escape(run_id)}</code> · data as of {escape(as_of)}</p>'
        "</header>"
    )


def coverage_html(c: Coverage) -> str:
    """Five KPI tiles of validation coverage."""
    tiles = [
        (str(c.zones), "zones in the run", "every zone of the inventory", "neutral"),
        (pct(c.share(c.signed, c.zones)), "signed", f"{c.signed} of {c.zones}", "neutral"),
        (
            pct(c.share(c.secure, c.zones)),
            "validate (secure)",
            f"{c.secure} of {c.zones} have a chain of trust that validates",
            "good" if c.zones and c.secure == c.zones else "neutral",
        ),
        (
            pct(c.share(c.expected_secure, c.expected_signed)),
            "of zones meant to be signed validate",
            f"{c.expected_secure} of {c.expected_signed}",
            "good" if c.expected_secure == c.expected_signed else "bad",
        ),
        (
            pct(c.share(c.cross_checked, c.zones)),
            "cross-checked by resolvers",
            f"{c.cross_checked} of {c.zones} zones",
            "neutral",
        ),
    ]
    body = "".join(
        f'<div class="tile tile-{cls}"><div class="tile-value">{escape(v)}</div>'
        f'<div class="tile-label">{escape(label)}</div>'
        f'<div class="tile-note">{escape(note)}</div></div>'
        for v, label, note, cls in tiles
    )
    return (
        '<section class="panel" id="coverage"><h2>Validation coverage</h2>'
        f'<div class="tiles">{body}</div></section>'
    )


def resolver_status_html(table: pd.DataFrame) -> str:
    """Stacked bars: zones per status as each resolver family saw them, and the table."""
    labels = [str(r) for r in table.index]
    series = [
        (STATUS_LABELS[s], STATUS_COLOURS[s], [int(table.loc[r, s]) for r in table.index])
        for s in RESOLVER_STATUSES
    ]
    svg = bar_chart_svg(labels, series, title="Zones by status, per resolver family")
    rows = "".join(
        f"<tr><th>{escape(r)}</th>"
        + "".join(f'<td class="num">{int(table.loc[r, s])}</td>' for s in RESOLVER_STATUSES)
        + "</tr>"
        for r in table.index
    )
    head = "".join(f"<th>{escape(STATUS_LABELS[s])}</th>" for s in RESOLVER_STATUSES)
    tbl = (
        f'<table class="data"><thead><tr><th>Resolver</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        if labels
        else '<p class="empty">No validating resolver was asked in this run.</p>'
    )
    return (
        '<section class="panel" id="resolvers"><h2>Status by resolver family</h2>'
        '<p class="intro">What each validating resolver answered for the zones of the run.</p>'
        f"{svg}{tbl}</section>"
    )


def latency_html(latest: pd.DataFrame, trend: pd.DataFrame | None = None) -> str:
    """Grouped bars of median and p95 latency per resolver; with ``trend`` (schema
    ``history.frames.LATENCY_TRENDS``) a table of the median per period."""
    labels = [str(r) for r in latest["resolver"]]
    svg = bar_chart_svg(
        labels,
        [
            ("median", "#1565c0", [float(v) for v in latest["median_ms"]]),
            ("95th percentile", "#90caf9", [float(v) for v in latest["p95_ms"]]),
        ],
        title="Resolver latency in milliseconds",
        unit=" ms",
        stacked=False,
    )
    extra = ""
    if trend is not None and not trend.empty:
        pivot = trend.pivot_table(index="period", columns="resolver", values="median_ms")
        head = "".join(f"<th>{escape(c)}</th>" for c in pivot.columns)
        rows = "".join(
            f"<tr><th>{escape(p)}</th>"
            + "".join(f'<td class="num">{_ms(pivot.loc[p, c])}</td>' for c in pivot.columns)
            + "</tr>"
            for p in pivot.index
        )
        extra = (
            '<h3>Median latency per period (ms)</h3><table class="data">'
            f"<thead><tr><th>Period</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
    return (
        '<section class="panel" id="latency"><h2>Resolver latency</h2>'
        '<p class="intro">Time each resolver took to answer the validation query, this run.</p>'
        f"{svg}{extra}</section>"
    )


def expiry_html(horizon: pd.DataFrame, soonest: pd.DataFrame, alert_days: float) -> str:
    """Bars of signed zones per days-of-validity bucket, and the zones expiring soonest."""
    h = horizon[horizon["bucket"] != "unknown"]
    colours = dict(zip([b[0] for b in EXPIRY_BUCKETS], _EXPIRY_COLOURS, strict=True))
    svg_parts = []
    labels = [str(b) for b in h["bucket"]]
    series = [
        (
            label,
            colours[label],
            [int(n) if b == label else 0 for b, n in zip(h["bucket"], h["zones"], strict=True)],
        )
        for label in labels
    ]
    svg_parts.append(
        bar_chart_svg(
            labels, series, title="Signed zones by days of signature validity left", legend=False
        )
    )
    unknown = int(horizon.loc[horizon["bucket"] == "unknown", "zones"].sum())
    note = (
        f'<p class="note">{escape(plural(unknown, "signed zone"))} without a recorded signature '
        "validity.</p>"
        if unknown
        else ""
    )
    rows = []
    for z in soonest.itertuples(index=False):
        days = float(z.min_rrsig_days_left)
        cls = "bad" if days < 0 else ("warn" if days < alert_days else "")
        shown = z.zone_unicode if isinstance(z.zone_unicode, str) and z.zone_unicode else z.zone
        when = (
            ""
            if pd.isna(z.earliest_expiration)
            else pd.Timestamp(z.earliest_expiration).strftime("%Y-%m-%d %H:%M UTC")
        )
        tier = "" if pd.isna(z.risk_tier) else str(int(z.risk_tier))
        rows.append(
            f'<tr class="{cls}"><td>{escape(shown)}</td><td class="num">{escape(tier)}</td>'
            f'<td class="num">{days:.1f}</td><td>{escape(when)}</td></tr>'
        )
    table = (
        '<h3>Soonest to expire</h3><table class="data"><thead><tr><th>Zone</th><th>Tier</th>'
        f"<th>Days left</th><th>Earliest expiration</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table>"
        if rows
        else '<p class="empty">No signed zone with a recorded signature validity.</p>'
    )
    return (
        '<section class="panel" id="expiry"><h2>Signature-expiry horizon</h2>'
        f'<p class="intro">Days until the first signature of each signed zone expires; the policy '
        f"alerts below {escape(_num(alert_days))} days.</p>"
        f"{''.join(svg_parts)}{note}{table}</section>"
    )


def alerts_html(
    alerts: pd.DataFrame,
    limit: int = 50,
    *,
    run_id: str | None = None,
    evaluated_run: str | None = None,
) -> str:
    """The open (active) alerts as a table, most severe first.

    With ``run_id`` (the run the page shows), the panel claims only what was checked: unless
    the alert rules were last evaluated on that very run (``evaluated_run``, the alert state's
    last run), it says the alerts were not evaluated for it — never "No open alert"."""
    if run_id is not None and evaluated_run != run_id:
        last = f"last evaluated on run {evaluated_run}" if evaluated_run else "never evaluated"
        return (
            '<section class="panel" id="alerts"><h2>Alerts: not evaluated</h2>'
            f'<p class="note">Alerts were not evaluated for run {escape(run_id)} '
            f"({escape(last)}): this page does not say whether any alert is open. Run "
            "<code>dnssec-audit alerts</code> on this run to evaluate them.</p></section>"
        )
    if alerts.empty:
        body = '<p class="all-clear">No open alert.</p>'
    else:
        rows = []
        for a in alerts.head(limit).itertuples(index=False):
            sev = str(a.severity)
            cls = _SEVERITY_CLASS.get(sev, "sev-unknown")
            seen = pd.Timestamp(a.first_seen_at).strftime("%Y-%m-%d %H:%M")
            ack = "yes" if bool(a.acknowledged) else "no"
            rows.append(
                f'<tr><td><span class="sev {cls}">{escape(sev)}</span></td>'
                f"<td>{escape(a.zone)}</td><td>{escape(a.rule)}</td><td>{escape(a.message)}</td>"
                f"<td>{escape(seen)}</td><td>{ack}</td></tr>"
            )
        more = f'<p class="note">and {len(alerts) - limit} more.</p>' if len(alerts) > limit else ""
        body = (
            '<table class="data alerts"><thead><tr><th>Severity</th><th>Zone</th><th>Rule</th>'
            "<th>What is wrong</th><th>First seen (UTC)</th><th>Ack.</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{more}"
        )
    return (
        f'<section class="panel" id="alerts"><h2>Open alerts ({len(alerts)})</h2>{body}</section>'
    )
