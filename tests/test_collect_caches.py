"""The collector's remembered work: RRSIG verifications and DS digests remembered by content
(never by object, never across a validity window), key tags, the policy floors drawn in one
pass, the rows drawn as the collection goes (and the messages released), and one query
message per question of a zone."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rrset
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from toolkit.collect import CollectConfig, collect, sigstatus, walk
from toolkit.collect import collector as collector_module
from toolkit.collect.anchors import RootHints, TrustAnchor
from toolkit.collect.collector import DEFAULT_MIN_VALIDITY_DAYS, _Drawn, _floors
from toolkit.collect.plan import plan_zone
from toolkit.collect.sigstatus import judge_signatures, key_tag, make_ds, verify_crypto
from toolkit.collect.transport import Clock, TransportConfig
from toolkit.collect.validate import Verdict, check_signatures
from toolkit.collect.walk import ZoneEvidence
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.inputs.portfolio import Portfolio, load_portfolio
from toolkit.schemas import INVENTORY

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
ZONE = dns.name.from_text("z.test.")


def copy_rdata(rd: dns.rdata.Rdata) -> dns.rdata.Rdata:
    """An equal rdata that is another object (as another server's answer would give)."""
    return dns.rdata.from_text(rd.rdclass, rd.rdtype, rd.to_text())


class Signed:
    """An A RRset of z.test. signed with a fresh ECDSA key, valid NOW-1h .. NOW+1h."""

    def __init__(self) -> None:
        priv = ec.generate_private_key(ec.SECP256R1())
        alg = dns.dnssec.Algorithm.ECDSAP256SHA256
        self.key = dns.dnssec.make_dnskey(priv.public_key(), alg, flags=256)
        self.keys = dns.rrset.from_rdata_list(ZONE, 3600, [self.key])
        self.rrset = self.a_rrset()
        self.sig = dns.dnssec.sign(
            self.rrset,
            priv,
            ZONE,
            self.key,
            inception=NOW - timedelta(hours=1),
            expiration=NOW + timedelta(hours=1),
        )
        self.sigs = dns.rrset.from_rdata_list(ZONE, 300, [self.sig])

    @staticmethod
    def a_rrset(owner: str = "www.z.test.", address: str = "192.0.2.1") -> dns.rrset.RRset:
        return dns.rrset.from_text(owner, 300, "IN", "A", address)

    def copies(self) -> tuple[dns.rrset.RRset, dns.rrset.RRset, dns.rrset.RRset]:
        """The RRset, its RRSIG RRset and the key set again, as other objects."""
        return (
            self.a_rrset(),
            dns.rrset.from_rdata_list(ZONE, 300, [copy_rdata(self.sig)]),
            dns.rrset.from_rdata_list(ZONE, 3600, [copy_rdata(self.key)]),
        )


@pytest.fixture
def verifications(monkeypatch) -> list[tuple]:
    """A fresh, empty verification cache; the list of the verifications really run."""
    calls: list[tuple] = []
    real = sigstatus._verify

    def counting(rrset, sig, key, signer):
        calls.append((rrset, sig, key, signer))
        return real(rrset, sig, key, signer)

    monkeypatch.setattr(sigstatus, "_VERIFIED", OrderedDict())
    monkeypatch.setattr(sigstatus, "_verify", counting)
    return calls


# --- verifications remembered by content ---------------------------------------------------


def test_equal_rrsets_and_signatures_from_other_objects_verify_once(verifications):
    s = Signed()
    rrset, sigs, keys = s.copies()
    assert rrset is not s.rrset and sigs[0] is not s.sig and keys[0] is not s.key
    assert verify_crypto(s.rrset, s.sig, s.key, ZONE) is None
    assert verify_crypto(rrset, sigs[0], keys[0], ZONE) is None
    for r, g, k in ((s.rrset, s.sigs, s.keys), (rrset, sigs, keys)):
        (st,) = judge_signatures(r, g, k, ZONE, NOW)
        assert st.status == "valid"
        assert check_signatures(r, g, k, ZONE, NOW).ok
    assert len(verifications) == 1


def test_names_are_compared_in_canonical_form(verifications):
    s = Signed()
    upper = Signed.a_rrset("WWW.Z.TEST.")
    assert verify_crypto(upper, s.sig, s.key, dns.name.from_text("Z.TEST.")) is None
    assert verify_crypto(s.rrset, s.sig, s.key, ZONE) is None
    assert len(verifications) == 1


def test_other_content_is_verified_again(verifications):
    s = Signed()
    other = Signed.a_rrset(address="192.0.2.2")  # same owner and signature, other data
    assert verify_crypto(s.rrset, s.sig, s.key, ZONE) is None
    assert verify_crypto(other, s.sig, s.key, ZONE) == "verify failure"
    forged = s.sig.replace(signature=bytes(64))
    assert verify_crypto(s.rrset, forged, s.key, ZONE) == "verify failure"
    assert verify_crypto(s.rrset, s.sig, Signed().key, ZONE) == "verify failure"
    assert len(verifications) == 4
    (st,) = judge_signatures(other, s.sigs, s.keys, ZONE, NOW)
    assert st.status == "invalid" and len(verifications) == 4  # remembered, and still invalid


def test_the_validity_window_is_judged_at_every_now_never_remembered(verifications):
    s = Signed()
    later, earlier = NOW + timedelta(hours=2), NOW - timedelta(hours=2)
    assert [st.status for st in judge_signatures(s.rrset, s.sigs, s.keys, ZONE, NOW)] == ["valid"]
    rrset, sigs, keys = s.copies()
    assert [st.status for st in judge_signatures(rrset, sigs, keys, ZONE, later)] == ["expired"]
    assert [st.status for st in judge_signatures(rrset, sigs, keys, ZONE, earlier)] == ["premature"]
    assert check_signatures(rrset, sigs, keys, ZONE, later).reason == "RRSIG_EXPIRED"
    assert check_signatures(rrset, sigs, keys, ZONE, earlier).reason == "RRSIG_NOT_YET_VALID"
    assert check_signatures(rrset, sigs, keys, ZONE, NOW).ok
    # what is remembered is the cryptography alone, which does not depend on the time
    assert len(verifications) == 1


def test_an_expired_signature_first_seen_late_is_expired_then_valid_in_its_window(verifications):
    s = Signed()
    later = NOW + timedelta(hours=2)
    assert [st.status for st in judge_signatures(s.rrset, s.sigs, s.keys, ZONE, later)] == [
        "expired"
    ]
    assert verifications == []  # outside its window a signature is not even verified
    assert [st.status for st in judge_signatures(s.rrset, s.sigs, s.keys, ZONE, NOW)] == ["valid"]
    assert [st.status for st in judge_signatures(s.rrset, s.sigs, s.keys, ZONE, later)] == [
        "expired"
    ]


def test_the_cache_is_bounded(verifications, monkeypatch):
    monkeypatch.setattr(sigstatus, "_CACHE_LIMIT", 3)
    s = Signed()
    for i in range(10):
        verify_crypto(Signed.a_rrset(address=f"192.0.2.{i}"), s.sig, s.key, ZONE)
    assert len(sigstatus._VERIFIED) == 3
    assert len(verifications) == 10


def test_key_tags_and_ds_digests_are_remembered_by_content():
    s = Signed()
    again = copy_rdata(s.key)
    assert key_tag(s.key) == key_tag(again) == dns.dnssec.key_id(s.key)
    for digest in (1, 2, 4):
        made = make_ds(ZONE, again, digest, validating=True)
        assert made == dns.dnssec.make_ds(ZONE, s.key, digest, validating=True)
        assert make_ds(ZONE, s.key, digest, validating=True) is made
    with pytest.raises(dns.dnssec.UnsupportedAlgorithm):
        make_ds(ZONE, s.key, 3, policy=dns.dnssec.allow_all_policy)  # GOST: nothing to remember


# --- the collector's bookkeeping ----------------------------------------------------------


def inventory(zones: list[str], policies: list[str | None]) -> pd.DataFrame:
    return INVENTORY.frame(
        {"zone": z, "zone_unicode": z, "owner": "o", "policy": p, "source_line": i + 2}
        for i, (z, p) in enumerate(zip(zones, policies, strict=True))
    )


def test_policy_floors_are_those_of_policy_for():
    strict = SigningPolicy("strict", "strict", (13,), 90, 365, min_rrsig_validity_days=9.0)
    loose = SigningPolicy("loose", "loose", (13,), 90, 365, min_rrsig_validity_days=1.5)
    zones = ["a.test", "b.test", "c.test", "a.test"]
    for policies, default in (
        (PolicySet({"strict": strict, "loose": loose}, "loose"), ["strict", None, "loose", "x"]),
        (PolicySet({}, None), [None, None, None, None]),
    ):
        p = Portfolio(inventory(zones, default), policies, ".")
        floors = _floors(p)
        for zone in zones:
            policy = p.policy_for(zone)
            want = policy.min_rrsig_validity_days if policy else DEFAULT_MIN_VALIDITY_DAYS
            assert floors[zone] == want
    assert _floors(Portfolio(inventory([], []), PolicySet({}, None), ".")) == {}
    sample = load_portfolio("data/sample-portfolio")
    assert _floors(sample) == {
        z: getattr(sample.policy_for(z), "min_rrsig_validity_days", DEFAULT_MIN_VALIDITY_DAYS)
        for z in sample.inventory["zone"]
    }


class FakeWalker:
    """The parts of a Walker that _Drawn uses: its evidence, and release()."""

    def __init__(self) -> None:
        self.evidence: dict[dns.name.Name, ZoneEvidence] = {}
        self.released: list[str] = []

    def collect(self, *zones: str) -> None:
        for zone in zones:  # ancestors first, as the walk inserts them
            name = dns.name.from_text(zone)
            parent = name.parent() if name != dns.name.root else None
            verdict = Verdict("secure", [])
            plan = plan_zone(name, parent=parent, parent_servers=[], zone_servers=[], nx_label="x")
            self.evidence[name] = ZoneEvidence(name, parent, [], None, None, [], verdict, NOW)
            self.evidence[name].plan = plan

    def release(self, name: dns.name.Name) -> None:
        self.released.append(name.to_text())


def test_rows_are_drawn_as_the_walk_goes_in_the_order_of_drawing_them_at_the_end(monkeypatch):
    monkeypatch.setattr(
        collector_module,
        "zone_evidence_rows",
        lambda ev, parent: {"nameservers": [{"zone": ev.name.to_text(), "parent": parent}]},
    )
    monkeypatch.setattr(
        collector_module, "_record_rows", lambda evs: [{"zone": ev.name.to_text()} for ev in evs]
    )
    walker = FakeWalker()
    zones = ["a.corp.test", "corp.test", "lost.test", "b.test", "a.corp.test"]
    drawn = _Drawn(walker, zones)  # type: ignore[arg-type]
    walker.collect(".", "test.", "corp.test.", "a.corp.test.")
    drawn.collected(0)
    # corp.test is still to be drawn, a.corp.test once more: their messages stay
    assert walker.released == [".", "test."]
    drawn.collected(1)
    assert walker.released[2:] == ["corp.test."]
    drawn.collected(2)  # lost.test failed at its turn: nothing to draw yet
    walker.collect("b.test.")
    drawn.collected(3)
    walker.collect("lost.test.")  # collected after its turn (as a later zone's ancestor would be)
    drawn.collected(4)  # a.corp.test again: drawn twice, as it is listed twice
    assert walker.released[3:] == ["b.test.", "a.corp.test."]  # lost.test: drawn at the end
    assert [r["zone"] for r in drawn.records] == [
        ".",
        "test.",
        "corp.test.",
        "a.corp.test.",
        "b.test.",
        "lost.test.",
    ]
    rows = drawn.evidence()["nameservers"]
    assert [r["zone"] for r in rows] == [
        "a.corp.test.",
        "corp.test.",
        "lost.test.",
        "b.test.",
        "a.corp.test.",
    ]
    assert rows[0]["parent"] is walker.evidence[dns.name.from_text("corp.test.")]


def test_a_failing_zone_draws_no_rows_and_loses_nothing_else(monkeypatch):
    def rows(ev, parent):
        if ev.name == dns.name.from_text("bad.test."):
            raise RuntimeError("a bug")
        return {"nameservers": [{"zone": ev.name.to_text()}]}

    monkeypatch.setattr(collector_module, "zone_evidence_rows", rows)
    monkeypatch.setattr(collector_module, "_record_rows", lambda evs: [])
    walker = FakeWalker()
    drawn = _Drawn(walker, ["bad.test", "good.test"])  # type: ignore[arg-type]
    walker.collect(".", "test.", "bad.test.")
    drawn.collected(0)
    walker.collect("good.test.")
    drawn.collected(1)
    assert [r["zone"] for r in drawn.evidence()["nameservers"]] == ["good.test."]


def test_every_server_of_a_zone_is_asked_with_one_message_per_question(monkeypatch):
    sent: list[tuple[str, str, dns.message.QueryMessage, bool]] = []

    def fake_send(qname, qtype, server, *, query, tcp_only=False, **kw):
        sent.append((qtype, server, query, tcp_only))
        r = dns.message.make_response(query)
        r.flags |= dns.flags.AA
        if qtype == "SOA":  # the gate: the server serves the zone
            soa = "ns1.z.test. h.z.test. 1 3600 900 86400 300"
            r.answer.append(dns.rrset.from_text(qname, 300, "IN", "SOA", soa))
        return walk.Exchange(str(qname), qtype, server, None, "udp", r, None, 1.0, False, NOW)

    monkeypatch.setattr(walk, "send", fake_send)
    walker = walk.Walker(
        RootHints(servers=(("a.root.", "192.0.2.1"),), source="test"),
        TrustAnchor(name=dns.name.root, ds=None, dnskey=None, source="test"),
        clock=Clock(NOW),
        transport=TransportConfig(),
        log=lambda ex: None,
    )
    servers = [("ns1.z.test.", "192.0.2.3"), ("ns2.z.test.", "192.0.2.4")]
    plan = plan_zone(ZONE, parent=None, parent_servers=[], zone_servers=servers, nx_label="x")
    walker.execute(plan)
    assert len(sent) == len(plan.probes) == 18
    by_question: dict[tuple, list[tuple[str, dns.message.QueryMessage]]] = {}
    for probe, (qtype, server, query, tcp_only) in zip(plan.probes, sent, strict=True):
        assert (probe.qtype, probe.server[1], probe.tcp) == (qtype, server, tcp_only)
        assert query.question[0].name == probe.qname and query.flags & dns.flags.AD
        by_question.setdefault((probe.qname, qtype, tcp_only), []).append((server, query))
    assert len(by_question) == 9  # 8 questions over UDP, and the apex SOA over TCP alone
    for asked in by_question.values():
        (a, qa), (b, qb) = asked
        assert (a, b) == ("192.0.2.3", "192.0.2.4") and qa is qb
    soa = [q for (name, qtype, _), asked in by_question.items() if qtype == "SOA" for _, q in asked]
    assert len(soa) == 4 and all(q is soa[0] for q in soa)  # the same message over TCP


@pytest.mark.lab
def test_a_zone_listed_after_a_zone_below_it_keeps_its_evidence(lab):
    """``test`` is collected as the ancestor of ``corp.test``, listed first: its messages must
    stay until its own rows are drawn, which are those of collecting it alone."""
    config = CollectConfig(trust_anchor=lab.trust_anchor, root_hints=lab.root_hints, progress=False)

    def frames(zones: list[str]) -> dict[str, pd.DataFrame]:
        p = Portfolio(inventory(zones, [None] * len(zones)), PolicySet({}, None), ".")
        return collect(p, config, now=datetime.now(UTC))

    both, alone = frames(["corp.test", "test"]), frames(["test"])
    for name in ("nameservers", "dnskeys", "signatures", "ds_matches", "denial"):
        run_time = ["queried_at", "days_left"]
        got = both[name][both[name]["zone"] == "test"].drop(columns=run_time, errors="ignore")
        want = alone[name].drop(columns=run_time, errors="ignore")
        assert len(want) > 0 or name == "ds_matches"
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    assert set(both["records"]["zone"]) == {".", "test", "corp.test"}
    per_zone = both["records"].groupby("zone").size()
    assert per_zone["test"] == alone["records"].groupby("zone").size()["test"]


def test_forms_of_one_object_are_remembered_apart_and_by_identity():
    """The canonical form, the fields and the text of one rdata object are kept in separate
    tables (one object asked for all three gets each), by identity (an equal object of
    other case gets its own form)."""
    s = Signed()
    sig = s.sig
    assert sigstatus._digestable(sig) == sig.to_digestable()
    assert sigstatus.rdata_text(sig) == sig.to_text()
    assert sigstatus._digestable(sig) == sig.to_digestable()  # not the text remembered above
    assert sigstatus._sig_fields(sig)[-1] == sig.signature
    upper = dns.name.from_text("WWW.Z.TEST.")
    lower = dns.name.from_text("www.z.test.")
    assert sigstatus._digestable(upper) == sigstatus._digestable(lower) == lower.to_digestable()
    text = dns.rdata.from_text("IN", "NS", "NS1.Z.TEST.")
    assert sigstatus.rdata_text(text) == "NS1.Z.TEST."
    assert sigstatus.rdata_text(copy_rdata(text)) == "NS1.Z.TEST."
