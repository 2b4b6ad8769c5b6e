"""The parallel collector: the same frames as one sequential collection, and a portfolio with
dead servers that still finishes, each dead zone an observation (no timing assertions here:
speed belongs to bench/bench_collect.py)."""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import pandas as pd
import pytest
from conftest import SECOND_LAB_BASE

from toolkit.collect import CollectConfig, ResolverSpec, TransportConfig, collect
from toolkit.collect.parallel import (
    WORKER_GC_THRESHOLD,
    _worker_init,
    collect_parallel,
    merge_frames,
)
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import lab_down, lab_status
from toolkit.lab.synthetic import dead_zones, synthetic_up, zone_names
from toolkit.schemas import EVIDENCE, QUERIES, RECORDS, RESOLVER_CHECKS, ZONES

SAMPLE = "data/sample-portfolio"
TIMING = {"latency_ms", "queried_at", "checked_at", "min_rrsig_days_left"}
# every shard asks about the zones above again (their own denial probes included): the only
# extra queries of a parallel run
ANCESTORS = {".", "test.", "_audit-*.", "_audit-*.test."}
RANDOM_LABEL = r"_audit-[0-9a-z]+"  # the denial probe's random name differs at every run


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in df.columns if c not in TIMING]].reset_index(drop=True)


def _random_labels(df: pd.DataFrame) -> pd.DataFrame:
    text = df.select_dtypes(include=["string", "object"]).columns
    return df.assign(**{c: df[c].str.replace(RANDOM_LABEL, "_audit-*", regex=True) for c in text})


def _normalised(queries: pd.DataFrame) -> pd.DataFrame:
    random = queries["qname"].str.replace(RANDOM_LABEL, "_audit-*", regex=True)
    return queries.assign(qname=random)


# -- pure parts ----------------------------------------------------------------------------


def test_synthetic_names_and_dead_zones_are_spread_evenly():
    names = zone_names(40)
    assert names[0] == "z00001.test" and names[-1] == "z00040.test"
    dead = dead_zones(names, 0.1)
    assert len(dead) == 4
    positions = sorted(names.index(n) for n in dead)
    assert all(b - a == 10 for a, b in zip(positions, positions[1:], strict=False))
    assert dead_zones(names, 0.0) == frozenset()


def test_merge_keeps_each_zones_records_once_in_shard_order():
    def rec(*zones: str) -> pd.DataFrame:
        return RECORDS.frame({"zone": z, "rrtype": "SOA", "rdata": z} for z in zones)

    shards = [
        {"records": rec(".", "test", "a.test"), "zones": ZONES.frame([{"zone": "a.test"}])},
        {"records": rec(".", "test", "b.test"), "zones": ZONES.frame([{"zone": "b.test"}])},
    ]
    out = merge_frames(pd.DataFrame({"zone": ["a.test", "b.test"]}), shards)
    assert list(out["records"]["zone"]) == [".", "test", "a.test", "b.test"]
    assert list(out["zones"]["zone"]) == ["a.test", "b.test"]
    for schema in (ZONES, RECORDS, RESOLVER_CHECKS, QUERIES):
        assert list(out[schema.name].columns) == schema.names
    assert out["queries"].empty and out["resolver_checks"].empty
    assert shards == [{}, {}]  # the parts were let go as they were merged


def test_a_worker_process_is_set_up_for_the_collection_and_an_import_changes_nothing():
    """_worker_init (the pool's initializer) freezes what the worker imported and collects
    the youngest generation less often; importing the toolkit leaves the garbage collector
    of any other process as it is."""
    import toolkit.collect.parallel  # noqa: F401

    assert gc.get_threshold()[0] != WORKER_GC_THRESHOLD
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_worker_init,
                             initargs=(os.getpid(),)) as pool:  # fmt: skip
        threshold = pool.submit(gc.get_threshold).result()
        frozen = pool.submit(gc.get_freeze_count).result()
    assert threshold == (WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])
    assert frozen > 10_000  # the imported modules' objects: never walked again


