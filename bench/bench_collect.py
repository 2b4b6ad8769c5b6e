"""Benchmark of the collector on a synthetic portfolio of signed zones served by real Knot DNS.

One run on one machine measures, in this order:

a. the raw ceiling: dnspython ``dns.query.udp`` DNSKEY/SOA queries per second (the collector's
   own query message, DO set) against the same knotd with nothing else to do, in one process
   and in one process per core;
b. the full collector with its own validation (``collect_parallel``, one process per core):
   zones/s, queries/s (rows of the ``queries`` frame), wall time and peak memory;
c. the collector's queries/s as a fraction of the all-cores ceiling, and the CPU time per
   query of both (less sensitive than the wall time to other work on a shared machine);
d. the same with 10 % of the zones delegated to an address where nothing listens and a short
   timeout: the run still finishes, bounded by the timeouts;
e. DNSViz (``dnsviz probe`` + ``dnsviz grok`` from a separate venv, default
   ``.bench-venv``) on 100 of the zones, and the toolkit on the same 100 zones.

It prints a Markdown report and writes it atomically to ``bench/results.md``
(``--quick``: 500 zones, written to ``bench/results-quick.md``); ``--json FILE`` also writes the
headline figures of (a)-(c) as JSON (zones, rtt_ms, zones_per_s, queries_per_s,
queries_per_zone, median_query_ms from the run's own ``queries`` frame, ceiling_queries_per_s,
peak_rss_mb, and the shim's own counters).

``--rtt-ms D`` (with ``--jitter-ms``, ``--loss``) puts every authoritative server of the
synthetic lab behind the network shim (:mod:`toolkit.lab.network`) at round trip D: the
collector sees internet-like latency. The raw ceiling (a) is then measured against the knotd
backends directly (what the CPU allows, the reference the collector is held to); the shim
reports its CPU time per 10,000 relayed queries and, per server address, the most queries in
flight and the most queries in any 1-s window the collector sent. Every daemon it starts is
stopped by PID at the end, whatever happens. Needs root (port 53 on loopback) and knotd.

Several ``--rtt-ms`` values run the round-trip sweep instead (one lab and one collection per
round trip, the raw ceiling in the 0 ms run, per-server limits lifted to
``--inflight-per-server`` (default: none) and no rate limit unless ``--default-caps``;
``--capped`` adds a 50 ms run with the default caps); every run's figures, with the shim's
most in flight and busiest second per address, go to ``--json``::

    .venv/bin/python bench/bench_collect.py --zones 1000 --rtt-ms 0 50 200 --json out.json

``--addresses N`` (default 48) spreads the zones over N name-server addresses (N/2 pairs, as
providers' name-server sets), so the per-address politeness caps (defaults) bind late;
``--addresses 2`` puts every zone on the same two addresses, where they bind: throughput is
then about cap x addresses / queries per zone at that address.

    .venv/bin/python bench/bench_collect.py            # 10,000 zones, a few minutes
    .venv/bin/python bench/bench_collect.py --quick    # a smoke run
    .venv/bin/python bench/bench_collect.py --zones 1000 --rtt-ms 50 --dnsviz-zones 0 \
        --dead-fraction 0 --json out/rtt-50.json --out out/rtt-50.md

DNSViz set-up (once): ``apt-get install graphviz libgraphviz-dev``, then
``python3 -m venv .bench-venv && .bench-venv/bin/pip install dnsviz dnspython cryptography
pygraphviz``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import dns.exception
import dns.query
import pandas as pd

from toolkit import atomic
from toolkit.collect import CollectConfig, TransportConfig, collect
from toolkit.collect.parallel import DEFAULT_THREADS, collect_parallel
from toolkit.collect.transport import make_query
from toolkit.errors import LabError
from toolkit.inputs.inventory import normalize_names
from toolkit.inputs.portfolio import Portfolio, load_portfolio
from toolkit.lab import ProcessRecord, lab_down, network
from toolkit.lab.network import NetworkConditions
from toolkit.lab.synthetic import SyntheticLab, synthetic_up

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DNSVIZ = ROOT / ".bench-venv" / "bin" / "dnsviz"

# -- machine ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """Facts about this machine and the software measured."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    knot = subprocess.run(["knotd", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu,
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python": platform.python_version(),
        "dnspython": version("dnspython"),
        "cryptography": version("cryptography"),
        "pandas": version("pandas"),
        "toolkit": version("dnssec-governance-toolkit"),
        "server": knot,
    }


def cpu_counters() -> list[int]:
    """The machine's CPU time counters (``/proc/stat``: user, nice, system, idle, iowait, irq,
    softirq, steal), in clock ticks summed over the cores."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()
    return [int(x) for x in first[1:9]]


def steal_share(before: list[int], after: list[int]) -> str:
    """Share of the machine's CPU time between two :func:`cpu_counters` readings that the
    hypervisor gave to other guests (steal) and that was idle."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta) or 1
    return f"steal {delta[7] / total:.1%}, idle {delta[3] / total:.1%}"


