"""What the audit report says, as frames: scope, runs of the period, results per check, DS
publication proofs, the per-zone annex, and the governance view when one exists.

Pure functions of a run's frames (and, for the runs of the period, of the run manifests), so
the notebook, the evidence pack and the tests compute exactly the same tables. Nothing here
writes HTML (:mod:`toolkit.reports.audit_html` does) or files (:mod:`toolkit.evidence.pack` does).

The governance side (key manifest, change control, drills, incidents, risk acceptances, the
control-by-control view of a framework) comes from the governance assessment
(``toolkit.assessment.assess``). Until a workspace holds one, :func:`governance_view` says so and
the
report marks those sections *not evidenced* instead of guessing.

A run above the streaming threshold is reported from its streamed assessment
(:func:`governance_view` sets ``GovernanceView.streamed``; ``findings`` is then None and every
figure comes from :mod:`toolkit.reports.streamed`): the PDF keeps the summaries and names the
Parquet parts, with their SHA-256, that hold the per-zone data (``streamed_parts``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.assessment.judge import run_findings
from toolkit.checks.base import RESULT_STATUSES, SEVERITIES, Row

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.assessment.stream import StreamedAssessment
    from toolkit.store.runs import Run, Store

#: Frames of a run the audit report stands on (all of them are attached to the PDF). A run
#: holds no ``findings`` frame any more (the assessment judges it); an older run's stored one is
#: attached as what its collector said then, and the report reads the judged findings.
RUN_FRAMES = ("inventory", "zones", "findings", "records", "resolver_checks", "queries")

# -- the period and its runs ---------------------------------------------------------------------

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_HALF = re.compile(r"^(\d{4})-?H([12])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


def period_bounds(period: str) -> tuple[datetime, datetime] | None:
    """The UTC interval [start, end) a period names: ``2026Q4``, ``2026-H2``, ``2026-11`` or
    ``2026``; None for any other text (the report then covers its run only)."""
    text = period.strip()
    if m := _QUARTER.match(text):
        year, first = int(m[1]), 3 * (int(m[2]) - 1) + 1
        months = 3
    elif m := _HALF.match(text):
        year, first = int(m[1]), 6 * (int(m[2]) - 1) + 1
        months = 6
    elif (m := _MONTH.match(text)) and 1 <= int(m[2]) <= 12:
        year, first, months = int(m[1]), int(m[2]), 1
    elif m := _YEAR.match(text):
        year, first, months = int(m[1]), 1, 12
    else:
        return None
    start = datetime(year, first, 1, tzinfo=UTC)
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=UTC)
    return start, end


RUNS_COLUMNS = [
    "run_id",
    "created_at",
    "tool_version",
    "zones",
    "trust_anchor",
    "root_hints",
    "resolvers",
    "reported",
]


def read_run_manifest(store: Store, run_id: str) -> dict[str, Any]:
    """A stored run's manifest (JSON), without loading its frames. Raises StoreError."""

    return store.read_manifest(run_id)


def signature_sentence(run: Run) -> str:
    """One sentence on the run manifest's signature: the workspace key's fingerprint and the
    manifest's place in the workspace's chain of runs, or that the run predates signing."""
    from toolkit.store.runs import SIGNED

    m = run.manifest
    if run.integrity != SIGNED:
        return f"The run manifest is {run.integrity}: nothing but its hashes vouches for it."
    return (
        f"The manifest is signed (Ed25519) by the workspace key {m.get('signing_key')}, and "
        "the signature was checked when this report loaded the run; it is run "
        f"{m.get('sequence')} of the workspace's chain of signed manifests."
    )


def runs_in_period(store: Store, period: str, reported: str, as_of: str = "") -> pd.DataFrame:
    """Every stored run of ``period`` up to the reported run (and no later than ``as_of``, an
    ISO date, when given), oldest first, with the time, tool version, zone count, trust
    anchor, root hints and resolvers each was made with; ``reported`` marks the run the report
    stands on, which is always listed; a damaged run is left out. Columns:
    :data:`RUNS_COLUMNS`."""
    runs = store.list_runs()
    runs = runs[~runs["status"].str.startswith("damaged")]
    bounds = period_bounds(period)
    rows = []
    reported_at = None
    for r in runs.itertuples(index=False):
        if r.run_id == reported:
            reported_at = r.created_at
    for r in runs.itertuples(index=False):
        keep = r.run_id == reported
        if not keep and bounds is not None and reported_at is not None:
            start, end = bounds
            keep = start <= r.created_at.to_pydatetime() < end and r.created_at <= reported_at
            if keep and as_of:
                keep = r.created_at.date().isoformat() <= as_of
        if not keep:
            continue
        params = read_run_manifest(store, r.run_id).get("parameters", {}) or {}
        rows.append(
            {
                "run_id": r.run_id,
                "created_at": r.created_at,
                "tool_version": r.tool_version,
                "zones": r.zones,
                "trust_anchor": str(params.get("trust_anchor", "not recorded")),
                "root_hints": str(params.get("root_hints", "not recorded")),
                "resolvers": "; ".join(str(x) for x in params.get("resolvers", []) or []),
                "reported": r.run_id == reported,
            }
        )
    df = pd.DataFrame(rows, columns=RUNS_COLUMNS)
    df["zones"] = df["zones"].astype("Int64")
    df["reported"] = df["reported"].astype(bool)
    return df.reset_index(drop=True)


