"""How a lab puts its servers behind the network shim (:mod:`toolkit.lab.shim`).

With no delay, jitter or loss asked for, a lab is exactly what it always was: knotd on the
public addresses, no shim process. With any of them, every authoritative server of the lab
moves to a *backend* address ``{base}.(N + 100)`` (``.1`` -> ``.101``, ...) and one shim
process takes the public addresses ``{base}.N`` the referrals and root hints name, relaying to
the backends with the added round trip, jitter and loss. The shim is started and stopped by
PID like the other daemons (``lab.json``, ``lab down``) and writes its counters to
``LAB/shim/stats.json``.

Rude servers (:data:`RUDE_SERVERS`) are the second name server of one zone each, on an address
of their own (``{base}.21``-``.25``), behind the shim with one fault; the synthetic lab builds
them on request (:func:`toolkit.lab.synthetic.synthetic_up`, ``rude=True``).

Layout::

    LAB/shim/shim.json     the shim's routes (listen -> backend, knobs, fault)
    LAB/shim/stats.json    its counters, written when ready, on SIGUSR1 and when stopped
    LAB/logs/shim.log      its output
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import LabError
from toolkit.lab import servers
from toolkit.lab.scenarios import LabAddresses
from toolkit.lab.servers import ProcessRecord
from toolkit.lab.shim import Route, ShimConfig, check_conditions

BACKEND_OFFSET = 100
"""A server behind the shim listens on ``{base}.(N + BACKEND_OFFSET)`` instead of ``{base}.N``."""

READY_TIMEOUT = 10.0


@dataclass(frozen=True)
class RudeServer:
    """A zone whose second name server sits behind the shim with one fault."""

    fault: str
    zone: str
    host: int  # last octet of the rude server's address
    description: str


RUDE_SERVERS: tuple[RudeServer, ...] = (
    RudeServer("rrl", "rrl-server.test", 21, "drops every second UDP query from a client (RRL)"),
    RudeServer(
        "truncate",
        "truncating-server.test",
        22,
        "answers every UDP query with TC=1 and an empty answer (the client must use TCP)",
    ),
    RudeServer("slow", "slow-server.test", 23, "answers 1-3 s late"),
    RudeServer(
        "formerr-edns",
        "edns-formerr.test",
        24,
        "answers FORMERR to any query with EDNS (an EDNS-intolerant middlebox)",
    ),
    RudeServer("no-tcp", "no-tcp.test", 25, "refuses TCP connections"),
)
"""One rude server per fault of :data:`toolkit.lab.shim.FAULTS`."""


@dataclass(frozen=True)
class NetworkConditions:
    """What the shim adds between clients and every server of a lab.

    ``rtt_ms`` round trip added to every exchange (half on the way in, half on the way out),
    ``jitter_ms`` the round trip's spread (``rtt_ms ± jitter_ms``), ``loss`` the share of UDP
    queries dropped, ``seed`` the shim's RNG seed. Raises LabError for a value out of range.
    """

    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_conditions(self.rtt_ms, self.jitter_ms, self.loss)

    @property
    def active(self) -> bool:
        """True when the conditions change anything (then the lab needs the shim)."""
        return bool(self.rtt_ms or self.jitter_ms or self.loss)

    def route(self, listen: str, backend: str, fault: str | None = None) -> Route:
        """A shim route from ``listen`` to ``backend`` under these conditions."""
        return Route(listen, backend, self.rtt_ms, self.jitter_ms, self.loss, fault)

    def to_json(self) -> dict[str, Any]:
        return {
            "rtt_ms": self.rtt_ms,
            "jitter_ms": self.jitter_ms,
            "loss": self.loss,
            "seed": self.seed,
        }


def backend(address: str) -> str:
    """The backend address of a public lab address: ``{base}.N`` -> ``{base}.(N + 100)``."""
    prefix, _, host = address.rpartition(".")
    n = int(host) + BACKEND_OFFSET
    if n > 254:
        raise LabError(f"lab address {address} has no backend address (host part above 154)")
    return f"{prefix}.{n}"


def rude_address(addrs: LabAddresses, rude: RudeServer) -> str:
    """The public address of a rude server."""
    return addrs.host(rude.host)


def start(
    lab: Path,
    routes: Sequence[Route],
    *,
    probe: tuple[str, str],
    seed: int = 0,
    timeout: float = READY_TIMEOUT,
) -> ProcessRecord:
    """Write ``LAB/shim/shim.json``, start the shim and wait until it has bound every address.

    ``probe`` is ``(address, zone)``: a route and a zone served behind it that answers over TCP
    at once (what ``lab status`` asks). Returns the shim's record; raises LabError when an
    address is taken or the shim exits or is not ready within ``timeout`` seconds (it is
    stopped again; the message carries the end of its log).
    """
    for route in routes:
        servers.check_address_free(route.listen, route.port)
    home = lab / "shim"
    home.mkdir(exist_ok=True)
    stats = home / "stats.json"
    stats.unlink(missing_ok=True)
    config = ShimConfig(tuple(routes), stats=stats, seed=seed)
    config.write(home / "shim.json")
    log = lab / "logs" / "shim.log"
    argv = [sys.executable, "-m", "toolkit.lab.shim", str(home / "shim.json")]
    rec = servers.start("shim", argv, log, address=probe[0], probe=probe[1])
    try:
        wait_ready(rec, stats, log, timeout)
    except BaseException:
        servers.stop_all([rec])
        raise
    return rec


def wait_ready(record: ProcessRecord, stats: Path, log: Path, timeout: float) -> None:
    """Wait until the shim of ``record`` has written its first stats (every address bound).

    Raises LabError when it exits or is not ready within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        doc = _read(stats)
        if doc is not None and doc.get("pid") == record.pid:
            return
        if not servers.is_running(record):
            raise LabError(
                f"the network shim exited during startup; its log ({log}) ends:\n"
                f"{servers.log_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise LabError(f"the network shim was not ready within {timeout:g} s (log: {log})")
        time.sleep(0.02)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def read_stats(lab_dir: str | Path) -> dict[str, Any]:
    """The shim's last written stats of a lab (``LAB/shim/stats.json``); LabError if none."""
    path = Path(lab_dir) / "shim" / "stats.json"
    doc = _read(path)
    if doc is None:
        raise LabError(f"no shim stats at {path} (is the lab behind the network shim?)")
    return doc


def request_stats(
    record: ProcessRecord, lab_dir: str | Path, timeout: float = 5.0
) -> dict[str, Any]:
    """Ask the running shim to write its stats now (SIGUSR1) and return them.

    Raises LabError when the shim is not running or does not write within ``timeout`` s."""
    before = read_stats(lab_dir).get("writes", 0)
    if not servers.is_running(record):
        raise LabError(f"the network shim (pid {record.pid}) is not running")
    os.kill(record.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _read(Path(lab_dir) / "shim" / "stats.json")
        if doc is not None and doc.get("writes", 0) > before:
            return doc
        time.sleep(0.02)
    raise LabError(f"the network shim did not write its stats within {timeout:g} s")
