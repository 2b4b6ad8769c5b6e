"""The audit's pure core without a network: signature statuses, denial proofs, evidence rows,
and the whole scenario catalog run offline (the lab's zones, built purely, answered by a fake
server) through the evidence frames and the audit checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from dns_fakes import offline_evidence, respond

from toolkit.checks import Context, Registry, cds, consistency, keys, signatures
from toolkit.checks import names as names_checks
from toolkit.collect.denial import check_denial
from toolkit.collect.evidence import key_bits, zone_evidence_rows
from toolkit.collect.names import judge_name
from toolkit.collect.sigstatus import judge_signatures
from toolkit.collect.validate import Verdict
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.lab import LAB_ZONES, LabAddresses, zones
from toolkit.lab.scenarios import LAB_POLICY
from toolkit.schemas import EVIDENCE, INVENTORY, ZONES

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
ADDRS = LabAddresses.from_base("127.99.0")
NS1, NS2, NS3 = ("ns1.", ADDRS.ns1), ("ns2.", ADDRS.ns2), ("ns3.", ADDRS.root)
AUDIT_MODULES = (keys, signatures, consistency, cds)
# names_validate judges the names frame drawn here; names_resolve_at_resolvers needs the
# resolvers' answers, which only the lab has (tests/test_scenarios.py)
AUDIT_CHECKS = [
    *(pair for m in AUDIT_MODULES for pair in m.CHECKS),
    *(pair for pair in names_checks.CHECKS if pair[0].id == "names_validate"),
]
AUDIT_IDS = {c.id for c, _ in AUDIT_CHECKS}


@pytest.fixture(scope="module")
def tree() -> zones.LabTree:
    return zones.build_tree(ADDRS, zones.generate_lab_keys(), NOW)


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


# --- signature statuses ------------------------------------------------------------------


class Keys:
    def __init__(self) -> None:
        self.priv = ec.generate_private_key(ec.SECP256R1())
        alg = dns.dnssec.Algorithm.ECDSAP256SHA256
        self.key = dns.dnssec.make_dnskey(self.priv.public_key(), alg, flags=256)
        self.revoked = dns.dnssec.make_dnskey(self.priv.public_key(), alg, flags=256 | 128)
        self.rrset = dns.rrset.from_rdata_list(name("z.test."), 3600, [self.key])

    def sign(self, rrset, *, signer="z.test.", start=-1, end=24, key=None):
        sig = dns.dnssec.sign(
            rrset,
            self.priv,
            name(signer),
            key or self.key,
            inception=NOW + timedelta(hours=start),
            expiration=NOW + timedelta(hours=end),
        )
        return dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [sig])


A = dns.rrset.from_text("www.z.test.", 300, "IN", "A", "192.0.2.1")


@pytest.mark.parametrize(
    "case, status",
    [
        ({}, "valid"),
        ({"end": -2, "start": -30}, "expired"),
        ({"start": 5}, "premature"),
        ({"signer": "test."}, "signer_mismatch"),
    ],
)
def test_each_rrsig_gets_its_status(case, status):
    k = Keys()
    (st,) = judge_signatures(A, k.sign(A, **case), k.rrset, name("z.test."), NOW)
    assert st.status == status and st.key_tag == dns.dnssec.key_id(k.key)


def test_a_signature_that_does_not_verify_or_names_an_unknown_key():
    k, other = Keys(), Keys()
    sig = k.sign(A)
    forged = dns.rrset.from_rdata_list(A.name, 300, [sig[0].replace(signature=b"\0" * 64)])
    assert [s.status for s in judge_signatures(A, forged, k.rrset, name("z.test."), NOW)] == [
        "invalid"
    ]
    (st,) = judge_signatures(A, sig, other.rrset, name("z.test."), NOW)
    assert st.status == "unknown_key" and "no DNSKEY" in st.detail
    # an RRSIG of the key set's algorithm exists, so no "missing" entry comes on top


def test_revoked_key_and_missing_signatures():
    k = Keys()
    keyset = dns.rrset.from_rdata_list(name("z.test."), 3600, [k.revoked])
    (st,) = judge_signatures(A, k.sign(A, key=k.revoked), keyset, name("z.test."), NOW)
    assert st.status == "revoked_key"  # verifies, but with a revoked key (RFC 5011)
    missing = judge_signatures(A, None, k.rrset, name("z.test."), NOW)
    assert [(s.status, s.algorithm) for s in missing] == [("missing", 13)]
    assert [s.status for s in judge_signatures(A, None, None, name("z.test."), NOW)] == ["missing"]


def test_key_sizes():
    k = Keys()
    assert key_bits(k.key) == 256
    rsa = zones.new_key(256, "bits", algorithm=8, bits=1024)
    assert key_bits(rsa.dnskey) == 1024


# --- denial of existence -----------------------------------------------------------------


def denial(tree, zone: str, qname: str, qtype: str, *, strip=()):
    z = tree.zones[zone]
    r = respond(z, name(qname), qtype)
    r.authority = [
        rr
        for rr in r.authority
        if not any(
            rr.rdtype == t or (rr.rdtype == dns.rdatatype.RRSIG and rr.covers == t) for t in strip
        )
    ]
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    return check_denial(z.origin, name(qname), dns.rdatatype.from_text(qtype), r, keys_, NOW)


@pytest.mark.parametrize(
    "zone", ["corp.test.", "nsec3-iterations.test.", "nsec3-clean.test.", "nsec3-optout.test."]
)
def test_nxdomain_and_nodata_proofs_validate(tree, zone):
    nx = denial(tree, zone, f"_audit-1.{zone}", "A")
    nodata = denial(tree, zone, zone, "TYPE65280")
    assert (nx.proof, nodata.proof) == ("valid", "valid"), (nx.why, nodata.why)
    assert nx.kind == ("nsec" if zone == "corp.test." else "nsec3")
    if zone == "nsec3-iterations.test.":
        assert (nx.iterations, nx.salt, nx.opt_out) == (10, "a1b2c3d4e5f60718", False)
    if zone == "nsec3-optout.test.":  # opt-out flag on every record; the proofs still hold
        assert (nx.iterations, nx.salt, nx.opt_out, nodata.opt_out) == (0, "", True, True)


def test_broken_proofs_say_why(tree):
    assert denial(tree, "corp.test.", "corp.test.", "SOA").proof == "not_denied"
    stripped = denial(tree, "corp.test.", "_x.corp.test.", "A", strip=[dns.rdatatype.RRSIG])
    assert stripped.proof == "invalid" and "missing" in stripped.why
    nothing = denial(tree, "corp.test.", "_x.corp.test.", "A", strip=[dns.rdatatype.NSEC])
    assert nothing.proof == "invalid" and "without any NSEC" in nothing.why
    # a NODATA whose matching NSEC lists the type asked proves nothing
    z = tree.zones["corp.test."]
    r = respond(z, z.origin, "TYPE65280")
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    lying = check_denial(z.origin, z.origin, dns.rdatatype.TXT, r, keys_, NOW)
    assert lying.proof == "invalid" and "lists the type" in lying.why
    refused = dns.message.make_response(dns.message.make_query("x.corp.test.", "A"))
    refused.set_rcode(dns.rcode.REFUSED)
    assert check_denial(z.origin, name("x.corp.test."), 1, refused, keys_, NOW).proof == "invalid"
    unsigned = tree.zones["intranet.test."]
    r = respond(unsigned, name("_x.intranet.test."), "A")
    assert check_denial(unsigned.origin, name("_x.intranet.test."), 1, r, None, NOW).proof == (
        "unsigned"
    )


@pytest.mark.parametrize("zone", ["alg-private.test.", "alg-unassigned.test."])
def test_proofs_signed_only_with_an_unvalidated_algorithm_are_unverifiable_not_invalid(tree, zone):
    """Complete NSEC proofs whose only signatures are of algorithm 253 or 100: the toolkit
    cannot tell whether they verify (RFC 4035 §5.2 makes such a zone insecure), so the proof is
    ``unverifiable``, never ``invalid``; a missing signature is still ``invalid``."""
    for qname, qtype in ((f"_audit-1.{zone}", "A"), (zone, "TYPE65280")):
        check = denial(tree, zone, qname, qtype)
        assert check.proof == "unverifiable", check.why
        assert "(unsupported_algorithm)" in check.why
    stripped = denial(tree, zone, f"_x.{zone}", "A", strip=[dns.rdatatype.RRSIG])
    assert stripped.proof == "invalid"


@pytest.mark.parametrize(
    "zone, kind", [("wildcard.test.", "nsec"), ("wildcard-nsec3.test.", "nsec3")]
)
def test_a_wildcard_answer_is_judged_by_the_proof_it_must_carry(tree, zone, kind):
    """RFC 4035 §5.3.4 / RFC 5155 §8.8: the random name is answered from *.zone (RRSIG labels
    2 < 3); the NSEC covering it, or the NSEC3 covering its next closer name, proves it does
    not exist. Without those records, or with the expanded answer's signature broken, the
    proof is invalid and says why."""
    check = denial(tree, zone, f"_audit-1.{zone}", "A")
    assert (check.proof, check.kind, check.wildcard) == ("valid", kind, f"*.{zone}"), check.why
    assert check.why.startswith(f"wildcard *.{zone} expanded")
    stripped = denial(
        tree, zone, f"_audit-1.{zone}", "A", strip=[getattr(dns.rdatatype, kind.upper())]
    )
    assert stripped.proof == "invalid" and stripped.wildcard == f"*.{zone}"
    assert "but no NSEC or NSEC3 record proves that _audit-1." in stripped.why
    # the NSEC3 covering the next closer name alone taken away: the rest of the chain is there
    z = tree.zones[zone]
    r = respond(z, name(f"_audit-1.{zone}"), "A")
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    complete = check_denial(z.origin, name(f"_audit-1.{zone}"), 1, r, keys_, NOW)
    assert complete.proof == "valid"
    for rr in [x for x in r.authority if x.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)]:
        r2 = respond(z, name(f"_audit-1.{zone}"), "A")
        r2.authority = [x for x in r2.authority if x.name != rr.name]
        partial = check_denial(z.origin, name(f"_audit-1.{zone}"), 1, r2, keys_, NOW)
        if partial.proof == "invalid":
            expected = (
                "no NSEC3 covers the next closer name" if kind == "nsec3" else "no NSEC proves"
            )
            assert expected in partial.why, partial.why
            break
    else:
        raise AssertionError("no single denial record was needed for the proof")
    r = respond(z, name(f"_audit-1.{zone}"), "A")
    sig = r.answer[1]
    r.answer[1] = dns.rrset.from_rdata_list(
        sig.name, sig.ttl, [rd.replace(signature=b"\0" * len(rd.signature)) for rd in sig]
    )
    forged = check_denial(z.origin, name(f"_audit-1.{zone}"), 1, r, keys_, NOW)
    assert forged.proof == "invalid" and "not validly signed" in forged.why


def test_an_answer_that_is_no_wildcard_expansion_stays_not_denied(tree):
    """www.corp.test exists: its RRSIG's labels equal the owner's, so no wildcard proof is asked
    for; and an unsigned server's data answer is not traced to a wildcard."""
    z = tree.zones["corp.test."]
    r = respond(z, name("www.corp.test."), "A")
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    check = check_denial(z.origin, name("www.corp.test."), 1, r, keys_, NOW)
    assert (check.proof, check.wildcard) == ("not_denied", None)
    wild = tree.zones["wildcard.test."]
    r = respond(wild, name("_audit-1.wildcard.test."), "A")
    unsigned = check_denial(wild.origin, name("_audit-1.wildcard.test."), 1, r, None, NOW)
    assert (unsigned.proof, unsigned.wildcard) == ("not_denied", None)


