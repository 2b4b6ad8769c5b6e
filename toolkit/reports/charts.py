"""The reports' chart style: one library (matplotlib), one look, deterministic SVG.

Every chart of the reports is drawn by matplotlib inside :func:`chart_style` and written by
:func:`svg_of`: text stays text in DejaVu Sans (``svg.fonttype`` none), the SVG ids come from a
fixed hash salt and the file carries no date, so the same frames give byte-identical SVG on
every render. :func:`inline_svg` turns such a file into an ``<svg>`` element for a page that
embeds it inline (the dashboard), without the XML prolog, the metadata block or the namespace
URLs.

matplotlib is imported inside the functions: a notebook that only needs the HTML fragments of
:mod:`toolkit.reports.html` does not pay for it.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: matplotlib settings of every report chart (the board's and the audit report's too).
CHART_RC: dict[str, Any] = {
    "svg.hashsalt": "dnssec-audit",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    # labels are data (zone names, resolver labels): text, never mathtext between "$" signs
    "text.parse_math": False,
}
#: Gridline colour and width of the bar charts (the audit report's results chart, the dashboard's).
GRID = {"color": "#dddddd", "linewidth": 0.6}


@contextlib.contextmanager
def chart_style() -> Iterator[None]:
    """Draw (and save) a chart inside this context to get the reports' style."""
    import matplotlib

    with matplotlib.rc_context(CHART_RC):  # type: ignore[arg-type]
        yield


def svg_of(fig: Figure) -> str:
    """The figure as SVG text with no date in it (call inside :func:`chart_style`, where the
    hash salt is set, so that the ids are the same on every render)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


_PROLOG = re.compile(r"\A.*?(?=<svg[\s>])", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')
_ROOT = re.compile(r"<svg\s")


def inline_svg(svg: str, title: str, *, cls: str = "chart") -> Markup:
    """``svg`` (from :func:`svg_of`) as an inline ``<svg>`` element of an HTML page: the XML
    prolog and doctype, the metadata block and the namespace declarations removed (an HTML
    parser puts ``<svg>`` in the SVG namespace itself; nothing in it names a URL), the root given
    ``class``, ``role="img"`` and ``title`` (escaped) as its accessible name. Raises ValueError
    when ``svg`` has no ``<svg>`` element."""
    body, n = _PROLOG.subn("", svg, count=1)
    if not n:
        raise ValueError("not an SVG document: no <svg> element")
    body = _NAMESPACES.sub("", _METADATA.sub("", body, count=1))
    head = f'<svg class="{escape(cls)}" role="img" '
    body = _ROOT.sub(head, body, count=1)
    close = body.index(">", len(head)) + 1
    return Markup(body[:close] + f"<title>{escape(title)}</title>" + body[close:].rstrip())
