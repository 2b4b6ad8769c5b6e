"""Authenticated denial of existence: does an NXDOMAIN or NODATA answer prove what it says?

Pure functions, ``now`` injected. :func:`check_denial` takes one negative answer of a zone's
server and the DNSKEY RRset that server serves, and checks the NSEC (RFC 4035 §5.4) or NSEC3
(RFC 5155 §8) proof in its authority section: the right records are there, they cover or match
the right names, their type bitmaps do not hold the type asked, and each is signed by the zone
with a signature that verifies at ``now``. A NODATA for a name that does not exist itself but
is covered by a wildcard without the type asked (a wildcard NODATA, RFC 4035 §3.1.3.4 / RFC
5155 §7.2.5) is checked as RFC 4035 §5.4 and RFC 5155 §8.7 say. An NSEC or NSEC3 from the
parent side of a zone cut (NS set, SOA clear) is never taken to deny a name below the cut or a
type other than DS at it (RFC 6840 §4.1). It also reports the NSEC3 parameters used
(iterations, salt, opt-out), which RFC 9276 constrains.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict, Unpack

import dns.dnssec
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.NSEC import NSEC
from dns.rdtypes.ANY.NSEC3 import NSEC3

from toolkit.collect.sigstatus import judge_signatures


@dataclass(frozen=True)
class DenialCheck:
    """The verdict on one negative answer.

    ``proof`` is ``valid``, ``invalid`` (why says what is missing or wrong), ``unverifiable``
    (complete, but signed only with an algorithm validators do not validate), ``unsigned``
    (the server serves no DNSKEY: no proof to expect) or ``not_denied`` (the name and type
    exist after all). ``kind`` is ``nsec``, ``nsec3`` or ``none``.

    An answer with data synthesised from a wildcard (its RRSIG's Labels field below the owner's
    label count, RFC 4035 §5.3.4) is judged as the proof it must carry: ``wildcard`` names the
    wildcard that expanded, and ``proof`` says whether the answer is validly signed and an
    NSEC/NSEC3 proves that the name asked does not exist itself (RFC 4035 §5.3.4, RFC 5155
    §8.8): ``valid``, ``invalid`` or ``unverifiable``.
    """

    proof: str
    why: str
    kind: str = "none"
    iterations: int | None = None
    salt: str | None = None
    opt_out: bool | None = None
    wildcard: str | None = None


def types_of(rdata: NSEC | NSEC3) -> set[int]:
    """The types in an NSEC/NSEC3 type bitmap."""
    out: set[int] = set()
    for window, bitmap in rdata.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.add(window * 256 + i * 8 + bit)
    return out


def parent_side(rdata: NSEC | NSEC3) -> bool:
    """An NSEC/NSEC3 from the parent side of a zone cut: NS set, SOA clear (RFC 6840 §4.1).
    It MUST NOT be used to deny anything below the cut, nor any type at the cut but DS."""
    present = types_of(rdata)
    return dns.rdatatype.NS in present and dns.rdatatype.SOA not in present


_CUT = "RFC 6840 §4.1: an NSEC/NSEC3 with NS set and SOA clear is the parent side of a zone cut"


def _below_cut(owner: dns.name.Name, rdata: NSEC | NSEC3, name: dns.name.Name) -> bool:
    """``name`` lies strictly below the delegation ``owner`` whose NSEC ``rdata`` is."""
    return name != owner and name.is_subdomain(owner) and parent_side(rdata)


def _b32hex(raw: bytes) -> str:
    return base64.b32hexencode(raw).decode().rstrip("=").upper()


def _nsec_covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    """``name`` falls strictly between ``owner`` and ``nxt`` in canonical order (the last NSEC
    of a zone points back at the apex and covers everything after its owner)."""
    # dnspython's Name comparisons are not annotated; they return bool
    if owner < nxt:
        return bool(owner < name < nxt)
    return bool(name > owner or name < nxt)


def _hash_covers(owner: str, nxt: str, h: str) -> bool:
    if owner < nxt:
        return owner < h < nxt
    return h > owner or h < nxt


def _common(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    _, _, labels = a.fullcompare(b)
    return dns.name.Name(a.labels[len(a.labels) - labels :])


Sigs = dict[tuple[dns.name.Name, dns.rdatatype.RdataType], dns.rrset.RRset]


def _signed(
    records: list[dns.rrset.RRset],
    sigs: Sigs,
    zone: dns.name.Name,
    keys: dns.rrset.RRset,
    now: datetime,
) -> tuple[str, str] | None:
    """None when every record has a signature by the zone that verifies at ``now``, else the
    proof's status and why (the statuses of :func:`toolkit.collect.sigstatus.judge_signatures`):
    ``unverifiable`` when a record's only signatures are of an algorithm validators do not
    validate (the toolkit cannot tell whether they verify), ``invalid`` otherwise."""
    for rrset in records:
        statuses = judge_signatures(rrset, sigs.get((rrset.name, rrset.rdtype)), keys, zone, now)
        if not any(s.status == "valid" for s in statuses):
            kind = dns.rdatatype.to_text(rrset.rdtype)
            seen = {s.status for s in statuses}
            found = ", ".join(sorted(seen)) or "no signature"
            proof = "unverifiable" if seen == {"unsupported_algorithm"} else "invalid"
            return proof, f"{kind} {rrset.name} not validly signed ({found})"
    return None


class _ProofParams(TypedDict, total=False):
    """The optional fields of a :class:`DenialCheck` that describe the proof."""

    kind: str
    iterations: int | None
    salt: str | None
    opt_out: bool | None
    wildcard: str | None


def _proved(sig: tuple[str, str] | None, what: str, **params: Unpack[_ProofParams]) -> DenialCheck:
    """The verdict on a proof whose records are all there: ``what`` when they are signed."""
    proof, why = sig or ("valid", what)
    return DenialCheck(proof, why, **params)


def check_denial(
    zone: dns.name.Name,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    response: dns.message.Message,
    keys: dns.rrset.RRset | None,
    now: datetime,
) -> DenialCheck:
    """Check the denial of existence in ``response`` to ``qname``/``qtype`` (asked of one of
    ``zone``'s servers) against that server's DNSKEY RRset ``keys`` at ``now``."""
    rcode = response.rcode()
    answered = any(r.name == qname and r.rdtype == qtype for r in response.answer)
    if rcode == dns.rcode.NOERROR and (answered or response.answer):
        expanded = _wildcard(zone, qname, qtype, response, keys, now) if keys else None
        return expanded or DenialCheck("not_denied", "the server answered with data")
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return DenialCheck("invalid", f"answered {dns.rcode.to_text(rcode)}, not a denial")
    if keys is None:
        return DenialCheck("unsigned", "the server serves no DNSKEY: no proof expected")
    nsec = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC]
    nsec3 = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC3]
    sigs = {(r.name, r.covers): r for r in response.authority if r.rdtype == dns.rdatatype.RRSIG}
    nx = rcode == dns.rcode.NXDOMAIN
    if nsec3 and nsec:
        return _mixed(
            _nsec3(zone, qname, qtype, nx, nsec3, sigs, keys, now),
            _nsec(zone, qname, qtype, nx, nsec, sigs, keys, now),
        )
    if nsec3:
        return _nsec3(zone, qname, qtype, nx, nsec3, sigs, keys, now)
    if nsec:
        return _nsec(zone, qname, qtype, nx, nsec, sigs, keys, now)
    what = "NXDOMAIN" if nx else "NODATA"
    return DenialCheck("invalid", f"{what} without any NSEC or NSEC3 record")


_RANK = {"valid": 0, "unverifiable": 1, "invalid": 2}


def _mixed(by_nsec3: DenialCheck, by_nsec: DenialCheck) -> DenialCheck:
    """The verdict on a response that holds both NSEC and NSEC3 records. RFC 5155 §7.2 has a
    zone signed with NSEC3 answer with NSEC3 *instead of* NSEC, so a server should never mix
    them; but a validator that finds a complete, validly signed proof of either kind (RFC 4035
    §5.4, RFC 5155 §8) has its proof, so the response proves the denial when either method
    does on its own: never one method silently preferred over a complete proof by the other."""
    best = min((by_nsec3, by_nsec), key=lambda c: _RANK.get(c.proof, 3))
    mixed = "NSEC and NSEC3 mixed in one response (RFC 5155 §7.2)"
    if best.proof == "invalid":
        why = f"{mixed}, and neither proves it: NSEC3: {by_nsec3.why}; NSEC: {by_nsec.why}"
        return replace(by_nsec3, why=why)
    return replace(best, why=f"{mixed}; {best.why}")


def _nsec(
    zone: dns.name.Name,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    nx: bool,
    records: list[dns.rrset.RRset],
    sigs: Sigs,
    keys: dns.rrset.RRset,
    now: datetime,
) -> DenialCheck:
    if not nx:
        match = [r for r in records if r.name == qname]
        if not match:
            return _nsec_wildcard_nodata(zone, qname, qtype, records, sigs, keys, now)
        present = types_of(match[0][0])
        if qtype in present or dns.rdatatype.CNAME in present:
            return DenialCheck("invalid", "the matching NSEC lists the type asked", "nsec")
        if qtype != dns.rdatatype.DS and parent_side(match[0][0]):
            why = f"{_CUT}: it cannot deny {dns.rdatatype.to_text(qtype)} at {qname}"
            return DenialCheck("invalid", why, "nsec")
        return _proved(_signed(match[:1], sigs, zone, keys, now), "NSEC proves NODATA", kind="nsec")
    covering = [r for r in records if _nsec_covers(r.name, r[0].next, qname)]
    if not covering:
        return DenialCheck("invalid", f"no NSEC covers {qname}", "nsec")
    cover = covering[0]
    if _below_cut(cover.name, cover[0], qname):
        why = f"{_CUT}: the NSEC at {cover.name} cannot deny {qname} below it"
        return DenialCheck("invalid", why, "nsec")
    encloser = max(_common(qname, cover.name), _common(qname, cover[0].next), key=len)
    wildcard = dns.name.Name((b"*", *encloser.labels))
    wild = [r for r in records if r.name == wildcard or _nsec_covers(r.name, r[0].next, wildcard)]
    if not wild or wild[0].name == wildcard:
        return DenialCheck("invalid", f"no NSEC proves that {wildcard} does not exist", "nsec")
    needed = [cover] + ([wild[0]] if wild[0] is not cover else [])
    return _proved(_signed(needed, sigs, zone, keys, now), "NSEC proves NXDOMAIN", kind="nsec")


def _nsec_wildcard_nodata(
    zone: dns.name.Name,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    records: list[dns.rrset.RRset],
    sigs: Sigs,
    keys: dns.rrset.RRset,
    now: datetime,
) -> DenialCheck:
    """A NODATA without an NSEC owned by ``qname``: only a wildcard NODATA can prove it (RFC
    4035 §3.1.3.4, §5.4): an NSEC covering ``qname`` (so it does not exist; the closest
    encloser follows from that NSEC's owner and next name) and the NSEC owned by the wildcard
    ``*.<closest encloser>``, whose bitmap holds neither the type asked nor CNAME; both
    validly signed. The apex always exists, so a NODATA there needs the apex's own NSEC."""
    missing = f"NODATA without an NSEC matching {qname}"
    if not qname.is_subdomain(zone) or qname == zone:
        return DenialCheck("invalid", missing, "nsec")
    covering = [r for r in records if _nsec_covers(r.name, r[0].next, qname)]
    if not covering:
        why = f"{missing}, nor one covering it (a wildcard NODATA)"
        return DenialCheck("invalid", why, "nsec")
    cover = covering[0]
    if _below_cut(cover.name, cover[0], qname):
        why = f"{_CUT}: the NSEC at {cover.name} cannot deny {qname} below it"
        return DenialCheck("invalid", why, "nsec")
    encloser = max(_common(qname, cover.name), _common(qname, cover[0].next), key=len)
    wildcard = dns.name.Name((b"*", *encloser.labels))
    what = f"wildcard NODATA: {wildcard}"
    wild = [r for r in records if r.name == wildcard]
    if not wild:
        why = f"{what}: an NSEC covers {qname}, but no NSEC matches {wildcard}"
        return DenialCheck("invalid", why, "nsec")
    present = types_of(wild[0][0])
    if qtype in present or dns.rdatatype.CNAME in present:
        why = f"{what}: the wildcard's NSEC lists the type asked (or CNAME)"
        return DenialCheck("invalid", why, "nsec")
    needed = [cover] + ([wild[0]] if wild[0] is not cover else [])
    asked = dns.rdatatype.to_text(qtype)
    proved = f"{what} holds no {asked}; NSEC proves {qname} does not exist"
    return _proved(_signed(needed, sigs, zone, keys, now), proved, kind="nsec")


def _nsec3(
    zone: dns.name.Name,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    nx: bool,
    records: list[dns.rrset.RRset],
    sigs: Sigs,
    keys: dns.rrset.RRset,
    now: datetime,
) -> DenialCheck:
    first = records[0][0]
    params = _ProofParams(
        kind="nsec3",
        iterations=int(first.iterations),
        salt=first.salt.hex(),
        opt_out=bool(first.flags & 1),
    )
    try:
        chain = {r.name.labels[0].decode().upper(): r for r in records if len(r.name) > 1}
    except UnicodeDecodeError:
        return DenialCheck("invalid", "NSEC3 owner name is not a hash", **params)

    def h(name: dns.name.Name) -> str:
        return dns.dnssec.nsec3_hash(name, first.salt, first.iterations, first.algorithm).upper()

    def cover(name: dns.name.Name) -> dns.rrset.RRset | None:
        hashed = h(name)
        for owner, rrset in chain.items():
            if _hash_covers(owner, _b32hex(rrset[0].next), hashed):
                return rrset
        return None

    # closest encloser proof (RFC 5155 §8.3): the deepest ancestor of qname an NSEC3 matches
    encloser, next_closer = None, qname
    candidate = qname
    while len(candidate) > len(zone) and candidate.is_subdomain(zone):
        parent = candidate.parent()
        if h(parent) in chain:
            encloser, next_closer = parent, candidate
            break
        candidate = parent
    if encloser is not None and encloser != zone and parent_side(chain[h(encloser)][0]):
        why = f"{_CUT}: the closest encloser {encloser} is a delegation, {qname} lies below it"
        return DenialCheck("invalid", why, **params)
    if not nx:
        match = chain.get(h(qname))
        if match is not None:
            present = types_of(match[0])
            if qtype in present or dns.rdatatype.CNAME in present:
                return DenialCheck("invalid", "the matching NSEC3 lists the type asked", **params)
            if qtype != dns.rdatatype.DS and parent_side(match[0]):
                why = f"{_CUT}: it cannot deny {dns.rdatatype.to_text(qtype)} at {qname}"
                return DenialCheck("invalid", why, **params)
            sig = _signed([match], sigs, zone, keys, now)
            return _proved(sig, "NSEC3 proves NODATA", **params)
        # a wildcard NODATA (RFC 5155 §7.2.5, §8.7): the closest encloser proof for qname and
        # the NSEC3 matching *.<closest encloser>, without the type asked nor CNAME
        missing = f"NODATA without an NSEC3 matching {qname}"
        if encloser is None:  # also at the apex, which always exists: no wildcard applies
            why = f"{missing}, nor a closest encloser proof (a wildcard NODATA)"
            return DenialCheck("invalid", why, **params)
        source = dns.name.Name((b"*", *encloser.labels))
        what = f"wildcard NODATA: {source}"
        covering = cover(next_closer)
        if covering is None:
            why = f"{what}: no NSEC3 covers the next closer {next_closer}"
            return DenialCheck("invalid", why, **params)
        wild = chain.get(h(source))
        if wild is None:
            return DenialCheck("invalid", f"{what}: no NSEC3 matches {source}", **params)
        present = types_of(wild[0])
        if qtype in present or dns.rdatatype.CNAME in present:
            why = f"{what}: the wildcard's NSEC3 lists the type asked (or CNAME)"
            return DenialCheck("invalid", why, **params)
        needed = {id(r): r for r in (chain[h(encloser)], covering, wild)}
        sig = _signed(list(needed.values()), sigs, zone, keys, now)
        asked = dns.rdatatype.to_text(qtype)
        proved = f"{what} holds no {asked}; NSEC3 proves {qname} does not exist"
        return _proved(sig, proved, **params)
    if encloser is None:
        return DenialCheck("invalid", "no NSEC3 matches a closest encloser", **params)
    covering = cover(next_closer)
    if covering is None:
        return DenialCheck("invalid", f"no NSEC3 covers the next closer {next_closer}", **params)
    wildcard = cover(dns.name.Name((b"*", *encloser.labels)))
    if wildcard is None:
        return DenialCheck("invalid", f"no NSEC3 covers *.{encloser}", **params)
    needed = {id(r): r for r in (chain[h(encloser)], covering, wildcard)}
    sig = _signed(list(needed.values()), sigs, zone, keys, now)
    return _proved(sig, "NSEC3 proves NXDOMAIN", **params)


def _wildcard(
    zone: dns.name.Name,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    response: dns.message.Message,
    keys: dns.rrset.RRset,
    now: datetime,
) -> DenialCheck | None:
    """The verdict on an answer synthesised from a wildcard, or None when the answer is no
    signed wildcard expansion. RFC 4035 §5.3.4: an RRSIG whose Labels field is below the
    owner's label count was made over the wildcard ``*.<last Labels labels of the owner>``; the
    answer must then prove the name asked does not exist: an NSEC covering it (RFC 4035
    §3.1.3.3), or an NSEC3 covering the next closer name (RFC 5155 §7.2.6, §8.8)."""
    rrset = next((r for r in response.answer if r.name == qname and r.rdtype == qtype), None)
    sigs = next(
        (
            r
            for r in response.answer
            if r.name == qname and r.rdtype == dns.rdatatype.RRSIG and r.covers == qtype
        ),
        None,
    )
    owner_labels = len(qname) - 1  # the root label does not count (RFC 4034 §3.1.3)
    if rrset is None or not sigs or min(s.labels for s in sigs) >= owner_labels:
        return None
    labels = min(s.labels for s in sigs)
    encloser = dns.name.Name(qname.labels[-(labels + 1) :])
    source = dns.name.Name((b"*", *encloser.labels))
    next_closer = dns.name.Name(qname.labels[-(labels + 2) :])
    nsec = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC]
    nsec3 = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC3]
    rrsigs = {(r.name, r.covers): r for r in response.authority if r.rdtype == dns.rdatatype.RRSIG}
    rrsigs[(qname, qtype)] = sigs
    what = f"wildcard {source} expanded"

    def judge(by_nsec3: bool) -> DenialCheck:
        params: _ProofParams = {"wildcard": source.to_text()}
        if by_nsec3:
            first = nsec3[0][0]
            params |= _ProofParams(
                kind="nsec3",
                iterations=int(first.iterations),
                salt=first.salt.hex(),
                opt_out=bool(first.flags & 1),
            )
            hashed = dns.dnssec.nsec3_hash(
                next_closer, first.salt, first.iterations, first.algorithm
            ).upper()
            needed = [
                r
                for r in nsec3
                if len(r.name) > 1
                and _hash_covers(
                    r.name.labels[0].decode("ascii", "replace").upper(),
                    _b32hex(r[0].next),
                    hashed,
                )
            ]
            missing = f"no NSEC3 covers the next closer name {next_closer}"
        else:
            params["kind"] = "nsec" if nsec else "none"
            needed = [r for r in nsec if _nsec_covers(r.name, r[0].next, qname)]
            proves = "NSEC" if nsec else "NSEC or NSEC3 record"
            missing = f"no {proves} proves that {qname} does not exist"
        if not needed:
            return DenialCheck("invalid", f"{what}, but {missing}", **params)
        sig = _signed([rrset, needed[0]], rrsigs, zone, keys, now)
        return _proved(sig, f"{what}; {params['kind']} proves {qname} does not exist", **params)

    if nsec3 and nsec:  # as in check_denial: either complete proof will do
        return _mixed(judge(True), judge(False))
    return judge(bool(nsec3))