# -- scope ---------------------------------------------------------------------------------------

SCOPE_COLUMNS = [
    "zone",
    "zone_unicode",
    "risk_tier",
    "owner",
    "in_inventory",
    "probed",
    "servers",
    "servers_answered",
    "records",
    "status",
    "checked_at",
]


def scope(run: Run) -> pd.DataFrame:
    """One row per zone of the inventory (and any zone the run holds that the inventory does
    not): whether it was probed, how many of its authoritative servers answered, how many
    records were collected for it, and its status. Columns: :data:`SCOPE_COLUMNS`, sorted by
    zone."""
    inv = run.frames.get("inventory")
    zones = run.frames["zones"]
    records = run.frames.get("records")
    inv_zones = set(inv["zone"]) if inv is not None else set(zones["zone"])
    counts = records["zone"].value_counts() if records is not None else pd.Series(dtype=int)
    by_zone = zones.set_index("zone")
    rows = []
    names = sorted(inv_zones | set(zones["zone"]))
    inv_by_zone = inv.set_index("zone") if inv is not None else None
    for zone in names:
        z = by_zone.loc[zone] if zone in by_zone.index else None
        src = z if z is not None else inv_by_zone.loc[zone]  # type: ignore[union-attr]
        rows.append(
            {
                "zone": zone,
                "zone_unicode": src["zone_unicode"],
                "risk_tier": src["risk_tier"],
                "owner": src["owner"],
                "in_inventory": zone in inv_zones,
                "probed": z is not None and not pd.isna(z["checked_at"]),
                "servers": None if z is None else z["ns_servers"],
                "servers_answered": None if z is None else z["ns_answered"],
                "records": int(counts.get(zone, 0)),
                "status": None if z is None else z["status"],
                "checked_at": None if z is None else z["checked_at"],
            }
        )
    df = pd.DataFrame(rows, columns=SCOPE_COLUMNS)
    for col in ("risk_tier", "servers", "servers_answered", "records"):
        df[col] = df[col].astype("Int64")
    for col in ("zone", "zone_unicode", "owner", "status"):
        df[col] = df[col].astype("string")
    df["checked_at"] = pd.to_datetime(df["checked_at"], utc=True)
    return df


def chain_zones(run: Run) -> pd.DataFrame:
    """The zones above the inventory that the collector walked to build the chains of trust
    (the root, top-level domains, ...): zone, records collected, servers that answered."""
    records = run.frames.get("records")
    zones = set(run.frames["zones"]["zone"])
    if records is None or records.empty:
        return pd.DataFrame(columns=["zone", "records", "servers"])
    above = records[~records["zone"].isin(zones)]
    rows = [
        {
            "zone": zone,
            "records": len(g),
            "servers": ", ".join(
                sorted({_server(s, n) for s, n in zip(g.server, g.server_name, strict=True)})
            ),
        }
        for zone, g in above.groupby("zone", sort=True)
    ]
    return pd.DataFrame(rows, columns=["zone", "records", "servers"])


def _server(address: Any, name: Any) -> str:
    name = "" if name is None or name is pd.NA else str(name)
    return f"{address} ({name})" if name else str(address)


def trust_anchor_keys(run: Run) -> pd.DataFrame:
    """The root zone's key-signing keys (DNSKEY flags 257) the run collected: the keys its
    chains of trust start from. Columns: key_tag, algorithm, server, queried_at, rdata."""
    records = run.frames.get("records")
    cols = ["key_tag", "algorithm", "server", "queried_at", "rdata"]
    if records is None or records.empty:
        return pd.DataFrame(columns=cols)
    root = records[(records["zone"] == ".") & (records["rrtype"] == "DNSKEY")]
    root = root[root["flags"] == 257]
    return root.sort_values(["key_tag", "server"])[cols].drop_duplicates(["key_tag", "rdata"])


# -- results per check ---------------------------------------------------------------------------

CHECK_SUMMARY_COLUMNS = [
    "check_id",
    "title",
    "severity",
    "pillar",
    "references",
    "zones",
    *RESULT_STATUSES,
    "result",
]


