"""The whole scenario catalog against the real lab: every zone the lab builds, collected once
with the full probe plan, judged by the toolkit and by the four resolver families.

For every scenario of :data:`toolkit.lab.LAB_ZONES`:

- the toolkit's own status and reason codes are the scenario's;
- every check the scenario declares in ``expected_failures`` fails, and no other check of the
  technical catalogue fails with severity critical, high or medium (low and info findings may
  come on top: they are advice, not errors);
- every resolver family of the lab (Unbound, BIND, Knot Resolver, PowerDNS Recursor) gives the
  zone the status the toolkit gives it, unless :data:`RESOLVERS_MAY_DIFFER` documents why the
  RFCs leave that family a choice there.

The catalog is collected as an in-memory portfolio (every lab zone, expected to be signed
unless the catalog says otherwise) under :data:`toolkit.lab.scenarios.LAB_POLICY`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from toolkit.checks import (
    Context,
    Registry,
    cds,
    consistency,
    default_registry,
    keys,
    names,
    signatures,
)
from toolkit.collect import CollectConfig, ResolverSpec, TransportConfig, collect
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.inputs.portfolio import Portfolio
from toolkit.lab import LAB_ZONES, LabZone
from toolkit.lab.scenarios import LAB_POLICY
from toolkit.schemas import INVENTORY

pytestmark = pytest.mark.lab

ERROR_LEVEL = ("critical", "high", "medium")

RESOLVERS_MAY_DIFFER: dict[tuple[str, str], str] = {
    ("ds-revoked-ksk", "unbound"): "RFC 5011 §2.1 forbids using a revoked key but to check its "
    "own revocation; Unbound applies the REVOKE bit only to the trust anchors it tracks itself "
    "and validates through the revoked KSK (secure). The toolkit follows RFC 5011 §2.1, as BIND, "
    "Knot Resolver and PowerDNS Recursor do (bogus).",
}
"""(scenario, resolver family) -> why that family may legitimately see another status.

Measured on Debian 12 (Unbound 1.17, BIND 9.18, Knot Resolver 5.6, PowerDNS Recursor 4.8),
every family gives every zone of the catalog the toolkit's status but one: ``ds-revoked-ksk``
(the only DS points at a key with the REVOKE bit), where Unbound alone says secure, against
RFC 5011 §2.1. The
scenarios were built so that the RFCs leave no choice on the status of the zone's SOA, which is
what the resolvers are asked. Where a choice exists, it stays out of that status:

- ``nsec3-iterations`` (10 iterations, a salt): RFC 9276 §3.2 lets validators treat NSEC3
  with more iterations than they accept as insecure (BIND and Unbound: above 150; later
  releases of all four go lower), but only negative answers carry NSEC3; the SOA stays secure.
- ``rsasha1``: RFC 9905 forbids signing with algorithm 5, not validating it; all four validate
  it on Debian 12. A system crypto policy that disables SHA-1 signatures (e.g. RHEL 9's
  DEFAULT) makes a resolver treat the zone as insecure: the toolkit's finding
  ``dnskey_algorithm_must_not_sign`` is the warning for that.
- ``missing-algorithm-sig``: RFC 4035 §2.2 wants every algorithm of the DNSKEY set to sign
  every RRset, but RFC 6840 §5.11 tells validators to accept a chain that validates with one
  algorithm of the DS set (here only algorithm 13 has a DS); all four do.
- ``dnskey-inconsistent``: the second server lacks a key that signs nothing, so any mix of
  answers validates. A stale server lacking a *signing* key would make a resolver that does
  not retry another server after a validation failure (PowerDNS, REFERENCE §7) bogus where the
  others are secure; that variant is not in the catalog because its outcome depends on which
  server each resolver happens to ask.
