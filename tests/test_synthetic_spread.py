"""The synthetic lab over many name-server addresses (as real portfolios sit on providers'
name-server sets), and the collector's per-address caps as the network shim measured them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import SECOND_LAB_BASE
from spread_lab import assert_caps_held, capped_config, shim_stats, spread_lab

from toolkit.cli.main import main
from toolkit.collect import CollectConfig, collect
from toolkit.errors import LabError
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import lab_down
from toolkit.lab import network as net
from toolkit.lab.synthetic import MAX_NS_ADDRESSES, ns_hosts, ns_pair, synthetic_up


def test_ns_hosts_are_distinct_and_keep_clear_of_the_lab_plan():
    hosts = ns_hosts(MAX_NS_ADDRESSES)
    assert len(set(hosts)) == MAX_NS_ADDRESSES and hosts[:2] == [3, 4]
    assert not {1, 2, 9, *range(21, 26), *range(53, 57)} & set(hosts)  # root, test, dead, rude
    assert max(hosts) + net.BACKEND_OFFSET <= 254  # every one has a backend for the shim
    assert ns_hosts(2) == [3, 4]  # the two-address lab as before


@pytest.mark.parametrize("count", [0, 3, MAX_NS_ADDRESSES + 2])
def test_bad_ns_address_counts_are_refused(count):
    with pytest.raises(LabError, match="name-server addresses must be an even number"):
        ns_hosts(count)


def test_the_command_line_refuses_an_odd_count_in_one_line_touching_nothing(tmp_path, capsys):
    lab_dir = tmp_path / "never"
    argv = ["lab", "synthetic", "--dir", str(lab_dir), "--base", SECOND_LAB_BASE]
    assert main([*argv, "--ns-addresses", "3"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "dnssec-audit: error: name-server addresses must be an even number from 2 to 64, got 3"
    ]
    assert not lab_dir.exists()


def test_zones_take_the_pairs_in_turn():
    addrs = ["a", "b", "c", "d", "e", "f"]
    assert [ns_pair(i, addrs) for i in range(4)] == [("a", "b"), ("c", "d"), ("e", "f"), ("a", "b")]


@pytest.mark.lab
def test_zones_spread_over_the_addresses_and_the_caps_hold_at_each(tmp_path):
    """24 zones on 8 addresses behind the shim (20 ms): every zone is secure and asked at
    exactly its own pair; with caps of 2 in flight and 40 q/s the shim never saw an address
    with more than 2 queries in flight, nor much more than 40 + 2 (the burst) in any second."""
    lab_dir = tmp_path / "syn"
    try:
        syn = spread_lab(lab_dir)
        assert len(set(syn.ns_addresses)) == 8
        frames = collect(load_portfolio(syn.portfolio), capped_config(syn), now=datetime.now(UTC))
        stats = shim_stats(syn, lab_dir)
    finally:
        lab_down(lab_dir)
    assert set(frames["zones"]["status"]) == {"secure"}, frames["zones"][["zone", "reasons"]]
    q = frames["queries"]
    child = q[q["server"].isin(syn.ns_addresses)]  # only the children are served there
    for i, zone in enumerate(syn.zones):
        asked = set(child.loc[child["zone"] == zone, "server"])
        assert asked == set(ns_pair(i, syn.ns_addresses)), (zone, asked)
    assert set(child["server"]) == set(syn.ns_addresses)
    for address in syn.ns_addresses:
        assert stats["routes"][address]["queries_udp"] > 0
    # the caps bound (without them a zone's 9 probes per address, TCP among them, go out together)
    assert_caps_held(stats["routes"], syn.ns_addresses, bound=syn.ns_addresses)


@pytest.mark.lab
def test_no_live_zone_is_indeterminate_under_two_percent_loss(tmp_path):
    """300 zones behind the shim with 2 % of UDP queries lost (seeded): the transport's tries
    and the walk's second round for a question lost at a live server (the gate probe, the cut
    discovery, the DS at the parent) leave no live zone indeterminate."""
    lab_dir = tmp_path / "lossy"
    try:
        syn = synthetic_up(
            lab_dir,
            zones_count=300,
            base=SECOND_LAB_BASE,
            ns_addresses=4,
            network=net.NetworkConditions(rtt_ms=10, loss=0.02, seed=7),
        )
        config = CollectConfig(
            trust_anchor=syn.info.trust_anchor, root_hints=syn.info.root_hints, progress=False
        )
        frames = collect(load_portfolio(syn.portfolio), config, now=datetime.now(UTC))
        stats = shim_stats(syn, lab_dir)
    finally:
        lab_down(lab_dir)
    assert sum(r["dropped_loss"] for r in stats["routes"].values()) > 50  # the loss was real
    zones = frames["zones"]
    assert list(zones["status"].unique()) == ["secure"], zones[zones["status"] != "secure"]
