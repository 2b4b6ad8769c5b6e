"""Collection on a Dask cluster (``collect --cluster``): the same run as one machine's, and a
worker killed mid-run costs a retry, not the run."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from spread_lab import assert_caps_held, capped_config, shim_stats, spread_lab

from toolkit.checks import run_checks
from toolkit.cli.main import main
from toolkit.collect import CollectConfig, ResolverSpec, TransportConfig, collect, collect_run
from toolkit.collect.cluster import (
    ClusterCollectionError,
    ClusterSpec,
    collect_cluster,
    collect_cluster_parts,
    split_by_address,
)
from toolkit.collect.resolvers import check_vantage
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import lab_down
from toolkit.lab.synthetic import ns_pair
from toolkit.reports.audit_html import resolvers_html
from toolkit.schemas import RESOLVER_CHECKS
from toolkit.store.runs import Store

SAMPLE = "data/sample-portfolio"


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("local", ClusterSpec()),
        ("local:3", ClusterSpec(workers=3)),
        ("tcp://10.0.0.5:8786", ClusterSpec(address="tcp://10.0.0.5:8786")),
        (" tls://sched.example:8786 ", ClusterSpec(address="tls://sched.example:8786")),
    ],
)
def test_cluster_specs_parse(text, spec):
    assert ClusterSpec.parse(text) == spec
    assert ClusterSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("text", ["", "local:0", "local:x", "lokal", "10.0.0.5:8786", "tcp://"])
def test_bad_cluster_specs_are_refused_with_the_expected_forms(text):
    with pytest.raises(ValueError, match="local:N|1 to 256"):
        ClusterSpec.parse(text)


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "inventory.csv").write_text("zone,owner,risk_tier\nexample.test,ops,1\n")
    lab_free = [
        "collect",
        "--portfolio",
        str(tmp_path / "p"),
        "--workspace",
        str(tmp_path / "ws"),
        "--no-resolvers",
        "--cluster",
        "tcp://127.0.0.1:9",  # discard port: nothing listens
    ]
    assert main(lab_free) != 0
    err = capsys.readouterr().err
    assert "Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert not (tmp_path / "ws").exists() or not any((tmp_path / "ws").iterdir())


def _config(lab) -> CollectConfig:
    return CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )


def _verdicts(frames: dict[str, pd.DataFrame], policies, now) -> tuple[pd.DataFrame, set]:
    zones = (
        frames["zones"][["zone", "status", "reasons", "has_ds", "signed", "algorithms"]]
        .sort_values("zone")
        .reset_index(drop=True)
    )
    findings = run_checks(frames, policies, now=now, pillars=("technical",))
    return zones, set(findings[["check_id", "zone", "status"]].itertuples(index=False))


@pytest.fixture(scope="module")
def single_machine(lab):
    portfolio = load_portfolio(SAMPLE)
    now = datetime.now(UTC)
    frames = collect(portfolio, _config(lab), now=now)
    return portfolio, now, frames


@pytest.mark.lab
def test_a_two_worker_cluster_gives_the_single_machine_run(lab, single_machine):
    portfolio, now, single = single_machine
    frames = collect_cluster(portfolio, _config(lab), now=now, cluster="local:2", partition_zones=3)
    assert list(frames["inventory"]["zone"]) == list(portfolio.inventory["zone"])
    assert list(frames["zones"]["zone"]) == list(single["zones"]["zone"])  # inventory order
    zones, findings = _verdicts(frames, portfolio.policies, now)
    want_zones, want_findings = _verdicts(single, portfolio.policies, now)
    pd.testing.assert_frame_equal(zones, want_zones)
    assert findings == want_findings
    for name in ("dnskeys", "ds_matches", "resolver_checks"):
        cols = ["zone", "server", "key_tag"] if name != "resolver_checks" else ["zone", "resolver"]
        got = frames[name][cols].drop_duplicates().sort_values(cols).reset_index(drop=True)
        want = single[name][cols].drop_duplicates().sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.lab
def test_a_worker_killed_mid_run_still_gives_a_complete_run(lab, single_machine):
    portfolio, now, single = single_machine
    killed: list[int] = []

    def kill_a_busy_worker(index: int, client) -> None:
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if not busy:
            return
        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    frames = collect_cluster(
        portfolio,
        _config(lab),
        now=now,
        cluster="local:2",
        partition_zones=2,
        on_partition_done=kill_a_busy_worker,
    )
    assert killed, "no worker was busy when the first partition came back: nothing was tested"
    zones, findings = _verdicts(frames, portfolio.policies, now)
    want_zones, want_findings = _verdicts(single, portfolio.policies, now)
    pd.testing.assert_frame_equal(zones, want_zones)
    assert findings == want_findings


@pytest.mark.lab
def test_collect_cluster_on_the_command_line_stores_a_run_that_names_its_cluster(lab, tmp_path):
    ws = tmp_path / "ws"
    argv = ["collect", "--portfolio", SAMPLE, "--workspace", str(ws), "--lab", str(lab.dir)]
    assert main([*argv, "--no-progress", "--cluster", "local:2"]) == 0
    run = Store(ws).load("latest")
    assert run.manifest["parameters"]["cluster"] == "local:2"
    assert run.manifest["parameters"]["cluster_split"]["workers"] == 2
    assert len(run.frames["zones"]) == len(load_portfolio(SAMPLE).inventory)
    assert _debris(ws) == []  # the staging folder of the parts is gone


def _debris(ws: Path) -> list[str]:
    runs = ws / "runs"
    return (
        sorted(p.name for p in runs.iterdir() if p.name.startswith(".tmp-"))
        if runs.is_dir()
        else []
    )


@pytest.mark.lab
def test_a_run_stored_from_parts_is_the_run_of_the_merged_frames(lab, single_machine, tmp_path):
    """The client assembles each frame from the partitions' parts, one row group per part;
    stored and loaded back, every frame equals what merge_frames gives from the same parts
    (records deduplicated, dtypes, order), and both equal the single machine's zones."""
    portfolio, now, single = single_machine
    store = Store(tmp_path / "ws")
    with store.staging() as staging:
        parts = collect_cluster_parts(
            portfolio, _config(lab), now=now, cluster="local:2", staging=staging, partition_zones=3
        )
        assert len(parts.partitions) >= 4
        merged = parts.merged()
        streamed = store.write(parts.frames(), parameters={}, now=now)
        whole = store.write(merged, parameters={}, now=now)
        assert staging.is_dir()
        sizes = [len(pd.read_parquet(p["queries"])) for p in parts.partitions]
    assert _debris(tmp_path / "ws") == []
    a = store.load(streamed.run_id)
    b = store.load(whole.run_id)
    assert set(a.frames) == set(b.frames)
    for name in a.frames:
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name], obj=name)
    # one row group per non-empty part, in partition order
    queries = pq.ParquetFile(streamed.path / "queries.parquet")
    assert [queries.metadata.row_group(i).num_rows for i in range(queries.num_row_groups)] == [
        n for n in sizes if n
    ]
    # records: each zone's evidence once, as merge_frames keeps it
    assert not a.frames["records"].empty
    zones, _ = _verdicts(a.frames, portfolio.policies, now)
    want, _ = _verdicts(single, portfolio.policies, now)
    pd.testing.assert_frame_equal(zones, want)


