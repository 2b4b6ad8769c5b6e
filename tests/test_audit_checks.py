"""The audit checks on hand-built evidence frames: every check fails on its fault, passes on a
healthy zone, is indeterminate without evidence and not applicable where it does not apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from toolkit.checks import (
    Context,
    Registry,
    cds,
    consistency,
    default_registry,
    keys,
    practice,
    signatures,
)
from toolkit.checks.base import Result
from toolkit.checks.evidence import SIGNED, Evidence, each_zone
from toolkit.errors import InputError
from toolkit.inputs.policy import PolicySet, SigningPolicy, load_policies
from toolkit.schemas import (
    CDS,
    DENIAL,
    DNSKEYS,
    DS_MATCHES,
    INVENTORY,
    NAMESERVERS,
    RECORDS,
    SIGNATURES,
)
from toolkit.schemas import ZONES as ZONES_SCHEMA

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
S1, S2 = "192.0.2.3", "192.0.2.4"
PARENT = "192.0.2.2"
KSK, ZSK = 101, 202
MODULES = (keys, signatures, consistency, cds)
POLICY = SigningPolicy(
    "std", "", (13, 15, 8), 90, 365, 5.0, signature_validity_days=30.0, key_scheme="split"
)


def healthy(zone: str) -> dict[str, list[dict]]:
    """Evidence rows of a well-run zone: two servers, a KSK and a ZSK (13), a SHA-256 DS,
    valid signatures (20 days left), valid NSEC proofs."""
    owner = zone + "."
    ns_set = f"ns1.{owner};ns2.{owner}"
    out: dict[str, list[dict]] = {
        "nameservers": [
            dict(zone=zone, side="parent", server=PARENT, answered=True, ns_set=ns_set,
                 ds_set=f"{KSK} 13 2 ab"),
        ],
        "dnskeys": [],
        "signatures": [],
        "ds_matches": [
            dict(zone=zone, server=PARENT, key_tag=KSK, algorithm=13, digest_type=2, digest="ab",
                 matches_key_tag=True, digest_verifies=True, key_flags=257, key_has_sep=True,
                 key_revoked=False, key_signs_dnskey=True),
        ],
        "cds": [],
        "denial": [],
        "records": [
            dict(zone=zone, owner_name=owner, rrtype="DS", ttl=86400, server=PARENT,
                 source="parent", key_tag=KSK, algorithm=13, digest_type=2,
                 rdata=f"{KSK} 13 2 ab"),
        ],
    }  # fmt: skip
    for server in (S1, S2):
        out["nameservers"].append(
            dict(zone=zone, side="child", server=server, answered=True, soa_serial=7,
                 soa_expire=1209600, dnskey_set=f"{KSK}/13/257;{ZSK}/13/256", ns_set=ns_set)
        )  # fmt: skip
        for tag, flags, signs in ((KSK, 257, "DNSKEY"), (ZSK, 256, "NS;SOA")):
            out["dnskeys"].append(
                dict(zone=zone, server=server, key_tag=tag, algorithm=13, flags=flags,
                     protocol=3, zone_key=True, sep=flags == 257, revoked=False, key_bits=256,
                     ttl=3600, ds_match=tag == KSK, signs=signs)
            )  # fmt: skip
        for covered, tag in (("SOA", ZSK), ("NS", ZSK), ("DNSKEY", KSK), ("NSEC", ZSK)):
            out["signatures"].append(sig(zone, server, covered, tag))
        for purpose, qtype in (("nxdomain", "A"), ("nodata", "TYPE65280")):
            out["denial"].append(
                dict(zone=zone, server=server, qname=f"_x.{owner}", qtype=qtype, purpose=purpose,
                     kind="nsec", proof="valid", why="NSEC proves it", nsec3param="")
            )  # fmt: skip
    return out


def sig(zone, server, covered, tag, status="valid", **kw):
    row = dict(zone=zone, side="child", server=server, owner=zone + ".", covered_type=covered,
               key_tag=tag, algorithm=13, signer=zone + ".", original_ttl=3600, rrset_ttl=3600,
               rrsig_ttl=3600, status=status, days_left=20.0, inception=NOW - timedelta(days=10),
               expiration=NOW + timedelta(days=20))  # fmt: skip
    return row | kw


def where(rows, **match):
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def fault_nsec3(ev):
    for r in ev["denial"]:
        r.update(kind="nsec3", iterations=10, salt="ab", nsec3param="1 0 10 AB")


def fault_no_nsec3_issue(ev):
    for r in ev["denial"]:
        r.update(kind="nsec3", iterations=0, salt="", nsec3param="1 0 0 -")


def fault_denial_mixed(ev):
    for r in where(ev["denial"], server=S2):
        r.update(kind="nsec3", iterations=0, salt="", opt_out=False, nsec3param="1 0 0 -")


def fault_wildcard_unproven(ev):
    for r in where(ev["denial"], purpose="nxdomain"):
        why = "wildcard *.wildcard.test. expanded, but no NSEC or NSEC3 record proves it"
        r.update(
            rcode="NOERROR", kind="none", proof="invalid", wildcard="*.wildcard.test.", why=why
        )


def fault_nsec3param_salt(ev):
    for r in ev["denial"]:
        r.update(kind="nsec3", iterations=0, salt="", nsec3param="1 0 0 ABCD")


def fault_expired(ev):
    ev["signatures"][0].update(status="expired", days_left=-2.0)


def fault_premature(ev):
    ev["signatures"][0].update(status="premature", days_left=33.0)


def fault_invalid(ev):
    ev["signatures"][2].update(status="invalid", detail="verify failure")


def fault_signer(ev):
    ev["signatures"][0].update(status="signer_mismatch", signer="test.")


def fault_rsasha512(ev):
    for r in ev["dnskeys"]:
        r.update(algorithm=10, key_bits=2048)
    for r in ev["signatures"]:
        r["algorithm"] = 10


def fault_missing_alg(ev):
    zone = ev["signatures"][0]["zone"]
    for server in (S1, S2):
        ev["signatures"].append(sig(zone, server, "SOA", None, "missing", algorithm=15))


def fault_no_rrsig(ev):
    for r in where(ev["signatures"], covered_type="NS"):
        r.update(status="missing", key_tag=None, signer=None)


def fault_serial(ev):
    where(ev["nameservers"], server=S2)[0]["soa_serial"] = 6


def fault_dnskey_set(ev):
    where(ev["nameservers"], server=S2)[0]["dnskey_set"] = f"{KSK}/13/257"


def fault_ns_child(ev):
    for r in where(ev["nameservers"], side="child"):
        r["ns_set"] += ";ns3.x."


def fault_ns_one_server(ev):
    where(ev["nameservers"], server=S2)[0]["ns_set"] += ";ns3.x."


def fault_parent_ds(ev):
    zone = ev["nameservers"][0]["zone"]
    ev["nameservers"].append(
        dict(zone=zone, side="parent", server="192.0.2.22", answered=True,
             ns_set=ev["nameservers"][0]["ns_set"], ds_set=None)
    )  # fmt: skip


def fault_denial(ev):
    ev["denial"][0].update(proof="invalid", why="no NSEC covers it")


def fault_rsa1024(ev):
    for r in where(ev["dnskeys"], key_tag=ZSK):
        r.update(algorithm=8, key_bits=1024)
    for r in where(ev["signatures"], key_tag=ZSK):
        r["algorithm"] = 8


def fault_rsasha1(ev):
    for r in ev["dnskeys"]:
        r.update(algorithm=5, key_bits=2048)
    for r in ev["signatures"]:
        r["algorithm"] = 5


def fault_sha1(ev):
    ev["ds_matches"][0]["digest_type"] = 1


def fault_gost(ev):
    ev["ds_matches"].append(ev["ds_matches"][0] | {"digest_type": 3, "digest_verifies": None})


def fault_sha1_beside(ev):
    ev["ds_matches"].append(ev["ds_matches"][0] | {"digest_type": 1, "digest": "cd"})


def fault_unassigned_digest(ev):
    ev["ds_matches"][0].update(digest_type=99, digest_verifies=None)


def fault_algorithm(number):
    """Keys, signatures and DS of algorithm ``number``, which validators do not validate:
    the signatures are ``unsupported_algorithm`` (as the collector records them)."""

    def fault(ev):
        for r in ev["dnskeys"]:
            r.update(algorithm=number, key_bits=2048)
        for r in ev["signatures"]:
            r.update(algorithm=number, status="unsupported_algorithm", detail="not validated")
        ev["ds_matches"][0]["algorithm"] = number

    return fault


def fault_bad_digest(ev):
    ev["ds_matches"].append(ev["ds_matches"][0] | {"digest_verifies": False})


def fault_no_sep(ev):
    ev["ds_matches"][0].update(key_has_sep=False, key_flags=256)


def fault_csk(ev):
    for r in where(ev["signatures"], covered_type="DNSKEY"):
        r["key_tag"] = ZSK


def fault_unused(ev):
    ev["dnskeys"].append(ev["dnskeys"][1] | {"key_tag": 303, "signs": "", "ds_match": False})


def fault_revoked(ev):
    ev["signatures"].append(ev["signatures"][0] | {"key_tag": 404, "status": "revoked_key"})


def fault_ttl(ev):
    ev["signatures"][1].update(original_ttl=40 * 86400, rrset_ttl=40 * 86400, rrsig_ttl=40 * 86400)


def fault_soa_expire(ev):
    for r in ev["signatures"]:
        r["days_left"] = 10.0


def cds_rows(zone, rrtypes=("CDS", "CDNSKEY"), **kw):
    """CDS and CDNSKEY rows (both, by default) of the KSK at both servers, overridden by kw."""
    base = dict(zone=zone, rdata=f"{KSK} 13 2 ab", key_tag=KSK, algorithm=13,
                digest_type=2, delete=False, matches_dnskey=True, matches_ds=True, rrset_size=1,
                signed_by_ds_key=True)  # fmt: skip
    return [base | {"server": s, "rrtype": t} | kw for s in (S1, S2) for t in rrtypes]


def fault_cds_stray(ev):
    zone = ev["nameservers"][0]["zone"]
    ev["cds"] += cds_rows(zone, matches_dnskey=False, matches_ds=False, key_tag=999)


def fault_cds_unsigned(ev):
    ev["cds"] += cds_rows(ev["nameservers"][0]["zone"], signed_by_ds_key=False)


def fault_cds_delete_mixed(ev):
    zone = ev["nameservers"][0]["zone"]
    ev["cds"] += cds_rows(zone, rrset_size=2) + cds_rows(
        zone, rdata="0 0 0 00", key_tag=0, algorithm=0, digest_type=0, delete=True,
        delete_wellformed=True, matches_dnskey=None, matches_ds=None, rrset_size=2,
    )  # fmt: skip


def fault_cds_ok(ev):
    ev["cds"] += cds_rows(ev["nameservers"][0]["zone"])


def fault_cds_pending(ev):
    """A KSK rollover half done: the new KSK (505) is published, signs the DNSKEY RRset and is
    named by CDS/CDNSKEY beside the current one, but the parent has no DS for it yet."""
    zone = ev["nameservers"][0]["zone"]
    for server in (S1, S2):
        ev["dnskeys"].append(where(ev["dnskeys"], server=server, key_tag=KSK)[0] | {"key_tag": 505})
    ev["cds"] += cds_rows(zone) + cds_rows(zone, key_tag=505, rdata="505 13 2 cd", matches_ds=False)


def fault_cds_delete_with_ds(ev):
    ev["cds"] += cds_rows(
        ev["nameservers"][0]["zone"], rdata="0 0 0 00", key_tag=0, algorithm=0, digest_type=0,
        delete=True, delete_wellformed=True, matches_dnskey=None, matches_ds=None,
    )  # fmt: skip


def fault_cds_only(ev):
    ev["cds"] += cds_rows(ev["nameservers"][0]["zone"], rrtypes=("CDS",))


def fault_cds_zsk(ev):
    ev["cds"] += cds_rows(ev["nameservers"][0]["zone"], key_tag=ZSK, matches_ds=False)


def fault_ds_revoked(ev):
    ev["ds_matches"][0].update(key_revoked=True, key_flags=385)


def fault_ttl_above_original(ev):
    for r in where(ev["signatures"], covered_type="NS"):
        r["rrset_ttl"] = 7200


def fault_long_validity(ev):
    for r in ev["signatures"]:
        r.update(expiration=NOW + timedelta(days=200), days_left=200.0)


def fault_rrsig_ttl(ev):
    where(ev["signatures"], server=S2, covered_type="NS")[0]["rrsig_ttl"] = 300


FAULTS = {
    "healthy.test": (None, set()),
    "nsec3.test": (fault_nsec3, {"nsec3_parameters_rfc9276"}),
    "nsec3-clean.test": (fault_no_nsec3_issue, set()),
    "expired.test": (fault_expired, {"rrsig_not_expired"}),
    "alg.test": (fault_missing_alg, {"rrsig_every_algorithm"}),
    "early.test": (fault_premature, {"rrsig_not_premature"}),
    "forged.test": (fault_invalid, {"rrsig_verifies"}),
    "signer.test": (fault_signer, {"rrsig_signer_is_zone"}),
    "sha512.test": (
        fault_rsasha512,
        {"dnskey_algorithm_not_recommended", "dnskey_algorithm_in_policy"},
    ),
    "bare.test": (fault_no_rrsig, {"rrsig_present"}),
    "serial.test": (fault_serial, {"soa_serial_consistent_across_servers"}),
    "keyset.test": (fault_dnskey_set, {"dnskey_consistent_across_servers"}),
    "nschild.test": (fault_ns_child, {"parent_child_ns_agree"}),
    "nsone.test": (fault_ns_one_server, {"parent_child_ns_agree", "ns_consistent_across_servers"}),
    "parentds.test": (fault_parent_ds, {"parent_servers_agree_on_ds"}),
    "denial.test": (fault_denial, {"denial_proofs_valid"}),
    "rsa.test": (fault_rsa1024, {"rsa_key_length"}),
    "sha1alg.test": (
        fault_rsasha1,
        {"dnskey_algorithm_must_not_sign", "dnskey_algorithm_in_policy"},
    ),
    "sha1ds.test": (fault_sha1, {"ds_digest_sha256"}),
    "gost.test": (fault_gost, {"ds_digest_type_prohibited"}),
    "digest.test": (fault_bad_digest, {"ds_matches_dnskey"}),
    "sha1both.test": (fault_sha1_beside, {"ds_sha1_beside_sha256"}),
    "digest99.test": (
        fault_unassigned_digest,
        {"ds_usable_by_validators", "ds_digest_type_prohibited"},
    ),
    "private.test": (
        fault_algorithm(253),
        {"ds_usable_by_validators", "dnskey_algorithm_must_not_sign", "dnskey_algorithm_in_policy"},
    ),
    "rsamd5.test": (
        fault_algorithm(1),
        {"ds_usable_by_validators", "dnskey_algorithm_must_not_sign", "dnskey_algorithm_in_policy"},
    ),
    "nosep.test": (fault_no_sep, {"ds_points_at_sep_key"}),
    "csk.test": (fault_csk, {"key_scheme_matches_policy"}),
    "unused.test": (fault_unused, {"dnskey_unused"}),
    "revoked.test": (fault_revoked, {"rrsig_not_by_revoked_key"}),
    "ttl.test": (fault_ttl, {"ttl_within_signature_validity"}),
    "expire.test": (fault_soa_expire, {"rrsig_outlives_soa_expire"}),
    "cdsok.test": (fault_cds_ok, set()),
    "cdsstray.test": (
        fault_cds_stray,
        {"cds_matches_dnskey", "cds_key_signs_dnskey", "cds_pending_at_parent"},
    ),
    "cdsunsigned.test": (fault_cds_unsigned, {"cds_signed_by_ds_key"}),
    "cdsdelete.test": (fault_cds_delete_mixed, {"cds_delete_wellformed", "cds_delete_while_ds"}),
    "cdspending.test": (fault_cds_pending, {"cds_pending_at_parent"}),
    "cdsdeleteds.test": (fault_cds_delete_with_ds, {"cds_delete_while_ds"}),
    "cdsonly.test": (fault_cds_only, {"cds_and_cdnskey_published"}),
    "cdszsk.test": (fault_cds_zsk, {"cds_key_signs_dnskey", "cds_pending_at_parent"}),
    "dsrevoked.test": (fault_ds_revoked, {"ds_points_at_sep_key", "ds_not_only_revoked_keys"}),
    "origttl.test": (  # the RRSIG keeps its TTL, as Knot serves the lab's scenario
        fault_ttl_above_original,
        {"rrset_ttl_within_original_ttl", "rrsig_ttl_matches_rrset_ttl"},
    ),
    "longsig.test": (fault_long_validity, {"rrsig_validity_not_too_long"}),
    "sigttl.test": (fault_rrsig_ttl, {"rrsig_ttl_matches_rrset_ttl"}),
    "mixeddenial.test": (fault_denial_mixed, {"denial_consistent_across_servers"}),
    "n3param.test": (fault_nsec3param_salt, {"nsec3param_matches_chain"}),
    "wildcard.test": (fault_wildcard_unproven, {"wildcard_answers_proven"}),
}


HISTORY_JUDGED = {"cds_pending_not_stale"}
"""Checks judged across runs: tests/test_signing_history.py gives them sequences of runs."""


def registry() -> Registry:
    reg = Registry()
    for module in MODULES:
        for check, func in module.CHECKS:
            if check.id not in HISTORY_JUDGED:
                reg.register(check, func)
    return reg


def context(evidence: dict[str, dict[str, list[dict]]], zone_rows: list[dict], policies=None):
    frames = {
        schema.name: schema.frame([r for ev in evidence.values() for r in ev[schema.name]])
        for schema in (NAMESERVERS, DNSKEYS, SIGNATURES, DS_MATCHES, CDS, DENIAL)
    }
    frames["records"] = RECORDS.frame(
        [r for ev in evidence.values() for r in ev.get("records", [])]
    )
    frames["zones"] = ZONES_SCHEMA.frame(zone_rows)
    frames["inventory"] = INVENTORY.frame({"zone": r["zone"], "policy": "std"} for r in zone_rows)
    policies = PolicySet({"std": POLICY}, "std") if policies is None else policies
    return Context(frames, policies, NOW)


def run(evidence: dict[str, dict[str, list[dict]]], zone_rows: list[dict], policies=None):
    return registry().run(context(evidence, zone_rows, policies))


def zrow(zone, status="secure", **kw):
    return dict(zone=zone, status=status, reasons="", reason_text="", has_ds=True, signed=True) | kw


@pytest.fixture(scope="module")
def findings():
    evidence = {}
    for zone, (fault, _) in FAULTS.items():
        ev = healthy(zone)
        if fault is not None:
            fault(ev)
        evidence[zone] = ev
    return run(evidence, [zrow(z) for z in FAULTS])


@pytest.mark.parametrize("zone", list(FAULTS))
def test_each_check_fails_on_its_fault_and_only_there(findings, zone):
    mine = findings[findings["zone"] == zone]
    failed = set(mine.loc[mine["status"] == "fail", "check_id"])
    assert failed == FAULTS[zone][1]
    assert len(mine) == len(registry())


def test_every_audit_check_is_exercised_by_a_fault():
    covered = set().union(*(expected for _, expected in FAULTS.values()))
    assert covered == {c.id for c in registry().checks()}


def test_failures_name_frame_server_and_record(findings):
    f = findings.set_index(["zone", "check_id"])
    serial = f.loc[("serial.test", "soa_serial_consistent_across_servers")]
    assert serial["message"] == (f"The servers serve different SOA serials: {S2}: 6; {S1}: 7.")
    assert f"nameservers[child {S2} soa_serial=6]" in serial["evidence"]
    expired = f.loc[("expired.test", "rrsig_not_expired")]
    assert expired["message"] == f"1 expired signature(s) over expired.test. SOA at {S1}."
    assert f"signatures[{S1} expired.test. SOA key {ZSK}/13]: expired" in expired["evidence"]
    nsec3 = f.loc[("nsec3.test", "nsec3_parameters_rfc9276")]
    assert nsec3["message"] == "NSEC3 uses 10 extra iteration(s) and salt 'ab'."
    rsa = f.loc[("rsa.test", "rsa_key_length")]
    assert rsa["message"] == f"RSA key(s) shorter than 2048 bits: {ZSK} (1024 bits)."
    assert f.loc[("sha1alg.test", "dnskey_algorithm_must_not_sign")]["message"] == (
        "The zone is signed with 5 RSASHA1 (MUST NOT sign: RFC 9905)."
    )
    assert (
        "prohibited digest type(s) 3 GOST R 34.11-94 (MUST NOT be created or validated: RFC 9906)"
        in f.loc[("gost.test", "ds_digest_type_prohibited")]["message"]
    )
    assert f.loc[("csk.test", "key_scheme_matches_policy")]["message"] == (
        "The keys form a csk scheme; policy std asks for split."
    )
    assert (
        "not alone in its RRset" in f.loc[("cdsdelete.test", "cds_delete_wellformed")]["evidence"]
    )


def test_unusable_algorithms_and_digests_are_named_with_their_iana_status(findings):
    """Zonemaster DNSSEC01/05: the finding names the number, its IANA status, and says the
    zone is treated as insecure, not bogus (RFC 4035 §5.2, RFC 6840 §5.2)."""
    f = findings.set_index(["zone", "check_id"])
    digest = f.loc[("digest99.test", "ds_usable_by_validators")]
    assert digest["message"] == (
        f"No DS at the parent can be used by a validator: DS {KSK}: digest type 99 (unassigned: "
        "no validator implements it). Validators therefore treat the zone as insecure "
        "(unsigned), not bogus."
    )
    assert "99 (unassigned" in f.loc[("digest99.test", "ds_digest_type_prohibited")]["message"]
    private = f.loc[("private.test", "ds_usable_by_validators")]["message"]
    assert f"DS {KSK}: algorithm 253 PRIVATEDNS (private:" in private
    assert "insecure (unsigned), not bogus" in private
    md5 = f.loc[("rsamd5.test", "dnskey_algorithm_must_not_sign")]["message"]
    assert md5 == (
        "The zone is signed with 1 RSAMD5 (MUST NOT sign, MUST NOT validate: RFC 9904). "
        "Validators do not validate algorithm(s) 1: unless a DS of another algorithm anchors "
        "the zone, they treat it as insecure, not bogus."
    )
    # RSASHA1 is still validated: it must not sign, but nothing says insecure
    assert "insecure" not in f.loc[("sha1alg.test", "dnskey_algorithm_must_not_sign")]["message"]
    both = f.loc[("sha1both.test", "ds_sha1_beside_sha256")]
    assert both["message"].startswith(f"Key(s) {KSK}/13 have a SHA-1 DS beside a SHA-256")
    assert f.loc[("sha1both.test", "ds_digest_sha256"), "status"] == "pass"
    assert f.loc[("sha1ds.test", "ds_sha1_beside_sha256"), "status"] == "pass"  # SHA-1 only


def test_denial_proofs_signed_with_an_unvalidated_algorithm_are_never_passed():
    """denial_proofs_valid: proofs the toolkit cannot verify (unverifiable) make it
    indeterminate, not pass; an invalid proof beside them still fails."""
    opaque, mixed = healthy("opaque.test"), healthy("mixed.test")
    for r in opaque["denial"] + mixed["denial"]:
        r.update(proof="unverifiable", why="NSEC opaque.test. not validly signed (unsupported)")
    mixed["denial"][0].update(proof="invalid", why="no NSEC covers _x.mixed.test.")
    evidence = {"opaque.test": opaque, "mixed.test": mixed}
    out = run(evidence, [zrow(z) for z in evidence]).set_index(["zone", "check_id"])
    assert out.loc[("opaque.test", "denial_proofs_valid"), "status"] == "indeterminate"
    assert "4 proof(s) signed only" in out.loc[("opaque.test", "denial_proofs_valid"), "message"]
    assert out.loc[("mixed.test", "denial_proofs_valid"), "status"] == "fail"


def test_one_usable_ds_is_enough_for_validators():
    """A DS of a private algorithm beside a DS validators use: the zone keeps its chain."""
    ev = healthy("two.test")
    ev["ds_matches"].append(ev["ds_matches"][0] | {"key_tag": 7, "algorithm": 253})
    ev["ds_matches"].append(ev["ds_matches"][0] | {"key_tag": 8, "digest_type": 99})
    out = run({"two.test": ev}, [zrow("two.test")]).set_index(["zone", "check_id"])
    assert out.loc[("two.test", "ds_usable_by_validators"), "status"] == "pass"
    assert out.loc[("two.test", "ds_digest_type_prohibited"), "status"] == "fail"


@pytest.mark.parametrize(
    ("number", "status"),
    [
        (12, "12 ECC-GOST (MUST NOT sign, MUST NOT validate: RFC 9906)"),
        (100, "100 (unassigned: no algorithm, no validator implements it)"),
        (200, "200 (reserved: no algorithm, no validator implements it)"),
        (254, "254 PRIVATEOID (private: only validators that know the private algorithm use it)"),
        (13, "13 ECDSAP256SHA256"),
    ],
)
def test_algorithm_numbers_carry_their_iana_status(number, status):
    assert keys.algorithm_status(number) == status
    assert (keys.not_validated(number) is None) == (number == 13)


def test_digest_numbers_carry_their_iana_status():
    assert keys.digest_status(4) == "4 SHA-384"
    assert keys.prohibited_digest(4) is None and keys.prohibited_digest(1) is None
    assert keys.prohibited_digest(0) == "0 (reserved, MUST NOT be used)"
    assert keys.prohibited_digest(7) == "7 (unassigned: no validator implements it)"
    assert keys.prohibited_digest(5) is None  # assigned (GOST 2012): not prohibited, not validated


def test_not_applicable_where_the_zone_has_nothing_to_check(findings):
    f = findings.set_index(["zone", "check_id"])["status"]
    assert f[("healthy.test", "cds_matches_dnskey")] == "not_applicable"  # no CDS
    assert f[("healthy.test", "rsa_key_length")] == "not_applicable"  # no RSA key
    assert f[("healthy.test", "nsec3_parameters_rfc9276")] == "not_applicable"  # NSEC
    assert f[("cdsok.test", "cds_delete_wellformed")] == "not_applicable"  # no delete request
    assert f[("cdsok.test", "cds_matches_dnskey")] == "pass"


def test_unsigned_and_unprobed_zones_are_never_passed():
    plain = healthy("plain.test")
    plain["dnskeys"], plain["signatures"], plain["ds_matches"] = [], [], []
    for r in plain["nameservers"]:
        r["dnskey_set"] = None
    for r in plain["denial"]:
        r.update(kind="none", proof="unsigned")
    dead = healthy("dead.test")
    for r in dead["nameservers"]:
        r["answered"] = False
    gone = {name: [] for name in plain}  # collected nothing at all
    f = run(
        {"plain.test": plain, "dead.test": dead, "gone.test": gone},
        [
            zrow("plain.test", "insecure", has_ds=False, signed=False),
            zrow("dead.test", "indeterminate", reason_text="No server answered."),
            zrow("gone.test", "indeterminate", has_ds=None, signed=None),
        ],
    )
    by = f.groupby("zone")["status"].agg(set)
    assert set(by["gone.test"]) == {"indeterminate"}
    # a dead zone's parent still answered: the checks of the parent's side may decide
    parent_side = {
        "parent_servers_agree_on_ds",
        "ds_digest_sha256",
        "ds_digest_type_prohibited",
        "ds_usable_by_validators",
        "ds_sha1_beside_sha256",
    }
    dead = f[(f["zone"] == "dead.test") & ~f["check_id"].isin(parent_side)]
    assert set(dead["status"]) == {"indeterminate"}
    status = f.set_index(["zone", "check_id"])["status"]
    dnssec_only = [
        c.id for m in (keys, signatures, cds) for c, _ in m.CHECKS if c.id not in HISTORY_JUDGED
    ]
    dnssec_only += ["dnskey_consistent_across_servers", "denial_proofs_valid"]
    assert {status[("plain.test", c)] for c in dnssec_only} == {"not_applicable"}
    assert status[("plain.test", "rrsig_not_expired")] == "not_applicable"
    assert status[("plain.test", "ds_matches_dnskey")] == "not_applicable"
    assert status[("plain.test", "soa_serial_consistent_across_servers")] == "pass"
    dead_msg = f[(f["zone"] == "dead.test") & (f["check_id"] == "rrsig_not_expired")]
    assert "No server answered." in dead_msg["message"].iloc[0]


def test_each_zone_decides_only_the_zones_its_scope_leaves_in():
    evidence = {z: healthy(z) for z in ("in.test", "plain.test", "dead.test")}
    for zone in ("plain.test", "dead.test"):
        evidence[zone]["dnskeys"] = []
    for r in evidence["dead.test"]["nameservers"]:
        r["answered"] = False
    ctx = context(evidence, [zrow(z) for z in evidence])
    decided: list[Evidence] = []

    def decide(ev: Evidence) -> Result:
        decided.append(ev)
        return Result(ev.zone, "pass")

    out = {r.zone: r.status for r in each_zone(ctx, ["dnskeys"], SIGNED, decide)}
    # scope is tried in order: dead.test is unsigned too, but unprobed comes first
    assert out == {"in.test": "pass", "plain.test": "not_applicable", "dead.test": "indeterminate"}
    assert [ev.zone for ev in decided] == ["in.test"]
    assert len(decided[0].rows("dnskeys")) == 4 and not decided[0].rows("signatures")
    with pytest.raises(ValueError, match="no zones frame"):
        list(each_zone(Context({}, PolicySet(), NOW), [], [], decide))


def test_policy_checks_without_a_policy_are_not_evidenced():
    ev = {"healthy.test": healthy("healthy.test")}
    f = run(ev, [zrow("healthy.test")], policies=PolicySet())
    status = f.set_index("check_id")["status"]
    assert status["dnskey_algorithm_in_policy"] == "indeterminate"
    assert status["key_scheme_matches_policy"] == "indeterminate"
    loose = PolicySet({"std": SigningPolicy("std", "", (13,), 90, 365, 5.0)}, "std")
    f = run(ev, [zrow("healthy.test")], policies=loose)
    assert f.set_index("check_id")["status"]["key_scheme_matches_policy"] == "not_applicable"


def test_one_server_of_two_answering_cannot_prove_agreement():
    ev = healthy("half.test")
    where(ev["nameservers"], server=S2)[0]["answered"] = False
    f = run({"half.test": ev}, [zrow("half.test")])
    status = f.set_index("check_id")["status"]
    assert status["dnskey_consistent_across_servers"] == "indeterminate"
    assert status["soa_serial_consistent_across_servers"] == "indeterminate"


def test_the_catalogue_registers_every_audit_check_with_complete_metadata():
    catalogue = default_registry()
    for check in registry().checks():
        assert check.id in catalogue
        assert check.references and check.message and check.severity in (
            "critical", "high", "medium", "low", "info",
        )  # fmt: skip


def test_policy_files_may_name_a_key_scheme(tmp_path):
    body = """format_version: 1
