"""The lab's validating resolvers besides Unbound: BIND 9 ``named``, Knot Resolver ``kresd`` and
PowerDNS Recursor, each validating the lab tree from the lab root's DS only.

Four resolver families, one address each (port 53)::

    unbound         {base}.53   (config in :func:`toolkit.lab.servers.unbound_config`)
    bind            {base}.54   named -g -4 -c LAB/bind/named.conf
    knot-resolver   {base}.55   kresd -n -c LAB/kresd/kresd.conf LAB/kresd/run
    powerdns        {base}.56   pdns_recursor --config-dir=LAB/pdns

Each has the lab root's DS (``LAB/root.ds``) as its only trust anchor and the lab's root hints
(``LAB/root.hints``); each is told that ``test.`` is an ordinary name and that servers in
127.0.0.0/8 may be queried. What each family needed:

- named listens only on addresses an interface carries: the lab adds ``{base}.54/32`` to ``lo``
  before starting it (:func:`add_loopback_address`) and removes it when the lab goes down.
  ``dnssec-validation yes`` with a ``static-ds`` anchor (``auto`` would add the real root key).
  It has no special handling of ``test.`` and queries 127/8 servers as they are.
- kresd preloads the real root key (removed) and refuses answers from and referrals to
  127/8 unless a policy sets ``ALLOW_LOCAL``. Its built-in special-use rules answer NXDOMAIN
  (with EDE 21) for everything under ``test.``: a ``PASS`` rule for ``test.`` goes first.
- pdns_recursor refuses to query 127/8 by default (``dont-query``, set empty) and sends no
  EDE unless ``extended-resolution-errors=yes``; it has no special handling of ``test.``.

The config writers (``*_config``) are pure and return text; :func:`prepare` writes the files
and returns how to start each daemon (the lab starts, probes and stops them by PID).
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.DS import DS

from toolkit.errors import LabError
from toolkit.lab import servers
from toolkit.lab.scenarios import PORT, LabAddresses

RNDC_PORT = 953
RNDC_KEY_NAME = "lab-rndc"


@dataclass(frozen=True)
class Family:
    """A validating resolver family: its lab name, host number, binary and Debian package."""

    name: str
    host: int
    binary: str
    package: str


FAMILIES: tuple[Family, ...] = (
    Family("unbound", 53, "unbound", "unbound"),
    Family("bind", 54, "named", "bind9"),
    Family("knot-resolver", 55, "kresd", "knot-resolver"),
    Family("powerdns", 56, "pdns_recursor", "pdns-recursor"),
)
"""Every resolver family of the lab, in start order (``name`` is the key in ``lab.json``)."""

IP_TOOL = ("ip", "iproute2")
"""The binary that adds named's address to ``lo``, and its Debian package."""


@dataclass(frozen=True)
class ResolverStart:
    """How to start one resolver: its family name, argv and listening address."""

    name: str
    argv: tuple[str, ...]
    address: str


def addresses(addrs: LabAddresses) -> dict[str, str]:
    """Every resolver family of the lab: name -> ``address@port`` (what ``lab.json`` records)."""
    return {f.name: f"{addrs.host(f.host)}@{PORT}" for f in FAMILIES}


def family(name: str) -> Family:
    """The family called ``name``; raises LabError for an unknown name."""
    for f in FAMILIES:
        if f.name == name:
            return f
    raise LabError(f"no resolver family {name!r}")


def executable(binary: str, package: str) -> str:
    """Absolute path of ``binary``; raises LabError naming the Debian ``package`` if absent."""
    try:
        return servers.executable(binary)
    except LabError:
        raise LabError(
            f"'{binary}' is not installed (Debian package {package}: "
            f"apt-get install {package}, or run `make test`, which installs it)"
        ) from None


def require_binaries() -> None:
    """Check that every resolver binary and ``ip`` are installed.

    Raises LabError naming the Debian package of the first one missing.
    """
    for f in FAMILIES:
        executable(f.binary, f.package)
    executable(*IP_TOOL)


def read_trust_anchor(text: str) -> list[DS]:
    """The root DS records of a trust-anchor file (``. TTL IN DS TAG ALG TYPE HEX`` lines).

    Returns them in file order. Raises LabError when a line is not a root DS record or the
    file has none.
    """
    out = []
    for line in text.splitlines():
        fields = line.split(";", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 8 or fields[0] != "." or fields[2:4] != ["IN", "DS"]:
            raise LabError(f"trust anchor line is not a root DS record: {line!r}")
        try:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, " ".join(fields[4:]))
        except dns.exception.DNSException as exc:
            raise LabError(f"trust anchor line {line!r}: {exc}") from exc
        out.append(rdata)
    if not out:
        raise LabError("trust anchor file holds no DS record")
    return out  # type: ignore[return-value]


def _ds_fields(ds: DS) -> str:
    return f"{ds.key_tag} {ds.algorithm} {ds.digest_type}"


def _socket_path(path: Path, daemon: str) -> Path:
    if len(str(path)) > servers.UNIX_SOCKET_MAX:
        raise LabError(
            f"lab directory path too long for {daemon}'s control socket ({path}); "
            "use a shorter lab directory"
        )
    return path


