"""The notebook side of the reports: the HTML fragments a report notebook displays and what
they say about the report (:class:`ReportInfo`).

Every report notebook of ``notebooks/`` (board, audit, zone, dashboard, policy statement,
runbook) builds its output from these pieces: the title block or cover page, KPI tiles and the
headline, section and table-of-contents headings, figures, notices, the action table, the method
note. :class:`ReportInfo` (filled by :func:`report_info`) is what the title block, the running
header and footer and the PDF metadata say; a notebook hands it to the renderer as output
metadata under :data:`REPORT_META_KEY`. :func:`resolve_workspace` and :func:`find_zone` resolve
a notebook's inputs (the renderer checks the zone with the latter before it starts a kernel).

The renderer itself (papermill, nbconvert, WeasyPrint) is :mod:`toolkit.reports.render`; it fills
the
table of contents with :func:`fill_toc`. The fragments of one report live beside it
(:mod:`toolkit.reports.board_html`, :mod:`toolkit.reports.audit_html`, :mod:`toolkit.reports.zone`,
...).

Every value that comes from the data — zone names, owners, reason text, resolver labels — is
escaped here: it is untrusted and must appear as text, never as markup. CSS classes derived from
data are whitelisted.

This module imports no heavy library (papermill, nbconvert, WeasyPrint, matplotlib), so that a
notebook importing it for its fragments stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from markupsafe import Markup

from toolkit import __version__
from toolkit.assessment.headline import STATUSES
from toolkit.errors import ReportError
from toolkit.reports import templates

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.store.runs import Run

#: Titles of the reports and documents (title block or cover, running header, PDF metadata).
BOARD_TITLE = "DNSSEC status — board report"
AUDIT_TITLE = "DNSSEC audit report"
ZONE_TITLE = "DNSSEC zone report"
POLICY_TITLE = "DNSSEC Policy and Practice Statement"
RUNBOOK_TITLE = "DNSSEC incident runbook"
#: Placeholder a notebook displays where the table of contents goes; the renderer fills it.
TOC_PLACEHOLDER = '<nav class="toc" id="toc"></nav>'
#: Key of the output metadata a report notebook attaches to its title block; the renderer reads
#: it back for the HTML <title>/<meta> and the PDF metadata.
REPORT_META_KEY = "dnssec_report"

#: Display words and chart colours of the statuses, in the fixed order of
#: toolkit.assessment.headline.
STATUS_LABELS = {
    "secure": "Secure",
    "insecure": "Insecure",
    "bogus": "Bogus",
    "indeterminate": "Indeterminate",
}
STATUS_COLOURS = {
    "secure": "#2e7d32",
    "insecure": "#e0a100",
    "bogus": "#c62828",
    "indeterminate": "#7e57c2",
}


def _e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute; null becomes the empty string."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def status_class(status: Any) -> str:
    """CSS class of a status: ``status-<status>`` for a known status, else ``status-unknown``
    (data never becomes a class name unchecked)."""
    return (
        f"status-{status}" if isinstance(status, str) and status in STATUSES else "status-unknown"
    )


def pct(value: float) -> str:
    """A percentage as the headline shows it: one decimal and a % sign (``70.0%``)."""
    return f"{value:.1f}%"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``1 zone``, ``2 zones``, ``1,502 zones``."""
    return f"{n:,} {singular if n == 1 else (plural_form or singular + 's')}"