policies:
  std:
    allowed_algorithms: [13]
    zsk_lifetime_days: 90
    ksk_lifetime_days: 365
    min_rrsig_validity_days: 5
{extra}"""
    path = tmp_path / "policy.yaml"
    path.write_text(body.format(extra="    key_scheme: csk\n"))
    assert load_policies(path).get("std").key_scheme == "csk"
    path.write_text(body.format(extra=""))
    assert load_policies(path).get("std").key_scheme is None  # old files stay valid
    path.write_text(body.format(extra="    key_scheme: both\n"))
    with pytest.raises(InputError, match="expected split or csk"):
        load_policies(path)


def test_rrsig_verifies_cannot_pass_on_signatures_it_cannot_verify():
    """A signature of an algorithm no validator implements is neither valid nor invalid:
    rrsig_verifies says indeterminate, never pass (and still fails on an invalid one)."""
    unknown = healthy("private.test")
    for r in unknown["signatures"]:
        r.update(status="unsupported_algorithm", algorithm=253, detail="not validated")
    mixed = healthy("mixed.test")
    mixed["signatures"][0].update(status="unsupported_algorithm", algorithm=253)
    mixed["signatures"][2].update(status="invalid", detail="verify failure")
    evidence = {
        "private.test": unknown,
        "mixed.test": mixed,
        "healthy.test": healthy("healthy.test"),
    }
    out = run(evidence, [zrow(z) for z in evidence]).set_index(["zone", "check_id"])
    assert out.loc[("private.test", "rrsig_verifies"), "status"] == "indeterminate"
    assert "253" in out.loc[("private.test", "rrsig_verifies"), "message"]
    assert out.loc[("mixed.test", "rrsig_verifies"), "status"] == "fail"
    assert out.loc[("healthy.test", "rrsig_verifies"), "status"] == "pass"
    # the signatures are present: rrsig_present does not call them missing
    assert out.loc[("private.test", "rrsig_present"), "status"] == "pass"


def _status(evidence, zone_rows=None):
    zone_rows = zone_rows or [zrow(z) for z in evidence]
    return run(evidence, zone_rows).set_index(["zone", "check_id"])


def test_cds_pending_names_what_the_parent_would_add_and_remove():
    # CDS/CDNSKEY name only the new key: the parent would add its DS and drop the KSK's
    swap = healthy("swap.test")
    swap["cds"] += cds_rows("swap.test", key_tag=ZSK, matches_ds=False, rdata=f"{ZSK} 13 2 cd")
    # the parent holds the DS of two keys, the CDS names one: a removal pending
    drop = healthy("drop.test")
    drop["ds_matches"].append(drop["ds_matches"][0] | {"key_tag": 606, "digest": "ef"})
    drop["cds"] += cds_rows("drop.test")
    out = _status({"swap.test": swap, "drop.test": drop})
    swap_row = out.loc[("swap.test", "cds_pending_at_parent")]
    assert swap_row["status"] == "fail"
    assert f"add CDNSKEY {ZSK} 13 2 cd, CDS {ZSK} 13 2 cd" in swap_row["message"]
    assert f"remove the DS of key(s) {KSK}/13" in swap_row["message"]
    drop_row = out.loc[("drop.test", "cds_pending_at_parent")]
    assert drop_row["status"] == "fail" and "606/13" in drop_row["message"]
    assert "add" not in drop_row["message"]


def test_cds_checks_of_the_parent_need_to_know_the_parent():
    """No DS at the parent: the CDS is an enrolment request (not_applicable); whether the
    parent holds a DS unknown: indeterminate, never pass."""
    evidence = {}
    for zone in ("enrol.test", "unknown.test"):
        ev = healthy(zone)
        ev["ds_matches"] = []
        ev["cds"] += cds_rows(zone, matches_ds=False)
        ev["cds"] += cds_rows(
            zone, rdata="0 0 0 00", key_tag=0, algorithm=0, digest_type=0, delete=True,
            delete_wellformed=True, matches_dnskey=None, matches_ds=None,
        )  # fmt: skip
        evidence[zone] = ev
    rows = [zrow("enrol.test", "insecure", has_ds=False), zrow("unknown.test", has_ds=None)]
    out = _status(evidence, rows)["status"]
    for check_id in ("cds_pending_at_parent", "cds_delete_while_ds"):
        assert out[("enrol.test", check_id)] == "not_applicable"
        assert out[("unknown.test", check_id)] == "indeterminate"


def test_cds_pending_cannot_pass_on_records_it_could_not_compare():
    ev = healthy("open.test")
    ev["cds"] += cds_rows("open.test", matches_ds=None)
    assert _status({"open.test": ev}).loc[("open.test", "cds_pending_at_parent"), "status"] == (
        "indeterminate"
    )


def test_cds_and_cdnskey_split_across_servers_names_each_server():
    ev = healthy("split.test")
    ev["cds"] += [r for r in cds_rows("split.test") if (r["server"], r["rrtype"]) != (S2, "CDS")]
    ev["cds"] = [r for r in ev["cds"] if (r["server"], r["rrtype"]) != (S1, "CDNSKEY")]
    row = _status({"split.test": ev}).loc[("split.test", "cds_and_cdnskey_published")]
    assert row["status"] == "fail"
    assert f"CDS without CDNSKEY at {S1}" in row["message"]
    assert f"CDNSKEY without CDS at {S2}" in row["message"]


def test_cds_key_signs_dnskey_is_judged_per_server():
    """The key signs the DNSKEY RRset at one server only: the other server's CDS fails."""
    ev = healthy("half.test")
    where(ev["dnskeys"], server=S2, key_tag=KSK)[0]["signs"] = ""
    ev["cds"] += cds_rows("half.test")
    row = _status({"half.test": ev}).loc[("half.test", "cds_key_signs_dnskey")]
    assert row["status"] == "fail"
    assert f"dnskeys[{S2} key {KSK}/13]: no DNSKEY sig" in row["evidence"]
    assert f"cds[{S1}" not in row["evidence"]