- ``lame-server``: a third delegated server is lame; resolvers route around it.
"""


def lab_portfolio() -> Portfolio:
    """Every lab zone as an inventory under the policy the scenarios assume."""
    inventory = INVENTORY.frame(
        {
            "zone": lz.zone,
            "zone_unicode": lz.zone,
            "owner": "DNSSEC lab",
            "business_unit": "Lab",
            "risk_tier": 2,
            "category": lz.scenario,
            "expected_signed": lz.expected_signed,
            "policy": "lab",
            "source_line": i + 2,
            "names": ";".join(lz.names) or None,
        }
        for i, lz in enumerate(LAB_ZONES)
    )
    policy = SigningPolicy("lab", "the lab scenarios' policy", **LAB_POLICY)
    return Portfolio(inventory, PolicySet({"lab": policy}, "lab"), Path("."))


@pytest.fixture(scope="module")
def audit(lab) -> dict[str, pd.DataFrame]:
    portfolio = lab_portfolio()
    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        transport=TransportConfig(timeout=1.0, tries=2),
        progress=False,
    )
    now = datetime.now(UTC)
    frames = collect(portfolio, config, now=now)
    registry = default_registry()
    technical = [c.id for c in registry.checks() if c.pillar == "technical"]
    frames["findings"] = registry.run(Context(frames, portfolio.policies, now), ids=technical)
    return frames


IDS = [z.zone for z in LAB_ZONES]


@pytest.mark.parametrize("lz", LAB_ZONES, ids=IDS)
def test_the_toolkit_gives_each_scenario_its_status(audit, lz: LabZone):
    row = audit["zones"].set_index("zone").loc[lz.zone]
    assert row["status"] == lz.expected_status, row["reason_text"]
    assert set(str(row["reasons"]).split(";")) - {""} == set(lz.expected_reasons)


@pytest.mark.parametrize("lz", LAB_ZONES, ids=IDS)
def test_each_scenario_raises_its_findings_and_no_unexpected_error(audit, lz: LabZone):
    findings = audit["findings"]
    mine = findings[findings["zone"] == lz.zone]
    failed = mine[mine["status"] == "fail"]
    missing = lz.expected_failures - set(failed["check_id"])
    assert not missing, f"expected findings not raised: {sorted(missing)}"
    unexpected = failed[
        ~failed["check_id"].isin(lz.expected_failures) & failed["severity"].isin(ERROR_LEVEL)
    ]
    assert unexpected.empty, unexpected[["check_id", "severity", "message"]].to_string()
    assert len(mine) == mine["check_id"].nunique()  # one result per check


@pytest.mark.parametrize("lz", LAB_ZONES, ids=IDS)
def test_every_resolver_family_agrees_where_the_rfcs_leave_no_choice(audit, lab, lz: LabZone):
    checks = audit["resolver_checks"]
    mine = checks[checks["zone"] == lz.zone].set_index("resolver")
    assert set(mine.index) == set(lab.resolvers)
    toolkit = audit["zones"].set_index("zone").loc[lz.zone, "status"]
    for family, row in mine.iterrows():
        if (lz.scenario, family) in RESOLVERS_MAY_DIFFER:
            continue
        assert row["resolver_status"] == toolkit, (family, row["rcode"], row["ede_code"])


HEALTHY_SHAPES = (
    "alg-ed25519",
    "alg-ecdsa-p384",
    "alg-rsasha256",
    "ds-sha384-only",
    "nsec3-clean",
    "nsec3-optout",
    "csk",
)
"""Healthy zones of every modern shape (issue 11): Ed25519, ECDSA P-384, RSASHA256-2048, a
SHA-384-only DS, NSEC3 with 0 iterations and no salt, NSEC3 opt-out, a single CSK."""


POLICY_FINDINGS = {
    "csk": {"key_scheme_matches_policy"},
    "nsec3-clean": {"denial_matches_policy"},
    "nsec3-optout": {"denial_matches_policy"},
    "ds-sha384-only": {"ds_digest_types_in_policy"},
}


@pytest.mark.parametrize("scenario", HEALTHY_SHAPES)
def test_healthy_zones_of_every_modern_shape_raise_no_technical_failure(audit, lab, scenario):
    """Secure for the toolkit and for each of the four resolver families, and no technical
    check fails, not even a low one, except where the zone's shape differs from what the lab's
    policy states (a policy finding, not a fault of the zone): ``csk``'s single key against
    the KSK/ZSK split, NSEC3 against the policy's NSEC, a SHA-384 DS against SHA-256 only."""
    zone = f"{scenario}.test"
    assert audit["zones"].set_index("zone").loc[zone, "status"] == "secure"
    answers = audit["resolver_checks"].set_index(["zone", "resolver"])["resolver_status"]
    seen = {family: answers[(zone, family)] for family in lab.resolvers}
    assert seen == dict.fromkeys(lab.resolvers, "secure")
    findings = audit["findings"]
    failed = findings[(findings["zone"] == zone) & (findings["status"] == "fail")]
    allowed = POLICY_FINDINGS.get(scenario, set())
    assert set(failed["check_id"]) == allowed, failed[["check_id", "message"]].to_string()


