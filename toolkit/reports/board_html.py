"""HTML fragments and the KPI chart of the board report, from
:class:`toolkit.reports.board.BoardView`.

The HTML is in templates (``report_templates/fragments/board/``, autoescape): the functions here
prepare plain values and the templates escape every value from the data (zone names, owners,
check titles, risk text); CSS classes derived from data are whitelisted (RAG colour, severity).
Numbers are formatted here, never taken as text from the data. The chart is drawn in the reports'
one chart style (:mod:`toolkit.reports.charts`): a deterministic SVG (fixed hash salt, no date,
text kept as text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.reports import charts, templates
from toolkit.reports.board import (
    DUE_DAYS,
    PILLARS,
    RAG_RULES,
    STREAMED_OPEN,
    BoardView,
    fmt_change,
    kpi_rows,
)
from toolkit.reports.html import facts_table_html, notice_html, pct, plural

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.reports.html import ReportInfo
    from toolkit.store.runs import Run

_RAG = {"red": "Red", "amber": "Amber", "green": "Green"}
_SEV = ("critical", "high", "medium", "low", "info")
_SEV_COLOURS = {"critical": "#7f0000", "high": "#c62828", "medium": "#e0a100", "low": "#8aa1b4"}
_PILLAR_WORDS = {
    "technical": "Technical — are the zones signed and validating?",
    "operational": "Operational — are keys and changes run under control?",
    "governance": "Governance — are owners, policy and risk decisions in place?",
}


def _rag_class(rag: Any) -> str:
    return f"rag-{rag}" if rag in _RAG else "rag-unknown"


def _sev_class(sev: Any) -> str:
    return f"sev-{sev}" if sev in _SEV else "sev-info"


def executive_summary_html(h: Mapping[str, Any], view: BoardView) -> str:
    """The executive summary in plain words: what DNSSEC is for, where we stand, what changed,
    what is broken, what the board is asked."""
    n = int(h["zones"])
    s = [
        "DNSSEC is the digital seal that lets the internet check that our domain names "
        "(web sites, e-mail, APIs) really lead to us and have not been forged.",
    ]
    if n:
        s.append(
            f"Of our {plural(n, 'domain')} checked, {int(h['secure']):,} "
            f"({pct(h['secure_pct'])}) carry a seal that validates end to end."
        )
    if view.current is not None:
        c = view.current
        s.append(
            f"Our DNSSEC maturity is level {c.level} of 5, with a score of {c.overall:.1f} out of "
            f"100 — {fmt_change(view.change, view.previous_period)}."
        )
    else:
        s.append("A maturity score is not evidenced for this run: " + view.reason + ".")
    if int(h.get("bogus", 0)):
        s.append(
            f"{plural(int(h['bogus']), 'domain')} {'is' if h['bogus'] == 1 else 'are'} broken "
            "right now: customers whose provider checks the seal cannot reach "
            f"{'it' if h['bogus'] == 1 else 'them'}."
        )
    if view.available:
        k = len(view.decisions)
        if k:
            s.append(
                f"The board is asked to take {plural(k, 'decision')} (below) to close the "
                "largest gaps."
            )
        else:
            s.append("No decision is needed from the board this quarter.")
    return str(templates.render("board/exec_summary.html.j2", paragraphs=s))


def maturity_html(view: BoardView) -> str:
    """Maturity level, score and change since last quarter, and the three pillar scores as
    bars; "not evidenced" when no assessment could be made."""
    if view.current is None:
        return notice_html("Maturity: not evidenced", view.reason.capitalize() + ".")
    c = view.current
    change = fmt_change(view.change, view.previous_period)
    arrow = ""
    if view.change is not None:
        arrow = "▲ " if view.change > 0 else ("▼ " if view.change < 0 else "")
    prev = (
        f"{view.previous.period}: {view.previous.overall:.1f}, level {view.previous.level}"
        if view.previous
        else "no earlier quarter assessed"
    )
    pillars = [
        {
            "name": p.capitalize(),
            "words": _PILLAR_WORDS[p].split(" — ")[1],
            "width": f"{_width(c.pillars.get(p)):.1f}",
            "score": _pillar_value(c.pillars.get(p)),
        }
        for p in PILLARS
    ]
    return str(
        templates.render(
            "board/maturity.html.j2",
            level=c.level,
            gates=", ".join(c.gates),
            score=f"{c.overall:.1f}",
            as_of=c.at.date().isoformat(),
            arrow=arrow,
            change=_signed(view.change),
            change_words=change,
            previous=prev,
            pillars=pillars,
        )
    )


def _width(v: float | None) -> float:
    return 0.0 if v is None else max(0.0, min(100.0, float(v)))


def _pillar_value(v: float | None) -> str:
    return "not evidenced" if v is None else f"{v:.1f}"


def _signed(change: float | None) -> str:
    return "—" if change is None else f"{change:+.1f}"


def _all_clear(text: str) -> str:
    return str(templates.render("board/all_clear.html.j2", text=text))


def decisions_html(view: BoardView) -> str:
    """The decisions the board is asked to take, each with the gap behind it."""
    if not view.available:
        return notice_html(
            "Decisions: not evidenced",
            "Without the governance assessment the report cannot derive the decisions: "
            + view.reason
            + ".",
        )
    if not view.decisions:
        return _all_clear("No decision is needed: no gap calls for the board.")
    decisions = [
        {"cls": _sev_class(d["severity"]), "ask": d["ask"], "why": d["why"], "checks": d["checks"]}
        for d in view.decisions
    ]
    return str(templates.render("board/decisions.html.j2", decisions=decisions))


def risks_table_html(view: BoardView) -> str:
    """The top risks with owner and due date; notes how many there are in all."""
    if not view.available:
        return notice_html(
            "Top risks: not evidenced",
            "The risks come from the governance assessment, which could not be made: "
            + view.reason
            + ".",
        )
    if view.risks.empty:
        return _all_clear("No open risk: every assessed check passes.")
    risks = [
        {**r, "cls": _sev_class(r["severity"]), "due": r["due"].isoformat()}
        for r in view.risks.to_dict("records")
    ]
    more = ""
    if view.open_risks > len(view.risks):
        more = (
            f"{len(view.risks)} of {plural(view.open_risks, 'open risk')} "
            "shown; the audit report lists every one with its evidence."
        )
    due = ", ".join(f"{s} {d} days" for s, d in DUE_DAYS.items() if s != "info")
    return str(templates.render("board/risks_table.html.j2", risks=risks, more=more, due=due))


_RAG_ORDER = {"red": 0, "amber": 1, "green": 2}


def rag_table_html(view: BoardView, limit: int = 6) -> str:
    """Tier-1 zones, red / amber / green, with the reason; the rules below the table.

    Red first, then amber, then green; past ``limit`` rows the rest is counted, not listed
    (the audit report lists every zone), so the board report keeps to its pages."""
    t = view.tier1
    if t.empty:
        return notice_html("Tier-1 zones: none", "The inventory names no tier-1 zone.", kind="info")
    counts = t["rag"].value_counts()
    summary = ", ".join(f"{int(counts.get(k, 0)):,} {_RAG[k].lower()}" for k in _RAG_ORDER)
    t = t.assign(_order=t["rag"].map(_RAG_ORDER).fillna(3)).sort_values(["_order", "zone"])
    shown = t.head(limit)
    more = (
        f"{len(shown)} of {len(t):,} tier-1 zones shown, worst first ({summary}); the audit "
        "report lists every zone. "
        if len(t) > len(shown)
        else ""
    )
    rows = []
    for r in shown.to_dict("records"):
        score = (
            "not evidenced"
            if r["score"] is None or pd.isna(r["score"])
            else f"{float(r['score']):.1f} ({int(r['level'])})"
        )
        rows.append(
            {
                "cls": _rag_class(r["rag"]),
                "rag": _RAG.get(r["rag"], "?"),
                "zone": r["zone_unicode"] if str(templates.text(r["zone_unicode"])) else r["zone"],
                "owner": str(templates.text(r["owner"])),
                "status": r["status"],
                "score": score,
                "open": "not evidenced"
                if r["open"] is None or pd.isna(r["open"])
                else str(r["open"]),
                "why": r["why"],
            }
        )
    rules = "; ".join(f"{_RAG[k]}: {v}" for k, v in RAG_RULES)
    extra = "" if view.available else " Without an assessment the rating rests on the status alone."
    return str(
        templates.render("board/rag_table.html.j2", rows=rows, note=f"{more}{rules}.{extra}")
    )


STREAMED_NOTE = (
    "* open findings of a run above the streaming threshold: counted over its streamed "
    "assessment (as of that assessment, history-based checks included), not judged on the "
    "run alone"
)
"""The note of a KPI point whose open findings were counted differently (see
:data:`toolkit.reports.board.STREAMED_OPEN`), in the sources; the chart marks the point's
quarter with ``*`` and :data:`STREAMED_MARK`."""

STREAMED_MARK = "* open findings counted over the streamed assessment (see the sources)"


def _any_streamed(kpis: pd.DataFrame) -> bool:
    return STREAMED_OPEN in kpis and bool(kpis[STREAMED_OPEN].fillna(False).astype(bool).any())


def kpi_chart_svg(kpis: pd.DataFrame, levels: Sequence[float] = (40, 60, 75, 90)) -> str:
    """Four quarterly panels as one deterministic SVG: % secure and % signed; minimum days of
    signature validity left; open findings by severity; maturity score (assessed quarters)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = list(kpi_rows(kpis))
    streamed = [bool(r.get(STREAMED_OPEN)) for r in rows]
    labels = [str(r["period"]) for r in rows]
    x = list(range(len(rows)))
    with charts.chart_style():
        fig = Figure(figsize=(7.2, 4.3))
        axes = fig.subplots(2, 2)
        a1, a2, a3, a4 = axes[0][0], axes[0][1], axes[1][0], axes[1][1]

        def series(key: str) -> list[float | None]:
            return [None if r.get(key) is None else float(r[key]) for r in rows]

        def plot(ax: Any, key: str, colour: str, label: str) -> None:
            ys = series(key)
            pts = [(i, y) for i, y in zip(x, ys, strict=True) if y is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colour,
                        label=label, linewidth=1.8, markersize=4)  # fmt: skip
                last = pts[-1]
                ax.annotate(f"{last[1]:.1f}" if "pct" in key or "score" in key else
                            f"{last[1]:.0f}", last, textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=8, color=colour)  # fmt: skip

        plot(a1, "secure_pct", "#2e7d32", "% secure")
        plot(a1, "signed_pct", "#0d2a47", "% signed")
        a1.set_ylim(0, 108)
        a1.set_title("Zones secure and signed (%)", fontsize=9, loc="left")
        a1.legend(frameon=False, fontsize=7.5, loc="lower right")

        plot(a2, "min_days_left", "#0d2a47", "min days")
        a2.axhline(0, color="#c62828", linewidth=1)
        a2.set_title("Fewest days of signature validity left", fontsize=9, loc="left")
        a2.text(0.01, 0.02, "below the red line: signatures expired", transform=a2.transAxes,
                fontsize=7, color="#c62828")  # fmt: skip

        bottom = [0] * len(rows)
        for sev in ("critical", "high", "medium", "low"):
            vals = [int(r.get(f"open_{sev}") or 0) for r in rows]
            a3.bar(x, vals, bottom=bottom, color=_SEV_COLOURS[sev], label=sev, width=0.6)
            bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
        a3.yaxis.set_major_locator(MaxNLocator(integer=True))
        a3.set_title("Open technical findings by severity", fontsize=9, loc="left")
        a3.legend(frameon=False, fontsize=7, ncol=4, loc="upper left")
        a3.set_ylim(0, max(max(bottom, default=0) * 1.35, 1))
        if any(streamed):
            a3.text(0.0, -0.3, STREAMED_MARK, transform=a3.transAxes, fontsize=6.5, color="#555")

        edges = [0.0, *levels, 100.0]
        for i in range(5):
            a4.axhspan(edges[i], edges[i + 1], color="#0d2a47", alpha=0.03 + 0.03 * i, lw=0)
            a4.text(len(rows) - 0.5 if rows else 0.5, (edges[i] + edges[i + 1]) / 2,
                    f"L{i + 1}", fontsize=7, color="#555", va="center", ha="right")  # fmt: skip
        plot(a4, "maturity_score", "#6a1b9a", "score")
        a4.set_ylim(0, 100)
        a4.set_title("Maturity score (assessed quarters)", fontsize=9, loc="left")

        for ax in (a1, a2, a3, a4):
            ax.set_xticks(x)
            ax.set_xticklabels(
                [f"{p}*" if s and ax is a3 else p for p, s in zip(labels, streamed, strict=True)],
                fontsize=7.5,
            )
            ax.set_xlim(-0.6, max(len(rows) - 0.4, 0.6))
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.grid(axis="y", color="#e3e3e3", linewidth=0.6)
            ax.set_axisbelow(True)
            if not rows:
                ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout(h_pad=1.6, w_pad=1.6)
        return charts.svg_of(fig)