# --- wildcard NODATA, the apex NODATA, NSEC and NSEC3 mixed (issue 11) ----------------------

WILD_NODATA = [("wildcard-txt-only.test.", "nsec"), ("wildcard-txt-only-nsec3.test.", "nsec3")]


def _without(r: dns.message.Message, owner: dns.name.Name, rdtype: int) -> dns.message.Message:
    """``r`` with the ``rdtype`` RRset owned by ``owner`` and its RRSIGs taken out."""
    out = dns.message.from_wire(r.to_wire(max_size=65535))
    out.authority = [
        x for x in out.authority if not (x.name == owner and rdtype in (x.rdtype, x.covers))
    ]
    return out


@pytest.mark.parametrize("zone, kind", WILD_NODATA)
def test_a_wildcard_nodata_proof_is_recognised_and_each_part_is_needed(tree, zone, kind):
    """*.zone holds only TXT: a name that does not exist, asked for A, gets NOERROR with no
    answer. RFC 4035 §3.1.3.4 / §5.4: an NSEC covering the name and the NSEC of the wildcard,
    whose bitmap lacks A; RFC 5155 §7.2.5 / §8.7: the closest encloser proof (the NSEC3
    matching the apex, the NSEC3 covering the next closer name) and the NSEC3 matching the
    wildcard. The verdict says it was a wildcard NODATA; without any one of those records, it
    is invalid and says which is missing."""
    z = tree.zones[zone]
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    rdtype = getattr(dns.rdatatype, kind.upper())
    qname = name(f"zzz.{zone}")  # sorts after every name: its covering NSEC is not *'s own
    r = respond(z, qname, "A")
    assert (r.rcode(), r.answer) == (dns.rcode.NOERROR, [])
    check = check_denial(z.origin, qname, 1, r, keys_, NOW)
    assert (check.proof, check.kind, check.wildcard) == ("valid", kind, None), check.why
    assert check.why == (
        f"wildcard NODATA: *.{zone} holds no A; {kind.upper()} proves {qname} does not exist"
    )
    whys = set()
    for rr in [x for x in r.authority if x.rdtype == rdtype]:
        partial = check_denial(z.origin, qname, 1, _without(r, rr.name, rdtype), keys_, NOW)
        if partial.proof != "valid":
            assert partial.proof == "invalid" and partial.kind == kind
            whys.add(partial.why)
    if kind == "nsec":
        assert whys == {
            f"NODATA without an NSEC matching {qname}, nor one covering it (a wildcard NODATA)",
            f"wildcard NODATA: *.{zone}: an NSEC covers {qname}, but no NSEC matches *.{zone}",
        }
    else:
        assert whys == {
            f"NODATA without an NSEC3 matching {qname}, nor a closest encloser proof (a "
            "wildcard NODATA)",
            f"wildcard NODATA: *.{zone}: no NSEC3 covers the next closer {qname}",
            f"wildcard NODATA: *.{zone}: no NSEC3 matches *.{zone}",
        }