UNUSABLE = {
    "ds-unassigned-digest": ("DS_UNSUPPORTED_DIGEST", "digest type 99 (unassigned"),
    "alg-private": ("DS_UNSUPPORTED_ALGORITHM", "algorithm 253 PRIVATEDNS (private"),
    "alg-unassigned": ("DS_UNSUPPORTED_ALGORITHM", "algorithm 100 (unassigned"),
}
"""Zones whose DS set no validator can use: the reason code and how the finding names it."""


@pytest.mark.parametrize("scenario", list(UNUSABLE))
def test_a_ds_set_no_validator_can_use_leaves_the_zone_insecure_everywhere(audit, lab, scenario):
    """RFC 4035 §5.2 (algorithms) and RFC 6840 §5.2 (digest types): a validator treats a zone
    whose DS set it cannot use as unsigned. The toolkit says insecure and names the number; the
    four resolver families' answers are recorded beside it and agree (NOERROR without AD, not
    the SERVFAIL of a bogus zone). Knot serves the opaque keys and signatures of algorithms
    253 and 100 from the pre-signed zone file as they are."""
    zone = f"{scenario}.test"
    reason, named = UNUSABLE[scenario]
    row = audit["zones"].set_index("zone").loc[zone]
    assert (row["status"], row["reasons"]) == ("insecure", reason)
    checks = audit["resolver_checks"]
    answers = checks[checks["zone"] == zone].set_index("resolver")
    seen = {f: (r["resolver_status"], r["rcode"]) for f, r in answers.iterrows()}
    assert seen == dict.fromkeys(lab.resolvers, ("insecure", "NOERROR"))
    f = audit["findings"].set_index(["zone", "check_id"])
    usable = f.loc[(zone, "ds_usable_by_validators")]
    assert usable["status"] == "fail"
    assert named in usable["message"]
    assert "insecure (unsigned), not bogus" in usable["message"]
    if scenario.startswith("alg-"):  # signatures it cannot verify: never pass, never fail
        assert f.loc[(zone, "rrsig_verifies"), "status"] == "indeterminate"
        assert f.loc[(zone, "denial_proofs_valid"), "status"] == "indeterminate"


def test_the_catalog_exercises_every_audit_check(audit):
    """Each check of the full audit fails in at least one scenario (parent_servers_agree_on_ds
    aside: the lab's parent has a single server, so its failure is unit-tested only; and
    cds_pending_not_stale, judged across runs: one run cannot show its failure, which
    tests/test_signing_history.py shows on the demo history collected from the lab)."""
    failing = {c for lz in LAB_ZONES for c in lz.expected_failures}
    ids = {
        check.id
        for module in (keys, signatures, consistency, cds, names)
        for check, _ in module.CHECKS
    }
    assert ids - failing == {"parent_servers_agree_on_ds", "cds_pending_not_stale"}
    assert len({lz.scenario for lz in LAB_ZONES}) >= 26


