"""The run store: immutable, hashed, atomic snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from toolkit.errors import StoreError
from toolkit.schemas import ZONES
from toolkit.store.runs import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def zones_frame(n: int = 3) -> pd.DataFrame:
    return ZONES.frame(
        {
            "zone": f"z{i}.test",
            "zone_unicode": f"z{i}.test",
            "status": "secure",
            "risk_tier": 1 + i % 3,
            "min_rrsig_days_left": 10.5,
            "checked_at": NOW,
            "expected_signed": True,
        }
        for i in range(n)
    )


def test_round_trip_keeps_rows_dtypes_and_manifest(tmp_path):
    store = Store(tmp_path)
    other = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    run = store.write({"zones": zones_frame(), "extra": other}, parameters={"p": 1}, now=NOW)
    loaded = store.load(run.run_id)
    pd.testing.assert_frame_equal(loaded["zones"], zones_frame())
    pd.testing.assert_frame_equal(loaded["extra"], other)
    m = loaded.manifest
    assert m["run_id"] == run.run_id and m["parameters"] == {"p": 1}
    assert m["created_at"] == NOW.isoformat()
    assert m["files"]["zones.parquet"]["rows"] == 3
    assert len(m["files"]["zones.parquet"]["sha256"]) == 64


def test_failure_mid_write_leaves_no_run(tmp_path, monkeypatch):
    store = Store(tmp_path)
    calls = {"n": 0}
    real = pd.DataFrame.to_parquet

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", flaky)
    with pytest.raises(OSError, match="disk full"):
        store.write({"zones": zones_frame(), "b": zones_frame()}, parameters={}, now=NOW)
    assert store.list_runs().empty
    assert list((tmp_path / "runs").iterdir()) == []  # temporary folder removed too
    with pytest.raises(StoreError, match="no runs"):
        store.load()


def test_an_interrupted_write_is_not_listed_and_is_cleaned_by_the_next(tmp_path):
    store = Store(tmp_path)
    ghost = tmp_path / "runs" / ".tmp-20261128T000000Z-abcdef"
    ghost.mkdir(parents=True)
    (ghost / "zones.parquet").write_bytes(b"half")
    assert store.list_runs().empty
    store.write({"zones": zones_frame()}, parameters={}, now=NOW)
    assert not ghost.exists() and len(store.list_runs()) == 1


def test_altered_evidence_is_refused(tmp_path):
    store = Store(tmp_path)
    run = store.write({"zones": zones_frame()}, parameters={}, now=NOW)
    path = run.path / "zones.parquet"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="does not match the SHA-256"):
        store.load(run.run_id)
    path.unlink()
    with pytest.raises(StoreError, match="missing"):
        store.load(run.run_id)


def test_latest_prefix_and_ambiguity(tmp_path):
    store = Store(tmp_path)
    a = store.write({"zones": zones_frame(1)}, parameters={}, now=NOW)
    b = store.write({"zones": zones_frame(2)}, parameters={}, now=NOW + timedelta(hours=1))
    assert store.resolve("latest") == b.run_id
    assert store.resolve(a.run_id[:16]) == a.run_id
    assert list(store.list_runs()["run_id"]) == [a.run_id, b.run_id]
    with pytest.raises(StoreError, match="2 runs"):
        store.resolve("2026")
    with pytest.raises(StoreError, match="no run"):
        store.resolve("1999")
    with pytest.raises(StoreError, match="already exists"):
        store.write({"zones": zones_frame()}, parameters={}, now=NOW, run_id=a.run_id)


def test_schema_mismatch_and_bad_manifest_are_errors(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(StoreError, match="missing"):
        store.write({"zones": zones_frame().drop(columns=["status"])}, parameters={}, now=NOW)
    with pytest.raises(StoreError, match="timezone-aware"):
        store.write({"zones": zones_frame()}, parameters={}, now=datetime(2026, 1, 1))
    run = store.write({"zones": zones_frame()}, parameters={}, now=NOW)
    manifest = run.path / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["format_version"] = 99
    manifest.chmod(0o644)
    manifest.write_text(json.dumps(doc))
    with pytest.raises(StoreError, match="format_version 99"):
        store.load(run.run_id)


def test_a_frame_given_as_parts_is_stored_as_the_whole_frame(tmp_path):
    """FrameParts: one row group per non-empty part, in order; loaded back, the frame equals
    the parts concatenated (dtypes of the schema), and the manifest counts its rows."""
    import pyarrow.parquet as pq

    from toolkit.store.runs import FrameParts

    whole = zones_frame()
    pieces = [whole.iloc[:1], whole.iloc[1:1], whole.iloc[1:]]
    store = Store(tmp_path)
    run = store.write(
        {"zones": FrameParts(lambda: iter(pieces)), "empty": FrameParts(lambda: iter([]))},
        parameters={},
        now=NOW,
    )
    assert "zones" not in run.frames  # not held whole
    loaded = store.load(run.run_id)
    pd.testing.assert_frame_equal(loaded["zones"], whole)
    assert loaded.manifest["files"]["zones.parquet"]["rows"] == len(whole)
    f = pq.ParquetFile(run.path / "zones.parquet")
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [1, 2]
    assert loaded["empty"].empty


def test_a_part_off_its_schema_is_refused_and_nothing_is_stored(tmp_path):
    from toolkit.store.runs import FrameParts

    bad = zones_frame().drop(columns=["zone"])
    store = Store(tmp_path)
    with pytest.raises(StoreError, match="part 1"):
        store.write(
            {"zones": FrameParts(lambda: iter([zones_frame(), bad]))}, parameters={}, now=NOW
        )
    assert store.list_runs().empty
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith(".tmp-")]


def test_staging_is_removed_whatever_happens(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.staging() as staging:
        (staging / "p000000-zones.parquet").write_bytes(b"x")
        raise RuntimeError("a partition failed")
    assert not staging.exists()
    assert store.list_runs().empty