@pytest.mark.parametrize("zone, kind", WILD_NODATA)
def test_a_wildcard_nodata_with_the_type_in_its_bitmap_or_unsigned_is_invalid(tree, zone, kind):
    """The same answer cannot deny TXT, which the wildcard's bitmap lists (the name would be
    answered from the wildcard); and every record the proof uses must be validly signed: the
    wildcard's record without its RRSIG, or with a forged one, breaks it."""
    z = tree.zones[zone]
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    rdtype = getattr(dns.rdatatype, kind.upper())
    qname = name(f"_audit-1.{zone}")
    r = respond(z, qname, "A")
    lying = check_denial(z.origin, qname, dns.rdatatype.TXT, r, keys_, NOW)
    assert lying.proof == "invalid"
    assert lying.why == (
        f"wildcard NODATA: *.{zone}: the wildcard's {kind.upper()} lists the type asked (or CNAME)"
    )
    source = name(f"*.{zone}")
    if kind == "nsec3":
        source = name(dns.dnssec.nsec3_hash(source, b"", 0, 1).lower() + f".{zone}")
    unsigned = dns.message.from_wire(r.to_wire(max_size=65535))
    unsigned.authority = [
        x
        for x in unsigned.authority
        if not (x.name == source and x.rdtype == dns.rdatatype.RRSIG and x.covers == rdtype)
    ]
    assert len(unsigned.authority) == len(r.authority) - 1  # the wildcard's RRSIG is gone
    check = check_denial(z.origin, qname, 1, unsigned, keys_, NOW)
    assert check.proof == "invalid"
    assert check.why == f"{kind.upper()} {source} not validly signed (missing)"
    forged = dns.message.from_wire(r.to_wire(max_size=65535))
    for i, x in enumerate(forged.authority):
        if x.name == source and x.rdtype == dns.rdatatype.RRSIG:
            bad = [rd.replace(signature=b"\0" * len(rd.signature)) for rd in x]
            forged.authority[i] = dns.rrset.from_rdata_list(x.name, x.ttl, bad)
    check = check_denial(z.origin, qname, 1, forged, keys_, NOW)
    assert check.proof == "invalid" and "not validly signed (invalid)" in check.why


