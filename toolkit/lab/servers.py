"""The lab's daemons: config text for knotd and unbound, and start / probe / stop by PID.

Config writers are pure (they return text). Processes are started with an argv list in their own
session, their output going to a log file, and are only ever stopped by PID after checking that
``/proc/PID/cmdline`` still is the command line we started (a reused PID is never signalled).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from toolkit.errors import LabError
from toolkit.lab.scenarios import PORT

UNIX_SOCKET_MAX = 107  # sun_path is 108 bytes including the terminating NUL


@dataclass(frozen=True)
class ProcessRecord:
    """A daemon the lab started.

    ``probe`` is the name whose SOA shows the daemon answers: a zone it serves (authoritative)
    or, for a resolver (``recursive``), a name it must resolve and validate. ``stopped`` is set
    once :func:`stop_all` has dealt with it.
    """

    name: str
    pid: int
    address: str
    cmdline: tuple[str, ...]
    probe: str
    recursive: bool = False
    stopped: bool = False


# Popen objects of the daemons this interpreter started, so stopping them also reaps them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _quoted(value: str | Path) -> str:
    """A double-quoted config string; raises LabError for characters neither format escapes."""
    text = str(value)
    if any(c in text for c in '"\\\n\r'):
        raise LabError(f"lab path {text!r} contains a quote, backslash or newline")
    return f'"{text}"'


def executable(name: str) -> str:
    """Absolute path of a daemon binary on PATH (or /usr/sbin, /sbin); raises LabError if absent."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise LabError(f"'{name}' is not installed (Debian: apt-get install knot unbound)")
    return os.path.realpath(path)


def preflight() -> str | None:
    """Why this machine cannot run a lab (not root, a daemon or ``ip`` missing), or None."""
    from toolkit.lab import resolvers  # imports this module

    if os.geteuid() != 0:
        return "the DNS lab binds port 53 on loopback addresses and needs root"
    try:
        executable("knotd")
        resolvers.require_binaries()
    except LabError as exc:
        return str(exc)
    return None


def knot_config(
    *,
    name: str,
    address: str,
    rundir: Path,
    dbdir: Path,
    zones: Mapping[str, Path],
    transfer: Collection[str] = (),
) -> str:
    """knotd configuration serving pre-signed zone files as they are, on ``address@53`` only.
    The zones named in ``transfer`` may be transferred (AXFR) by any loopback client (an
    ``acl`` with action ``transfer`` for 127.0.0.0/8); every other zone refuses transfers.

    ``zones`` maps absolute zone names to their zone files. Knot never signs, never writes the
    zone files back (``zonefile-sync: -1``), keeps no journal and runs no extra semantic checks,
    so deliberately broken signatures (expired, mismatched) are served unchanged. Raises
    LabError when the control socket path would be too long for a UNIX socket.
    """
    socket_path = rundir / "knot.sock"
    if len(str(socket_path)) > UNIX_SOCKET_MAX:
        raise LabError(
            f"lab directory path too long for knotd's control socket ({socket_path}); "
            "use a shorter lab directory"
        )
    lines = [
        f"# knotd configuration for lab server {name} (generated; do not edit)",
        "server:",
        f"    rundir: {_quoted(rundir)}",
        f"    pidfile: {_quoted(rundir / 'knot.pid')}",
        f"    listen: {address}@{PORT}",
        f"    nsid: {_quoted(name)}",
        "    udp-workers: 1",
        "    tcp-workers: 1",
        "    background-workers: 1",
        "",
        "control:",
        f"    listen: {_quoted(socket_path)}",
        "",
        "log:",
        "  - target: stderr",
        "    any: info",
        "",
        "database:",
        f"    storage: {_quoted(dbdir)}",
        "    journal-db-max-size: 64M",
        "    kasp-db-max-size: 16M",
        "    timer-db-max-size: 16M",
        "    catalog-db-max-size: 16M",
        "",
        "template:",
        "  - id: default",
        f"    storage: {_quoted(dbdir)}",
        "    zonefile-load: whole",
        "    zonefile-sync: -1",
        "    journal-content: none",
        "    semantic-checks: off",
        "    dnssec-signing: off",
        "",
    ]
    if transfer:
        lines += [
            "acl:",
            "  - id: loopback-transfer",
            "    address: 127.0.0.0/8",
            "    action: transfer",
            "",
        ]
    lines.append("zone:")
    for zone, path in zones.items():
        lines += [f"  - domain: {_quoted(zone)}", f"    file: {_quoted(path)}"]
        if zone in transfer:
            lines.append("    acl: loopback-transfer")
    return "\n".join(lines) + "\n"


