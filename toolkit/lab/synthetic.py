"""A synthetic lab for benchmarks: a private root, ``test.`` and N signed child zones.

The regular lab (:mod:`toolkit.lab.lab`) builds a handful of zones, each with one deliberate
fault. This one builds many identical, correctly signed zones (``z00001.test`` ...), so the
collector can be timed on a large portfolio against real servers. It reuses the pure builders
of :mod:`toolkit.lab.zones` (keys derived from a seed, the same zone contents and NSEC signing)
and the daemon handling of :mod:`toolkit.lab.servers`, and writes the same ``lab.json``, so
:func:`toolkit.lab.lab_down` and :func:`toolkit.lab.lab_status` work on it as they are.

Address plan on ``{base}.N`` port 53: ``.1`` root, ``.2`` ``test.``, ``.3`` and ``.4`` the
children's two name servers (one knotd listening on both addresses), ``.9`` an address where
nothing listens: with ``dead_fraction`` a share of the zones is delegated there (both glue
records), so collecting them times out and the configured timeouts bound the run.

With ``ns_addresses`` N above 2 the children's servers spread over N addresses, as real
portfolios spread over providers' name-server sets: ``.3``, ``.4`` and ``.30`` upward (``.53``-
``.56`` skipped), N/2 pairs, zone *i* on pair *i* mod N/2 (``ns1`` and ``ns2`` glue and A
records), one knotd listening on all of them; per-address politeness caps then bind N/2 times
later than with two addresses.

With ``network`` (an added round trip, jitter or UDP loss) the three knotd move to the backend
addresses ``{base}.101``-``.104`` and a network shim takes ``.1``-``.4`` (see
:mod:`toolkit.lab.network`). With ``rude`` the lab adds one zone per rude server of
:data:`toolkit.lab.network.RUDE_SERVERS` (``rrl-server.test``, ``truncating-server.test``,
``slow-server.test``, ``edns-formerr.test``, ``no-tcp.test``): a normal signed zone whose
``ns1`` is the regular server and whose ``ns2`` (glue and the zone's own A record) is the rude
server's address ``{base}.21``-``.25``, where the shim relays to the regular server with
that fault.

Layout of a synthetic lab directory ``LAB``::

    LAB/lab.json                 as for the regular lab (its ``zones`` list is empty)
    LAB/synthetic.json           zone count, dead zones, timings of the build
    LAB/portfolio/inventory.csv  the portfolio to collect (every zone, dead ones included)
    LAB/root.ds, LAB/root.hints  trust anchor and root hints
    LAB/zones/<zone>.zone        signed zone files as served (dead zones have none)
    LAB/knot/{root,test,ns}/     knotd configs, run and db folders
    LAB/logs/<process>.log       daemon output
    LAB/shim/                    the network shim's routes and stats (network or rude only)

Building is spread over processes (signing is CPU-bound); on a 2-core machine 10,000 zones
take well under a minute.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

from toolkit.errors import LabError
from toolkit.lab import network as net
from toolkit.lab import servers, zones
from toolkit.lab.lab import LabInfo, _write_atomic, lab_down
from toolkit.lab.scenarios import PORT, LabAddresses, LabZone

SYNTHETIC_DIR = Path(".lab-synthetic")
"""Where ``dnssec-audit lab synthetic`` builds the lab when given no ``--dir``: its own, so it
never replaces the regular lab of ``./.lab``."""

SYNTHETIC_BASE = "127.100.0"
"""The synthetic lab's default loopback addresses: its own, apart from the regular lab's
(:data:`toolkit.lab.scenarios.DEFAULT_BASE`)."""

SYNTHETIC_SEED = "dnssec-governance-synthetic"
"""Seed of the synthetic zones' keys (the same seed gives the same key tags)."""

DEAD_HOST = 9
"""Last octet of the address the dead zones are delegated to (nothing listens there)."""

READY_TIMEOUT = 120.0
"""Seconds to wait for knotd to load and serve every zone (10,000 zones load in seconds)."""

_GENERATED_DIRS = ("zones", "knot", "logs", "portfolio", "shim")
_GENERATED_FILES = ("lab.json", "synthetic.json", "root.ds", "root.hints")
_CHUNK = 250  # zones built per task

MAX_NS_ADDRESSES = 64
"""The most name-server addresses the children can spread over (their backends, 100 above,
stay below .255)."""


