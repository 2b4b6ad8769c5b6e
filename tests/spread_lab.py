"""The small spread lab that the cap tests share: 24 zones on 8 name-server addresses behind
the shim at 20 ms, collected with caps of 2 in flight and 40 q/s per address, and what the
shim must have seen of those caps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from conftest import SECOND_LAB_BASE

from toolkit.collect import CollectConfig, TransportConfig
from toolkit.lab import network as net
from toolkit.lab.synthetic import SyntheticLab, synthetic_up

IN_FLIGHT = 2
MAX_PER_S = 52
"""40 q/s + a burst of 2 is 42 in any second as sent; the shim stamps arrivals when it reads
them, and on a loaded machine a late read packs more into one window (118 seen for 116 in a
benchmark at load 7.5): a margin, still far below the 100 q/s the in-flight cap alone would
allow at 20 ms."""


def spread_lab(lab_dir: Path) -> SyntheticLab:
    """The lab: 24 zones, zone i on address pair i mod 4 of 8, every server 20 ms away."""
    return synthetic_up(
        lab_dir,
        zones_count=24,
        base=SECOND_LAB_BASE,
        ns_addresses=8,
        network=net.NetworkConditions(rtt_ms=20),
    )


def capped_config(syn: SyntheticLab) -> CollectConfig:
    """Collection from ``syn`` with caps of 2 in flight and 40 q/s per address."""
    return CollectConfig(
        trust_anchor=syn.info.trust_anchor,
        root_hints=syn.info.root_hints,
        progress=False,
        transport=TransportConfig(
            timeout=2.0, max_inflight_per_server=IN_FLIGHT, max_qps_per_server=40.0
        ),
    )


def shim_stats(syn: SyntheticLab, lab_dir: Path) -> dict[str, Any]:
    """What the lab's shim counted so far, per route."""
    shim = next(p for p in syn.info.processes if p.name == "shim")
    return net.request_stats(shim, lab_dir)


def assert_caps_held(
    routes: Mapping[str, Mapping[str, Any]], addresses: Iterable[str], bound: Iterable[str]
) -> None:
    """No address of ``addresses`` saw more than the caps; some address of ``bound`` saw the
    in-flight cap reached (the caps did bind there)."""
    for address in addresses:
        route = routes[address]
        assert route["max_in_flight"] <= IN_FLIGHT, (address, route)
        assert route["max_queries_per_s"] <= MAX_PER_S, (address, route)
    assert max(routes[a]["max_in_flight"] for a in bound) == IN_FLIGHT