def test_a_revoked_key_beside_a_live_one_leaves_the_chain_whole():
    ev = healthy("roll.test")
    ev["ds_matches"].append(ev["ds_matches"][0] | {"key_tag": 707, "key_revoked": True})
    nothing = healthy("nomatch.test")
    nothing["ds_matches"][0].update(digest_verifies=False, key_revoked=True)
    out = _status({"roll.test": ev, "nomatch.test": nothing})["status"]
    assert out[("roll.test", "ds_not_only_revoked_keys")] == "pass"
    assert out[("roll.test", "ds_points_at_sep_key")] == "fail"  # the revoked one is still named
    assert out[("nomatch.test", "ds_not_only_revoked_keys")] == "indeterminate"


def test_signature_lifetime_counts_the_period_and_what_remains():
    """DURATION_LONG alone (signed 200 days ago, 10 days left) fails as REMAINING_LONG alone
    does; exactly 180 days passes; no inception/expiration recorded: indeterminate."""
    old = healthy("old.test")
    for r in old["signatures"]:
        r.update(inception=NOW - timedelta(days=200), expiration=NOW + timedelta(days=10))
        r["days_left"] = 10.0
    edge = healthy("edge.test")
    for r in edge["signatures"]:
        r.update(inception=NOW, expiration=NOW + timedelta(days=180), days_left=180.0)
    blind = healthy("blind.test")
    for r in blind["signatures"]:
        r.update(inception=None, expiration=None)
    out = _status({"old.test": old, "edge.test": edge, "blind.test": blind})
    assert out.loc[("old.test", "rrsig_validity_not_too_long"), "status"] == "fail"
    assert (
        "period up to 210 days" in out.loc[("old.test", "rrsig_validity_not_too_long"), "message"]
    )
    assert out.loc[("edge.test", "rrsig_validity_not_too_long"), "status"] == "pass"
    assert out.loc[("blind.test", "rrsig_validity_not_too_long"), "status"] == "indeterminate"