def test_the_evidence_frames_name_every_server_asked(audit, lab):
    ns = audit["nameservers"]
    lame = ns[(ns["zone"] == "lame-server.test") & (ns["side"] == "child")]
    assert set(lame["server"]) == {lab.servers["ns1"], lab.servers["ns2"], lab.servers["root"]}
    answered = dict(zip(lame["server"], lame["answered"], strict=True))
    assert not answered[lab.servers["root"]] and answered[lab.servers["ns1"]]
    q = audit["queries"]
    assert {"DS", "NS", "SOA", "DNSKEY", "CDS", "CDNSKEY", "NSEC3PARAM", "A", "TYPE65280"} <= set(
        q["qtype"]
    )
    # the lame server was asked its gate (SOA) and nothing else
    asked = q[(q["zone"] == "lame-server.test") & (q["server"] == lab.servers["root"])]
    assert set(asked["qtype"]) == {"SOA"}


def test_a_name_that_does_not_validate_under_a_secure_apex(audit, lab):
    """``name-bogus.test``: the apex is secure for the toolkit and for the four resolver
    families, but ``www``'s A RRset is signed only by a key outside the DNSKEY set (RFC 4035
    §5.3.1). The toolkit judges that answer bogus at both servers, and every resolver family
    answers SERVFAIL for it (no RFC leaves a choice: no key of the set matches the RRSIG);
    the other listed answers (www AAAA: NODATA, the apex TXT, the non-existent ``nothere``)
    validate everywhere, AD set. Measured on Debian 12, for www A: Unbound SERVFAIL with EDE 9
    (DNSKEY Missing: "signatures from unknown keys"), Knot Resolver and PowerDNS Recursor
    SERVFAIL with EDE 6 (DNSSEC Bogus), BIND SERVFAIL without EDE; the EDE codes differ by
    family, so only the rcode is asserted."""
    zone = "name-bogus.test"
    assert audit["zones"].set_index("zone").loc[zone, "status"] == "secure"
    names_ = audit["names"][audit["names"]["zone"] == zone]
    www_a = names_[(names_["name"] == "www." + zone) & (names_["qtype"] == "A")]
    assert set(www_a["server"]) == {lab.servers["ns1"], lab.servers["ns2"]}
    assert set(www_a["status"]) == {"bogus"}
    assert all(r.startswith("RRSIG_MISSING") for r in www_a["reason"])
    others = names_.drop(www_a.index)
    assert len(others) == 2 * (3 * 4 - 1)
    assert set(others["status"]) == {"secure"}
    assert set(others["answer"]) == {"data", "nodata", "nxdomain"}

    asked = audit["name_resolvers"][audit["name_resolvers"]["zone"] == zone]
    assert set(asked["resolver"]) == set(lab.resolvers)
    at = asked.set_index(["name", "qtype", "resolver"])
    www = {f: at.loc[("www." + zone, "A", f), "rcode"] for f in lab.resolvers}
    ede = {f: at.loc[("www." + zone, "A", f), "ede_code"] for f in lab.resolvers}
    assert www == dict.fromkeys(lab.resolvers, "SERVFAIL"), (www, ede)
    rest = asked[~((asked["name"] == "www." + zone) & (asked["qtype"] == "A"))]
    seen = {family: set(g) for family, g in rest.groupby("resolver")["resolver_status"]}
    assert seen == dict.fromkeys(lab.resolvers, {"secure"}), seen

    f = audit["findings"].set_index(["zone", "check_id"])
    assert f.loc[(zone, "names_validate"), "status"] == "fail"
    assert f.loc[(zone, "names_resolve_at_resolvers"), "status"] == "fail"
    assert f.loc[(zone, "chain_not_bogus"), "status"] == "pass"
    # a healthy zone's names pass both; an unsigned zone's names are insecure, not judged
    assert f.loc[("corp.test", "names_validate"), "status"] == "pass"
    assert f.loc[("corp.test", "names_resolve_at_resolvers"), "status"] == "pass"
    assert f.loc[("marketing.test", "names_validate"), "status"] == "not_applicable"


