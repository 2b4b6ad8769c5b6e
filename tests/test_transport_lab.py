"""The transport checks on the real lab's rude servers: each zone of
:data:`toolkit.lab.network.RUDE_SERVERS` has a regular ``ns1`` (knotd) and an ``ns2`` behind
the network shim with one fault. Collected by both walk drivers (the asynchronous engine and
the sequential reference), the rude server's check fails, naming its address, and the healthy
synthetic zones pass every transport check.

The synthetic lab has no resolvers, so the four resolver families' answers are not recorded
here; the scenario catalog's zones (tests/test_scenarios.py, with the resolvers) all pass the
two high-severity transport checks there.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
import pytest
from conftest import SECOND_LAB_BASE

from toolkit.checks import Context, Registry
from toolkit.checks import transport as transport_checks
from toolkit.collect import CollectConfig, TransportConfig
from toolkit.collect.collector import collect, collect_sequential
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import lab_down, network
from toolkit.lab.synthetic import synthetic_up

pytestmark = pytest.mark.lab

ZONES = ("z00001.test", "truncating-server.test", "edns-formerr.test", "no-tcp.test")
"""A healthy zone and the rude servers whose faults these checks are about (the slow and the
RRL server are left out: their outcome depends on timing)."""


@pytest.fixture(scope="module")
def rude_lab(tmp_path_factory):
    lab_dir = tmp_path_factory.mktemp("rude")
    try:
        yield synthetic_up(lab_dir, zones_count=2, base=SECOND_LAB_BASE, rude=True)
    finally:
        lab_down(lab_dir)


def _findings(frames: dict[str, pd.DataFrame], now: datetime) -> dict[tuple[str, str], tuple]:
    registry = Registry()
    for check, func in transport_checks.CHECKS:
        registry.register(check, func)
    findings = registry.run(Context(frames, None, now))  # type: ignore[arg-type]
    return {(r["check_id"], r["zone"]): (r["status"], r["message"]) for _, r in findings.iterrows()}


@pytest.fixture(scope="module")
def runs(rude_lab):
    portfolio = load_portfolio(rude_lab.portfolio)
    inv = portfolio.inventory
    portfolio = replace(portfolio, inventory=inv[inv["zone"].isin(ZONES)].reset_index(drop=True))
    assert sorted(portfolio.inventory["zone"]) == sorted(ZONES)
    config = CollectConfig(
        trust_anchor=rude_lab.info.trust_anchor,
        root_hints=rude_lab.info.root_hints,
        transport=TransportConfig(timeout=1.0, tries=2),
        progress=False,
    )
    now = datetime.now(UTC)
    out = {}
    for engine, run in (("async", collect), ("sequential", collect_sequential)):
        frames = run(portfolio, config, now=now)
        out[engine] = (frames, _findings(frames, now))
    return out


def _rude(zone: str) -> str:
    fault = next(r.fault for r in network.RUDE_SERVERS if r.zone == zone)
    return f"{SECOND_LAB_BASE}.{next(r.host for r in network.RUDE_SERVERS if r.fault == fault)}"


@pytest.mark.parametrize("engine", ["async", "sequential"])
def test_the_server_that_refuses_tcp_fails_auth_tcp_answers(runs, engine):
    frames, found = runs[engine]
    status, message = found["auth_tcp_answers", "no-tcp.test"]
    assert status == "fail"
    assert message.startswith("1 of 2 ") and f"{_rude('no-tcp.test')} (ns2.no-tcp.test.)" in message
    # its UDP service is fine: EDNS and DO are handled
    assert found["edns_do_handled", "no-tcp.test"][0] == "pass"
    q = frames["queries"]
    tcp = q[(q["zone"] == "no-tcp.test") & (q["transport"] == "tcp")]
    rude = tcp[tcp["server"] == _rude("no-tcp.test")]
    assert len(rude) >= 1 and rude["rcode"].isna().all() and rude["error"].notna().all()


@pytest.mark.parametrize("engine", ["async", "sequential"])
def test_the_edns_intolerant_server_fails_edns_do_handled(runs, engine):
    frames, found = runs[engine]
    status, message = found["edns_do_handled", "edns-formerr.test"]
    assert status == "fail"
    assert f"{_rude('edns-formerr.test')} (ns2.edns-formerr.test.): FORMERR" in message
    # it never answered with authority over UDP: its TCP service is not judged, never passed
    assert found["auth_tcp_answers", "edns-formerr.test"][0] == "indeterminate"


@pytest.mark.parametrize("engine", ["async", "sequential"])
def test_the_truncating_server_passes_through_tcp_with_full_sizes(runs, engine):
    frames, found = runs[engine]
    for check in ("auth_tcp_answers", "edns_do_handled", "dnssec_answers_fit_1232"):
        assert found[check, "truncating-server.test"][0] == "pass", check
    ns = frames["nameservers"]
    mine = ns[(ns["zone"] == "truncating-server.test") & (ns["side"] == "child")]
    sizes = mine.set_index("server")["answer_bytes"]
    # the truncated UDP answer carries nothing; the size recorded is the full (TCP) answer's,
    # the same as the regular server's
    assert sizes[_rude("truncating-server.test")] == sizes[rude_lab_ns1(frames)] > 100


def rude_lab_ns1(frames) -> str:
    ns = frames["nameservers"]
    mine = ns[(ns["zone"] == "truncating-server.test") & (ns["side"] == "child")]
    return next(s for s in mine["server"] if s != _rude("truncating-server.test"))


@pytest.mark.parametrize("engine", ["async", "sequential"])
def test_a_healthy_zone_passes_every_transport_check(runs, engine):
    _, found = runs[engine]
    for check in ("auth_tcp_answers", "edns_do_handled", "dnssec_answers_fit_1232"):
        assert found[check, "z00001.test"][0] == "pass", (check, found[check, "z00001.test"])


def test_both_engines_send_the_tcp_probe_and_agree(runs):
    (a, fa), (s, fs) = runs["async"], runs["sequential"]
    assert {k: v[0] for k, v in fa.items()} == {k: v[0] for k, v in fs.items()}
    for frames in (a, s):
        q = frames["queries"]
        soa_tcp = q[(q["qtype"] == "SOA") & (q["transport"] == "tcp")]
        soa_tcp = soa_tcp[soa_tcp["qname"] == "z00001.test."]
        # one TCP-only SOA per address of the zone's two servers
        assert set(soa_tcp["server"]) == set(
            frames["nameservers"].query("zone == 'z00001.test' and side == 'child'")["server"]
        )
