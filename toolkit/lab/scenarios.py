"""The lab's catalog: which zones exist, what fault each carries, and the address plan.

Pure data. A scenario names a DNSSEC state the lab builds on purpose; ``expected_status`` and
``expected_reasons`` are what a correct checker must report for a zone built that way (the
reason codes are those of :mod:`toolkit.reasons`), ``expected_failures`` the checks of
:mod:`toolkit.checks` that must fail on it. How each scenario is built lives in
:mod:`toolkit.lab.recipes` and :mod:`toolkit.lab.zones`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from toolkit.errors import LabError

DEFAULT_BASE = "127.53.0"
"""Default address prefix (three octets): the lab's servers live on ``{base}.N`` port 53."""

PORT = 53
"""Every lab server listens on port 53: referrals carry addresses only, never ports."""


@dataclass(frozen=True)
class LabZone:
    """One zone of the lab's catalog and the verdict a correct checker must reach on it.

    ``expected_failures`` are the check ids (see :mod:`toolkit.checks`) that must fail for the
    zone in a portfolio whose policy allows algorithms 13, 15, 14, 16 and 8, asks for a
    KSK/ZSK split and a 5-day signature floor (:data:`LAB_POLICY`); ``expected_signed`` is the
    inventory's intent for the zone.
    """

    zone: str  # A-label, no trailing dot
    scenario: str
    expected_status: str  # secure | insecure | bogus
    expected_reasons: tuple[str, ...]
    description: str
    expected_failures: frozenset[str] = frozenset()
    expected_signed: bool = True
    names: tuple[str, ...] = ()  # names beyond the apex the lab's inventory lists for it


@dataclass(frozen=True)
class Scenario:
    """What a correct checker reports for a zone built as the scenario says."""

    expected_status: str
    expected_reasons: tuple[str, ...]
    expected_failures: frozenset[str]
    description: str
    names: tuple[str, ...] = ()
    """Names beyond the apex (inventory column ``names``) listed for the scenario's zone."""


LAB_POLICY = {
    "allowed_algorithms": (13, 15, 14, 16, 8),
    "zsk_lifetime_days": 90,
    "ksk_lifetime_days": 365,
    "min_rrsig_validity_days": 5.0,
    "signature_validity_days": 30.0,  # the lab signs for 30 days (recipes.NORMAL_WINDOW)
    "ds_ttl": 3600,  # the lab's test. zone serves every DS with zones.TTL
    "key_scheme": "split",
}
"""The signing policy the scenarios' ``expected_failures`` assume (fields of SigningPolicy)."""


def _s(
    status: str,
    reasons: tuple[str, ...],
    failures: set[str],
    description: str,
    names: tuple[str, ...] = (),
) -> Scenario:
    return Scenario(status, reasons, frozenset(failures), description, names)