def test_zones_without_names_ask_no_name_question(audit):
    """Only zones whose inventory row lists names are asked them: the queries of a zone with
    no names hold none of the listed-name questions."""
    q = audit["queries"]
    listed = {lz.zone for lz in LAB_ZONES if lz.names}
    assert listed == {"corp.test", "marketing.test", "name-bogus.test"}
    www = q[q["qname"].str.startswith("www.")]
    assert set(www["zone"]) == listed
    assert audit["names"]["zone"].isin(listed).all()


TCP_NOT_JUDGED = {"lame-server"}
"""Zones with an address that does not answer with authority over UDP: its TCP service is not
judged (auth_tcp_answers indeterminate, never pass); authoritative_servers_answer names it."""


@pytest.mark.parametrize("lz", LAB_ZONES, ids=IDS)
def test_every_lab_server_answers_over_tcp_and_handles_edns_and_do(audit, lab, lz: LabZone):
    """The lab's knotd serve TCP, EDNS and DO as RFC 7766 §5 and RFC 6891/3225 ask: the two
    transport checks pass for every scenario (the rude servers that fail them are in
    tests/test_transport_lab.py), whatever the zone's status; the resolver families' answers
    beside them reach the same verdict as the toolkit (tested above), so a transport fault
    is never what sets a scenario's status."""
    f = audit["findings"].set_index(["zone", "check_id"])["status"]
    tcp = "indeterminate" if lz.scenario in TCP_NOT_JUDGED else "pass"
    assert f[(lz.zone, "auth_tcp_answers")] == tcp
    assert f[(lz.zone, "edns_do_handled")] == "pass"
    ns = audit["nameservers"]
    child = ns[(ns["zone"] == lz.zone) & (ns["side"] == "child") & ns["answered"]]
    assert child["tcp_answered"].all() and child["edns_opt"].all()
    assert (child["answer_bytes"] > 0).all()
    if lz.expected_signed and lz.scenario not in ("unsigned", "rrsig-missing"):
        assert child["do_rrsigs"].all()


def test_rrsig_ttl_rule_fails_exactly_where_the_served_ttls_differ(audit, lab):
    """RFC 4035 §2.2 on the real servers: Knot serves every RRSIG with its Original TTL as its
    TTL, so an RRset whose TTL was changed after signing goes out beside an RRSIG of another
    TTL (``rrsig-ttl-mismatch``: SOA lowered to 360 s; ``ttl-above-original``: NS raised to
    7200 s). Every other zone's RRSIGs carry their RRset's TTL, and the check passes there (it is
    a low finding, which the catalogue-wide test above would let through). The four resolver
    families, asked that very SOA, all validate it (secure): the mismatch is no breakage for
    them, which is why the finding is low."""
    sigs = audit["signatures"]
    mine = sigs[(sigs["zone"] == "rrsig-ttl-mismatch.test") & (sigs["covered_type"] == "SOA")]
    served = mine[mine["side"] == "child"]
    assert set(served["server"]) == {lab.servers["ns1"], lab.servers["ns2"]}
    assert set(
        zip(served["rrset_ttl"], served["rrsig_ttl"], served["original_ttl"], strict=True)
    ) == {(360, 3600, 3600)}
    assert set(served["status"]) == {"valid"}
    f = audit["findings"]
    judged = f[f["check_id"] == "rrsig_ttl_matches_rrset_ttl"].set_index("zone")["status"]
    expected_fail = {
        lz.zone for lz in LAB_ZONES if "rrsig_ttl_matches_rrset_ttl" in lz.expected_failures
    }
    assert expected_fail == {"rrsig-ttl-mismatch.test", "ttl-above-original.test"}
    assert set(judged[judged == "fail"].index) == expected_fail
    unsigned = {lz.zone for lz in LAB_ZONES if lz.scenario == "unsigned"}
    assert set(judged[judged == "not_applicable"].index) == unsigned
    assert set(judged[judged == "pass"].index) == set(judged.index) - expected_fail - unsigned
    answers = audit["resolver_checks"]
    seen = answers[answers["zone"] == "rrsig-ttl-mismatch.test"].set_index("resolver")
    assert dict(seen["resolver_status"]) == dict.fromkeys(lab.resolvers, "secure")