def test_a_failed_partition_stores_nothing_and_leaves_no_staging(tmp_path, monkeypatch):
    """collect --cluster whose partition keeps failing: no run, and no parts left behind."""
    from toolkit.collect import cluster as cluster_mod

    anchor, hints = _vanishing_anchor(tmp_path, monkeypatch, cluster_mod)
    config = CollectConfig(trust_anchor=anchor, root_hints=hints, progress=False)
    ws = tmp_path / "ws"
    with pytest.raises(ClusterCollectionError, match=r"partition \d+"):
        collect_run(SAMPLE, ws, config, now=datetime.now(UTC), cluster="local:1")
    assert _debris(ws) == []
    assert Store(ws).list_runs().empty


def _vanishing_anchor(tmp_path, monkeypatch, cluster_mod):
    """A trust anchor that is checked in this process, then gone before any worker reads it."""
    anchor = tmp_path / "anchor.ds"
    hints = tmp_path / "hints"
    anchor.write_text(". 3600 IN DS 20326 8 2 " + "ab" * 32 + "\n")
    hints.write_text(". 3600 IN NS a.root-servers.net.\na.root-servers.net. 3600 IN A 127.0.0.9\n")
    real = cluster_mod.load_trust_anchor

    def check_then_remove(path):
        out = real(path)
        anchor.unlink(missing_ok=True)  # gone before any worker reads it
        return out

    monkeypatch.setattr(cluster_mod, "load_trust_anchor", check_then_remove)
    return anchor, hints