@pytest.mark.parametrize("zone, kind", WILD_NODATA)
def test_the_apex_nodata_needs_the_apex_record_even_beside_a_wildcard(tree, zone, kind):
    """The collector's apex NODATA probe (TYPE65280) is proven by the NSEC/NSEC3 matching the
    apex (RFC 4035 §3.1.3.1, RFC 5155 §7.2.3), also in a zone with a wildcard. The apex always
    exists, so no wildcard NODATA can stand in for that record: without it the proof is
    invalid although the wildcard's record (lacking TYPE65280) is there."""
    z = tree.zones[zone]
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    rdtype = getattr(dns.rdatatype, kind.upper())
    r = respond(z, z.origin, "TYPE65280")
    check = check_denial(z.origin, z.origin, 65280, r, keys_, NOW)
    assert (check.proof, check.why) == ("valid", f"{kind.upper()} proves NODATA")
    apex = z.origin
    if kind == "nsec3":
        apex = name(dns.dnssec.nsec3_hash(z.origin, b"", 0, 1).lower() + f".{zone}")
    stripped = check_denial(z.origin, z.origin, 65280, _without(r, apex, rdtype), keys_, NOW)
    assert stripped.proof == "invalid"
    assert stripped.why.startswith(f"NODATA without an {kind.upper()} matching {zone}")


