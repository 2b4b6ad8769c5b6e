"""``keys.csv`` — the key manifest: every DNSSEC key the organisation holds, per zone.

One row per key: its zone, key tag, role, algorithm and size, its life-cycle dates (created,
published, activated, planned retirement), where its private half is kept and who is its
custodian. Reconciled with the DNSKEY sets observed in DNS (:mod:`toolkit.history.reconcile`).
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
    integer,
    load_record_file,
    timestamp,
    word,
    zone_name,
)
from toolkit.schemas import UTC_TS

ROLES = ("ksk", "zsk", "csk")
STORAGE = ("hsm", "offline", "online")


def _row_check(row: dict[str, Any], line: int, problems: list[Problem]) -> None:
    check_order(row, line, problems, "created", "published", "activated")
    check_order(row, line, problems, "created", "planned_retirement")


KEYS = RecordSpec(
    name="keys",
    filename="keys.csv",
    description="The key manifest: one row per DNSSEC key of a zone, with its life cycle, "
    "storage and custodian.",
    fields=(
        Field("zone", "string", "zone the key signs", zone_name, True, "an inventory zone"),
        Field("key_tag", "Int64", "DNSKEY key tag", integer(0, 65535), True, "0-65535"),
        Field("role", "string", "key role", word(*ROLES), True, "ksk, zsk, csk"),
        Field("algorithm", "Int64", "DNSSEC algorithm number", integer(1, 255), False, "1-255"),
        Field("key_size", "Int64", "key size in bits", integer(1, 16384), False, "bits"),
        Field("created", UTC_TS, "when the key was generated", timestamp, False, "date"),
        Field("published", UTC_TS, "when the DNSKEY was first published", timestamp, False, "date"),
        Field("activated", UTC_TS, "when the key started signing", timestamp, False, "date"),
        Field("planned_retirement", UTC_TS, "when the key is to be (or was) removed", timestamp),
        Field(
            "storage",
            "string",
            "where the private key is kept",
            word(*STORAGE),
            False,
            "hsm, offline, online",
        ),
        Field("custodian", "string", "person or team accountable for the private key"),
    ),
    unique=("zone", "key_tag"),
    row_check=_row_check,
)


def load_keys(path: str | Path, zones: Collection[str] | None = None) -> pd.DataFrame:
    """Read ``keys.csv``; returns a frame of schema ``KEYS.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`); besides the
    column rules: a zone and key tag listed twice, or dates out of order (published before
    created, activated before published, planned retirement before created).
    """
    return load_record_file(path, KEYS, zones)
