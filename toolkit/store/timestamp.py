"""RFC 3161 trusted timestamps of evidence, through the system's ``openssl ts``.

A signature says who published the evidence; a timestamp from a Time-Stamping Authority (TSA)
says that these exact bytes existed no later than the time the TSA signed. The toolkit asks a
TSA the user names (``--tsa-url``) for a token over the SHA-256 of an evidence pack's
manifest, and checks a token against the TSA's CA certificate (``--tsa-ca``).

``openssl`` builds the query, reads the reply and verifies the token: the toolkit adds no ASN.1
code of its own, and an auditor repeats the check with the same commands (the README gives
them). Only file names the toolkit chose are passed to openssl; nothing from the evidence.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ToolkitError

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REPLY_BYTES = 1 << 20


class TimestampError(ToolkitError):
    """A timestamp could not be obtained or does not verify."""


@dataclass(frozen=True)
class Timestamp:
    """What a verified token says: when, and which TSA signed it."""

    time: str  # as openssl prints it, e.g. "Dec  6 03:20:11 2026 GMT"
    tsa: str  # the TSA name in the token, or "" when it names none
    serial: str


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        raise TimestampError("RFC 3161 timestamps need the openssl command (Debian: openssl)")
    return path


def _run(args: list[str], what: str) -> str:
    done = subprocess.run([_openssl(), *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise TimestampError(f"{what}: {detail[-1] if detail else 'openssl failed'}")
    return done.stdout


def request_timestamp(data: bytes, tsa_url: str, *, timeout: float = 20.0) -> bytes:
    """Ask the TSA at ``tsa_url`` (http or https) for a token over SHA-256(``data``), with a
    nonce and the TSA's certificate included. Returns the DER reply (a ``.tsr`` file). Raises
    TimestampError when the TSA cannot be reached, refuses, or answers something else."""
    if not re.match(r"https?://", tsa_url):
        raise TimestampError(f"--tsa-url {tsa_url!r}: expected an http:// or https:// URL")
    with tempfile.TemporaryDirectory(prefix="tsa-") as tmp:
        src, query = Path(tmp, "data"), Path(tmp, "query.tsq")
        src.write_bytes(data)
        _run(
            ["ts", "-query", "-data", str(src), "-sha256", "-cert", "-out", str(query)],
            "building the timestamp query",
        )
        req = urllib.request.Request(
            tsa_url, data=query.read_bytes(), headers={"Content-Type": QUERY_TYPE}
        )
        try:
            # typeshed types urlopen's response as Any; an HTTP response reads bytes
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reply: bytes = resp.read(MAX_REPLY_BYTES + 1)
                kind: str = resp.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as exc:
            raise TimestampError(f"TSA {tsa_url}: {exc}") from exc
        if len(reply) > MAX_REPLY_BYTES or not kind.startswith(REPLY_TYPE):
            raise TimestampError(f"TSA {tsa_url}: not a timestamp reply ({kind or 'no type'})")
        answer = Path(tmp, "reply.tsr")
        answer.write_bytes(reply)
        text = _run(["ts", "-reply", "-in", str(answer), "-text"], f"TSA {tsa_url}: reply")
        if "Status: Granted" not in text:
            status = re.search(r"Status: (.*)", text)
            raise TimestampError(
                f"TSA {tsa_url} refused: {status.group(1) if status else 'no status'}"
            )
        # the token must be over these bytes (and carry our nonce): verify against the query
        _run(
            ["ts", "-verify", "-queryfile", str(query), "-in", str(answer), "-partial_chain",
             "-no_check_time", "-CAfile", str(_token_signer(answer, Path(tmp)))],
            f"TSA {tsa_url}: the reply does not answer the query",
        )  # fmt: skip
        return reply


def _token_signer(reply: Path, tmp: Path) -> Path:
    """The signer certificate the reply carries (asked for with -cert), as a PEM file: used
    to check that the reply is a well-formed token over the query; trust in the TSA is
    :func:`verify_timestamp`'s job, against a CA the user names."""
    token = tmp / "token.der"
    _run(["ts", "-reply", "-in", str(reply), "-token_out", "-out", str(token)], "reading token")
    certs = tmp / "certs.pem"
    _run(
        ["pkcs7", "-inform", "DER", "-in", str(token), "-print_certs", "-out", str(certs)],
        "reading the TSA certificate",
    )
    return certs


def verify_timestamp(data: bytes, reply: bytes, ca_file: Path | str) -> Timestamp:
    """Check that ``reply`` is a token over SHA-256(``data``) signed by a TSA whose certificate
    chains to ``ca_file``; return its time and TSA. Raises TimestampError otherwise."""
    with tempfile.TemporaryDirectory(prefix="tsa-") as tmp:
        src, answer = Path(tmp, "data"), Path(tmp, "reply.tsr")
        src.write_bytes(data)
        answer.write_bytes(reply)
        _run(
            ["ts", "-verify", "-data", str(src), "-in", str(answer), "-CAfile", str(ca_file)],
            "the timestamp does not verify",
        )
        text = _run(["ts", "-reply", "-in", str(answer), "-text"], "reading the timestamp")
    when = re.search(r"Time stamp: (.*)", text)
    tsa = re.search(r"TSA: (.*)", text)
    serial = re.search(r"Serial number: (.*)", text)
    return Timestamp(
        time=when.group(1).strip() if when else "",
        tsa=(tsa.group(1).strip() if tsa else "").removeprefix("DirName:"),
        serial=serial.group(1).strip() if serial else "",
    )
