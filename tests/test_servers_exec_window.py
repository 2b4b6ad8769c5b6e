"""``servers.is_running`` of a daemon read in the middle of its exec: ``/proc/PID/cmdline``
is empty for a moment after ``Popen`` returns (the kernel closes the close-on-exec pipe before
it sets the new program's arguments up), which made a shim just started look "exited during
startup" on a loaded machine, and left it running. Simulated here on a real process by
reading an empty command line the first few times."""

from __future__ import annotations

import sys
from pathlib import Path

from toolkit.lab import servers


class _MidExecPath(type(Path())):  # type: ignore[misc]
    """A path whose ``/proc/*/cmdline`` reads empty the first ``empty`` times."""

    empty = 3

    def read_bytes(self) -> bytes:
        if self.name == "cmdline" and _MidExecPath.empty > 0:
            _MidExecPath.empty -= 1
            return b""
        return super().read_bytes()


def test_a_daemon_read_mid_exec_is_running(tmp_path, monkeypatch):
    """A daemon another process started (``lab status`` / ``lab down`` in a new command read
    it from lab.json) is judged by /proc: an empty command line is read again."""
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    rec = servers.start("sleeper", argv, tmp_path / "sleeper.log", address="-", probe="-")
    proc = servers._CHILDREN.pop(rec.pid)  # as if another process had started it
    try:
        _MidExecPath.empty = 3
        monkeypatch.setattr(servers, "Path", _MidExecPath)
        assert servers.is_running(rec)
        assert _MidExecPath.empty == 0  # the empty reads did happen
    finally:
        monkeypatch.undo()
        servers.stop_all([rec])
        proc.wait(timeout=10)
    assert not servers.is_running(rec)


def test_our_own_child_is_judged_by_its_handle(tmp_path, monkeypatch):
    """A daemon this process started is running while its Popen handle says so, whatever
    /proc/PID/cmdline reads at that instant (here: empty, every time); once it has exited it
    is not, and stop_all signals it (a start that failed its readiness check never leaves it
    running)."""
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    rec = servers.start("sleeper", argv, tmp_path / "sleeper.log", address="-", probe="-")
    try:
        _MidExecPath.empty = 10**6
        monkeypatch.setattr(servers, "Path", _MidExecPath)
        assert servers.is_running(rec)
        assert _MidExecPath.empty == 10**6  # /proc was not needed
        assert servers.stop_all([rec]) == ["sleeper"]
        assert not servers.is_running(rec)
    finally:
        monkeypatch.undo()
        _MidExecPath.empty = 3
        servers.stop_all([rec])