def check_result(counts: Mapping[str, int]) -> str:
    """One word for a check over the portfolio: fail if any zone fails, else indeterminate if
    any zone could not be decided (missing data never passes), else pass if any zone passes,
    else not_applicable."""
    for status in ("fail", "indeterminate", "pass"):
        if counts.get(status, 0):
            return status
    return "not_applicable"


def check_summary(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per check of the findings frame, in the order the checks first appear: its
    metadata, the number of zones per result and the overall result (:func:`check_result`).
    Sorted by severity (critical first), then that order. Columns:
    :data:`CHECK_SUMMARY_COLUMNS`."""
    rows = []
    order = {c: i for i, c in enumerate(dict.fromkeys(findings["check_id"]))}
    for check_id, g in findings.groupby("check_id", sort=False):
        counts = g["status"].value_counts()
        row = {
            "check_id": check_id,
            "title": g["title"].iloc[0],
            "severity": g["severity"].iloc[0],
            "pillar": g["pillar"].iloc[0],
            "references": g["references"].iloc[0],
            "zones": int(g["zone"].nunique()),
        }
        for status in RESULT_STATUSES:
            row[status] = int(counts.get(status, 0))
        row["result"] = check_result(row)
        rows.append(row)
    df = pd.DataFrame(rows, columns=CHECK_SUMMARY_COLUMNS)
    sev = {s: i for i, s in enumerate(SEVERITIES)}
    df["_sev"] = df["severity"].map(lambda s: sev.get(s, len(sev)))
    df["_order"] = df["check_id"].map(order)
    df = df.sort_values(["_sev", "_order"], kind="mergesort").drop(columns=["_sev", "_order"])
    for status in RESULT_STATUSES:
        df[status] = df[status].astype("Int64")
    df["zones"] = df["zones"].astype("Int64")
    return df.reset_index(drop=True)


def findings_of(findings: pd.DataFrame, *, check_id: str = "", zone: str = "") -> pd.DataFrame:
    """The findings of one check and/or one zone, most serious result first (fail,
    indeterminate, pass, not_applicable), then by zone and check."""
    df = findings
    if check_id:
        df = df[df["check_id"] == check_id]
    if zone:
        df = df[df["zone"] == zone]
    rank = {s: i for i, s in enumerate(("fail", "indeterminate", "pass", "not_applicable"))}
    return (
        df.assign(_rank=df["status"].map(lambda s: rank.get(s, 9)))
        .sort_values(["_rank", "zone", "check_id"], kind="mergesort")
        .drop(columns=["_rank"])
        .reset_index(drop=True)
    )


def collapse_zone_findings(findings: pd.DataFrame, *, min_group: int = 3) -> pd.DataFrame:
    """A zone's findings to print: fail rows as they are; indeterminate rows sharing a message,
    when at least ``min_group`` checks have it (a zone that did not answer makes most checks
    undecidable for the same reason), become one row whose ``title`` counts the checks and
    whose ``message`` lists them."""
    indet = findings[findings["status"] == "indeterminate"]
    if indet.empty:
        return findings
    keep = [findings[findings["status"] != "indeterminate"]]
    for _, g in indet.groupby("message", sort=False, dropna=False):
        if len(g) < min_group:
            keep.append(g)
            continue
        first = g.iloc[[0]].copy()
        first["title"] = f"{len(g)} checks"
        first["message"] = f"{first['message'].iloc[0]} — for each of: " + "; ".join(
            str(t) for t in g["title"]
        )
        first["evidence"] = f"{first['evidence'].iloc[0]} (and likewise for the other checks)"
        keep.append(first)
    return findings_of(pd.concat(keep, ignore_index=True))


def collapse_findings(
    findings: pd.DataFrame, *, min_group: int = 3, max_names: int = 12
) -> pd.DataFrame:
    """Findings to print: every fail row as it is; indeterminate rows that share a check and
    a message, when there are at least ``min_group`` of them, become one row whose ``zone``
    counts the zones, whose ``message`` names them (the first ``max_names``), and whose
    ``evidence`` says where each zone's evidence row is. Order as
    :func:`findings_of`. Adds the column ``zones`` (how many zones a row stands for)."""
    df = findings.assign(zones=1)
    indet = df[df["status"] == "indeterminate"]
    if indet.empty:
        return df
    keep = [df[df["status"] != "indeterminate"]]
    for (_, _), g in indet.groupby(["check_id", "message"], sort=False, dropna=False):
        if len(g) < min_group:
            keep.append(g)
            continue
        first = g.iloc[[0]].copy()
        names = sorted(str(z) for z in g["zone"])
        first["zone"] = f"{len(names):,} zones"
        listed = ", ".join(names[:max_names])
        if len(names) > max_names:
            listed += f" and {len(names) - max_names} more"
        first["message"] = f"{first['message'].iloc[0]} — zones: {listed}"
        first["evidence"] = (
            f"{len(names):,} zones, same finding; each zone's evidence row is in the findings "
            "attachment"
        )
        first["zones"] = len(names)
        keep.append(first)
    out = pd.concat(keep, ignore_index=True)
    return findings_of(out)


# -- DS publication proofs -----------------------------------------------------------------------

DS_PROOF_COLUMNS = [
    "zone",
    "parent",
    "status",
    "ds_key_tag",
    "ds_algorithm",
    "ds_digest_type",
    "ds_rdata",
    "ds_server",
    "ds_received",
    "ds_signed_by",
    "ds_signature_valid_from",
    "ds_signature_valid_until",
    "dnskey_key_tag",
    "dnskey_flags",
    "dnskey_server",
    "dnskey_received",
    "verdict",
]

#: Verdicts of a DS record against the zone's DNSKEY set.
VERDICTS = {
    "match": "digest recomputed from the DNSKEY matches the DS",
    "digest_mismatch": "a DNSKEY has this key tag and algorithm, but its digest differs",
    "no_dnskey": "no DNSKEY of the zone has this key tag and algorithm",
    "unsupported": "digest type not supported: not verifiable",
    "no_ds": "the parent publishes no DS record for the zone",
}


def _first(rows: list[Row]) -> Row | None:
    """The row received first (then by server; missing values last), or None."""

    def order(r: Row) -> tuple[Any, ...]:
        at, server = r["queried_at"], r["server"]
        return (at is None, at if at is not None else 0, server is None, server or "")

    return min(rows, key=order, default=None)


def _ds_verdict(
    zone: str, ds_text: str, keys: list[Row], made: dict[tuple[str, str, int], Any]
) -> tuple[str, Row | None]:
    """(verdict, the matching DNSKEY row or None) for one DS record; ``made`` caches the
    digests computed (a key served by several servers is hashed once)."""
    import dns.dnssec
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    try:
        ds = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, ds_text)
    except Exception:  # malformed evidence is a verdict, not a crash
        return "unsupported", None
    candidates = [k for k in keys if k["key_tag"] == ds.key_tag and k["algorithm"] == ds.algorithm]
    if not candidates:
        return "no_dnskey", None
    name = dns.name.from_text(zone)
    verdict = "digest_mismatch"
    for key in candidates:
        cache_key = (zone, key["rdata"], ds.digest_type)
        if cache_key not in made:
            try:
                rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, key["rdata"])
                made[cache_key] = dns.dnssec.make_ds(name, rdata, ds.digest_type).digest
            except Exception:
                made[cache_key] = None
        if made[cache_key] is None:
            verdict = "unsupported"
        elif made[cache_key] == ds.digest:
            return "match", key
    return verdict, candidates[0]


def ds_proofs(run: Run, zones: Collection[str] | None = None) -> pd.DataFrame:
    """For every inventory zone (only ``zones`` when given), each DS record its parent
    publishes and the proof behind it:
    the server that served it and when, the parent's signature over the DS set (signer key tag
    and validity), and the zone's DNSKEY the digest was recomputed from, with the verdict
    (:data:`VERDICTS`). A zone without DS gets one row with verdict ``no_ds``. Columns:
    :data:`DS_PROOF_COLUMNS`, sorted by zone and DS key tag."""
    from toolkit.checks.base import plain_rows

    only = None if zones is None else set(zones)
    inventory_zones = run.frames["zones"]
    records = run.frames.get("records")
    if records is None:
        records = pd.DataFrame(columns=["zone", "rrtype", "source", "covered_type"])
    if only is not None:  # only these zones' proofs (a large run's detailed zones)
        inventory_zones = inventory_zones[inventory_zones["zone"].isin(only)]
        records = records[records["zone"].isin(only)]
    rows = []
    # one pass over the records (a large run has hundreds of thousands of rows), then plain
    # rows per zone: per-zone frame filtering would cost minutes at 10,000 zones
    relevant = records[
        ((records["rrtype"] == "DS") & (records["source"] == "parent"))
        | ((records["rrtype"] == "RRSIG") & (records["covered_type"] == "DS"))
        | ((records["rrtype"] == "DNSKEY") & (records["source"] == "child"))
    ]
    by_zone: dict[str, dict[str, list[Row]]] = {}
    for r in plain_rows(relevant):
        by_zone.setdefault(r["zone"], {}).setdefault(r["rrtype"], []).append(r)
    made: dict[tuple[str, str, int], Any] = {}
    for z in inventory_zones.sort_values("zone").itertuples(index=False):
        rec = by_zone.get(z.zone, {})
        ds, sig, keys = rec.get("DS", []), rec.get("RRSIG", []), rec.get("DNSKEY", [])
        base = {"zone": z.zone, "parent": z.parent, "status": z.status}
        groups: dict[tuple[int, str], list[Row]] = {}
        for r in ds:  # grouped as groupby(["key_tag", "rdata"], sort=True) would: nulls out
            if r["key_tag"] is not None and r["rdata"] is not None:
                groups.setdefault((r["key_tag"], r["rdata"]), []).append(r)
        if not groups:
            rows.append({**base, "verdict": "no_ds"})
            continue
        for _, group in sorted(groups.items(), key=lambda kv: kv[0]):
            first = _first(group)
            assert first is not None
            covering = _first([s for s in sig if s["server"] == first["server"]])
            verdict, key = _ds_verdict(z.zone, first["rdata"], keys, made)
            key_first = (
                None if key is None else _first([k for k in keys if k["rdata"] == key["rdata"]])
            )
            rows.append(
                {
                    **base,
                    "ds_key_tag": first["key_tag"],
                    "ds_algorithm": first["algorithm"],
                    "ds_digest_type": first["digest_type"],
                    "ds_rdata": first["rdata"],
                    "ds_server": _server(first["server"], first["server_name"]),
                    "ds_received": first["queried_at"],
                    "ds_signed_by": None
                    if covering is None
                    else f"{covering['signer']} key {covering['key_tag']}",
                    "ds_signature_valid_from": None if covering is None else covering["inception"],
                    "ds_signature_valid_until": None
                    if covering is None
                    else covering["expiration"],
                    "dnskey_key_tag": None if key_first is None else key_first["key_tag"],
                    "dnskey_flags": None if key_first is None else key_first["flags"],
                    "dnskey_server": None
                    if key_first is None
                    else _server(key_first["server"], key_first["server_name"]),
                    "dnskey_received": None if key_first is None else key_first["queried_at"],
                    "verdict": verdict,
                }
            )
    df = pd.DataFrame(rows, columns=DS_PROOF_COLUMNS)
    for col in ("ds_key_tag", "ds_algorithm", "ds_digest_type", "dnskey_key_tag", "dnskey_flags"):
        df[col] = df[col].astype("Int64")
    for col in ("ds_received", "ds_signature_valid_from", "ds_signature_valid_until"):
        df[col] = pd.to_datetime(df[col], utc=True)
    df["dnskey_received"] = pd.to_datetime(df["dnskey_received"], utc=True)
    for col in ("zone", "parent", "status", "ds_rdata", "ds_server", "ds_signed_by"):
        df[col] = df[col].astype("string")
    df["dnskey_server"] = df["dnskey_server"].astype("string")
    df["verdict"] = df["verdict"].astype("string")
    return df.reset_index(drop=True)


def proof_records(run: Run, zone: str) -> pd.DataFrame:
    """The raw records behind a zone's DS proof: the parent's DS (or its proof of absence,
    NSEC/NSEC3) with its RRSIGs, and the zone's DNSKEY set with its RRSIGs, one copy per
    distinct record (the first server that served it), in zone-file order."""
    from toolkit.reports.zonefile import sort_records

    records = run.frames.get("records")
    if records is None:
        return pd.DataFrame()
    rec = records[records["zone"] == zone]
    parent_side = rec[rec["source"] == "parent"]
    keys = rec[
        (rec["source"] == "child")
        & (
            (rec["rrtype"] == "DNSKEY")
            | ((rec["rrtype"] == "RRSIG") & (rec["covered_type"] == "DNSKEY"))
        )
    ]
    both = sort_records(pd.concat([parent_side, keys]))
    return both.drop_duplicates(["source", "owner_name", "rrtype", "rdata"]).reset_index(drop=True)


# -- names beyond the apex -----------------------------------------------------------------------

NAME_ANSWER_COLUMNS = ["name", "qtype", "answer", "status", "servers", "reason", "resolvers"]
_NAME_RANK = {"bogus": 0, "indeterminate": 1, "insecure": 2, "secure": 3}


def name_answers(run: Run, zone: str) -> pd.DataFrame:
    """The listed names beyond the apex of ``zone`` (frames ``names`` and ``name_resolvers``),
    one row per name and type in the order asked: the answers served, the worst status over
    the zone's servers (bogus, then indeterminate, insecure, secure), how many servers gave it
    (``servers``: "2 of 2"), the reason of that worst answer, and what the validating
    resolvers saw (``resolvers``: "4 secure" or "SERVFAIL: bind, unbound; 2 secure"). Empty
    (columns :data:`NAME_ANSWER_COLUMNS`) for a zone without listed names or a run collected
    before names were probed."""
    names = run.frames.get("names")
    if names is None or names.empty:
        return pd.DataFrame(columns=NAME_ANSWER_COLUMNS, dtype="string")
    mine = names[names["zone"] == zone]
    resolvers = run.frames.get("name_resolvers")
    seen = resolvers[resolvers["zone"] == zone] if resolvers is not None else None
    rows = []
    for (name, qtype), group in mine.groupby(["name", "qtype"], sort=False):
        ranked = group.assign(_r=group["status"].map(_NAME_RANK).fillna(1))
        worst = ranked.sort_values("_r", kind="mergesort").iloc[0]
        same = int((group["status"] == worst["status"]).sum())
        rows.append(
            {
                "name": name,
                "qtype": qtype,
                "answer": "/".join(sorted(set(group["answer"].dropna()))),
                "status": worst["status"],
                "servers": f"{same} of {len(group)}",
                "reason": worst["reason"],
                "resolvers": _resolver_words(seen, name, qtype),
            }
        )
    return pd.DataFrame(rows, columns=NAME_ANSWER_COLUMNS).astype("string")


def _resolver_words(seen: pd.DataFrame | None, name: str, qtype: str) -> str:
    if seen is None:
        return "not asked"
    asked = seen[(seen["name"] == name) & (seen["qtype"] == qtype)]
    if asked.empty:
        return "not asked"
    parts = []
    ok = asked["resolver_status"].isin(["secure", "insecure"])
    for status in ("secure", "insecure"):
        n = int((asked["resolver_status"] == status).sum())
        if n:
            parts.append(f"{n:,} {status}")
    for rcode, group in asked[~ok].groupby(asked[~ok]["rcode"].fillna("no answer")):
        parts.append(f"{rcode}: {', '.join(sorted(group['resolver']))}")
    return "; ".join(parts)


# -- the per-zone annex --------------------------------------------------------------------------

ANNEX_COLUMNS = [
    "zone",
    "zone_unicode",
    "owner",
    "risk_tier",
    "status",
    "reasons",
    "parent",
    "has_ds",
    "signed",
    "algorithms",
    "ns_servers",
    "ns_answered",
    "min_rrsig_days_left",
    "earliest_expiration",
    "checked_at",
    "checks_failed",
    "checks_indeterminate",
    "resolvers_secure",
    "resolvers_asked",
]


def zone_annex(
    run: Run, findings: pd.DataFrame | None = None, *, counts: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per zone: its status facts, how many checks (of ``findings``, default the
    run's judged as of its time by :func:`~toolkit.assessment.judge.run_findings`) failed or
    were indeterminate, and how many validating resolvers saw it secure. Columns:
    :data:`ANNEX_COLUMNS`, sorted by zone. This is the per-zone annex in one table
    (the PDF attaches it in full)."""
    zones = run.frames["zones"].sort_values("zone").reset_index(drop=True)
    if findings is None and counts is None:
        findings = run_findings(run)
    checks = run.frames.get("resolver_checks")
    df = zones[[c for c in ANNEX_COLUMNS if c in zones.columns]].copy()
    if counts is not None:  # per zone: failed, indeterminate (toolkit.reports.streamed)
        fails = counts.set_index("zone")["failed"]
        indet = counts.set_index("zone")["indeterminate"]
    elif findings is not None and not findings.empty:
        fails = findings[findings["status"] == "fail"].groupby("zone").size()
        indet = findings[findings["status"] == "indeterminate"].groupby("zone").size()
    else:
        fails = indet = pd.Series(dtype=int)
    df["checks_failed"] = df["zone"].map(fails).fillna(0).astype("Int64")
    df["checks_indeterminate"] = df["zone"].map(indet).fillna(0).astype("Int64")
    if checks is not None and not checks.empty:
        secure = checks[checks["resolver_status"] == "secure"].groupby("zone").size()
        asked = checks.groupby("zone").size()
    else:
        secure = asked = pd.Series(dtype=int)
    df["resolvers_secure"] = df["zone"].map(secure).fillna(0).astype("Int64")
    df["resolvers_asked"] = df["zone"].map(asked).fillna(0).astype("Int64")
    return df[ANNEX_COLUMNS]


