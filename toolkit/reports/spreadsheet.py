"""CSV for people: text a spreadsheet would run as a formula is defused first.

Every CSV the toolkit writes for people (the evidence pack's frames, the asset-register export,
``--format csv`` on the command line) goes through :func:`defuse_formulas`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for CSV output: text cells a spreadsheet would run as a formula
    (starting with ``= + - @``, a tab or a carriage return) prefixed with ``'``. The one home of
    this rule: every CSV the toolkit writes for people goes through it."""
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.StringDtype):  # vectorised: millions of cells at scale
            risky = values.str.startswith(_FORMULA_START).fillna(False).astype(bool)
            if risky.any():
                out[col] = values.where(~risky, "'" + values)
        elif values.dtype == object:
            out[col] = values.map(_defuse)
    return out


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
