"""The deliberate changes the lab's scenarios make to a zone: pure functions on a
:class:`dns.zone.Zone`.

*Edits* change the content before signing (so the result is signed): a long NS TTL, CDS and
CDNSKEY records, an extra NS. *Faults* break the signed zone afterwards: a signature removed,
altered or re-made with the wrong signer name, the NSEC chain's signatures stripped. Both are
looked up by the names :mod:`toolkit.lab.recipes` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
from dns.dnssectypes import DSDigest

from toolkit.errors import LabError
from toolkit.lab.scenarios import LabAddresses
from toolkit.lab.signer import KeyUse, sign_rrset

FORTY_DAYS = 40 * 86400


@dataclass(frozen=True)
class FaultContext:
    """What an edit or a fault may use: the zone's name, the lab's addresses, every key of the
    zone by role (``decoy`` included when the recipe needs one), and the signature window."""

    origin: dns.name.Name
    addrs: LabAddresses
    keys: Mapping[str, KeyUse]
    inception: datetime
    expiration: datetime

    def key(self, role: str) -> KeyUse:
        try:
            return self.keys[role]
        except KeyError:
            raise LabError(f"{self.origin}: the recipe has no key {role!r}") from None


Change = Callable[[dns.zone.Zone, FaultContext], None]


def _add(zone: dns.zone.Zone, owner: dns.name.Name, rdtype: str, text: str, ttl: int) -> None:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text)
    with zone.writer() as txn:
        txn.add(owner, ttl, rdata)


def _cds_of(zone: dns.zone.Zone, ctx: FaultContext, role: str) -> None:
    dnskey = ctx.key(role).dnskey
    ds = dns.dnssec.make_ds(ctx.origin, dnskey, DSDigest.SHA256)
    _add(zone, ctx.origin, "CDS", ds.to_text(), 3600)
    _add(zone, ctx.origin, "CDNSKEY", dnskey.to_text(), 3600)


def _ns_ttl_40_days(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    with zone.writer() as txn:
        ns = txn.get(ctx.origin, dns.rdatatype.NS)
        txn.replace(ctx.origin, dns.rdataset.from_rdata_list(FORTY_DAYS, list(ns)))


def _cds_ksk(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _cds_of(zone, ctx, "ksk")


def _cds_decoy(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _cds_of(zone, ctx, "decoy")


def _cds_zsk(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _cds_of(zone, ctx, "zsk")


def _cds_ksk_next(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _cds_of(zone, ctx, "ksk-next")


def _cds_only_ksk(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    ds = dns.dnssec.make_ds(ctx.origin, ctx.key("ksk").dnskey, DSDigest.SHA256)
    _add(zone, ctx.origin, "CDS", ds.to_text(), 3600)


def _cds_delete(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _add(zone, ctx.origin, "CDS", "0 0 0 00", 3600)
    _add(zone, ctx.origin, "CDNSKEY", "0 3 0 AA==", 3600)


def _cds_delete_with_ksk(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _cds_of(zone, ctx, "ksk")
    _add(zone, ctx.origin, "CDS", "0 0 0 00", 3600)


def _child_ns3(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    ns3 = dns.name.from_text("ns3", ctx.origin)
    _add(zone, ctx.origin, "NS", ns3.to_text(), 3600)
    _add(zone, ns3, "A", ctx.addrs.ns1, 3600)


def _wildcard_a(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _add(zone, dns.name.from_text("*", ctx.origin), "A", "192.0.2.80", 3600)


def _undeclared_delegation(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """``branch.<zone>`` delegated to the zone's own ns1, which does not serve it: a delegation
    nobody declared in the inventory (zone discovery's finding), lame as forgotten ones are."""
    branch = dns.name.from_text("branch", ctx.origin)
    _add(zone, branch, "NS", dns.name.from_text("ns1", ctx.origin).to_text(), 3600)


def _undeclared_signed_delegation(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """``signed-branch.<zone>`` delegated with a DS (of a key nobody serves): a referral to it
    carries the DS, not the NSEC, which an NSEC walk must step past."""
    branch = dns.name.from_text("signed-branch", ctx.origin)
    _add(zone, branch, "NS", dns.name.from_text("ns1", ctx.origin).to_text(), 3600)
    _add(zone, branch, "DS", "4242 13 2 " + "42" * 32, 3600)


def _wildcard_txt(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """A wildcard holding only TXT: a name it covers, asked for A, gets a wildcard NODATA."""
    _add(zone, dns.name.from_text("*", ctx.origin), "TXT", '"wildcard"', 3600)


EDITS: dict[str, Change] = {
    "ns-ttl-40-days": _ns_ttl_40_days,
    "cds-ksk": _cds_ksk,
    "cds-decoy": _cds_decoy,
    "cds-delete": _cds_delete,
    "cds-delete-with-ksk": _cds_delete_with_ksk,
    "cds-zsk": _cds_zsk,
    "cds-ksk-next": _cds_ksk_next,
    "cds-only-ksk": _cds_only_ksk,
    "child-ns3": _child_ns3,
    "wildcard-a": _wildcard_a,
    "undeclared-delegation": _undeclared_delegation,
    "undeclared-signed-delegation": _undeclared_signed_delegation,
    "wildcard-txt": _wildcard_txt,
}
"""Changes applied before signing, by name."""


def _soa_sigs(zone: dns.zone.Zone, ctx: FaultContext) -> dns.rrset.RRset:
    node = zone.get_node(ctx.origin)
    sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.SOA)
    if sigs is None:
        raise LabError(f"{ctx.origin}: no SOA signature to break (is the zone signed?)")
    return dns.rrset.from_rdata_list(ctx.origin, sigs.ttl, list(sigs))


def _strip_dnskey_rrsig(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    # Not the SOA's: a server like Knot treats a zone whose SOA is unsigned as unsigned and
    # then serves no RRSIG at all.
    _soa_sigs(zone, ctx)
    with zone.writer() as txn:
        txn.delete(ctx.origin, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)


def _corrupt_soa_rrsig(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    sigs = _soa_sigs(zone, ctx)
    broken = [
        sig.replace(signature=sig.signature[:-1] + bytes([sig.signature[-1] ^ 0xFF]))
        for sig in sigs
    ]
    with zone.writer() as txn:
        txn.delete(ctx.origin, dns.rdatatype.RRSIG, dns.rdatatype.SOA)
        txn.add(ctx.origin, sigs.ttl, *broken)


def _soa_signer_parent(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    _soa_sigs(zone, ctx)
    soa = zone.get_rrset(ctx.origin, dns.rdatatype.SOA)
    sig = sign_rrset(soa, ctx.key("zsk"), ctx.origin.parent(), ctx.inception, ctx.expiration)
    with zone.writer() as txn:
        txn.delete(ctx.origin, dns.rdatatype.RRSIG, dns.rdatatype.SOA)
        txn.add(sig)


def _strip_nsec_rrsigs(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    with zone.writer() as txn:
        for name in list(txn.iterate_names()):
            if txn.get(name, dns.rdatatype.RRSIG, dns.rdatatype.NSEC) is not None:
                txn.delete(name, dns.rdatatype.RRSIG, dns.rdatatype.NSEC)


def _cds_signed_by_zsk(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    zsk = ctx.key("zsk")
    with zone.writer() as txn:
        for rdtype in (dns.rdatatype.CDS, dns.rdatatype.CDNSKEY):
            rdataset = txn.get(ctx.origin, rdtype)
            if rdataset is None:
                raise LabError(f"{ctx.origin}: no {dns.rdatatype.to_text(rdtype)} to re-sign")
            rrset = dns.rrset.from_rdata_list(ctx.origin, rdataset.ttl, list(rdataset))
            txn.delete(ctx.origin, dns.rdatatype.RRSIG, rdtype)
            txn.add(sign_rrset(rrset, zsk, ctx.origin, ctx.inception, ctx.expiration))


def _ns_ttl_raised_after_signing(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    with zone.writer() as txn:
        ns = txn.get(ctx.origin, dns.rdatatype.NS)
        txn.replace(ctx.origin, dns.rdataset.from_rdata_list(2 * ns.ttl, list(ns)))


def _www_signed_by_decoy(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """``www``'s A RRset re-signed by a key the zone does not publish (its only RRSIG): the
    apex validates, ``www`` does not (RFC 4035 §5.3.1: no DNSKEY of the set matches)."""
    www = dns.name.from_text("www", ctx.origin)
    with zone.writer() as txn:
        rdataset = txn.get(www, dns.rdatatype.A)
        if rdataset is None or txn.get(www, dns.rdatatype.RRSIG, dns.rdatatype.A) is None:
            raise LabError(f"{ctx.origin}: no signed www A to re-sign (is the zone signed?)")
        rrset = dns.rrset.from_rdata_list(www, rdataset.ttl, list(rdataset))
        txn.delete(www, dns.rdatatype.RRSIG, dns.rdatatype.A)
        txn.add(sign_rrset(rrset, ctx.key("decoy"), ctx.origin, ctx.inception, ctx.expiration))


def _soa_ttl_lowered_after_signing(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """The apex SOA RRset's TTL cut to a tenth after signing. Knot serves an RRSIG with its
    Original TTL field as its TTL (whatever the zone file says), so the RRSIG keeps the
    signed TTL while the SOA goes out with the new one: RFC 4035 §2.2 wants them equal. The
    signature still verifies (validators rebuild the signed data with the original TTL), and
    the SOA is what the lab's resolvers are asked."""
    with zone.writer() as txn:
        soa = txn.get(ctx.origin, dns.rdatatype.SOA)
        txn.replace(ctx.origin, dns.rdataset.from_rdata_list(soa.ttl // 10, list(soa)))


def _nsec3param_other_salt(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """The apex NSEC3PARAM replaced, after signing, by one whose salt (ABCD) no NSEC3 chain of
    the zone uses (RFC 5155 §4), re-signed with the ZSK so that its own signature verifies."""
    with zone.writer() as txn:
        param = txn.get(ctx.origin, dns.rdatatype.NSEC3PARAM)
        if param is None:
            raise LabError(f"{ctx.origin}: no NSEC3PARAM to change (is the zone NSEC3?)")
        other = [rd.replace(salt=bytes.fromhex("abcd")) for rd in param]
        rrset = dns.rrset.from_rdata_list(ctx.origin, param.ttl, other)
        txn.replace(ctx.origin, dns.rdataset.from_rdata_list(param.ttl, other))
        txn.delete(ctx.origin, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3PARAM)
        txn.add(sign_rrset(rrset, ctx.key("zsk"), ctx.origin, ctx.inception, ctx.expiration))


def _strip_wildcard_nsec(zone: dns.zone.Zone, ctx: FaultContext) -> None:
    """The NSEC owned by the wildcard (the one that covers every ``_...`` name below the apex,
    ``*`` sorting before ``_``) and its signature removed: a wildcard answer to such a name
    can no longer prove that the name itself does not exist (RFC 4035 §5.3.4)."""
    wildcard = dns.name.from_text("*", ctx.origin)
    with zone.writer() as txn:
        if txn.get(wildcard, dns.rdatatype.NSEC) is None:
            raise LabError(f"{ctx.origin}: no wildcard NSEC to strip (is the zone NSEC-signed?)")
        txn.delete(wildcard, dns.rdatatype.NSEC)
        txn.delete(wildcard, dns.rdatatype.RRSIG, dns.rdatatype.NSEC)


FAULTS: dict[str, Change] = {
    "strip-dnskey-rrsig": _strip_dnskey_rrsig,
    "corrupt-soa-rrsig": _corrupt_soa_rrsig,
    "soa-signer-parent": _soa_signer_parent,
    "strip-nsec-rrsigs": _strip_nsec_rrsigs,
    "cds-signed-by-zsk": _cds_signed_by_zsk,
    "ns-ttl-raised-after-signing": _ns_ttl_raised_after_signing,
    "www-signed-by-decoy": _www_signed_by_decoy,
    "soa-ttl-lowered-after-signing": _soa_ttl_lowered_after_signing,
    "nsec3param-other-salt": _nsec3param_other_salt,
    "strip-wildcard-nsec": _strip_wildcard_nsec,
}
"""Changes applied after signing, by name."""


def apply(changes: Mapping[str, Change], names: tuple[str, ...], zone: dns.zone.Zone,
          ctx: FaultContext) -> None:  # fmt: skip
    """Apply the named changes in order; raises LabError for an unknown name."""
    for name in names:
        try:
            change = changes[name]
        except KeyError:
            raise LabError(f"{ctx.origin}: unknown lab change {name!r}") from None
        change(zone, ctx)