def _ask_resolvers(lab, qname: str) -> dict[str, tuple[str, bool]]:
    """Each resolver family's (rcode, AD) for ``qname`` A, asked with RD and DO."""
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode

    out = {}
    for family in lab.resolvers:
        address, port = lab.resolver(family)
        query = dns.message.make_query(qname, "A", want_dnssec=True)
        query.flags |= dns.flags.AD
        r = dns.query.udp(query, address, port=port, timeout=5)
        out[family] = (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AD))
    return out


def test_denial_scenarios_beside_the_four_resolver_families(audit, lab):
    """The denial-in-depth scenarios on the real servers, with what each resolver family makes
    of a name that does not exist recorded beside the toolkit's verdict:

    - ``denial-inconsistent`` (ns1 NSEC, ns2 NSEC3): the toolkit records each server's method
      and fails ``denial_consistent_across_servers``; every proof validates, and all four
      families answer NXDOMAIN with AD.
    - ``nsec3param-mismatch`` (NSEC3PARAM salt ABCD, chain without salt): Knot finds no chain
      for the NSEC3PARAM and answers NXDOMAIN with no proof at all; the toolkit fails
      ``nsec3param_matches_chain`` and ``denial_proofs_valid``. Unbound, BIND and Knot Resolver
      answer SERVFAIL (bogus, RFC 4035 §5.4). PowerDNS Recursor 4.8 answers NXDOMAIN with AD:
      it accepts a negative answer without any denial record, against RFC 4035 §5.4 (measured;
      the toolkit follows the RFC, as the other three do).
    """
    d = audit["denial"]
    ns1, ns2 = lab.servers["ns1"], lab.servers["ns2"]
    mixed = d[d["zone"] == "denial-inconsistent.test"]
    assert dict(zip(mixed["server"], mixed["kind"], strict=True)) == {ns1: "nsec", ns2: "nsec3"}
    assert dict(zip(mixed["server"], mixed["nsec3param"], strict=True)) == {
        ns1: "",
        ns2: "1 0 0 -",
    }
    assert set(mixed["proof"]) == {"valid"}
    wrong = d[d["zone"] == "nsec3param-mismatch.test"]
    assert set(wrong["nsec3param"]) == {"1 0 0 abcd"}
    assert set(wrong["kind"]) == {"none"} and set(wrong["proof"]) == {"invalid"}
    f = audit["findings"].set_index(["zone", "check_id"])["status"]
    assert f[("denial-inconsistent.test", "denial_consistent_across_servers")] == "fail"
    assert f[("denial-inconsistent.test", "nsec3param_matches_chain")] == "pass"
    assert f[("denial-inconsistent.test", "denial_proofs_valid")] == "pass"
    assert f[("nsec3param-mismatch.test", "nsec3param_matches_chain")] == "fail"
    assert f[("nsec3param-mismatch.test", "denial_proofs_valid")] == "fail"
    for clean in ("corp.test", "nsec3-clean.test", "nsec3-optout.test"):
        assert f[(clean, "denial_consistent_across_servers")] == "pass", clean
        assert f[(clean, "nsec3param_matches_chain")] == "pass", clean
    assert _ask_resolvers(lab, "_i11-nx.denial-inconsistent.test.") == dict.fromkeys(
        lab.resolvers, ("NXDOMAIN", True)
    )
    assert _ask_resolvers(lab, "_i11-nx.nsec3param-mismatch.test.") == {
        "unbound": ("SERVFAIL", False),
        "bind": ("SERVFAIL", False),
        "knot-resolver": ("SERVFAIL", False),
        "powerdns": ("NXDOMAIN", True),
    }


