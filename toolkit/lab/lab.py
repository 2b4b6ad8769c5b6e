"""Bring the lab up and down: write keys, zones and configs, run the daemons, keep ``lab.json``.

Layout of a lab directory ``LAB`` (everything the lab writes; nothing else there is touched)::

    LAB/lab.json                 what runs where (see LabInfo), written atomically
    LAB/root.ds                  trust anchor: the lab root KSK's DS
    LAB/root.hints               root hints pointing at the lab root server
    LAB/keys/<zone>.{ksk,zsk}.pem  private keys (PKCS#8 PEM); <zone> is "root" for the root,
                                 else the zone name without trailing dot; a ds-mismatch zone's
                                 unpublished decoy key is <zone>.decoy.pem
    LAB/zones/<zone>.zone        signed zone files, exactly as served
    LAB/zones/<zone>.ns2.zone    ns2's own version of a zone, where a scenario needs one
    LAB/knot/<server>/           knot.conf, run/ (pid, control socket), db/ (timers, journal)
    LAB/unbound/                 unbound.conf, its working directory and pid file
    LAB/bind/                    named.conf, rndc.conf and named's working directory
    LAB/kresd/                   kresd.conf, run/ (control socket), cache/ (emptied on rebuild)
    LAB/pdns/                    recursor.conf, recursor.lua (trust anchor), run/ (pid, socket)
    LAB/logs/<process>.log       stdout/stderr (and Unbound's log file) of every daemon
    LAB/shim/                    the network shim's routes and stats, when the lab runs with
                                 an added round trip, jitter or loss (see toolkit.lab.network)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.atomic import write_atomic
from toolkit.errors import LabError
from toolkit.lab import network as net
from toolkit.lab import resolvers, servers, zones
from toolkit.lab.scenarios import DEFAULT_BASE, LAB_ZONES, PORT, LabAddresses, LabZone
from toolkit.lab.servers import ProcessRecord

FORMAT_VERSION = 1
#: Where ``dnssec-audit lab up`` builds the lab when given no ``--dir``.
DEFAULT_DIR = Path(".lab")
READY_TIMEOUT = 10.0
STATUS_COLUMNS = ["name", "pid", "address", "running", "answering"]

_GENERATED_DIRS = ("keys", "zones", "knot", "unbound", "bind", "kresd", "pdns", "logs", "shim")
_GENERATED_FILES = ("lab.json", "root.ds", "root.hints")


@dataclass(frozen=True)
class LabInfo:
    """A lab as recorded in ``lab.json``: where it lives, what it serves, which processes run."""

    dir: Path
    base: str
    now: datetime
    trust_anchor: Path
    root_hints: Path
    resolvers: dict[str, str]  # name -> "address@port"
    servers: dict[str, str]  # root | test | ns1 | ns2 -> address
    processes: tuple[ProcessRecord, ...]
    zones: tuple[LabZone, ...]
    # with an added round trip, jitter or loss: the conditions, the shim's stats file and the
    # backend address of every server behind it (see toolkit.lab.network); else empty
    network: dict[str, Any] = field(default_factory=dict)

    def resolver(self, name: str = "unbound") -> tuple[str, int]:
        """``(address, port)`` of a resolver of the lab; raises LabError for an unknown name."""
        try:
            address, _, port = self.resolvers[name].partition("@")
        except KeyError:
            raise LabError(f"the lab has no resolver {name!r}") from None
        return address, int(port or PORT)

    def to_json(self) -> dict[str, Any]:
        """The ``lab.json`` document (format_version 1; ``network`` only behind the shim)."""
        doc: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "base": self.base,
            "now": self.now.isoformat(),
            "dir": str(self.dir),
            "trust_anchor": str(self.trust_anchor),
            "root_hints": str(self.root_hints),
            "resolvers": dict(self.resolvers),
            "servers": dict(self.servers),
            "processes": [{**asdict(p), "cmdline": list(p.cmdline)} for p in self.processes],
            "zones": [
                {
                    "zone": z.zone,
                    "scenario": z.scenario,
                    "expected_status": z.expected_status,
                    "expected_reasons": list(z.expected_reasons),
                    "description": z.description,
                    "expected_failures": sorted(z.expected_failures),
                    "expected_signed": z.expected_signed,
                    "names": list(z.names),
                }
                for z in self.zones
            ],
        }
        if self.network:
            doc["network"] = self.network
        return doc

    @classmethod
    def load(cls, lab_dir: str | Path) -> LabInfo:
        """Read ``LAB/lab.json`` back.

        Raises LabError when it is missing, not JSON, of another format version or lacks a field.
        """
        path = Path(lab_dir) / "lab.json"
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab at {lab_dir} ({path} does not exist)") from None
        except (OSError, ValueError) as exc:
            raise LabError(f"{path}: cannot read lab description: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format_version") != FORMAT_VERSION:
            raise LabError(f"{path}: expected format_version {FORMAT_VERSION}")
        try:
            return cls(
                dir=Path(doc["dir"]),
                base=doc["base"],
                now=datetime.fromisoformat(doc["now"]),
                trust_anchor=Path(doc["trust_anchor"]),
                root_hints=Path(doc["root_hints"]),
                resolvers=dict(doc["resolvers"]),
                servers=dict(doc["servers"]),
                processes=tuple(
                    ProcessRecord(
                        name=p["name"],
                        pid=int(p["pid"]),
                        address=p["address"],
                        cmdline=tuple(p["cmdline"]),
                        probe=p["probe"],
                        recursive=bool(p.get("recursive", False)),
                        stopped=bool(p.get("stopped", False)),
                    )
                    for p in doc["processes"]
                ),
                zones=tuple(
                    LabZone(
                        zone=z["zone"],
                        scenario=z["scenario"],
                        expected_status=z["expected_status"],
                        expected_reasons=tuple(z["expected_reasons"]),
                        description=z.get("description", ""),
                        expected_failures=frozenset(z.get("expected_failures", ())),
                        expected_signed=bool(z.get("expected_signed", True)),
                        names=tuple(z.get("names", ())),
                    )
                    for z in doc["zones"]
                ),
                network=dict(doc.get("network", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LabError(f"{path}: malformed lab description ({exc!r})") from exc


def _write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write ``data`` over ``path`` atomically with permissions ``mode``."""
    write_atomic(path, data, perms=mode)