def test_original_ttl_rule_ignores_missing_signatures_and_equal_ttls():
    ev = healthy("eq.test")  # TTL == original TTL everywhere
    lower = healthy("lower.test")
    for r in lower["signatures"]:
        r["rrset_ttl"] = 60  # below the original TTL: validators use it as it is
    gap = healthy("gap.test")
    for r in gap["signatures"]:
        r.update(status="missing", rrset_ttl=99999)  # no signature: nothing to compare with
    out = _status({"eq.test": ev, "lower.test": lower, "gap.test": gap})["status"]
    assert out[("eq.test", "rrset_ttl_within_original_ttl")] == "pass"
    assert out[("lower.test", "rrset_ttl_within_original_ttl")] == "pass"
    assert out[("gap.test", "rrset_ttl_within_original_ttl")] == "indeterminate"


def _practice(evidence, zone_rows=None, policies=None):
    reg = Registry()
    for c, func in practice.CHECKS:
        # judged across runs: tests/test_signing_history.py
        if c.id not in ("signatures_refreshed_on_time", "rollover_method_matches_policy"):
            reg.register(c, func)
    zone_rows = zone_rows or [zrow(z) for z in evidence]
    out = reg.run(context(evidence, zone_rows, policies))
    return out.set_index(["zone", "check_id"])


