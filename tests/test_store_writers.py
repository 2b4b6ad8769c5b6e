"""Many writers in one workspace: real processes writing at once, and a writer killed mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from toolkit.store.runs import Store

ROOT = Path(__file__).resolve().parent.parent

# A writer process: N runs of a frame big enough that writing it takes a while, so the writers'
# temporary folders coexist.
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    import pandas as pd
    from toolkit.store.runs import Store

    workspace, me, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = Store(workspace)
    frame = pd.DataFrame({"i": range(200_000), "s": [f"row{i}" for i in range(200_000)]})
    frames = {f"f{k}": frame for k in range(4)}
    for k in range(n):
        now = datetime(2026, 11, 28, tzinfo=UTC) + timedelta(minutes=me * 100 + k)
        store.write(frames, parameters={"writer": me, "k": k}, now=now)
    print("done", flush=True)
    """
)

# A writer that stops for good after its first file, inside its temporary folder.
STALLED = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    import pandas as pd
    from toolkit.store.runs import Store

    real = pd.DataFrame.to_parquet
    calls = []

    def stall(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            print("stalled", flush=True)
            time.sleep(3600)
        return real(self, *args, **kwargs)

    pd.DataFrame.to_parquet = stall
    frame = pd.DataFrame({"i": range(10)})
    Store(sys.argv[1]).write({"a": frame, "b": frame}, parameters={}, now=datetime.now(UTC))
    """
)


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_concurrent_writers_each_publish_every_run(tmp_path):
    writers, each = 4, 3
    procs = [_python(WRITER, str(tmp_path), str(w), str(each)) for w in range(writers)]
    outcomes = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outcomes, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "done"
    store = Store(tmp_path)
    runs = store.list_runs()
    assert len(runs) == writers * each
    made = {
        (r.manifest["parameters"]["writer"], r.manifest["parameters"]["k"])
        for r in (store.load(run_id, frames=["f0"]) for run_id in runs["run_id"])
    }
    assert made == {(w, k) for w in range(writers) for k in range(each)}
    assert not list((tmp_path / "runs").glob(".tmp-*"))


def test_a_writer_killed_mid_write_leaves_no_run_and_the_next_writer_cleans_up(tmp_path):
    proc = _python(STALLED, str(tmp_path))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "stalled"
        (tmp,) = (tmp_path / "runs").glob(".tmp-*")
        assert tmp.name.startswith(f".tmp-{proc.pid}-")
        store = Store(tmp_path)
        # While its writer lives, another writer leaves the temporary folder alone.
        store.write({"a": _small()}, parameters={}, now=_now())
        assert tmp.is_dir()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert (tmp / "a.parquet").is_file()  # the half-written run is there...
    assert len(store.list_runs()) == 1  # ...but it is not a run
    store.write({"a": _small()}, parameters={}, now=_now())
    assert not tmp.exists()
    assert len(store.list_runs()) == 2


def test_a_stale_temporary_folder_of_a_live_pid_is_cleaned(tmp_path):
    import pandas as pd

    store = Store(tmp_path)
    # pid 1 is alive (init) but cannot own a folder untouched for two days: its pid was reused
    old = tmp_path / "runs" / ".tmp-1-0123abcd-20261128T000000Z-abcdef"
    old.mkdir(parents=True)
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    fresh = tmp_path / "runs" / ".tmp-1-0123abce-20261128T000000Z-abcdef"
    fresh.mkdir()
    store.write({"a": pd.DataFrame({"i": [1]})}, parameters={}, now=_now())
    assert not old.exists() and fresh.is_dir()


def _small():
    import pandas as pd

    return pd.DataFrame({"i": [1, 2]})


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
