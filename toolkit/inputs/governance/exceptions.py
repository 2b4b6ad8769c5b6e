"""``exceptions.csv`` — risk acceptances: zones allowed not to meet a control, until a date.

One row per acceptance: the zone, its scope (``unsigned``, or the id of the check it
exempts), the reason, who approved it and when, and when it expires. An expired acceptance
covers nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import Problem
from toolkit.inputs.governance.records import (
    Field,
    RecordSpec,
    check_order,
    load_record_file,
    name,
    timestamp,
    zone_name,
)
from toolkit.schemas import UTC_TS


def _row_check(row: dict[str, Any], line: int, problems: list[Problem]) -> None:
    check_order(row, line, problems, "approved_at", "expires")


EXCEPTIONS = RecordSpec(
    name="exceptions",
    filename="exceptions.csv",
    description="Risk acceptances for unsigned or non-compliant zones, with approver and expiry.",
    fields=(
        Field("exception", "string", "acceptance id", None, True, "unique"),
        Field("zone", "string", "zone accepted", zone_name, True, "an inventory zone"),
        Field(
            "scope",
            "string",
            "what is accepted: unsigned, or a check id",
            name,
            True,
            "unsigned or a check id",
        ),
        Field("reason", "string", "why the risk is accepted"),
        Field("approved_by", "string", "who accepted the risk"),
        Field("approved_at", UTC_TS, "when", timestamp, False, "date"),
        Field("expires", UTC_TS, "when the acceptance ends", timestamp, True, "date"),
    ),
    unique=("exception",),
    row_check=_row_check,
    check_columns=("scope",),
    check_words=("unsigned",),
)


def load_exceptions(
    path: str | Path,
    zones: Collection[str] | None = None,
    check_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read ``exceptions.csv``; returns a frame of schema ``EXCEPTIONS.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`); besides the
    column rules: an id listed twice, an expiry before the approval, or (``check_ids`` given)
    a scope that is neither ``unsigned`` nor a check id.
    """
    return load_record_file(path, EXCEPTIONS, zones, check_ids)
