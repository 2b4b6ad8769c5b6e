"""``drills.csv`` — exercises of the DNSSEC runbooks (emergency rollover, rollback, ...).

One row per drill held (or scheduled and missed): date, scenario, the zones it covered,
participants, outcome, lessons learned and whether the follow-up actions are closed.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd

from toolkit.inputs.governance.records import (
    Field,
    RecordSpec,
    boolean,
    load_record_file,
    name,
    timestamp,
    word,
    zone_list,
)
from toolkit.schemas import UTC_TS

OUTCOMES = ("passed", "partial", "failed", "missed")
"""``missed``: the drill was scheduled but not held."""

DRILLS = RecordSpec(
    name="drills",
    filename="drills.csv",
    description="Drills of the DNSSEC runbooks: one row per drill held or missed.",
    fields=(
        Field("date", UTC_TS, "when the drill was held (or was due)", timestamp, True, "date"),
        Field("scenario", "string", "the runbook exercised", name, True, "a name"),
        Field("zones", "string", "zones covered, `;`-separated (empty: all)", zone_list),
        Field("participants", "string", "who took part, `;`-separated"),
        Field("outcome", "string", "how it went", word(*OUTCOMES), True, ", ".join(OUTCOMES)),
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
    unique=("date", "scenario"),
    zone_columns=("zones",),
)


def load_drills(path: str | Path, zones: Collection[str] | None = None) -> pd.DataFrame:
    """Read ``drills.csv``; returns a frame of schema ``DRILLS.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`).
    """
    return load_record_file(path, DRILLS, zones)
