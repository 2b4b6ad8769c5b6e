"""What one run showed of one zone's keys: the DNSKEYs, the parent's DS, who signs what.

Pure functions over the ``zones`` and ``records`` frames of a :class:`~toolkit.history.History`.
Which side of a zone a run observed (``child_seen``, ``parent_seen``) is decided by
:func:`toolkit.history.key_sets.observed_sides`, the one definition of "observed" that the key
sets, the ticket reconciliation and the alerts use too.
A key is identified by its algorithm and public key (``key_id``), not its key tag, because
setting the REVOKE bit changes the tag (RFC 5011 §3): the revoked key is the same key.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pandas as pd
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from toolkit.history.key_sets import observed_sides

REVOKE = 0x0080
SEP = 0x0001
DATA_TYPES = ("SOA", "NS")  # apex RRsets signed by the zone-signing role


@dataclass(frozen=True)
class Key:
    """A DNSKEY as one run saw it (over all the zone's servers)."""

    key_id: str
    key_tag: int
    algorithm: int
    flags: int
    signs_dnskey: bool
    signs_data: bool
    ttl: int
    rdata: str

    @property
    def revoked(self) -> bool:
        return bool(self.flags & REVOKE)

    @property
    def sep(self) -> bool:
        return bool(self.flags & SEP)

    @property
    def signing(self) -> bool:
        return self.signs_dnskey or self.signs_data

    @property
    def role(self) -> str:
        """ksk | zsk | csk: by what it signs, else by its SEP bit."""
        if self.signs_dnskey and self.signs_data:
            return "csk"
        if self.signs_data:
            return "zsk"
        if self.signs_dnskey:
            return "ksk"
        return "ksk" if self.sep else "zsk"


@dataclass(frozen=True)
class Ds:
    """A DS record at the parent, and the key (``key_id``) whose digest it verifies, if any."""

    ds_id: str
    key_tag: int
    algorithm: int
    digest_type: int
    ttl: int
    matches: str | None
    rdata: str


@dataclass(frozen=True)
class Snapshot:
    """One zone in one run.

    ``child_seen``: the run observed the zone's DNSKEY set (possibly empty);
    ``parent_seen``: it observed the parent's DS set (possibly empty), both as
    :func:`toolkit.history.key_sets.observed_sides` defines it. A side that was not seen says
    nothing about its keys.
    """

    zone: str
    run_id: str
    at: pd.Timestamp
    status: str | None
    reasons: tuple[str, ...]
    child_seen: bool
    parent_seen: bool
    keys: dict[str, Key] = field(default_factory=dict)
    ds: dict[str, Ds] = field(default_factory=dict)
    sig_algorithms: dict[str, frozenset[int]] = field(default_factory=dict)
    max_sig_ttl: int = 0
    dnskey_ttl: int = 0
    ds_ttl: int = 0

    @property
    def algorithms(self) -> frozenset[int]:
        """Algorithms of the published (non-revoked) keys."""
        return frozenset(k.algorithm for k in self.keys.values() if not k.revoked)

    def data_signers(self) -> set[str]:
        return {k.key_id for k in self.keys.values() if k.signs_data}

    def dnskey_signers(self) -> set[str]:
        return {k.key_id for k in self.keys.values() if k.signs_dnskey}

    def trusted_signers(self) -> set[str]:
        """Keys signing the DNSKEY set that some DS points at: the chain's working links."""
        pointed = {d.matches for d in self.ds.values() if d.matches}
        return self.dnskey_signers() & pointed


def codes(reasons: object) -> tuple[str, ...]:
    """The reason codes of a ``;``-joined cell (null: none)."""
    if reasons is None or reasons is pd.NA or (isinstance(reasons, float) and pd.isna(reasons)):
        return ()
    return tuple(c for c in str(reasons).split(";") if c)


def key_id(algorithm: int, public_key: str) -> str:
    """A key's identity across flag changes: algorithm and a digest of the public key."""
    digest = hashlib.sha256(public_key.replace(" ", "").encode()).hexdigest()[:16]
    return f"{algorithm}:{digest}"


def _dnskey_parts(rdata: str) -> tuple[int, int, str]:
    flags, _proto, alg, *key = rdata.split()
    return int(flags), int(alg), "".join(key)


@functools.lru_cache(maxsize=65536)
def _ds_matches(zone: str, ds_rdata: str, keys: tuple[tuple[str, str], ...]) -> str | None:
    """The key_id among ``keys`` ((key_id, DNSKEY rdata)) whose digest the DS verifies."""
    try:
        # from_text with the DS type builds a DS (or raises)
        ds = cast(DS, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, ds_rdata))
    except Exception:  # an unparsable DS matches nothing
        return None
    name = dns.name.from_text(zone)
    for kid, text in keys:
        try:
            # from_text with the DNSKEY type builds a DNSKEY (or raises)
            key = cast(DNSKEY, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, text))
            if dns.dnssec.key_id(key) != ds.key_tag or key.algorithm != ds.algorithm:
                continue
            if dns.dnssec.make_ds(name, key, ds.digest_type) == ds:
                return kid
        except Exception:  # unsupported digest type or algorithm: cannot verify
            continue
    return None


