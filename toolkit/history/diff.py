"""Changes between consecutive runs of each zone, and the signature-validity trend.

Pure functions: snapshots in (see :mod:`toolkit.history.snapshots`), frames out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from toolkit.history.frames import CHANGES, SIGNATURE_TREND
from toolkit.history.snapshots import Key, Snapshot, by_zone


def _algs(s: Snapshot) -> str:
    return ";".join(str(a) for a in sorted(s.algorithms))


def _key_row(kind: str, key: Key, detail: str) -> dict[str, Any]:
    return {
        "change": kind,
        "key_tag": key.key_tag,
        "algorithm": key.algorithm,
        "role": key.role,
        "detail": detail,
    }


def _signing(key: Key | None) -> set[str]:
    if key is None:
        return set()
    return ({"the DNSKEY set"} if key.signs_dnskey else set()) | (
        {"the zone data"} if key.signs_data else set()
    )


def key_changes(prev: Snapshot, cur: Snapshot) -> list[dict[str, Any]]:
    """DNSKEY and signing changes between two snapshots whose child side was seen."""
    rows: list[dict[str, Any]] = []
    for kid, k in cur.keys.items():
        old = prev.keys.get(kid)
        if old is None:
            rows.append(
                _key_row(
                    "dnskey_added", k, f"DNSKEY {k.key_tag} ({k.role}, alg {k.algorithm}) published"
                )
            )
        elif k.revoked and not old.revoked:
            rows.append(
                _key_row(
                    "dnskey_revoked",
                    k,
                    f"DNSKEY {old.key_tag} now carries the REVOKE bit (tag {k.key_tag})",
                )
            )
        started = _signing(k) - _signing(old)
        stopped = _signing(old) - _signing(k)
        if started:
            rows.append(
                _key_row(
                    "signing_started",
                    k,
                    f"key {k.key_tag} now signs {' and '.join(sorted(started))}",
                )
            )
        if stopped and old is not None:
            rows.append(
                _key_row(
                    "signing_stopped",
                    k,
                    f"key {k.key_tag} no longer signs {' and '.join(sorted(stopped))}",
                )
            )
    for kid, old in prev.keys.items():
        if kid not in cur.keys:
            rows.append(
                _key_row(
                    "dnskey_removed",
                    old,
                    f"DNSKEY {old.key_tag} ({old.role}, alg {old.algorithm}) withdrawn",
                )
            )
    if prev.algorithms != cur.algorithms:
        rows.append(
            {
                "change": "algorithm_changed",
                "before": _algs(prev),
                "after": _algs(cur),
                "detail": f"DNSKEY algorithms {_algs(prev) or 'none'} -> {_algs(cur) or 'none'}",
            }
        )
    return rows


def ds_changes(prev: Snapshot, cur: Snapshot) -> list[dict[str, Any]]:
    """DS changes between two snapshots whose parent side was seen."""
    rows: list[dict[str, Any]] = []
    for kind, a, b, verb in (
        ("ds_added", cur, prev, "published at the parent"),
        ("ds_removed", prev, cur, "withdrawn from the parent"),
    ):
        for ds_id, d in a.ds.items():
            if ds_id not in b.ds:
                rows.append(
                    {
                        "change": kind,
                        "key_tag": d.key_tag,
                        "algorithm": d.algorithm,
                        "detail": f"DS {d.key_tag}/{d.algorithm}/{d.digest_type} {verb}",
                    }
                )
    return rows


def changes_from_snapshots(snaps: Iterable[Snapshot]) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.CHANGES` frame of some snapshots."""
    rows: list[dict[str, Any]] = []
    for zone, lst in by_zone(snaps).items():
        last_child = last_parent = last_status = None
        for s in lst:
            found: list[tuple[Snapshot, dict[str, Any]]] = []
            if s.child_seen:
                if last_child is not None:
                    found += [(last_child, r) for r in key_changes(last_child, s)]
                last_child = s
            if s.parent_seen:
                if last_parent is not None:
                    found += [(last_parent, r) for r in ds_changes(last_parent, s)]
                last_parent = s
            if last_status is not None and s.status != last_status.status:
                found.append(
                    (
                        last_status,
                        {
                            "change": "status_changed",
                            "before": last_status.status,
                            "after": s.status,
                            "detail": f"{last_status.status} -> {s.status}"
                            + (f" ({', '.join(s.reasons)})" if s.reasons else ""),
                        },
                    )
                )
            last_status = s
            for prev, r in found:
                rows.append(
                    {
                        "zone": zone,
                        "run_id": s.run_id,
                        "at": s.at,
                        "prev_run_id": prev.run_id,
                        "prev_at": prev.at,
                        **r,
                    }
                )
    return CHANGES.frame(rows)


def signature_trend(zones: pd.DataFrame) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.SIGNATURE_TREND` frame of a history's ``zones``
    frame (with ``run_id``/``run_at``): days of validity left per zone and run, their change
    since the zone's previous run, and whether the zone was re-signed in between."""
    if zones.empty:
        return SIGNATURE_TREND.empty()
    df = zones.sort_values(["zone", "run_at", "run_id"], kind="stable")
    out = pd.DataFrame(
        {
            "zone": df["zone"],
            "run_id": df["run_id"],
            "at": df["run_at"],
            "status": df["status"],
            "min_rrsig_days_left": df["min_rrsig_days_left"],
            "earliest_expiration": df["earliest_expiration"],
        }
    )
    g = out.groupby("zone", sort=False)
    out["delta_days"] = g["min_rrsig_days_left"].diff()
    prev_exp = g["earliest_expiration"].shift()
    resigned = (out["earliest_expiration"] > prev_exp).astype("boolean")
    resigned[prev_exp.isna() | out["earliest_expiration"].isna()] = pd.NA
    out["resigned"] = resigned
    return SIGNATURE_TREND.cast(out.reset_index(drop=True))
