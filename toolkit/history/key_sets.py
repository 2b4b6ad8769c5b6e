"""The one key history: which DNSKEY and DS records each stored run observed, per zone.

**What "observed" means** (the single definition every key view of the toolkit uses: the
ticket reconciliation of :mod:`toolkit.history.reconcile`, the alerts of
:mod:`toolkit.alerts.rules`, the checks, and the history views built on
:mod:`toolkit.history.snapshots` — changes, timeline, rollovers, faults):

* A zone has two *sides*: its DNSKEY RRset as its own servers serve it (records of source
  ``child``) and its DS RRset as the parent publishes it (records of source ``parent``).
* A side is **observed** in a run when the run recorded one of its records (any server or
  answer of that run showed a DNSKEY, resp. a DS, of the zone), or when the run got an answer
  for it (``zones.signed``, resp. ``zones.has_ds``, is known) and decided the zone's status
  (not ``indeterminate``). A side observed with no record is *observed empty*.
* A side not observed in a run (no server answered, or the zone does not exist or could not
  be judged) says nothing about its keys: the run is skipped for that side, so "not seen" is
  never read as "removed".
* A record (a DNSKEY or DS, identified by its rdata) is **observed in a run** when that run
  observed the side and recorded the record; its *first/last observed* are the first/last
  such runs (:func:`observed_span`).

:func:`observed_sides` is that definition, applied once per zone and run; everything else
derives from it, frames in and frames out:

1. :func:`key_sets_of_runs` / :func:`observed_key_sets` — the records of each observed side
   (schema :data:`KEY_SETS`), deduplicated across servers; an observed-empty side is one
   marker row with a null ``rdata``.
2. :func:`key_set_changes` — per zone and record type, each observed set against the previous
   observed one: every record added or removed (schema :data:`KEY_CHANGES`). The ticket
   reconciliation and the ``unapproved_change`` alert read this.
3. :func:`toolkit.history.snapshots.snapshots` — the per-run view with key identities, roles
   and signers (``child_seen``/``parent_seen`` are the two sides above) from which the history
   views (:data:`~toolkit.history.frames.CHANGES`, timeline, rollovers, faults) are derived.

:func:`load_key_history` is the thin I/O edge that feeds step 1 from a :class:`Store`;
:func:`history_key_sets` does the same from a loaded :class:`~toolkit.history.History`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pandas as pd

from toolkit.history.load import History, load_history, read_manifest
from toolkit.schemas import UTC_TS, Column, FrameSchema
from toolkit.store.runs import Store

KEY_SETS = FrameSchema(
    "key_sets",
    "One row per DNSKEY (as served by the zone) and DS (as published by the parent) record of "
    "each inventory zone and run; a row with null `rdata` marks a set observed empty.",
    (
        Column("run_id", "string", "the run"),
        Column("observed_at", UTC_TS, "the run's time"),
        Column("zone", "string", "inventory zone"),
        Column("rrtype", "string", "DNSKEY | DS"),
        Column("key_tag", "Int64", "key tag (DS: of the key it points at)"),
        Column("algorithm", "Int64", "DNSSEC algorithm"),
        Column("flags", "Int64", "DNSKEY flags (257 KSK, 256 ZSK)"),
        Column("digest_type", "Int64", "DS digest type"),
        Column("rdata", "string", "the record's data; null: the set was observed empty"),
    ),
)

KEY_CHANGES = FrameSchema(
    "key_changes",
    "One row per DNSKEY or DS record that appeared or disappeared between two consecutive "
    "runs in which the zone's set was observed.",
    (
        Column("zone", "string", "inventory zone"),
        Column("rrtype", "string", "DNSKEY | DS"),
        Column("change", "string", "added | removed"),
        Column("key_tag", "Int64", "key tag"),
        Column("algorithm", "Int64", "DNSSEC algorithm"),
        Column("flags", "Int64", "DNSKEY flags"),
        Column("digest_type", "Int64", "DS digest type"),
        Column("rdata", "string", "the record's data"),
        Column("before_run", "string", "last run before the change"),
        Column("before_at", UTC_TS, "its time: the change happened after it"),
        Column("after_run", "string", "first run showing the change"),
        Column("after_at", UTC_TS, "its time: the change happened before it"),
    ),
)

SIDES = {"DNSKEY": ("child", "signed"), "DS": ("parent", "has_ds")}
"""Per record type, the side it is read from: the records' ``source`` and the ``zones`` column
that says the side got an answer."""


def observed_sides(zones: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Which sides of each zone each run observed: the definition of "observed" (see the
    module docstring), applied to every row of ``zones``.

    ``zones`` and ``records`` hold the rows of one or many runs, with a ``run_id`` column
    (schemas ZONES and RECORDS otherwise). Returns one row per row of ``zones``, in its order:
    ``run_id``, ``zone``, and per record type of :data:`SIDES` a boolean column (``DNSKEY``,
    ``DS``) that is true when the run observed that side of the zone.
    """
    run = ["run_id", "zone"]
    status = zones["status"].astype(object)
    decided = (status.notna() & (status != "indeterminate")).to_numpy(dtype=bool)
    out = zones[run].reset_index(drop=True)
    here = pd.MultiIndex.from_frame(out)
    for rrtype, (source, flag) in SIDES.items():
        shown = records.loc[(records["rrtype"] == rrtype) & (records["source"] == source), run]
        recorded = here.isin(pd.MultiIndex.from_frame(shown.drop_duplicates()))
        answered = zones[flag].notna().to_numpy(dtype=bool)
        out[rrtype] = recorded | (answered & decided)
    return out