def ns_hosts(count: int) -> list[int]:
    """The last octets of the children's ``count`` name-server addresses: ``.3``, ``.4``, then
    ``.30`` upward, leaving out ``.53``-``.56`` (the regular lab's resolvers)."""
    if not (2 <= count <= MAX_NS_ADDRESSES and count % 2 == 0):
        raise LabError(
            f"name-server addresses must be an even number from 2 to {MAX_NS_ADDRESSES}, "
            f"got {count}"
        )
    extra = [h for h in range(30, 30 + count + 4) if not 53 <= h <= 56][: count - 2]
    return [3, 4, *extra]


def ns_pair(index: int, addresses: Sequence[str]) -> tuple[str, str]:
    """The (ns1, ns2) addresses of the zone at ``index`` (0-based, inventory order): pair
    ``index`` mod N/2 of ``addresses`` (consecutive addresses form a pair)."""
    k = index % (len(addresses) // 2)
    return addresses[2 * k], addresses[2 * k + 1]


@dataclass(frozen=True)
class SyntheticLab:
    """A synthetic lab as built: its :class:`LabInfo`, the portfolio folder and build facts."""

    info: LabInfo
    portfolio: Path
    zones: tuple[str, ...]  # every zone, inventory order (no trailing dot)
    dead: frozenset[str]  # zones delegated to the dead address
    dead_address: str
    timings: dict[str, float]  # seconds: keys_and_signing, parent_zones, servers_ready, total
    rude: dict[str, str] = field(default_factory=dict)  # rude zone (no trailing dot) -> fault
    ns_addresses: tuple[str, ...] = ()  # the children's name-server addresses (public)


def zone_names(count: int) -> list[str]:
    """The names of a synthetic portfolio: ``z00001.test`` ... (at least five digits)."""
    width = max(5, len(str(count)))
    return [f"z{i:0{width}d}.test" for i in range(1, count + 1)]


def dead_zones(names: Sequence[str], fraction: float) -> frozenset[str]:
    """The zones delegated to the dead address: evenly spread, ``round(len * fraction)`` of
    them (every k-th zone), so every shard of a parallel collection gets its share."""
    if not 0.0 <= fraction <= 1.0:
        raise LabError(f"dead fraction must lie between 0 and 1, got {fraction}")
    count = round(len(names) * fraction)
    if count == 0:
        return frozenset()
    step = len(names) / count
    return frozenset(names[int(i * step + step / 2)] for i in range(count))


def _zone_keys(name: str, seed: str) -> zones.ZoneKeys:
    return zones.ZoneKeys(
        zones.new_key(zones.KSK_FLAGS, f"{seed}/{name}/ksk"),
        zones.new_key(zones.ZSK_FLAGS, f"{seed}/{name}/zsk"),
    )


@dataclass(frozen=True)
class _BuildTask:
    names: tuple[str, ...]  # absolute
    dead: frozenset[str]
    base: str
    seed: str
    serial: int
    now: datetime
    zone_dir: Path
    redirect: dict[str, str] = field(default_factory=dict)  # A owner (absolute) -> address


def _build_chunk(task: _BuildTask) -> list[tuple[str, str]]:
    """Build, sign and write the live zones of a chunk; return (zone, DS text) for every zone.

    Runs in a worker process. A dead zone is not built (nothing serves it) but its KSK's DS is
    still published by the parent: a signed zone whose servers are unreachable.
    """
    addrs = LabAddresses.from_base(task.base)
    start, end = zones.NORMAL_WINDOW
    out = []
    for name in task.names:
        keys = _zone_keys(name, task.seed)
        if name not in task.dead:
            lz = LabZone(name.rstrip("."), "secure", "secure", (), "synthetic benchmark zone")
            zone = zones.build_child_zone(lz, addrs, task.serial)
            _redirect(zone, {o: a for o, a in task.redirect.items() if o.endswith("." + name)})
            zones.sign(zone, keys, task.now + start, task.now + end)
            (task.zone_dir / f"{name.rstrip('.')}.zone").write_text(zones.zone_text(zone))
        out.append((name, zones.make_ds(name, keys.ksk).to_text()))
    return out


def _redirect(zone: dns.zone.Zone, addresses: dict[str, str]) -> None:
    """Point the A record of every owner name of ``addresses`` at its address (before
    signing): the glue of a dead or rude delegation, or a rude zone's own ``ns2`` record."""
    if not addresses:
        return
    with zone.writer() as txn:
        for owner, address in sorted(addresses.items()):
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.A, address)
            name = dns.name.from_text(owner)
            txn.delete(name, dns.rdatatype.A)
            txn.add(name, zones.TTL, rdata)


