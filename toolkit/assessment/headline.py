"""First assessment of a run's zones frame: headline figures and the zones needing action.

Pure functions, frames in and frames out; the reports and the notebooks call these.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from toolkit.reasons import REASONS

STATUSES = ("secure", "insecure", "bogus", "indeterminate")

ACTION_ITEMS_COLUMNS = [
    "zone",
    "zone_unicode",
    "risk_tier",
    "owner",
    "status",
    "priority",
    "action",
    "why",
]


def headline(zones: pd.DataFrame) -> dict[str, Any]:
    """Headline figures of a zones frame (schema toolkit.schemas.ZONES).

    Returns a dict: ``zones`` (count), ``signed`` and ``signed_pct`` (zones serving a DNSKEY
    RRset), ``secure``/``insecure``/``bogus``/``indeterminate`` counts, ``secure_pct``, and
    ``needing_action`` (rows of :func:`action_items`). Percentages are of all inventory zones,
    rounded to one decimal; 0.0 for an empty frame.
    """
    n = len(zones)
    signed = int(zones["signed"].fillna(False).astype(bool).sum()) if n else 0
    counts = zones["status"].value_counts() if n else pd.Series(dtype=int)
    out: dict[str, Any] = {"zones": n, "signed": signed}
    for s in STATUSES:
        out[s] = int(counts.get(s, 0))
    out["signed_pct"] = round(100.0 * signed / n, 1) if n else 0.0
    out["secure_pct"] = round(100.0 * out["secure"] / n, 1) if n else 0.0
    out["needing_action"] = len(action_items(zones))
    return out


def _codes(reasons: Any) -> list[str]:
    if reasons is None or reasons is pd.NA or (isinstance(reasons, float) and pd.isna(reasons)):
        return []
    return [c for c in str(reasons).split(";") if c]


def _action(row: pd.Series) -> tuple[int, str] | None:
    """(priority, action) for one zone, or None when nothing needs doing.

    Priority 1 = users are affected now, 2 = cannot be verified, 3 = fix before it bites.
    """
    status = row["status"]
    codes = _codes(row["reasons"])
    expected = row["expected_signed"]
    expected = True if expected is pd.NA or expected is None else bool(expected)
    if status == "bogus":
        return 1, "Repair now: validating resolvers refuse this zone, so its users cannot reach it."
    if status == "indeterminate":
        if "ZONE_NOT_FOUND" in codes:
            return 2, "Confirm whether the zone still exists and update the inventory."
        return 2, "Investigate: the zone's DNSSEC status could not be checked."
    if status == "insecure" and expected:
        if "NO_DS_SIGNED" in codes:
            return 3, "Publish the DS record at the registrar to complete the chain of trust."
        if "PARENT_INSECURE" in codes:
            return 3, "Ask the parent zone's operator to sign it; this zone cannot be secure."
        return 3, "Sign the zone and publish its DS record, as the inventory expects."
    if any(REASONS.get(c) is not None and REASONS[c].severity == "warning" for c in codes):
        if "SIG_EXPIRING_SOON" in codes:
            when = row.get("earliest_expiration")
            day = "" if when is None or pd.isna(when) else f" (first expiry {when:%Y-%m-%d})"
            return 3, f"Re-sign the zone before its signatures expire{day}."
        return 3, "Review the warnings on this zone."
    return None


def action_items(zones: pd.DataFrame) -> pd.DataFrame:
    """Zones needing action, most urgent first.

    Columns: zone, zone_unicode, risk_tier, owner, status, priority (1 = users affected now,
    2 = cannot be verified, 3 = fix before it bites), action (what to do, in plain words),
    why (the reasons in plain words). Sorted by priority, then risk tier, then zone.
    """
    rows = []
    for _, row in zones.iterrows():
        act = _action(row)
        if act is None:
            continue
        rows.append(
            {
                "zone": row["zone"],
                "zone_unicode": row["zone_unicode"],
                "risk_tier": row["risk_tier"],
                "owner": row["owner"],
                "status": row["status"],
                "priority": act[0],
                "action": act[1],
                "why": row["reason_text"],
            }
        )
    df = pd.DataFrame(rows, columns=ACTION_ITEMS_COLUMNS)
    df["risk_tier"] = df["risk_tier"].astype("Int64")
    df["priority"] = df["priority"].astype("Int64")
    return df.sort_values(["priority", "risk_tier", "zone"], na_position="last").reset_index(
        drop=True
    )


ACTION_GROUPS_COLUMNS = [
    "priority",
    "status",
    "action",
    "why",
    "risk_tier",
    "zones",
    "zone_names",
    "owners",
]


def action_groups(items: pd.DataFrame) -> pd.DataFrame:
    """The zones needing action (:func:`action_items`) grouped by what is wrong and what to do,
    so a board reads "143 zones: the DS matches no key" once, not 143 lines.

    Columns: priority, status, action, why (shared by the group), risk_tier (the most critical
    tier in the group), zones (count), zone_names (list of (U-label, A-label) pairs in the
    items' order: most critical tier first), owners (distinct non-empty owners, in that order;
    empty: none named). Sorted by priority, tier, most zones, then first zone.
    """
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in items.itertuples(index=False):
        key = (int(row.priority), str(row.status), str(row.action), _text(row.why))
        g = groups.setdefault(
            key, {"risk_tier": pd.NA, "zone_names": [], "owners": [], "first": str(row.zone)}
        )
        if not pd.isna(row.risk_tier) and (
            pd.isna(g["risk_tier"]) or row.risk_tier < g["risk_tier"]
        ):
            g["risk_tier"] = int(row.risk_tier)
        g["zone_names"].append((_text(row.zone_unicode) or str(row.zone), str(row.zone)))
        owner = _text(row.owner).strip()
        if owner and owner not in g["owners"]:
            g["owners"].append(owner)
    rows = [
        {
            "priority": key[0],
            "status": key[1],
            "action": key[2],
            "why": key[3],
            "risk_tier": g["risk_tier"],
            "zones": len(g["zone_names"]),
            "zone_names": g["zone_names"],
            "owners": g["owners"],
            "_first": g["first"],
        }
        for key, g in groups.items()
    ]
    df = pd.DataFrame(rows, columns=[*ACTION_GROUPS_COLUMNS, "_first"])
    df["risk_tier"] = df["risk_tier"].astype("Int64")
    df["_zones"] = -df["zones"]
    df = df.sort_values(["priority", "risk_tier", "_zones", "_first"], na_position="last")
    return df[ACTION_GROUPS_COLUMNS].reset_index(drop=True)


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def status_by_tier(zones: pd.DataFrame) -> pd.DataFrame:
    """Counts of zones per risk tier (rows; "untiered" for null) and status (columns, in the
    fixed order secure, insecure, bogus, indeterminate)."""
    tier = zones["risk_tier"].astype("string").fillna("untiered")
    tier = tier.where(tier == "untiered", "Tier " + tier)
    table = pd.crosstab(tier, zones["status"])
    return table.reindex(columns=list(STATUSES), fill_value=0)