def quarter(day: date | datetime) -> str:
    """The reporting period of a date: ``2026Q4``."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class ReportInfo:
    """What the title block or cover, the running header/footer and the PDF metadata say.

    ``report_id`` identifies the report: the same kind, run, as-of date, period, organisation,
    classification and framework always give the same id (see :func:`report_id`).
    """

    title: str
    organisation: str
    period: str
    as_of: str
    run_id: str
    classification: str
    kind: str = "board"
    framework: str = ""
    report_id: str = ""

    def metadata(self) -> dict[str, str]:
        """The output metadata the renderer reads back (key :data:`REPORT_META_KEY`)."""
        subject = f"{self.title}, {self.period}, as of {self.as_of}, run {self.run_id}"
        if self.report_id:
            subject += f", report {self.report_id}"
        keywords = ["DNSSEC", self.classification]
        if self.framework:
            keywords.append(self.framework)
        return {
            "title": f"{self.title} — {self.organisation} — {self.period}",
            "author": self.organisation,
            "description": subject,
            "keywords": ", ".join(keywords),
            "created": self.as_of,
            "modified": self.as_of,
            "period": self.period,
            "run_id": self.run_id,
            "classification": self.classification,
            "report_id": self.report_id,
            "kind": self.kind,
            "framework": self.framework,
        }


def report_id(
    kind: str,
    run_id: str,
    *,
    as_of: str,
    period: str,
    organisation: str = "",
    classification: str = "",
    framework: str = "",
) -> str:
    """A report's identifier, e.g. ``DNSSEC-AUDIT-2026Q4-5F1C09A2``: the kind, the period
    (letters and digits only) and 8 hex digits of the SHA-256 of everything that makes the
    report what it is. Deterministic: the same inputs always give the same id."""
    key = "\x1f".join((kind, run_id, as_of, period, organisation, classification, framework))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8].upper()
    label = re.sub(r"[^A-Za-z0-9]", "", period)[:12] or "NOPERIOD"
    return f"DNSSEC-{re.sub(r'[^A-Za-z0-9]', '', kind).upper()}-{label}-{digest}"


def report_info(
    run: Run,
    *,
    title: str = BOARD_TITLE,
    organisation: str = "",
    period: str = "",
    as_of: str = "",
    classification: str = "INTERNAL",
    kind: str = "board",
    framework: str = "",
) -> ReportInfo:
    """Fill the defaults from the run: ``as_of`` = the run's UTC date, ``period`` = its quarter;
    ``report_id`` from all of them (:func:`report_id`).

    Raises ValueError if ``as_of`` is not an ISO date.
    """
    created = run.created_at.astimezone(UTC)
    day = date.fromisoformat(as_of) if as_of else created.date()
    info = ReportInfo(
        title=title,
        organisation=organisation.strip() or "—",
        period=period.strip() or quarter(day),
        as_of=day.isoformat(),
        run_id=run.run_id,
        classification=classification.strip().upper() or "INTERNAL",
        kind=kind,
        framework=framework.strip(),
    )
    rid = report_id(
        kind,
        info.run_id,
        as_of=info.as_of,
        period=info.period,
        organisation=info.organisation,
        classification=info.classification,
        framework=info.framework,
    )
    return replace(info, report_id=rid)


def title_block_html(info: ReportInfo) -> str:
    """The report's first block. Its elements feed the running header and footer."""
    return str(templates.render("common/title_block.html.j2", info=info))


def headline_html(h: Mapping[str, Any]) -> str:
    """KPI tiles and the headline in plain words, from
    :func:`toolkit.assessment.headline.headline`."""
    n = int(h["zones"])
    tiles = kpi_tiles_html(
        [
            (f"{n:,}", "zones checked", "every zone of the inventory", "tile-neutral"),
            (
                pct(h["signed_pct"]),
                "signed",
                f"{int(h['signed']):,} of {n:,} serve DNSSEC keys",
                "tile-neutral",
            ),
            (
                pct(h["secure_pct"]),
                "secure",
                f"{int(h['secure']):,} of {n:,} have a validated chain of trust",
                "tile-good" if n and h["secure"] == n else "tile-neutral",
            ),
        ]
    )
    if n == 0:
        words = "This run holds no zones: there is nothing to report."
        return str(
            templates.render(
                "common/headline.html.j2",
                tiles=tiles,
                words=words,
                counts=[],
                needing=0,
                needing_words="",
            )
        )
    needing = int(h["needing_action"])
    secure, others = int(h["secure"]), n - int(h["secure"])
    sentence = (
        f"{plural(n, 'zone')} checked: {pct(h['signed_pct'])} are signed with DNSSEC and "
        f"{pct(h['secure_pct'])} are secure — their chain of trust validates from the DNS root "
        "down to the zone."
    )
    if others == 0:
        sentence += " All of them are secure."
    else:
        bogus, insecure, unknown = (int(h[k]) for k in ("bogus", "insecure", "indeterminate"))
        parts = [
            f"{bogus:,} {_is(bogus)} bogus (validation fails, so users behind validating "
            f"resolvers cannot reach {'it' if bogus == 1 else 'them'})",
            f"{insecure:,} {_is(insecure)} insecure (not protected by DNSSEC)",
            f"{unknown:,} {_is(unknown)} indeterminate (could not be checked)",
        ]
        lead = "Of the other zone" if others == 1 else f"Of the other {others:,} zones"
        if secure == 0:
            lead = "Of these"
        sentence += f" {lead}, {parts[0]}, {parts[1]} and {parts[2]}."
    counts = [
        {"cls": status_class(s), "n": f"{int(h[s]):,}", "label": STATUS_LABELS[s]} for s in STATUSES
    ]
    return str(
        templates.render(
            "common/headline.html.j2",
            tiles=tiles,
            words=sentence,
            counts=counts,
            needing=needing,
            needing_words=plural(needing, "zone"),
        )
    )


def kpi_tiles_html(tiles: Sequence[tuple[str, str, str, str]]) -> Markup:
    """A row of KPI tiles, each (value, label, note, CSS class from the code)."""
    return templates.render(
        "common/kpi_tiles.html.j2",
        tiles=[{"value": v, "label": lb, "note": nt, "cls": c} for v, lb, nt, c in tiles],
    )


