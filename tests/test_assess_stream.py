"""assess_streaming(): the assessment partition by partition equals assess() — findings,
requirements, requirement evidence and every maturity frame — on the hand-built sample run
(with a history of two runs), on a run replicated to several hundred zones (the benchmark's
replication), and on a run collected from the real lab with zone discovery (every evidence
frame, ``discovery`` included); a partition reads only its zones' rows; the result is
published atomically."""

from __future__ import annotations

import importlib.util
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from governance_fakes import SAMPLE, store_sample_run
from pandas.testing import assert_frame_equal

import toolkit.assessment.stream as stream
from toolkit.assessment.assess import Assessment, assess
from toolkit.assessment.maturity import PORTFOLIO
from toolkit.assessment.stream import PORTFOLIO_WIDE, ExactSum, assess_streaming
from toolkit.checks import Context
from toolkit.checks.governance import delegations_inventoried
from toolkit.errors import InputError
from toolkit.inputs.policy import PolicySet

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    cols = list(df.columns)
    return df.sort_values(cols, key=lambda s: s.astype(str)).reset_index(drop=True)


def assert_same_assessment(a: Assessment, b: Assessment) -> None:
    """Every frame of the two assessments equal, row order aside (check_exact: the
    portfolio's scores too, to the last bit)."""
    assert b.run_id == a.run_id
    assert_frame_equal(_sorted(b.findings), _sorted(a.findings), check_exact=True)
    assert_frame_equal(b.requirements, a.requirements, check_exact=True)
    assert_frame_equal(
        _sorted(b.requirement_evidence), _sorted(a.requirement_evidence), check_exact=True
    )
    for name in ("scores", "indicators", "evidence", "gates"):
        assert_frame_equal(
            _sorted(getattr(b.maturity, name)),
            _sorted(getattr(a.maturity, name)),
            check_exact=True,
            obj=f"maturity.{name}",
        )
    assert b.maturity.portfolio == a.maturity.portfolio


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The sample run stored twice: a history of two runs (key changes, rollovers)."""
    ws = tmp_path_factory.mktemp("ws")
    store_sample_run(ws, NOW - timedelta(days=2))
    store_sample_run(ws, NOW - timedelta(hours=6))
    return ws


@pytest.fixture(scope="module")
def whole(workspace):
    return assess(SAMPLE, workspace, now=NOW)


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_sample_run_streamed_equals_assess(workspace, whole, tmp_path, size):
    s = assess_streaming(SAMPLE, workspace, now=NOW, out_dir=tmp_path / "out", partition_zones=size)
    zones = len(set(whole.frames["inventory"]["zone"]) | set(whole.frames["zones"]["zone"]))
    assert s.zones == zones
    assert s.partitions == math.ceil(zones / size)
    assert len(list((tmp_path / "out" / "findings").glob("part-0*.parquet"))) == s.partitions
    assert s.findings == len(whole.findings)
    assert s.status_counts == {
        k: int(v) for k, v in whole.findings["status"].value_counts().items()
    }
    assert_frame_equal(s.requirements, whole.requirements, check_exact=True)
    assert s.portfolio_score == whole.maturity.portfolio
    assert_same_assessment(whole, s.to_assessment())


def test_portfolio_wide_checks_are_those_giving_a_portfolio_finding(whole):
    """The checks the streaming assessment runs once are exactly those whose findings are
    about the whole portfolio (a new one would be refused by a partition: see below)."""
    wide = set(whole.findings.loc[whole.findings["zone"] == PORTFOLIO, "check_id"])
    assert wide == set(PORTFOLIO_WIDE)


def test_a_check_judging_the_portfolio_from_one_partition_is_refused(workspace, tmp_path):
    out = tmp_path / "out"
    narrowed = tuple(c for c in PORTFOLIO_WIDE if c != "roles_assigned")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stream, "PORTFOLIO_WIDE", narrowed)
        with pytest.raises(RuntimeError, match="roles_assigned"):
            assess_streaming(SAMPLE, workspace, now=NOW, out_dir=out, partition_zones=5)
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no temporary folder left either


def test_a_partition_reads_only_its_zones(workspace, whole):
    store = stream.Store(workspace)
    run_id = store.resolve("latest")
    job = stream._Job(
        store, run_id, store.read_manifest(run_id), whole.portfolio, whole.records,
        whole.frameworks, NOW, stream._verify_history(store, run_id),
    )  # fmt: skip
    zones = stream._all_zones(job)
    part = zones[3:7]
    frames = stream._partition_frames(job, part)
    for name, df in frames.items():
        if "zone" in df.columns and name not in whole.records.frames:
            assert set(df["zone"].dropna()) <= set(part), name
        elif name in whole.records.frames and "zone" in df.columns:
            assert set(df["zone"].dropna()) <= set(part), name  # and rows naming no zone
    for name in ("zones", "records", "key_sets", "cds_history"):
        whole_rows = whole.frames[name]
        assert len(frames[name]) == int(whole_rows["zone"].isin(part).sum()), name
        assert len(frames[name]) < len(whole_rows), name


def test_result_is_replaced_atomically_and_never_over_other_files(workspace, tmp_path):
    out = tmp_path / "out"
    first = assess_streaming(SAMPLE, workspace, now=NOW, out_dir=out, partition_zones=5)
    again = assess_streaming(SAMPLE, workspace, now=NOW, out_dir=out, partition_zones=7)
    assert again.partitions == 2 and first.partitions == 3
    assert len(again.part_paths("findings")) == 3  # two partitions and the portfolio part
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a streamed assessment"):
        assess_streaming(SAMPLE, workspace, now=NOW, out_dir=other)
    assert (other / "notes.txt").read_text() == "mine"


def test_filtered_read_of_the_parts(workspace, whole, tmp_path):
    s = assess_streaming(SAMPLE, workspace, now=NOW, out_dir=tmp_path / "out", partition_zones=4)
    failed = s.read("findings", where="status = 'fail'")
    expected = whole.findings[whole.findings["status"] == "fail"]
    assert_frame_equal(_sorted(failed), _sorted(expected), check_exact=True)
    with pytest.raises(KeyError):
        s.read("nope")


def test_exact_sum_equals_fsum_across_chunks():
    rng = random.Random(14)
    values = [rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20) for _ in range(5000)]
    acc = ExactSum()
    for i in range(0, len(values), 333):
        acc.add(values[i : i + 333])
    assert acc.value() == math.fsum(values)
    assert acc.value() != sum(values)  # the naive sum differs: the test can fail


def test_delegations_inventoried_compares_with_the_whole_portfolio():
    """A child delegated to a zone of another partition is inventoried."""
    from toolkit.schemas import ALL

    discovery = ALL["discovery"].frame(
        [{"zone": "a.test", "source": "axfr", "server": "ns1", "outcome": "complete"}]
    )
    delegations = ALL["delegations"].frame(
        [{"parent": "a.test", "child": "b.a.test", "source": "axfr"}]
    )
    inventory = ALL["inventory"].frame([{"zone": "a.test"}])
    frames = {"discovery": discovery, "delegations": delegations, "inventory": inventory}

    def status(ctx: Context) -> str:
        (r,) = list(delegations_inventoried(ctx))
        return r.status

    assert status(Context(frames, PolicySet(), NOW)) == "fail"
    known = frozenset({"a.test", "b.a.test"})
    assert status(Context(frames, PolicySet(), NOW, portfolio_zones=known)) == "pass"


def test_cli_assess_streams_above_the_threshold(workspace, monkeypatch, capsys):
    from toolkit.cli.main import main

    argv = ["assess", "--workspace", str(workspace), "--now", "2026-11-28T12:00:00Z"]
    assert main([*argv, "--format", "json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("DNSSEC_AUDIT_STREAM_ABOVE", "13")  # the sample run has 14 zones
    assert main([*argv, "--format", "json", "--framework", "nis2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    out = Path(doc["streamed"]["out_dir"])
    assert out == workspace / "assessments" / doc["run_id"]
    assert doc["streamed"]["zones"] == 14 and (out / "summary.json").is_file()
    assert doc["requirements"] == [r for r in whole["requirements"] if r["framework"] == "nis2"]
    assert doc["scores"]["portfolio"] == whole["scores"]["portfolio"]
    assert "findings" not in doc  # in the parts: as large as the portfolio
    assert main([*argv]) == 0
    text = capsys.readouterr().out
    assert "streamed: 14 zones in 1 partition(s)" in text and str(out) in text
    monkeypatch.setenv("DNSSEC_AUDIT_STREAM_ABOVE", "14")  # not above: in memory, as before
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == whole
    monkeypatch.setenv("DNSSEC_AUDIT_STREAM_ABOVE", "many")
    assert main(argv) == 1
    assert "DNSSEC_AUDIT_STREAM_ABOVE" in capsys.readouterr().err


def _replicate():
    spec = importlib.util.spec_from_file_location(
        "bench_reports", ROOT / "bench" / "bench_reports.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.replicate


def test_replicated_run_in_several_partitions_equals_assess(tmp_path):
    source = tmp_path / "sample"
    store_sample_run(source, NOW - timedelta(hours=6))
    ws, portfolio, _ = _replicate()(source, tmp_path / "r", 300)
    whole = assess(None, ws, now=NOW)
    assert len(whole.frames["zones"]) >= 300
    s = assess_streaming(None, ws, now=NOW, out_dir=tmp_path / "out", partition_zones=64)
    assert s.partitions >= 5
    assert_same_assessment(whole, s.to_assessment())


@pytest.mark.lab
def test_collected_lab_run_streamed_equals_assess(lab, tmp_path):
    from toolkit.collect import CollectConfig, ResolverSpec, collect_run
    from toolkit.collect.discover import DiscoverConfig

    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )
    run = collect_run(SAMPLE, tmp_path / "ws", config, now=datetime.now(UTC),
                      discover=DiscoverConfig(walk=False))  # fmt: skip
    for name in ("nameservers", "dnskeys", "signatures", "ds_matches", "discovery"):
        assert name in run.frames and len(run.frames[name]), name
    assert "delegations" in run.frames  # the lab's zones delegate to no child: no rows
    now = datetime.now(UTC)
    whole = assess(SAMPLE, tmp_path / "ws", now=now)
    s = assess_streaming(SAMPLE, tmp_path / "ws", now=now, out_dir=tmp_path / "out",
                         partition_zones=3)  # fmt: skip
    assert s.partitions >= 4
    assert_same_assessment(whole, s.to_assessment())
