"""Re-sign and re-publish zones of a running lab, and make its Knot servers serve them.

The drills (:mod:`toolkit.lab.drills`) change a zone step by step the way an operator would:
publish a key, switch signing, change the DS at the parent. This module does the writing:
it reads a zone file the lab serves, strips its DNSSEC records, changes what the step
changes (DS set, SOA serial), signs it again with the keys and uses the step asks for
(:func:`toolkit.lab.signer.sign_zone`), writes it atomically over the file every server of
the zone loads, and asks each knotd to reload it (``knotc -b zone-reload``, through the
control socket its configuration names), then waits until each server answers the new SOA
serial. :class:`Republisher` keeps the original bytes of every file it overwrites and
:meth:`Republisher.restore` puts them back.

Which server loads which file is read from the lab's own ``knot/<server>/knot.conf``.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.zone
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from toolkit.atomic import write_atomic
from toolkit.errors import LabError
from toolkit.lab import servers, zones
from toolkit.lab.lab import LabInfo
from toolkit.lab.scenarios import PORT
from toolkit.lab.signer import KeyUse, sign_zone

DNSSEC_TYPES = frozenset(
    {
        dns.rdatatype.RRSIG,
        dns.rdatatype.NSEC,
        dns.rdatatype.NSEC3,
        dns.rdatatype.NSEC3PARAM,
        dns.rdatatype.DNSKEY,
        dns.rdatatype.CDS,
        dns.rdatatype.CDNSKEY,
    }
)
RELOAD_TIMEOUT = 10.0
_DOMAIN = re.compile(r'^\s*-\s*domain:\s*"?([^"\s]+)"?\s*$')
_FILE = re.compile(r'^\s*file:\s*"?([^"]+?)"?\s*$')


@dataclass(frozen=True)
class ServedFile:
    """A zone file one knotd of the lab loads: server role, its config, zone, file."""

    server: str
    conf: Path
    zone: str
    file: Path


_write_atomic = write_atomic


def served_files(lab_dir: str | Path) -> list[ServedFile]:
    """Every zone file of every knotd of the lab, read from ``knot/<server>/knot.conf``."""
    out = []
    for conf in sorted(Path(lab_dir).glob("knot/*/knot.conf")):
        zone = None
        for line in conf.read_text().splitlines():
            if m := _DOMAIN.match(line):
                zone = m.group(1)
            elif (m := _FILE.match(line)) and zone is not None:
                out.append(ServedFile(conf.parent.name, conf, zones.absolute(zone), Path(m[1])))
                zone = None
    return out


def read_zone(path: Path, origin: str) -> dns.zone.Zone:
    """A lab zone file as a zone (absolute names); raises LabError when unreadable."""
    try:
        return dns.zone.from_file(str(path), origin=origin, relativize=False)
    except (OSError, dns.exception.DNSException) as exc:
        raise LabError(f"cannot read lab zone file {path}: {exc}") from exc


def strip_dnssec(zone: dns.zone.Zone) -> dns.zone.Zone:
    """A copy of ``zone`` without its DNSSEC records (signatures, denial chain, keys, CDS)."""
    text = zones.zone_text(zone)
    copy = dns.zone.from_text(text, origin=zone.origin, relativize=False)
    with copy.writer() as txn:
        for name in list(txn.iterate_names()):
            for rds in list(txn.get_node(name).rdatasets):
                if rds.rdtype in DNSSEC_TYPES or rds.covers in DNSSEC_TYPES:
                    txn.delete(name, rds.rdtype, rds.covers)
    return copy


def set_serial(zone: dns.zone.Zone, serial: int) -> None:
    """Give the zone's SOA the serial ``serial`` (in place)."""
    with zone.writer() as txn:
        soa = txn.get(zone.origin, dns.rdatatype.SOA)
        new = soa[0].replace(serial=serial & 0xFFFFFFFF)
        txn.replace(zone.origin, soa.ttl, new)


def set_ds(zone: dns.zone.Zone, child: str, ds_set: Sequence[DS], ttl: int = zones.TTL) -> None:
    """Make ``ds_set`` the DS RRset of delegation ``child`` in parent ``zone`` (empty: none)."""
    name = dns.name.from_text(zones.absolute(child))
    with zone.writer() as txn:
        txn.delete(name, dns.rdatatype.DS)
        for ds in ds_set:
            txn.add(name, ttl, ds)


def serial_of(zone: dns.zone.Zone) -> int:
    """The zone's SOA serial."""
    soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
    if soa is None:
        raise LabError(f"zone {zone.origin} has no SOA")
    return int(soa[0].serial)


def signed_text(
    zone: dns.zone.Zone,
    keys: Sequence[KeyUse],
    *,
    inception: datetime,
    expiration: datetime,
    dnskey_ttl: int = zones.TTL,
) -> str:
    """The zone signed (NSEC) with ``keys`` as their uses say, in master-file syntax; with no
    keys, the zone as it is (unsigned). ``zone`` is not changed."""
    copy = dns.zone.from_text(zones.zone_text(zone), origin=zone.origin, relativize=False)
    if keys:
        sign_zone(copy, keys, inception=inception, expiration=expiration, dnskey_ttl=dnskey_ttl)
    return zones.zone_text(copy)


