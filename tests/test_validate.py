"""The toolkit's own chain validation, on hand-built, hand-signed records (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from toolkit.collect.validate import (
    ChildData,
    ParentData,
    Verdict,
    check_signatures,
    denial_of_ds,
    judge_zone,
    keys_matching_ds,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PARENT = dns.name.from_text("test.")
ZONE = dns.name.from_text("corp.test.")
ALG = dns.dnssec.Algorithm.ECDSAP256SHA256


class Signer:
    """A zone's key pair(s) and a way to sign RRsets with them, at chosen times."""

    def __init__(self, origin: dns.name.Name) -> None:
        self.origin = origin
        self.ksk_priv = ec.generate_private_key(ec.SECP256R1())
        self.zsk_priv = ec.generate_private_key(ec.SECP256R1())
        self.ksk = dns.dnssec.make_dnskey(self.ksk_priv.public_key(), ALG, flags=257)
        self.zsk = dns.dnssec.make_dnskey(self.zsk_priv.public_key(), ALG, flags=256)
        self.dnskey = dns.rrset.from_rdata_list(origin, 3600, [self.ksk, self.zsk])

    def sign(self, rrset, *, ksk=False, inception=None, expiration=None):
        priv, pub = (self.ksk_priv, self.ksk) if ksk else (self.zsk_priv, self.zsk)
        sig = dns.dnssec.sign(
            rrset,
            priv,
            self.origin,
            pub,
            inception=inception or NOW - timedelta(hours=1),
            expiration=expiration or NOW + timedelta(days=30),
        )
        return dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [sig])

    def ds(self, key=None):
        rd = dns.dnssec.make_ds(self.origin, key or self.ksk, "SHA256")
        return dns.rrset.from_rdata_list(self.origin, 3600, [rd])


def rr(name, rdtype, *texts, ttl=3600):
    return dns.rrset.from_text_list(name, ttl, dns.rdataclass.IN, rdtype, list(texts))


@pytest.fixture(scope="module")
def parent():
    return Signer(PARENT)


@pytest.fixture(scope="module")
def child():
    return Signer(ZONE)


def secure_parent(parent: Signer) -> Verdict:
    return Verdict("secure", [], keys=parent.dnskey, has_ds=True, signed=True)


def child_data(child: Signer, server="192.0.2.1", **sign_kw) -> ChildData:
    soa = rr(ZONE, "SOA", "ns1.corp.test. h.corp.test. 1 7200 3600 1209600 3600")
    ns = rr(ZONE, "NS", "ns1.corp.test.")
    return ChildData(
        server=server,
        answered=True,
        dnskey=child.dnskey,
        dnskey_sigs=child.sign(child.dnskey, ksk=True, **sign_kw),
        soa=soa,
        soa_sigs=child.sign(soa, **sign_kw),
        ns=ns,
        ns_sigs=child.sign(ns, **sign_kw),
    )


def ds_data(parent: Signer, ds_rrset) -> ParentData:
    return ParentData(answered=True, ds=ds_rrset, ds_sigs=parent.sign(ds_rrset))


def nsec_denial(parent: Signer, types: str) -> list[dns.rrset.RRset]:
    nsec = rr(ZONE, "NSEC", f"events.test. {types}")
    return [nsec, parent.sign(nsec)]


def judge(parent, children, pdata, **kw) -> Verdict:
    return judge_zone(
        ZONE,
        parent_name=PARENT,
        parent_verdict=kw.pop("parent_verdict", secure_parent(parent)),
        parent_data=pdata,
        children=children,
        now=kw.pop("now", NOW),
        min_validity_days=kw.pop("min_validity_days", 5),
    )


