"""The command line: argument handling, output formats and exit codes (library tested elsewhere)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from toolkit.cli.main import main
from toolkit.schemas import ZONES
from toolkit.store.runs import Store


@pytest.fixture
def workspace(tmp_path):
    zones = ZONES.frame(
        [
            {"zone": "a.test", "status": "secure", "reasons": ""},
            {"zone": "b.test", "status": "bogus", "reasons": "RRSIG_EXPIRED;LAME_SERVER"},
        ]
    )
    Store(tmp_path / "ws").write(
        {"zones": zones}, parameters={}, now=datetime(2026, 11, 28, tzinfo=UTC)
    )
    return tmp_path / "ws"


def test_zones_json_is_a_list_of_objects_with_reason_lists(workspace, capsys):
    assert main(["zones", "--workspace", str(workspace), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(z["zone"], z["status"], z["reasons"]) for z in doc] == [
        ("a.test", "secure", []),
        ("b.test", "bogus", ["RRSIG_EXPIRED", "LAME_SERVER"]),
    ]


def test_zones_csv_and_runs_table(workspace, capsys):
    assert main(["zones", "--workspace", str(workspace), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("zone,zone_unicode,")
    assert main(["runs", "--workspace", str(workspace)]) == 0
    assert "20261128T000000Z" in capsys.readouterr().out


def test_toolkit_errors_exit_1_with_the_message(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "inventory.csv").write_text("zone,risk_tier\nok.test,9\n")
    code = main(["collect", "--portfolio", str(tmp_path / "p"), "--workspace", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "inventory.csv, line 2, column 'risk_tier'" in err
    assert not (tmp_path / "runs").exists()  # nothing written
    assert main(["zones", "--workspace", str(tmp_path / "empty")]) == 1
    assert "no runs" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [[], ["zones", "--format", "xml"], ["collect"], ["lab", "sideways"]],
    ids=["no-command", "bad-format", "missing-portfolio", "bad-lab-action"],
)
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_resolver_and_now_options_are_clear_errors(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "inventory.csv").write_text("zone\nok.test\n")
    base = ["collect", "--portfolio", str(tmp_path / "p"), "--workspace", str(tmp_path)]
    assert main([*base, "--resolver", "nonsense"]) == 1
    assert "expected NAME=ADDR[@PORT]" in capsys.readouterr().err
    assert main([*base, "--resolver", "x=1.2.3.4@99999"]) == 1
    assert "out of range" in capsys.readouterr().err
    assert main([*base, "--now", "yesterday"]) == 1
    assert "--now: expected an ISO 8601 time" in capsys.readouterr().err
