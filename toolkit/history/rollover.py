"""Rollover timelines: the phases each run shows, the rollovers, and the timing faults that
are visible from outside (RFC 6781 §4.1, RFC 7583 §3).

From outside a zone one sees snapshots: which keys were published and which signed, which DS
the parent served, at the times of the runs. A step of a rollover happened somewhere between
two runs, so a timing fault is reported only when the runs *prove* it: a key removed less than
a TTL after the last run in which it still signed was removed too early whatever happened in
between; one removed a day later may have been fine, and is not reported.

Faults recognised:

``ds_withdrawn_sole_match`` (critical)
    a DS was withdrawn and the DS records left match no key that signs the DNSKEY set: the
    chain of trust is broken (RFC 7583 §3.3.2: the old DS goes only after the new KSK signs).
``ksk_removed_before_ds_ttl`` (high)
    a KSK was removed less than the DS TTL after the DS that now carries the chain appeared
    at the parent: resolvers still holding the old DS set fail (RFC 7583 §3.3.2).
``key_removed_before_ttl`` (high)
    a zone-signing key was removed less than the signatures' TTL after it last signed: cached
    signatures lose their key (RFC 7583 §3.2.1, RFC 6781 §4.1.1.1).
``key_used_before_ttl`` (high)
    signing switched entirely to a key published less than the DNSKEY TTL before: resolvers
    holding the old DNSKEY set cannot verify the new signatures (RFC 7583 §3.2.1).
``algorithm_not_double_signed`` (high)
    the DNSKEY algorithms changed and an RRset lacks a signature of a published algorithm:
    an algorithm rollover must sign with both algorithms before publishing the new key, and
    remove the old key before its signatures (RFC 6781 §4.1.4, RFC 4035 §2.2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from toolkit.history.frames import FAULTS, ROLLOVERS, TIMELINE
from toolkit.history.snapshots import Key, Snapshot, by_zone, snapshots
from toolkit.inputs.policy import SigningPolicy
from toolkit.store.runs import Store

DEFAULT_WINDOW_DAYS = 30.0

REFERENCES = {
    "ds_withdrawn_sole_match": "RFC 7583 §3.3.2; RFC 6781 §4.1.2",
    "ksk_removed_before_ds_ttl": "RFC 7583 §3.3.2",
    "key_removed_before_ttl": "RFC 7583 §3.2.1; RFC 6781 §4.1.1.1",
    "key_used_before_ttl": "RFC 7583 §3.2.1",
    "algorithm_not_double_signed": "RFC 6781 §4.1.4; RFC 4035 §2.2",
}
SEVERITY = {
    "ds_withdrawn_sole_match": "critical",
    "ksk_removed_before_ds_ttl": "high",
    "key_removed_before_ttl": "high",
    "key_used_before_ttl": "high",
    "algorithm_not_double_signed": "high",
}


# --- per-run phases -------------------------------------------------------------------------


def _key_text(k: Key) -> str:
    state = "revoked" if k.revoked else ("signs" if k.signing else "idle")
    return f"{k.key_tag} {k.role} {k.algorithm} {state}"


def _ds_text(s: Snapshot) -> str:
    parts = []
    for d in sorted(s.ds.values(), key=lambda d: (d.key_tag, d.digest_type)):
        match = s.keys.get(d.matches) if d.matches else None
        arrow = f"->{match.key_tag}" if match else "->none"
        parts.append(f"{d.key_tag}/{d.algorithm}/{d.digest_type}{arrow}")
    return "; ".join(parts)


def phases(s: Snapshot, signed_data_before: set[str]) -> list[str]:
    """The rollover phases snapshot ``s`` shows; ``signed_data_before`` holds the keys that
    signed zone data in earlier runs (a key idle now is being retired if it did, else it is
    pre-published)."""
    if not s.child_seen:
        return ["unobserved"]
    live = [k for k in s.keys.values() if not k.revoked]
    if not live:
        return ["unsigned"]
    out: list[str] = []
    data_signers = [k for k in live if k.signs_data]
    idle_zsks = [k for k in live if not k.signing and not k.sep]
    if data_signers and any(k.key_id not in signed_data_before for k in idle_zsks):
        out.append("zsk_prepublish")
    per_alg: dict[int, int] = {}
    for k in data_signers:
        per_alg[k.algorithm] = per_alg.get(k.algorithm, 0) + 1
    if any(n > 1 for n in per_alg.values()):
        out.append("zsk_double_signature")
    if any(k.key_id in signed_data_before for k in idle_zsks):
        out.append("zsk_retire")
    if len({(d.key_tag, d.algorithm) for d in s.ds.values()}) > 1:
        out.append("ksk_double_ds")
    if sum(1 for k in live if k.sep) > 1:
        out.append("ksk_double_ksk")
    if any(k.revoked for k in s.keys.values()):
        out.append("ksk_revoked")
    if len(s.algorithms) > 1:
        out.append("algorithm_rollover")
    return out or ["stable"]


def timeline_from_snapshots(snaps: Iterable[Snapshot]) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.TIMELINE` frame of some snapshots."""
    rows = []
    for zone, lst in by_zone(snaps).items():
        before: set[str] = set()
        for s in lst:
            rows.append(
                {
                    "zone": zone,
                    "run_id": s.run_id,
                    "at": s.at,
                    "status": s.status,
                    "phases": ";".join(phases(s, before)),
                    "dnskeys": "; ".join(
                        _key_text(k) for k in sorted(s.keys.values(), key=lambda k: k.key_tag)
                    ),
                    "ds": _ds_text(s),
                }
            )
            before |= s.data_signers()
    return TIMELINE.frame(rows)


