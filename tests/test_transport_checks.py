"""The transport checks on recorded messages: TCP service (auth_tcp_answers), answer sizes
against 1232 bytes (dnssec_answers_fit_1232) and EDNS/DO handling (edns_do_handled), each edge
case built from the lab's own signed zones answered offline (tests/dns_fakes.py), every answer
passed through its wire form as the collector receives it."""

from __future__ import annotations

from datetime import UTC, datetime

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pandas as pd
import pytest
from dns_fakes import offline_evidence

from toolkit.checks import Context, Registry
from toolkit.checks import transport as transport_checks
from toolkit.collect.evidence import zone_evidence_rows
from toolkit.collect.validate import Verdict
from toolkit.inputs.policy import PolicySet
from toolkit.lab import LabAddresses, zones
from toolkit.schemas import EVIDENCE, NAMESERVERS, ZONES

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
ADDRS = LabAddresses.from_base("127.99.0")
NS1, NS2 = ("ns1.", ADDRS.ns1), ("ns2.", ADDRS.ns2)
IDS = ("auth_tcp_answers", "dnssec_answers_fit_1232", "edns_do_handled")


@pytest.fixture(scope="module")
def tree() -> zones.LabTree:
    return zones.build_tree(ADDRS, zones.generate_lab_keys(), NOW)


def collected(tree, zone: str, edit=None, *, ns2_serves: bool = True):
    """The evidence of lab zone ``zone`` at ns1 and ns2 (``edit``: see offline_evidence)."""
    test = tree.zones["test."]
    parent = Verdict("secure", [], keys=test.get_rrset(test.origin, dns.rdatatype.DNSKEY))
    served_zone = tree.zones[zone + "."]
    served = {NS1: served_zone, NS2: served_zone if ns2_serves else None}
    return offline_evidence(zone + ".", served, test, parent, NOW, edit=edit)


def frames_of(ev) -> dict[str, pd.DataFrame]:
    rows = zone_evidence_rows(ev, None)
    frames = {s.name: s.frame(rows[s.name]) for s in EVIDENCE}
    zone = ev.name.to_text(omit_final_dot=True)
    frames["zones"] = ZONES.frame([{"zone": zone, "status": ev.verdict.status}])
    return frames


def run(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[str, str, str]]:
    """check id -> (status, message, evidence) for the run's one zone."""
    registry = Registry()
    for check, func in transport_checks.CHECKS:
        registry.register(check, func)
    findings = registry.run(Context(frames, PolicySet({}, None), NOW))
    assert len(findings) == len(IDS)
    return {
        r["check_id"]: (r["status"], r["message"], r["evidence"]) for _, r in findings.iterrows()
    }


def at(server, qtype: str, change):
    """An ``edit`` changing the answers of ``server`` to ``qtype`` (a list: to any of them)."""
    qtypes = qtype if isinstance(qtype, (list, tuple)) else [qtype]

    def edit(s, q, r):
        return change(r) if s == server and q in qtypes else r

    return edit


def test_a_healthy_zone_passes_every_transport_check_and_records_true_sizes(tree):
    ev = collected(tree, "corp.test")
    frames = frames_of(ev)
    out = run(frames)
    assert {k: v[0] for k, v in out.items()} == dict.fromkeys(IDS, "pass")
    ns = frames["nameservers"]
    child = ns[ns["side"] == "child"]
    assert list(child["tcp_answered"]) == [True, True]
    assert list(child["edns_opt"]) == [True, True] and list(child["do_rrsigs"]) == [True, True]
    # the size recorded is the answer's length on the wire, as received
    dnskey = next(r for r in ev.results if r.probe.qtype == "DNSKEY" and r.probe.side == "child")
    assert child["answer_bytes"].iloc[0] == len(dnskey.response.to_wire()) > 0
    parent = ns[ns["side"] == "parent"].iloc[0]
    ds = next(r for r in ev.results if r.probe.qtype == "DS")
    assert parent["answer_bytes"] == len(ds.response.to_wire())
    assert (ns["largest_bytes"] >= ns["answer_bytes"]).all()