def _mixed_response(tree, qname: str, qtype: str) -> tuple[dns.message.Message, dns.rrset.RRset]:
    """denial-inconsistent.test's answer from ns1 (NSEC) with ns2's NSEC3 records (the same
    keys) added to its authority section: a server mixing the two methods."""
    nsec_zone = tree.zones["denial-inconsistent.test."]
    nsec3_zone = tree.variants["ns2"]["denial-inconsistent.test."]
    r = respond(nsec_zone, name(qname), qtype)
    extra = respond(nsec3_zone, name(qname), qtype).authority
    r.authority += [
        x for x in extra if dns.rdatatype.NSEC3 in (x.rdtype, x.covers)
    ]  # fmt: skip
    return r, nsec_zone.get_rrset(nsec_zone.origin, dns.rdatatype.DNSKEY)


@pytest.mark.parametrize(
    "qname, qtype, rcode",
    [("_audit-1.denial-inconsistent.test.", "A", "NXDOMAIN"),
     ("denial-inconsistent.test.", "TYPE65280", "NOERROR")],
)  # fmt: skip
def test_nsec_and_nsec3_mixed_in_one_response(tree, qname, qtype, rcode):
    """RFC 5155 §7.2 has an NSEC3 zone answer with NSEC3 instead of NSEC, so a mixed response
    is a server fault, but a validator holding a complete, validly signed proof of either kind
    has its proof (RFC 4035 §5.4, RFC 5155 §8). The checker no longer prefers NSEC3 silently:
    a broken NSEC3 part beside a complete NSEC proof is valid (before: invalid, a false
    finding), and the reverse too; the why names the mix; with both broken it is invalid and
    says why for each."""
    zone = name("denial-inconsistent.test.")
    r, keys_ = _mixed_response(tree, qname, qtype)
    assert dns.rcode.to_text(r.rcode()) == rcode
    kinds = {x.rdtype for x in r.authority}
    assert {dns.rdatatype.NSEC, dns.rdatatype.NSEC3} <= kinds
    qt = dns.rdatatype.from_text(qtype)
    both = check_denial(zone, name(qname), qt, r, keys_, NOW)
    assert both.proof == "valid", both.why
    assert both.why.startswith("NSEC and NSEC3 mixed in one response (RFC 5155 §7.2); NSEC")

    def strip_sigs(msg, covered):
        out = dns.message.from_wire(msg.to_wire(max_size=65535))
        out.authority = [
            x
            for x in out.authority
            if not (x.rdtype == dns.rdatatype.RRSIG and x.covers == covered)
        ]
        return out

    nsec_only = check_denial(zone, name(qname), qt, strip_sigs(r, dns.rdatatype.NSEC3), keys_, NOW)
    assert (nsec_only.proof, nsec_only.kind) == ("valid", "nsec"), nsec_only.why
    nsec3_only = check_denial(zone, name(qname), qt, strip_sigs(r, dns.rdatatype.NSEC), keys_, NOW)
    assert (nsec3_only.proof, nsec3_only.kind) == ("valid", "nsec3"), nsec3_only.why
    neither = strip_sigs(strip_sigs(r, dns.rdatatype.NSEC), dns.rdatatype.NSEC3)
    broken = check_denial(zone, name(qname), qt, neither, keys_, NOW)
    assert broken.proof == "invalid"
    assert broken.why.startswith(
        "NSEC and NSEC3 mixed in one response (RFC 5155 §7.2), and neither proves it: NSEC3: "
    )
    assert broken.why.count("not validly signed (missing)") == 2