def _is(n: int) -> str:
    return "is" if n == 1 else "are"


def section_html(title: str, intro: str = "", cls: str = "") -> str:
    """A section heading with an optional introductory sentence (both escaped)."""
    return str(templates.render("common/section.html.j2", title=title, intro=intro, cls=cls))


def escape(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute; null becomes the empty string.
    Every fragment builder of the reports passes data through this."""
    return _e(value)


_ANCHOR = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,80}$")


def anchor_id(prefix: str, key: Any) -> str:
    """A safe ``id`` for an anchor derived from data: ``prefix`` (letters, digits, ``-``) and
    10 hex digits of the SHA-256 of ``key``. The same key always gives the same id."""
    if not _ANCHOR.match(prefix):
        raise ValueError(f"anchor prefix {prefix!r}: expected letters, digits, '-' or '_'")
    return f"{prefix}-{hashlib.sha256(str(key).encode('utf-8')).hexdigest()[:10]}"


def heading_html(
    text: str, *, level: int = 2, anchor: str = "", toc: bool = False, cls: str = ""
) -> str:
    """A heading (h2 to h4) with the escaped ``text``. With ``toc`` (which needs an ``anchor``)
    it gets an entry in the table of contents (h2: first level, h3: second level); every
    heading gets a PDF bookmark at its level (the print stylesheet)."""
    if level not in (2, 3, 4):
        raise ValueError(f"heading level {level}: expected 2, 3 or 4")
    if anchor and not _ANCHOR.match(anchor):
        raise ValueError(f"anchor {anchor!r}: expected letters, digits, '-' or '_'")
    if toc and (not anchor or level == 4):
        raise ValueError("a table-of-contents entry needs an anchor and level 2 or 3")
    return str(
        templates.render(
            "common/heading.html.j2", text=text, level=level, anchor=anchor, toc=toc, cls=cls
        )
    )


def toc_placeholder_html(title: str = "Contents") -> str:
    """The table of contents: a heading and :data:`TOC_PLACEHOLDER`, which the renderer
    (:func:`fill_toc`) fills with every heading made with ``toc=True`` and its page number."""
    return str(
        templates.render(
            "common/toc_placeholder.html.j2", title=title, placeholder=Markup(TOC_PLACEHOLDER)
        )
    )


class _TocScanner(HTMLParser):
    """Collects (level, id, text) of h2/h3 elements carrying ``id`` and ``data-toc``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[tuple[int, str, str]] = []
        self._current: tuple[str, int, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3") and self._current is None:
            a = dict(attrs)
            level, anchor = a.get("data-toc"), a.get("id")
            if level in ("1", "2") and anchor and _ANCHOR.match(anchor):
                self._current = (tag, int(level), anchor)
                self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and tag == self._current[0]:
            _, level, anchor = self._current
            self.entries.append((level, anchor, " ".join("".join(self._text).split())))
            self._current = None


def fill_toc(html_text: str) -> str:
    """Fill the first :data:`TOC_PLACEHOLDER` of ``html_text`` with links to every heading
    carrying ``data-toc`` (see :func:`heading_html`); the print stylesheet adds dot leaders and
    page numbers (``target-counter``). HTML without the placeholder is returned unchanged."""
    where = html_text.find(TOC_PLACEHOLDER)
    if where < 0:
        return html_text
    scanner = _TocScanner()
    scanner.feed(html_text[where + len(TOC_PLACEHOLDER) :])
    scanner.close()
    nav = str(templates.render("common/toc.html.j2", entries=scanner.entries))
    return html_text[:where] + nav + html_text[where + len(TOC_PLACEHOLDER) :]


def cover_html(info: ReportInfo, facts: Sequence[tuple[str, str]] = (), note: str = "") -> str:
    """A cover page: classification, title, organisation, period, as-of date, report id, run,
    then ``facts`` (label, value) and a closing ``note``, all escaped. Its elements feed the
    running header and footer (title, period, classification, report id)."""
    rows = [
        ("Period", info.period, "report-period"),
        ("As of", info.as_of, ""),
        ("Report id", info.report_id, "report-id"),
        ("Run", info.run_id, "run-id"),
    ]
    rows += [(label, value, "") for label, value in facts]
    return str(templates.render("common/cover.html.j2", info=info, rows=rows, note=note))


def figure_html(svg: str, alt: str, *, title: str = "", note: str = "") -> str:
    """A vector figure kept on one page with its heading (h3, no table-of-contents entry) and
    note: the SVG embedded as a ``data:`` image (the renderer fetches nothing else), ``alt``
    its text alternative. All text is escaped."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    heading = Markup(heading_html(title, level=3)) if title else ""
    return str(
        templates.render(
            "common/figure.html.j2", heading=heading, title=title, note=note, data=data, alt=alt
        )
    )


def notice_html(title: str, text: str, *, kind: str = "not-evidenced") -> str:
    """A boxed notice, e.g. "Not evidenced: ..." where a report has no evidence to show (it
    says so rather than inventing). ``kind``: not-evidenced, info or warning."""
    if kind not in ("not-evidenced", "info", "warning"):
        raise ValueError(f"notice kind {kind!r}")
    return str(templates.render("common/notice.html.j2", title=title, text=text, kind=kind))


def action_table_html(groups: pd.DataFrame, names: int = 2) -> str:
    """The zones needing action, grouped (:func:`toolkit.assessment.headline.action_groups`), as an
    HTML
    table: one row per problem, naming up to ``names`` of its zones (a single zone with its
    A-label under an IDN's U-label) and how many more."""
    rows = []
    for row in groups.itertuples(index=False):
        r: dict[str, Any] = {
            "cls": status_class(row.status),
            "single": row.zones == 1,
            "zones": row.zones,
            "label": STATUS_LABELS.get(row.status, "Unknown"),
            "action": row.action,
            "why": row.why,
            "tier": _plain(row.risk_tier) or "—",
        }
        if row.zones == 1:
            r["shown"], r["alabel"] = (_plain(n) for n in row.zone_names[0])
        else:
            more = row.zones - min(row.zones, names)
            r["listed"] = ", ".join(_plain(u) for u, _ in row.zone_names[:names]) + (
                f" and {more} more" if more else ""
            )
        owners = [_plain(o) for o in row.owners]
        r["owner"] = ", ".join(owners[:2]) + (
            f" +{len(owners) - 2} more" if len(owners) > 2 else ""
        )
        rows.append(r)
    return str(templates.render("common/action_table.html.j2", rows=rows))


def _plain(value: Any) -> str:
    """A value as plain text for a template (escaped there); null becomes the empty string."""
    return str(templates.text(value))


def method_note_html(run: Run, info: ReportInfo) -> str:
    """Traceability: which run and which tool versions the report stands on."""
    m = run.manifest
    files = m.get("files", {})
    checks = run.frames.get("resolver_checks")
    if checks is not None and not checks.empty:
        labels = sorted({str(x) for x in checks["resolver"].dropna()})
        resolvers = (
            f"Cross-checked with {plural(len(labels), 'validating resolver')}: {', '.join(labels)}."
        )
    else:
        resolvers = "No cross-check with validating resolvers is recorded in this run."
    facts = [
        ("Run", m.get("run_id", info.run_id)),
        ("Collected at", _utc(m.get("created_at"))),
        (
            "Collected with",
            f"{m.get('tool', 'dnssec-governance-toolkit')} {m.get('tool_version', '?')}",
        ),
        ("Report made with", f"dnssec-governance-toolkit {__version__}"),
        (
            "Evidence",
            f"{plural(len(files), 'file')} of the run, each checked against the SHA-256 "
            "recorded in the run's manifest before this report was produced.",
        ),
        ("Resolvers", resolvers),
    ]
    return facts_table_html(facts, cls="traceability")


def facts_table_html(facts: Sequence[tuple[str, Any]], *, cls: str) -> str:
    """Label/value rows as a two-column table (``<th>`` label, ``<td>`` value), both escaped;
    ``cls`` is the table's CSS class (from the code, never from data)."""
    return str(templates.render("common/facts_table.html.j2", facts=facts, cls=cls))


def _utc(iso: Any) -> str:
    try:
        return datetime.fromisoformat(str(iso)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(iso or "")


# -- notebook inputs ---------------------------------------------------------------------------


def resolve_workspace(workspace: Path | str, search: Iterable[Path] = ()) -> Path:
    """An absolute workspace path. A relative path is taken from the current directory, or
    from the first of ``search`` where it exists (a notebook opened in ``notebooks/`` finds
    ``workspace`` of the repository)."""
    path = Path(workspace).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    for base in search:
        if (base / path).exists():
            return (base / path).resolve()
    return path.resolve()


def find_zone(zones: pd.DataFrame, zone: str) -> str:
    """The zone of ``zones`` named ``zone`` (A-label or U-label, any case, final dot or not);
    raises ReportError naming a few zones the run does hold."""
    want = str(zone or "").strip().rstrip(".").casefold()
    if not want:
        raise ReportError("the zone report needs a zone (--zone)")
    for a, u in zip(zones["zone"], zones["zone_unicode"].fillna(zones["zone"]), strict=True):
        if want in (str(a).rstrip(".").casefold(), str(u).rstrip(".").casefold()):
            return str(a)
    held = sorted(str(z) for z in zones["zone"])
    some = ", ".join(held[:8]) + (f" and {len(held) - 8} more" if len(held) > 8 else "")
    raise ReportError(f"zone {zone!r} is not in the run (it holds: {some or 'no zones'})")