def test_wildcard_scenarios_beside_the_four_resolver_families(audit, lab):
    """The collector's random name under a zone with a wildcard is answered from it. The
    toolkit traces the answer to ``*.zone`` (RRSIG labels below the owner's) and judges the
    proof it must carry (RFC 4035 §5.3.4, RFC 5155 §8.8), beside what each resolver family
    makes of another such name:

    - ``wildcard`` (NSEC) and ``wildcard-nsec3``: proven; all four answer NOERROR with AD.
    - ``wildcard-unproven`` (the wildcard's NSEC removed): Knot sends the expansion without
      any proof; the toolkit fails ``wildcard_answers_proven``; Unbound, BIND and Knot Resolver
      answer SERVFAIL. PowerDNS Recursor 4.8 answers NOERROR with AD (measured): it does not
      require the proof RFC 4035 §5.3.4 asks for; the toolkit follows the RFC, as the other
      three do.
    """
    d = audit["denial"]
    f = audit["findings"].set_index(["zone", "check_id"])["status"]
    for zone, kind in (("wildcard.test", "nsec"), ("wildcard-nsec3.test", "nsec3")):
        nx = d[(d["zone"] == zone) & (d["purpose"] == "nxdomain")]
        assert set(nx["wildcard"]) == {f"*.{zone}."}
        assert set(zip(nx["rcode"], nx["kind"], nx["proof"], strict=True)) == {
            ("NOERROR", kind, "valid")
        }
        assert f[(zone, "wildcard_answers_proven")] == "pass"
        assert _ask_resolvers(lab, f"_i11-w.{zone}.") == dict.fromkeys(
            lab.resolvers, ("NOERROR", True)
        )
    broken = d[(d["zone"] == "wildcard-unproven.test") & (d["purpose"] == "nxdomain")]
    assert set(broken["wildcard"]) == {"*.wildcard-unproven.test."}
    assert set(broken["proof"]) == {"invalid"}
    assert f[("wildcard-unproven.test", "wildcard_answers_proven")] == "fail"
    assert f[("wildcard-unproven.test", "denial_proofs_valid")] == "pass"  # the NODATA holds
    assert f[("corp.test", "wildcard_answers_proven")] == "not_applicable"
    assert _ask_resolvers(lab, "_i11-w.wildcard-unproven.test.") == {
        "unbound": ("SERVFAIL", False),
        "bind": ("SERVFAIL", False),
        "knot-resolver": ("SERVFAIL", False),
        "powerdns": ("NOERROR", True),
    }