def test_a_partition_that_keeps_failing_names_itself(tmp_path, monkeypatch):
    """A task that raises on every try (here: the trust anchor is gone after the check in this
    process, so every worker fails to read it) stops the run with the partition named."""
    from toolkit.collect import cluster as cluster_mod

    portfolio = load_portfolio(SAMPLE)
    anchor, hints = _vanishing_anchor(tmp_path, monkeypatch, cluster_mod)
    config = CollectConfig(trust_anchor=anchor, root_hints=hints, progress=False)
    with pytest.raises(ClusterCollectionError, match=r"partition \d+ \(\d+ zones, .* 1 retries"):
        collect_cluster(portfolio, config, now=datetime.now(UTC), cluster="local:1", retries=1)


# --- vantage points ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["eu-west", "dc1", "a.b_c"])
def test_vantage_names(name):
    assert check_vantage(name) == name


@pytest.mark.parametrize("name", ["", "-x", "eu west", "x" * 64, "a/b", "<b>"])
def test_bad_vantage_names_are_refused(name):
    with pytest.raises(ValueError, match="vantage"):
        check_vantage(name)


def test_runs_stored_before_vantages_still_load(tmp_path):
    """resolver_checks gained ``vantage``: a stored frame without it is read with nulls."""
    old = RESOLVER_CHECKS.empty().drop(columns=["vantage"])
    RESOLVER_CHECKS.check(old)
    assert RESOLVER_CHECKS.cast(old).columns[-1] == "vantage"
    with pytest.raises(ValueError, match="missing \\['zone'\\]"):
        RESOLVER_CHECKS.check(old.drop(columns=["zone"]))  # only optional columns may lack


@pytest.fixture()
def vantage_cluster(tmp_path):
    """A scheduler and two `dask worker` processes (started as a user would start them on
    two networks), one with the resource vantage-east and one with vantage-west."""
    from distributed import LocalCluster

    scheduler = LocalCluster(n_workers=0, dashboard_address=None, silence_logs=logging.ERROR)
    procs = []
    try:
        for name in ("east", "west"):
            procs.append(
                subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "dask"),
                        "worker",
                        scheduler.scheduler_address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--resources",
                        f"vantage-{name}=1",
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp_path / name),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        with Client(scheduler.scheduler_address) as client:
            client.wait_for_workers(2, timeout=60)
        yield scheduler.scheduler_address
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        scheduler.close()


@pytest.mark.lab
def test_resolvers_are_asked_from_every_vantage_point(lab, single_machine, vantage_cluster):
    portfolio, now, single = single_machine
    frames = collect_cluster(
        portfolio, _config(lab), now=now, cluster=vantage_cluster, partition_zones=4
    )
    zones, findings = _verdicts(frames, portfolio.policies, now)
    want_zones, _ = _verdicts(single, portfolio.policies, now)
    pd.testing.assert_frame_equal(zones, want_zones)  # the walk ran once, as on one machine

    rc = frames["resolver_checks"]
    assert set(rc["vantage"]) == {"east", "west"}
    want = (
        single["resolver_checks"][["zone", "resolver", "resolver_status"]]
        .sort_values(["zone", "resolver"])
        .reset_index(drop=True)
    )
    for vantage in ("east", "west"):
        seen = (
            rc[rc["vantage"] == vantage][["zone", "resolver", "resolver_status"]]
            .sort_values(["zone", "resolver"])
            .reset_index(drop=True)
        )
        pd.testing.assert_frame_equal(seen, want)  # every question, once per vantage

    # the checks name where a resolver's answer was seen from
    found = run_checks(frames, portfolio.policies, now=now, pillars=("technical",))
    rows = found[found["check_id"] == "resolvers_agree_with_validation"]
    rows = rows[rows["status"].isin(["pass", "fail"])]  # judged on the answers (evidence)
    assert len(rows) > 5
    assert rows["evidence"].str.contains(" from east").all()
    assert rows["evidence"].str.contains(" from west").all()

    # and the audit report shows validation per vantage
    html = resolvers_html({"resolvers": []}, rc)
    assert "Seen from" in html and ">east<" in html and ">west<" in html


