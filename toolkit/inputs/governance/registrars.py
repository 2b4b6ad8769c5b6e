"""``registrars.csv`` — the registrars (parent operators) that publish the zones' DS records.

One row per registrar named in the inventory's ``registrar`` column: the contact, the
escalation path, how DS records are submitted, the agreed time for a DS to appear at the
parent (SLA, hours) and how access to the registrar account is controlled.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.inputs.governance.records import Field, RecordSpec, load_record_file, positive, word

SUBMISSION = ("api", "portal", "email", "epp", "cds", "other")

REGISTRARS = RecordSpec(
    name="registrars",
    filename="registrars.csv",
    description="Registrars and parent operators: contacts, escalation and DS publication SLA.",
    fields=(
        Field("registrar", "string", "name, as in the inventory's registrar column", None, True),
        Field("contact", "string", "who to call (name, e-mail or phone)"),
        Field("escalation", "string", "escalation path when the contact fails"),
        Field(
            "ds_submission",
            "string",
            "how a DS is submitted",
            word(*SUBMISSION),
            False,
            ", ".join(SUBMISSION),
        ),
        Field(
            "sla_hours",
            "Float64",
            "hours for a submitted DS to appear at the parent",
            positive,
            False,
            "number > 0",
        ),
        Field("account_access", "string", "how access to the registrar account is controlled"),
    ),
    unique=("registrar",),
    zone_columns=(),
)


def load_registrars(path: str | Path) -> pd.DataFrame:
    """Read ``registrars.csv``; returns a frame of schema ``REGISTRARS.schema``.

    Raises InputError listing every problem (see :func:`load_record_file`).
    """
    return load_record_file(path, REGISTRARS)