def _inventory_csv(
    names: Sequence[str], dead: frozenset[str], rude: frozenset[str] = frozenset()
) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["zone", "owner", "business_unit", "risk_tier", "category", "expected_signed"])
    for name in names:
        category = "synthetic-dead" if absolute(name) in dead else "synthetic"
        category = "synthetic-rude" if name in rude else category
        w.writerow([name, "Benchmark Team", "Benchmark", 3, category, "true"])
    return buf.getvalue()


def absolute(zone: str) -> str:
    """``"z00001.test"`` -> ``"z00001.test."``."""
    return zones.absolute(zone)


def _knot(
    lab: Path, role: str, listen: list[str], served: dict[str, Path]
) -> tuple[str, list[str], str]:
    """Write one knotd config serving ``served`` on every address of ``listen``."""
    home = lab / "knot" / role
    for sub in ("run", "db"):
        (home / sub).mkdir(parents=True)
    text = servers.knot_config(
        name=f"knot-{role}",
        address=listen[0],
        rundir=home / "run",
        dbdir=home / "db",
        zones=served,
    )
    if len(listen) > 1:
        both = ", ".join(f"{a}@{PORT}" for a in listen)
        text = text.replace(f"listen: {listen[0]}@{PORT}", f"listen: [ {both} ]", 1)
    conf = home / "knot.conf"
    _write_atomic(conf, text)
    return f"knot-{role}", [servers.executable("knotd"), "-c", str(conf)], listen[0]