def lab_key(lab_dir: str | Path, zone: str, role: str) -> zones.SigningKey:
    """The lab's own key of ``zone`` (``keys/<zone>.<role>.pem``) with the flags and algorithm
    of the DNSKEY the lab publishes for it. Raises LabError when there is no such key."""
    lab = Path(lab_dir)
    stem = "root" if zone in (".", "") else zone.rstrip(".")
    pem_path = lab / "keys" / f"{stem}.{role}.pem"
    try:
        pem = pem_path.read_bytes()
    except OSError as exc:
        raise LabError(f"no lab key {pem_path}: {exc}") from exc
    served = [f for f in served_files(lab) if f.zone == zones.absolute(zone)]
    if not served:
        raise LabError(f"the lab serves no zone {zone}")
    current = read_zone(served[0].file, zones.absolute(zone))
    dnskeys: Iterable[DNSKEY] = current.get_rdataset(current.origin, dns.rdatatype.DNSKEY) or []
    for rd in dnskeys:
        try:
            key = zones.SigningKey.from_pem(pem, rd.flags, rd.algorithm)
        except LabError:
            continue
        if key.dnskey.key == rd.key:
            return key
    raise LabError(f"{pem_path} matches no DNSKEY that the lab publishes for {zone}")


class Republisher:
    """Writes new versions of the lab's zone files, makes knotd reload them, and can put the
    originals back (:meth:`restore`, also on leaving a ``with`` block)."""

    def __init__(self, lab_dir: str | Path, *, timeout: float = RELOAD_TIMEOUT) -> None:
        self.info = LabInfo.load(lab_dir)
        self.files = served_files(self.info.dir)
        self.timeout = timeout
        self._originals: dict[Path, bytes] = {}
        self._knotc = servers.executable("knotc")

    def current(self, zone: str) -> dns.zone.Zone:
        """The zone as its first server's file holds it now."""
        f = self._files(zone)[0]
        return read_zone(f.file, zones.absolute(zone))

    def original(self, zone: str) -> dns.zone.Zone:
        """The zone as it was before this republisher first wrote it."""
        f = self._files(zone)[0]
        if f.file in self._originals:
            return dns.zone.from_text(
                self._originals[f.file].decode(), origin=zones.absolute(zone), relativize=False
            )
        return self.current(zone)

    def _files(self, zone: str) -> list[ServedFile]:
        files = [f for f in self.files if f.zone == zones.absolute(zone)]
        if not files:
            raise LabError(f"the lab at {self.info.dir} serves no zone {zone}")
        return files

    def publish(self, zone: str, text: str) -> None:
        """Serve ``text`` (master-file syntax) as ``zone`` on every server of it: write each
        of its files atomically, reload, and wait until every server answers the new serial.
        Raises LabError when a reload fails or a server keeps the old serial."""
        self.publish_files({f: text for f in self._files(zone)})

    def publish_files(self, texts: Mapping[ServedFile, str]) -> None:
        """Serve each text in the file of its :class:`ServedFile` (a server's version of a
        zone): write every file, reload each server once for all its zones, then wait until
        each server answers each zone's new serial. Raises LabError as :meth:`publish`."""
        for f, text in texts.items():
            if f.file not in self._originals:
                self._originals[f.file] = f.file.read_bytes()
            _write_atomic(f.file, text)
        self._reload_all(list(texts))
        for f, text in texts.items():
            zone = dns.zone.from_text(text, origin=f.zone, relativize=False)
            self._wait_serial(f, serial_of(zone))

    def restore(self) -> None:
        """Put back every file this republisher overwrote, and make the servers reload them."""
        touched = [f for f in self.files if f.file in self._originals]
        for path, data in self._originals.items():
            _write_atomic(path, data)
        self._reload_all(touched)
        for f in touched:
            data = self._originals[f.file]
            original = dns.zone.from_text(data.decode(), origin=f.zone, relativize=False)
            self._wait_serial(f, serial_of(original))
        self._originals.clear()

    def _reload_all(self, files: Sequence[ServedFile]) -> None:
        by_conf: dict[Path, list[str]] = {}
        for f in files:
            zones_of = by_conf.setdefault(f.conf, [])
            if f.zone not in zones_of:
                zones_of.append(f.zone)
        for conf, names in by_conf.items():
            self._reload(conf, names)

    def _reload(self, conf: Path, names: Sequence[str]) -> None:
        argv = [self._knotc, "-c", str(conf), "-b", "-t", str(int(self.timeout)),
                "zone-reload", *names]  # fmt: skip
        what = f"{', '.join(names)} on {conf.parent.name}"
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout + 5, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"knotc zone-reload {what} failed: {exc}") from exc
        if done.returncode != 0:
            raise LabError(
                f"knotc zone-reload {what} failed: {(done.stderr or done.stdout).strip()}"
            )

    def _wait_serial(self, f: ServedFile, serial: int) -> None:
        address = self.info.servers.get(f.server)
        if address is None:
            return  # a server the lab description does not name: nothing to ask
        deadline = time.monotonic() + self.timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                q = dns.message.make_query(f.zone, dns.rdatatype.SOA)
                resp = dns.query.udp(q, address, port=PORT, timeout=0.5)
                for rrset in resp.answer:
                    if rrset.rdtype == dns.rdatatype.SOA:
                        got = int(rrset[0].serial)
                        if got == serial:
                            return
                        last = f"serial {got}"
            except (OSError, dns.exception.DNSException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
        raise LabError(
            f"{f.server} ({address}) does not serve {f.zone} serial {serial} after reload ({last})"
        )

    def __enter__(self) -> Republisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()