def named_config(
    *,
    address: str,
    workdir: Path,
    root_hints: Path,
    anchors: Sequence[DS],
    rndc_secret: str,
) -> str:
    """named.conf: a validating BIND resolver on ``address@53`` for the lab tree only.

    Every file it writes lives in ``workdir``; its only trust anchors are ``anchors``
    (``static-ds``, with ``dnssec-validation yes``, never ``auto``); its control channel is
    ``address`` port 953 with its own key ``rndc_secret`` (base64, HMAC-SHA256).
    Raises LabError for a path containing a quote, backslash or newline.
    """
    q = servers._quoted
    ta = "\n".join(f'    . static-ds {_ds_fields(d)} "{d.digest.hex()}";' for d in anchors)
    lines = [
        "// named.conf for the DNSSEC lab's BIND resolver (generated; do not edit)",
        f'key "{RNDC_KEY_NAME}" {{ algorithm hmac-sha256; secret "{rndc_secret}"; }};',
        "controls {",
        f"    inet {address} port {RNDC_PORT} allow {{ 127.0.0.0/8; }} "
        f'keys {{ "{RNDC_KEY_NAME}"; }};',
        "};",
        "options {",
        f"    directory {q(workdir)};",
        f"    pid-file {q(workdir / 'named.pid')};",
        f"    lock-file {q(workdir / 'named.lock')};",
        f"    session-keyfile {q(workdir / 'session.key')};",
        f"    managed-keys-directory {q(workdir)};",
        f"    dump-file {q(workdir / 'cache_dump.db')};",
        f"    statistics-file {q(workdir / 'named.stats')};",
        f"    listen-on port {PORT} {{ {address}; }};",
        "    listen-on-v6 { none; };",
        "    recursion yes;",
        "    allow-recursion { 127.0.0.0/8; };",
        "    allow-query { 127.0.0.0/8; };",
        "    dnssec-validation yes;",
        "    max-cache-size 32m;",
        "    notify no;",
        "};",
        "trust-anchors {",
        ta,
        "};",
        f'zone "." {{ type hint; file {q(root_hints)}; }};',
    ]
    return "\n".join(lines) + "\n"


def rndc_config(*, address: str, rndc_secret: str) -> str:
    """rndc.conf for the lab's named: ``rndc -c LAB/bind/rndc.conf flush`` talks to it only."""
    return (
        "# rndc.conf for the DNSSEC lab's BIND resolver (generated; do not edit)\n"
        f'key "{RNDC_KEY_NAME}" {{ algorithm hmac-sha256; secret "{rndc_secret}"; }};\n'
        f'options {{ default-key "{RNDC_KEY_NAME}"; default-server {address}; '
        f"default-port {RNDC_PORT}; }};\n"
    )


def kresd_config(
    *,
    address: str,
    control_socket: Path,
    cache_dir: Path,
    root_hints: Path,
    trust_anchor: Path,
) -> str:
    """kresd.conf (Lua): a validating Knot Resolver on ``address@53`` for the lab tree only.

    Drops the real root key Debian preloads and reads the lab root's DS from ``trust_anchor``
    (read-only: never rewritten by RFC 5011 updates). ``ALLOW_LOCAL`` lets it use servers in
    127/8; a ``PASS`` rule for ``test.`` goes before its built-in special-use rule, which
    would answer NXDOMAIN for the whole lab. The cache lives in ``cache_dir``. Raises
    LabError for a path containing a quote, backslash or newline, or a control socket path
    too long for a UNIX socket.
    """
    q = servers._quoted
    sock = _socket_path(control_socket, "kresd")
    lines = [
        "-- kresd.conf for the DNSSEC lab's Knot Resolver (generated; do not edit)",
        "net.ipv6 = false",
        f"net.listen('{address}', {PORT}, {{ kind = 'dns' }})",
        f"net.listen({q(sock)}, nil, {{ kind = 'control' }})",
        "modules = { 'hints > iterate' }",
        f"hints.root_file({q(root_hints)})",
        "trust_anchors.remove('.')",
        f"trust_anchors.add_file({q(trust_anchor)}, true)",
        "policy.add(policy.all(policy.FLAGS({'ALLOW_LOCAL'})))",
        "policy.add(policy.suffix(policy.PASS, { todname('test.') }))",
        f"cache.open(16 * MB, 'lmdb://' .. {q(cache_dir)})",
        "log_level('info')",
    ]
    return "\n".join(lines) + "\n"


