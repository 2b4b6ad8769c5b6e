"""``changes.csv`` — the change-control log of DNSSEC changes.

One row per ticket: which zone, what action (a rollover, a DS publication or withdrawal, an
algorithm rollover, signing or unsigning a zone, a policy change), who requested it, who
approved it and when, when it was implemented, its status and a reference to its evidence.
Observed DNSKEY/DS changes are matched to these tickets (:mod:`toolkit.history.reconcile`).
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
    integer,
    load_record_file,
    timestamp,
    word,
    zone_name,
)
from toolkit.schemas import UTC_TS

ACTIONS = (
    "zsk_rollover",
    "ksk_rollover",
    "ds_publish",
    "ds_withdraw",
    "algorithm_rollover",
    "sign",
    "unsign",
    "policy_change",
)
STATUSES = ("requested", "approved", "implemented", "rejected", "cancelled", "rolled_back")
"""Ticket statuses; rejected and cancelled tickets never approve a change."""


def _row_check(row: dict[str, Any], line: int, problems: list[Problem]) -> None:
    if row.get("zone") is None and row.get("action") not in (None, "policy_change"):
        problems.append(Problem(line, "zone", f"a value is required for a {row['action']} ticket"))


CHANGES = RecordSpec(
    name="changes",
    filename="changes.csv",
    description="The change-control log: one row per DNSSEC change ticket.",
    fields=(
        Field("ticket", "string", "ticket id", None, True, "unique"),
        Field("zone", "string", "zone changed (empty only for a policy_change)", zone_name),
        Field("action", "string", "what was changed", word(*ACTIONS), True, ", ".join(ACTIONS)),
        Field("key_tag", "Int64", "key tag of the key introduced", integer(0, 65535)),
        Field("requested_by", "string", "who asked for the change"),
        Field("approved_by", "string", "who approved it (must not be the requester)"),
        Field("approved_at", UTC_TS, "when it was approved", timestamp, False, "date or time"),
        Field("implemented_at", UTC_TS, "when it was made", timestamp, False, "date or time"),
        Field("status", "string", "ticket status", word(*STATUSES), False, ", ".join(STATUSES)),
        Field("evidence", "string", "where the evidence of the change is kept"),
    ),
    unique=("ticket",),
    row_check=_row_check,
)


def load_changes(path: str | Path, zones: Collection[str] | None = None) -> pd.DataFrame:
    """Read ``changes.csv``; returns a frame of schema ``CHANGES.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`); besides the
    column rules: a ticket listed twice, or a ticket other than a policy_change with no zone.
    """
    return load_record_file(path, CHANGES, zones)