def observed_key_sets(
    run_id: str, observed_at: pd.Timestamp, zones: pd.DataFrame, records: pd.DataFrame
) -> pd.DataFrame:
    """The DNSKEY and DS sets one run observed of its inventory zones (schema
    :data:`KEY_SETS`); ``zones`` and ``records`` are the run's frames (schemas ZONES and
    RECORDS)."""
    run = {"run_id": run_id, "run_at": observed_at}
    return key_sets_of_runs(zones.assign(**run), records.assign(**run))


def key_sets_of_runs(zones: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """:func:`observed_key_sets` of many runs at once: ``zones`` and ``records`` hold the rows
    of every run with two more columns, ``run_id`` and ``run_at`` (as
    :func:`toolkit.history.load_history` gives them). Rows come in run order (``run_at``,
    then ``run_id``), then by zone, type, key tag and rdata."""
    run = ["run_id", "zone"]
    sides = observed_sides(zones, records)
    at = zones[["run_id", "run_at"]].drop_duplicates("run_id")
    parts: list[pd.DataFrame] = []
    for rrtype, (source, _flag) in SIDES.items():
        observed = sides.loc[sides[rrtype], run].drop_duplicates()
        recs = records[(records["rrtype"] == rrtype) & (records["source"] == source)]
        recs = recs[[*run, "key_tag", "algorithm", "flags", "digest_type", "rdata"]]
        recs = recs.merge(observed, on=run).drop_duplicates([*run, "rdata"])
        parts.append(recs.assign(rrtype=rrtype))
        empty = observed.merge(recs[run].drop_duplicates(), on=run, how="left", indicator=True)
        parts.append(empty.loc[empty["_merge"] == "left_only", run].assign(rrtype=rrtype))
    out = pd.concat(parts, ignore_index=True).merge(at, on="run_id", how="left")
    out = out.rename(columns={"run_at": "observed_at"})
    out = KEY_SETS.cast(out).sort_values(
        ["observed_at", "run_id", "zone", "rrtype", "key_tag", "rdata"], kind="stable"
    )
    return out.reset_index(drop=True)


def history_key_sets(history: History, run_ids: Collection[str] | None = None) -> pd.DataFrame:
    """The key sets (schema :data:`KEY_SETS`) of a loaded history's runs (its ``zones`` and
    ``records`` frames), or of those of its runs in ``run_ids``."""
    zones, records = history["zones"], history["records"]
    if run_ids is not None:
        zones = zones[zones["run_id"].isin(list(run_ids))]
        records = records[records["run_id"].isin(list(run_ids))]
    if zones.empty:
        return KEY_SETS.empty()
    return key_sets_of_runs(zones, records)


def key_set_changes(key_sets: pd.DataFrame) -> pd.DataFrame:
    """Records added or removed between consecutive observations (schema :data:`KEY_CHANGES`).

    ``key_sets`` holds any number of runs (schema :data:`KEY_SETS`). For each zone and record
    type the runs in which the set was observed are taken in time order, and each is compared
    with the one before: a record (identified by its rdata) present only in the later set was
    added, one present only in the earlier set was removed.
    """
    if key_sets.empty:
        return KEY_CHANGES.empty()
    key = ["zone", "rrtype"]
    # Each observation (zone, type, run) and the observation before it, in time order.
    obs = (
        key_sets[[*key, "run_id", "observed_at"]]
        .drop_duplicates([*key, "run_id"])
        .sort_values([*key, "observed_at", "run_id"], kind="stable")
    )
    obs["before_run"] = obs.groupby(key, sort=False)["run_id"].shift()
    obs["before_at"] = obs.groupby(key, sort=False)["observed_at"].shift()
    pairs = obs.dropna(subset=["before_run"]).rename(
        columns={"run_id": "after_run", "observed_at": "after_at"}
    )
    members = key_sets.dropna(subset=["rdata"])
    cols = ["key_tag", "algorithm", "flags", "digest_type"]
    out = []
    for change, side, other in (
        ("added", "after_run", "before_run"),
        ("removed", "before_run", "after_run"),
    ):
        mine = pairs.merge(
            members[[*key, "run_id", "rdata", *cols]].rename(columns={"run_id": side}),
            on=[*key, side],
        )
        theirs = members[[*key, "run_id", "rdata"]].rename(columns={"run_id": other})
        both = mine.merge(theirs, on=[*key, other, "rdata"], how="left", indicator=True)
        out.append(both[both["_merge"] == "left_only"].drop(columns="_merge").assign(change=change))
    changes = pd.concat(out, ignore_index=True)
    changes = changes.sort_values(
        [*key, "after_at", "after_run", "change", "rdata"],
        ascending=[True, True, True, True, False, True],
        kind="stable",
    )
    return KEY_CHANGES.cast(changes.reset_index(drop=True))


def latest_sets(key_sets: pd.DataFrame) -> pd.DataFrame:
    """The rows of each zone's and type's most recent observation in ``key_sets``."""
    if key_sets.empty:
        return key_sets
    last = key_sets.groupby(["zone", "rrtype"])["observed_at"].transform("max")
    return key_sets[key_sets["observed_at"] == last].reset_index(drop=True)


def observed_span(
    key_sets: pd.DataFrame, by: Sequence[str] = ("zone", "rrtype", "rdata")
) -> pd.DataFrame:
    """When each record was first and last observed (see the module docstring): one row per
    distinct ``by`` (default: the record itself, zone, type and rdata; the manifest
    reconciliation asks per ``("zone", "key_tag")``) with ``first_observed`` and
    ``last_observed``, the times of the first and last runs that observed the side and
    recorded the record. Observed-empty marker rows (null ``rdata``) are not records."""
    cols = [*by, "first_observed", "last_observed"]
    members = key_sets.dropna(subset=["rdata"])
    if members.empty:
        return pd.DataFrame({c: pd.Series(dtype=key_sets[c].dtype) for c in by}).assign(
            first_observed=pd.Series(dtype=key_sets["observed_at"].dtype),
            last_observed=pd.Series(dtype=key_sets["observed_at"].dtype),
        )[cols]
    span = members.groupby(list(by), sort=True)["observed_at"].agg(["min", "max"])
    span = span.rename(columns={"min": "first_observed", "max": "last_observed"})
    return span.reset_index()[cols]


def load_key_history(
    store: Store,
    until: str = "latest",
    *,
    zones: Sequence[str] | None = None,
    verify: bool = True,
) -> pd.DataFrame:
    """The key sets of every stored run up to and including run ``until`` (KEY_SETS schema),
    read in one scan of the runs' ``zones`` and ``records`` files (hashes checked first);
    only the rows of ``zones`` when given (the filter is pushed into DuckDB's scan: one
    partition of a large portfolio at a time). ``verify`` False skips the hashes (a caller
    that checked them once, e.g. the streaming assessment reading partition after partition).

    Raises StoreError when ``until`` names no run or a run's files were altered.
    """
    last = store.resolve(until)
    listed = store.list_runs()
    ids = list(listed["run_id"])
    damaged = set(listed.loc[listed["status"].str.startswith("damaged"), "run_id"])
    ids = [  # a run without both frames observed no key set (a damaged run: left out)
        r
        for r in ids[: ids.index(last) + 1]
        if r not in damaged
        and {"zones.parquet", "records.parquet"} <= set(read_manifest(store.runs_dir / r)["files"])
    ]
    history = load_history(
        store.workspace, run_ids=ids, frames=("zones", "records"), zones=zones, verify=verify
    )
    return history_key_sets(history)