def _wait_zones(address: str, names: Sequence[str], timeout: float) -> None:
    """Wait until ``address`` answers authoritatively for a spread sample of ``names``."""
    step = max(1, len(names) // 100)
    pending = list(names[::step]) + [names[-1]]
    deadline = time.monotonic() + timeout
    while pending:
        name = pending[0]
        q = dns.message.make_query(name, dns.rdatatype.SOA)
        q.flags &= ~dns.flags.RD
        try:
            r = dns.query.udp(q, address, port=PORT, timeout=0.5)
            ok = r.rcode() == dns.rcode.NOERROR and bool(r.flags & dns.flags.AA)
        except (OSError, dns.exception.DNSException):
            ok = False
        if ok:
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise LabError(f"{address} did not serve {name} within {timeout:g} s")
        time.sleep(0.1)


def _clean(lab: Path) -> None:
    for name in _GENERATED_DIRS:
        shutil.rmtree(lab / name, ignore_errors=True)
    for name in _GENERATED_FILES:
        (lab / name).unlink(missing_ok=True)


def synthetic_up(
    lab_dir: str | Path,
    *,
    zones_count: int,
    base: str = SYNTHETIC_BASE,
    dead_fraction: float = 0.0,
    now: datetime | None = None,
    seed: str = SYNTHETIC_SEED,
    workers: int | None = None,
    timeout: float = READY_TIMEOUT,
    network: net.NetworkConditions | None = None,
    rude: bool = False,
    ns_addresses: int = 2,
) -> SyntheticLab:
    """Build, sign and serve a synthetic lab of ``zones_count`` signed zones in ``lab_dir``.

    Stops a lab already running from ``lab_dir`` first. Every zone is signed (ECDSAP256SHA256,
    KSK + ZSK derived from ``seed``, signatures valid now-1h .. now+30d) and securely
    delegated from ``test.``; ``dead_fraction`` of them (evenly spread) are delegated to
    ``{base}.9`` where nothing listens. Signing runs in ``workers`` processes (default: every
    core). Starts three knotd (root, ``test.``, and one for the children on ``{base}.3`` and
    ``{base}.4``), waits until they serve, and writes ``lab.json`` (stop with
    :func:`toolkit.lab.lab_down`), ``synthetic.json`` and ``portfolio/inventory.csv``.
    ``network`` puts every server behind the network shim; ``rude`` adds the rude servers'
    zones after the others (see the module docstring); either starts the shim last.
    ``ns_addresses`` (even, 2 to 64) spreads the children over that many server addresses.

    Returns a :class:`SyntheticLab`. Raises LabError for a bad base, count or fraction, a
    missing knotd, an address in use, or a server that does not come up within ``timeout``
    seconds (everything started is stopped again).
    """
    t_start = time.perf_counter()
    if zones_count < 1:
        raise LabError(f"a synthetic lab needs at least one zone, got {zones_count}")
    hosts = ns_hosts(ns_addresses)  # a bad count is refused before anything is touched
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise LabError("lab time 'now' must be timezone-aware (UTC)")
    addrs = LabAddresses.from_base(base)
    dead_address = addrs.host(DEAD_HOST)
    lab = Path(lab_dir).resolve()
    lab.mkdir(parents=True, exist_ok=True)
    if (lab / "lab.json").exists():
        lab_down(lab)
    shimmed = network is not None and network.active
    public = addrs.servers()
    public.update({f"ns{i + 1}": addrs.host(h) for i, h in enumerate(hosts) if i >= 2})
    ns_addrs = [addrs.host(h) for h in hosts]
    backends = {a: net.backend(a) for a in public.values()} if shimmed else {}
    rude_servers = net.RUDE_SERVERS if rude else ()
    rude_addresses = [net.rude_address(addrs, r) for r in rude_servers]
    for address in [*public.values(), *backends.values(), dead_address, *rude_addresses]:
        servers.check_address_free(address)
    _clean(lab)
    for sub in ("zones", "logs", "portfolio"):
        (lab / sub).mkdir()

    names = zone_names(zones_count)
    dead = frozenset(absolute(n) for n in dead_zones(names, dead_fraction))
    names += [r.zone for r in rude_servers]
    rude_ns2 = {f"ns2.{absolute(r.zone)}": net.rude_address(addrs, r) for r in rude_servers}
    serial = zones.soa_serial(now)
    abs_names = [absolute(n) for n in names]
    spread: dict[str, str] = {}  # ns1/ns2 of each zone -> its address (more than 2 addresses)
    if ns_addresses > 2:
        for i, name in enumerate(abs_names[:zones_count]):
            for ns, address in zip(("ns1", "ns2"), ns_pair(i, ns_addrs), strict=True):
                spread[f"{ns}.{name}"] = address

    def chunk_redirect(chunk: Sequence[str]) -> dict[str, str]:
        own = {f"{ns}.{n}" for n in chunk for ns in ("ns1", "ns2")}
        return {**{o: a for o, a in spread.items() if o in own}, **rude_ns2}

    tasks = [
        _BuildTask(
            tuple(abs_names[i : i + _CHUNK]),
            dead,
            addrs.base,
            seed,
            serial,
            now,
            lab / "zones",
            chunk_redirect(abs_names[i : i + _CHUNK]),
        )
        for i in range(0, len(abs_names), _CHUNK)
    ]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if n_workers == 1:
        results = [_build_chunk(t) for t in tasks]
    else:
        ctx = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(n_workers, mp_context=ctx) as pool:
            results = list(pool.map(_build_chunk, tasks))
    t_children = time.perf_counter()

    delegations = {
        name: [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, ds)]
        for chunk in results
        for name, ds in chunk
    }
    start, end = zones.NORMAL_WINDOW
    test_keys = _zone_keys(zones.TEST, seed)
    root_keys = _zone_keys(zones.ROOT, seed)
    test_zone = zones.build_test_zone(addrs, delegations, serial)  # type: ignore[arg-type]
    glue = {f"{ns}.{child}": dead_address for child in dead for ns in ("ns1", "ns2")}
    _redirect(test_zone, {**spread, **glue, **rude_ns2})
    zones.sign(test_zone, test_keys, now + start, now + end)
    root_zone = zones.build_root_zone(addrs, [zones.make_ds(zones.TEST, test_keys.ksk)], serial)
    zones.sign(root_zone, root_keys, now + start, now + end)
    root_ds = zones.make_ds(zones.ROOT, root_keys.ksk)
    (lab / "zones" / "root.zone").write_text(zones.zone_text(root_zone))
    (lab / "zones" / "test.zone").write_text(zones.zone_text(test_zone))
    _write_atomic(lab / "root.ds", zones.trust_anchor_text(root_ds))
    _write_atomic(lab / "root.hints", zones.root_hints_text(addrs))
    _write_atomic(
        lab / "portfolio" / "inventory.csv",
        _inventory_csv(names, dead, frozenset(r.zone for r in rude_servers)),
    )
    t_parents = time.perf_counter()

    live = [n for n in abs_names if n not in dead]
    zone_dir = lab / "zones"
    at = {a: backends.get(a, a) for a in public.values()}  # where each knotd listens
    plan = [
        _knot(lab, "root", [at[addrs.root]], {zones.ROOT: zone_dir / "root.zone"}),
        _knot(lab, "test", [at[addrs.test]], {zones.TEST: zone_dir / "test.zone"}),
    ]
    if live:
        served = {n: zone_dir / f"{n.rstrip('.')}.zone" for n in live}
        plan.append(_knot(lab, "ns", [at[a] for a in ns_addrs], served))
    probes = {"knot-root": ".", "knot-test": zones.TEST, "knot-ns": live[0] if live else ""}

    info = LabInfo(
        dir=lab,
        base=addrs.base,
        now=now,
        trust_anchor=lab / "root.ds",
        root_hints=lab / "root.hints",
        resolvers={},
        servers={
            **public,
            "dead": dead_address,
            **{f"rude-{r.fault}": a for r, a in zip(rude_servers, rude_addresses, strict=True)},
        },
        processes=(),
        zones=(),
        network={
            **(network.to_json() if network is not None and shimmed else {}),
            "stats": str(lab / "shim" / "stats.json"),
            "backends": backends,
        }
        if shimmed or rude
        else {},
    )
    logs = {name: lab / "logs" / f"{name}.log" for name, _, _ in plan}
    try:
        started = []
        for name, argv, address in plan:
            rec = servers.start(name, argv, logs[name], address=address, probe=probes[name])
            started.append(rec)
            info = replace(info, processes=(*info.processes, rec))
            _write_atomic(lab / "lab.json", json.dumps(info.to_json(), indent=2) + "\n")
        servers.wait_ready(started, logs, timeout)
        if live:
            _wait_zones(at[addrs.ns1], live, timeout)
            _wait_zones(at[ns_addrs[-1]], live[-1:], timeout)
        if shimmed or rude:
            conditions = network if network is not None else net.NetworkConditions()
            routes = [conditions.route(a, b) for a, b in backends.items()]
            routes += [
                conditions.route(a, at[addrs.ns2], r.fault)
                for r, a in zip(rude_servers, rude_addresses, strict=True)
            ]
            probe = (addrs.root, ".") if shimmed else (rude_addresses[0], rude_servers[0].zone)
            shim = net.start(lab, routes, probe=probe, seed=conditions.seed, timeout=timeout)
            info = replace(info, processes=(*info.processes, shim))
            _write_atomic(lab / "lab.json", json.dumps(info.to_json(), indent=2) + "\n")
    except BaseException:
        servers.stop_all(info.processes)
        info = replace(info, processes=tuple(replace(p, stopped=True) for p in info.processes))
        _write_atomic(lab / "lab.json", json.dumps(info.to_json(), indent=2) + "\n")
        raise
    t_ready = time.perf_counter()
    timings = {
        "keys_and_signing": round(t_children - t_start, 3),
        "parent_zones": round(t_parents - t_children, 3),
        "servers_ready": round(t_ready - t_parents, 3),
        "total": round(t_ready - t_start, 3),
    }
    meta = {
        "format_version": 1,
        "zones": len(names),
        "dead_fraction": dead_fraction,
        "dead_address": dead_address,
        "ns_addresses": ns_addrs,
        "dead_zones": sorted(n.rstrip(".") for n in dead),
        "portfolio": str(lab / "portfolio"),
        "build_workers": n_workers,
        "timings_s": timings,
    }
    _write_atomic(lab / "synthetic.json", json.dumps(meta, indent=2) + "\n")
    return SyntheticLab(
        info=info,
        portfolio=lab / "portfolio",
        zones=tuple(names),
        dead=frozenset(n.rstrip(".") for n in dead),
        dead_address=dead_address,
        timings=timings,
        rude={r.zone: r.fault for r in rude_servers},
        ns_addresses=tuple(ns_addrs),
    )
