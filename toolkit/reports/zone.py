"""One zone on demand: the chain of trust (parent DS -> DNSKEY -> RRSIG over the apex RRsets)
with its faults, the key timeline over the history, the zone's findings and its status per run.

Frames first (:func:`chain_frames`, :func:`key_timeline`, :func:`status_history`), pure; then
the HTML (boxes drawn with HTML/CSS, no graphviz) from the Jinja2 templates of
``report_templates/fragments/zone/`` (:mod:`toolkit.reports.templates`). Zone names and record
data are untrusted: autoescape escapes every value, CSS classes are whitelisted.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from toolkit.reports import templates
from toolkit.reports.html import status_class

KEY_ROLES = {257: "KSK", 256: "ZSK"}


def chain_frames(records: pd.DataFrame, at: Any) -> dict[str, pd.DataFrame]:
    """The zone's DS (parent), DNSKEY and RRSIG (zone) rows of one run, each with ``ok`` and
    ``fault`` (why it is marked red). ``at``: the run's time (expired signatures)."""
    at = pd.Timestamp(at)
    ds = records[(records["rrtype"] == "DS") & (records["source"] == "parent")]
    keys = records[(records["rrtype"] == "DNSKEY") & (records["source"] == "child")]
    sigs = records[(records["rrtype"] == "RRSIG") & (records["source"] == "child")]
    ds = ds.drop_duplicates(["key_tag", "algorithm", "digest_type", "rdata"])
    keys = keys.drop_duplicates(["key_tag", "algorithm", "flags", "rdata"])
    sigs = sigs.drop_duplicates(["covered_type", "key_tag", "algorithm"])
    key_ids = {(int(k), int(a)) for k, a in zip(keys["key_tag"], keys["algorithm"], strict=True)}
    ds_ids = {(int(k), int(a)) for k, a in zip(ds["key_tag"], ds["algorithm"], strict=True)}
    signers = {(int(k), str(c)) for k, c in zip(sigs["key_tag"], sigs["covered_type"], strict=True)}
    out_ds = []
    for r in ds.itertuples(index=False):
        ok = (int(r.key_tag), int(r.algorithm)) in key_ids
        out_ds.append({"key_tag": int(r.key_tag), "algorithm": int(r.algorithm),
                       "digest_type": r.digest_type, "ok": ok,
                       "fault": "" if ok else "matches no DNSKEY of the zone"})  # fmt: skip
    out_keys = []
    for r in keys.sort_values(["flags", "key_tag"], ascending=[False, True]).itertuples():
        flags = int(r.flags) if not pd.isna(r.flags) else 0
        role = KEY_ROLES.get(flags & ~128, f"flags {flags}")
        has_ds = (int(r.key_tag), int(r.algorithm)) in ds_ids
        signs = sorted(c for k, c in signers if k == int(r.key_tag))
        fault = ""
        if flags & 128:
            fault = "revoked"
        elif role == "KSK" and not has_ds and len(ds):
            fault = "no DS points at this KSK"
        out_keys.append({"key_tag": int(r.key_tag), "algorithm": int(r.algorithm),
                         "role": role, "has_ds": has_ds, "signs": ", ".join(signs),
                         "ok": not fault, "fault": fault})  # fmt: skip
    out_sigs = []
    for r in sigs.sort_values(["covered_type", "key_tag"]).itertuples():
        faults = []
        if not pd.isna(r.expiration) and pd.Timestamp(r.expiration) < at:
            faults.append("expired")
        if not pd.isna(r.inception) and pd.Timestamp(r.inception) > at:
            faults.append("not yet valid")
        if (int(r.key_tag), int(r.algorithm)) not in key_ids:
            faults.append("by a key not published")
        exp = "" if pd.isna(r.expiration) else pd.Timestamp(r.expiration).strftime("%Y-%m-%d")
        out_sigs.append({"covered": str(r.covered_type), "key_tag": int(r.key_tag),
                         "algorithm": int(r.algorithm), "expires": exp,
                         "ok": not faults, "fault": ", ".join(faults)})  # fmt: skip
    return {"ds": pd.DataFrame(out_ds), "dnskey": pd.DataFrame(out_keys),
            "rrsig": pd.DataFrame(out_sigs)}  # fmt: skip


def key_timeline(history_records: pd.DataFrame) -> pd.DataFrame:
    """Per key tag (and algorithm, role) of the zone's DNSKEY records over the history: first
    and last run it was seen in, how many runs, and whether the last run still shows it."""
    cols = ["key_tag", "algorithm", "role", "first_seen", "last_seen", "runs", "current"]
    keys = history_records[
        (history_records["rrtype"] == "DNSKEY") & (history_records["source"] == "child")
    ]
    if keys.empty:
        return pd.DataFrame(columns=cols)
    last_run = history_records["run_at"].max()
    rows = []
    for (tag, alg, flags), g in keys.groupby(["key_tag", "algorithm", "flags"], dropna=False):
        flags = 0 if pd.isna(flags) else int(flags)
        rows.append({"key_tag": int(tag), "algorithm": int(alg),
                     "role": KEY_ROLES.get(flags & ~128, f"flags {flags}"),
                     "first_seen": g["run_at"].min(), "last_seen": g["run_at"].max(),
                     "runs": g["run_id"].nunique(),
                     "current": bool(g["run_at"].max() == last_run)})  # fmt: skip
    return pd.DataFrame(rows, columns=cols).sort_values(["first_seen", "key_tag"])


def status_history(history_zones: pd.DataFrame) -> pd.DataFrame:
    """The zone's status per run, oldest first: run_id, run_at, status, reasons, days left."""
    cols = ["run_id", "run_at", "status", "reasons", "min_rrsig_days_left"]
    return history_zones[cols].sort_values("run_at").reset_index(drop=True)


# -- HTML ----------------------------------------------------------------------------------------


def chain_html(zone_label: str, parent: str, chain: dict[str, pd.DataFrame], status: str) -> str:
    """The chain of trust as three columns of boxes (parent DS, DNSKEY, RRSIG) with arrows;
    every faulty element red with its fault named."""
    return str(
        templates.render(
            "zone/chain.html.j2",
            zone_label=zone_label,
            parent=parent,
            ds=chain["ds"].to_dict("records"),
            dnskey=chain["dnskey"].to_dict("records"),
            rrsig=chain["rrsig"].to_dict("records"),
            status=status,
            status_class=status_class(status),
        )
    )


def _cell(key: str, value: Any) -> tuple[str, Any]:
    if isinstance(value, pd.Timestamp):
        value = value.strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    return (status_class(value) if key == "status" else "", value)


def table_html(df: pd.DataFrame, columns: list[tuple[str, str]], empty: str) -> str:
    """A plain data table of ``columns`` (key, heading) of ``df``, every cell escaped."""
    rows = [[_cell(k, r.get(k)) for k, _ in columns] for r in df.to_dict("records")]
    return str(
        templates.render(
            "zone/table.html.j2", headings=[h for _, h in columns], rows=rows, empty=empty
        )
    )
