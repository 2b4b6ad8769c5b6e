"""The reports' HTML as Jinja2 templates, with autoescape.

Every HTML fragment a report shows (tables, cards, notices, the cover) is a template in
``report_templates/fragments/``; the figure modules hand them plain values and frames, never
markup. Autoescape is on for every template, so zone contents, TXT records and inventory text are
escaped wherever they land; a value is trusted markup only if its producer wraps it in
:class:`markupsafe.Markup` (the SVG of a chart drawn by matplotlib, a fragment rendered by
another template).

Templates are found the way the notebooks are (:func:`toolkit.reports.render.templates_dir`), in a
checkout and in a wheel alike. Undefined names are errors (``StrictUndefined``): a template that
names a value its caller did not pass fails loudly instead of printing nothing.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from toolkit.resources import shipped

#: Sub-folder of the report templates that holds the HTML fragments.
FRAGMENTS = "fragments"
#: Same override as :data:`toolkit.reports.render.TEMPLATES_ENV` (kept in step by a test).
TEMPLATES_ENV = "DNSSEC_AUDIT_REPORT_TEMPLATES"


def _null(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def text(value: Any) -> Any:
    """The ``text`` filter: null (None, NA, NaN) becomes the empty string; anything else is
    returned as is, for autoescape to escape."""
    return "" if _null(value) else value


@functools.lru_cache(maxsize=4)
def _environment(folder: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = text
    return env


def environment() -> Environment:
    """The one Jinja2 environment of the report fragments (cached per templates folder)."""
    root = Path(os.environ.get(TEMPLATES_ENV) or shipped("report_templates"))
    return _environment(str(root / FRAGMENTS))


def render(name: str, **context: Any) -> Markup:
    """Render the fragment ``name`` (e.g. ``"board/kpi_table.html.j2"``) with ``context``; the
    result is markup, safe to pass into another template."""
    return Markup(environment().get_template(name).render(**context))