@pytest.mark.lab
def test_collect_vantage_on_one_machine_tags_every_answer(lab, tmp_path):
    ws = tmp_path / "ws"
    argv = ["collect", "--portfolio", SAMPLE, "--workspace", str(ws), "--lab", str(lab.dir)]
    assert main([*argv, "--no-progress", "--workers", "1", "--vantage", "lab-host"]) == 0
    run = Store(ws).load("latest")
    assert set(run.frames["resolver_checks"]["vantage"]) == {"lab-host"}
    assert run.manifest["parameters"]["vantage"] == "lab-host"


# --- politeness split by address ------------------------------------------------------------


def test_the_caps_are_split_by_the_partitions_asking_each_address():
    config = CollectConfig(
        transport=TransportConfig(max_inflight_per_server=16, max_qps_per_server=100.0)
    )
    uses = [{"r", "a"}, {"r", "a"}, {"r", "a", "b"}, {"r"}]
    configs, split = split_by_address(config, 2, uses)
    assert split["r"]["tasks_at_once"] == 2 and split["a"]["tasks_at_once"] == 2
    assert split["b"] == {
        "partitions": 1,
        "tasks_at_once": 1,
        "max_inflight_per_server": 16,
        "max_qps_per_server": 100.0,
    }
    equal = (8, 50.0)
    assert [
        (c.transport.max_inflight_per_server, c.transport.max_qps_per_server) for c in configs
    ] == [equal] * 4
    # only partition 2 asks b: the whole cap there; every other address the equal share
    assert [c.transport.server_caps for c in configs] == [(), (), (("b", 16, 100.0),), ()]
    # lifted caps stay lifted
    free = CollectConfig(transport=TransportConfig(max_inflight_per_server=0, max_qps_per_server=0))
    configs, _ = split_by_address(free, 2, uses)
    assert all(c.transport.server_caps == () for c in configs)


@pytest.mark.lab
def test_split_caps_hold_at_every_address_as_the_shim_measured_them(tmp_path):
    """24 zones on 8 addresses behind the shim; zone i is served by pair i mod 4, and the
    inventory is ordered pair by pair, so each of 4 partitions asks its own pair. With caps of
    2 in flight and 40 q/s on 2 workers, a pair asked by one partition gets the whole cap in
    that task (the equal share would be 1 and 20 q/s) and the shim never saw any address with
    more than 2 in flight nor much more than 40 q/s (+ the burst, + a loaded machine's margin,
    as test_synthetic_spread allows)."""
    lab_dir = tmp_path / "syn"
    try:
        syn = spread_lab(lab_dir)
        pairs = {z: ns_pair(i, syn.ns_addresses) for i, z in enumerate(syn.zones)}
        portfolio = load_portfolio(syn.portfolio)
        inv = portfolio.inventory
        order = sorted(
            range(len(inv)),
            key=lambda i: (syn.ns_addresses.index(pairs[inv["zone"].iloc[i]][0]), i),
        )
        portfolio = replace(portfolio, inventory=inv.iloc[order].reset_index(drop=True))
        config = capped_config(syn)
        store = Store(tmp_path / "ws")
        with store.staging() as staging:
            parts = collect_cluster_parts(
                portfolio,
                config,
                now=datetime.now(UTC),
                cluster="local:2",
                staging=staging,
                partition_zones=6,
                known_addresses=pairs,
            )
            run = store.write(
                parts.frames(),
                parameters={"cluster_split": parts.parameters},
                now=datetime.now(UTC),
            )
        stats = shim_stats(syn, lab_dir)
    finally:
        lab_down(lab_dir)
    split = parts.parameters
    assert len(parts.partitions) == 4
    assert split["equal_share"] == {"max_inflight_per_server": 1, "max_qps_per_server": 20.0}
    for address in syn.ns_addresses:
        assert split["by_address"][address]["tasks_at_once"] == 1
        assert split["by_address"][address]["max_qps_per_server"] == 40.0
    recorded = Store(tmp_path / "ws").read_manifest(run.run_id)["parameters"]["cluster_split"]
    assert recorded["by_address"][syn.ns_addresses[0]]["partitions"] == 1
    zones = Store(tmp_path / "ws").load(run.run_id).frames["zones"]
    assert set(zones["status"]) == {"secure"}, zones[["zone", "reasons"]]
    # every address within the caps, and the split took effect: a partition's own pair saw 2
    # in flight (the equal share is 1)
    assert_caps_held(stats["routes"], stats["routes"], bound=syn.ns_addresses)
