"""The probe plan: pure, so every rule of which question goes to which server is a unit test."""

from __future__ import annotations

import random

import dns.name
import pytest

from toolkit.collect.plan import (
    APEX_TYPES,
    NODATA_TYPE,
    NXDOMAIN_TYPE,
    plan_zone,
    random_label,
)

ZONE = dns.name.from_text("corp.test.")
PARENT = dns.name.from_text("test.")
PARENT_SERVERS = [("ns.nic.test.", "127.0.2.2"), ("ns2.nic.test.", "127.0.2.5")]
ZONE_SERVERS = [
    ("ns1.corp.test.", "127.0.2.3"),
    ("ns1.corp.test.", "2001:db8::3"),
    ("ns2.corp.test.", "127.0.2.4"),
]


@pytest.fixture
def plan():
    return plan_zone(
        ZONE,
        parent=PARENT,
        parent_servers=PARENT_SERVERS,
        zone_servers=ZONE_SERVERS,
        nx_label="_audit-0123456789",
    )


def test_every_parent_server_is_asked_for_the_ds_and_the_first_for_the_delegation(plan):
    parent = plan.for_side("parent")
    assert [(p.server, p.qtype, p.purpose) for p in parent] == [
        (PARENT_SERVERS[0], "DS", "ds"),
        (PARENT_SERVERS[0], "NS", "delegation"),
        (PARENT_SERVERS[1], "DS", "ds"),
    ]
    assert all(p.qname == ZONE and not p.gate for p in parent)


def test_every_address_of_every_zone_server_gets_the_apex_denial_and_tcp_probes(plan):
    child = plan.for_side("child")
    assert len(child) == len(ZONE_SERVERS) * (len(APEX_TYPES) + 3)
    for server in ZONE_SERVERS:
        mine = [p for p in child if p.server == server]
        assert [p.qtype for p in mine] == [*APEX_TYPES, NXDOMAIN_TYPE, NODATA_TYPE, "SOA"]
        assert [p.purpose for p in mine] == ["apex"] * 6 + ["nxdomain", "nodata", "tcp"]
        # SOA first, and only SOA gates the server's other probes
        assert mine[0].qtype == "SOA" and mine[0].gate
        assert not any(p.gate for p in mine[1:])
        # the last one asks the apex SOA again over TCP alone (RFC 7766 §5), the rest UDP
        assert [p.tcp for p in mine] == [False] * 8 + [True]
        assert mine[-1].qname == ZONE
    assert set(APEX_TYPES) == {"SOA", "DNSKEY", "NS", "CDS", "CDNSKEY", "NSEC3PARAM"}


def test_denial_probes_ask_a_fresh_name_and_a_type_the_apex_lacks(plan):
    nx = [p for p in plan.probes if p.purpose == "nxdomain"]
    nodata = [p for p in plan.probes if p.purpose == "nodata"]
    assert {p.qname for p in nx} == {dns.name.from_text("_audit-0123456789.corp.test.")}
    assert plan.nx_name == nx[0].qname and plan.nx_name.parent() == ZONE
    assert {(p.qname, p.qtype) for p in nodata} == {(ZONE, "TYPE65280")}


def test_parent_side_is_first_and_the_plan_counts_its_queries(plan):
    sides = [p.side for p in plan.probes]
    assert sides == sorted(sides, key=lambda s: s != "parent")
    assert plan.queries == 3 + 3 * 9


def test_the_trust_anchors_zone_has_no_parent_probe():
    root = plan_zone(
        dns.name.root,
        parent=None,
        parent_servers=[],
        zone_servers=[("a.root-servers.test.", "127.0.2.1")],
        nx_label="_audit-x",
    )
    assert root.for_side("parent") == []
    assert len(root.probes) == 9 and root.nx_name == dns.name.from_text("_audit-x.")


def test_no_server_no_probe():
    empty = plan_zone(ZONE, parent=PARENT, parent_servers=[], zone_servers=[], nx_label="x")
    assert empty.probes == ()


@pytest.mark.parametrize("label", ["a.b", ""])
def test_the_non_existent_label_must_be_one_label(label):
    with pytest.raises(ValueError, match="single DNS label"):
        plan_zone(ZONE, parent=PARENT, parent_servers=[], zone_servers=[], nx_label=label)


def test_random_labels_are_seeded_and_look_unused():
    a = random_label(random.Random(7))
    assert a == random_label(random.Random(7)) != random_label(random.Random(8))
    assert a.startswith("_audit-") and len(a) == len("_audit-") + 10
