"""Governance as data: the portfolio's record files, read strictly.

Besides ``inventory.csv`` and ``policy.yaml`` a portfolio directory may hold six record files,
each optional — a missing file means "not evidenced", never "fine":

==================  =========================================================  ================
file                what it records                                            loader
==================  =========================================================  ================
``keys.csv``        the key manifest (tag, role, dates, storage, custodian)    :mod:`.keys`
``changes.csv``     the change-control log of DNSSEC changes                   :mod:`.changes`
``drills.csv``      drills of the runbooks, with outcome and lessons           :mod:`.drills`
``incidents.csv``   DNSSEC incidents                                           :mod:`.incidents`
``registrars.csv``  registrars: contacts, escalation, DS submission, SLA       :mod:`.registrars`
``exceptions.csv``  risk acceptances with approver and expiry                  :mod:`.exceptions`
==================  =========================================================  ================

:func:`load_records` reads those present. The reconciliation with DNS lives in the history
stage: :mod:`toolkit.history.key_sets` turns stored runs into the series of observed DNSKEY/DS
sets and their changes; :mod:`toolkit.history.reconcile` and :mod:`toolkit.history.oversight`
hold the pure reconciliation rules (frames in, frames out) that the governance checks
(:mod:`toolkit.checks.governance`) turn into findings. ``python -m toolkit.inputs.governance``
prints the files' documentation as Markdown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from toolkit.inputs.governance.changes import CHANGES
from toolkit.inputs.governance.drills import DRILLS
from toolkit.inputs.governance.exceptions import EXCEPTIONS
from toolkit.inputs.governance.incidents import INCIDENTS
from toolkit.inputs.governance.keys import KEYS
from toolkit.inputs.governance.records import RecordSpec, load_record_file
from toolkit.inputs.governance.registrars import REGISTRARS

RECORD_SPECS: dict[str, RecordSpec] = {
    s.name: s for s in (KEYS, CHANGES, DRILLS, INCIDENTS, REGISTRARS, EXCEPTIONS)
}
"""Record kind (frame name) -> its specification."""

__all__ = ["RECORD_SPECS", "GovernanceRecords", "load_records"]


@dataclass(frozen=True)
class GovernanceRecords:
    """The record files of a portfolio that exist, by kind (``keys``, ``changes``, ...).

    A kind absent from ``frames`` had no file: its facts are not evidenced.
    """

    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    directory: Path | None = None

    def get(self, kind: str) -> pd.DataFrame | None:
        """The frame of record kind ``kind``, or None when its file is missing."""
        return self.frames.get(kind)

    @property
    def missing(self) -> list[str]:
        """File names of the record kinds not given."""
        return [s.filename for k, s in RECORD_SPECS.items() if k not in self.frames]


def load_records(
    directory: str | Path,
    zones: Collection[str] | None = None,
    check_ids: Collection[str] | None = None,
) -> GovernanceRecords:
    """Read every record file present in the portfolio ``directory``.

    ``zones`` (the inventory's zones), when given, is what every zone column must name;
    ``check_ids`` (the check catalogue's ids), when given, what every check column must name.
    Returns a :class:`GovernanceRecords` holding one frame per file found.

    Raises:
        InputError: a record file is invalid — one error per file, listing all its problems
            with line and column; the first bad file (in the order of :data:`RECORD_SPECS`)
            is reported.
    """
    directory = Path(directory)
    frames: dict[str, pd.DataFrame] = {}
    for kind, spec in RECORD_SPECS.items():
        path = directory / spec.filename
        if path.exists():
            frames[kind] = load_record_file(
                path, spec, None if not spec.zone_columns else zones, check_ids
            )
    return GovernanceRecords(frames, directory)


def main() -> None:
    """Print the documentation of every record file (Markdown)."""
    for spec in RECORD_SPECS.values():
        print(spec.markdown())


if __name__ == "__main__":
    main()