# -- memory ----------------------------------------------------------------------------------


def _status_kb(pid: int, key: str, file: str = "status") -> int:
    """A kB field of ``/proc/PID/<file>`` (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(root: int, exclude: set[int]) -> list[int]:
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent_of[int(entry)] = int(stat.rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        kids = [p for p, pp in parent_of.items() if pp in frontier and p not in exclude]
        tree += kids
        frontier = kids
    return tree


def _cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process so far, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


class MemorySampler(threading.Thread):
    """Samples RSS and CPU time of this process and its descendants (lab daemons excluded)
    every 0.1 s.

    ``peak_sum_mb``: the largest sampled sum of VmRSS (a lower bound of the true peak, shared
    pages counted in every process); ``hwm_sum_mb``: the sum of each process's own peak
    (VmHWM) — an upper bound, as the processes need not peak together; ``cpu_s``: the CPU
    time those processes spent while sampled (less sensitive to other work on the machine
    than the wall time; a process's last 0.1 s may be missed; the sampling itself is not
    counted); ``peak_pss_mb``: the largest sampled sum of PSS, where a page shared by several
    processes (the forkserver's preloaded modules in every worker) counts once, split among
    them — the memory the run takes from the machine.
    """

    def __init__(self, exclude: set[int], interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.exclude = exclude
        self.interval = interval
        self.peak_sum_kb = 0
        self.peak_pss_kb = 0
        self.peak_processes = 0
        self.hwm: dict[int, int] = {}
        self._cpu0: dict[int, int] | None = None  # ticks of the processes already running
        self._cpu: dict[int, int] = {}
        self._own_s = 0.0  # CPU time of this sampling thread
        self._stop_event = threading.Event()

    def run(self) -> None:
        own0 = time.thread_time()
        while not self._stop_event.is_set():
            pids = _descendants(os.getpid(), self.exclude)
            total = sum(_status_kb(p, "VmRSS:") for p in pids)
            if total > self.peak_sum_kb:
                self.peak_sum_kb, self.peak_processes = total, len(pids)
            pss = sum(_status_kb(p, "Pss:", "smaps_rollup") for p in pids)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            for p in pids:
                self.hwm[p] = max(self.hwm.get(p, 0), _status_kb(p, "VmHWM:"))
                self._cpu[p] = max(self._cpu.get(p, 0), _cpu_ticks(p))
            if self._cpu0 is None:
                self._cpu0 = dict(self._cpu)
            self._own_s = time.thread_time() - own0
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    @property
    def peak_sum_mb(self) -> float:
        return self.peak_sum_kb / 1024

    @property
    def peak_pss_mb(self) -> float:
        return self.peak_pss_kb / 1024

    @property
    def hwm_sum_mb(self) -> float:
        return sum(self.hwm.values()) / 1024

    @property
    def cpu_s(self) -> float:
        start = self._cpu0 or {}
        ticks = sum(t - start.get(p, 0) for p, t in self._cpu.items())
        return ticks / os.sysconf("SC_CLK_TCK") - self._own_s


# -- (a) the raw ceiling -----------------------------------------------------------------------


def _ceiling_worker(
    args: tuple[list[str], list[str], float, float, int],
) -> tuple[int, int, float]:
    """Send DNSKEY/SOA queries as fast as possible from ``start_at`` for ``duration`` s;
    returns the queries answered, the failures and the CPU time spent sending them."""
    addresses, names, start_at, duration, threads = args
    counts = [0] * threads
    errors = [0] * threads

    def loop(k: int) -> None:
        i = k
        end = start_at + duration
        while time.time() < end:
            q = make_query(names[i % len(names)], "DNSKEY" if i % 2 else "SOA", recursion=False)
            try:
                dns.query.udp(q, addresses[i % len(addresses)], timeout=2.0)
                counts[k] += 1
            except (dns.exception.DNSException, OSError):
                errors[k] += 1
            i += threads

    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = time.process_time()
    if threads == 1:
        loop(0)
    else:
        pool = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    return sum(counts), sum(errors), time.process_time() - cpu0


def ceiling(
    addresses: list[str], names: list[str], processes: int, duration: float, threads: int = 1
) -> tuple[float, int, float]:
    """Queries/s of ``processes`` processes (each ``threads`` threads) for ``duration`` s, the
    failed queries, and the CPU time per answered query (µs)."""
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        pool.submit(time.sleep, 0).result()  # the pool is up before the clock starts
        start_at = time.time() + 1.0
        jobs = [
            pool.submit(_ceiling_worker, (addresses, names, start_at, duration, threads))
            for _ in range(processes)
        ]
        results = [j.result() for j in jobs]
    answered = sum(c for c, _, _ in results)
    cpu_us = sum(t for _, _, t in results) / max(1, answered) * 1e6
    return answered / duration, sum(e for _, e, _ in results), cpu_us


# -- (b), (d) the collector ----------------------------------------------------------------


@dataclass
class CollectResult:
    zones: int
    wall_s: float
    queries: int
    statuses: dict[str, int]
    peak_rss_mb: float
    hwm_sum_mb: float
    peak_pss_mb: float
    processes: int
    cpu_s: float
    frames: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def zones_per_s(self) -> float:
        return self.zones / self.wall_s

    @property
    def queries_per_s(self) -> float:
        return self.queries / self.wall_s


def run_collector(
    syn: SyntheticLab,
    portfolio: Portfolio,
    transport: TransportConfig,
    workers: int,
    threads: int | None = None,
) -> CollectResult:
    """Collect ``portfolio`` from the synthetic lab, sampling memory; one timed run."""
    config = CollectConfig(
        trust_anchor=syn.info.trust_anchor,
        root_hints=syn.info.root_hints,
        transport=transport,
        progress=False,
    )
    sampler = MemorySampler({p.pid for p in syn.info.processes})
    sampler.start()
    t0 = time.perf_counter()
    try:
        if workers == 1 and threads in (None, 1):
            frames = collect(portfolio, config, now=datetime.now(UTC))
        else:
            frames = collect_parallel(
                portfolio, config, now=datetime.now(UTC), workers=workers, threads=threads
            )
        wall = time.perf_counter() - t0
    finally:
        sampler.stop()
    z = frames["zones"]
    return CollectResult(
        zones=len(z),
        wall_s=wall,
        queries=len(frames["queries"]),
        statuses=z["status"].value_counts().to_dict(),
        peak_rss_mb=sampler.peak_sum_mb,
        hwm_sum_mb=sampler.hwm_sum_mb,
        peak_pss_mb=sampler.peak_pss_mb,
        processes=sampler.peak_processes,
        cpu_s=sampler.cpu_s,
        frames=frames,
    )


def subset(portfolio: Portfolio, zones: Sequence[str]) -> Portfolio:
    """The portfolio restricted to ``zones`` (inventory order kept)."""
    inv = portfolio.inventory[portfolio.inventory["zone"].isin(set(zones))]
    inv = inv.reset_index(drop=True)
    return Portfolio(inventory=inv, policies=portfolio.policies, directory=portfolio.directory)


def shim_record(syn: SyntheticLab) -> ProcessRecord | None:
    """The lab's network shim, when it runs behind one."""
    return next((p for p in syn.info.processes if p.name == "shim"), None)


def shim_delta(before: dict, after: dict) -> dict[str, object]:
    """What the shim did between two of its stats documents: its CPU time per 10,000 relayed
    queries, and per address the queries relayed, the most in flight and the busiest second
    (the latter two are maxima since the shim started)."""
    queries = after["queries"] - before["queries"]
    cpu = after["cpu_s"] - before["cpu_s"]
    return {
        "queries": queries,
        "cpu_s": round(cpu, 3),
        "cpu_s_per_10k_queries": round(cpu / queries * 10_000, 3) if queries else None,
        "addresses": {
            addr: {
                "queries": r["queries_udp"] + r["queries_tcp"],
                "max_in_flight": r["max_in_flight"],
                "max_queries_per_s": r["max_queries_per_s"],
                "dropped_loss": r["dropped_loss"],
            }
            for addr, r in after["routes"].items()
        },
    }


def knot_rss_mb(syn: SyntheticLab) -> float:
    """Current RSS of the lab's knotd processes (server side, not the collector's)."""
    return sum(_status_kb(p.pid, "VmRSS:") for p in syn.info.processes) / 1024


# -- (e) DNSViz ------------------------------------------------------------------------------


@dataclass
class DnsvizResult:
    zones: int
    probe_s: float
    grok_s: float
    queries: int
    secure: int
    threads: int
    note: str = ""

    @property
    def total_s(self) -> float:
        return self.probe_s + self.grok_s


def run_dnsviz(dnsviz: Path, syn: SyntheticLab, zones: list[str], workdir: Path) -> DnsvizResult:
    """``dnsviz probe`` (authoritative analysis from the lab root, ancestry included) and
    ``dnsviz grok`` (validation from the lab root's KSK) on ``zones``; the best of a run with
    one thread and one with ``4 x cores`` threads."""
    names = workdir / "dnsviz-names.txt"
    names.write_text("".join(z + "\n" for z in zones))
    root_zone = (syn.info.dir / "zones" / "root.zone").read_text().splitlines()
    anchors = workdir / "dnsviz-trusted-keys.txt"
    anchors.write_text("".join(line + "\n" for line in root_zone if "IN DNSKEY 257 " in line))
    root = syn.info.servers["root"]
    best: DnsvizResult | None = None
    for threads in (1, 4 * (os.cpu_count() or 1)):
        probe_out, grok_out = workdir / "dnsviz-probe.json", workdir / "dnsviz-grok.json"
        probe = [str(dnsviz), "probe", "-A", "-a", ".", "-x", f".:a.root-servers.test={root}"]
        probe += ["-t", str(threads), "-f", str(names), "-o", str(probe_out)]
        t0 = time.perf_counter()
        subprocess.run(probe, check=True, capture_output=True, cwd=workdir)
        t1 = time.perf_counter()
        grok = [str(dnsviz), "grok", "-P", "-t", str(anchors), "-r", str(probe_out)]
        subprocess.run([*grok, "-o", str(grok_out)], check=True, capture_output=True, cwd=workdir)
        t2 = time.perf_counter()
        probed = json.loads(probe_out.read_text())
        queries = sum(
            len(clients)
            for name, data in probed.items()
            if isinstance(data, dict) and not name.startswith("_meta")
            for q in data.get("queries", [])
            for clients in q.get("responses", {}).values()
        )
        grokked = json.loads(grok_out.read_text())
        statuses = Counter(
            str(grokked.get(z + ".", {}).get("delegation", {}).get("status")) for z in zones
        )
        note = ", ".join(f"{n} {st}" for st, n in statuses.most_common() if st != "SECURE")
        secure = statuses.get("SECURE", 0)
        result = DnsvizResult(len(zones), t1 - t0, t2 - t1, queries, secure, threads, note)
        if best is None or result.total_s < best.total_s:
            best = result
    assert best is not None
    return best


# -- report ----------------------------------------------------------------------------------


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render(facts: dict[str, str], results: dict[str, object], notes: list[str], quick: bool) -> str:
    """The Markdown report."""
    lines = ["# Collector benchmark" + (" (quick smoke run)" if quick else ""), ""]
    lines += ["| machine | |", "|---|---|"]
    lines += [_row(k, v) for k, v in facts.items()]
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [_row(k, v) for k, v in results.items()]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` atomically (the toolkit's one atomic write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomic(path, text)


# -- main ------------------------------------------------------------------------------------


# -- the round-trip sweep ------------------------------------------------------------------------


def udp_receive_buffer_errors() -> int:
    """The machine's count of UDP datagrams dropped for a full receive buffer (any socket)."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()]
    head, values = [ln for ln in lines if ln[0] == "Udp:"]
    return int(values[head.index("RcvbufErrors")])


@dataclass(frozen=True)
class SweepRun:
    """One run of the sweep: the portfolio, the network and the sender's limits."""

    zones: int
    rtt_ms: float
    addresses: int
    transport: TransportConfig
    ceiling: bool  # also measure the raw dnspython ceiling, in the same run
    dead: float = 0.0
    loss: float = 0.0
    names: str | None = None  # the inventory's names cell given to every zone (issue 11)


def with_names(portfolio: Portfolio, names: str | None) -> Portfolio:
    """The portfolio with ``names`` (an inventory ``names`` cell, e.g. ``www;@``) listed for
    every zone; unchanged when None."""
    if not names:
        return portfolio
    cell = ";".join(normalize_names(names, "example.test"))
    inv = portfolio.inventory.assign(names=pd.array([cell] * len(portfolio.inventory), "string"))
    return Portfolio(inventory=inv, policies=portfolio.policies, directory=portfolio.directory)


def sweep_one(run: SweepRun, base: str, work: Path, workers: int, ceiling_s: float) -> dict:
    """Build the synthetic lab for ``run`` (behind the shim when it has a round trip or loss),
    collect it once, and return the run's figures (JSON-ready); the lab is stopped after."""
    lab_dir = work / f"lab-{run.zones}-{run.rtt_ms:g}-{run.addresses}"
    active = run.rtt_ms > 0 or run.loss > 0
    net = NetworkConditions(run.rtt_ms, 0.0, run.loss) if active else None
    syn = synthetic_up(
        lab_dir,
        zones_count=run.zones,
        base=base,
        network=net,
        dead_fraction=run.dead,
        ns_addresses=run.addresses,
    )
    t = run.transport
    try:
        out: dict = {
            "zones": run.zones,
            "rtt_ms": run.rtt_ms,
            "ns_addresses": run.addresses,
            "workers": workers,
            "dead": run.dead,
            "loss": run.loss,
            "names": run.names,
            "limits": {
                "max_inflight_per_server": t.max_inflight_per_server,
                "max_qps_per_server": t.max_qps_per_server,
            },
        }
        if run.dead:
            out["timeout_s"], out["tries"] = t.timeout, t.tries
        if run.ceiling:
            backends = syn.info.network.get("backends", {})
            ns = [backends.get(a, a) for a in syn.ns_addresses]
            qps, _, cpu_us = ceiling(ns, [z + "." for z in syn.zones], workers, ceiling_s)
            out["ceiling_queries_per_s"] = round(qps, 1)
            out["ceiling_cpu_us_per_query"] = round(cpu_us, 1)
        shim = shim_record(syn)
        shim_before = network.request_stats(shim, syn.info.dir) if shim else None
        load = os.getloadavg()
        drops = udp_receive_buffer_errors()
        res = run_collector(syn, with_names(load_portfolio(syn.portfolio), run.names), t, workers)
        out["udp_receive_buffer_drops"] = udp_receive_buffer_errors() - drops
        q = res.frames["queries"]
        out |= {
            "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "wall_s": round(res.wall_s, 2),
            "zones_per_s": round(res.zones_per_s, 1),
            "queries_per_s": round(res.queries_per_s, 1),
            "queries_per_zone": round(res.queries / res.zones, 2),
            "median_query_ms": round(float(q["latency_ms"].median()), 2),
            "errors": int(q["error"].notna().sum()),
            "error_kinds": {str(k)[:40]: int(v) for k, v in q["error"].value_counts().items()},
            "secure": int(res.statuses.get("secure", 0)),
            "indeterminate": int(res.statuses.get("indeterminate", 0)),
            "peak_rss_mb": round(res.hwm_sum_mb, 1),
            "peak_rss_sampled_mb": round(res.peak_rss_mb, 1),
            "peak_pss_mb": round(res.peak_pss_mb, 1),
            "cpu_s": round(res.cpu_s, 1),
        }
        if shim and shim_before:
            per = shim_delta(shim_before, network.request_stats(shim, syn.info.dir))["addresses"]
            assert isinstance(per, dict)
            out["max_in_flight_per_address"] = max(r["max_in_flight"] for r in per.values())
            out["max_queries_per_s_per_address"] = max(r["max_queries_per_s"] for r in per.values())
            out["shim_addresses"] = per
        return out
    finally:
        lab_down(lab_dir)


def sweep(args: argparse.Namespace) -> int:
    """``--rtt-ms`` with several round trips: one run per round trip (the raw ceiling measured
    in the 0 ms run), the per-server limits lifted to ``--inflight-per-server`` and no rate
    limit unless ``--default-caps``; ``--capped`` adds a run at 50 ms with the default caps.
    Writes every run's figures to ``--json``."""
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    if args.default_caps:
        transport = TransportConfig()
    else:
        transport = TransportConfig(
            max_inflight_per_server=args.inflight_per_server, max_qps_per_server=0
        )
    dead = args.dead_fraction or 0.0
    runs = [
        SweepRun(
            args.zones,
            rtt,
            args.addresses,
            transport,
            ceiling=rtt == 0 and not dead and not args.loss,
            dead=dead,
            loss=args.loss,
            names=args.names,
        )
        for rtt in args.rtt_ms
    ]
    if args.capped:
        runs.append(SweepRun(args.zones, 50.0, args.addresses, TransportConfig(), ceiling=False))
    results = []
    try:
        for run in runs:
            t0 = time.time()
            r = sweep_one(run, args.base, work, args.workers, args.ceiling_seconds)
            shown = {k: v for k, v in r.items() if k != "shim_addresses"}
            print(json.dumps(shown), f"({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
            results.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        doc = {"machine": machine(), "runs": results}
        write_atomic(args.json, json.dumps(doc, indent=2) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", type=int, default=10000, help="synthetic zones (10000)")
    ap.add_argument("--quick", action="store_true", help="500 zones, results-quick.md")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--base", default="127.100.0", help="live lab addresses (127.100.0)")
    ap.add_argument("--dead-base", default="127.101.0", help="dead lab addresses (127.101.0)")
    ap.add_argument(
        "--dead-fraction",
        type=float,
        help="share of dead zones: run (d) (default 0.1; 0: no (d) run); sweep: in every run (0)",
    )
    ap.add_argument("--dead-timeout", type=float, default=0.5, help="seconds per try (0.5)")
    ap.add_argument("--dead-threads", type=int, default=4, help="threads per worker (4)")
    ap.add_argument("--ceiling-seconds", type=float, default=10.0)
    ap.add_argument("--dnsviz", type=Path, default=DEFAULT_DNSVIZ, help="dnsviz executable")
    ap.add_argument("--dnsviz-zones", type=int, default=100)
    ap.add_argument("--out", type=Path, help="report file (bench/results.md)")
    ap.add_argument("--keep", action="store_true", help="keep the lab folders")
    ap.add_argument(
        "--rtt-ms",
        type=float,
        nargs="+",
        default=[0.0],
        help="round trip added by the shim (0); several: the sweep, one run each",
    )
    ap.add_argument("--jitter-ms", type=float, default=0.0, help="± spread of it (0)")
    ap.add_argument("--loss", type=float, default=0.0, help="share of UDP queries lost (0)")
    ap.add_argument("--json", type=Path, help="also write the headline figures as JSON here")
    ap.add_argument(
        "--addresses",
        type=int,
        default=48,
        help="name-server addresses the zones spread over (48; 2: every zone on the same two,"
        " to show the per-address caps binding)",
    )
    ap.add_argument(
        "--inflight-per-server",
        type=int,
        default=0,
        help="sweep: queries in flight per server address, the rate unlimited (0: no limit,"
        " so that no cap binds: the lab's one TLD address sees 3 questions per zone)",
    )
    ap.add_argument(
        "--default-caps", action="store_true", help="sweep: keep the default per-server caps"
    )
    ap.add_argument("--capped", action="store_true", help="sweep: also 50 ms, default caps")
    ap.add_argument(
        "--names",
        help="sweep: list these names beyond the apex for every zone (an inventory names "
        "cell, e.g. 'www;@'); each is asked A, AAAA, MX, TXT at every server",
    )
    args = ap.parse_args(argv)
    if args.names:
        try:
            normalize_names(args.names, "example.test")
        except ValueError as exc:
            ap.error(f"--names: {exc}")
        if len(args.rtt_ms) < 2:
            ap.error("--names is an option of the sweep (give two --rtt-ms values or more)")
    try:
        for rtt in args.rtt_ms:
            conditions = NetworkConditions(rtt, args.jitter_ms, args.loss)
    except LabError as exc:
        ap.error(str(exc))
    if len(args.rtt_ms) > 1:
        if args.json is None:
            ap.error("several --rtt-ms values (the sweep) need --json FILE")
        return sweep(args)
    args.rtt_ms = args.rtt_ms[0]
    if args.dead_fraction is None:
        args.dead_fraction = 0.1
    n = 500 if args.quick and args.zones == 10000 else args.zones
    out = args.out or ROOT / "bench" / ("results-quick.md" if args.quick else "results.md")
    ceiling_s = min(args.ceiling_seconds, 3.0) if args.quick else args.ceiling_seconds

    # workers fork from a server that has the toolkit imported already (lab build included)
    preload = ["toolkit.collect.collector", "toolkit.lab.zones"]
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    facts = machine()
    results: dict[str, object] = {}
    notes: list[str] = []
    figures: dict[str, object] = {
        "zones": n,
        "rtt_ms": args.rtt_ms,
        "jitter_ms": args.jitter_ms,
        "loss": args.loss,
        "ns_addresses": args.addresses,
    }
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    live_dir, dead_dir = work / "live", work / "dead"
    cores = os.cpu_count() or 1

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        say(f"building the synthetic lab: {n} signed zones on {args.base}.x")
        syn = synthetic_up(
            live_dir,
            zones_count=n,
            base=args.base,
            network=conditions if conditions.active else None,
            ns_addresses=args.addresses,
        )
        results["zones in the portfolio"] = f"{n:,} on {args.addresses} name-server addresses"
        if conditions.active:
            results["network (every server behind the shim)"] = (
                f"round trip {args.rtt_ms:g} ms ± {args.jitter_ms:g} ms, UDP loss {args.loss:.1%}"
            )
        results["lab build: keys + signing of the zones"] = (
            f"{syn.timings['keys_and_signing']:.1f} s ({cores} processes)"
        )
        results[f"lab build: root and test. ({n:,} delegations), knotd ready"] = (
            f"{syn.timings['parent_zones']:.1f} s + {syn.timings['servers_ready']:.1f} s"
        )
        backends = syn.info.network.get("backends", {})  # the ceiling skips the shim
        ns = [backends.get(a, a) for a in (syn.info.servers["ns1"], syn.info.servers["ns2"])]
        names = [z + "." for z in syn.zones]

        say("(a) raw ceiling")
        one, e1, _ = ceiling(ns, names, 1, ceiling_s)
        allc, e2, cpu_allc = ceiling(ns, names, cores, ceiling_s)
        thr, e3, _ = ceiling(ns, names, cores, ceiling_s, threads=DEFAULT_THREADS)
        results["(a) ceiling, 1 process (1 core)"] = f"{one:,.0f} queries/s"
        results[f"(a) ceiling, {cores} processes (all cores)"] = (
            f"{allc:,.0f} queries/s ({allc / cores:,.0f} per core)"
        )
        results[f"(a) ceiling, {cores} processes x {DEFAULT_THREADS} threads (for reference)"] = (
            f"{thr:,.0f} queries/s"
        )
        if e1 + e2 + e3:
            notes.append(f"ceiling runs saw {e1 + e2 + e3} failed queries")

        say("(b) full collector with own validation")
        portfolio = load_portfolio(syn.portfolio)
        load_before = os.getloadavg()
        counters = cpu_counters()
        shim = shim_record(syn)
        shim_before = network.request_stats(shim, syn.info.dir) if shim else None
        res = run_collector(syn, portfolio, TransportConfig(), args.workers)
        cpu_during = steal_share(counters, cpu_counters())
        if shim and shim_before:
            shim_stats = shim_delta(shim_before, network.request_stats(shim, syn.info.dir))
            figures["shim"] = shim_stats
            per_address = shim_stats["addresses"]
            assert isinstance(per_address, dict)
            results["(b) shim: CPU time per 10,000 relayed queries"] = (
                f"{shim_stats['cpu_s_per_10k_queries']} s ({shim_stats['cpu_s']} s for "
                f"{shim_stats['queries']:,} queries, one process)"
            )
            results["(b) shim: most in flight / most queries in any 1 s, per address"] = "; ".join(
                f"{a}: {r['max_in_flight']} / {r['max_queries_per_s']}"
                for a, r in per_address.items()
            )
        ok = res.statuses.get("secure", 0)
        results["(b) collector: processes x threads"] = f"{args.workers} x {DEFAULT_THREADS}"
        results["(b) load average just before (b)"] = " ".join(f"{x:.2f}" for x in load_before)
        results["(b) machine CPU during (b)"] = cpu_during
        results["(b) collector: wall time"] = f"{res.wall_s:.1f} s"
        results["(b) collector: zones/s"] = f"{res.zones_per_s:,.1f}"
        results["(b) collector: queries/s"] = (
            f"{res.queries_per_s:,.0f} ({res.queries:,} queries, "
            f"{res.queries / res.zones:.1f} per zone)"
        )
        results["(b) collector: zones secure"] = f"{ok:,} of {res.zones:,}"
        results["(b) peak memory, collector processes"] = (
            f"{res.peak_rss_mb:,.0f} MB sampled sum of RSS ({res.processes} processes); "
            f"{res.hwm_sum_mb:,.0f} MB sum of per-process peaks (VmHWM); "
            f"{res.peak_pss_mb:,.0f} MB peak sum of PSS (shared pages counted once)"
        )
        results["(b) knotd memory (server side, not counted above)"] = f"{knot_rss_mb(syn):,.0f} MB"
        latency = res.frames["queries"]["latency_ms"].dropna()
        results["(b) median query latency (queries frame)"] = f"{latency.median():.1f} ms"
        figures.update(
            zones_per_s=round(res.zones_per_s, 2),
            queries_per_s=round(res.queries_per_s, 1),
            queries_per_zone=round(res.queries / res.zones, 2),
            median_query_ms=round(float(latency.median()), 2),
            wall_s=round(res.wall_s, 1),
            zones_secure=res.statuses.get("secure", 0),
            peak_rss_mb=round(res.hwm_sum_mb, 1),
            peak_rss_sampled_mb=round(res.peak_rss_mb, 1),
            peak_pss_mb=round(res.peak_pss_mb, 1),
            collector_cpu_s=round(res.cpu_s, 1),
            workers=args.workers,
            threads=DEFAULT_THREADS,
            load_average_before=[round(x, 2) for x in load_before],
            machine_cpu_during=cpu_during,
        )
        say("(a) raw ceiling again, after the collector (the load may have changed)")
        after, e4, cpu_after = ceiling(ns, names, cores, ceiling_s)
        e2 += e4
        results[f"(a) ceiling, {cores} processes, measured again after (b)"] = (
            f"{after:,.0f} queries/s"
        )
        ref = (allc + after) / 2
        figures["ceiling_queries_per_s"] = round(ref, 1)
        figures["ceiling_runs_queries_per_s"] = [round(allc, 1), round(after, 1)]
        frac = res.queries_per_s / ref
        results["(c) collector / all-cores ceiling (queries/s)"] = (
            f"**{frac:.0%}** of the mean of the two ceiling runs (aim: >= 60 %)"
        )
        collector_cpu = res.cpu_s / res.queries * 1e6
        ceiling_cpu = (cpu_allc + cpu_after) / 2
        results["(c) CPU time per query (less sensitive to other load)"] = (
            f"collector {collector_cpu:,.0f} µs ({res.cpu_s:,.1f} s in all its processes), "
            f"ceiling {ceiling_cpu:,.0f} µs: ratio {ceiling_cpu / collector_cpu:.0%}"
        )
        results["(c) peak memory vs the 1.5 GB aim"] = (
            f"{'within' if res.hwm_sum_mb < 1536 else 'ABOVE'}"
            f" (upper bound {res.hwm_sum_mb:,.0f} MB)"
        )
        del res

        if args.dnsviz_zones > 0:
            step = max(1, len(syn.zones) // args.dnsviz_zones)
            sample = list(syn.zones[::step])[: args.dnsviz_zones]
            say(f"(e) toolkit and DNSViz on {len(sample)} zones")
            small = subset(portfolio, sample)
            tk_seq = run_collector(syn, small, TransportConfig(), 1)
            tk_par = run_collector(syn, small, TransportConfig(), args.workers)
            results[f"(e) toolkit, {len(sample)} zones, 1 process"] = (
                f"{tk_seq.wall_s:.2f} s ({tk_seq.queries} queries)"
            )
            results[f"(e) toolkit, {len(sample)} zones, {args.workers} processes"] = (
                f"{tk_par.wall_s:.2f} s"
            )
            if args.dnsviz.exists():
                dv = run_dnsviz(args.dnsviz, syn, sample, work)
                results[f"(e) DNSViz {version_of(args.dnsviz)}, {dv.zones} zones"] = (
                    f"{dv.total_s:.2f} s (probe {dv.probe_s:.2f} s with -t {dv.threads}, "
                    f"grok {dv.grok_s:.2f} s; {dv.queries} queries; {dv.secure} SECURE"
                    + (f", {dv.note}" if dv.note else "")
                    + ")"
                )
                best_tk = min(tk_seq.wall_s, tk_par.wall_s)
                results["(e) speed ratio toolkit / DNSViz, same 100 zones"] = (
                    f"**{dv.total_s / best_tk:.1f}x** "
                    f"(1 process: {dv.total_s / tk_seq.wall_s:.1f}x)"
                )
                notes.append(
                    "DNSViz runs against the private root with `dnsviz probe -A -a . -x "
                    ".:a.root-servers.test=ROOT_ADDR` (authoritative analysis, ancestry from "
                    "the lab root) and `dnsviz grok -P -t ROOT_KSK_FILE` (validation from the "
                    "lab root's KSK; -P allows the private 127/8 server addresses)."
                )
            else:
                notes.append(f"DNSViz not run: {args.dnsviz} not found (see the docstring)")

        say("stopping the live lab")
        lab_down(live_dir)
        if args.dead_fraction <= 0:
            return _report(facts, results, notes, args.quick, out, figures, args.json)

        say(f"(d) {args.dead_fraction:.0%} dead servers, timeout {args.dead_timeout} s, 1 try")
        dsyn = synthetic_up(
            dead_dir, zones_count=n, base=args.dead_base, dead_fraction=args.dead_fraction
        )
        dportfolio = load_portfolio(dsyn.portfolio)
        transport = TransportConfig(timeout=args.dead_timeout, tries=1)
        dres = run_collector(dsyn, dportfolio, transport, args.workers, args.dead_threads)
        wait = len(dsyn.dead) * 2 * transport.timeout * transport.tries
        zones = dres.frames["zones"]
        dead_rows = zones[zones["zone"].isin(dsyn.dead)]
        indeterminate = dead_rows["status"] == "indeterminate"
        flagged = int((indeterminate & (dead_rows["reasons"] == "NO_RESPONSE")).sum())
        results["(d) dead zones"] = (
            f"{len(dsyn.dead):,} of {n:,} (both servers on {dsyn.dead_address})"
        )
        results["(d) wall time"] = (
            f"{dres.wall_s:.1f} s ({dres.zones_per_s:,.1f} zones/s); timeouts alone would cost "
            f"{wait:,.0f} s sequentially, {wait / (args.workers * args.dead_threads):,.0f} s "
            f"spread over {args.workers} processes x {args.dead_threads} threads"
        )
        results["(d) dead zones reported indeterminate / NO_RESPONSE"] = f"{flagged:,}"
        results["(d) live zones secure"] = (
            f"{dres.statuses.get('secure', 0):,} of {n - len(dsyn.dead):,}"
        )
        results["(d) peak memory, collector processes"] = (
            f"{dres.peak_rss_mb:,.0f} MB sampled; {dres.hwm_sum_mb:,.0f} MB sum of peaks"
        )
    finally:
        for d in (live_dir, dead_dir):
            try:
                lab_down(d)
            except Exception as exc:  # report, and go on stopping the other lab
                print(f"lab down {d}: {exc}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    return _report(facts, results, notes, args.quick, out, figures, args.json)


def _report(
    facts: dict[str, str],
    results: dict[str, object],
    notes: list[str],
    quick: bool,
    out: Path,
    figures: dict[str, object] | None = None,
    json_out: Path | None = None,
) -> int:
    """Add the closing notes, print the report and write it to ``out``; the exit code."""
    notes += [
        "Memory: this process and its descendants (forkserver, workers) sampled from /proc "
        "every 0.1 s; the knotd daemons are excluded. The sampled sum counts shared pages in "
        "every process; the sum of per-process peaks is an upper bound.",
        "Queries/s of the collector counts the rows of its `queries` frame (every UDP/TCP "
        "exchange with an authoritative server) over the wall time of the whole collection, "
        "validation and frame building included.",
        f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on the machine lowers every figure).",
    ]
    report = render(facts, results, notes, quick)
    print(report)
    write_atomic(out, report)
    print(f"written to {out}", file=sys.stderr)
    if json_out is not None and figures is not None:
        figures["machine"] = facts
        figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        write_atomic(json_out, json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"written to {json_out}", file=sys.stderr)
    return 0


def version_of(dnsviz: Path) -> str:
    """The DNSViz version installed beside ``dnsviz`` (its venv's pip metadata)."""
    py = dnsviz.parent / "python"
    cmd = [str(py), "-c", "import importlib.metadata as m; print(m.version('dnsviz'))"]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(version unknown)"


if __name__ == "__main__":
    sys.exit(main())
