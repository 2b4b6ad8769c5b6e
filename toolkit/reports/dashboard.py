"""The health dashboard: frames in, self-contained HTML fragments out (no I/O).

``notebooks/dashboard.ipynb`` displays these fragments;
:func:`toolkit.reports.render.render_dashboard`
turns the executed notebook into one HTML file that needs nothing else: its stylesheet is
inline, its charts are inline SVG drawn by matplotlib in the reports' chart style
(:mod:`toolkit.reports.charts`, deterministic), there is no script, and a
Content-Security-Policy forbids the browser to load anything at all.

Five panels, each a pure function of stored frames:

* :func:`coverage` — validation coverage of the run (zones, signed, secure, cross-checked);
* :func:`resolver_status` — status seen by each validating resolver family;
* :func:`resolver_latency` — median and 95th-percentile latency per resolver family;
* :func:`expiry_horizon` — zones by days of signature validity left;
* :func:`open_alerts` — the alerts still active, most severe first.

The panels' HTML is in the Jinja2 templates of ``report_templates/fragments/dashboard/``
(:mod:`toolkit.reports.templates`, autoescape): every value from the data (zone names, resolver
labels, alert messages) is escaped there; CSS classes and colours come from fixed tables, never
from data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup

from toolkit.reports import templates
from toolkit.reports.charts import GRID, chart_style, inline_svg, svg_of
from toolkit.reports.html import STATUS_COLOURS, STATUS_LABELS, pct, plural

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


# -- charts --------------------------------------------------------------------------------------

_HEX = frozenset("0123456789abcdef")


def _check_colour(colour: str) -> None:
    if not (len(colour) == 7 and colour[0] == "#" and set(colour[1:].lower()) <= _HEX):
        raise ValueError(f"colour {colour!r}: expected #rrggbb")


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
    """A horizontal bar chart drawn by matplotlib in the reports' chart style, as an inline
    ``<svg>`` element (:func:`toolkit.reports.charts.inline_svg`): one row per label, first label
    on top; ``series`` are (name, colour, values). Stacked bars add up (the total written at the
    end of the bar); grouped bars sit under each other (each value written at its end).
    ``title`` becomes the SVG's <title> (accessible name); ``width`` is the drawing's width in
    CSS pixels. Labels are text, never markup or math; colours must be ``#rrggbb`` from the
    code's own tables (else ValueError). The same arguments give the same bytes."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    for _, colour, _ in series:
        _check_colour(colour)
    rows = len(labels)
    per_row = 0.3 if stacked else 0.1 + 0.2 * max(len(series), 1)
    top_in = 0.32 if legend and series else 0.1
    height_in = 0.55 + top_in + per_row * max(rows, 1)
    ys = [float(rows - 1 - i) for i in range(rows)]
    with chart_style():
        fig = Figure(figsize=(width / 80, height_in))
        ax = fig.add_subplot()
        ends: list[tuple[float, float, str]] = []  # (x, y, text) written after a bar
        if stacked:
            left = [0.0] * rows
            for name, colour, values in series:
                vals = [float(v) for v in values]
                ax.barh(ys, vals, left=left, height=0.62, color=colour, label=name,
                        edgecolor="white", linewidth=0.8)  # fmt: skip
                left = [a + b for a, b in zip(left, vals, strict=True)]
            ends = [(t, y, _num(t) + unit) for t, y in zip(left, ys, strict=True)]
        else:
            k = max(len(series), 1)
            h = 0.8 / k
            for j, (name, colour, values) in enumerate(series):
                vals = [float(v) for v in values]
                yy = [y + 0.4 - h * (j + 0.5) for y in ys]
                ax.barh(yy, vals, height=h * 0.9, color=colour, label=name)
                ends += [(v, y, _num(v) + unit) for v, y in zip(vals, yy, strict=True)]
        top = max((x for x, _, _ in ends), default=0.0) or 1.0
        for x, y, text in ends:
            ax.text(x + top * 0.01, y, text, va="center", ha="left", fontsize=7.5,
                    color="#333333")  # fmt: skip
        ax.set_yticks(ys, list(labels))
        ax.set_ylim(-0.6, max(rows - 0.4, 0.6))
        ax.set_xlim(0, top * 1.14)
        if not rows:
            ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", va="center",
                    color="#5b6670", style="italic")  # fmt: skip
            ax.set_yticks([])
        if all(float(v).is_integer() for _, _, vs in series for v in vs):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", **GRID)
        ax.set_axisbelow(True)
        if legend and series:
            fig.legend(loc="upper center", ncol=len(series), frameon=False,
                       bbox_to_anchor=(0.5, 1.0), handlelength=1.2, columnspacing=1.5)  # fmt: skip
        fig.tight_layout(rect=(0, 0, 1, 1 - top_in / height_in))
        svg = svg_of(fig)
    return str(inline_svg(svg, title))