def test_a_wildcard_expansion_with_a_stray_nsec3_part_is_judged_by_its_nsec_proof(tree):
    """A wildcard answer of wildcard.test (NSEC) with NSEC3 records that prove nothing for it
    (another zone's chain, signed by other keys) added: the complete NSEC proof still proves
    the expansion, as in any mixed response; before, NSEC3 alone was judged (invalid)."""
    z, other = tree.zones["wildcard.test."], tree.zones["wildcard-nsec3.test."]
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    qname = name("_audit-1.wildcard.test.")
    r = respond(z, qname, "A")
    stray = respond(other, name("_audit-1.wildcard-nsec3.test."), "A").authority
    r.authority += [x for x in stray if dns.rdatatype.NSEC3 in (x.rdtype, x.covers)]
    check = check_denial(z.origin, qname, 1, r, keys_, NOW)
    assert (check.proof, check.kind, check.wildcard) == ("valid", "nsec", "*.wildcard.test.")
    assert check.why == (
        "NSEC and NSEC3 mixed in one response (RFC 5155 §7.2); wildcard *.wildcard.test. "
        "expanded; nsec proves _audit-1.wildcard.test. does not exist"
    )
    no_nsec = _without(r, name("*.wildcard.test."), dns.rdatatype.NSEC)
    broken = check_denial(z.origin, qname, 1, no_nsec, keys_, NOW)
    assert broken.proof == "invalid" and "neither proves it" in broken.why, broken.why


# --- the catalog, offline ----------------------------------------------------------------


def served(tree, lz) -> dict:
    zone = zones.absolute(lz.zone)
    out = {NS1: tree.zones[zone], NS2: tree.variants.get("ns2", {}).get(zone, tree.zones[zone])}
    if zones.RECIPES[lz.scenario].lame:
        out[NS3] = None  # the lame server does not serve the zone
    return out


@pytest.fixture(scope="module")
def offline(tree):
    test = tree.zones["test."]
    parent = Verdict("secure", [], keys=test.get_rrset(test.origin, dns.rdatatype.DNSKEY))
    rows = {s.name: [] for s in EVIDENCE}
    zone_rows, verdicts = [], {}
    for lz in LAB_ZONES:
        ev = offline_evidence(lz.zone + ".", served(tree, lz), test, parent, NOW, names=lz.names)
        verdicts[lz.zone] = ev.verdict
        for frame, part in zone_evidence_rows(ev, None).items():
            rows[frame] += part
        v = ev.verdict
        zone_rows.append(
            {
                "zone": lz.zone,
                "status": v.status,
                "reasons": ";".join(v.reasons),
                "reason_text": ";".join(v.reasons),
                "has_ds": v.has_ds,
                "signed": v.signed,
            }
        )
    frames = {s.name: s.frame(rows[s.name]) for s in EVIDENCE}
    frames["zones"] = ZONES.frame(zone_rows)
    frames["inventory"] = INVENTORY.frame(
        {"zone": z.zone, "policy": "lab", "names": ";".join(z.names) or None} for z in LAB_ZONES
    )
    policies = PolicySet({"lab": SigningPolicy("lab", "", **LAB_POLICY)}, "lab")
    registry = Registry()
    for check, func in AUDIT_CHECKS:
        registry.register(check, func)
    findings = registry.run(Context(frames, policies, NOW))
    return verdicts, frames, findings


@pytest.mark.parametrize("lz", LAB_ZONES, ids=[z.zone for z in LAB_ZONES])
def test_offline_catalog_gives_each_scenario_its_status_and_findings(offline, lz):
    verdicts, _, findings = offline
    assert verdicts[lz.zone].status == lz.expected_status
    mine = findings[findings["zone"] == lz.zone]
    failed = set(mine.loc[mine["status"] == "fail", "check_id"])
    assert failed == lz.expected_failures & AUDIT_IDS
    assert len(mine) == len(AUDIT_IDS)  # one result per check, never none