def unbound_config(
    *,
    address: str,
    workdir: Path,
    logfile: Path,
    trust_anchor: Path,
    root_hints: Path,
) -> str:
    """Unbound configuration: a validating resolver on ``address@53`` for the lab tree only.

    Its only trust anchor is the lab root's DS and its root hints point at the lab root server.
    Queries to 127/8 are allowed (``do-not-query-localhost: no``) and the built-in local zone
    for ``test.`` is switched off, else Unbound would answer NXDOMAIN for the whole lab.
    """
    lines = [
        "# unbound configuration for the DNSSEC lab (generated; do not edit)",
        "server:",
        "    verbosity: 1",
        f"    interface: {address}",
        f"    port: {PORT}",
        "    do-ip4: yes",
        "    do-ip6: no",
        "    do-udp: yes",
        "    do-tcp: yes",
        "    access-control: 127.0.0.0/8 allow",
        "    do-daemonize: no",
        '    username: ""',
        '    chroot: ""',
        f"    directory: {_quoted(workdir)}",
        f"    pidfile: {_quoted(workdir / 'unbound.pid')}",
        "    use-syslog: no",
        f"    logfile: {_quoted(logfile)}",
        "    log-time-ascii: yes",
        "    log-servfail: yes",
        f"    root-hints: {_quoted(root_hints)}",
        f"    trust-anchor-file: {_quoted(trust_anchor)}",
        "    do-not-query-localhost: no",
        '    local-zone: "test." nodefault',
        '    module-config: "validator iterator"',
        "    ede: yes",
        "    val-log-level: 2",
        "    trust-anchor-signaling: no",
        "    val-clean-additional: yes",
        "    qname-minimisation: no",
        "    harden-referral-path: no",
        "    minimal-responses: yes",
        '    target-fetch-policy: "0 0 0 0 0"',
        "    infra-host-ttl: 60",
        "    num-threads: 1",
        "    outgoing-range: 128",
        "    num-queries-per-thread: 64",
        "    so-reuseport: no",
        "    msg-cache-size: 4m",
        "    rrset-cache-size: 8m",
        "    key-cache-size: 2m",
        "    neg-cache-size: 1m",
        "",
        "remote-control:",
        "    control-enable: no",
    ]
    return "\n".join(lines) + "\n"


def check_address_free(address: str, port: int = PORT) -> None:
    """Raise LabError unless ``address:port`` can be bound for both UDP and TCP.

    The sockets are closed at once. EACCES (not root) and EADDRINUSE (something already listens)
    get their own message; the latter suggests another address prefix (``--base``).
    """
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                # ignore TIME_WAIT leftovers; a listening socket still makes bind fail
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError as exc:
                proto = "UDP" if kind == socket.SOCK_DGRAM else "TCP"
                if exc.errno == errno.EADDRINUSE:
                    raise LabError(
                        f"{address}:{port}/{proto} is already in use by something that is not "
                        "this lab (another DNS server, or a lab started in another directory "
                        "with the same base); stop it or choose another address prefix with "
                        "--base (e.g. --base 127.54.0)"
                    ) from exc
                if exc.errno in (errno.EACCES, errno.EPERM):
                    raise LabError(
                        f"cannot bind {address}:{port}/{proto}: port {port} needs root"
                    ) from exc
                raise LabError(f"cannot bind {address}:{port}/{proto}: {exc}") from exc