SCENARIOS: dict[str, Scenario] = {
    "secure": _s(
        "secure",
        (),
        set(),
        "Signed with a KSK and a ZSK; the parent publishes the KSK's DS (SHA-256).",
    ),
    "expiring": _s(
        "secure",
        ("SIG_EXPIRING_SOON",),
        {"rrsig_validity_above_floor", "rrsig_outlives_soa_expire"},
        "Signed and delegated securely, but the signatures expire in 3 days "
        "(inside a 5-day policy floor).",
    ),
    "island": _s(
        "insecure",
        ("NO_DS_SIGNED",),
        {"zone_signed_as_expected", "ds_published_for_signed_zone"},
        "Signed, but the parent publishes no DS: an island of security.",
    ),
    "ds-mismatch": _s(
        "bogus",
        ("DS_NO_MATCHING_DNSKEY",),
        {"chain_not_bogus", "ds_matches_dnskey"},
        "Signed, but the parent's DS is the digest of a key the zone does not publish.",
    ),
    "expired": _s(
        "bogus",
        ("RRSIG_EXPIRED",),
        {
            "chain_not_bogus",
            "rrsig_validity_above_floor",
            "rrsig_not_expired",
            "denial_proofs_valid",
        },
        "Signed and delegated securely, but every signature expired 10 days ago.",
    ),
    "unsigned": _s(
        "insecure",
        ("UNSIGNED",),
        {"zone_signed_as_expected"},
        "Not signed; the parent publishes no DS.",
    ),
    # --- the audit scenarios: one deliberate fault (or clean state) per check -----------------
    "nsec3-iterations": _s(
        "secure",
        (),
        {"nsec3_parameters_rfc9276", "denial_matches_policy"},
        "Signed with NSEC3, 10 extra iterations and an 8-byte salt (RFC 9276 asks for 0 and none).",
    ),
    "nsec3-clean": _s(
        "secure",
        (),
        {"denial_matches_policy"},
        "Signed with NSEC3, 0 extra iterations and no salt, as RFC 9276 recommends; the lab's "
        "policy states NSEC (the default), so the policy-against-practice check notes it.",
    ),
    "nsec3-optout": _s(
        "secure",
        (),
        {"denial_matches_policy"},
        "A healthy zone signed with NSEC3 (0 iterations, no salt) whose records carry the "
        "opt-out flag (RFC 5155 §6); the lab's policy states NSEC, so the policy-against-"
        "practice check notes it.",
    ),
    "rsasha1": _s(
        "secure",
        (),
        {"dnskey_algorithm_must_not_sign", "dnskey_algorithm_in_policy"},
        "Signed with RSASHA1 (algorithm 5, 2048-bit keys): validators still accept it, but "
        "RFC 9905 says it MUST NOT be used for signing.",
    ),
    "rsa-1024": _s(
        "secure",
        (),
        {"rsa_key_length"},
        "Signed with RSASHA256 (algorithm 8): a 2048-bit KSK but a 1024-bit ZSK.",
    ),
    "rsasha512": _s(
        "secure",
        (),
        {"dnskey_algorithm_not_recommended", "dnskey_algorithm_in_policy"},
        "Signed with RSASHA512 (algorithm 10, NOT RECOMMENDED for signing by RFC 8624).",
    ),
    "ds-sha1-only": _s(
        "secure",
        (),
        {"ds_digest_sha256", "ds_digest_types_in_policy"},
        "The parent publishes only a SHA-1 DS (digest type 1) for the KSK.",
    ),
    "ds-bad-digest": _s(
        "secure",
        (),
        {"ds_matches_dnskey"},
        "Besides the KSK's good DS, the parent publishes a second SHA-256 DS with the KSK's key "
        "tag whose digest does not verify.",
    ),
    "ds-gost": _s(
        "secure",
        (),
        {"ds_digest_type_prohibited", "ds_digest_types_in_policy"},
        "Besides the KSK's SHA-256 DS, the parent publishes a GOST DS (digest type 3, MUST NOT "
        "be used); validators without GOST ignore it.",
    ),
    "ds-sha1-beside-sha256": _s(
        "secure",
        (),
        {"ds_sha1_beside_sha256"},
        "Besides the KSK's SHA-256 DS, the parent publishes its SHA-1 DS (digest type 1), which "
        "RFC 9904 says MUST NOT be created; validators ignore it (RFC 4509 §3).",
    ),
    "ds-unassigned-digest": _s(
        "insecure",
        ("DS_UNSUPPORTED_DIGEST",),
        {"ds_usable_by_validators", "ds_digest_type_prohibited", "zone_signed_as_expected"},
        "The parent's only DS has digest type 99, which IANA has not assigned: no validator can "
        "use it, so the signed zone is treated as unsigned (RFC 6840 §5.2), not bogus.",
    ),
    "ds-sha384-only": _s(
        "secure",
        (),
        {"ds_digest_types_in_policy"},
        "A healthy zone whose parent publishes only a SHA-384 DS (digest type 4) for the KSK; "
        "the lab's policy allows SHA-256 only, so the policy-against-practice check notes it.",
    ),
    "alg-ed25519": _s(
        "secure",
        (),
        set(),
        "A healthy zone signed with ED25519 (algorithm 15) keys, KSK and ZSK.",
    ),
    "alg-ecdsa-p384": _s(
        "secure",
        (),
        set(),
        "A healthy zone signed with ECDSAP384SHA384 (algorithm 14) keys, KSK and ZSK.",
    ),
    "alg-rsasha256": _s(
        "secure",
        (),
        set(),
        "A healthy zone signed with RSASHA256 (algorithm 8) keys of 2048 bits, KSK and ZSK.",
    ),
    "alg-private": _s(
        "insecure",
        ("DS_UNSUPPORTED_ALGORITHM",),
        {
            "ds_usable_by_validators",
            "dnskey_algorithm_must_not_sign",
            "dnskey_algorithm_in_policy",
            "zone_signed_as_expected",
        },
        "Keys and signatures of the private algorithm PRIVATEDNS (253, opaque bytes) and a DS of "
        "that algorithm: no validator can use the DS, so the zone is treated as unsigned "
        "(RFC 4035 §5.2), not bogus.",
    ),
    "alg-unassigned": _s(
        "insecure",
        ("DS_UNSUPPORTED_ALGORITHM",),
        {
            "ds_usable_by_validators",
            "dnskey_algorithm_must_not_sign",
            "dnskey_algorithm_in_policy",
            "zone_signed_as_expected",
        },
        "Keys and signatures of algorithm 100, which IANA has not assigned (opaque bytes), and a "
        "DS of that algorithm: treated as unsigned (RFC 4035 §5.2), not bogus.",
    ),
    "ds-zsk-no-sep": _s(
        "secure",
        (),
        {"ds_points_at_sep_key", "key_scheme_matches_policy"},
        "One key with flags 256 (no SEP bit) signs everything, and the parent's DS points at it.",
    ),
    "csk": _s(
        "secure",
        (),
        {"key_scheme_matches_policy"},
        "A single combined signing key (flags 257) signs everything, where the policy asks for "
        "a KSK/ZSK split.",
    ),
    "missing-algorithm-sig": _s(
        "secure",
        (),
        {"rrsig_every_algorithm"},
        "An Ed25519 KSK (algorithm 15) joins the ECDSA keys and signs only the DNSKEY set: the "
        "other RRsets lack a signature of that algorithm (RFC 4035 §2.2).",
    ),
    "revoked-key-signing": _s(
        "secure",
        (),
        {"rrsig_not_by_revoked_key"},
        "A ZSK with the REVOKE bit (flags 384) is still published and still signs the zone's "
        "data next to the current ZSK.",
    ),
    "signer-wrong": _s(
        "bogus",
        ("RRSIG_MISSING",),
        {"chain_not_bogus", "rrsig_signer_is_zone"},
        "The SOA's only signature names the parent (test.) as its signer.",
    ),
    "not-yet-valid": _s(
        "bogus",
        ("RRSIG_NOT_YET_VALID",),
        {"chain_not_bogus", "rrsig_not_premature", "denial_proofs_valid"},
        "Every signature's inception lies 3 days in the future.",
    ),
    "rrsig-invalid": _s(
        "bogus",
        ("RRSIG_INVALID",),
        {"chain_not_bogus", "rrsig_verifies"},
        "The SOA's signature was altered after signing: it does not verify.",
    ),
    "rrsig-missing": _s(
        "bogus",
        ("RRSIG_MISSING",),
        {"chain_not_bogus", "rrsig_present"},
        "The DNSKEY RRset's signature was removed after signing: nothing vouches for the keys.",
    ),
    "ttl-beyond-expiration": _s(
        "secure",
        (),
        {"ttl_within_signature_validity"},
        "The apex NS RRset has a TTL of 40 days, past its signatures' 30-day expiration.",
    ),
    "sigs-before-soa-expire": _s(
        "secure",
        (),
        {"rrsig_outlives_soa_expire"},
        "Signatures expire in 10 days (above the 5-day floor) but the SOA expire is 14 days.",
    ),
    "denial-unsigned": _s(
        "secure",
        (),
        {"denial_proofs_valid", "rrsig_present"},
        "The NSEC records lost their signatures after signing: no denial of existence verifies.",
    ),
    "cds-matching": _s(
        "secure",
        (),
        set(),
        "CDS (SHA-256) and CDNSKEY for the current KSK, signed by it.",
    ),
    "cds-mismatch": _s(
        "secure",
        (),
        {"cds_matches_dnskey", "cds_key_signs_dnskey", "cds_pending_at_parent"},
        "CDS and CDNSKEY for a key the zone does not publish.",
    ),
    "cds-zsk-signed": _s(
        "secure",
        (),
        {"cds_signed_by_ds_key"},
        "CDS and CDNSKEY for the current KSK, but signed only by the ZSK, which no DS points at.",
    ),
    "cds-delete": _s(
        "secure",
        (),
        {"cds_delete_while_ds"},
        "A well-formed delete request: `CDS 0 0 0 00` and `CDNSKEY 0 3 0 AA==`, each alone, "
        "while the parent still publishes the KSK's DS (a request it has not acted on).",
    ),
    "cds-delete-malformed": _s(
        "secure",
        (),
        {"cds_delete_wellformed", "cds_delete_while_ds"},
        "`CDS 0 0 0 00` published together with an ordinary CDS: a delete request must be alone.",
    ),
    "cds-zsk": _s(
        "secure",
        (),
        {"cds_key_signs_dnskey", "cds_pending_at_parent"},
        "CDS and CDNSKEY for the ZSK, which is published but does not sign the DNSKEY RRset: a "
        "parent acting on them would install a DS that breaks the chain.",
    ),
    "cds-only": _s(
        "secure",
        (),
        {"cds_and_cdnskey_published"},
        "A CDS for the current KSK without the matching CDNSKEY.",
    ),
    "cds-pending": _s(
        "secure",
        (),
        {"cds_pending_at_parent"},
        "KSK rollover by CDS caught half-way: a second KSK is published and signs the DNSKEY "
        "RRset, CDS and CDNSKEY name both KSKs, the parent holds only the old KSK's DS.",
    ),
    "ds-revoked-ksk": _s(
        "bogus",
        ("DS_ONLY_REVOKED_KEYS",),
        {
            "chain_not_bogus",
            "ds_not_only_revoked_keys",
            "ds_points_at_sep_key",
            "resolvers_agree_with_validation",
            "resolver_families_agree",
        },
        "The KSK carries the REVOKE bit (flags 385) and still signs the DNSKEY RRset; the "
        "parent's only DS is that revoked key's digest. RFC 5011 §2.1: a validator must not use "
        "a revoked key but to check its revocation, so the chain breaks (BIND, Knot Resolver and "
        "PowerDNS Recursor: bogus; Unbound 1.17 uses the key and says secure, so the resolver "
        "families disagree, which those two checks report).",
    ),
    "ttl-above-original": _s(
        "secure",
        (),
        {"rrset_ttl_within_original_ttl", "rrsig_ttl_matches_rrset_ttl"},
        "The apex NS RRset's TTL was raised to 7200 s after signing: its RRSIG's original TTL "
        "says 3600 s (validators cap the TTL at it, RFC 4035 §5.3.3), and the RRSIG is still "
        "served with 3600 s (RFC 4035 §2.2 wants the RRset's TTL).",
    ),
    "denial-inconsistent": _s(
        "secure",
        (),
        {"denial_consistent_across_servers", "denial_matches_policy"},
        "ns1 serves the zone signed with NSEC, ns2 the same zone signed with NSEC3 (0 "
        "iterations, no salt): each copy's proofs validate, but the servers serve two signed "
        "versions (the lab's policy states NSEC, so ns2's copy also departs from it).",
    ),
    "wildcard": _s(
        "secure",
        (),
        set(),
        "A healthy zone with a wildcard (*.wildcard.test A): every name that does not exist is "
        "answered from it, with the NSEC that proves the name itself does not exist.",
    ),
    "wildcard-nsec3": _s(
        "secure",
        (),
        {"denial_matches_policy"},
        "The same wildcard in a zone signed with NSEC3 (0 iterations, no salt): the NSEC3 "
        "covering the next closer name proves the expansion (RFC 5155 §8.8); the lab's policy "
        "states NSEC.",
    ),
    "wildcard-unproven": _s(
        "secure",
        (),
        {"wildcard_answers_proven"},
        "A wildcard whose own NSEC (the one covering the names the wildcard answers) was "
        "removed after signing: the expanded answers carry no proof that the name asked does "
        "not exist, so validators reject them (RFC 4035 §5.3.4); the SOA stays secure.",
    ),
    "wildcard-txt-only": _s(
        "secure",
        (),
        set(),
        "A healthy zone whose wildcard holds only TXT (*.wildcard-txt-only.test TXT): a name "
        "that does not exist, asked for A, gets a wildcard NODATA (NOERROR, no answer): the NSEC "
        "covering the name and the wildcard's own NSEC, whose bitmap lacks A, prove it (RFC "
        "4035 §3.1.3.4, §5.4).",
    ),
    "wildcard-txt-only-nsec3": _s(
        "secure",
        (),
        {"denial_matches_policy"},
        "The same TXT-only wildcard in a zone signed with NSEC3 (0 iterations, no salt): the "
        "closest encloser proof and the NSEC3 matching the wildcard, without A in its bitmap, "
        "prove the wildcard NODATA (RFC 5155 §7.2.5, §8.7); the lab's policy states NSEC.",
    ),
    "nsec3param-mismatch": _s(
        "secure",
        (),
        {"nsec3param_matches_chain", "denial_proofs_valid"},
        "Signed with NSEC3 (0 iterations, no salt), but the apex NSEC3PARAM (validly signed) "
        "names the salt ABCD, which no NSEC3 chain of the zone uses (RFC 5155 §4). Knot looks "
        "the chain up by the NSEC3PARAM and finds none: its NXDOMAIN and NODATA answers carry "
        "no proof, so names that do not exist fail at validators; the SOA stays secure.",
    ),
    "rrsig-ttl-mismatch": _s(
        "secure",
        (),
        {"rrsig_ttl_matches_rrset_ttl"},
        "The apex SOA RRset's TTL was cut to 360 s after signing; the server (Knot) serves its "
        "RRSIG with the original TTL, 3600 s: RFC 4035 §2.2 wants the two equal. A TTL below "
        "the original TTL is allowed and the signature still verifies (secure everywhere).",
    ),
    "long-validity": _s(
        "secure",
        (),
        {"rrsig_validity_not_too_long"},
        "Signatures valid for 200 days (Zonemaster's limit: 180 days).",
    ),
    "dnskey-inconsistent": _s(
        "secure",
        (),
        {"dnskey_consistent_across_servers", "dnskey_unused"},
        "ns1 publishes a pre-published third key that ns2 does not: the servers serve different "
        "DNSKEY sets (each valid on its own).",
    ),
    "serial-mismatch": _s(
        "secure",
        (),
        {"soa_serial_consistent_across_servers"},
        "ns2 serves the zone with an older SOA serial than ns1.",
    ),
    "ns-mismatch": _s(
        "secure",
        (),
        {"parent_child_ns_agree"},
        "The zone's own NS set names a third server the parent's delegation does not.",
    ),
    "ns-inconsistent": _s(
        "secure",
        (),
        {"ns_consistent_across_servers", "parent_child_ns_agree"},
        "ns2's copy of the zone has an extra NS record that ns1's does not.",
    ),
    "lame-server": _s(
        "secure",
        ("LAME_SERVER",),
        {"authoritative_servers_answer"},
        "Parent and zone list a third server, ns3, whose address (the lab root server) does not "
        "serve the zone: a lame delegation.",
    ),
    "zsk-prepublish": _s(
        "secure",
        (),
        {"dnskey_unused"},
        "ZSK rollover by pre-publication caught half-way: the new ZSK is published but does not "
        "sign yet (an info finding only).",
    ),
    "name-bogus": _s(
        "secure",
        (),
        {"names_validate", "names_resolve_at_resolvers"},
        "The apex is healthy, but www's A RRset is signed only by a key the zone does not "
        "publish: a validating resolver answers SERVFAIL for www while the zone is secure. The "
        "inventory lists www, the apex (@) and a name that does not exist (nothere).",
        names=("www", "@", "nothere"),
    ),
    "ksk-double-ds": _s(
        "secure",
        (),
        set(),
        "KSK rollover by double DS caught half-way: the parent publishes the DS of the old and of "
        "the new KSK; both keys are published, the old one signs.",
    ),
    # --- zone discovery (issue 11): one delegation the inventory lacks, one source each ------
    "discover-zonefile": _s(
        "secure",
        (),
        {"denial_matches_policy"},
        "Delegates branch.<zone> (to ns1, which does not serve it), a zone the inventory lacks; "
        "NSEC3 and no zone transfer, so only the organisation's zone file shows it.",
    ),
    "discover-axfr": _s(
        "secure",
        (),
        {"denial_matches_policy"},
        "Delegates branch.<zone>, a zone the inventory lacks; NSEC3 (not walkable), but both "
        "servers allow AXFR to 127.0.0.0/8, so a zone transfer shows it.",
    ),
    "discover-nsec": _s(
        "secure",
        (),
        set(),
        "Delegates branch.<zone> and, with a DS, signed-branch.<zone>, zones the inventory "
        "lacks; no zone transfer, but the zone uses NSEC, so walking the NSEC chain from the "
        "apex shows both (past the signed delegation, whose referral holds no NSEC).",
    ),
}
"""Scenario name -> what a correct checker must report (status, reasons, failing checks)."""


