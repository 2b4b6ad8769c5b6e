"""Small helpers shared by the reconciliation modules: schemas, timestamps, durations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from toolkit.schemas import Column, FrameSchema

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)


def schema(name: str, description: str, *columns: tuple[str, str, str]) -> FrameSchema:
    """A :class:`FrameSchema` from ``(column, dtype, meaning)`` triples."""
    return FrameSchema(name, description, tuple(Column(*c) for c in columns))


def ts(value: Any) -> pd.Timestamp | None:
    """``value`` as a Timestamp, or None for a null."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def utc(now: datetime) -> pd.Timestamp:
    """An aware datetime as a UTC Timestamp."""
    return pd.Timestamp(now).tz_convert("UTC")