def test_policy_against_practice_passes_a_zone_as_the_policy_states():
    out = _practice({"healthy.test": healthy("healthy.test")})["status"]
    assert set(out) == {"pass"}  # TTL 3600, SHA-256 DS, NSEC: the policy's defaults


def test_policy_against_practice_names_each_deviation():
    ttl = healthy("ttl.test")
    where(ttl["dnskeys"], server=S2)[0]["ttl"] = 86400  # one key row is enough to differ
    for r in where(ttl["dnskeys"], server=S2):
        r["ttl"] = 86400
    sha384 = healthy("sha384.test")
    sha384["ds_matches"].append(sha384["ds_matches"][0] | {"digest_type": 4})
    nsec3 = healthy("nsec3.test")
    for r in nsec3["denial"]:
        r.update(kind="nsec3", iterations=0, salt="", opt_out=True)
    ds_ttl = healthy("dsttl.test")
    ds_ttl["records"].append(ds_ttl["records"][0] | {"server": "192.0.2.9", "ttl": 3600})
    out = _practice(
        {"ttl.test": ttl, "sha384.test": sha384, "nsec3.test": nsec3, "dsttl.test": ds_ttl}
    )
    row = out.loc[("dsttl.test", "ds_ttl_matches_policy")]
    assert row["status"] == "fail"
    assert row["message"] == (
        "DS TTL 3600 s at parent server(s) 192.0.2.9; policy std states 86400 s."
    )
    assert "192.0.2.9: TTL 3600 vs 86400" in row["evidence"] and PARENT not in row["evidence"]
    row = out.loc[("ttl.test", "dnskey_ttl_matches_policy")]
    assert row["status"] == "fail"
    assert row["message"] == f"DNSKEY TTL 86400 s at {S2}; policy std states 3600 s."
    row = out.loc[("sha384.test", "ds_digest_types_in_policy")]
    assert (
        row["status"] == "fail" and "type(s) 4 are not in policy std (allowed: 2)" in row["message"]
    )
    row = out.loc[("nsec3.test", "denial_matches_policy")]
    assert row["status"] == "fail"
    assert "by NSEC3 and with NSEC3 opt-out" in row["message"] and "states NSEC" in row["message"]
    failed = out[out["status"] == "fail"].index.tolist()
    assert sorted(failed) == sorted([
        ("ttl.test", "dnskey_ttl_matches_policy"),
        ("sha384.test", "ds_digest_types_in_policy"),
        ("nsec3.test", "denial_matches_policy"),
        ("dsttl.test", "ds_ttl_matches_policy"),
    ])  # fmt: skip


