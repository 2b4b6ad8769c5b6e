"""Signing across runs: which signatures each run saw (to judge re-signing against the
policy's refresh interval) and how long a zone's CDS/CDNSKEY has asked the parent for the same
change (to judge a stalled DS update).

Two pure reductions, frames of many runs in (each row with ``run_id`` and ``run_at``, as
:func:`toolkit.history.load_history` gives them), frames out:

* :func:`signature_sightings` — per run, zone, signature (owner, type, key, inception,
  expiration) and server the time it was last seen (schema :data:`SIGHTINGS`);
* :func:`cds_states` — per run and zone, the CDS/CDNSKEY set it published and whether it
  differed from the parent's DS (schema :data:`CDS_STATES`);

and two judgements over them, :func:`late_signatures` and :func:`pending_since`.
:func:`load_signing_history` is the I/O edge that feeds both from a :class:`Store` in one scan
per frame, reading only the columns needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from toolkit.schemas import CDS, DS_MATCHES, SIGNATURES, UTC_TS, ZONES, Column, FrameSchema
from toolkit.store.runs import Store

LOOKBACK_DAYS = 92.0
"""How far back (a quarter, the assessment cycle) re-signing is judged: an old late refresh
that was since put right does not fail today's assessment."""

CDS_STALE_DAYS = 7.0
"""A CDS/CDNSKEY request unanswered longer than this is stale: parents that scan (RFC 7344
§6, RFC 9615) do so at least daily, so a week means the parent is not acting on it."""

SIGHTINGS = FrameSchema(
    "signature_sightings",
    "One row per run, zone, signature (RRSIG of the zone's own RRsets) and server the run saw "
    "it at: when it was last seen there in that run.",
    (
        Column("run_id", "string", "the run"),
        Column("observed_at", UTC_TS, "the run's time"),
        Column("zone", "string", "inventory zone"),
        Column("owner", "string", "owner name of the RRset signed"),
        Column("covered_type", "string", "type of the RRset signed"),
        Column("key_tag", "Int64", "key tag of the signing key"),
        Column("algorithm", "Int64", "algorithm"),
        Column("inception", UTC_TS, "signature inception"),
        Column("expiration", UTC_TS, "signature expiration"),
        Column("server", "string", "the server that served it"),
        Column("seen_at", UTC_TS, "last time the run received it there (else the run's time)"),
    ),
)

CDS_STATES = FrameSchema(
    "cds_states",
    "One row per run and zone whose CDS/CDNSKEY (or their absence) the run observed: the "
    "records other than delete requests, and whether they asked the parent for a change.",
    (
        Column("run_id", "string", "the run"),
        Column("observed_at", UTC_TS, "the run's time"),
        Column("zone", "string", "inventory zone"),
        Column("records", "string", "CDS/CDNSKEY records, sorted, `|`-joined (empty: none)"),
        Column(
            "pending",
            "boolean",
            "they differ from the parent's DS: a record without its DS, or a DS key no record "
            "names (null: could not be compared)",
        ),
    ),
)

_SIG_COLUMNS = ("zone", "side", "server", "owner", "covered_type", "key_tag", "algorithm",
                "inception", "expiration", "queried_at")  # fmt: skip
_CDS_COLUMNS = ("zone", "server", "rrtype", "rdata", "key_tag", "algorithm", "delete",
                "matches_ds")  # fmt: skip
_SIG_KEY = ["run_id", "zone", "owner", "covered_type", "key_tag", "algorithm", "inception",
            "expiration"]  # fmt: skip


def signature_sightings(signatures: pd.DataFrame) -> pd.DataFrame:
    """The signatures each run saw (schema :data:`SIGHTINGS`), from ``signatures`` rows of
    many runs (schema SIGNATURES plus ``run_id`` and ``run_at``). Only the zone's own RRsets
    (side ``child``) with an inception count; one row per signature, run and server (the
    last time it came; vectorised: no per-group Python). Rows come in run order, then by
    zone, owner, type, key, inception and server."""
    sig = signatures[(signatures["side"] == "child") & signatures["inception"].notna()]
    if sig.empty:
        return SIGHTINGS.empty()
    sig = sig.assign(seen_at=sig["queried_at"].where(sig["queried_at"].notna(), sig["run_at"]))
    sig = sig.sort_values("seen_at", kind="stable").drop_duplicates(
        [*_SIG_KEY, "server"], keep="last"
    )
    out = SIGHTINGS.cast(sig.rename(columns={"run_at": "observed_at"})).sort_values(
        ["observed_at", "run_id", "zone", "owner", "covered_type", "key_tag", "inception",
         "server"],
        kind="stable",
    )  # fmt: skip
    return out.reset_index(drop=True)


