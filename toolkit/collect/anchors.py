"""Trust anchors and root hints: where validation and the delegation walk start.

Both files use zone-file syntax. A trust-anchor file holds DS or DNSKEY records for the root
(or for the apex of any private tree); a hints file holds NS records for the root and A/AAAA
records for their targets. The defaults are the IANA root's: used when collecting on the
internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from toolkit.errors import InputError

# IANA root trust anchors (https://data.iana.org/root-anchors/root-anchors.xml): KSK-2017
# (20326) and KSK-2024 (38696), both algorithm 8, SHA-256 digests.
IANA_ROOT_ANCHORS = """
. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. 172800 IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
"""

# IANA root hints (named.root), IPv4 addresses.
IANA_ROOT_HINTS = "\n".join(
    [f". 3600000 IN NS {letter}.root-servers.net." for letter in "abcdefghijklm"]
    + [
        f"{letter}.root-servers.net. 3600000 IN A {addr}"
        for letter, addr in zip(
            "abcdefghijklm",
            [
                "198.41.0.4",
                "170.247.170.2",
                "192.33.4.12",
                "199.7.91.13",
                "192.203.230.10",
                "192.5.5.241",
                "192.112.36.4",
                "198.97.190.53",
                "192.36.148.17",
                "192.58.128.30",
                "193.0.14.129",
                "199.7.83.42",
                "202.12.27.33",
            ],
            strict=True,
        )
    ]
)


@dataclass(frozen=True)
class TrustAnchor:
    """DS and/or DNSKEY records trusted for ``name`` (usually the root)."""

    name: dns.name.Name
    ds: dns.rrset.RRset | None
    dnskey: dns.rrset.RRset | None
    source: str


@dataclass(frozen=True)
class RootHints:
    """The servers the delegation walk starts from: (name, address) pairs."""

    servers: tuple[tuple[str, str], ...]
    source: str


def _parse(text: str, source: str) -> dns.zone.Zone:
    try:
        return dns.zone.from_text(text, origin=dns.name.root, relativize=False, check_origin=False)
    except dns.exception.DNSException as exc:
        raise InputError(source, f"not valid zone-file syntax: {exc}") from exc


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror})") from exc


def load_trust_anchor(path: str | Path | None = None) -> TrustAnchor:
    """Read a trust-anchor file (DS or DNSKEY records, zone-file syntax).

    ``None`` gives the IANA root anchors. Raises InputError when the file cannot be read,
    does not parse, holds no DS/DNSKEY record, or holds anchors for more than one name.
    """
    source = str(path) if path else "IANA root trust anchors (built in)"
    text = _read(path) if path else IANA_ROOT_ANCHORS
    zone = _parse(text, source)
    ds = dnskey = None
    names = set()
    for name, node in zone.nodes.items():
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.DS:
                ds = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
                names.add(name)
            elif rds.rdtype == dns.rdatatype.DNSKEY:
                dnskey = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
                names.add(name)
    if not names:
        raise InputError(source, "expected DS or DNSKEY records, found none")
    if len(names) > 1:
        raise InputError(source, f"expected anchors for one name, found {sorted(map(str, names))}")
    return TrustAnchor(names.pop(), ds, dnskey, source)


def load_root_hints(path: str | Path | None = None) -> RootHints:
    """Read a root hints file: NS records of the root and A/AAAA records of their targets.

    ``None`` gives the IANA root hints. Raises InputError when the file cannot be read or
    parsed, has no root NS records, or no NS target has an address.
    """
    source = str(path) if path else "IANA root hints (built in)"
    text = _read(path) if path else IANA_ROOT_HINTS
    zone = _parse(text, source)
    ns = zone.get_rdataset(dns.name.root, dns.rdatatype.NS)
    if ns is None:
        raise InputError(source, "expected NS records for the root ('.'), found none")
    servers = []
    for rdata in ns:
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            addrs = zone.get_rdataset(rdata.target, rdtype)
            for a in addrs or []:
                servers.append((rdata.target.to_text(), a.address))
    if not servers:
        raise InputError(source, "expected A or AAAA records for the root's NS names, found none")
    return RootHints(tuple(sorted(servers)), source)