def start(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    address: str,
    probe: str,
    recursive: bool = False,
) -> ProcessRecord:
    """Start ``argv`` in its own session, stdout and stderr appended to ``log_path``.

    Returns the process's record. Raises LabError when it cannot be started.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        raise LabError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    _CHILDREN[proc.pid] = proc
    return ProcessRecord(name, proc.pid, address, tuple(argv), probe, recursive)


def query(
    address: str, qname: str, *, recursive: bool, timeout: float = 1.0
) -> dns.message.Message:
    """Ask ``address@53`` over TCP for ``qname`` SOA (with RD if ``recursive``, with DO).

    Returns the response; raises OSError, EOFError or dns.exception.DNSException on failure
    (a refused TCP connection fails at once, so an unready daemon is detected quickly).
    """
    msg = dns.message.make_query(qname, dns.rdatatype.SOA, want_dnssec=True)
    if not recursive:
        msg.flags &= ~dns.flags.RD
    return dns.query.tcp(msg, address, port=PORT, timeout=timeout)


def probe(record: ProcessRecord, timeout: float = 1.0) -> str | None:
    """Ask the daemon its probe question; None when the answer is right, else what was wrong.

    An authoritative server must answer NOERROR with the AA bit and the SOA; a resolver must
    answer NOERROR with the SOA and the AD bit (the name resolved and validated through the
    lab from its trust anchor).
    """
    try:
        resp = query(record.address, record.probe, recursive=record.recursive, timeout=timeout)
    except (OSError, EOFError, dns.exception.DNSException) as exc:
        return f"no answer ({exc.__class__.__name__}: {exc})"
    if resp.rcode() != dns.rcode.NOERROR:
        return f"answered {dns.rcode.to_text(resp.rcode())}"
    if not resp.answer:
        return "answered NOERROR without an answer"
    if record.recursive and not resp.flags & dns.flags.AD:
        return "answered without the AD bit (not validated)"
    if not record.recursive and not resp.flags & dns.flags.AA:
        return "answered without the AA bit (not authoritative)"
    return None


def answering(record: ProcessRecord, timeout: float = 1.0) -> bool:
    """True when the daemon answers its probe correctly (see :func:`probe`)."""
    return probe(record, timeout) is None


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file ("" when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(records: Iterable[ProcessRecord], logs: Mapping[str, Path], timeout: float) -> None:
    """Poll every daemon with its DNS probe until all answer.

    Returns when all answer. Raises LabError, with the tail of the daemon's log from ``logs``
    (name -> path), when a daemon exits or does not answer within ``timeout`` seconds.
    """
    pending = list(records)
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending:
        for rec in list(pending):
            if not is_running(rec):
                raise LabError(
                    f"{rec.name} exited during startup; its log ({logs[rec.name]}) ends:\n"
                    f"{log_tail(logs[rec.name])}"
                )
            problem = probe(rec, timeout=0.5)
            if problem is None:
                pending.remove(rec)
            else:
                last[rec.name] = problem
        if pending and time.monotonic() > deadline:
            rec = pending[0]
            raise LabError(
                f"{rec.name} at {rec.address}:{PORT} did not answer {rec.probe} SOA correctly "
                f"within {timeout:g} s (last try: {last[rec.name]}); "
                f"its log ({logs[rec.name]}) ends:\n{log_tail(logs[rec.name])}"
            )
        if pending:
            time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect the exit status of a child of ours so it does not linger as a zombie."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _CHILDREN[pid]
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _proc_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, Z, ...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


EXEC_GRACE = 1.0
"""Seconds an empty command line of a live process is read again. ``Popen`` returns when the
child's close-on-exec pipe closes, which the kernel does before it has set the new program's
arguments up: read in that window (a loaded machine widens it), ``/proc/PID/cmdline`` is
empty, and a daemon just started looked like "exited during startup" (and, so judged, was
never stopped)."""


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def is_running(record: ProcessRecord) -> bool:
    """True when ``record.pid`` is alive (not a zombie) and still runs ``record.cmdline``.

    A child this process started and has not reaped is judged by its handle alone: its pid
    cannot be reused before it is reaped, and its command line is not yet ``record.cmdline``
    in the instant between fork and exec (on a loaded machine such a just-started shim was
    once taken for exited, and left running)."""
    proc = _CHILDREN.get(record.pid)
    if proc is not None and list(proc.args) == list(record.cmdline):  # type: ignore[arg-type]
        if proc.poll() is None:
            return True
        del _CHILDREN[record.pid]
        return False
    _reap(record.pid)
    state = _proc_state(record.pid)
    if state is None or state in ("Z", "X"):
        return False
    raw = _cmdline(record.pid)
    deadline = time.monotonic() + EXEC_GRACE
    while raw == b"" and time.monotonic() < deadline:  # in the middle of exec: read again
        time.sleep(0.005)
        raw = _cmdline(record.pid)
    if raw is None:
        return False
    return tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1]) == record.cmdline


def _signal(record: ProcessRecord, sig: signal.Signals) -> bool:
    if not is_running(record):
        return False
    try:
        os.kill(record.pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_all(records: Iterable[ProcessRecord], timeout: float = 5.0) -> list[str]:
    """Stop the recorded daemons that still run their recorded command line.

    SIGTERM to each, wait up to ``timeout`` seconds, then SIGKILL what is left. A PID whose
    cmdline no longer matches (exited, reused) is never signalled. Returns the names signalled.
    """
    signalled = [r for r in records if not r.stopped and _signal(r, signal.SIGTERM)]
    deadline = time.monotonic() + timeout
    while any(is_running(r) for r in signalled) and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = [r for r in signalled if _signal(r, signal.SIGKILL)]
    deadline = time.monotonic() + 2.0
    while any(is_running(r) for r in leftovers) and time.monotonic() < deadline:
        time.sleep(0.05)
    still = [r.name for r in leftovers if is_running(r)]
    if still:
        raise LabError(f"could not stop {', '.join(still)} even with SIGKILL")
    return [r.name for r in signalled]
