"""Machine-readable reason codes behind a zone's status, with their plain-words text.

Policy is named data: the collector emits codes, the reports look up the words here.
``severity`` says how the code weighs on the zone: ``error`` explains a bogus or indeterminate
status, ``warning`` a secure zone that needs attention soon, ``info`` an insecure but
well-formed state (whether it needs action depends on the inventory's ``expected_signed``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One reason code: its severity and the sentence a board member can read."""

    code: str
    severity: str  # error | warning | info
    text: str
    rfc: str = ""


_REASONS = [
    Reason("UNSIGNED", "info", "The zone is not signed with DNSSEC.", "RFC 4035 §4.3"),
    Reason(
        "NO_DS_SIGNED",
        "info",
        "The zone is signed but the parent publishes no DS record, so no validator can trust "
        "its signatures (an island of security).",
        "RFC 4035 §4.3",
    ),
    Reason(
        "DS_NO_MATCHING_DNSKEY",
        "error",
        "The DS record at the parent matches no key that signs the zone's DNSKEY set: "
        "validating resolvers reject the zone.",
        "RFC 4035 §5.2",
    ),
    Reason(
        "DS_ONLY_REVOKED_KEYS",
        "error",
        "Every key the parent's DS records point at carries the REVOKE bit: validators must not "
        "use a revoked key to trust the zone's keys, so they reject the zone.",
        "RFC 5011 §2.1",
    ),
    Reason(
        "DS_UNSUPPORTED_ALGORITHM",
        "info",
        "Every DS record at the parent names a DNSSEC algorithm validators do not implement "
        "(deprecated, unassigned or private): validators treat the zone as unsigned.",
        "RFC 4035 §5.2",
    ),
    Reason(
        "DS_UNSUPPORTED_DIGEST",
        "info",
        "The parent's DS records use only digest types validators do not implement: "
        "validators treat the zone as unsigned.",
        "RFC 6840 §5.2",
    ),
    Reason(
        "DS_SHA1_IGNORED",
        "error",
        "Only a SHA-1 DS matches the zone's key, and validators ignore SHA-1 DS records when "
        "SHA-256 ones are present: the SHA-256 DS records match no key.",
        "RFC 4509 §3",
    ),
    Reason(
        "DNSKEY_MISSING",
        "error",
        "The parent publishes a DS record but the zone serves no DNSKEY: validating resolvers "
        "reject the zone.",
        "RFC 4035 §5.2",
    ),
    Reason(
        "RRSIG_EXPIRED",
        "error",
        "The zone's signatures have expired: validating resolvers reject the zone.",
        "RFC 4035 §5.3.1",
    ),
    Reason(
        "RRSIG_NOT_YET_VALID",
        "error",
        "The zone's signatures are not valid yet (inception in the future).",
        "RFC 4035 §5.3.1",
    ),
    Reason(
        "RRSIG_INVALID",
        "error",
        "A signature does not verify against the zone's keys.",
        "RFC 4035 §5.3.3",
    ),
    Reason(
        "RRSIG_MISSING",
        "error",
        "A record set of the zone apex carries no signature.",
        "RFC 4035 §2.2",
    ),
    Reason(
        "SIG_EXPIRING_SOON",
        "warning",
        "Signatures expire within the policy's alert window: re-signing must happen soon.",
        "RFC 6781 §4.4.2",
    ),
    Reason(
        "DS_DENIAL_UNPROVEN",
        "error",
        "The parent neither publishes a DS record nor proves with a valid signed denial that "
        "there is none.",
        "RFC 4035 §5.2",
    ),
    Reason(
        "PARENT_INSECURE",
        "info",
        "A parent zone is not secured by DNSSEC, so this zone cannot be either.",
        "RFC 4035 §4.3",
    ),
    Reason("PARENT_BOGUS", "error", "A parent zone fails DNSSEC validation.", "RFC 4035 §5"),
    Reason(
        "PARENT_INDETERMINATE",
        "error",
        "A parent zone could not be checked, so this zone's chain of trust cannot be decided.",
    ),
    Reason(
        "TRUST_ANCHOR_MISMATCH",
        "error",
        "The root zone's keys do not match the configured trust anchor.",
        "RFC 4035 §5",
    ),
    Reason(
        "ZONE_NOT_FOUND",
        "error",
        "The zone does not exist in DNS (the parent answers that the name does not exist or "
        "delegates no such zone).",
    ),
    Reason(
        "NO_RESPONSE",
        "error",
        "No authoritative server of the zone (or of its parent) gave a usable answer.",
    ),
    Reason(
        "COLLECTION_FAILED",
        "error",
        "The collector failed on this zone; the error is recorded for the tool's maintainers.",
    ),
    Reason(
        "LAME_SERVER",
        "warning",
        "At least one authoritative server of the zone did not answer or answered "
        "without authority.",
        "RFC 1034 §4.2",
    ),
]

REASONS: dict[str, Reason] = {r.code: r for r in _REASONS}


def describe(codes: str | list[str]) -> str:
    """Plain-words text for reason codes (a ``;``-joined string or a list), in order."""
    if isinstance(codes, str):
        codes = [c for c in codes.split(";") if c]
    return " ".join(REASONS[c].text if c in REASONS else c for c in codes)
