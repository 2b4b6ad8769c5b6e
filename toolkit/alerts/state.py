"""The alert state file: which alerts exist, which still hold, who acknowledged them and
which sinks still owe them. ``WORKSPACE/alerts/state.json``, format version 1.

Every write goes to a temporary file in the same folder, is fsynced and renamed over the
state file, so a crash leaves either the old state or the new one. A lock file
(``fcntl.flock``) keeps two evaluations of the same workspace from interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.atomic import write_atomic
from toolkit.errors import ToolkitError

FORMAT_VERSION = 1
STATE_DIR = "alerts"
STATE_FILE = "state.json"


class AlertStateError(ToolkitError):
    """The alert state file is unreadable or of another format version."""


@dataclass
class AlertState:
    """The alerts by id, and the last run evaluated (the event rules look after it)."""

    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_run_id: str | None = None

    def active_by_key(self) -> dict[str, str]:
        """Condition key -> id of the alert that is active for it."""
        return {a["key"]: i for i, a in self.alerts.items() if a["status"] == "active"}

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "last_run_id": self.last_run_id,
            "alerts": self.alerts,
        }


def state_path(workspace: str | Path) -> Path:
    """Where a workspace's alert state lives."""
    return Path(workspace) / STATE_DIR / STATE_FILE


def load_state(workspace: str | Path) -> AlertState:
    """Read the state (an empty one when there is no file yet).

    Raises AlertStateError for an unreadable file or another format version.
    """
    path = state_path(workspace)
    if not path.exists():
        return AlertState()
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AlertStateError(f"{path}: unreadable alert state ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format_version") != FORMAT_VERSION:
        raise AlertStateError(f"{path}: expected format_version {FORMAT_VERSION}")
    return AlertState(dict(doc.get("alerts") or {}), doc.get("last_run_id"))


def save_state(workspace: str | Path, state: AlertState) -> None:
    """Write the state atomically (temporary file, fsync, rename, fsync of the folder)."""
    path = state_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n"
    write_atomic(path, data, sync_folder=True)


@contextlib.contextmanager
def locked(workspace: str | Path) -> Iterator[None]:
    """Hold the workspace's alert lock (blocking) for the duration of the block."""
    lock = Path(workspace) / STATE_DIR / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