# --- per-key lifecycles -------------------------------------------------------------------


@dataclass
class _Life:
    """When a key (or a DS) was seen: first, last absent before that, removal, signing."""

    first_seen: pd.Timestamp | None = None
    absent_before: pd.Timestamp | None = None  # last observation without it, before first_seen
    removed_at: pd.Timestamp | None = None  # first observation without it, after being seen
    data_signs: list[pd.Timestamp] = field(default_factory=list)
    dnskey_signs: list[pd.Timestamp] = field(default_factory=list)
    idle: list[pd.Timestamp] = field(default_factory=list)  # published, signing nothing
    key: Key | None = None


@dataclass
class _Zone:
    keys: dict[str, _Life]
    ds: dict[str, _Life]  # by ds_id
    ds_key: dict[str, str]  # ds_id -> key_id it matched in some run
    child: list[Snapshot]
    parent: list[Snapshot]


def _lifecycles(lst: list[Snapshot]) -> _Zone:
    keys: dict[str, _Life] = {}
    ds: dict[str, _Life] = {}
    ds_key: dict[str, str] = {}
    child = [s for s in lst if s.child_seen]
    parent = [s for s in lst if s.parent_seen]
    for s in child:
        for kid, k in s.keys.items():
            life = keys.setdefault(kid, _Life())
            if life.first_seen is None:
                life.first_seen = s.at
            life.key = life.key or k
            if life.removed_at is not None:  # re-published: the removal did not last
                life.removed_at = None
            if k.signs_data:
                life.data_signs.append(s.at)
            if k.signs_dnskey:
                life.dnskey_signs.append(s.at)
            if not k.signing and not k.revoked:
                life.idle.append(s.at)
        for kid, life in keys.items():
            if kid not in s.keys and life.first_seen is not None and life.removed_at is None:
                life.removed_at = s.at
    for kid, life in keys.items():
        earlier = [s.at for s in child if s.at < life.first_seen and kid not in s.keys]
        life.absent_before = max(earlier) if earlier else None
    for s in parent:
        for ds_id, d in s.ds.items():
            life = ds.setdefault(ds_id, _Life())
            if life.first_seen is None:
                life.first_seen = s.at
            if life.removed_at is not None:
                life.removed_at = None
            if d.matches:
                ds_key[ds_id] = d.matches
        for ds_id, life in ds.items():
            if ds_id not in s.ds and life.first_seen is not None and life.removed_at is None:
                life.removed_at = s.at
    for ds_id, life in ds.items():
        earlier = [s.at for s in parent if s.at < life.first_seen and ds_id not in s.ds]
        life.absent_before = max(earlier) if earlier else None
    return _Zone(keys, ds, ds_key, child, parent)


# --- rollovers ------------------------------------------------------------------------------


def _ksk_method(z: _Zone, old: str, new: str) -> str:
    key_first = z.keys[new].first_seen
    ds_first = [
        first
        for i, k in z.ds_key.items()
        if k == new and (first := z.ds[i].first_seen) is not None  # set when the DS is seen
    ]
    first_ds = min(ds_first) if ds_first else None
    if first_ds is not None and key_first is not None:
        if first_ds < key_first:
            return "double-ds"
        if key_first < first_ds:
            return "double-ksk"
        old_life = z.keys[old]
        if old_life.removed_at is None or old_life.removed_at > key_first:
            return "double-rrset"
    return "unobserved"