def _save(lab: Path, info: LabInfo) -> None:
    _write_atomic(lab / "lab.json", json.dumps(info.to_json(), indent=2) + "\n")


def _stem(zone: str) -> str:
    """File stem for a zone: ``"root"`` for the root, else the name without trailing dot."""
    return "root" if zone == "." else zone.rstrip(".")


def _clean(lab: Path) -> None:
    """Remove what an earlier lab wrote in ``lab`` (only the lab's own files and folders)."""
    for name in _GENERATED_DIRS:
        shutil.rmtree(lab / name, ignore_errors=True)
    for name in _GENERATED_FILES:
        (lab / name).unlink(missing_ok=True)


def _write_keys(lab: Path, keys: zones.LabKeys) -> None:
    keydir = lab / "keys"
    keydir.mkdir(mode=0o700)
    for zone, zk in keys.zones.items():
        for role, key in (("ksk", zk.ksk), ("zsk", zk.zsk)):
            _write_atomic(keydir / f"{_stem(zone)}.{role}.pem", key.private_pem(), 0o600)
    for zone, key in keys.decoys.items():
        _write_atomic(keydir / f"{_stem(zone)}.decoy.pem", key.private_pem(), 0o600)


def _write_zones(lab: Path, tree: zones.LabTree) -> dict[str, Path]:
    zonedir = lab / "zones"
    zonedir.mkdir()
    paths = {}
    for name, zone in tree.zones.items():
        path = zonedir / f"{_stem(name)}.zone"
        _write_atomic(path, zones.zone_text(zone))
        paths[name] = path
    for server, variants in tree.variants.items():  # a server's own version of a zone
        for name, zone in variants.items():
            path = zonedir / f"{_stem(name)}.{server}.zone"
            _write_atomic(path, zones.zone_text(zone))
            paths[f"{name}@{server}"] = path
    return paths


@dataclass(frozen=True)
class _Daemon:
    name: str
    argv: list[str]
    address: str
    probe: str
    recursive: bool


def _knot_daemons(
    lab: Path,
    addrs: LabAddresses,
    zone_files: dict[str, Path],
    catalog: Sequence[LabZone],
    backends: dict[str, str],
) -> list[_Daemon]:
    """Write the four knotd configs; return how to start each.

    A server whose public address is in ``backends`` listens on its backend address instead
    (the network shim takes the public one)."""
    knotd = servers.executable("knotd")
    children = [zones.absolute(z.zone) for z in catalog]
    transfer = {zones.absolute(z.zone) for z in catalog if zones.recipe_for(z).transfer}
    plan = [
        ("root", addrs.root, [zones.ROOT]),
        ("test", addrs.test, [zones.TEST]),
        ("ns1", addrs.ns1, children),
        ("ns2", addrs.ns2, children),
    ]
    daemons = []
    for role, public, served in plan:
        address = backends.get(public, public)
        name = f"knot-{role}"
        home = lab / "knot" / role
        for sub in ("run", "db"):
            (home / sub).mkdir(parents=True)
        conf = home / "knot.conf"
        text = servers.knot_config(
            name=name,
            address=address,
            rundir=home / "run",
            dbdir=home / "db",
            zones={z: zone_files.get(f"{z}@{role}", zone_files[z]) for z in served},
            transfer=transfer,
        )
        _write_atomic(conf, text)
        daemons.append(_Daemon(name, [knotd, "-c", str(conf)], address, served[0], False))
    return daemons