def test_ds_ttl_is_judged_against_the_policy_and_never_passed_unseen():
    """RFC 7583 §3.3.2 timing rests on the parent's DS TTL: the policy's ds_ttl passes, another
    fails; a DS the records frame does not hold (a run without it) is indeterminate, and a zone
    without DS not applicable."""
    short = SigningPolicy("std", "", (13,), 90, 365, 5.0, ds_ttl=3600)
    out = _practice({"a.test": healthy("a.test")}, policies=PolicySet({"std": short}, "std"))
    row = out.loc[("a.test", "ds_ttl_matches_policy")]
    assert row["status"] == "fail" and "DS TTL 86400 s" in row["message"]
    ok = _practice({"a.test": healthy("a.test")}).loc[("a.test", "ds_ttl_matches_policy")]
    assert ok["status"] == "pass"
    assert ok["message"] == f"DS TTL 86400 s at {PARENT} as policy std states"
    unseen = healthy("unseen.test")
    unseen["records"] = []
    out = _practice({"unseen.test": unseen})
    assert out.loc[("unseen.test", "ds_ttl_matches_policy"), "status"] == "indeterminate"
    island = healthy("island.test")
    island["ds_matches"], island["records"] = [], []
    out = _practice({"island.test": island}, [zrow("island.test", has_ds=False)])
    assert out.loc[("island.test", "ds_ttl_matches_policy"), "status"] == "not_applicable"


