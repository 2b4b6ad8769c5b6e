"""``incidents.csv`` — DNSSEC incidents: what happened, when, and what was learned."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import Problem
from toolkit.inputs.governance.records import (
    Field,
    RecordSpec,
    boolean,
    check_order,
    load_record_file,
    timestamp,
    word,
    zone_name,
)
from toolkit.schemas import UTC_TS

SEVERITIES = ("critical", "high", "medium", "low")


def _row_check(row: dict[str, Any], line: int, problems: list[Problem]) -> None:
    check_order(row, line, problems, "opened_at", "resolved_at")


INCIDENTS = RecordSpec(
    name="incidents",
    filename="incidents.csv",
    description="DNSSEC incidents: one row per incident.",
    fields=(
        Field("incident", "string", "incident id", None, True, "unique"),
        Field("zone", "string", "zone affected (empty: several or none)", zone_name),
        Field("opened_at", UTC_TS, "when it was detected", timestamp, True, "date or time"),
        Field("resolved_at", UTC_TS, "when it was resolved (empty: open)", timestamp),
        Field("severity", "string", "impact", word(*SEVERITIES), False, ", ".join(SEVERITIES)),
        Field("summary", "string", "what happened"),
        Field("root_cause", "string", "why it happened"),
        Field("lessons", "string", "lessons learned"),
        Field(
            "follow_up_closed",
            "boolean",
            "follow-up actions are closed",
            boolean,
            False,
            "true/false",
        ),
    ),
    unique=("incident",),
    row_check=_row_check,
)


def load_incidents(path: str | Path, zones: Collection[str] | None = None) -> pd.DataFrame:
    """Read ``incidents.csv``; returns a frame of schema ``INCIDENTS.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`); besides the
    column rules: an incident listed twice, or resolved before it was opened.
    """
    return load_record_file(path, INCIDENTS, zones)
