"""The collector's per-server caps: policy.yaml's ``collector`` section, the command line
(which wins) and the defaults, and where each cap came from recorded in the run's manifest."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from toolkit.cli.main import main
from toolkit.collect.collector import CollectConfig, with_politeness
from toolkit.collect.transport import (
    DEFAULT_MAX_INFLIGHT_PER_SERVER,
    DEFAULT_MAX_QPS_PER_SERVER,
    TransportConfig,
)
from toolkit.inputs.policy_settings import Politeness
from toolkit.store.runs import Store

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-portfolio"


def test_policy_caps_apply_where_the_command_line_set_none():
    config = with_politeness(CollectConfig(), Politeness(max_inflight_per_server=3))
    assert config.transport.max_inflight_per_server == 3
    assert config.transport.max_qps_per_server == DEFAULT_MAX_QPS_PER_SERVER
    assert config.parameters()["caps_from"] == {
        "max_inflight_per_server": "policy.yaml",
        "max_qps_per_server": "default",
    }


def test_the_command_line_wins_over_policy_yaml():
    cli = CollectConfig(
        transport=TransportConfig(max_qps_per_server=7.0),
        cap_sources={"max_qps_per_server": "command line"},
    )
    config = with_politeness(cli, Politeness(max_inflight_per_server=0, max_qps_per_server=50.0))
    assert config.transport.max_qps_per_server == 7.0  # the command line's
    assert config.transport.max_inflight_per_server == 0  # policy.yaml's "no cap"
    params = config.parameters()
    assert (params["max_inflight_per_server"], params["max_qps_per_server"]) == (0, 7.0)
    assert params["caps_from"] == {
        "max_inflight_per_server": "policy.yaml",
        "max_qps_per_server": "command line",
    }


def test_no_collector_section_keeps_the_defaults():
    config = with_politeness(CollectConfig(), Politeness())
    assert config.transport.max_inflight_per_server == DEFAULT_MAX_INFLIGHT_PER_SERVER
    assert set(config.parameters()["caps_from"].values()) == {"default"}


@pytest.mark.lab
def test_collect_records_the_caps_and_their_source_in_the_manifest(lab, tmp_path, capsys):
    """``collect`` on the lab with a portfolio whose policy.yaml sets both caps: the manifest
    records policy.yaml's values, then the command line's where it gives one."""
    portfolio = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, portfolio)
    with (portfolio / "policy.yaml").open("a", encoding="utf-8") as f:
        f.write("collector:\n  max_inflight_per_server: 5\n  max_qps_per_server: 400\n")
    ws = tmp_path / "ws"
    argv = [
        "collect",
        *("--portfolio", str(portfolio), "--workspace", str(ws), "--lab", str(lab.dir)),
        *("--no-resolvers", "--no-progress", "--workers", "1"),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    params = Store(ws).load("latest").manifest["parameters"]
    assert (params["max_inflight_per_server"], params["max_qps_per_server"]) == (5, 400.0)
    assert params["caps_from"] == {
        "max_inflight_per_server": "policy.yaml",
        "max_qps_per_server": "policy.yaml",
    }
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()  # the latest, not simulated
    assert main([*argv, "--max-inflight-per-server", "3", "--now", later]) == 0
    runs = Store(ws).list_runs()
    assert len(runs) == 2
    params = Store(ws).load("latest").manifest["parameters"]
    assert (params["max_inflight_per_server"], params["max_qps_per_server"]) == (3, 400.0)
    assert params["caps_from"]["max_inflight_per_server"] == "command line"
