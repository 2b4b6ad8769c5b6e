"""The check catalogue: every check of the toolkit, its metadata next to its code.

:func:`default_registry` builds the registry of all checks by explicit registration (no import
side effects); :func:`run_checks` runs it over a run's frames and returns the findings frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from toolkit.checks import (
    cds,
    consistency,
    governance,
    keys,
    names,
    operational,
    practice,
    signatures,
    technical,
    transport,
)
from toolkit.checks.base import (
    RESULT_STATUSES,
    Check,
    Context,
    Registry,
    Result,
)
from toolkit.inputs.policy import PolicySet
from toolkit.schemas import CATALOGUE, FINDINGS
from toolkit.vocabulary import PILLARS, SEVERITIES

__all__ = [
    "CATALOGUE",
    "FINDINGS",
    "PILLARS",
    "RESULT_STATUSES",
    "SEVERITIES",
    "Check",
    "Context",
    "Registry",
    "Result",
    "check_ids",
    "default_registry",
    "run_checks",
]


def default_registry() -> Registry:
    """A registry holding every check of the toolkit, in catalogue order."""
    registry = Registry()
    modules = (
        technical, keys, signatures, consistency, transport, cds, names, practice, operational,
        governance,
    )  # fmt: skip
    for module in modules:
        for check, func in module.CHECKS:
            registry.register(check, func)
    return registry


def check_ids() -> frozenset[str]:
    """The id of every check of the catalogue: what a maturity gate of ``policy.yaml`` and a
    risk acceptance's scope may name. The readers of those inputs sit below the catalogue, so
    the stages that judge pass these in (``load_portfolio(..., check_ids)``)."""
    return frozenset(c.id for c in default_registry().checks())


def run_checks(
    frames: Mapping[str, pd.DataFrame],
    policies: PolicySet,
    *,
    now: datetime,
    pillars: Sequence[str] | None = None,
    run_id: str = "",
) -> pd.DataFrame:
    """Run the catalogue (only the checks of ``pillars``, when given) over a run's frames;
    returns the findings frame."""
    return default_registry().run(Context(frames, policies, now, run_id), pillars=pillars)
