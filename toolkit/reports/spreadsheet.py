"""CSV for people: text a spreadsheet would run as a formula is defused first.

Every CSV the toolkit writes for people (the evidence pack's frames, the asset-register export,
``--format csv`` on the command line) goes through :func:`defuse_formulas`.
"""

from __future__ import annotations

from pathlib import Path
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


def write_frame(df: pd.DataFrame, path: Path | str) -> Path:
    """Write ``df`` atomically: Parquet for a ``.parquet`` path, else CSV with the cells a
    spreadsheet would run as formulas defused (:func:`defuse_formulas`: zone data is
    untrusted). Returns the path; raises WriteError when it cannot be written."""
    from toolkit.atomic import open_atomic
    from toolkit.errors import WriteError

    path = Path(path)
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
