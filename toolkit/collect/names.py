"""Names beyond the apex: what one server's answer about a listed name is worth. Pure.

A zone is more than its SOA: the inventory's ``names`` column lists the names users ask for
(``www``, ``mail``, ``_dmarc``), and the plan asks each of them A, AAAA, MX and TXT at every
zone server (:data:`toolkit.collect.plan.NAME_TYPES`). :func:`judge_name` gives every answer a
status, as a validator that trusts the zone's validated DNSKEY RRset would:

``secure``
    the RRset (or the CNAME) carries an RRSIG by the zone, made with a key of the validated
    DNSKEY set, that verifies at ``now`` (RFC 4035 §5.3); or the NODATA/NXDOMAIN answer carries
    a valid NSEC/NSEC3 proof (RFC 4035 §5.4, RFC 5155 §8);
``bogus``
    the zone is secure but the answer does not validate: signature missing, expired, not yet
    valid, made by a key not in the DNSKEY set, or not verifying; or a denial without a valid
    proof (a validating resolver answers SERVFAIL for it); also every answer of a zone whose
    own apex is bogus;
``insecure``
    the zone is provably insecure: there is nothing to validate;
``indeterminate``
    nothing to judge: no answer, an error rcode, a referral (the name is a zone of its own), a
    proof only of an algorithm validators do not validate, or a zone whose status is itself
    indeterminate. Never read as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from toolkit.collect.denial import check_denial
from toolkit.collect.transport import find_rrset
from toolkit.collect.validate import Verdict, check_signatures

ANSWERS = ("data", "cname", "nodata", "nxdomain", "referral", "error", "none")
NAME_STATUSES = ("secure", "insecure", "bogus", "indeterminate")
_RDATA_CHARS = 300  # the rdata kept as evidence, at most (a TXT can be long)


@dataclass(frozen=True)
class NameAnswer:
    """What one server answered about a listed name and type, and its validation status."""

    answer: str
    status: str
    reason: str
    ttl: int | None = None
    rdata: str | None = None


def listed_names(zone: dns.name.Name, cell: str | None) -> tuple[dns.name.Name, ...]:
    """The absolute names of an inventory ``names`` cell (relative names ``;``-joined, ``@``
    the apex, as :func:`toolkit.inputs.inventory.normalize_names` writes them) under ``zone``."""
    if not cell:
        return ()
    return tuple(
        zone if rel == "@" else dns.name.from_text(rel, origin=zone)
        for rel in cell.split(";")
        if rel
    )


def _rdata(rrset: dns.rrset.RRset) -> str:
    text = ";".join(sorted(rd.to_text() for rd in rrset))
    return text if len(text) <= _RDATA_CHARS else text[: _RDATA_CHARS - 1] + "…"


def judge_name(
    zone: dns.name.Name,
    qname: dns.name.Name,
    qtype: str,
    response: dns.message.Message | None,
    verdict: Verdict,
    now: datetime,
    *,
    error: str | None = None,
) -> NameAnswer:
    """The status of one zone server's ``response`` to ``qname``/``qtype`` (None: no answer;
    ``error`` says why) for a zone judged ``verdict`` (its ``keys``: the validated DNSKEY
    RRset), at ``now``."""
    if response is None:
        return NameAnswer("none", "indeterminate", f"no answer ({error or 'not asked'})")
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return NameAnswer("error", "indeterminate", f"answered {dns.rcode.to_text(rcode)}")
    if not response.flags & dns.flags.AA:
        cut = next(
            (r for r in response.authority if r.rdtype == dns.rdatatype.NS and r.name != zone),
            None,
        )
        if cut is not None:
            return NameAnswer(
                "referral",
                "indeterminate",
                f"referral to {cut.name}: the name is in a zone of its own (list that zone in "
                "the inventory to audit it)",
            )
        return NameAnswer("error", "indeterminate", "answer without the AA bit")
    rdtype = dns.rdatatype.from_text(qtype)
    rrset = find_rrset(response.answer, qname, rdtype)
    answer = "data"
    if rrset is None and rdtype != dns.rdatatype.CNAME:
        rrset = find_rrset(response.answer, qname, dns.rdatatype.CNAME)
        answer = "cname"
    if rrset is None and response.answer:
        return NameAnswer("error", "indeterminate", "answer section without the name asked")
    if rrset is None:
        answer = "nxdomain" if rcode == dns.rcode.NXDOMAIN else "nodata"
        soa = next((r for r in response.authority if r.rdtype == dns.rdatatype.SOA), None)
        ttl = soa.ttl if soa is not None else None
        rdata = None
    else:
        ttl, rdata = rrset.ttl, _rdata(rrset)
    if verdict.status == "insecure":
        why = "the zone is insecure: nothing to validate"
        return NameAnswer(answer, "insecure", why, ttl, rdata)
    if verdict.status == "bogus":
        why = "the zone's own chain of trust is broken (its apex is bogus)"
        return NameAnswer(answer, "bogus", why, ttl, rdata)
    if verdict.status != "secure" or verdict.keys is None:
        why = "the zone's status is indeterminate: no validated key set to judge with"
        return NameAnswer(answer, "indeterminate", why, ttl, rdata)
    if rrset is not None:
        sigs = find_rrset(response.answer, qname, dns.rdatatype.RRSIG, rrset.rdtype)
        check = check_signatures(rrset, sigs, verdict.keys, zone, now)
        if check.ok:
            why = f"{dns.rdatatype.to_text(rrset.rdtype)} RRset validly signed by {zone}"
            if any(s.labels < len(qname) - 1 for s in sigs or []):
                why += " (a wildcard expansion: the proof of no closer name is not checked)"
            return NameAnswer(answer, "secure", why, ttl, rdata)
        why = check.reason or "RRSIG_INVALID"
        if check.reason == "RRSIG_MISSING" and sigs:
            keys = ", ".join(sorted({f"{s.key_tag}/{int(s.algorithm)}" for s in sigs}))
            why = (
                f"{why}: signed only by key {keys} (tag/algorithm), not a key of the zone's "
                "validated DNSKEY set"
            )
        elif check.detail:
            why = f"{why}: {check.detail}"
        return NameAnswer(answer, "bogus", why, ttl, rdata)
    denial = check_denial(zone, qname, rdtype, response, verdict.keys, now)
    if denial.proof == "valid":
        return NameAnswer(answer, "secure", f"denial proven: {denial.why}", ttl)
    if denial.proof == "invalid":
        return NameAnswer(answer, "bogus", f"denial not proven: {denial.why}", ttl)
    return NameAnswer(answer, "indeterminate", f"denial {denial.proof}: {denial.why}", ttl)