def _unbound_daemon(lab: Path, addrs: LabAddresses) -> _Daemon:
    """Write unbound.conf; return how to start it."""
    workdir = lab / "unbound"
    workdir.mkdir()
    conf = workdir / "unbound.conf"
    text = servers.unbound_config(
        address=addrs.unbound,
        workdir=workdir,
        logfile=lab / "logs" / "unbound.log",
        trust_anchor=lab / "root.ds",
        root_hints=lab / "root.hints",
    )
    _write_atomic(conf, text)
    argv = [servers.executable("unbound"), "-d", "-c", str(conf)]
    return _Daemon("unbound", argv, addrs.unbound, ".", True)


def lab_up(
    lab_dir: str | Path,
    *,
    base: str = DEFAULT_BASE,
    now: datetime | None = None,
    timeout: float = READY_TIMEOUT,
    key_seed: str | None = zones.DEFAULT_KEY_SEED,
    network: net.NetworkConditions | None = None,
) -> LabInfo:
    """Build, sign and serve the lab tree in ``lab_dir`` and start four validating resolvers.

    Stops a lab already running from ``lab_dir`` first, then regenerates keys (derived from
    ``key_seed``, so the same seed gives the same key tags; ``None`` for random keys),
    zones, configs, ``root.ds``, ``root.hints`` and ``lab.json``, starts four knotd servers,
    then Unbound, BIND, Knot Resolver and PowerDNS Recursor (``{base}.53``-``.56``, see
    :mod:`toolkit.lab.resolvers`; ``{base}.54`` is added to ``lo`` for named) on port 53, and
    waits until each answers a real DNS query.
    ``now`` (timezone-aware, default: the current UTC time) anchors every signature's validity.
    Resolvers validate against the real clock, so ``now`` must lie within about an hour of it:
    otherwise the lab's own signatures look expired or not yet valid and the resolvers'
    readiness probe (a validated ``. SOA``) fails.

    ``network`` (an added round trip, jitter or UDP loss) puts the four knotd servers on their
    backend addresses ``{base}.101``-``.104`` and a network shim on ``{base}.1``-``.4`` in front
    of them (:mod:`toolkit.lab.network`); without it, or with every knob at 0, no shim runs.

    Returns the :class:`LabInfo` also written to ``lab.json``. Raises LabError when the base is
    invalid, a binary is missing (naming its Debian package), an address is taken by something
    else, ``{base}.54`` cannot be added to ``lo``, or a daemon does not
    come up within ``timeout`` seconds (everything started is stopped again; the message
    carries the end of the daemon's log).
    """
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise LabError("lab time 'now' must be timezone-aware (UTC)")
    addrs = LabAddresses.from_base(base)
    lab = Path(lab_dir).resolve()
    lab.mkdir(parents=True, exist_ok=True)
    if (lab / "lab.json").exists():
        lab_down(lab)
    resolvers.require_binaries()
    resolver_addresses = [r.partition("@")[0] for r in resolvers.addresses(addrs).values()]
    shimmed = network is not None and network.active
    backends = {a: net.backend(a) for a in addrs.servers().values()} if shimmed else {}
    for address in [*addrs.servers().values(), *backends.values(), *resolver_addresses]:
        servers.check_address_free(address)
    servers.check_address_free(_bind_address(addrs), resolvers.RNDC_PORT)
    _clean(lab)

    keys = zones.generate_lab_keys(LAB_ZONES, seed=key_seed)
    tree = zones.build_tree(addrs, keys, now, LAB_ZONES)
    _write_keys(lab, keys)
    zone_files = _write_zones(lab, tree)
    _write_atomic(lab / "root.ds", zones.trust_anchor_text(tree.root_ds))
    _write_atomic(lab / "root.hints", zones.root_hints_text(addrs))
    (lab / "logs").mkdir()
    knots = _knot_daemons(lab, addrs, zone_files, LAB_ZONES, backends)
    unbound = _unbound_daemon(lab, addrs)
    others = [
        _Daemon(r.name, list(r.argv), r.address, ".", True) for r in resolvers.prepare(lab, addrs)
    ]

    info = LabInfo(
        dir=lab,
        base=addrs.base,
        now=now,
        trust_anchor=lab / "root.ds",
        root_hints=lab / "root.hints",
        resolvers=resolvers.addresses(addrs),
        servers=addrs.servers(),
        processes=(),
        zones=LAB_ZONES,
        network=_network_doc(lab, network, backends) if network and shimmed else {},
    )
    logs = {d.name: lab / "logs" / f"{d.name}.log" for d in [*knots, unbound, *others]}

    def launch(group: list[_Daemon]) -> None:
        nonlocal info
        started = []
        for d in group:
            rec = servers.start(
                d.name,
                d.argv,
                logs[d.name],
                address=d.address,
                probe=d.probe,
                recursive=d.recursive,
            )
            started.append(rec)
            info = replace(info, processes=(*info.processes, rec))
            _save(lab, info)  # record every PID at once, so lab_down can always clean up
        servers.wait_ready(started, logs, timeout)

    added = False
    try:
        launch(knots)
        if network is not None and shimmed:
            routes = [network.route(public, back) for public, back in backends.items()]
            shim = net.start(lab, routes, probe=(addrs.root, "."), seed=network.seed)
            info = replace(info, processes=(*info.processes, shim))
            _save(lab, info)
        added = resolvers.add_loopback_address(_bind_address(addrs))
        launch([unbound, *others])  # all four resolvers start and are probed together
    except BaseException:
        servers.stop_all(info.processes)
        info = replace(info, processes=tuple(replace(p, stopped=True) for p in info.processes))
        _save(lab, info)
        if added:
            resolvers.remove_loopback_address(_bind_address(addrs))
        raise
    return info


