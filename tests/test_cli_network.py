"""The lab's network knobs on the command line: --rtt-ms, --jitter-ms, --loss (the shim itself
and the library are tested in test_shim.py)."""

from __future__ import annotations

import time
from pathlib import Path

import dns.message
import dns.query
import pytest
from conftest import SECOND_LAB_BASE

from toolkit.cli.main import main
from toolkit.lab import LabInfo, network, preflight, servers


def _processes_naming(folder: Path) -> list[int]:
    """PIDs whose command line mentions ``folder``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--loss", "1.5", "argument --loss: expected a share from 0 up to (not including) 1"),
        ("--rtt-ms", "-3", "argument --rtt-ms: expected 0 to 10000 ms"),
        ("--jitter-ms", "soon", "argument --jitter-ms: expected milliseconds"),
    ],
)
def test_cli_names_the_flag_and_the_range(flag, value, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lab", "up", flag, value])
    assert exc.value.code == 2
    assert expected in capsys.readouterr().err


@pytest.mark.lab
def test_lab_up_with_rtt_ms_end_to_end(tmp_path: Path, capsys):
    assert preflight() is None, preflight()
    lab_dir = tmp_path / "lab"
    argv = ["lab", "up", "--dir", str(lab_dir), "--base", SECOND_LAB_BASE, "--rtt-ms", "50"]
    try:
        assert main(argv) == 0
        info = LabInfo.load(lab_dir)
        assert info.network["rtt_ms"] == 50 and "shim" in [p.name for p in info.processes]
        assert info.network["backends"][f"{SECOND_LAB_BASE}.1"] == f"{SECOND_LAB_BASE}.101"
        for server in info.servers.values():  # every public address is behind the shim
            t0 = time.monotonic()
            dns.query.udp(dns.message.make_query(".", "SOA"), server, timeout=5)
            assert time.monotonic() - t0 >= 0.050
    finally:
        assert main(["lab", "down", "--dir", str(lab_dir)]) == 0
    info = LabInfo.load(lab_dir)
    assert all(p.stopped and not servers.is_running(p) for p in info.processes)
    assert _processes_naming(lab_dir) == []  # nothing of the lab is left running
    stats = network.read_stats(lab_dir)  # written once more when the shim stopped
    assert stats["routes"][f"{SECOND_LAB_BASE}.1"]["queries_udp"] >= 1
