"""Shared pytest fixtures.

``lab``
    A running DNSSEC lab (Knot DNS + Unbound, see :mod:`toolkit.lab`), built once per test
    session in a temporary directory on base ``127.77.0`` (so it never collides with a demo lab
    on the default ``127.53.0``) and stopped at the end of the session. Yields its
    :class:`toolkit.lab.LabInfo`. Tests using it are marked ``@pytest.mark.lab``. A machine
    that cannot run a lab (not root, knotd/unbound missing) fails them with the reason:
    ``make test`` installs everything, so a missing daemon is a broken set-up, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from toolkit.lab import LabInfo, lab_down, lab_up, preflight

# Each concurrent test session needs its own addresses: override with DNSSEC_LAB_TEST_BASE.
LAB_TEST_BASE = os.environ.get("DNSSEC_LAB_TEST_BASE", "127.77.0")
SECOND_LAB_BASE = os.environ.get("DNSSEC_LAB_SECOND_BASE", "127.78.0")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    """A running lab for the whole session (base 127.77.0, signatures anchored at now)."""
    reason = preflight()
    if reason:
        pytest.fail(f"cannot run the DNS lab: {reason} (run `make test`, which installs it)")
    lab_dir = tmp_path_factory.mktemp("lab")
    try:
        yield lab_up(lab_dir, base=LAB_TEST_BASE, now=datetime.now(UTC))
    finally:
        lab_down(lab_dir)