def zones_to_detail(
    run: Run,
    limit: int,
    findings: pd.DataFrame | None = None,
    *,
    failing: set[str] | None = None,
) -> list[str]:
    """The zones the report details inline (DS proof, annex page): all of them when the run
    holds at most ``limit`` zones; otherwise the ``limit`` most in need of attention — bogus,
    then indeterminate, then those with a failed check, by risk tier then name. The rest are
    in the attachments."""
    zones = run.frames["zones"]
    if len(zones) <= limit:
        return sorted(zones["zone"])
    if failing is None:  # else: the zones with a failed finding, given
        if findings is None:
            findings = run_findings(run)
        failing = set()
        if findings is not None:
            failing = set(findings.loc[findings["status"] == "fail", "zone"])
    rank = {"bogus": 0, "indeterminate": 1}
    order = zones.assign(
        _r=[
            rank.get(s, 2 if z in failing else 3)
            for s, z in zip(zones["status"], zones["zone"], strict=True)
        ],
        _t=zones["risk_tier"].fillna(9),
    ).sort_values(["_r", "_t", "zone"], kind="mergesort")
    return list(order["zone"].head(limit))


# -- the governance view -------------------------------------------------------------------------

NOT_EVIDENCED = "no governance assessment in this workspace"

#: The governance topics of the audit report: title, the record kinds each one reconciles
#: (key manifest, change-control log, ...) and the checks that do it.
GOVERNANCE_TOPICS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "keys": (
        "Key manifest reconciled",
        ("keys",),
        (
            "dnskey_in_manifest",
            "manifest_key_observed",
            "key_rollover_not_overdue",
            "ksk_custody_offline",
            "key_custodian_named",
        ),
    ),
    "changes": (
        "Change-control reconciliation",
        ("changes", "registrars"),
        ("key_changes_approved", "change_approval_segregated", "ds_publish_within_sla"),
    ),
    "drills": (
        "Drills and incidents",
        ("drills", "incidents"),
        (
            "drills_on_schedule",
            "drill_followups_closed",
            "bogus_zone_has_incident",
            "incidents_reviewed",
        ),
    ),
    "exceptions": (
        "Exceptions (risk acceptances)",
        ("exceptions",),
        ("unsigned_zone_risk_accepted",),
    ),
}