def test_a_server_that_refuses_tcp_fails_and_is_named(tree):
    out = run(frames_of(collected(tree, "corp.test", at(NS2, "tcp", lambda r: None))))
    status, message, evidence = out["auth_tcp_answers"]
    assert status == "fail"
    assert message.startswith("1 of 2 ") and f"{NS2[1]} (ns2.): refused" in message
    assert f"nameservers[child {NS2[1]} tcp_answered=False tcp_error=refused]" in evidence
    assert out["edns_do_handled"][0] == "pass"  # UDP was fine


def test_a_non_authoritative_tcp_answer_is_no_tcp_service(tree):
    def refused(r):
        r.flags &= ~dns.flags.AA
        r.answer.clear()
        r.set_rcode(dns.rcode.REFUSED)
        return r

    status, message, _ = run(frames_of(collected(tree, "corp.test", at(NS1, "tcp", refused))))[
        "auth_tcp_answers"
    ]
    assert status == "fail" and f"{NS1[1]} (ns1.): REFUSED" in message


def test_tcp_of_a_server_that_did_not_answer_udp_is_indeterminate_never_pass(tree):
    # ns2 does not serve the zone (REFUSED over UDP): its TCP service is not judged
    out = run(frames_of(collected(tree, "corp.test", ns2_serves=False)))
    status, message, _ = out["auth_tcp_answers"]
    assert status == "indeterminate"
    assert "1 did not answer over UDP either" in message and NS2[1] in message


def test_formerr_to_edns_fails_edns_do_handled(tree):
    def formerr(r):  # what an EDNS-intolerant middlebox sends: FORMERR, no OPT, no data
        r.use_edns(False)
        r.flags &= ~dns.flags.AA
        r.answer.clear()
        r.authority.clear()
        r.set_rcode(dns.rcode.FORMERR)
        return r

    edit = at(NS2, list(zones_qtypes()), formerr)
    frames = frames_of(collected(tree, "corp.test", edit))
    out = run(frames)
    status, message, evidence = out["edns_do_handled"]
    assert status == "fail"
    assert message == (
        f"1 of 2 authoritative server addresses mishandle EDNS or DO: {NS2[1]} (ns2.): "
        "FORMERR to a query with EDNS."
    )
    assert f"nameservers[child {NS2[1]} rcode=FORMERR edns_opt=False do_rrsigs=-]" in evidence


def zones_qtypes():
    return ("SOA", "DNSKEY", "NS", "CDS", "CDNSKEY", "NSEC3PARAM", "A", "TYPE65280", "tcp")


def test_an_answer_without_opt_fails_as_edns_stripped(tree):
    def strip(r):
        r.use_edns(False)
        return r

    out = run(frames_of(collected(tree, "corp.test", at(NS1, "SOA", strip))))
    status, message, _ = out["edns_do_handled"]
    assert status == "fail" and f"{NS1[1]} (ns1.): answer without an OPT record" in message


def test_a_server_dropping_rrsigs_with_do_fails(tree):
    def drop(r):
        r.answer = [rr for rr in r.answer if rr.rdtype != dns.rdatatype.RRSIG]
        return r

    out = run(frames_of(collected(tree, "corp.test", at(NS2, ["SOA", "DNSKEY"], drop))))
    status, message, _ = out["edns_do_handled"]
    assert status == "fail"
    assert f"{NS2[1]} (ns2.): no RRSIG in its apex answers though DO was set" in message
    assert NS1[1] not in message


def test_one_missing_rrsig_is_the_zones_fault_not_do_handling(tree):
    # the SOA unsigned at both servers, the DNSKEY signed: the servers honour DO
    def drop_soa_sig(r):
        r.answer = [rr for rr in r.answer if rr.rdtype != dns.rdatatype.RRSIG]
        return r

    edit = at(NS1, "SOA", drop_soa_sig)
    both = lambda s, q, r: edit(NS1, q, r) if q == "SOA" else r  # noqa: E731
    out = run(frames_of(collected(tree, "corp.test", both)))
    assert out["edns_do_handled"][0] == "pass"