def _zone(
    zone: str, scenario: str, *, expected_signed: bool = True, names: tuple[str, ...] = ()
) -> LabZone:
    sc = SCENARIOS[scenario]
    failures = sc.expected_failures
    if not expected_signed:  # the inventory says unsigned on purpose: nothing to expect
        failures = failures - {"zone_signed_as_expected"}
    return LabZone(
        zone,
        scenario,
        sc.expected_status,
        sc.expected_reasons,
        sc.description,
        failures,
        expected_signed,
        names or sc.names,
    )


_FIRST_SCENARIOS = ("secure", "expiring", "island", "ds-mismatch", "expired", "unsigned")

AUDIT_ZONES: tuple[LabZone, ...] = tuple(
    _zone(f"{name}.test", name) for name in SCENARIOS if name not in _FIRST_SCENARIOS
)
"""One zone per audit scenario, named after it (``nsec3-iterations.test``, ...)."""

LAB_ZONES: tuple[LabZone, ...] = (
    _zone("corp.test", "secure", names=("www", "@", "_dmarc")),
    _zone("payments.test", "secure"),
    _zone("xn--bcher-kva.test", "secure"),  # bücher.test
    _zone("shop.test", "expiring"),
    _zone("brand.test", "island"),
    _zone("legacy.test", "ds-mismatch"),
    _zone("events.test", "expired"),
    _zone("intranet.test", "unsigned", expected_signed=False),
    _zone("marketing.test", "unsigned", names=("www",)),
    # --- more zones of the sample portfolio's organisation (issue 4) ---
    _zone("api.test", "secure"),
    _zone("partners.test", "secure"),
    _zone("support.test", "secure"),
    _zone("careers.test", "unsigned", expected_signed=False),
    # --- the audit scenarios (issue 3): keep this block last in its own line ---
    *AUDIT_ZONES,
)
"""Every child zone of ``test.`` the lab builds, in catalog order."""


