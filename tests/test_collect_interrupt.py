"""Interrupting ``dnssec-audit collect``: Ctrl-C stops it with one line and exit code 130,
storing nothing; ``kill -9`` of the main process leaves no worker, forkserver or resource
tracker behind. Both run the real command line (two worker processes) against a synthetic lab,
slowed by its own politeness limit so that there is a collection to interrupt.

The time bounds are generous (10 s) so that a busy machine cannot fail them; the measured
figure is printed (``pytest -s``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SECOND_LAB_BASE

from toolkit.lab import lab_down
from toolkit.lab.synthetic import synthetic_up

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    lab_dir = tmp_path_factory.mktemp("synthetic-interrupt")
    try:
        yield synthetic_up(lab_dir, zones_count=200, base=SECOND_LAB_BASE)
    finally:
        lab_down(lab_dir)


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live process of session ``sid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rpartition(")")[2].split()
            if fields[0] == "Z" or int(fields[3]) != sid:
                continue
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(entry), cmd.strip()))
    return out


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def start_collect(synthetic, workspace: Path) -> subprocess.Popen:
    """``dnssec-audit collect`` with two workers, 8 queries/s per server address: ~30 s of
    work, so it is surely still running when interrupted."""
    argv = [sys.executable, "-m", "toolkit.cli.main", "collect"]
    argv += ["--portfolio", str(synthetic.portfolio), "--lab", str(synthetic.info.dir)]
    argv += ["--workspace", str(workspace), "--no-resolvers", "--no-progress", "--workers", "2"]
    argv += ["--max-qps-per-server", "8"]
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as a command typed at a terminal: Ctrl-C's default action. A suite started in the
        # background of a non-interactive shell (`make test &`) passes SIGINT on as ignored,
        # and Python then installs no KeyboardInterrupt handler: the Ctrl-C would be lost.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_workers(proc: subprocess.Popen, count: int = 2, timeout: float = 60) -> None:
    """Wait until the command's worker processes exist (forkserver children), and a little
    more so that they are collecting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        # forked workers carry the forkserver's command line: the server and its children
        forked = [c for _, c in session_processes(proc.pid) if "forkserver" in c]
        if len(forked) >= 1 + count:
            time.sleep(1.0)
            return
        time.sleep(0.1)
    raise AssertionError("the workers never started")


def wait_gone(sid: int, timeout: float) -> list[tuple[int, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = session_processes(sid)
        if not left:
            return []
        time.sleep(0.1)
    return session_processes(sid)


def test_ctrl_c_stops_the_collection_with_one_line_and_stores_nothing(synthetic, tmp_path):
    ws = tmp_path / "ws"
    proc = start_collect(synthetic, ws)
    try:
        wait_for_workers(proc)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        out, err = proc.communicate(timeout=30)
        stopped = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    print(f"Ctrl-C to exit: {stopped:.2f} s")
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["dnssec-audit: interrupted (nothing was stored)"]
    assert "Traceback" not in err and out == ""
    assert stopped < 10
    runs = ws / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    assert wait_gone(proc.pid, 10) == []


def test_kill_9_of_the_main_process_leaves_no_process_behind(synthetic, tmp_path):
    proc = start_collect(synthetic, tmp_path / "ws")
    try:
        wait_for_workers(proc)
        before = session_processes(proc.pid)
        assert any("forkserver" in c for _, c in before), before
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        left = wait_gone(proc.pid, 10)
        print(f"kill -9: every process gone after {time.monotonic() - t0:.2f} s")
    finally:
        for pid, _ in session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)  # only this test's own session
    assert left == [], left


def test_a_worker_that_dies_is_named_in_the_error(synthetic, tmp_path):
    proc = start_collect(synthetic, tmp_path / "ws")
    try:
        wait_for_workers(proc)
        forked = [p for p, c in session_processes(proc.pid) if "forkserver" in c]
        victim = next(p for p in forked if parent_of(p) != proc.pid)  # a forkserver child
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1
    assert f"pid {victim} (killed by SIGKILL)" in err, err
    assert "Traceback" not in err
    assert wait_gone(proc.pid, 10) == []


def test_after_ctrl_c_a_stuck_interpreter_exit_still_ends_the_process():
    """The command's exit after a Ctrl-C cannot hang: a library thread that never ends (as a
    pool's manager thread waiting on a killed worker may) is cut short with exit code 130."""
    code = (
        "import sys, threading\n"
        "from toolkit.cli import main as m\n"
        "threading.Thread(target=threading.Event().wait).start()  # never ends, not a daemon\n"
        "m._exit_soon(m.INTERRUPTED)\n"
        "sys.exit(m.INTERRUPTED)\n"
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=30)
    took = time.monotonic() - t0
    assert proc.returncode == 130
    assert took < 10  # the grace period (3 s) and the interpreter's start