def test_nsec3_opt_out_is_judged_by_what_the_policy_allows():
    zone = healthy("optout.test")
    for r in zone["denial"]:
        r.update(kind="nsec3", iterations=0, salt="", opt_out=True)
    allows = SigningPolicy("std", "", (13,), 90, 365, 5.0, denial="nsec3", nsec3_opt_out=True)
    forbids = SigningPolicy("std", "", (13,), 90, 365, 5.0, denial="nsec3")
    ok = _practice({"optout.test": zone}, policies=PolicySet({"std": allows}, "std"))
    bad = _practice({"optout.test": zone}, policies=PolicySet({"std": forbids}, "std"))
    assert ok.loc[("optout.test", "denial_matches_policy"), "status"] == "pass"
    row = bad.loc[("optout.test", "denial_matches_policy")]
    assert row["status"] == "fail"
    assert row["message"].endswith("states NSEC3, opt-out not allowed.")


def test_policy_against_practice_without_a_policy_or_evidence_is_never_passed():
    zone = healthy("open.test")
    out = _practice({"open.test": zone}, policies=PolicySet())["status"]
    assert set(out) == {"indeterminate"}
    blind = healthy("blind.test")
    blind["denial"] = [r | {"kind": "none", "proof": "unsigned"} for r in blind["denial"]]
    blind["ds_matches"] = []
    out = _practice({"blind.test": blind}, [zrow("blind.test", has_ds=None)])["status"]
    assert out[("blind.test", "denial_matches_policy")] == "indeterminate"
    assert out[("blind.test", "ds_digest_types_in_policy")] == "indeterminate"
    plain = healthy("island.test")
    plain["ds_matches"] = []
    out = _practice({"island.test": plain}, [zrow("island.test", has_ds=False)])["status"]
    assert out[("island.test", "ds_digest_types_in_policy")] == "not_applicable"


def test_rrsig_ttl_rule_judges_each_rrsig_rrset_once_and_only_what_was_served():
    """RFC 4035 §2.2: the RRSIG's TTL equals its RRset's. Two signatures over one RRset (one
    RRSIG RRset as served) give one failure line; an RRSIG TTL above the RRset's fails as one
    below does; the parent's DS is not the zone's own; a run stored before the column (null
    everywhere) and an RRset whose only row is a missing signature cannot be judged."""
    two = healthy("two.test")
    extra = sig("two.test", S1, "SOA", KSK, rrsig_ttl=7200)
    for r in where(two["signatures"], server=S1, covered_type="SOA"):
        r["rrsig_ttl"] = 7200
    two["signatures"].append(extra)
    parent = healthy("parent.test")
    parent["signatures"].append(
        sig("parent.test", PARENT, "DS", 9, side="parent", rrset_ttl=86400, rrsig_ttl=3600)
    )
    old = healthy("old.test")
    for r in old["signatures"]:
        r["rrsig_ttl"] = None
    gap = healthy("gap.test")
    for r in gap["signatures"]:
        r.update(status="missing", rrsig_ttl=None)
    out = _status({"two.test": two, "parent.test": parent, "old.test": old, "gap.test": gap})
    row = out.loc[("two.test", "rrsig_ttl_matches_rrset_ttl")]
    assert row["status"] == "fail"
    assert row["evidence"] == (
        f"signatures[{S1} two.test. SOA]: RRSIG TTL 7200 s, RRset TTL 3600 s"
    )
    assert row["message"] == (
        f"RRSIGs served with a TTL other than their RRset's: two.test. SOA at {S1} "
        "(RRSIG 7200 s / RRset 3600 s)."
    )
    assert out.loc[("parent.test", "rrsig_ttl_matches_rrset_ttl"), "status"] == "pass"
    assert out.loc[("old.test", "rrsig_ttl_matches_rrset_ttl"), "status"] == "indeterminate"
    assert out.loc[("gap.test", "rrsig_ttl_matches_rrset_ttl"), "status"] == "indeterminate"


def test_a_run_stored_before_rrsig_ttl_loads_and_the_rule_says_indeterminate(tmp_path):
    """``signatures.rrsig_ttl`` is optional: a stored run whose signatures frame lacks it (as
    every run before the column) loads, with the column null, and the RRSIG TTL rule cannot
    decide there; a run with it is judged."""
    from toolkit.store.runs import Store

    ctx = context({"old.test": healthy("old.test")}, [zrow("old.test")])
    frames = dict(ctx.frames)
    frames["signatures"] = frames["signatures"].drop(columns=["rrsig_ttl"])
    store = Store(tmp_path)
    old = store.load(store.write(frames, parameters={}, now=NOW).run_id)
    assert old["signatures"]["rrsig_ttl"].isna().all()
    assert list(old["signatures"].columns) == SIGNATURES.names
    out = registry().run(
        Context(old.frames, ctx.policies, NOW), ids=["rrsig_ttl_matches_rrset_ttl"]
    )
    assert list(out["status"]) == ["indeterminate"]
    assert "before the toolkit recorded it" in out["message"].iloc[0]
    assert list(registry().run(ctx, ids=["rrsig_ttl_matches_rrset_ttl"])["status"]) == ["pass"]


def _nsec3(ev, server=None, **kw):
    for r in ev["denial"] if server is None else where(ev["denial"], server=server):
        r.update(dict(kind="nsec3", iterations=0, salt="", opt_out=False, nsec3param="1 0 0 -"))
        r.update(kw)


def test_denial_consistency_names_each_server_and_what_it_serves():
    """NSEC3 everywhere but with other iterations at one server, or the opt-out flag at one
    server only, fails naming who serves what; the same NSEC3 chain everywhere passes; no
    NSEC/NSEC3 seen at all (a zone whose proofs all failed to come) is indeterminate."""
    iters = healthy("iters.test")
    _nsec3(iters)
    _nsec3(iters, S2, iterations=5, nsec3param="1 0 5 -")
    optout = healthy("optout.test")
    _nsec3(optout)
    _nsec3(optout, S1, opt_out=True)
    same = healthy("same.test")
    _nsec3(same, opt_out=True)
    blind = healthy("blind.test")
    for r in blind["denial"]:
        r.update(kind="none", proof="invalid", why="no NSEC")
    out = _status({"iters.test": iters, "optout.test": optout, "same.test": same,
                   "blind.test": blind})  # fmt: skip
    row = out.loc[("iters.test", "denial_consistent_across_servers")]
    assert row["status"] == "fail"
    assert row["message"] == (
        f"Servers deny existence differently: {S1} nodata, {S1} nxdomain: NSEC3 iterations 0 "
        f"salt -; {S2} nodata, {S2} nxdomain: NSEC3 iterations 5 salt -."
    )
    assert out.loc[("optout.test", "denial_consistent_across_servers"), "status"] == "fail"
    assert (
        "salt -, opt-out" in out.loc[("optout.test", "denial_consistent_across_servers"), "message"]
    )
    assert out.loc[("same.test", "denial_consistent_across_servers"), "status"] == "pass"
    assert out.loc[("blind.test", "denial_consistent_across_servers"), "status"] == "indeterminate"