def pdns_config(*, address: str, socket_dir: Path, root_hints: Path, lua_config: Path) -> str:
    """recursor.conf: a validating PowerDNS Recursor on ``address@53`` for the lab tree only.

    ``dont-query`` is empty (the default refuses 127/8 servers), EDE is switched on, the
    trust anchors come from ``lua_config`` (see :func:`pdns_lua_config`), the control socket
    and pid file live in ``socket_dir``; no syslog, no security polling. Raises LabError for a
    path containing a quote, backslash or newline, or a control socket path too long.
    """
    for path in (socket_dir, root_hints, lua_config):
        servers._quoted(path)
    _socket_path(socket_dir / "pdns_recursor.controlsocket", "pdns_recursor")
    lines = [
        "# recursor.conf for the DNSSEC lab's PowerDNS Recursor (generated; do not edit)",
        f"local-address={address}",
        f"local-port={PORT}",
        "allow-from=127.0.0.0/8",
        "dont-query=",
        f"hint-file={root_hints}",
        "dnssec=validate",
        "dnssec-log-bogus=yes",
        "extended-resolution-errors=yes",
        f"lua-config-file={lua_config}",
        f"socket-dir={socket_dir}",
        "daemon=no",
        "disable-syslog=yes",
        "log-common-errors=yes",
        "security-poll-suffix=",
        "threads=1",
    ]
    return "\n".join(lines) + "\n"


def pdns_lua_config(anchors: Sequence[DS]) -> str:
    """The Recursor's Lua config: no built-in anchor (``clearTA()``), the lab root's DS only."""
    lines = ["-- PowerDNS Recursor Lua config for the DNSSEC lab (generated; do not edit)"]
    lines.append("clearTA()")
    lines += [f"addTA('.', '{_ds_fields(d)} {d.digest.hex()}')" for d in anchors]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def prepare(lab: Path, addrs: LabAddresses) -> list[ResolverStart]:
    """Write the configs of named, kresd and pdns_recursor under ``lab``; return their starts.

    Reads the anchor from ``lab/root.ds`` and hints from ``lab/root.hints`` (both written
    already). Creates ``lab/bind``, ``lab/kresd`` (``run/``, empty ``cache/``) and
    ``lab/pdns`` (``run/``), which must not exist yet. Raises LabError when a binary is
    missing (naming its Debian package) or a path is unusable.
    """
    hints, ta_file = lab / "root.hints", lab / "root.ds"
    anchors = read_trust_anchor(ta_file.read_text())
    starts = []

    bind = family("bind")
    address = addrs.host(bind.host)
    workdir = lab / "bind"
    workdir.mkdir(mode=0o700)
    secret = base64.b64encode(os.urandom(32)).decode()
    conf = workdir / "named.conf"
    _write(
        conf,
        named_config(
            address=address, workdir=workdir, root_hints=hints, anchors=anchors, rndc_secret=secret
        ),
        0o600,
    )
    _write(workdir / "rndc.conf", rndc_config(address=address, rndc_secret=secret), 0o600)
    argv = (executable(bind.binary, bind.package), "-g", "-4", "-c", str(conf))
    starts.append(ResolverStart(bind.name, argv, address))

    kres = family("knot-resolver")
    address = addrs.host(kres.host)
    home = lab / "kresd"
    for sub in ("run", "cache"):
        (home / sub).mkdir(parents=True)
    conf = home / "kresd.conf"
    _write(
        conf,
        kresd_config(
            address=address,
            control_socket=home / "run" / "control",
            cache_dir=home / "cache",
            root_hints=hints,
            trust_anchor=ta_file,
        ),
    )
    argv = (executable(kres.binary, kres.package), "-n", "-c", str(conf), str(home / "run"))
    starts.append(ResolverStart(kres.name, argv, address))

    pdns = family("powerdns")
    address = addrs.host(pdns.host)
    home = lab / "pdns"
    (home / "run").mkdir(parents=True)
    lua = home / "recursor.lua"
    _write(lua, pdns_lua_config(anchors))
    _write(
        home / "recursor.conf",
        pdns_config(address=address, socket_dir=home / "run", root_hints=hints, lua_config=lua),
    )
    argv = (executable(pdns.binary, pdns.package), f"--config-dir={home}")
    starts.append(ResolverStart(pdns.name, argv, address))
    return starts


def _lo_has(address: str) -> bool:
    ip = executable(*IP_TOOL)
    out = subprocess.run(
        [ip, "-4", "-o", "addr", "show", "dev", "lo"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return any(f" {address}/" in line for line in out.splitlines())


def add_loopback_address(address: str) -> bool:
    """Put ``address/32`` on ``lo`` (named only listens on addresses an interface carries).

    Returns True when it was added, False when ``lo`` carried it already. Raises LabError when
    ``ip`` is missing or fails (e.g. without CAP_NET_ADMIN).
    """
    if _lo_has(address):
        return False
    ip = executable(*IP_TOOL)
    done = subprocess.run(
        [ip, "-4", "addr", "add", f"{address}/32", "dev", "lo"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if "File exists" in done.stderr:
            return False
        raise LabError(f"cannot add {address}/32 to lo for named: {done.stderr.strip()}")
    return True


def remove_loopback_address(address: str) -> bool:
    """Take ``address/32`` off ``lo`` again.

    Returns True when it was removed, False when ``lo`` did not carry it. Raises LabError when
    ``ip`` is missing or fails.
    """
    if not _lo_has(address):
        return False
    ip = executable(*IP_TOOL)
    done = subprocess.run(
        [ip, "-4", "addr", "del", f"{address}/32", "dev", "lo"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 and _lo_has(address):
        raise LabError(f"cannot remove {address}/32 from lo: {done.stderr.strip()}")
    return True
