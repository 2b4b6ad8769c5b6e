"""``exceptions.csv`` — risk acceptances: zones allowed not to meet a control, until a date.

One row per acceptance: the zone, its scope (``unsigned``, or the id of the check it
exempts), the reason, who approved it and when, and when it expires. An expired acceptance
covers nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
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


@cache
def known_scopes() -> tuple[str, ...]:
    """What an acceptance can name as its scope: ``unsigned`` and every check id, sorted."""
    from toolkit.checks import default_registry  # the catalogue imports the governance records

    return ("unsigned", *sorted(c.id for c in default_registry().checks()))


def scope(raw: str) -> str:
    """``unsigned`` or the id of a check of the catalogue (an acceptance of a check that does
    not exist would silently exempt nothing)."""
    w = name(raw)
    if w not in known_scopes():
        unsigned, *ids = known_scopes()
        raise ValueError(
            f"found '{raw}', which names no check; expected {unsigned} or a check id: "
            + ", ".join(ids)
        )
    return w


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
            scope,
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
)


def load_exceptions(path: str | Path, zones: Collection[str] | None = None) -> pd.DataFrame:
    """Read ``exceptions.csv``; returns a frame of schema ``EXCEPTIONS.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`); besides the
    column rules: an id listed twice, or an expiry before the approval.
    """
    return load_record_file(path, EXCEPTIONS, zones)
