"""History across runs: loading spans of runs, diffs, rollover phases and timing faults, last
known-good sets and trends — on hand-built frames (real keys, real DS digests), and through
the store. The same functions on real drill timelines: tests/test_drills.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dns.dnssec
import dns.rdata
import pandas as pd
import pytest

from toolkit import history
from toolkit.errors import StoreError
from toolkit.history import History
from toolkit.history.frames import RUNS
from toolkit.lab import zones as labzones
from toolkit.schemas import FINDINGS, INVENTORY, RECORDS, RESOLVER_CHECKS, ZONES
from toolkit.store.runs import Store

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ZONE = "example.test"
SERVERS = ("192.0.2.1", "192.0.2.2")
PARENT = "192.0.2.53"


def _key(name: str, flags: int, algorithm: int = 13) -> labzones.SigningKey:
    return labzones.new_key(flags, seed=f"test-history/{name}", algorithm=algorithm)


KEYS = {
    "ksk1": _key("ksk1", 257),
    "ksk2": _key("ksk2", 257),
    "zsk1": _key("zsk1", 256),
    "zsk2": _key("zsk2", 256),
    "edksk": _key("edksk", 257, 15),
    "edzsk": _key("edzsk", 256, 15),
}


def dnskey(name: str, revoked: bool = False) -> dns.rdata.Rdata:
    key = KEYS[name].dnskey
    return key.replace(flags=key.flags | 0x80) if revoked else key


@dataclass
class State:
    """What one run shows of the zone: keys (name -> signs: ksk|zsk|all|none, a trailing
    ``!`` marks the key revoked), DS (key names), status and what was observed."""

    keys: dict[str, str] = field(default_factory=dict)
    ds: tuple[str, ...] = ()
    status: str = "secure"
    reasons: str = ""
    child: bool = True
    parent: bool = True
    days_left: float | None = 10.0
    ttl: int = 3600
    zone: str = ZONE


def frames_for(state: State, at: datetime) -> tuple[dict, list[dict]]:
    """The zones row and the records rows one run would store for ``state``."""
    apex = state.zone + "."
    signed = bool(state.keys)
    zrow = {
        "zone": state.zone,
        "zone_unicode": state.zone,
        "expected_signed": True,
        "status": state.status,
        "reasons": state.reasons,
        "parent": "test",
        "has_ds": bool(state.ds) if state.parent else None,
        "signed": signed if state.child else None,
        "algorithms": ";".join(
            sorted({str(KEYS[k.rstrip("!")].dnskey.algorithm.value) for k in state.keys})
        ),  # fmt: skip
        "ns_servers": 2,
        "ns_answered": 2 if state.child else 0,
        "min_rrsig_days_left": state.days_left if signed else None,
        "earliest_expiration": at + timedelta(days=state.days_left)
        if signed and state.days_left is not None
        else None,
        "checked_at": at,
    }
    rows: list[dict] = []
    base = {"zone": state.zone, "owner_name": apex, "ttl": state.ttl, "queried_at": at}
    if state.child:
        for server in SERVERS:
            srv = {**base, "server": server, "source": "child"}
            rows.append({**srv, "rrtype": "SOA", "rdata": "ns1. h. 1 3600 900 1209600 300"})
            for name, signs in state.keys.items():
                revoked = name.endswith("!")
                rd = dnskey(name.rstrip("!"), revoked)
                tag = dns.dnssec.key_id(rd)
                rows.append({**srv, "rrtype": "DNSKEY", "key_tag": tag, "flags": rd.flags,
                             "algorithm": int(rd.algorithm), "rdata": rd.to_text()})  # fmt: skip
                covered = {"ksk": ["DNSKEY"], "zsk": ["SOA", "NS"], "all": ["DNSKEY", "SOA", "NS"],
                           "none": []}[signs]  # fmt: skip
                for t in covered:
                    rows.append({**srv, "rrtype": "RRSIG", "key_tag": tag, "covered_type": t,
                                 "algorithm": int(rd.algorithm), "signer": apex,
                                 "inception": at - timedelta(hours=1),
                                 "expiration": at + timedelta(days=state.days_left or 1),
                                 "rdata": f"{t} ..."})  # fmt: skip
    if state.parent:
        for name in state.ds:
            ds = dns.dnssec.make_ds(apex, KEYS[name].dnskey, 2)
            rows.append({**base, "server": PARENT, "source": "parent", "rrtype": "DS",
                         "key_tag": ds.key_tag, "algorithm": int(ds.algorithm),
                         "digest_type": ds.digest_type, "rdata": ds.to_text()})  # fmt: skip
    return zrow, rows


def history_of(states: list[State], start: datetime = T0, step: timedelta = timedelta(days=1)):
    """A History of one run per state (several zones per run: pass lists of states)."""
    runs, zrows, rrows = [], [], []
    for i, st in enumerate(states):
        at = start + i * step
        run_id = f"{at:%Y%m%dT%H%M%SZ}-{i:06x}"
        runs.append({"run_id": run_id, "created_at": at, "simulated": False, "zones": 1})
        for s in st if isinstance(st, list) else [st]:
            z, r = frames_for(s, at)
            zrows.append({"run_id": run_id, "run_at": at, **z})
            rrows += [{"run_id": run_id, "run_at": at, **x} for x in r]
    zones = pd.DataFrame(zrows)
    records = pd.DataFrame(rrows, columns=["run_id", "run_at", *RECORDS.names])
    z = pd.concat(
        [zones[["run_id", "run_at"]], ZONES.cast(zones.drop(columns=["run_id", "run_at"]))], axis=1
    )
    r = pd.concat(
        [records[["run_id", "run_at"]], RECORDS.cast(records.drop(columns=["run_id", "run_at"]))],
        axis=1,
    )
    for df in (z, r):
        df["run_at"] = pd.to_datetime(df["run_at"], utc=True)
    return History(RUNS.frame(runs), {"zones": z, "records": r})


STABLE = {"ksk1": "ksk", "zsk1": "zsk"}


# --- changes ---------------------------------------------------------------------------------


def test_changes_name_each_kind_of_change():
    h = history_of(
        [
            State(STABLE, ("ksk1",)),
            State({**STABLE, "zsk2": "none"}, ("ksk1", "ksk2")),
            State({"ksk1!": "ksk", "zsk2": "zsk"}, ("ksk2",), status="bogus",
                  reasons="DS_NO_MATCHING_DNSKEY"),
        ]
    )  # fmt: skip
    ch = history.changes(h)
    got = {(r.change, r.key_tag) for r in ch.itertuples()}
    tag = {n: KEYS[n].key_tag for n in KEYS}
    revoked_tag = dns.dnssec.key_id(dnskey("ksk1", revoked=True))
    assert ("dnskey_added", tag["zsk2"]) in got
    assert ("ds_added", tag["ksk2"]) in got
    assert ("ds_removed", tag["ksk1"]) in got
    assert ("dnskey_removed", tag["zsk1"]) in got
    assert ("dnskey_revoked", revoked_tag) in got
    assert ("signing_started", tag["zsk2"]) in got
    assert ("dnskey_added", revoked_tag) not in got  # a revoked key is the same key
    status = ch[ch["change"] == "status_changed"].iloc[0]
    assert (status["before"], status["after"]) == ("secure", "bogus")
    assert status["prev_run_id"] == h.run_ids[1] and status["run_id"] == h.run_ids[2]


def test_algorithm_change_is_reported():
    h = history_of([State(STABLE, ("ksk1",)), State({"edksk": "ksk", "edzsk": "zsk"}, ("edksk",))])
    ch = history.changes(h)
    alg = ch[ch["change"] == "algorithm_changed"].iloc[0]
    assert (alg["before"], alg["after"]) == ("13", "15")


def test_a_run_that_could_not_see_the_zone_is_not_a_removal():
    h = history_of(
        [
            State(STABLE, ("ksk1",)),
            State({}, (), status="indeterminate", reasons="NO_RESPONSE", child=False, parent=False),
            State(STABLE, ("ksk1",)),
        ]
    )
    ch = history.changes(h)
    assert not ch["change"].isin(["dnskey_removed", "ds_removed", "dnskey_added"]).any()
    assert list(ch["change"]) == ["status_changed", "status_changed"]


# --- phases, rollovers ----------------------------------------------------------------------


ZSK_PREPUBLICATION = [
    State(STABLE, ("ksk1",)),
    State({**STABLE, "zsk2": "none"}, ("ksk1",)),
    State({"ksk1": "ksk", "zsk1": "none", "zsk2": "zsk"}, ("ksk1",)),
    State({"ksk1": "ksk", "zsk2": "zsk"}, ("ksk1",)),
]


def _phases(h: History) -> list[str]:
    return list(history.timeline(h)["phases"])


def test_zsk_prepublication_phases_and_rollover():
    h = history_of(ZSK_PREPUBLICATION)
    assert _phases(h) == ["stable", "zsk_prepublish", "zsk_retire", "stable"]
    ro = history.rollovers(h)
    assert len(ro) == 1
    r = ro.iloc[0]
    assert (r["kind"], r["method"], r["status"]) == ("zsk", "pre-publication", "completed")
    assert (r["old_key_tag"], r["new_key_tag"]) == (KEYS["zsk1"].key_tag, KEYS["zsk2"].key_tag)
    assert r["duration_days"] == 2.0 and bool(r["within_window"])
    assert history.faults(h).empty


def test_zsk_double_signature_phase_and_method():
    h = history_of(
        [
            State(STABLE, ("ksk1",)),
            State({**STABLE, "zsk2": "zsk"}, ("ksk1",)),
            State({"ksk1": "ksk", "zsk2": "zsk"}, ("ksk1",)),
        ]
    )
    assert _phases(h) == ["stable", "zsk_double_signature", "stable"]
    assert history.rollovers(h).iloc[0]["method"] == "double-signature"


def test_ksk_double_ds_rollover():
    h = history_of(
        [
            State(STABLE, ("ksk1",)),
            State(STABLE, ("ksk1", "ksk2")),
            State({"ksk2": "ksk", "zsk1": "zsk"}, ("ksk1", "ksk2")),
            State({"ksk2": "ksk", "zsk1": "zsk"}, ("ksk2",)),
        ]
    )
    assert _phases(h) == ["stable", "ksk_double_ds", "ksk_double_ds", "stable"]
    r = history.rollovers(h).iloc[0]
    assert (r["kind"], r["method"]) == ("ksk", "double-ds")
    assert r["duration_days"] == 2.0  # DS of KSK 2 first seen day 1, old DS gone day 3
    assert history.faults(h).empty


def test_double_ksk_and_revoked_and_algorithm_phases():
    h = history_of(
        [
            State({**STABLE, "ksk2": "ksk"}, ("ksk1",)),
            State({"ksk1!": "ksk", "ksk2": "ksk", "zsk1": "zsk"}, ("ksk2",)),
            State({"ksk2": "all", "zsk1": "zsk", "edksk": "all"}, ("ksk2",)),
        ]
    )
    phases = _phases(h)
    assert "ksk_double_ksk" in phases[0]
    assert "ksk_revoked" in phases[1]
    assert "algorithm_rollover" in phases[2]


def test_rollover_longer_than_the_window_and_one_still_open():
    slow = [State(STABLE, ("ksk1",)), State({**STABLE, "zsk2": "none"}, ("ksk1",))]
    slow += [State({"ksk1": "ksk", "zsk1": "none", "zsk2": "zsk"}, ("ksk1",))] * 3
    h = history_of(slow, step=timedelta(days=20))
    r = history.rollovers(h).iloc[0]
    assert r["status"] == "in_progress" and pd.isna(r["within_window"])
    h = history_of(
        [*slow, State({"ksk1": "ksk", "zsk2": "zsk"}, ("ksk1",))], step=timedelta(days=20)
    )
    r = history.rollovers(h).iloc[0]
    assert r["duration_days"] == 80.0 and not r["within_window"] and r["window_days"] == 30.0


# --- timing faults --------------------------------------------------------------------------

HALF_HOUR = timedelta(minutes=30)
DOUBLE_KSK = {**STABLE, "ksk2": "ksk"}
SWITCHED = {"ksk1": "ksk", "zsk1": "none", "zsk2": "zsk"}

FAULT_CASES = {
    "ds_withdrawn_sole_match": (
        [State(STABLE, ("ksk1",)), State(STABLE, ("ksk1", "ksk2")),
         State(STABLE, ("ksk2",), status="bogus", reasons="DS_NO_MATCHING_DNSKEY")],
        timedelta(days=1), 2, "ksk1",
    ),
    "ksk_removed_before_ds_ttl": (
        [State(DOUBLE_KSK, ("ksk1",)), State(DOUBLE_KSK, ("ksk1", "ksk2")),
         State({"ksk2": "ksk", "zsk1": "zsk"}, ("ksk1", "ksk2"))],
        timedelta(minutes=20), 2, "ksk1",
    ),
    "key_removed_before_ttl": (
        [State(STABLE, ("ksk1",)), State({**STABLE, "zsk2": "zsk"}, ("ksk1",)),
         State({"ksk1": "ksk", "zsk2": "zsk"}, ("ksk1",))],
        HALF_HOUR, 2, "zsk1",
    ),
    "key_used_before_ttl": (
        [State(STABLE, ("ksk1",)), State(SWITCHED, ("ksk1",))],
        HALF_HOUR, 1, "zsk2",
    ),
    "algorithm_not_double_signed": (
        [State(STABLE, ("ksk1",)), State({**STABLE, "edksk": "none", "edzsk": "none"}, ("ksk1",))],
        timedelta(days=1), 1, "edksk",
    ),
}  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULT_CASES))
def test_each_timing_fault_is_flagged_at_the_run_that_proves_it(fault):
    states, step, at_run, key = FAULT_CASES[fault]
    h = history_of(states, step=step)
    faults = history.faults(h)
    assert list(faults["fault"]) == [fault], faults
    row = faults.iloc[0]
    assert row["run_id"] == h.run_ids[at_run]
    assert row["key_tag"] == KEYS[key].key_tag
    assert row["reference"].startswith("RFC")


def test_same_steps_spaced_beyond_the_ttls_are_no_fault():
    # the zsk direct swap a day apart cannot be proven too early from outside
    h = history_of([State(STABLE, ("ksk1",)), State({"ksk1": "ksk", "zsk2": "zsk"}, ("ksk1",))])
    assert history.faults(h).empty
    assert history.rollovers(h).iloc[0]["method"] == "unobserved"


def test_going_insecure_by_withdrawing_every_ds_is_not_a_fault():
    h = history_of([State(STABLE, ("ksk1",)), State(STABLE, (), status="insecure",
                                                    reasons="NO_DS_SIGNED")])  # fmt: skip
    assert history.faults(h).empty


def test_algorithm_rollover_signing_with_both_first_is_no_fault():
    h = history_of(
        [
            State(STABLE, ("ksk1",)),
            State({**STABLE, "edksk": "ksk", "edzsk": "zsk"}, ("ksk1",)),
            State({"edksk": "ksk", "edzsk": "zsk"}, ("ksk1", "edksk")),
        ]
    )
    assert "algorithm_not_double_signed" not in set(history.faults(h)["fault"])


# --- known good, signature trend, trends ------------------------------------------------------


def test_last_known_good_is_the_last_secure_run():
    h = history_of(
        [
            State(STABLE, ("ksk1",)),
            State({"ksk2": "ksk", "zsk1": "zsk"}, ("ksk2",)),
            State({"ksk1": "ksk", "zsk1": "zsk"}, ("ksk2",), status="bogus",
                  reasons="DS_NO_MATCHING_DNSKEY"),
        ]
    )  # fmt: skip
    kg = history.last_known_good(h)
    assert set(kg["run_id"]) == {h.run_ids[1]}
    dnskeys = set(kg[kg["rrtype"] == "DNSKEY"]["key_tag"])
    assert dnskeys == {KEYS["ksk2"].key_tag, KEYS["zsk1"].key_tag}
    assert set(kg[kg["rrtype"] == "DS"]["key_tag"]) == {KEYS["ksk2"].key_tag}
    assert kg["rdata"].notna().all()


def test_signature_trend_sees_resigning():
    h = history_of(
        [State(STABLE, ("ksk1",), days_left=10), State(STABLE, ("ksk1",), days_left=9),
         State(STABLE, ("ksk1",), days_left=14)]
    )  # fmt: skip
    t = history.signature_trend(h)
    assert list(t["delta_days"].astype("Float64").fillna(-99)) == [-99, -1, 5]
    assert list(t["resigned"].astype("boolean").fillna(False)) == [False, False, True]
    assert pd.isna(t["resigned"].iloc[0])


def test_trends_per_quarter_take_each_quarter_last_run():
    states = [
        [State(STABLE, ("ksk1",), days_left=8), State({}, (), "insecure", zone="b.test")],
        [State(STABLE, ("ksk1",), days_left=4), State(STABLE, ("ksk1",), zone="b.test")],
    ] * 3  # fmt: skip
    h = history_of(states, start=datetime(2026, 1, 10, tzinfo=UTC), step=timedelta(days=30))
    h.frames["findings"] = _findings(h)
    t = history.trends(h, "quarter")
    assert list(t["period"]) == ["2026Q1", "2026Q2"]
    assert list(t["runs"]) == [3, 3]
    q1, q2 = t.iloc[0], t.iloc[1]  # Q1: Jan 10, Feb 9, Mar 11 (the first state again)
    assert (q1["secure_pct"], q1["signed_pct"], q1["min_days_left"]) == (50.0, 50.0, 8.0)
    assert (q2["secure_pct"], q2["signed_pct"], q2["min_days_left"]) == (100.0, 100.0, 4.0)
    assert q1["open_high"] == 1 and q1["last_run_id"] == h.run_ids[2]
    months = history.trends(h, "month")
    assert list(months["period"])[:2] == ["2026-01", "2026-02"]
    weeks = history.trends(h, "week")
    assert weeks["period"].iloc[0] == "2026-W02"
    with pytest.raises(ValueError, match="frequency"):
        history.trends(h, "fortnight")


def _findings(h: History) -> pd.DataFrame:
    row = {"check_id": "rrsig_validity_above_floor", "zone": ZONE, "status": "fail",
           "severity": "high", "pillar": "technical", "title": "t", "message": "m"}  # fmt: skip
    f = FINDINGS.frame([row] * len(h.run_ids))
    f.insert(0, "run_id", h.run_ids)
    f.insert(1, "run_at", h.runs["created_at"].array)
    return f


def test_latency_trends_per_resolver_family():
    rc = pd.DataFrame(
        {
            "run_at": pd.to_datetime(["2026-01-02", "2026-01-03", "2026-04-02"], utc=True),
            "resolver": ["unbound", "unbound", "bind"],
            "latency_ms": [1.0, 3.0, 5.0],
        }
    )
    h = History(RUNS.empty(), {"resolver_checks": rc})
    lt = history.latency_trends(h, "quarter")
    assert list(zip(lt["period"], lt["resolver"], lt["median_ms"], strict=True)) == [
        ("2026Q1", "unbound", 2.0),
        ("2026Q2", "bind", 5.0),
    ]


# --- loading spans of runs through the store (DuckDB) -------------------------------------------


def _store_runs(workspace, states: list[State], start: datetime = T0, **params) -> list[str]:
    ids = []
    inv = INVENTORY.frame([{"zone": ZONE, "zone_unicode": ZONE, "expected_signed": True}])
    for i, st in enumerate(states):
        at = start + timedelta(days=i)
        z, r = frames_for(st, at)
        rc = RESOLVER_CHECKS.frame([{"zone": ZONE, "resolver": "unbound", "latency_ms": 2.5,
                                     "resolver_status": st.status, "queried_at": at}])  # fmt: skip
        frames = {"inventory": inv, "zones": ZONES.frame([z]), "records": RECORDS.frame(r),
                  "resolver_checks": rc}  # fmt: skip
        ids.append(Store(workspace).write(frames, parameters=params, now=at).run_id)
    return ids


def test_load_history_reads_a_span_of_runs(tmp_path):
    ids = _store_runs(tmp_path, ZSK_PREPUBLICATION, simulated=True, simulation="drill:x")
    h = history.load_history(tmp_path)
    assert h.run_ids == ids
    assert h.runs["simulated"].all() and set(h.runs["label"]) == {"drill:x"}
    assert str(h["zones"]["run_at"].dtype) == "datetime64[ns, UTC]"
    assert list(h["records"].columns[:2]) == ["run_id", "run_at"]
    assert str(h["records"]["key_tag"].dtype) == "Int64"
    assert _phases(h) == ["stable", "zsk_prepublish", "zsk_retire", "stable"]
    part = history.load_history(
        tmp_path, since=T0 + timedelta(days=1), until=T0 + timedelta(days=2)
    )
    assert part.run_ids == ids[1:3]
    assert history.load_history(tmp_path, zones=["other.test"])["zones"].empty
    assert history.load_history(tmp_path, run_ids=ids[:1]).run_ids == ids[:1]


def test_load_history_refuses_altered_evidence(tmp_path):
    ids = _store_runs(tmp_path, ZSK_PREPUBLICATION[:2])
    victim = tmp_path / "runs" / ids[1] / "zones.parquet"
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="altered"):
        history.load_history(tmp_path)
    with pytest.raises(StoreError, match="no run"):
        history.load_history(tmp_path, run_ids=["nope"])


def test_empty_workspace_gives_an_empty_history(tmp_path):
    h = history.load_history(tmp_path)
    assert h.runs.empty and h["zones"].empty and history.changes(h).empty
    assert history.trends(h).empty


def test_cli_history_prints_changes(tmp_path, capsys):
    from toolkit.cli.main import main

    _store_runs(tmp_path, ZSK_PREPUBLICATION)
    assert main(["history", "--workspace", str(tmp_path), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "dnskey_added" in out and "dnskey_removed" in out
    assert main(["history", "--workspace", str(tmp_path), "--view", "timeline",
                 "--zone", "EXAMPLE.test."]) == 0  # fmt: skip
    assert "zsk_prepublish" in capsys.readouterr().out
    assert main(["history", "--workspace", str(tmp_path), "--view", "trends", "--format",
                 "json", "--period", "month"]) == 0  # fmt: skip
    assert '"period": "2026-01"' in capsys.readouterr().out
    assert main(["history", "--workspace", str(tmp_path), "--view", "rollovers"]) == 0
    assert "pre-publication" in capsys.readouterr().out


def test_history_view_is_each_view_of_the_workspace(tmp_path):
    """The library function behind `dnssec-audit history`: the same frames as the history
    functions, one zone kept by any spelling of its name, and clear refusals."""
    from toolkit.assessment.judge import history_view
    from toolkit.errors import InputError
    from toolkit.vocabulary import HISTORY_VIEWS

    _store_runs(tmp_path, ZSK_PREPUBLICATION)
    h = history.load_history(tmp_path)
    pd.testing.assert_frame_equal(history_view(tmp_path, "changes"), history.changes(h))
    timeline = history_view(tmp_path, "timeline", zone="EXAMPLE.test.")
    assert set(timeline["zone"]) == {"example.test"}
    assert history_view(tmp_path, "timeline", zone="other.test").empty
    assert set(history_view(tmp_path, "trends", period="month")["period"]) >= {"2026-01"}
    for view in HISTORY_VIEWS:  # every view the command line offers is one
        assert isinstance(history_view(tmp_path, view), pd.DataFrame)
    with pytest.raises(InputError, match=r"--zone.*'127\.0\.0\.1' is not a zone name"):
        history_view(tmp_path, "changes", zone="127.0.0.1")
    with pytest.raises(InputError, match="--view.*expected one of changes"):
        history_view(tmp_path, "sideways")


# --- the demo history (simulated quarters through the real collector) --------------------------


def test_demo_plan_is_a_pure_reproducible_story():
    from toolkit.lab.demo_history import demo_times, plan
    from toolkit.lab.scenarios import LAB_ZONES

    now = datetime(2026, 11, 28, 13, tzinfo=UTC)
    times = demo_times(now, quarters=4)
    assert times == demo_times(now, quarters=4)
    assert times[0] == (datetime(2025, 10, 15, 6, tzinfo=UTC), "monthly")
    assert times[-1][0] < now - timedelta(days=1)
    assert [k for _, k in times].count("prepublish") == 4
    steps = plan(LAB_ZONES, times)
    assert plan(LAB_ZONES, times) == steps
    corp = [s.zones["corp.test"].scenario for s in steps]
    assert corp[0] == "secure" and corp[3] == "zsk-prepublish" and corp[-1] == "zsk-prepublish"
    assert steps[0].zones["payments.test"].scenario == "unsigned"  # onboarded a quarter later
    assert steps[-1].zones["events.test"].scenario == "expired"
    assert steps[-2].zones["events.test"].scenario == "secure"
    assert steps[0].zones["legacy.test"].scenario == "secure"
    assert steps[-1].zones["legacy.test"].scenario == "ds-mismatch"
    with pytest.raises(ValueError):
        demo_times(now, quarters=0)


@pytest.mark.lab
def test_demo_history_on_the_lab(lab, tmp_path):
    from toolkit.assessment.judge import judged_history
    from toolkit.assessment.maturity import maturity_scorer
    from toolkit.collect import CollectConfig, collect_run
    from toolkit.inputs.portfolio import load_portfolio
    from toolkit.lab.demo_history import build_demo_history, demo_times
    from toolkit.lab.publish import served_files

    before = {f.file: f.file.read_bytes() for f in served_files(lab.dir)}
    d = tmp_path / "portfolio"
    d.mkdir()
    (d / "inventory.csv").write_text(
        "zone,owner,business_unit,risk_tier,category,registrar,expected_signed,policy,"
        "last_reviewed\ncorp.test,Ops,IT,1,,,true,,\nlegacy.test,Ops,IT,2,,,true,,\n"
        "events.test,Ops,IT,3,,,true,,\n"
    )
    now = datetime.now(UTC)
    ws = tmp_path / "ws"
    ids = build_demo_history(lab.dir, ws, d, now=now, quarters=1)
    assert len(ids) == len(demo_times(now, quarters=1))
    assert {f.file: f.file.read_bytes() for f in served_files(lab.dir)} == before
    config = CollectConfig(trust_anchor=lab.trust_anchor, root_hints=lab.root_hints, progress=False)
    collect_run(d, ws, config, now=now)  # today's real run
    h = history.load_history(ws)
    assert list(h.runs["simulated"]) == [True] * len(ids) + [False]
    assert set(h.runs["label"].dropna()) == {"demo-history"}
    t = history.trends(h, "quarter")
    assert len(t) >= 2 and t["runs"].sum() == len(ids) + 1
    assert t["maturity_score"].isna().all()  # no scorer given
    assert t["open_critical"].isna().all()  # the runs hold no findings: nothing judged
    judged = judged_history(h, ws)
    scored = history.trends(judged, "quarter", scorer=maturity_scorer(load_portfolio(d).policies))
    assert scored["maturity_score"].notna().all() and scored["maturity_level"].between(1, 5).all()
    # events.test expired in the last quarter: its runs judged as of their own time fail
    assert scored["open_critical"].iloc[-1] >= 1 and scored["open_critical"].iloc[0] == 0
    ro = history.rollovers(h)
    corp = ro[ro["zone"] == "corp.test"]
    assert len(corp) >= 1 and set(corp["method"]) == {"pre-publication"}
    assert corp["within_window"].astype(bool).all()
    zones = h["zones"]
    events = zones[zones["zone"] == "events.test"].sort_values("run_at")["status"].tolist()
    assert events[0] == "secure" and events[-1] == "bogus"


def test_key_and_signing_history_of_some_zones_are_those_zones_rows(tmp_path):
    """The zones= filter of the history loaders (one partition of a large portfolio at a time)
    gives exactly the rows of those zones that loading everything gives."""
    from datetime import UTC, datetime, timedelta

    from governance_fakes import store_sample_run

    from toolkit.history.key_sets import load_key_history
    from toolkit.history.signing import load_signing_history
    from toolkit.store.runs import Store

    t = datetime(2026, 11, 28, 12, tzinfo=UTC)
    store_sample_run(tmp_path, t - timedelta(days=2))
    store_sample_run(tmp_path, t - timedelta(days=1))
    store = Store(tmp_path)
    full = load_key_history(store)
    some = sorted(set(full["zone"]))[:2]
    assert len(some) == 2 and len(full[~full["zone"].isin(some)]) > 0
    part = load_key_history(store, zones=some)
    want = full[full["zone"].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.reset_index(drop=True), want, check_exact=True)
    for got, all_rows in zip(
        load_signing_history(store, zones=some), load_signing_history(store), strict=True
    ):
        want = all_rows[all_rows["zone"].isin(some)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_exact=True)