def test_wildcard_nodata_beside_the_four_resolver_families(audit, lab):
    """Issue 11: a wildcard that holds only TXT. The collector's random name, asked for A, gets
    a wildcard NODATA from Knot (NOERROR, no answer; the NSEC covering the name and the
    wildcard's NSEC without A, RFC 4035 §3.1.3.4; or the closest encloser proof and the NSEC3
    matching the wildcard, RFC 5155 §7.2.5). It proves the denial (RFC 4035 §5.4, RFC 5155
    §8.7): all four resolver families answer NOERROR with AD, and the toolkit must judge the
    proof valid, not fail ``denial_proofs_valid`` on a healthy zone.
    """
    d = audit["denial"]
    f = audit["findings"].set_index(["zone", "check_id"])["status"]
    for zone, kind in (
        ("wildcard-txt-only.test", "nsec"),
        ("wildcard-txt-only-nsec3.test", "nsec3"),
    ):
        nx = d[(d["zone"] == zone) & (d["purpose"] == "nxdomain")]
        assert len(nx) == 2, nx  # one random-name probe per zone server
        assert set(zip(nx["rcode"], nx["kind"], nx["proof"], strict=True)) == {
            ("NOERROR", kind, "valid")
        }, list(nx["why"])
        assert all(why.startswith(f"wildcard NODATA: *.{zone}.") for why in nx["why"])
        assert set(nx["wildcard"].isna()) == {True}  # a denial, not an expansion
        assert f[(zone, "denial_proofs_valid")] == "pass"
        assert f[(zone, "wildcard_answers_proven")] == "not_applicable"
        assert _ask_resolvers(lab, f"_i11-wn.{zone}.") == dict.fromkeys(
            lab.resolvers, ("NOERROR", True)
        )


def test_signature_validity_against_the_lab_policy(audit):
    """The lab's policy states the 30 days the lab signs with: healthy zones pass; the
    200-day scenario and the 3-day one fail the policy-against-practice check (low)."""
    f = audit["findings"].set_index(["zone", "check_id"])["status"]
    check = "signature_validity_matches_policy"
    assert f[("corp.test", check)] == "pass"
    assert f[("alg-ed25519.test", check)] == "pass"
    assert f[("long-validity.test", check)] == "fail"
    assert f[("shop.test", check)] == "fail"  # the expiring scenario: signed for 3 days


def test_ds_ttl_against_the_lab_policy_and_a_policy_variant(audit, lab):
    """The lab's parent (test.) serves every DS with a TTL of 3600 s, which LAB_POLICY states:
    every zone with a DS passes ``ds_ttl_matches_policy`` (and it is in the healthy-shapes
    test's "no low failure" too). The same evidence judged under a policy variant stating the
    86400 s many TLDs use fails at every DS-holding zone, naming the parent server: the
    finding an auditor gets when the registry's TTL is not the one the rollover plan assumes
    (RFC 7583 §3.3.2). Zones without a DS are not applicable. The collector records the DS
    RRset from every parent server asked."""
    from toolkit.checks import practice

    rec = audit["records"]
    ds = rec[(rec["rrtype"] == "DS") & (rec["source"] == "parent")]
    assert set(ds["ttl"]) == {3600}
    ns = audit["nameservers"]
    parents = set(ns.loc[(ns["zone"] == "corp.test") & (ns["side"] == "parent"), "server"])
    assert set(ds.loc[ds["zone"] == "corp.test", "server"]) == parents
    f = audit["findings"]
    judged = f[f["check_id"] == "ds_ttl_matches_policy"].set_index("zone")["status"]
    with_ds = set(ds["zone"]) & set(audit["zones"]["zone"])  # not the chain above (test.)
    assert {"corp.test", "alg-ed25519.test", "ds-sha384-only.test"} <= with_ds
    assert set(judged[list(with_ds)]) == {"pass"}
    assert judged["brand.test"] == "not_applicable"  # the island: signed, no DS
    registry = Registry()
    for c, func in practice.CHECKS:
        if c.id == "ds_ttl_matches_policy":
            registry.register(c, func)
    variant = SigningPolicy("lab", "", **(LAB_POLICY | {"ds_ttl": 86400}))
    ctx = Context(audit, PolicySet({"lab": variant}, "lab"), datetime.now(UTC))
    out = registry.run(ctx).set_index("zone")
    assert set(out.loc[list(with_ds), "status"]) == {"fail"}
    assert out.loc["corp.test", "message"] == (
        f"DS TTL 3600 s at parent server(s) {', '.join(sorted(parents))}; policy lab states "
        "86400 s."
    )
    assert set(out.drop(index=list(with_ds))["status"]) <= {"not_applicable", "indeterminate"}