def _ms(v: object) -> str:
    return "" if pd.isna(v) else f"{float(v):.1f}"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _render(name: str, **context: object) -> str:
    return str(templates.render(f"dashboard/{name}.html.j2", **context))


# -- HTML panels ---------------------------------------------------------------------------------


def header_html(title: str, organisation: str, run_id: str, as_of: str) -> str:
    """The dashboard's header: title, organisation, run and time of the data."""
    return _render("header", title=title, organisation=organisation, run_id=run_id, as_of=as_of)


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
    return _render("coverage", tiles=tiles)


def resolver_status_html(table: pd.DataFrame) -> str:
    """Stacked bars: zones per status as each resolver family saw them, and the table."""
    labels = [str(r) for r in table.index]
    series = [
        (STATUS_LABELS[s], STATUS_COLOURS[s], [int(table.loc[r, s]) for r in table.index])
        for s in RESOLVER_STATUSES
    ]
    svg = bar_chart_svg(labels, series, title="Zones by status, per resolver family")
    rows = [(r, [int(table.loc[r, s]) for s in RESOLVER_STATUSES]) for r in table.index]
    return _render(
        "resolver_status",
        chart=Markup(svg),
        statuses=[STATUS_LABELS[s] for s in RESOLVER_STATUSES],
        rows=rows,
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
    resolvers: list[object] = []
    periods: list[tuple[object, list[str]]] = []
    if trend is not None and not trend.empty:
        pivot = trend.pivot_table(index="period", columns="resolver", values="median_ms")
        resolvers = list(pivot.columns)
        periods = [(p, [_ms(pivot.loc[p, c]) for c in pivot.columns]) for p in pivot.index]
    return _render("latency", chart=Markup(svg), resolvers=resolvers, periods=periods)


def expiry_html(horizon: pd.DataFrame, soonest: pd.DataFrame, alert_days: float) -> str:
    """Bars of signed zones per days-of-validity bucket, and the zones expiring soonest."""
    h = horizon[horizon["bucket"] != "unknown"]
    colours = dict(zip([b[0] for b in EXPIRY_BUCKETS], _EXPIRY_COLOURS, strict=True))
    labels = [str(b) for b in h["bucket"]]
    series = [
        (
            label,
            colours[label],
            [int(n) if b == label else 0 for b, n in zip(h["bucket"], h["zones"], strict=True)],
        )
        for label in labels
    ]
    svg = bar_chart_svg(
        labels, series, title="Signed zones by days of signature validity left", legend=False
    )
    unknown = int(horizon.loc[horizon["bucket"] == "unknown", "zones"].sum())
    rows = []
    for z in soonest.itertuples(index=False):
        days = float(z.min_rrsig_days_left)
        shown = z.zone_unicode if isinstance(z.zone_unicode, str) and z.zone_unicode else z.zone
        when = (
            ""
            if pd.isna(z.earliest_expiration)
            else pd.Timestamp(z.earliest_expiration).strftime("%Y-%m-%d %H:%M UTC")
        )
        rows.append(
            {
                "cls": "bad" if days < 0 else ("warn" if days < alert_days else ""),
                "zone": shown,
                "tier": "" if pd.isna(z.risk_tier) else str(int(z.risk_tier)),
                "days": f"{days:.1f}",
                "when": when,
            }
        )
    return _render(
        "expiry",
        chart=Markup(svg),
        unknown=plural(unknown, "signed zone") if unknown else "",
        rows=rows,
        alert_days=_num(alert_days),
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
        return _render("alerts_not_evaluated", run_id=run_id, last=last)
    rows = [
        {
            "severity": str(a.severity),
            "cls": _SEVERITY_CLASS.get(str(a.severity), "sev-unknown"),
            "zone": a.zone,
            "rule": a.rule,
            "message": a.message,
            "seen": pd.Timestamp(a.first_seen_at).strftime("%Y-%m-%d %H:%M"),
            "ack": "yes" if bool(a.acknowledged) else "no",
        }
        for a in alerts.head(limit).itertuples(index=False)
    ]
    return _render("alerts", total=len(alerts), rows=rows, more=max(len(alerts) - limit, 0))