def test_offline_evidence_frames_hold_the_facts(offline):
    _, frames, _ = offline
    ns = frames["nameservers"]
    lame = ns[(ns["zone"] == "lame-server.test") & (ns["side"] == "child")]
    assert sorted(lame["answered"]) == [False, True, True]
    ds = frames["ds_matches"].set_index("zone")
    assert ds.loc["legacy.test", "matches_key_tag"] == False  # noqa: E712
    assert ds.loc["ds-sha1-only.test", "digest_type"] == 1
    assert bool(ds.loc["ds-sha1-only.test", "digest_verifies"])
    keys_ = frames["dnskeys"]
    assert set(keys_.loc[keys_["zone"] == "rsa-1024.test", "key_bits"]) == {1024, 2048}
    d = frames["denial"]
    assert set(d.loc[d["zone"] == "nsec3-clean.test", "proof"]) == {"valid"}
    sigs = frames["signatures"]
    corp = sigs[(sigs["zone"] == "corp.test") & (sigs["side"] == "child")]
    assert (corp["status"] == "valid").all()


# --- names beyond the apex (issue 11) -------------------------------------------------------


def _names_of(frames, zone: str) -> dict:
    df = frames["names"]
    mine = df[df["zone"] == zone]
    return {
        (r["name"], r["qtype"], r["server"]): (r["answer"], r["status"], r["reason"])
        for _, r in mine.iterrows()
    }


def test_a_www_signed_by_a_key_outside_the_dnskey_set_is_bogus_while_the_apex_is_secure(offline):
    verdicts, frames, findings = offline
    assert verdicts["name-bogus.test"].status == "secure"
    seen = _names_of(frames, "name-bogus.test")
    # 3 names x 4 types x 2 servers
    assert len(seen) == 24
    for server in (NS1[1], NS2[1]):
        answer, status, reason = seen[("www.name-bogus.test", "A", server)]
        assert (answer, status) == ("data", "bogus")
        assert reason.startswith("RRSIG_MISSING: signed only by key ")
        assert "not a key of the zone's validated DNSKEY set" in reason
        assert seen[("www.name-bogus.test", "AAAA", server)][:2] == ("nodata", "secure")
        assert seen[("name-bogus.test", "TXT", server)][:2] == ("data", "secure")
        assert seen[("name-bogus.test", "MX", server)][:2] == ("nodata", "secure")
        assert seen[("nothere.name-bogus.test", "A", server)][:2] == ("nxdomain", "secure")
    f = findings.set_index(["zone", "check_id"])
    row = f.loc[("name-bogus.test", "names_validate")]
    assert row["status"] == "fail" and row["severity"] == "critical"
    assert "www.name-bogus.test A" in row["message"]
    assert "RRSIG_MISSING" in row["evidence"]


def test_listed_names_of_healthy_and_unsigned_zones(offline):
    _, frames, findings = offline
    corp = _names_of(frames, "corp.test")
    assert {status for _, status, _ in corp.values()} == {"secure"}
    assert corp[("_dmarc.corp.test", "TXT", NS1[1])][0] == "nxdomain"
    marketing = _names_of(frames, "marketing.test")
    assert {status for _, status, _ in marketing.values()} == {"insecure"}
    f = findings.set_index(["zone", "check_id"])["status"]
    assert f[("corp.test", "names_validate")] == "pass"
    assert f[("marketing.test", "names_validate")] == "not_applicable"
    assert f[("payments.test", "names_validate")] == "not_applicable"  # no names listed
    assert frames["names"][frames["names"]["zone"] == "payments.test"].empty


def test_a_zone_without_names_asks_no_extra_question(tree):
    test = tree.zones["test."]
    parent = Verdict("secure", [], keys=test.get_rrset(test.origin, dns.rdatatype.DNSKEY))
    lz = next(z for z in LAB_ZONES if z.scenario == "name-bogus")
    bare = offline_evidence(lz.zone + ".", served(tree, lz), test, parent, NOW)
    listed = offline_evidence(lz.zone + ".", served(tree, lz), test, parent, NOW, names=lz.names)
    assert len(listed.plan.probes) - len(bare.plan.probes) == 3 * 4 * 2
    assert not [p for p in bare.plan.probes if p.purpose == "name"]
    assert zone_evidence_rows(bare, None)["names"] == []