def test_workers_must_be_positive():
    with pytest.raises(ValueError):
        collect_parallel(load_portfolio(SAMPLE), CollectConfig(), now=datetime.now(UTC), workers=0)


# -- against the regular lab ---------------------------------------------------------------


@pytest.mark.lab
def test_two_workers_give_the_frames_of_one_sequential_collection(lab):
    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )
    portfolio = load_portfolio(SAMPLE)
    now = datetime.now(UTC)
    seq = collect(portfolio, config, now=now)
    par = collect_parallel(portfolio, config, now=now, workers=2)

    pd.testing.assert_frame_equal(par["inventory"], seq["inventory"])
    for name in ("zones", "records", "resolver_checks"):
        a, b = _stable(par[name]), _stable(seq[name])
        if name == "resolver_checks":  # a resolver's EDE for a cached failure may differ
            ede = ["ede_code", "ede_text"]
            a, b = a.drop(columns=ede), b.drop(columns=ede)
        pd.testing.assert_frame_equal(a, b, obj=name)
        assert list(par[name].dtypes) == list(seq[name].dtypes)
    for schema in EVIDENCE:  # rows of inventory zones only: concatenated as they are
        a, b = (_stable(_random_labels(f[schema.name])) for f in (par, seq))
        pd.testing.assert_frame_equal(a, b, obj=schema.name)
    days = par["zones"]["min_rrsig_days_left"] - seq["zones"]["min_rrsig_days_left"]
    assert (days.abs().fillna(0) <= 0.01).all()

    q_seq, q_par = (_normalised(f["queries"]) for f in (seq, par))

    def own(q: pd.DataFrame) -> pd.DataFrame:  # in the order answers came: sorted
        q = _stable(q[~q["qname"].isin(ANCESTORS)])
        return q.sort_values(list(q.columns)).reset_index(drop=True)

    pd.testing.assert_frame_equal(own(q_par), own(q_seq), obj="queries")
    # the shards asked the ancestors again, never less than one walk did
    key = ["qname", "qtype", "server"]
    anc_seq = q_seq[q_seq["qname"].isin(ANCESTORS)].groupby(key).size()
    anc_par = q_par[q_par["qname"].isin(ANCESTORS)].groupby(key).size()
    assert (anc_par.reindex(anc_seq.index) >= anc_seq).all()
    assert list(q_par.columns) == QUERIES.names


# -- a synthetic lab with dead servers -----------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    lab_dir = tmp_path_factory.mktemp("synthetic")
    try:
        yield synthetic_up(lab_dir, zones_count=40, base=SECOND_LAB_BASE, dead_fraction=0.1)
    finally:
        lab_down(lab_dir)


@pytest.mark.lab
def test_dead_servers_make_zones_indeterminate_and_the_run_completes(synthetic):
    assert lab_status(synthetic.info.dir)["answering"].all()
    config = CollectConfig(
        trust_anchor=synthetic.info.trust_anchor,
        root_hints=synthetic.info.root_hints,
        transport=TransportConfig(timeout=0.3, tries=1),
        progress=False,
    )
    portfolio = load_portfolio(synthetic.portfolio)
    frames = collect_parallel(portfolio, config, now=datetime.now(UTC), workers=2)

    zones = frames["zones"].set_index("zone")
    assert list(zones.index) == list(synthetic.zones)
    assert len(synthetic.dead) == 4
    dead = zones.loc[sorted(synthetic.dead)]
    assert (dead["status"] == "indeterminate").all()
    assert (dead["reasons"] == "NO_RESPONSE").all()
    assert (dead["ns_answered"] == 0).all() and (dead["ns_servers"] == 2).all()
    live = zones.drop(index=sorted(synthetic.dead))
    assert (live["status"] == "secure").all(), live[live["status"] != "secure"]
    q = frames["queries"]
    to_dead = q[q["server"] == synthetic.dead_address]
    assert len(to_dead) >= 2 * len(synthetic.dead)
    # each timed out, or was not sent once the address had timed out too often in a row
    down = to_dead["error"].str.startswith("server down (")
    assert ((to_dead["error"] == "timeout") | down).all()
    assert (to_dead["error"] == "timeout").sum() >= 1