def _network_doc(
    lab: Path, network: net.NetworkConditions, backends: dict[str, str]
) -> dict[str, Any]:
    """``lab.json``'s ``network``: the conditions, the shim's stats file, the backends."""
    return {**network.to_json(), "stats": str(lab / "shim" / "stats.json"), "backends": backends}


def _bind_address(addrs: LabAddresses) -> str:
    """named's address: the lab puts it on ``lo`` while the lab runs (named needs that)."""
    return addrs.host(resolvers.family("bind").host)


def lab_down(lab_dir: str | Path) -> list[str]:
    """Stop the daemons recorded in ``LAB/lab.json`` (by PID, only if their cmdline matches).

    Marks every process stopped in ``lab.json`` (atomically), takes named's ``{base}.54`` off
    ``lo`` when it stopped this lab's named, and leaves all files in place.
    Returns the names of the processes signalled; an empty list when ``lab_dir`` or its
    ``lab.json`` does not exist or nothing was running (safe to call twice). Raises LabError
    when ``lab.json`` is unreadable, a process survives SIGKILL or the address cannot be removed.
    """
    if not (Path(lab_dir) / "lab.json").exists():
        return []
    info = LabInfo.load(lab_dir)
    pending = [p for p in info.processes if not p.stopped]
    if not pending:
        return []
    stopped = servers.stop_all(reversed(pending))
    info = replace(info, processes=tuple(replace(p, stopped=True) for p in info.processes))
    _save(Path(lab_dir), info)
    bind = resolvers.family("bind")
    if any(p.name == bind.name for p in pending):  # else another lab may own the address now
        resolvers.remove_loopback_address(LabAddresses.from_base(info.base).host(bind.host))
    return stopped


def lab_status(lab_dir: str | Path) -> pd.DataFrame:
    """One row per recorded process: name, pid, address, running (bool), answering (bool).

    ``running`` means the PID is alive and still runs the recorded command line; ``answering``
    that it answers its DNS probe (authoritative SOA with AA, or a validated lookup for a
    resolver). Returns an empty frame with those columns when there is no lab in ``lab_dir``.
    Raises LabError when ``lab.json`` exists but is unreadable.
    """
    if not (Path(lab_dir) / "lab.json").exists():
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _STATUS_DTYPES.items()})
    info = LabInfo.load(lab_dir)
    rows = []
    for p in info.processes:
        running = not p.stopped and servers.is_running(p)
        rows.append(
            {
                "name": p.name,
                "pid": p.pid,
                "address": p.address,
                "running": running,
                "answering": running and servers.answering(p),
            }
        )
    return pd.DataFrame(rows, columns=STATUS_COLUMNS).astype(_STATUS_DTYPES)


_STATUS_DTYPES = {
    "name": "string",
    "pid": "int64",
    "address": "string",
    "running": "bool",
    "answering": "bool",
}