def test_nsec3param_is_compared_with_the_chain_at_each_server():
    """RFC 5155 §4. A stale NSEC3PARAM in an NSEC zone fails; NSEC3 proofs without an
    NSEC3PARAM fail; two NSEC3PARAMs (a chain change under way) pass when one is the chain's;
    salts compare case-insensitively; a run without the column is indeterminate."""
    stale = healthy("stale.test")
    where(stale["denial"], server=S2)[0]["nsec3param"] = "1 0 0 -"
    bare = healthy("bare.test")
    _nsec3(bare, nsec3param="")
    two = healthy("two.test")
    _nsec3(two, salt="ab", nsec3param="1 0 0 -;1 0 0 AB")
    old = healthy("old.test")
    _nsec3(old, nsec3param=None)
    gone = healthy("gone.test")  # the lab's nsec3param-mismatch: Knot finds no chain to use
    for r in gone["denial"]:
        r.update(kind="none", proof="invalid", why="NXDOMAIN without any NSEC or NSEC3 record",
                 nsec3param="1 0 0 ABCD")  # fmt: skip
    lost = healthy("lost.test")  # an NSEC zone whose proof did not come: not this check's
    where(lost["denial"], server=S1)[0].update(kind="none", proof="invalid", why="none")
    evidence = {"stale.test": stale, "bare.test": bare, "two.test": two, "old.test": old,
                "gone.test": gone, "lost.test": lost}  # fmt: skip
    out = _status(evidence)
    gone_row = out.loc[("gone.test", "nsec3param_matches_chain")]
    assert gone_row["status"] == "fail"
    assert gone_row["message"] == (
        "NSEC3PARAM and the denial answers disagree: no NSEC3 in the answer, NSEC3PARAM "
        f"1 0 0 ABCD at {S1}, no NSEC3 in the answer, NSEC3PARAM 1 0 0 ABCD at {S2}."
    )
    assert out.loc[("lost.test", "nsec3param_matches_chain"), "status"] == "pass"
    row = out.loc[("stale.test", "nsec3param_matches_chain")]
    assert row["status"] == "fail"
    assert row["message"] == (
        f"NSEC3PARAM and the denial answers disagree: NSEC proof, but NSEC3PARAM 1 0 0 - at {S2}."
    )
    assert row["evidence"].startswith(f"denial[{S2} _x.stale.test. A nsec]")
    bare_row = out.loc[("bare.test", "nsec3param_matches_chain")]
    assert bare_row["status"] == "fail" and "NSEC3 proof, but no NSEC3PARAM" in bare_row["message"]
    assert out.loc[("two.test", "nsec3param_matches_chain"), "status"] == "pass"
    assert out.loc[("old.test", "nsec3param_matches_chain"), "status"] == "indeterminate"


def test_wildcard_answers_pass_when_proven_and_cannot_be_judged_in_old_runs():
    """A proven wildcard answer passes, and the denial check then judges only the real denials
    (the expansion is not a denial); no wildcard seen is not applicable; a data answer the run
    did not trace to a wildcard (runs before the column held only ``not_denied``) is
    indeterminate; an answer signed only with an algorithm validators do not validate is
    indeterminate too."""
    proven = healthy("proven.test")
    for r in where(proven["denial"], purpose="nxdomain"):
        r.update(rcode="NOERROR", proof="valid", wildcard="*.proven.test.",
                 why="wildcard *.proven.test. expanded; nsec proves it")  # fmt: skip
    old = healthy("old.test")
    for r in where(old["denial"], purpose="nxdomain"):
        r.update(rcode="NOERROR", kind="none", proof="not_denied", why="answered with data")
    alg = healthy("alg253.test")
    for r in where(alg["denial"], purpose="nxdomain"):
        r.update(rcode="NOERROR", proof="unverifiable", wildcard="*.alg253.test.", why="253")
    out = _status({"proven.test": proven, "old.test": old, "alg253.test": alg,
                   "plain.test": healthy("plain.test")})  # fmt: skip
    assert out.loc[("proven.test", "wildcard_answers_proven"), "status"] == "pass"
    assert out.loc[("proven.test", "denial_proofs_valid"), "status"] == "pass"
    assert "2 proof(s)" in out.loc[("proven.test", "denial_proofs_valid"), "message"]
    assert out.loc[("plain.test", "wildcard_answers_proven"), "status"] == "not_applicable"
    assert out.loc[("old.test", "wildcard_answers_proven"), "status"] == "indeterminate"
    assert out.loc[("alg253.test", "wildcard_answers_proven"), "status"] == "indeterminate"
    failed = _status({"w.test": _faulted("w.test", fault_wildcard_unproven)})
    row = failed.loc[("w.test", "wildcard_answers_proven")]
    assert row["message"] == (
        "2 wildcard answer(s) without a valid proof: wildcard *.wildcard.test. expanded, but no "
        f"NSEC or NSEC3 record proves it at {S1}, wildcard *.wildcard.test. expanded, but no NSEC "
        f"or NSEC3 record proves it at {S2}."
    )
    assert failed.loc[("w.test", "denial_proofs_valid"), "status"] == "pass"


def _faulted(zone, fault):
    ev = healthy(zone)
    fault(ev)
    return ev


def test_signature_validity_is_judged_by_the_longest_period_against_the_policy():
    """Policy 30 days, refresh 5: accepted 25 to 31 days. Healthy (30 days) passes; one
    signature of 40 days fails; all 20 days fails; a spread of 26 to 30 days (jitter) passes
    on its longest; no inception recorded is indeterminate; a zone with no policy too."""
    long = healthy("long.test")
    where(long["signatures"], server=S2)[0].update(inception=NOW - timedelta(days=20))
    short = healthy("short.test")
    for r in short["signatures"]:
        r.update(inception=NOW - timedelta(days=5), expiration=NOW + timedelta(days=15))
    jitter = healthy("jitter.test")
    for i, r in enumerate(jitter["signatures"]):
        r["expiration"] = NOW + timedelta(days=16 + i % 5)
    blind = healthy("blind.test")
    for r in blind["signatures"]:
        r["inception"] = None
    evidence = {"ok.test": healthy("ok.test"), "long.test": long, "short.test": short,
                "jitter.test": jitter, "blind.test": blind}  # fmt: skip
    out = _practice(evidence)
    status = out["status"].xs("signature_validity_matches_policy", level="check_id")
    assert dict(status) == {"ok.test": "pass", "long.test": "fail", "short.test": "fail",
                            "jitter.test": "pass", "blind.test": "indeterminate"}  # fmt: skip
    assert out.loc[("long.test", "signature_validity_matches_policy"), "message"] == (
        f"Signatures valid for up to 40.0 days at {S2}; policy std states 30 days "
        "(accepted: 25 to 31)."
    )
    nopolicy = _practice({"ok.test": healthy("ok.test")}, policies=PolicySet({}, None))
    assert nopolicy.loc[("ok.test", "signature_validity_matches_policy"), "status"] == (
        "indeterminate"
    )


def test_nsec_and_nsec3_mixed_is_named_across_servers_and_within_one_answer():
    """RFC 5155 §10.4 / §7.2: a zone denying with NSEC at one server and NSEC3 at another, or
    one answer holding both (judged by either proof, so denial_proofs_valid passes it), is
    named as such by denial_consistent_across_servers."""
    across = healthy("across.test")
    fault_denial_mixed(across)
    one = healthy("one.test")
    mixed_why = "NSEC and NSEC3 mixed in one response (RFC 5155 §7.2); NSEC proves NXDOMAIN"
    where(one["denial"], server=S2, purpose="nxdomain")[0]["why"] = mixed_why
    out = _status({"across.test": across, "one.test": one})
    row = out.loc[("across.test", "denial_consistent_across_servers")]
    assert row["status"] == "fail"
    assert row["message"].startswith(
        "Servers deny existence differently: NSEC and NSEC3 mixed across servers (RFC 5155 "
        f"§10.4); {S1} nodata, {S1} nxdomain: NSEC; {S2} nodata"
    ), row["message"]
    row = out.loc[("one.test", "denial_consistent_across_servers")]
    assert row["status"] == "fail"
    assert row["message"] == (
        f"Servers deny existence differently: NSEC and NSEC3 mixed in one answer at {S2} "
        "nxdomain (RFC 5155 §7.2)."
    )
    assert out.loc[("one.test", "denial_proofs_valid"), "status"] == "pass"
