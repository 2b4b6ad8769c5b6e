"""The records frame as zone-file text: the raw DNS evidence in the form auditors and DNS tools
read (RFC 1035 §5 master-file lines), with where and when each answer was received.

Pure functions: frame rows in, text out. Every record keeps its own TTL and rdata exactly as
collected; each answer (one server, one side of the delegation, one time) is a block headed by
a comment naming the server and the UTC time it was received.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pandas as pd

#: Order of record types inside an answer block (the rest follow alphabetically).
_TYPE_ORDER = {"DS": 0, "DNSKEY": 1, "SOA": 2, "NS": 3, "NSEC": 4, "NSEC3": 5, "RRSIG": 9}
_SAFE = re.compile(r"[^a-z0-9._-]")
ROOT_FILE_STEM = "@root"


def zone_file_stem(zone: str) -> str:
    """A file name stem for a zone that is safe on every file system and never collides:
    the lower-case name when it is plain letters, digits, dots and hyphens (``corp.test``),
    ``@root`` for the root zone, else the name with other characters replaced by ``_`` and
    8 hex digits of its SHA-256 appended."""
    if zone in (".", ""):
        return ROOT_FILE_STEM
    name = zone.rstrip(".")
    safe = _SAFE.sub("_", name.lower()).strip(".")
    if safe != name or safe.startswith("-") or not safe:
        safe = f"{safe or 'zone'}-{hashlib.sha256(zone.encode('utf-8')).hexdigest()[:8]}"
    return safe


def _one_line(value: Any) -> str:
    """Text of a field on one line: control characters escaped as ``\\DDD`` (RFC 1035)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return "".join(c if c >= " " and c != "\x7f" else f"\\{ord(c):03d}" for c in str(value))


def _utc(ts: Any) -> str:
    if ts is None or ts is pd.NaT or (not isinstance(ts, str) and pd.isna(ts)):
        return "unknown time"
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sort_records(records: pd.DataFrame) -> pd.DataFrame:
    """The records in a stable order: zone, side (parent first), server, time received, type
    (DS, DNSKEY, SOA, NS, NSEC, ..., RRSIG last), owner name, key tag, rdata."""
    df = records.copy()
    df["_side"] = (df["source"] != "parent").astype(int)
    df["_type"] = df["rrtype"].map(lambda t: _TYPE_ORDER.get(str(t), 8))
    df = df.sort_values(
        ["zone", "_side", "server", "queried_at", "_type", "rrtype", "owner_name", "key_tag"]
        + ["rdata"],
        na_position="last",
        kind="mergesort",
    )
    return df.drop(columns=["_side", "_type"]).reset_index(drop=True)


def zone_file_text(records: pd.DataFrame, zone: str, *, run_id: str = "", header: str = "") -> str:
    """The records of ``zone`` (rows of the records frame whose ``zone`` is ``zone``) as
    zone-file text: a comment header, then one block per answer — side, server address and
    name, UTC time received — and its records, one per line (owner, TTL, IN, type, rdata).

    ``header`` adds comment lines (e.g. the run's time and tool version). Deterministic: the
    same rows give the same text. A zone without records gets a header saying so.
    """
    rows = sort_records(records[records["zone"] == zone])
    lines = [f"; DNSSEC evidence: DNS records collected for zone {_one_line(zone)}"]
    if run_id:
        lines.append(f"; run {_one_line(run_id)}")
    lines += [f"; {_one_line(h)}" for h in header.splitlines() if h.strip()]
    lines.append(
        "; one block per answer: the side of the delegation (parent: the DS side; child: the "
        "zone's own servers), the server, the UTC time received; records exactly as served"
    )
    if rows.empty:
        lines.append("; no records were collected for this zone in this run")
        return "\n".join(lines) + "\n"
    block = None
    for r in rows.itertuples(index=False):
        key = (r.source, r.server, _utc(r.queried_at))
        if key != block:
            block = key
            name = f" ({_one_line(r.server_name)})" if _one_line(r.server_name) else ""
            lines.append("")
            lines.append(
                f"; --- {_one_line(r.source)} side: server {_one_line(r.server)}{name}, "
                f"received {key[2]}"
            )
        ttl = "" if r.ttl is None or r.ttl is pd.NA else str(int(r.ttl))
        lines.append(
            f"{_one_line(r.owner_name)}\t{ttl}\tIN\t{_one_line(r.rrtype)}\t{_one_line(r.rdata)}"
        )
    return "\n".join(lines) + "\n"


def record_lines(records: pd.DataFrame) -> list[str]:
    """Rows of the records frame as zone-file lines (owner, TTL, IN, type, rdata), in the
    frame's order: the raw records quoted in a report."""
    out = []
    for r in records.itertuples(index=False):
        ttl = "" if r.ttl is None or r.ttl is pd.NA else str(int(r.ttl))
        out.append(f"{_one_line(r.owner_name)} {ttl} IN {_one_line(r.rrtype)} {_one_line(r.rdata)}")
    return out