def kpi_chart_alt(kpis: pd.DataFrame) -> str:
    """The KPI chart's figures as text (the image's alternative text)."""
    parts = []
    for r in kpi_rows(kpis):
        bits = [
            f"secure {r['secure_pct']}%" if r.get("secure_pct") is not None else "",
            f"signed {r['signed_pct']}%" if r.get("signed_pct") is not None else "",
            f"min days {r['min_days_left']:.0f}" if r.get("min_days_left") is not None else "",
            "open findings "
            + "/".join(str(int(r.get(f"open_{s}") or 0)) for s in ("critical", "high", "medium"))
            + (" (streamed count)" if r.get(STREAMED_OPEN) else ""),
            f"maturity {r['maturity_score']:.1f}" if r.get("maturity_score") is not None else "",
        ]
        parts.append(f"{r['period']}: " + ", ".join(b for b in bits if b))
    return "KPIs per quarter. " + ("; ".join(parts) or "no runs") + "."


def sources_html(view: BoardView, run: Run, info: ReportInfo) -> str:
    """Where these numbers come from: the run, the assessment, the history, and how to
    reproduce every score."""
    facts: list[tuple[str, str]] = [
        (
            "Headline figures",
            f"run {run.run_id} (immutable, hashed): its zones frame (status, signing, risk tier)",
        ),
    ]
    if view.available and view.current is not None:
        facts += [
            (
                "Maturity and pillars",
                f"the assessment of run {view.current.run_id} as of "
                f"{view.current.at:%Y-%m-%d %H:%M} UTC: every check of every pillar over the "
                "run, the portfolio's records and the history",
            ),
            (
                "Last quarter",
                (
                    f"the same assessment of {view.previous.run_id}, the last run of "
                    f"{view.previous.period}, as of its own time"
                )
                if view.previous
                else "first quarter measured: no earlier quarter's run to assess",
            ),
            (
                "Risks, RAG, decisions",
                "failed findings of that assessment, by check; owners from the inventory",
            ),
            (
                "Reproduce",
                f"dnssec-audit assess --run {view.current.run_id} --format json; "
                "Assessment.maturity.explain() lists the indicators and findings that add up "
                "to each score exactly",
            ),
        ]
    else:
        facts.append(("Maturity, risks, decisions", f"not evidenced: {view.reason}"))
    facts.append(
        (
            "Trends",
            f"each quarter's last run ({plural(len(view.kpis), 'quarter')}); open findings: the "
            "technical findings stored with the run; maturity: assessed quarters only"
            + (f". {STREAMED_NOTE}" if _any_streamed(view.kpis) else ""),
        )
    )
    m = run.manifest
    checks = run.frames.get("resolver_checks")
    labels = sorted({str(x) for x in checks["resolver"].dropna()}) if checks is not None else []
    facts.append(
        (
            "Evidence",
            f"{plural(len(m.get('files', {})), 'file')} of run {run.run_id} (collected "
            f"{m.get('created_at', '?')[:16].replace('T', ' ')} UTC with "
            f"{m.get('tool', 'the toolkit')} {m.get('tool_version', '?')}), each checked against "
            "the SHA-256 in the run's manifest before this report was made; "
            + (
                f"validation cross-checked with {', '.join(labels)}"
                if labels
                else "no validating resolver recorded in the run"
            ),
        )
    )
    return facts_table_html(facts, cls="traceability sources")