def test_no_rrsig_anywhere_in_a_keyed_zone_is_indeterminate_for_do(tree):
    def drop(s, q, r):
        if q in ("SOA", "DNSKEY"):
            r.answer = [rr for rr in r.answer if rr.rdtype != dns.rdatatype.RRSIG]
        return r

    status, message, _ = run(frames_of(collected(tree, "corp.test", drop)))["edns_do_handled"]
    assert status == "indeterminate" and "cannot be told" in message


def test_an_unsigned_zone_is_judged_on_edns_alone(tree):
    out = run(frames_of(collected(tree, "intranet.test")))
    assert out["edns_do_handled"][0] == "pass"
    assert out["dnssec_answers_fit_1232"][0] == "not_applicable"
    assert out["auth_tcp_answers"][0] == "pass"


def _pad(count: int):
    """Grow an answer by ``count`` TXT records of 200 bytes in the additional section."""

    def change(r):
        name = r.question[0].name
        texts = [f'"{i:03d}{"x" * 196}"' for i in range(count)]
        r.additional.append(dns.rrset.from_text_list(name, 300, "IN", "TXT", texts))
        return r

    return change


def test_a_dnskey_answer_above_1232_bytes_fails_and_the_size_is_the_wire_size(tree):
    ev = collected(tree, "corp.test", at(NS2, "DNSKEY", _pad(6)))
    frames = frames_of(ev)
    status, message, _ = run(frames)["dnssec_answers_fit_1232"]
    dnskey = next(r for r in ev.results if r.probe.qtype == "DNSKEY" and r.probe.server == NS2)
    size = len(dnskey.response.to_wire())
    assert size > 1232
    assert status == "fail"
    assert f"DNSKEY from {NS2[1]}: {size} bytes" in message
    assert f"corp.test. DNSKEY from {NS2[1]}: {size} bytes" in message  # the largest, named
    assert NS1[1] not in message


def test_an_answer_of_exactly_1232_bytes_fits(tree):
    ev = collected(tree, "corp.test")
    dnskey = next(r for r in ev.results if r.probe.qtype == "DNSKEY" and r.probe.server == NS1)
    room = 1232 - len(dnskey.response.to_wire())

    def fill(r):  # one TXT record taking exactly the room left
        name = r.question[0].name
        left = room - 2 - 10  # owner (a compression pointer), type, class, TTL, rdata length
        strings = []
        while left > 0:  # character strings of at most 255 bytes, each with a length byte
            n = min(255, left - 1)
            strings.append(f'"{"y" * n}"')
            left -= n + 1
        r.additional.append(dns.rrset.from_text(name, 300, "IN", "TXT", " ".join(strings)))
        return r

    assert room > 100
    ev = collected(tree, "corp.test", at(NS1, "DNSKEY", fill))
    frames = frames_of(ev)
    ns = frames["nameservers"]
    assert ns.loc[(ns["side"] == "child") & (ns["server"] == NS1[1]), "answer_bytes"].item() == 1232
    assert run(frames)["dnssec_answers_fit_1232"][0] == "pass"


def test_a_ds_answer_above_1232_bytes_at_the_parent_fails(tree):
    parent_server = ("ns.nic.test.", "192.0.2.2")  # offline_evidence's parent server
    ev = collected(tree, "corp.test", at(parent_server, "DS", _pad(6)))
    status, message, _ = run(frames_of(ev))["dnssec_answers_fit_1232"]
    assert status == "fail" and "DS at the parent from 192.0.2.2" in message


def test_a_run_stored_before_the_transport_columns_is_indeterminate_never_pass(tree):
    frames = frames_of(collected(tree, "corp.test"))
    new = [c.name for c in NAMESERVERS.columns if c.optional]
    assert set(new) >= {"tcp_answered", "edns_opt", "do_rrsigs", "answer_bytes"}
    old = frames["nameservers"].drop(columns=new)
    NAMESERVERS.check(old)  # the old frame still conforms: the new columns are optional
    frames["nameservers"] = NAMESERVERS.cast(old)
    out = run(frames)
    assert {k: v[0] for k, v in out.items()} == dict.fromkeys(IDS, "indeterminate")