_RECORD_COLUMNS = ("zone", "rrtype", "ttl", "source", "key_tag", "algorithm", "covered_type",
                   "signer", "rdata")  # fmt: skip


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def snapshots(zones: pd.DataFrame, records: pd.DataFrame) -> Iterator[Snapshot]:
    """One :class:`Snapshot` per row of ``zones`` (with ``run_id``/``run_at``, as in a
    :class:`~toolkit.history.History`), in the frame's order, built from that run's
    ``records`` rows of the zone. The records are grouped once, then read as plain tuples
    (a portfolio of thousands of zones must not pay a pandas filter per zone and run)."""
    sides = observed_sides(zones, records)
    groups: dict[tuple[str, str], list[tuple]] = {}
    cols = ["run_id", *_RECORD_COLUMNS]
    columns = [records[c].tolist() for c in cols]  # column-wise: far faster than itertuples
    for row in zip(*columns, strict=True):
        if not _missing(row[1]):
            groups.setdefault((row[0], row[1]), []).append(row[1:])
    seen = zip(sides["DNSKEY"].tolist(), sides["DS"].tolist(), strict=True)
    for z, (child_seen, parent_seen) in zip(zones.itertuples(index=False), seen, strict=True):
        yield snapshot(
            zone=str(z.zone),
            run_id=str(z.run_id),
            at=z.run_at,
            status=None if _missing(z.status) else str(z.status),
            reasons=codes(z.reasons),
            child_seen=child_seen,
            parent_seen=parent_seen,
            records=groups.get((z.run_id, z.zone), []),
        )


def snapshot(
    *,
    zone: str,
    run_id: str,
    at: pd.Timestamp,
    status: str | None,
    reasons: tuple[str, ...],
    child_seen: bool,
    parent_seen: bool,
    records: pd.DataFrame | list[tuple],
) -> Snapshot:
    """Build one zone's :class:`Snapshot` from its records of one run: a RECORDS frame, or
    tuples of its columns ``zone, rrtype, ttl, source, key_tag, algorithm, covered_type,
    signer, rdata``; ``child_seen``/``parent_seen``: whether the run observed the zone's DNSKEY
    and DS sides (:func:`toolkit.history.key_sets.observed_sides`)."""
    if isinstance(records, pd.DataFrame):
        records = list(zip(*(records[c].tolist() for c in _RECORD_COLUMNS), strict=True))
    apex = zone.rstrip(".").lower() + "."
    child = [r for r in records if r[3] == "child"]
    parent = [r for r in records if r[3] == "parent"]
    signed_by: dict[tuple[int, int], set[str]] = {}
    sig_algorithms: dict[str, set[int]] = {}
    for _z, rrtype, _ttl, _src, tag, alg, covered, signer, _rd in child:
        if rrtype != "RRSIG" or _missing(tag) or _missing(alg) or _missing(signer):
            continue
        if str(signer).lower() != apex:
            continue
        signed_by.setdefault((int(tag), int(alg)), set()).add(str(covered))
        sig_algorithms.setdefault(str(covered), set()).add(int(alg))

    keys: dict[str, Key] = {}
    seen: set[str] = set()
    dnskey_ttl = 0
    for _z, rrtype, ttl, _src, tag, _alg, _cov, _sig, rdata in child:
        if rrtype != "DNSKEY":
            continue
        dnskey_ttl = max(dnskey_ttl, int(ttl))
        if rdata in seen:
            continue
        seen.add(rdata)
        flags, alg, public = _dnskey_parts(str(rdata))
        kid = key_id(alg, public)
        covered = signed_by.get((int(tag), alg), set())
        k = Key(
            key_id=kid,
            key_tag=int(tag),
            algorithm=alg,
            flags=flags,
            signs_dnskey="DNSKEY" in covered,
            signs_data=bool(covered & set(DATA_TYPES)),
            ttl=int(ttl),
            rdata=str(rdata),
        )
        old = keys.get(kid)
        if old is None or (k.revoked and not old.revoked):
            keys[kid] = k  # the same key served revoked by one server: count it revoked
    key_texts = tuple((k.key_id, k.rdata) for k in keys.values())
    ds: dict[str, Ds] = {}
    ds_ttl = 0
    for _z, rrtype, ttl, _src, _tag, _alg, _cov, _sig, rdata in parent:
        if rrtype != "DS":
            continue
        ds_ttl = max(ds_ttl, int(ttl))
        text = str(rdata)
        parts = text.split()
        ds_id = f"{parts[0]}/{parts[1]}/{parts[2]}/{''.join(parts[3:]).lower()}"
        if ds_id in ds:
            continue
        ds[ds_id] = Ds(
            ds_id=ds_id,
            key_tag=int(parts[0]),
            algorithm=int(parts[1]),
            digest_type=int(parts[2]),
            ttl=int(ttl),
            matches=_ds_matches(apex, text, key_texts),
            rdata=text,
        )
    sig_ttls = [int(r[2]) for r in child if r[1] in ("SOA", "NS", "DNSKEY")]
    return Snapshot(
        zone=zone,
        run_id=run_id,
        at=at,
        status=status,
        reasons=reasons,
        child_seen=child_seen,
        parent_seen=parent_seen,
        keys=keys,
        ds=ds,
        sig_algorithms={t: frozenset(a) for t, a in sig_algorithms.items()},
        max_sig_ttl=max(sig_ttls, default=0),
        dnskey_ttl=dnskey_ttl,
        ds_ttl=ds_ttl,
    )


def by_zone(snaps: Iterable[Snapshot]) -> dict[str, list[Snapshot]]:
    """Snapshots grouped by zone, each list oldest first."""
    out: dict[str, list[Snapshot]] = {}
    for s in snaps:
        out.setdefault(s.zone, []).append(s)
    for lst in out.values():
        lst.sort(key=lambda s: (s.at, s.run_id))
    return out