def cds_states(cds: pd.DataFrame, ds_matches: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    """Each run's CDS/CDNSKEY state per zone (schema :data:`CDS_STATES`), from ``cds``,
    ``ds_matches`` and ``zones`` rows of many runs (their schemas plus ``run_id`` and
    ``run_at``). A zone the run probed (``signed`` known) without CDS/CDNSKEY is a row with
    empty ``records`` and ``pending`` False; a zone publishing only a delete request likewise
    (see ``cds_delete_while_ds``); an unprobed zone has no row."""
    run = ["run_id", "zone"]
    at = dict(zip(zones["run_id"], zones["run_at"], strict=False))
    normal = cds[~cds["delete"].fillna(False).astype(bool)]
    ds_keys: dict[tuple[str, str], set] = {}
    for r in ds_matches[[*run, "key_tag", "algorithm"]].itertuples(index=False):
        ds_keys.setdefault((r.run_id, r.zone), set()).add((r.key_tag, r.algorithm))
    rows = []
    for (run_id, zone), part in normal.groupby(run, sort=False):
        records = "|".join(sorted(set(f"{t} {d}" for t, d in zip(part["rrtype"], part["rdata"],
                                                                   strict=True))))  # fmt: skip
        named: dict[str, set] = {}
        for r in part.itertuples(index=False):
            named.setdefault(r.server, set()).add((r.key_tag, r.algorithm))
        have = ds_keys.get((run_id, zone), set())
        add = (part["matches_ds"] == False).any()  # noqa: E712 (nullable boolean)
        remove = bool(have) and any(have - keys for keys in named.values())
        unknown = part["matches_ds"].isna().any()
        pending = True if (add or remove) else (None if unknown else False)
        rows.append({"run_id": run_id, "zone": zone, "records": records, "pending": pending})
    seen = {(r["run_id"], r["zone"]) for r in rows}
    probed = zones.loc[zones["signed"].notna(), run].drop_duplicates()
    for run_id, zone in probed.itertuples(index=False):
        if (run_id, zone) not in seen:
            rows.append({"run_id": run_id, "zone": zone, "records": "", "pending": False})
    out = CDS_STATES.frame({**r, "observed_at": at.get(r["run_id"])} for r in rows)
    out = out.sort_values(["observed_at", "run_id", "zone"], kind="stable")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class LateSignature:
    """A signature still served after the policy said it should have been replaced."""

    owner: str
    covered_type: str
    key_tag: int | None
    inception: pd.Timestamp
    due: pd.Timestamp
    runs: tuple[tuple[str, pd.Timestamp, float], ...]  # (run, seen at, age in days)
    servers: str  # the servers that served it late, `;`-joined


def late_signatures(
    sightings: Sequence[dict], used_days: float, slack_days: float = 0.0
) -> list[LateSignature]:
    """The signatures of ``sightings`` (plain rows of :data:`SIGHTINGS`, one zone) seen more
    than ``used_days`` (+ ``slack_days``) after their inception, each with the runs that saw
    them late, oldest first."""
    limit = pd.Timedelta(days=used_days + slack_days)
    late: dict[tuple, dict[str, tuple[str, pd.Timestamp, float]]] = {}
    servers: dict[tuple, set[str]] = {}
    for r in sightings:
        age = r["seen_at"] - r["inception"]
        if age > limit:
            key = (r["owner"], r["covered_type"], r["key_tag"], r["inception"])
            runs = late.setdefault(key, {})  # per run, its latest sighting (any server)
            seen = (str(r["run_id"]), r["seen_at"], age.total_seconds() / 86400)
            if seen[0] not in runs or seen[1] > runs[seen[0]][1]:
                runs[seen[0]] = seen
            servers.setdefault(key, set()).add(str(r["server"]))
    return [
        LateSignature(
            owner=key[0],
            covered_type=key[1],
            key_tag=key[2],
            inception=key[3],
            due=key[3] + pd.Timedelta(days=used_days),
            runs=tuple(sorted(runs.values(), key=lambda x: x[1])),
            servers=";".join(sorted(servers[key] - {""})),
        )
        for key, runs in sorted(late.items(), key=lambda kv: (kv[0][3], kv[0][1]))
    ]


@dataclass(frozen=True)
class Pending:
    """How long the current CDS/CDNSKEY request has been seen unanswered: first and last run
    that showed it, and the last earlier run that did not (None: no earlier observation)."""

    records: str
    first_run: str
    first_at: pd.Timestamp
    last_run: str
    last_at: pd.Timestamp
    before_run: str | None
    before_at: pd.Timestamp | None
    runs: int

    @property
    def age_days(self) -> float:
        """Days it was proven pending (first to last run showing it): a lower bound."""
        return (self.last_at - self.first_at).total_seconds() / 86400

    @property
    def max_age_days(self) -> float | None:
        """Days it may have been pending (since the last run without it); None: unbounded."""
        if self.before_at is None:
            return None
        return (self.last_at - self.before_at).total_seconds() / 86400


def pending_since(states: Sequence[dict]) -> Pending | None:
    """The current pending request of one zone's ``states`` (plain rows of
    :data:`CDS_STATES`, oldest first): the newest row's records if pending, followed back over
    the runs that showed the same records pending; None when the newest row is not pending."""
    if not states or states[-1]["pending"] is not True:
        return None
    last = states[-1]
    first, before, n = last, None, 0
    for r in reversed(states):
        if r["pending"] is True and r["records"] == last["records"]:
            first, n = r, n + 1
        else:
            before = r
            break
    return Pending(
        records=str(last["records"]),
        first_run=str(first["run_id"]),
        first_at=first["observed_at"],
        last_run=str(last["run_id"]),
        last_at=last["observed_at"],
        before_run=None if before is None else str(before["run_id"]),
        before_at=None if before is None else before["observed_at"],
        runs=n,
    )


def load_signing_history(
    store: Store,
    until: str = "latest",
    *,
    since: datetime | None = None,
    zones: Sequence[str] | None = None,
    verify: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:data:`SIGHTINGS` of the stored runs up to and including ``until`` made at or after
    ``since`` (all when None), and :data:`CDS_STATES` of every run up to ``until``; each frame
    read in one scan of only the columns needed (hashes checked first, unless ``verify`` is
    False; damaged runs left out); only the rows of ``zones`` when given. Raises StoreError
    when ``until`` names no run or a run's files were altered."""
    from toolkit.history.load import load_history

    last = store.resolve(until)
    listed = store.list_runs()
    listed = listed.iloc[: list(listed["run_id"]).index(last) + 1]
    listed = listed[~listed["status"].str.startswith("damaged")]
    ids = list(listed["run_id"])
    recent = ids
    if since is not None:
        recent = list(listed.loc[listed["created_at"] >= pd.Timestamp(since), "run_id"])
    sig = load_history(
        store.workspace,
        run_ids=recent,
        frames=("signatures",),
        columns={"signatures": _SIG_COLUMNS},
        zones=zones,
        verify=verify,
    )["signatures"]
    h = load_history(
        store.workspace,
        run_ids=ids,
        frames=("cds", "ds_matches", "zones"),
        columns={
            "cds": _CDS_COLUMNS,
            "ds_matches": ("zone", "key_tag", "algorithm"),
            "zones": ("zone", "signed"),
        },
        zones=zones,
        verify=verify,
    )
    return signature_sightings(sig), cds_states(h["cds"], h["ds_matches"], h["zones"])


def run_signing(run_id: str, at: pd.Timestamp, frames: dict[str, pd.DataFrame]) -> tuple[
    pd.DataFrame, pd.DataFrame
]:  # fmt: skip
    """:func:`signature_sightings` and :func:`cds_states` of one run's own frames (a context
    without the history)."""
    run = {"run_id": run_id, "run_at": at}

    def get(name: str, schema: FrameSchema) -> pd.DataFrame:
        df = frames.get(name)
        return (df if df is not None else schema.empty()).assign(**run)

    return (
        signature_sightings(get("signatures", SIGNATURES)),
        cds_states(get("cds", CDS), get("ds_matches", DS_MATCHES), get("zones", ZONES)),
    )