REQUIREMENT_COLUMNS = ["framework", "requirement_id", "title", "status", "check_ids"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


@dataclass
class GovernanceView:
    """What the report can say about governance.

    ``available`` when the governance assessment (``toolkit.assessment.assess``) ran for the run:
    then ``findings`` holds every check of every pillar, ``requirements`` the status of each
    requirement of ``framework`` (all frameworks when empty), ``evidence`` the findings behind
    each, ``records`` the governance record frames read (by kind), ``missing_records`` the
    record files the portfolio does not have, ``now`` the time it was assessed against.
    Otherwise ``reason`` says why not, and the report marks governance *not evidenced*.
    """

    available: bool
    reason: str = ""
    framework: str = ""
    now: datetime | None = None
    findings: pd.DataFrame | None = None
    requirements: pd.DataFrame = field(default_factory=lambda: _empty(REQUIREMENT_COLUMNS))
    evidence: pd.DataFrame = field(default_factory=lambda: _empty(["framework", "requirement_id"]))
    records: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing_records: list[str] = field(default_factory=list)
    streamed: StreamedAssessment | None = None
    check_summary: pd.DataFrame | None = None


def assessment_time(run: Run, as_of: str = "") -> datetime:
    """The time the governance assessment of a report is made against: the run's own time
    when ``as_of`` (ISO date) is empty or not after the run's date, else the end of the
    ``as_of`` day (UTC). Never the wall clock: the same inputs give the same report."""
    created = run.created_at.astimezone(UTC)
    if not as_of or as_of[:10] <= created.date().isoformat():
        return created
    day = datetime.fromisoformat(as_of[:10])
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def governance_view(
    run: Run, store: Store | None = None, *, framework: str = "", as_of: str = ""
) -> GovernanceView:
    """The governance assessment of ``run`` (the portfolio its manifest records, the history
    of ``store``, the checks of every pillar), as of :func:`assessment_time`.

    Not available — with the reason — when the toolkit has no assessment module, no store is
    given, the run records no portfolio (or one not on this machine), or the assessment fails
    (an invalid record file, an unknown framework, ...): the report then says *not
    evidenced*, never "fine".
    """
    try:
        import importlib

        module = importlib.import_module("toolkit.assessment.assess")
    except ImportError:
        return GovernanceView(False, NOT_EVIDENCED, framework)
    if store is None:
        return GovernanceView(False, f"{NOT_EVIDENCED} (no run store given)", framework)
    portfolio = (run.manifest.get("parameters") or {}).get("portfolio")
    if not portfolio or not Path(str(portfolio)).is_dir():
        what = (
            "the run records no portfolio"
            if not portfolio
            else f"the run's portfolio ({portfolio}) is not on this machine"
        )
        return GovernanceView(
            False,
            f"{NOT_EVIDENCED}: {what}, so there are no governance records to assess",
            framework,
        )
    now = assessment_time(run, as_of)
    from toolkit.reports.streamed import should_stream

    if should_stream(len(run.frames["zones"])):
        return _streamed_view(run, store, str(portfolio), framework, now)
    try:
        a = module.assess(
            str(portfolio),
            store,
            run=run,
            now=now,
            frameworks=[framework] if framework else None,
        )
    except Exception as exc:  # an assessment that cannot be made is reported, not hidden
        return GovernanceView(
            False,
            f"the governance assessment could not be made: {type(exc).__name__}: {exc}",
            framework,
        )
    reqs, ev = a.requirements, a.requirement_evidence
    if framework:
        reqs = reqs[reqs["framework"] == framework]
        ev = ev[ev["framework"] == framework]
    return GovernanceView(
        True,
        "",
        framework,
        now,
        a.findings,
        reqs.reset_index(drop=True),
        ev.reset_index(drop=True),
        dict(sorted(a.records.frames.items())),
        list(a.records.missing),
    )


def _streamed_view(
    run: Run, store: Store, portfolio: str, framework: str, now: datetime
) -> GovernanceView:
    """The governance view of a run above the streaming threshold: its streamed assessment
    (reused when current, else made), requirements in memory, every finding left in the
    Parquet parts (``findings`` None, ``streamed`` set; the check summary by DuckDB)."""
    from toolkit.assessment.stream import streamed_assessment
    from toolkit.reports import streamed as st

    try:
        s = streamed_assessment(portfolio, store, run=run.run_id, now=now)
        reqs = s.requirements
        if framework:
            if framework not in s.frameworks:
                raise KeyError(f"unknown framework {framework!r}")
            reqs = reqs[reqs["framework"] == framework]
        summary = st.check_summary(s)
    except Exception as exc:  # an assessment that cannot be made is reported, not hidden
        return GovernanceView(
            False,
            f"the governance assessment could not be made: {type(exc).__name__}: {exc}",
            framework,
        )
    return GovernanceView(
        True,
        "",
        framework,
        now,
        None,
        reqs.reset_index(drop=True),
        _empty(["framework", "requirement_id"]),
        dict(sorted(s.records.frames.items())),
        list(s.records.missing),
        streamed=s,
        check_summary=summary,
    )


# -- all the report's tables ---------------------------------------------------------------------


def report_frames(
    run: Run,
    store: Store,
    *,
    period: str,
    as_of: str = "",
    governance: GovernanceView | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table the audit report prints, by name: runs, scope, chain_zones,
    trust_anchor_keys, check_summary, ds_proofs, zone_annex; with an available ``governance``
    view also assessment_findings, requirements, requirement_evidence and the governance
    records read (records_<kind>). The evidence pack writes these beside the run's frames.
    The check summary is of the assessment's findings when there are some, else of the run's.
    """
    gov = governance or GovernanceView(False, NOT_EVIDENCED)
    if gov.available and gov.streamed is not None:
        return _streamed_frames(run, store, period=period, as_of=as_of, gov=gov)
    findings = gov.findings if gov.available and gov.findings is not None else run_findings(run)
    frames = {
        "runs": runs_in_period(store, period, run.run_id, as_of),
        "scope": scope(run),
        "chain_zones": chain_zones(run),
        "trust_anchor_keys": trust_anchor_keys(run),
        "check_summary": check_summary(findings),
        "ds_proofs": ds_proofs(run),
        "zone_annex": zone_annex(run, findings),
    }
    if gov.available:
        frames["assessment_findings"] = findings
        frames["requirements"] = gov.requirements
        frames["requirement_evidence"] = gov.evidence
        for kind, df in gov.records.items():
            frames[f"records_{kind}"] = df
    return frames


def _streamed_frames(
    run: Run, store: Store, *, period: str, as_of: str, gov: GovernanceView
) -> dict[str, pd.DataFrame]:
    """:func:`report_frames` of a run reported from its streamed assessment: the summary
    tables (check summary by DuckDB, the per-zone annex with each zone's counts by one
    aggregate) and the list of the assessment's files with their SHA-256 (streamed_parts).
    The findings and requirement evidence stay in the parts; the DS proofs are made for the
    zones the report details (:func:`ds_proofs` with ``zones``)."""
    from toolkit.assessment.stream import part_files
    from toolkit.reports import streamed as st

    s = gov.streamed
    assert s is not None
    summary = gov.check_summary if gov.check_summary is not None else st.check_summary(s)
    frames = {
        "runs": runs_in_period(store, period, run.run_id, as_of),
        "scope": scope(run),
        "chain_zones": chain_zones(run),
        "trust_anchor_keys": trust_anchor_keys(run),
        "check_summary": summary,
        "zone_annex": zone_annex(run, counts=st.zone_counts(s)),
        "requirements": gov.requirements,
        "streamed_parts": part_files(s),
    }
    return frames


#: Display names of the control frameworks a report can be asked for (``--framework``).
FRAMEWORK_LABELS = {
    "iso27001": "ISO/IEC 27001:2022 Annex A",
    "soc2": "SOC 2 (Trust Services Criteria 2017)",
    "nist-800-53": "NIST SP 800-53 Rev. 5",
    "nis2": "NIS2 Implementing Regulation (EU) 2024/2690",
    "cis": "CIS Controls v8.1",
}


def framework_label(framework: str) -> str:
    """The display name of a framework id (the id itself when unknown; "none" when empty)."""
    if not framework:
        return "none requested"
    return FRAMEWORK_LABELS.get(framework.lower(), framework)