def test_a_forged_signature_or_a_missing_answer_for_a_name(tree):
    """A signature by a key of the set that does not verify is bogus (RRSIG_INVALID); a server
    that does not answer, or answers SERVFAIL, leaves the name indeterminate, never secure."""
    test = tree.zones["test."]
    parent = Verdict("secure", [], keys=test.get_rrset(test.origin, dns.rdatatype.DNSKEY))
    lz = next(z for z in LAB_ZONES if z.zone == "corp.test")

    def edit(server, qtype, r):
        if r.question[0].name != name("www.corp.test.") or qtype != "A":
            return r
        if server == NS2:
            r.set_rcode(dns.rcode.SERVFAIL)
            r.answer = []
            return r
        (sig,) = [a for a in r.answer if a.rdtype == dns.rdatatype.RRSIG]
        forged = [s.replace(signature=s.signature[:-1] + bytes([s.signature[-1] ^ 1])) for s in sig]
        r.answer = [a for a in r.answer if a.rdtype != dns.rdatatype.RRSIG]
        r.answer.append(dns.rrset.from_rdata_list(sig.name, sig.ttl, forged))
        return r

    ev = offline_evidence(
        "corp.test.", served(tree, lz), test, parent, NOW, edit=edit, names=("www",)
    )
    rows = {(r["qtype"], r["server"]): r for r in zone_evidence_rows(ev, None)["names"]}
    assert rows[("A", NS1[1])]["status"] == "bogus"
    assert rows[("A", NS1[1])]["reason"].startswith("RRSIG_INVALID")
    assert (rows[("A", NS2[1])]["answer"], rows[("A", NS2[1])]["status"]) == (
        "error",
        "indeterminate",
    )
    assert rows[("A", NS1[1])]["rdata"] == zones.WWW_ADDRESS


def test_judge_name_follows_the_zone_status():
    q = dns.message.make_query("www.z.test.", "A", want_dnssec=True)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    r.answer.append(dns.rrset.from_text("www.z.test.", 300, "IN", "A", "192.0.2.1"))
    z = name("z.test.")
    assert judge_name(z, name("www.z.test."), "A", r, Verdict("insecure", []), NOW).status == (
        "insecure"
    )
    bogus = judge_name(z, name("www.z.test."), "A", r, Verdict("bogus", ["RRSIG_EXPIRED"]), NOW)
    assert bogus.status == "bogus" and "apex is bogus" in bogus.reason
    unknown = judge_name(z, name("www.z.test."), "A", r, Verdict("indeterminate", []), NOW)
    assert unknown.status == "indeterminate"
    none = judge_name(
        z, name("www.z.test."), "A", None, Verdict("secure", []), NOW, error="timeout"
    )
    assert (none.answer, none.status, none.reason) == (
        "none",
        "indeterminate",
        "no answer (timeout)",
    )
    referral = dns.message.make_response(q)
    referral.authority.append(dns.rrset.from_text("www.z.test.", 300, "IN", "NS", "ns.www.z.test."))
    judged = judge_name(z, name("www.z.test."), "A", referral, Verdict("secure", []), NOW)
    assert (judged.answer, judged.status) == ("referral", "indeterminate")


def test_a_delegation_nsec_from_the_parent_side_denies_nothing_below_the_cut(tree):
    """RFC 6840 §4.1 on the lab's signed test. zone: the NSEC at corp.test. (NS DS RRSIG NSEC,
    no SOA) is the parent side of a zone cut. It still proves that island-like brand.test. has
    no DS (the one type the parent answers for), but it must not deny a name below the cut
    (x.corp.test. NXDOMAIN, which it covers in canonical order) nor another type at the cut
    (corp.test. A): before, both were judged valid proofs."""
    z = tree.zones["test."]
    keys_ = z.get_rrset(z.origin, dns.rdatatype.DNSKEY)
    below = respond(z, name("x.corp.test."), "A")
    assert below.rcode() == dns.rcode.NXDOMAIN
    check = check_denial(z.origin, name("x.corp.test."), 1, below, keys_, NOW)
    assert (check.proof, check.kind) == ("invalid", "nsec")
    assert check.why.startswith("RFC 6840 §4.1") and "cannot deny x.corp.test." in check.why
    at_cut = respond(z, name("corp.test."), "A")
    at_cut.answer = []
    at_cut.authority = [x for x in at_cut.authority if x.rdtype != dns.rdatatype.NS]
    at_cut.authority += [
        x for x in respond(z, name("test."), "TYPE65280").authority if x.name == name("corp.test.")
    ]
    check = check_denial(z.origin, name("corp.test."), 1, at_cut, keys_, NOW)
    assert check.proof == "invalid" and "cannot deny A at corp.test." in check.why, check.why
    no_ds = respond(z, name("brand.test."), "DS")
    check = check_denial(z.origin, name("brand.test."), dns.rdatatype.DS, no_ds, keys_, NOW)
    assert (check.proof, check.kind) == ("valid", "nsec"), check.why
