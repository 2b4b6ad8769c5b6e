"""The local DNSSEC lab: pure zone building, then the real Knot servers and Unbound."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from conftest import LAB_TEST_BASE, SECOND_LAB_BASE

from toolkit.errors import LabError
from toolkit.lab import (
    LAB_ZONES,
    SCENARIOS,
    LabAddresses,
    LabInfo,
    LabZone,
    lab_down,
    lab_status,
    lab_up,
    preflight,
    servers,
    zones,
)
from toolkit.lab.scenarios import AUDIT_ZONES

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
ZONE_IDS = [z.zone for z in LAB_ZONES]


def has_ds(lz: LabZone) -> bool:
    """Whether the parent publishes DS records for the zone (its recipe names some)."""
    return bool(zones.RECIPES[lz.scenario].ds)


# --- pure: catalog and zone building ------------------------------------------------------


@pytest.fixture(scope="module")
def tree() -> zones.LabTree:
    return zones.build_tree(LabAddresses.from_base("127.99.0"), zones.generate_lab_keys(), NOW)


def rrsets(zone: dns.zone.Zone, name: str, rdtype: str):
    node = zone.get_node(name)
    assert node is not None, name
    rtype = dns.rdatatype.from_text(rdtype)
    rrset = node.get_rdataset(zone.rdclass, rtype)
    sigs = node.get_rdataset(zone.rdclass, dns.rdatatype.RRSIG, rtype)
    return rrset, sigs


def validate_apex(zone: dns.zone.Zone, when: datetime) -> None:
    """Validate the apex SOA and DNSKEY sets of ``zone`` against its own DNSKEYs at ``when``."""
    origin = zone.origin
    dnskeys, _ = rrsets(zone, origin, "DNSKEY")
    for rdtype in ("SOA", "DNSKEY"):
        rrset, sigs = rrsets(zone, origin, rdtype)
        assert sigs is not None, f"{origin} {rdtype} is unsigned"
        dns.dnssec.validate(
            (origin, rrset), (origin, sigs), {origin: dnskeys}, now=when.timestamp()
        )


def test_catalog_is_exactly_the_agreed_zones():
    assert ZONE_IDS[:9] == [
        "corp.test",
        "payments.test",
        "xn--bcher-kva.test",
        "shop.test",
        "brand.test",
        "legacy.test",
        "events.test",
        "intranet.test",
        "marketing.test",
    ]
    assert {z.zone for z in AUDIT_ZONES} <= set(ZONE_IDS)  # one zone per audit scenario
    assert len(SCENARIOS) >= 26 and set(SCENARIOS) == set(zones.RECIPES)
    for lz in LAB_ZONES:
        sc = SCENARIOS[lz.scenario]
        assert (lz.expected_status, lz.expected_reasons, lz.description) == (
            sc.expected_status,
            sc.expected_reasons,
            sc.description,
        )
        unsigned_on_purpose = {"zone_signed_as_expected"} if not lz.expected_signed else set()
        assert lz.expected_failures == sc.expected_failures - unsigned_on_purpose
    assert dns.name.from_text("xn--bcher-kva.test").to_unicode() == "bücher.test."


def test_signed_zone_validates_at_now_and_fails_after_expiration(tree):
    corp = tree.zones["corp.test."]
    validate_apex(corp, NOW)
    with pytest.raises(dns.dnssec.ValidationFailure):
        validate_apex(corp, NOW + timedelta(days=30, minutes=1))
    with pytest.raises(dns.dnssec.ValidationFailure):
        validate_apex(corp, NOW - timedelta(hours=2))  # before inception


def test_signature_windows_follow_the_scenarios(tree):
    validate_apex(tree.zones["."], NOW)
    validate_apex(tree.zones["test."], NOW)
    shop = tree.zones["shop.test."]
    validate_apex(shop, NOW + timedelta(days=2, hours=23))
    with pytest.raises(dns.dnssec.ValidationFailure):
        validate_apex(shop, NOW + timedelta(days=3, minutes=1))
    events = tree.zones["events.test."]
    validate_apex(events, NOW - timedelta(days=20))  # it was valid once
    with pytest.raises(dns.dnssec.ValidationFailure):
        validate_apex(events, NOW)
    for name in ("intranet.test.", "marketing.test."):
        _, sigs = rrsets(tree.zones[name], name, "SOA")
        assert sigs is None
        assert tree.zones[name].get_node(name).get_rdataset(1, dns.rdatatype.DNSKEY) is None


def test_signed_zone_has_ksk_and_zsk(tree):
    dnskeys, _ = rrsets(tree.zones["corp.test."], "corp.test.", "DNSKEY")
    assert sorted(k.flags for k in dnskeys) == [256, 257]
    assert {k.algorithm for k in dnskeys} == {dns.dnssec.Algorithm.ECDSAP256SHA256}


def test_ds_mismatch_zone_ds_matches_no_dnskey(tree):
    ds_set, _ = rrsets(tree.zones["test."], "legacy.test.", "DS")
    dnskeys, _ = rrsets(tree.zones["legacy.test."], "legacy.test.", "DNSKEY")
    assert len(ds_set) == 1 and len(dnskeys) == 2
    published = {dns.dnssec.make_ds("legacy.test.", k, "SHA256") for k in dnskeys}
    assert published.isdisjoint(set(ds_set))
    # positive control: a secure zone's DS is its KSK's
    corp_ds, _ = rrsets(tree.zones["test."], "corp.test.", "DS")
    corp_keys, _ = rrsets(tree.zones["corp.test."], "corp.test.", "DNSKEY")
    ksk = next(k for k in corp_keys if k.flags == 257)
    assert set(corp_ds) == {dns.dnssec.make_ds("corp.test.", ksk, "SHA256")}


@pytest.mark.parametrize("lz", LAB_ZONES, ids=ZONE_IDS)
def test_parent_publishes_ds_per_scenario(tree, lz: LabZone):
    name = lz.zone + "."
    node = tree.zones["test."].get_node(name)
    ds = node.get_rdataset(1, dns.rdatatype.DS)
    assert (ds is not None) == has_ds(lz)
    if ds is not None:
        assert {d.digest_type for d in ds} == {d.digest_type for d in zones.RECIPES[lz.scenario].ds}


def test_trust_anchor_and_hints_text(tree):
    anchor = zones.trust_anchor_text(tree.root_ds)
    assert anchor.startswith(". 3600 IN DS ") and " 13 2 " in anchor
    root_keys, _ = rrsets(tree.zones["."], ".", "DNSKEY")
    ksk = next(k for k in root_keys if k.flags == 257)
    assert tree.root_ds == dns.dnssec.make_ds(".", ksk, "SHA256")
    hints = zones.root_hints_text(LabAddresses.from_base("127.99.0"))
    assert hints.splitlines() == [
        ". 3600000 IN NS a.root-servers.test.",
        "a.root-servers.test. 3600000 IN A 127.99.0.1",
    ]


def test_build_tree_rejects_naive_now():
    with pytest.raises(LabError, match="timezone-aware"):
        zones.build_tree(
            LabAddresses.from_base("127.99.0"), zones.generate_lab_keys(), datetime(2030, 1, 1)
        )


@pytest.mark.parametrize("base", ["127.53", "10.0.0", "127.53.0.1", "127.x.0", "127.300.0"])
def test_bad_base_is_rejected(base):
    with pytest.raises(LabError, match="base"):
        LabAddresses.from_base(base)


def test_key_pem_round_trip():
    key = zones.new_key(zones.KSK_FLAGS)
    again = zones.SigningKey.from_pem(key.private_pem(), zones.KSK_FLAGS)
    assert again.dnskey == key.dnskey and again.key_tag == key.key_tag


def test_p384_keys_are_seeded_and_round_trip():
    key = zones.new_key(zones.KSK_FLAGS, "seed", 14)
    assert key.dnskey.algorithm == 14 and len(key.dnskey.key) == 96  # two 48-byte coordinates
    assert zones.new_key(zones.KSK_FLAGS, "seed", 14).dnskey == key.dnskey
    again = zones.SigningKey.from_pem(key.private_pem(), zones.KSK_FLAGS, 14)
    assert again.dnskey == key.dnskey


@pytest.mark.parametrize("algorithm", [253, 100])
def test_opaque_keys_sign_with_well_formed_unverifiable_signatures(algorithm):
    """A private (253) or unassigned (100) algorithm: the RRSIG names the key's tag and
    algorithm, and the toolkit calls it unsupported_algorithm (neither valid nor invalid)."""
    from toolkit.collect.sigstatus import judge_signatures
    from toolkit.lab.signer import PRIVATE_ALGORITHM, sign_rrset

    key = zones.new_key(zones.KSK_FLAGS, "seed", algorithm)
    assert key.dnskey.algorithm == algorithm
    assert key.dnskey.key.startswith(PRIVATE_ALGORITHM.to_wire()) == (algorithm == 253)
    origin = dns.name.from_text("opaque.test.")
    keys = dns.rrset.from_rdata_list(origin, 3600, [key.dnskey])
    now = datetime(2026, 12, 1, tzinfo=UTC)
    sig = sign_rrset(keys, key.use("all"), origin, now - timedelta(hours=1), now + timedelta(1))
    rrsig = sig[0]
    assert (rrsig.algorithm, rrsig.key_tag, rrsig.labels) == (algorithm, key.key_tag, 2)
    [status] = judge_signatures(keys, sig, keys, origin, now)
    assert status.status == "unsupported_algorithm"


def test_knot_config_refuses_quotes(tmp_path):
    with pytest.raises(LabError, match="quote"):
        servers.knot_config(
            name="x",
            address="127.99.0.1",
            rundir=tmp_path / 'a"b',
            dbdir=tmp_path,
            zones={},
        )


# --- live: the lab's daemons -------------------------------------------------------------


def ask(
    address: str, qname: str, rdtype: str, *, recursive: bool = False, ad: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype, want_dnssec=True)
    if not recursive:
        query.flags &= ~dns.flags.RD
    if ad:
        query.flags |= dns.flags.AD
    response, _ = dns.query.udp_with_fallback(query, address, timeout=3)
    return response


def soa_serial(address: str, zone: str) -> int:
    response = ask(address, zone, "SOA")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA, f"{address} is not authoritative for {zone}"
    rrset = response.find_rrset(response.answer, dns.name.from_text(zone), 1, dns.rdatatype.SOA)
    return rrset[0].serial


@pytest.mark.lab
def test_root_and_test_servers_are_authoritative(lab: LabInfo):
    assert soa_serial(lab.servers["root"], ".") == soa_serial(lab.servers["test"], "test.")


@pytest.mark.lab
@pytest.mark.parametrize("lz", LAB_ZONES, ids=ZONE_IDS)
def test_both_child_servers_serve_the_same_zone(lab: LabInfo, lz: LabZone):
    variant = zones.RECIPES[lz.scenario].ns2  # serial-mismatch: ns2 serves an older copy
    delta = variant.serial_delta if variant is not None else 0
    ns1, ns2 = soa_serial(lab.servers["ns1"], lz.zone), soa_serial(lab.servers["ns2"], lz.zone)
    assert ns2 == (ns1 + delta) & 0xFFFFFFFF


@pytest.mark.lab
def test_signed_zone_serves_ksk_and_zsk(lab: LabInfo):
    response = ask(lab.servers["ns1"], "corp.test", "DNSKEY")
    keys = response.find_rrset(
        response.answer, dns.name.from_text("corp.test"), 1, dns.rdatatype.DNSKEY
    )
    assert sorted(k.flags for k in keys) == [256, 257]


@pytest.mark.lab
@pytest.mark.parametrize("lz", LAB_ZONES, ids=ZONE_IDS)
def test_test_server_publishes_ds_per_scenario(lab: LabInfo, lz: LabZone):
    response = ask(lab.servers["test"], lz.zone, "DS")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    ds = [r for r in response.answer if r.rdtype == dns.rdatatype.DS]
    if has_ds(lz):
        assert ds, f"test. publishes no DS for {lz.zone}"
    else:
        assert not ds
        # the denial is provable: an NSEC at the delegation without DS in its bitmap
        nsec = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC]
        assert nsec and nsec[0].name == dns.name.from_text(lz.zone)
        assert dns.rdatatype.DS not in {
            t for w, bitmap in nsec[0][0].windows for t in _types(w, bitmap)
        }


def _types(window: int, bitmap: bytes) -> list[int]:
    return [
        window * 256 + i * 8 + bit
        for i, byte in enumerate(bitmap)
        for bit in range(8)
        if byte & (0x80 >> bit)
    ]


UNBOUND_STATUS = {"ds-revoked-ksk": "secure"}
"""Scenarios where Unbound (1.17) departs from the expected status, and what it says instead:
it validates through a KSK whose REVOKE bit is set, which RFC 5011 §2.1 forbids (the other
three families say bogus; tests/test_scenarios.py RESOLVERS_MAY_DIFFER)."""


@pytest.mark.lab
@pytest.mark.parametrize("lz", LAB_ZONES, ids=ZONE_IDS)
def test_unbound_validates_per_expected_status(lab: LabInfo, lz: LabZone):
    address, _ = lab.resolver("unbound")
    response = ask(address, lz.zone, "SOA", recursive=True, ad=True)
    expected = UNBOUND_STATUS.get(lz.scenario, lz.expected_status)
    if expected == "bogus":
        assert response.rcode() == dns.rcode.SERVFAIL
        return
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer
    assert bool(response.flags & dns.flags.AD) == (expected == "secure")


@pytest.mark.lab
def test_lab_json_and_files(lab: LabInfo):
    assert LabInfo.load(lab.dir) == lab
    doc = json.loads((lab.dir / "lab.json").read_text())
    assert doc["format_version"] == 1
    assert doc["resolvers"] == {
        "unbound": f"{LAB_TEST_BASE}.53@53",
        "bind": f"{LAB_TEST_BASE}.54@53",
        "knot-resolver": f"{LAB_TEST_BASE}.55@53",
        "powerdns": f"{LAB_TEST_BASE}.56@53",
    }
    assert doc["servers"] == {
        "root": f"{LAB_TEST_BASE}.1",
        "test": f"{LAB_TEST_BASE}.2",
        "ns1": f"{LAB_TEST_BASE}.3",
        "ns2": f"{LAB_TEST_BASE}.4",
    }
    assert [z["zone"] for z in doc["zones"]] == ZONE_IDS
    assert lab.trust_anchor.read_text().startswith(". 3600 IN DS ")
    assert f"{LAB_TEST_BASE}.1" in lab.root_hints.read_text()
    assert (lab.dir / "keys" / "corp.test.ksk.pem").stat().st_mode & 0o077 == 0
    assert (lab.dir / "keys" / "legacy.test.decoy.pem").exists()
    for p in lab.processes:
        assert (lab.dir / "logs" / f"{p.name}.log").exists()


@pytest.mark.lab
def test_lab_status_all_running_and_answering(lab: LabInfo):
    status = lab_status(lab.dir)
    assert list(status.columns) == ["name", "pid", "address", "running", "answering"]
    assert list(status["name"]) == [
        "knot-root",
        "knot-test",
        "knot-ns1",
        "knot-ns2",
        "unbound",
        "bind",
        "knot-resolver",
        "powerdns",
    ]
    assert status["running"].all() and status["answering"].all()


@pytest.mark.lab
def test_lab_up_refuses_an_address_in_use(lab: LabInfo, tmp_path: Path):
    with pytest.raises(LabError, match=re.escape(f"{lab.base}.1") + ".*--base"):
        lab_up(tmp_path / "other", base=lab.base)


def _gone(pid: int, cmdline: tuple[str, ...]) -> bool:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return tuple(a.decode() for a in raw.split(b"\0")[:-1]) != cmdline


@pytest.mark.lab
def test_lab_down_stops_everything_once(tmp_path: Path):
    assert preflight() is None, preflight()
    lab_dir = tmp_path / "lab2"
    try:
        first = lab_up(lab_dir, base=SECOND_LAB_BASE)
        second = lab_up(lab_dir, base=SECOND_LAB_BASE)  # restarts the lab running there
        assert all(_gone(p.pid, p.cmdline) for p in first.processes)
        assert lab_status(lab_dir)["running"].all()
        stopped = lab_down(lab_dir)
        assert sorted(stopped) == sorted(p.name for p in second.processes)
        assert all(_gone(p.pid, p.cmdline) for p in second.processes)
        status = lab_status(lab_dir)
        assert len(status) == 8 and not status["running"].any()
        assert lab_down(lab_dir) == []
        assert all(p.stopped for p in LabInfo.load(lab_dir).processes)
    finally:
        lab_down(lab_dir)
    assert lab_down(tmp_path / "no-such-lab") == []
    assert lab_status(tmp_path / "no-such-lab").empty


@pytest.mark.lab
def test_failed_start_stops_everything_and_shows_the_log(tmp_path: Path, monkeypatch):
    assert preflight() is None, preflight()
    monkeypatch.setattr(servers, "unbound_config", lambda **_: "server:\n    no-such-option: 1\n")
    lab_dir = tmp_path / "broken"
    with pytest.raises(LabError, match=r"unbound exited during startup(.|\n)*no-such-option"):
        lab_up(lab_dir, base=SECOND_LAB_BASE, timeout=5)
    info = LabInfo.load(lab_dir)
    assert [p.name for p in info.processes][:4] == [
        "knot-root",
        "knot-test",
        "knot-ns1",
        "knot-ns2",
    ]
    assert all(p.stopped and _gone(p.pid, p.cmdline) for p in info.processes)
    assert lab_down(lab_dir) == []
