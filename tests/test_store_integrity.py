"""Signed, hash-chained run manifests; damaged runs quarantined, not fatal."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from toolkit.cli.main import main
from toolkit.errors import StoreError
from toolkit.schemas import ZONES
from toolkit.store.runs import SIGNED, UNSIGNED, Store
from toolkit.store.signing import FINGERPRINT, KEY_ENV, PRIVATE_KEY, PUBLIC_KEY, SIGNING_DIR

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def zones_frame(status: str = "bogus", n: int = 2) -> pd.DataFrame:
    return ZONES.frame(
        {
            "zone": f"z{i}.test",
            "zone_unicode": f"z{i}.test",
            "status": status,
            "risk_tier": 1,
            "min_rrsig_days_left": 10.5,
            "checked_at": NOW,
            "expected_signed": True,
        }
        for i in range(n)
    )


def three_runs(store: Store) -> list[str]:
    return [
        store.write(
            {"zones": zones_frame()}, parameters={"k": k}, now=NOW + timedelta(hours=k)
        ).run_id
        for k in range(3)
    ]


def _writable(path):
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return path


def status_of(store: Store) -> dict[str, str]:
    runs = store.list_runs()
    return dict(zip(runs["run_id"], runs["status"], strict=True))


def test_runs_are_signed_and_chained_with_a_workspace_key(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    store = Store(tmp_path)
    a, b, c = three_runs(store)
    key = tmp_path / SIGNING_DIR / PRIVATE_KEY
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    fp = (tmp_path / SIGNING_DIR / FINGERPRINT).read_text().strip()
    assert fp == store.key_fingerprint() and fp.startswith("SHA256:") and len(fp) == 71
    ms = [store.read_manifest(r) for r in (a, b, c)]
    assert [m["sequence"] for m in ms] == [1, 2, 3]
    assert ms[0]["previous_manifest_sha256"] is None
    import hashlib

    for prev, m in zip((a, b), ms[1:], strict=True):
        digest = hashlib.sha256((tmp_path / "runs" / prev / "manifest.json").read_bytes())
        assert m["previous_manifest_sha256"] == digest.hexdigest()
    assert all(m["signing_key"] == fp for m in ms)
    assert set(status_of(store).values()) == {SIGNED}
    assert store.load(b).integrity == SIGNED


def test_the_key_can_live_outside_the_workspace(tmp_path, monkeypatch):
    offline = tmp_path / "media" / "key.pem"
    monkeypatch.setenv(KEY_ENV, str(offline))
    store = Store(tmp_path / "ws")
    store.write({"zones": zones_frame()}, parameters={}, now=NOW)
    assert stat.S_IMODE(offline.stat().st_mode) == 0o600
    assert not (tmp_path / "ws" / SIGNING_DIR / PRIVATE_KEY).exists()
    assert (tmp_path / "ws" / SIGNING_DIR / PUBLIC_KEY).is_file()
    # reading needs only the public key; writing without the key is refused, not re-keyed
    monkeypatch.delenv(KEY_ENV)
    assert Store(tmp_path / "ws").load().integrity == SIGNED
    with pytest.raises(StoreError, match="no signing key, but the workspace has a public key"):
        Store(tmp_path / "ws").write({"zones": zones_frame()}, parameters={}, now=NOW)


def test_a_consistent_rewrite_of_file_and_manifest_is_refused(tmp_path):
    store = Store(tmp_path)
    a, b, c = three_runs(store)
    run = tmp_path / "runs" / c
    # the attack of issue 12: bogus zones → secure, and the new SHA-256 put into the manifest
    forged = run / "zones.parquet"
    _writable(forged)
    zones_frame("secure").to_parquet(forged, index=False)
    mpath = _writable(run / "manifest.json")
    doc = json.loads(mpath.read_text())
    from toolkit.store.runs import sha256_file

    doc["files"]["zones.parquet"]["sha256"] = sha256_file(forged)
    mpath.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    with pytest.raises(StoreError, match="signature does not match"):
        store.load(c)
    assert status_of(store)[c].startswith("damaged: ")
    assert store.resolve("latest") == b  # the damaged run is never "latest"


def test_a_run_signed_by_another_workspace_is_refused(tmp_path):
    mine, theirs = Store(tmp_path / "mine"), Store(tmp_path / "theirs")
    three_runs(mine)
    other = theirs.write({"zones": zones_frame()}, parameters={}, now=NOW).run_id
    shutil.copytree(tmp_path / "theirs" / "runs" / other, tmp_path / "mine" / "runs" / other)
    assert "signed by key" in status_of(mine)[other]
    with pytest.raises(StoreError, match="not the workspace's"):
        mine.load(other)


def test_deleted_runs_break_the_chain(tmp_path):
    store = Store(tmp_path)
    a, b, c = three_runs(store)
    shutil.rmtree(tmp_path / "runs" / b)
    assert status_of(store)[c].startswith(f"{SIGNED}; chain: sequence 3 does not follow")
    assert status_of(store)[a] == SIGNED
    # the last run deleted: the signed chain head still names it
    store2 = Store(tmp_path / "two")
    x, y, z = three_runs(store2)
    shutil.rmtree(tmp_path / "two" / "runs" / z)
    assert f"the chain head names run {z}" in status_of(store2)[y]
    # a forged chain head is noticed too
    head = tmp_path / "two" / SIGNING_DIR / "chain-head"
    head.write_text(head.read_text().replace(z, y, 1))
    assert "missing or forged" in status_of(store2)[y]


def test_a_stripped_signature_does_not_pass_for_an_old_unsigned_run(tmp_path):
    store = Store(tmp_path)
    a, b, c = three_runs(store)
    run = tmp_path / "runs" / b
    _writable(run)
    (run / "manifest.json.sig").unlink()
    assert "signature missing" in status_of(store)[b]
    mpath = _writable(run / "manifest.json")
    doc = json.loads(mpath.read_text())
    for k in ("signing_key", "sequence", "previous_manifest_sha256"):
        del doc[k]
    mpath.write_text(json.dumps(doc))
    statuses = status_of(store)
    assert statuses[b] == UNSIGNED  # looks old, but the chain shows a run went missing
    assert statuses[c].startswith(f"{SIGNED}; chain:")


def test_runs_from_before_signing_still_load(tmp_path):
    store = Store(tmp_path)
    run = store.write({"zones": zones_frame()}, parameters={}, now=NOW)
    # make it what the previous version wrote: no signature, no chain fields, no key
    _writable(run.path)
    (run.path / "manifest.json.sig").unlink()
    mpath = _writable(run.path / "manifest.json")
    doc = json.loads(mpath.read_text())
    for k in ("signing_key", "sequence", "previous_manifest_sha256"):
        del doc[k]
    mpath.write_text(json.dumps(doc))
    shutil.rmtree(tmp_path / SIGNING_DIR)
    loaded = Store(tmp_path).load()
    assert loaded.integrity == UNSIGNED == "unsigned (created before signing)"
    assert status_of(Store(tmp_path)) == {run.run_id: UNSIGNED}
    # a new run starts the chain beside it
    new = Store(tmp_path).write({"zones": zones_frame()}, parameters={}, now=NOW + timedelta(1))
    assert new.manifest["sequence"] == 1
    assert status_of(Store(tmp_path)) == {run.run_id: UNSIGNED, new.run_id: SIGNED}


def test_a_damaged_manifest_is_quarantined_not_fatal(tmp_path, capsys):
    store = Store(tmp_path)
    a, b, c = three_runs(store)
    mpath = _writable(tmp_path / "runs" / c / "manifest.json")
    mpath.write_text(json.dumps({"format_version": 1}))  # the KeyError of issue 12
    assert main(["runs", "--workspace", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "damaged" in captured.out and a in captured.out and b in captured.out
    assert sum(c in line for line in captured.err.splitlines()) == 1  # named once
    assert main(["zones", "--workspace", str(tmp_path), "--run", a, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["zones", "--workspace", str(tmp_path)]) == 0  # latest intact run: b
    capsys.readouterr()
    assert main(["zones", "--workspace", str(tmp_path), "--run", c]) == 1
    err = capsys.readouterr().err
    assert "incomplete manifest" in err and "Traceback" not in err
    mpath.write_text("{not json")
    assert "unreadable manifest" in status_of(store)[c]


def test_an_unexpected_file_in_a_run_is_flagged(tmp_path):
    store = Store(tmp_path)
    a, b, c = three_runs(store)
    (_writable(tmp_path / "runs" / b) / "zones-secure.parquet").write_bytes(b"PAR1")
    assert "unexpected file(s) in the run: zones-secure.parquet" in status_of(store)[b]
    with pytest.raises(StoreError, match="unexpected file"):
        store.load(b)


def test_openssl_verifies_a_run_manifest_signature(tmp_path):
    store = Store(tmp_path)
    run = store.write({"zones": zones_frame()}, parameters={}, now=NOW)
    cmd = [
        "openssl", "pkeyutl", "-verify", "-pubin",
        "-inkey", str(tmp_path / SIGNING_DIR / PUBLIC_KEY),
        "-rawin", "-in", str(run.path / "manifest.json"),
        "-sigfile", str(run.path / "manifest.json.sig"),
    ]  # fmt: skip
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    forged = tmp_path / "forged.json"
    forged.write_bytes(
        (run.path / "manifest.json").read_bytes().replace(b"zones.parquet", b"zonez.parquet")
    )
    cmd[cmd.index("-in") + 1] = str(forged)
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


CLOCK = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def test_a_run_dated_beyond_the_clock_is_simulated_and_never_latest(tmp_path):
    store = Store(tmp_path)
    real = store.write({"zones": zones_frame()}, parameters={}, now=CLOCK, clock=CLOCK)
    skewed = store.write(  # within the skew: an ordinary run
        {"zones": zones_frame()}, parameters={}, now=CLOCK + timedelta(hours=23), clock=CLOCK
    )
    future = store.write(  # the `--now 2100-01-01` of issue 12
        {"zones": zones_frame()}, parameters={}, now=datetime(2100, 1, 1, tzinfo=UTC), clock=CLOCK
    )
    assert future.manifest["simulated"] is True
    assert skewed.manifest["simulated"] is False and real.manifest["simulated"] is False
    runs = store.list_runs()
    assert list(runs["run_id"]) == [real.run_id, skewed.run_id, future.run_id]  # by time
    assert list(runs["simulated"]) == [False, False, True]
    assert store.resolve("latest") == skewed.run_id
    assert store.load().run_id == skewed.run_id
    # a later real run is latest again; a past run (a late import) is an ordinary run
    past = store.write(
        {"zones": zones_frame()}, parameters={}, now=CLOCK - timedelta(days=400), clock=CLOCK
    )
    assert past.manifest["simulated"] is False
    assert store.resolve("latest") == skewed.run_id


def test_a_workspace_of_simulated_runs_still_has_a_latest(tmp_path):
    store = Store(tmp_path)
    ids = [
        store.write(
            {"zones": zones_frame()},
            parameters={"simulated": True, "simulation": "drill:x"},
            now=CLOCK + timedelta(days=d),
            clock=CLOCK,
        ).run_id
        for d in (0, 10)
    ]
    assert store.list_runs()["simulated"].tolist() == [True, True]
    assert store.resolve("latest") == ids[-1]


@pytest.mark.parametrize("year", [1, 1989, 2200, 9999])
def test_out_of_range_run_times_are_refused(tmp_path, year):
    with pytest.raises(StoreError, match="out of range"):
        Store(tmp_path).write(
            {"zones": zones_frame()}, parameters={}, now=datetime(year, 6, 1, tzinfo=UTC)
        )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_key_history_leaves_a_damaged_run_out(tmp_path):
    from governance_fakes import store_sample_run

    from toolkit.history.key_sets import load_key_history

    runs = [store_sample_run(tmp_path, NOW + timedelta(days=d)) for d in (0, 1, 2)]
    mpath = _writable(runs[1].path / "manifest.json")  # altered: the signature fails
    mpath.write_text(mpath.read_text().replace('"fake": true', '"fake": false'))
    assert status_of(Store(tmp_path))[runs[1].run_id].startswith("damaged: ")
    key_sets = load_key_history(Store(tmp_path))
    assert set(key_sets["run_id"]) == {runs[0].run_id, runs[2].run_id}


def test_one_store_reads_the_key_it_created_and_lists_damaged_runs_in_time_order(tmp_path):
    store = Store(tmp_path)
    assert store.list_runs().empty  # before any key exists
    a, b, c = three_runs(store)  # the same instance, now with a key
    mpath = _writable(tmp_path / "runs" / b / "manifest.json")
    mpath.write_text(mpath.read_text().replace('"k": 1', '"k": 7'))
    runs = store.list_runs()
    assert list(runs["run_id"]) == [a, b, c]
    assert runs["status"].tolist()[0] == SIGNED and runs["status"][1].startswith("damaged: ")


def test_the_audit_runs_of_the_period_leave_a_damaged_run_out(tmp_path):
    from toolkit.reports.audit import runs_in_period

    store = Store(tmp_path)
    a, b, c = three_runs(store)
    mpath = _writable(tmp_path / "runs" / b / "manifest.json")
    mpath.write_text(mpath.read_text().replace('"k": 1', '"k": 7'))
    listed = runs_in_period(Store(tmp_path), "2026Q4", c)
    assert list(listed["run_id"]) == [a, c]