def test_secure_chain(parent, child):
    v = judge(parent, [child_data(child)], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("secure", [])
    assert v.keys == child.dnskey and v.has_ds and v.signed and v.algorithms == (13,)
    assert v.earliest_expiration == NOW + timedelta(days=30)


def test_ds_matching_no_published_key_is_bogus(parent, child):
    stranger = Signer(ZONE)
    v = judge(parent, [child_data(child)], ds_data(parent, stranger.ds()))
    assert (v.status, v.reasons) == ("bogus", ["DS_NO_MATCHING_DNSKEY"])


@pytest.mark.parametrize(
    "inception, expiration, reason",
    [
        (NOW - timedelta(days=40), NOW - timedelta(days=10), "RRSIG_EXPIRED"),
        (NOW + timedelta(days=1), NOW + timedelta(days=30), "RRSIG_NOT_YET_VALID"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_signature_window(parent, child, inception, expiration, reason):
    data = child_data(child, inception=inception, expiration=expiration)
    v = judge(parent, [data], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("bogus", [reason])


def test_signature_over_other_data_does_not_verify(parent, child):
    data = child_data(child)
    data.soa = rr(ZONE, "SOA", "ns1.corp.test. h.corp.test. 2 7200 3600 1209600 3600")
    v = judge(parent, [data], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("bogus", ["RRSIG_INVALID"])


def test_unsigned_apex_rrset_is_bogus(parent, child):
    data = child_data(child)
    data.ns_sigs = None
    v = judge(parent, [data], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("bogus", ["RRSIG_MISSING"])


def test_ds_but_no_dnskey_is_bogus(parent, child):
    data = ChildData("192.0.2.1", True, soa=rr(ZONE, "SOA", ". . 1 2 3 4 5"))
    v = judge(parent, [data], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("bogus", ["DNSKEY_MISSING"])


def test_ds_rrset_with_bad_parent_signature_is_bogus(parent, child):
    pdata = ParentData(True, ds=child.ds(), ds_sigs=Signer(PARENT).sign(child.ds()))
    v = judge(parent, [child_data(child)], pdata)
    assert v.status == "bogus" and v.reasons == ["RRSIG_MISSING"]


def test_expiring_soon_is_a_warning_on_a_secure_zone(parent, child):
    data = child_data(child, expiration=NOW + timedelta(days=3))
    v = judge(parent, [data], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("secure", ["SIG_EXPIRING_SOON"])
    # the same signatures are fine under a 2-day floor
    v = judge(parent, [data], ds_data(parent, child.ds()), min_validity_days=2)
    assert (v.status, v.reasons) == ("secure", [])


@pytest.mark.parametrize(
    "signed, reason", [(True, "NO_DS_SIGNED"), (False, "UNSIGNED")], ids=["island", "unsigned"]
)
def test_proven_absence_of_ds_is_insecure(parent, child, signed, reason):
    data = (
        child_data(child)
        if signed
        else ChildData("192.0.2.1", True, soa=rr(ZONE, "SOA", ". . 1 2 3 4 5"))
    )
    pdata = ParentData(True, denial=nsec_denial(parent, "NS RRSIG NSEC"))
    v = judge(parent, [data], pdata)
    assert (v.status, v.reasons, v.has_ds) == ("insecure", [reason], False)


@pytest.mark.parametrize(
    "denial",
    [
        lambda p: [],
        lambda p: nsec_denial(p, "NS DS RRSIG NSEC"),  # the NSEC says a DS exists
        lambda p: [rr(ZONE, "NSEC", "events.test. NS RRSIG NSEC")],  # unsigned NSEC
        lambda p: nsec_denial(Signer(PARENT), "NS RRSIG NSEC"),  # signed by a stranger
        # RFC 6840 §4.4: the child's apex NSEC (SOA bit) and a name that is no delegation
        lambda p: nsec_denial(p, "NS SOA RRSIG NSEC DNSKEY"),
        lambda p: nsec_denial(p, "A RRSIG NSEC"),
    ],
    ids=[
        "no-proof",
        "bitmap-has-ds",
        "unsigned-proof",
        "foreign-signature",
        "bitmap-has-soa",
        "bitmap-lacks-ns",
    ],
)
def test_missing_ds_without_valid_denial_is_bogus(parent, child, denial):
    v = judge(parent, [child_data(child)], ParentData(True, denial=denial(parent)))
    assert (v.status, v.reasons) == ("bogus", ["DS_DENIAL_UNPROVEN"])


def test_nsec3_exact_match_and_opt_out_cover(parent):
    salt, iterations = b"", 0
    h = dns.dnssec.nsec3_hash(ZONE, salt, iterations, 1)
    owner = dns.name.from_text(f"{h}.test.")
    exact = rr(owner, "NSEC3", f"1 0 0 - {'V' * 32} NS")
    assert denial_of_ds(ZONE, PARENT, [exact, parent.sign(exact)], parent.dnskey, NOW).ok
    # RFC 6840 §4.4: the matching NSEC3 must have NS and neither SOA nor DS
    for bitmap, why in (("NS SOA", "SOA bit"), ("A", "lacks the NS bit"), ("NS DS", "lists a DS")):
        bad = rr(owner, "NSEC3", f"1 0 0 - {'V' * 32} {bitmap}")
        check = denial_of_ds(ZONE, PARENT, [bad, parent.sign(bad)], parent.dnskey, NOW)
        assert not check.ok and why in check.detail, bitmap
    # an opt-out NSEC3 whose span covers the hash proves nothing signed is below it
    low = dns.name.from_text(f"{'0' * 32}.test.")
    cover = rr(low, "NSEC3", f"1 1 0 - {'V' * 32} NS")
    assert denial_of_ds(ZONE, PARENT, [cover, parent.sign(cover)], parent.dnskey, NOW).ok
    # the same span without the opt-out flag does not
    plain = rr(low, "NSEC3", f"1 0 0 - {'V' * 32} NS")
    assert not denial_of_ds(ZONE, PARENT, [plain, parent.sign(plain)], parent.dnskey, NOW).ok


@pytest.mark.parametrize(
    "status, code",
    [
        ("insecure", "PARENT_INSECURE"),
        ("bogus", "PARENT_BOGUS"),
        ("indeterminate", "PARENT_INDETERMINATE"),
    ],
)
def test_parent_status_propagates(parent, child, status, code):
    v = judge(
        parent,
        [child_data(child)],
        ds_data(parent, child.ds()),
        parent_verdict=Verdict(status, []),
    )
    assert (v.status, v.reasons) == (status, [code])


def test_no_server_answering_is_indeterminate_never_secure(parent, child):
    dead = [ChildData("192.0.2.1", False), ChildData("192.0.2.2", False)]
    v = judge(parent, dead, ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("indeterminate", ["NO_RESPONSE"])
    v = judge(parent, [child_data(child)], ParentData(answered=False))
    assert (v.status, v.reasons) == ("indeterminate", ["NO_RESPONSE"])


def test_nxdomain_at_parent_is_zone_not_found(parent, child):
    v = judge(parent, [], ParentData(True, nxdomain=True))
    assert (v.status, v.reasons) == ("indeterminate", ["ZONE_NOT_FOUND"])


def test_worst_server_decides_and_lame_server_is_named(parent, child):
    good = child_data(child, server="192.0.2.1")
    stale = child_data(
        child,
        server="192.0.2.2",
        inception=NOW - timedelta(days=40),
        expiration=NOW - timedelta(days=1),
    )
    dead = ChildData("192.0.2.3", False)
    v = judge(parent, [good, stale, dead], ds_data(parent, child.ds()))
    assert v.status == "bogus"
    assert v.reasons == ["RRSIG_EXPIRED", "LAME_SERVER"]
    assert (v.servers, v.answered) == (3, 2)
    v = judge(parent, [good, dead], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("secure", ["LAME_SERVER"])


def test_root_against_trust_anchor(child):
    root = Signer(dns.name.root)
    soa = rr(dns.name.root, "SOA", "a.root. h.root. 1 2 3 4 5")
    data = ChildData(
        "192.0.2.1",
        True,
        dnskey=root.dnskey,
        dnskey_sigs=root.sign(root.dnskey, ksk=True),
        soa=soa,
        soa_sigs=root.sign(soa),
    )
    kw = dict(parent_name=None, parent_verdict=None, parent_data=None, children=[data], now=NOW)
    assert judge_zone(dns.name.root, anchor_ds=root.ds(), **kw).status == "secure"
    assert judge_zone(dns.name.root, anchor_dnskey=root.dnskey, **kw).status == "secure"
    wrong = judge_zone(dns.name.root, anchor_ds=Signer(dns.name.root).ds(), **kw)
    assert (wrong.status, wrong.reasons) == ("bogus", ["TRUST_ANCHOR_MISMATCH"])


def test_keys_matching_ds_and_check_signatures_helpers(child):
    assert keys_matching_ds(ZONE, child.ds(), child.dnskey) == [child.ksk]
    assert keys_matching_ds(ZONE, child.ds(child.zsk), child.dnskey) == [child.zsk]
    assert keys_matching_ds(ZONE, child.ds(), None) == []
    ok = check_signatures(child.dnskey, child.sign(child.dnskey, ksk=True), [child.ksk], ZONE, NOW)
    assert ok.ok and ok.reason is None
    later = NOW + timedelta(days=31)
    assert (
        check_signatures(
            child.dnskey, child.sign(child.dnskey, ksk=True), [child.ksk], ZONE, later
        ).reason
        == "RRSIG_EXPIRED"
    )


def _ds(origin, key, *, algorithm=None, digest_type=2, digest=None):
    """A DS record for ``key``, optionally with another algorithm number, digest type or
    digest (a digest type the toolkit cannot compute gets ``digest`` or 32 made-up bytes)."""
    if digest_type in (1, 2, 4):
        made = dns.dnssec.make_ds(origin, key, digest_type, policy=dns.dnssec.allow_all_policy)
        digest = digest or made.digest
    tag = dns.dnssec.key_id(key)
    alg = key.algorithm if algorithm is None else algorithm
    return dns.rdata.from_text(
        "IN", "DS", f"{tag} {int(alg)} {digest_type} {(digest or bytes(range(32))).hex()}"
    )


def _ds_rrset(*rdatas):
    return dns.rrset.from_rdata_list(ZONE, 3600, list(rdatas))


@pytest.mark.parametrize(
    "algorithm, digest_type, reason",
    [
        (1, 2, "DS_UNSUPPORTED_ALGORITHM"),  # RSAMD5: validators MUST NOT validate
        (3, 2, "DS_UNSUPPORTED_ALGORITHM"),  # DSA
        (6, 2, "DS_UNSUPPORTED_ALGORITHM"),  # DSA-NSEC3-SHA1
        (12, 2, "DS_UNSUPPORTED_ALGORITHM"),  # ECC-GOST (RFC 9906)
        (100, 2, "DS_UNSUPPORTED_ALGORITHM"),  # unassigned
        (253, 2, "DS_UNSUPPORTED_ALGORITHM"),  # PRIVATEDNS
        (13, 5, "DS_UNSUPPORTED_DIGEST"),  # GOST R 34.11-2012 (RFC 9558), not implemented
        (13, 3, "DS_UNSUPPORTED_DIGEST"),  # GOST R 34.11-94
        (13, 99, "DS_UNSUPPORTED_DIGEST"),  # unassigned
    ],
)
def test_ds_no_validator_can_use_means_insecure_not_bogus(
    parent, child, algorithm, digest_type, reason
):
    """RFC 4035 §5.2, RFC 6840 §5.2: a DS set none of whose records has a supported
    algorithm and digest type leaves no authentication path: the zone is treated as unsigned.
    The keys here do not match the DS either, which a naive reading calls bogus."""
    ds = _ds_rrset(_ds(ZONE, child.ksk, algorithm=algorithm, digest_type=digest_type))
    v = judge(parent, [child_data(child)], ds_data(parent, ds))
    assert (v.status, v.reasons, v.has_ds) == ("insecure", [reason], True)


def test_unsupported_ds_beside_a_good_one_is_ignored(parent, child):
    ds = _ds_rrset(_ds(ZONE, child.ksk, algorithm=253), _ds(ZONE, child.ksk, digest_type=99),
                   _ds(ZONE, child.ksk))  # fmt: skip
    v = judge(parent, [child_data(child)], ds_data(parent, ds))
    assert (v.status, v.reasons) == ("secure", [])


def test_unsupported_ds_beside_a_supported_one_that_matches_nothing_is_bogus(parent, child):
    stranger = Signer(ZONE)
    ds = _ds_rrset(_ds(ZONE, child.ksk, algorithm=253), _ds(ZONE, stranger.ksk))
    v = judge(parent, [child_data(child)], ds_data(parent, ds))
    assert (v.status, v.reasons) == ("bogus", ["DS_NO_MATCHING_DNSKEY"])


def test_sha1_ds_is_ignored_beside_sha256_rfc4509(parent, child):
    """RFC 4509 §3: a matching SHA-1 DS beside a non-matching SHA-256 DS is bogus, and the
    verdict says which rule decided it."""
    bad256 = _ds(ZONE, child.ksk, digest=bytes(32))
    good1 = _ds(ZONE, child.ksk, digest_type=1)
    v = judge(parent, [child_data(child)], ds_data(parent, _ds_rrset(bad256, good1)))
    assert (v.status, v.reasons) == ("bogus", ["DS_NO_MATCHING_DNSKEY", "DS_SHA1_IGNORED"])
    # a SHA-1 DS alone still validates (RFC 9904: SHA-1 DS validated, not created)
    v = judge(parent, [child_data(child)], ds_data(parent, _ds_rrset(good1)))
    assert (v.status, v.reasons) == ("secure", [])
    # and a matching SHA-256 beside a non-matching SHA-1 is secure
    bad1 = _ds(ZONE, child.ksk, digest_type=1, digest=bytes(20))
    good256 = _ds(ZONE, child.ksk)
    v = judge(parent, [child_data(child)], ds_data(parent, _ds_rrset(good256, bad1)))
    assert (v.status, v.reasons) == ("secure", [])


def test_sha384_only_ds_is_secure(parent, child):
    v = judge(
        parent, [child_data(child)], ds_data(parent, _ds_rrset(_ds(ZONE, child.ksk, digest_type=4)))
    )
    assert (v.status, v.reasons) == ("secure", [])


def test_signature_of_an_algorithm_validators_do_not_validate_is_unsupported_not_invalid(child):
    """A signature the toolkit cannot verify for want of the algorithm is neither valid nor
    invalid (issue 11): its status says so."""
    from toolkit.collect.sigstatus import judge_signatures

    soa = rr(ZONE, "SOA", "ns1.corp.test. h.corp.test. 1 7200 3600 1209600 3600")
    sig = child.sign(soa)[0]
    key = child.zsk.replace(algorithm=253)  # PRIVATEDNS: no validator implements it
    private = sig.replace(algorithm=253, key_tag=dns.dnssec.key_id(key))
    keys = dns.rrset.from_rdata_list(ZONE, 3600, [key])
    sigs = dns.rrset.from_rdata_list(ZONE, 3600, [private])
    statuses = judge_signatures(soa, sigs, keys, ZONE, NOW)
    assert [s.status for s in statuses] == ["unsupported_algorithm"]
    # the same signature with its real algorithm is judged on its cryptography
    statuses = judge_signatures(soa, child.sign(soa), child.dnskey, ZONE, NOW)
    assert [s.status for s in statuses] == ["valid"]


def _revoked_child() -> Signer:
    """A zone whose KSK carries the REVOKE bit (flags 385) and still signs the DNSKEY RRset."""
    s = Signer(ZONE)
    s.ksk = dns.dnssec.make_dnskey(s.ksk_priv.public_key(), ALG, flags=257 | 0x80)
    s.dnskey = dns.rrset.from_rdata_list(ZONE, 3600, [s.ksk, s.zsk])
    return s


def test_a_ds_pointing_only_at_a_revoked_key_is_bogus(parent):
    """RFC 5011 §2.1: a revoked key may only vouch for its own revocation; a DS set whose keys
    are all revoked builds no chain (BIND, Knot Resolver, PowerDNS: bogus; the lab's
    ds-revoked-ksk scenario records them)."""
    child = _revoked_child()
    v = judge(parent, [child_data(child)], ds_data(parent, child.ds()))
    assert (v.status, v.reasons) == ("bogus", ["DS_ONLY_REVOKED_KEYS"])


def test_a_revoked_key_beside_a_live_ds_key_does_not_break_the_chain(parent):
    child = _revoked_child()
    live_priv = ec.generate_private_key(ec.SECP256R1())
    live = dns.dnssec.make_dnskey(live_priv.public_key(), ALG, flags=257)
    keys = dns.rrset.from_rdata_list(ZONE, 3600, [child.ksk, live, child.zsk])
    data = child_data(child)
    data.dnskey = keys
    sigs = [
        dns.dnssec.sign(keys, priv, ZONE, pub, inception=NOW - timedelta(hours=1),
                        expiration=NOW + timedelta(days=30))
        for priv, pub in ((child.ksk_priv, child.ksk), (live_priv, live))
    ]  # fmt: skip
    data.dnskey_sigs = dns.rrset.from_rdata_list(ZONE, 3600, sigs)
    ds = _ds_rrset(_ds(ZONE, child.ksk), _ds(ZONE, live))
    v = judge(parent, [data], ds_data(parent, ds))
    assert (v.status, v.reasons) == ("secure", [])