@dataclass(frozen=True)
class LabAddresses:
    """The lab's address plan, derived from a three-octet loopback prefix ``base``.

    ``.1`` root server, ``.2`` the ``test.`` server, ``.3``/``.4`` the two servers of every
    child zone, ``.53`` Unbound. ``.54``-``.56`` are reserved for later resolvers.
    """

    base: str

    @classmethod
    def from_base(cls, base: str) -> LabAddresses:
        """Validate ``base`` (three octets inside 127.0.0.0/8) and return the plan.

        Raises LabError when ``base`` is not three decimal octets or not loopback.
        """
        parts = base.split(".")
        if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise LabError(f"lab base {base!r} must be three octets, e.g. {DEFAULT_BASE!r}")
        if not ipaddress.ip_address(f"{base}.1").is_loopback:
            raise LabError(f"lab base {base!r} must lie inside 127.0.0.0/8 (loopback)")
        return cls(".".join(str(int(p)) for p in parts))

    def host(self, n: int) -> str:
        """The address ``{base}.n``."""
        return f"{self.base}.{n}"

    @property
    def root(self) -> str:
        return self.host(1)

    @property
    def test(self) -> str:
        return self.host(2)

    @property
    def ns1(self) -> str:
        return self.host(3)

    @property
    def ns2(self) -> str:
        return self.host(4)

    @property
    def unbound(self) -> str:
        return self.host(53)

    def servers(self) -> dict[str, str]:
        """Authoritative servers: role -> address (``root``, ``test``, ``ns1``, ``ns2``)."""
        return {"root": self.root, "test": self.test, "ns1": self.ns1, "ns2": self.ns2}