def _zsk_method(z: _Zone, old: str, new: str) -> str:
    nl = z.keys[new]
    first_sign = min(nl.data_signs) if nl.data_signs else None
    if first_sign is not None and any(t < first_sign for t in nl.idle):
        return "pre-publication"
    old_signs = set(z.keys[old].data_signs)
    if any(t in old_signs for t in nl.data_signs):
        return "double-signature"
    return "unobserved"


def rollovers_from_snapshots(
    snaps: Iterable[Snapshot], window_days: Callable[[str], float] | float = DEFAULT_WINDOW_DAYS
) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.ROLLOVERS` frame of some snapshots.

    A rollover is seen when a key that signed in some role (the zone data: ZSK; the DNSKEY
    set: KSK; both: CSK) stops doing so while another key does it. ``window_days`` is the
    policy's rollover window, a number or a function of the zone.
    """
    rows: list[dict[str, Any]] = []
    for zone, lst in by_zone(snaps).items():
        z = _lifecycles(lst)
        pairs: dict[tuple[str, str], set[str]] = {}
        for prev, cur in zip(z.child, z.child[1:], strict=False):
            for role, get in (("zsk", Snapshot.data_signers), ("ksk", Snapshot.dnskey_signers)):
                before, after = get(prev), get(cur)
                gone = before - after
                came = after - before
                if not gone:
                    continue
                successors = came or (after - gone)
                for old in gone:
                    for new in successors:
                        if new != old:
                            pairs.setdefault((old, new), set()).add(role)
        window = window_days(zone) if callable(window_days) else float(window_days)
        for (old, new), roles in pairs.items():
            ol, nl = z.keys[old], z.keys[new]
            assert ol.key is not None and nl.key is not None
            if ol.key.algorithm != nl.key.algorithm:
                kind = "algorithm"
            elif roles == {"zsk", "ksk"}:
                kind = "csk"
            else:
                kind = next(iter(roles))
            starts = [nl.first_seen]
            if kind != "zsk":
                starts += [z.ds[i].first_seen for i, k in z.ds_key.items() if k == new]
            started = min(t for t in starts if t is not None)
            ends: list[pd.Timestamp | None] = [ol.removed_at]
            if kind != "zsk":
                ends += [z.ds[i].removed_at for i, k in z.ds_key.items() if k == old]
            done = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
            method = _zsk_method(z, old, new) if kind == "zsk" else _ksk_method(z, old, new)
            duration = (done - started).total_seconds() / 86400 if done is not None else None
            rows.append(
                {
                    "zone": zone,
                    "kind": kind,
                    "method": method,
                    "old_key_tag": ol.key.key_tag,
                    "new_key_tag": nl.key.key_tag,
                    "started_at": started,
                    "completed_at": done,
                    "duration_days": round(duration, 3) if duration is not None else None,
                    "window_days": window,
                    "within_window": None if duration is None else duration <= window,
                    "status": "completed" if done is not None else "in_progress",
                }
            )
    df = ROLLOVERS.frame(rows)
    return df.sort_values(["zone", "started_at"], kind="stable").reset_index(drop=True)


def load_rollovers(
    store: Store,
    until: str = "latest",
    window_days: float = DEFAULT_WINDOW_DAYS,
    *,
    zones: Sequence[str] | None = None,
    verify: bool = True,
) -> pd.DataFrame:
    """The rollovers (schema :data:`~toolkit.history.frames.ROLLOVERS`) seen across every
    stored run up to and including run ``until`` that holds ``zones`` and ``records`` (a
    damaged run is left out), read in one scan (hashes checked first, unless ``verify`` is
    False); only the rows of ``zones`` when given (a zone's rollovers depend on its own rows
    only). Raises StoreError when ``until`` names no run or a run's files were altered."""
    from toolkit.history.load import load_history, read_manifest

    last = store.resolve(until)
    listed = store.list_runs()
    ids = list(listed["run_id"])
    damaged = set(listed.loc[listed["status"].str.startswith("damaged"), "run_id"])
    ids = [
        r
        for r in ids[: ids.index(last) + 1]
        if r not in damaged
        and {"zones.parquet", "records.parquet"} <= set(read_manifest(store.runs_dir / r)["files"])
    ]
    history = load_history(
        store.workspace, run_ids=ids, frames=("zones", "records"), zones=zones, verify=verify
    )
    if history["zones"].empty:
        return ROLLOVERS.empty()
    return rollovers_from_snapshots(snapshots(history["zones"], history["records"]), window_days)


POLICY_METHOD = {"zsk": "zsk_rollover_method", "ksk": "ksk_rollover_method",
                 "csk": "ksk_rollover_method"}  # fmt: skip
"""The policy.yaml key a rollover of each kind is judged against (RFC 6781 §4.1.1 ZSK
methods, §4.1.2 KSK methods). A CSK rollover changes the key the DS points at, so the DS side
decides its method (RFC 7583 §3.3.4: double-DS, double-KSK or double-RRset, as for a KSK). An
algorithm rollover follows its own procedure (RFC 6781 §4.1.4) and is not judged by them."""


@dataclass(frozen=True)
class MethodVerdict:
    """One rollover judged against the method the policy states: ``seen`` is the method the
    runs showed (``unobserved``: the steps fell between two runs, not judged)."""

    kind: str
    old_key_tag: int
    new_key_tag: int
    started_at: pd.Timestamp
    seen: str
    expected: str

    @property
    def judged(self) -> bool:
        return self.seen != "unobserved"

    @property
    def matches(self) -> bool:
        return self.seen == self.expected

    def text(self) -> str:
        return (
            f"{self.kind.upper()} rollover {self.old_key_tag} -> {self.new_key_tag} started "
            f"{self.started_at:%Y-%m-%d}: {self.seen}"
        )


def rollover_methods(rows: Iterable[dict[str, Any]], policy: SigningPolicy) -> list[MethodVerdict]:
    """The rollovers of ``rows`` (plain rows of a ROLLOVERS frame, one zone's) that a policy
    method applies to (:data:`POLICY_METHOD`), each with the method the runs showed and the
    one ``policy`` states; oldest first."""
    out = []
    for r in rows:
        key = POLICY_METHOD.get(str(r["kind"]))
        if key is None:
            continue
        out.append(
            MethodVerdict(
                kind=str(r["kind"]),
                old_key_tag=int(r["old_key_tag"]),
                new_key_tag=int(r["new_key_tag"]),
                started_at=pd.Timestamp(r["started_at"]),
                seen=str(r["method"]),
                expected=str(getattr(policy, key)),
            )
        )
    return sorted(out, key=lambda v: (v.started_at, v.kind, v.new_key_tag))


# --- timing faults ------------------------------------------------------------------------


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _fault(s: Snapshot, fault: str, key_tag: int | None, detail: str) -> dict[str, Any]:
    return {
        "zone": s.zone,
        "run_id": s.run_id,
        "at": s.at,
        "fault": fault,
        "key_tag": key_tag,
        "severity": SEVERITY[fault],
        "detail": detail,
        "reference": REFERENCES[fault],
    }


def _trusted(ds_snap: Snapshot, key_snap: Snapshot) -> set[str]:
    """Keys of ``key_snap`` signing the DNSKEY set that a DS of ``ds_snap`` points at."""
    pointed = {d.matches for d in ds_snap.ds.values() if d.matches}
    return key_snap.dnskey_signers() & pointed


def faults_from_snapshots(snaps: Iterable[Snapshot]) -> pd.DataFrame:
    """The :data:`~toolkit.history.frames.FAULTS` frame of some snapshots (see the module
    docstring for the faults and their references)."""
    rows: list[dict[str, Any]] = []
    for _zone, lst in by_zone(snaps).items():
        z = _lifecycles(lst)
        last_child: Snapshot | None = None
        last_parent: Snapshot | None = None
        for s in lst:
            keys_now = s if s.child_seen else last_child
            if s.parent_seen and last_parent is not None and keys_now is not None:
                rows += _ds_faults(last_parent, s, keys_now, last_child or keys_now)
            if s.child_seen and last_child is not None:
                rows += _key_faults(z, last_child, s, s if s.parent_seen else last_parent)
            if s.child_seen:
                last_child = s
            if s.parent_seen:
                last_parent = s
    df = FAULTS.frame(rows)
    return df.sort_values(["zone", "at"], kind="stable").reset_index(drop=True)


def _ds_faults(
    prev: Snapshot, cur: Snapshot, keys_now: Snapshot, keys_before: Snapshot
) -> list[dict[str, Any]]:
    removed = [d for i, d in prev.ds.items() if i not in cur.ds]
    if not removed or not cur.ds:  # no DS left at all: the zone goes insecure on purpose
        return []
    # ``matches`` of the current DS were computed against the current keys
    if not _trusted(prev, keys_before) or _trusted(cur, keys_now):
        return []
    signers = sorted(k.key_tag for k in keys_now.keys.values() if k.signs_dnskey)
    left = ", ".join(f"{d.key_tag}/{d.algorithm}/{d.digest_type}" for d in cur.ds.values())
    return [
        _fault(
            cur,
            "ds_withdrawn_sole_match",
            d.key_tag,
            f"DS {d.key_tag}/{d.algorithm}/{d.digest_type} withdrawn while it was the only DS "
            f"matching a key that signs the DNSKEY set; the DS left ({left}) match none of the "
            f"signing keys ({', '.join(map(str, signers)) or 'none'})",
        )
        for d in removed
    ]


def _key_faults(
    z: _Zone, prev: Snapshot, cur: Snapshot, parent_now: Snapshot | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kid, k in prev.keys.items():
        if kid in cur.keys:
            continue
        life = z.keys[kid]
        # a zone-signing key removed too soon after it last signed
        last_sign = max((t for t in life.data_signs if t <= prev.at), default=None)
        ttl = max(prev.max_sig_ttl, 0)
        if last_sign is not None and ttl:
            since = (cur.at - last_sign).total_seconds()
            if since < ttl:
                rows.append(
                    _fault(
                        cur,
                        "key_removed_before_ttl",
                        k.key_tag,
                        f"key {k.key_tag} signed zone data at {last_sign:%Y-%m-%d %H:%M} and "
                        f"was gone by {cur.at:%Y-%m-%d %H:%M} ({_hours(since)}), less than the "
                        f"signatures' TTL ({_hours(ttl)})",
                    )
                )
        # a KSK removed before the DS now carrying the chain had outlived its TTL
        if k.signs_dnskey and parent_now is not None:
            carrying = [
                d
                for d in parent_now.ds.values()
                if d.matches in cur.dnskey_signers() and d.matches != kid
            ]
            ds_ttl = max([d.ttl for d in carrying] or [0])
            ages = []
            for d in carrying:
                absent = z.ds[d.ds_id].absent_before
                ages.append(None if absent is None else (cur.at - absent).total_seconds())
            if carrying and ds_ttl and all(a is not None and a < ds_ttl for a in ages):
                newest = max(a for a in ages if a is not None)
                rows.append(
                    _fault(
                        cur,
                        "ksk_removed_before_ds_ttl",
                        k.key_tag,
                        f"KSK {k.key_tag} removed at most {_hours(newest)} after the DS of its "
                        f"successor appeared at the parent, less than the DS TTL "
                        f"({_hours(ds_ttl)})",
                    )
                )
    before, after = prev.data_signers(), cur.data_signers()
    if before and after and not (before & after):
        for kid in after:
            absent = z.keys[kid].absent_before
            ttl = cur.dnskey_ttl
            if absent is not None and ttl and (cur.at - absent).total_seconds() < ttl:
                k = cur.keys[kid]
                rows.append(
                    _fault(
                        cur,
                        "key_used_before_ttl",
                        k.key_tag,
                        f"signing switched entirely to key {k.key_tag}, published at most "
                        f"{_hours((cur.at - absent).total_seconds())} earlier, less than the "
                        f"DNSKEY TTL ({_hours(ttl)})",
                    )
                )
    if prev.algorithms != cur.algorithms and cur.algorithms:
        for alg in sorted(cur.algorithms):
            missing = sorted(t for t, algs in cur.sig_algorithms.items() if alg not in algs)
            if missing:
                tag = next(k.key_tag for k in cur.keys.values() if k.algorithm == alg)
                rows.append(
                    _fault(
                        cur,
                        "algorithm_not_double_signed",
                        tag,
                        f"DNSKEY algorithms changed {sorted(prev.algorithms)} -> "
                        f"{sorted(cur.algorithms)} but {', '.join(missing)} carry no signature "
                        f"of algorithm {alg}",
                    )
                )
    return rows
