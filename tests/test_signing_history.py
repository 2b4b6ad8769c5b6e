"""Signing judged across runs (toolkit.history.signing and the two checks that read it):
re-signing against the policy's refresh interval, and the age of a pending CDS. Unit tests on
hand-built sequences of runs; one on real stored runs (the demo history on the lab)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from test_audit_checks import KSK, NOW, S1, S2, ZSK, cds_rows, context, healthy, zrow

from toolkit.checks import Registry, cds, practice
from toolkit.history.signing import (
    CDS_STALE_DAYS,
    cds_states,
    pending_since,
    signature_sightings,
)
from toolkit.schemas import CDS, DS_MATCHES, SIGNATURES, ZONES

# POLICY of test_audit_checks: validity 30 days, refresh 5: a signature serves 25 days.
IDS = ("signatures_refreshed_on_time", "cds_pending_not_stale")


def with_run(schema, rows, run_id, at):
    return schema.frame(rows).assign(run_id=run_id, run_at=pd.Timestamp(at))


def runs_of(zone: str, days: list[float], inception=None, stale_server=None):
    """A zone's evidence at runs ``days`` before NOW (the last at NOW): the signer re-signs
    an hour before each run (``inception`` None) or never (every run: ``inception``); with
    ``stale_server`` that server keeps serving the first run's signatures."""
    out = []
    first_inception = None
    for i, d in enumerate(days):
        at = NOW - timedelta(days=d)
        ev = healthy(zone)
        inc = inception if inception is not None else at - timedelta(hours=1)
        first_inception = first_inception or inc
        for r in ev["signatures"]:
            mine = first_inception if r["server"] == stale_server else inc
            r.update(inception=mine, expiration=mine + timedelta(days=30), queried_at=at)
        out.append((f"run{i}", at, ev))
    return out


def history_context(runs, zone: str):
    """The context of the last of ``runs`` with the history of all of them."""
    sig = pd.concat(
        [with_run(SIGNATURES, ev["signatures"], rid, at) for rid, at, ev in runs],
        ignore_index=True,
    )
    parts = [
        (
            with_run(CDS, ev["cds"], rid, at),
            with_run(DS_MATCHES, ev["ds_matches"], rid, at),
            with_run(ZONES, [zrow(zone)], rid, at),
        )
        for rid, at, ev in runs
    ]
    states = cds_states(*(pd.concat(p, ignore_index=True) for p in zip(*parts, strict=True)))
    rid, at, ev = runs[-1]
    ctx = context({zone: ev}, [zrow(zone)])
    frames = dict(ctx.frames)
    frames["signature_history"] = signature_sightings(sig)
    frames["cds_history"] = states
    return type(ctx)(frames, ctx.policies, at.astimezone(UTC), rid)


def judge(ctx):
    reg = Registry()
    for module in (practice, cds):
        for c, func in module.CHECKS:
            if c.id in IDS:
                reg.register(c, func)
    return reg.run(ctx).set_index(["zone", "check_id"])


def test_sightings_keep_one_row_per_signature_and_run_with_its_servers():
    runs = runs_of("a.test", [7, 0], stale_server=S2)
    sig = pd.concat([with_run(SIGNATURES, ev["signatures"], r, at) for r, at, ev in runs])
    parent = sig.iloc[:1].assign(side="parent", covered_type="DS")
    seen = signature_sightings(pd.concat([sig, parent], ignore_index=True))
    assert "DS" not in set(seen["covered_type"])  # the parent's signatures are not the zone's
    first = seen[seen["run_id"] == "run0"]
    assert len(first) == 8 and len(first.drop_duplicates("inception")) == 1  # 4 RRsets × 2
    second = seen[seen["run_id"] == "run1"]  # S2 still serves run0's signatures
    assert len(second) == 8 and len(second.drop_duplicates("inception")) == 2
    assert set(second.loc[second["inception"] == first["inception"].iloc[0], "server"]) == {S2}
    twice = pd.concat([sig, sig.assign(queried_at=sig["queried_at"] + pd.Timedelta(minutes=5))])
    again = signature_sightings(twice)  # asked twice in a run: one row, the later time
    assert len(again) == len(seen) and (again["seen_at"] > seen["seen_at"]).all()


def test_on_time_resigning_passes_and_counts_the_inceptions():
    out = judge(history_context(runs_of("ok.test", [21, 14, 7, 0]), "ok.test"))
    row = out.loc[("ok.test", "signatures_refreshed_on_time")]
    assert row["status"] == "pass"
    assert "4 runs over 21.0 days since run run0" in row["message"]
    assert "4 SOA signature inception(s) seen" in row["message"]


def test_a_pass_covers_only_the_latest_runs_close_enough_together():
    row = judge(history_context(runs_of("tail.test", [60, 30, 20, 10, 0]), "tail.test")).loc[
        ("tail.test", "signatures_refreshed_on_time")
    ]
    assert row["status"] == "pass"
    assert "4 runs over 30.0 days since run run1" in row["message"]
    assert "before them runs run0 and run1 are 30.0 days apart" in row["message"]


def test_a_signature_served_past_the_refresh_point_fails_naming_the_late_runs():
    """Never re-signed since 2 days before the first run: seen 12, 22 and 32 days after its
    inception; the policy lets it serve 25 (+1 day allowed): only the last run is late."""
    inception = NOW - timedelta(days=32)
    out = judge(history_context(runs_of("late.test", [30, 20, 10, 0], inception), "late.test"))
    row = out.loc[("late.test", "signatures_refreshed_on_time")]
    assert row["status"] == "fail"
    assert (
        "DNSKEY late.test., NS late.test., NSEC late.test., SOA late.test. signed "
        f"{inception:%Y-%m-%d %H:%M} by key(s) {KSK}, {ZSK} "
        f"(due by {inception + timedelta(days=25):%Y-%m-%d}) still served at {S1}, {S2} in "
        f"run(s) run3 ({NOW:%Y-%m-%d}, 32.0 days)"
    ) in row["message"]
    assert "run2" not in row["message"]  # 22 days old then: on time


def test_a_stale_secondary_is_named():
    runs = runs_of("sec.test", [27, 20, 13, 6, 0], stale_server=S2)
    row = judge(history_context(runs, "sec.test")).loc[("sec.test", "signatures_refreshed_on_time")]
    assert row["status"] == "fail"
    assert f"still served at {S2} in run(s) run4" in row["message"]
    assert S1 not in row["message"]


@pytest.mark.parametrize(
    ("days", "why"),
    [
        ([0], "1 run(s) of the last 92 days"),
        ([100, 0], "1 run(s) of the last 92 days"),  # the older run is outside the quarter
        ([60, 30, 0], "runs run1 and run2 are 30.0 days apart, more than the 25 days"),
    ],
)
def test_too_few_or_too_sparse_runs_are_indeterminate(days, why):
    row = judge(history_context(runs_of("few.test", days), "few.test")).loc[
        ("few.test", "signatures_refreshed_on_time")
    ]
    assert row["status"] == "indeterminate" and why in row["message"]


def test_a_late_refresh_older_than_the_quarter_no_longer_fails():
    runs = runs_of("old.test", [130, 100, 20, 10, 0])
    inception = runs[0][1] - timedelta(days=1)
    for r in runs[1][2]["signatures"]:  # run1 (100 days ago) saw run0's signatures: 31 days
        r.update(inception=inception)
    assert judge(history_context(runs, "old.test")).loc[
        ("old.test", "signatures_refreshed_on_time"), "status"
    ] == ("pass")


def pending_runs(zone: str, plan: list[tuple[float, str | None]]):
    """Runs ``days`` before NOW whose CDS asks for nothing (None) or adds the DS of key 505
    with ``rdata`` (pending)."""
    out = []
    for i, (d, rdata) in enumerate(plan):
        ev = healthy(zone)
        ev["cds"] += cds_rows(zone)
        if rdata is not None:
            ev["cds"] += cds_rows(zone, key_tag=505, rdata=rdata, matches_ds=False)
        out.append((f"run{i}", NOW - timedelta(days=d), ev))
    return out


def test_a_pending_cds_older_than_a_week_fails_naming_its_first_run():
    runs = pending_runs("stuck.test", [(20, None), (10, "505 13 2 cd"), (3, "505 13 2 cd"),
                                       (0, "505 13 2 cd")])  # fmt: skip
    row = judge(history_context(runs, "stuck.test")).loc[("stuck.test", "cds_pending_not_stale")]
    assert row["status"] == "fail"
    assert "differed from the parent's DS for 10.0 days" in row["message"]
    assert f"since run run1 of {runs[1][1]:%Y-%m-%d %H:%M}" in row["message"]
    assert "CDS 505 13 2 cd" in row["message"]
    assert "not pending in run run0" in row["evidence"]


def test_a_pending_cds_age_bounded_either_side():
    fresh = pending_runs("fresh.test", [(5, None), (2, "505 13 2 cd"), (0, "505 13 2 cd")])
    row = judge(history_context(fresh, "fresh.test")).loc[("fresh.test", "cds_pending_not_stale")]
    assert row["status"] == "pass" and "at most 5.0 days old" in row["message"]
    # another request before: the current one started after run0, its age is 3 to 10 days
    changed = pending_runs("new.test", [(10, "505 13 2 ff"), (3, "505 13 2 cd"),
                                        (0, "505 13 2 cd")])  # fmt: skip
    row = judge(history_context(changed, "new.test")).loc[("new.test", "cds_pending_not_stale")]
    assert row["status"] == "indeterminate"
    assert "at least 3.0 days old, up to 10.0 days: cannot tell" in row["message"]
    alone = pending_runs("one.test", [(0, "505 13 2 cd")])
    row = judge(history_context(alone, "one.test")).loc[("one.test", "cds_pending_not_stale")]
    assert row["status"] == "indeterminate" and "no earlier run" in row["message"]


def test_no_pending_change_passes_and_pending_since_reads_back_over_same_records():
    done = pending_runs("done.test", [(20, "505 13 2 cd"), (0, None)])
    row = judge(history_context(done, "done.test")).loc[("done.test", "cds_pending_not_stale")]
    assert row["status"] == "pass" and row["message"] == "no pending change"
    rows = [
        {"run_id": f"r{i}", "observed_at": NOW - timedelta(days=d), "records": rec,
         "pending": pend}
        for i, (d, rec, pend) in enumerate([(9, "x", True), (8, "", False), (6, "x", True),
                                            (4, "x", True), (0, "x", True)])
    ]  # fmt: skip
    p = pending_since(rows)
    assert p is not None and (p.first_run, p.before_run, p.runs) == ("r2", "r1", 3)
    assert p.age_days == 6 and p.max_age_days == 8 and CDS_STALE_DAYS == 7


def test_cds_states_see_a_removal_and_a_zone_without_cds():
    """The parent holds the DS of two keys, the CDS names one (a removal pending); a probed
    zone without CDS is not pending; an unprobed one has no row."""
    at = pd.Timestamp(NOW)
    drop = healthy("drop.test")
    drop["ds_matches"].append(drop["ds_matches"][0] | {"key_tag": 606, "digest": "ef"})
    drop["cds"] += cds_rows("drop.test")
    states = cds_states(
        with_run(CDS, drop["cds"], "r", at),
        with_run(DS_MATCHES, drop["ds_matches"], "r", at),
        with_run(
            ZONES, [zrow("drop.test"), zrow("none.test"), zrow("gone.test", signed=None)], "r", at
        ),
    ).set_index("zone")
    assert bool(states.loc["drop.test", "pending"]) is True
    assert bool(states.loc["none.test", "pending"]) is False
    assert states.loc["none.test", "records"] == ""
    assert "gone.test" not in states.index


def test_the_checks_read_the_run_alone_when_the_context_has_no_history():
    ev = healthy("solo.test")
    ev["cds"] += cds_rows("solo.test", key_tag=505, rdata="505 13 2 cd", matches_ds=False)
    out = judge(context({"solo.test": ev}, [zrow("solo.test")]))
    assert set(out["status"]) == {"indeterminate"}


@pytest.mark.lab
def test_signing_history_of_the_demo_runs_on_the_lab(lab, tmp_path):
    """Real stored runs: a quarter of demo history collected from the lab, then today's run.
    corp.test is re-signed at every run (pass); events.test's signatures today are 40 days
    old (fail, naming today's run); cds-pending.test's CDS has asked for the new KSK's DS in
    every run (fail, naming the first run)."""
    from toolkit.assessment.assess import assess
    from toolkit.collect import CollectConfig, collect_run
    from toolkit.lab.demo_history import build_demo_history

    d = tmp_path / "portfolio"
    d.mkdir()
    shutil.copy("data/sample-portfolio/policy.yaml", d / "policy.yaml")
    (d / "inventory.csv").write_text(
        "zone,owner,business_unit,risk_tier,category,registrar,expected_signed,policy,"
        "last_reviewed\ncorp.test,Ops,IT,1,,,true,,\nevents.test,Ops,IT,3,,,true,,\n"
        "cds-pending.test,Ops,IT,3,,,true,,\n"
    )
    now = datetime.now(UTC)
    ws = tmp_path / "ws"
    ids = build_demo_history(lab.dir, ws, d, now=now, quarters=1)
    config = CollectConfig(trust_anchor=lab.trust_anchor, root_hints=lab.root_hints, progress=False)
    today = collect_run(d, ws, config, now=now).run_id
    a = assess(d, ws, run=today, now=now)
    f = a.findings.set_index(["zone", "check_id"])
    corp = f.loc[("corp.test", "signatures_refreshed_on_time")]
    assert corp["status"] == "pass", corp["message"]
    # the pass names the runs it covers, and no two of them are further apart than the 25 days
    # a signature may serve (the demo's monthly runs are not: the pass says where it starts)
    seen = a.frames["signature_history"]
    times = seen.drop_duplicates("run_id").set_index("run_id")["observed_at"]
    since = corp["message"].split("since run ", 1)[1].split(" ", 1)[0]
    covered = times[times >= times[since]]
    assert len(covered) >= 2 and covered.index[-1] == today
    assert (covered.diff().dropna() <= pd.Timedelta(days=25)).all()
    events = f.loc[("events.test", "signatures_refreshed_on_time")]
    assert events["status"] == "fail" and today in events["evidence"]
    assert "SOA events.test." in events["message"]
    pending = f.loc[("cds-pending.test", "cds_pending_not_stale")]
    assert pending["status"] == "fail" and f"since run {ids[0]} " in pending["message"]
    assert f.loc[("corp.test", "cds_pending_not_stale"), "status"] == "not_applicable"
    # the demo rolls corp.test's ZSK by pre-publication, as the sample policy states; the
    # other two roll no key: never a pass without a rollover seen
    method = f.loc[("corp.test", "rollover_method_matches_policy")]
    assert method["status"] == "pass", method["message"]
    assert "ZSK rollover" in method["message"] and "pre-publication" in method["message"]
    for zone in ("events.test", "cds-pending.test"):
        assert f.loc[(zone, "rollover_method_matches_policy"), "status"] == "indeterminate"
    # the same runs under a policy stating double-signature: the rollovers are named
    from toolkit.checks import Context
    from toolkit.inputs.policy import PolicySet

    std = a.portfolio.policies.get(None)
    assert std is not None
    variant = PolicySet({std.name: replace(std, zsk_rollover_method="double-signature")}, std.name)
    reg = Registry()
    for c, func in practice.CHECKS:
        if c.id == "rollover_method_matches_policy":
            reg.register(c, func)
    out = reg.run(Context(a.frames, variant, now, today)).set_index("zone")
    assert out.loc["corp.test", "status"] == "fail"
    assert ": pre-publication" in out.loc["corp.test", "message"]


def _rollover_ctx(zone: str, rollovers: list[dict]):
    from toolkit.history.frames import ROLLOVERS

    ctx = context({zone: healthy(zone)}, [zrow(zone)])
    frames = dict(ctx.frames)
    frames["rollovers"] = ROLLOVERS.frame(rollovers)
    return type(ctx)(frames, ctx.policies, NOW, "run")


def _rollover(zone, kind, method, old, new, days_ago):
    return dict(zone=zone, kind=kind, method=method, old_key_tag=old, new_key_tag=new,
                started_at=NOW - timedelta(days=days_ago), status="completed")  # fmt: skip


def _method(ctx):
    reg = Registry()
    for c, func in practice.CHECKS:
        if c.id == "rollover_method_matches_policy":
            reg.register(c, func)
    out = reg.run(ctx).set_index(["zone", "check_id"])
    return out.xs("rollover_method_matches_policy", level=1)


def test_rollover_method_is_judged_from_the_rollovers_seen_across_runs():
    """POLICY states the defaults: ZSK pre-publication, KSK double-DS (RFC 6781 §4.1.1/2)."""
    ok = _method(_rollover_ctx("ok.test", [
        _rollover("ok.test", "zsk", "pre-publication", 1, 2, 90),
        _rollover("ok.test", "ksk", "double-ds", 3, 4, 30),
        _rollover("ok.test", "zsk", "unobserved", 2, 5, 5),
        _rollover("ok.test", "algorithm", "unobserved", 4, 6, 2),
    ]))  # fmt: skip
    row = ok.loc["ok.test"]
    assert row["status"] == "pass"
    assert "2 rollover(s) by the method policy std states" in row["message"]
    assert "and 1 whose steps fell between runs, not judged" in row["message"]
    bad = _method(_rollover_ctx("bad.test", [
        _rollover("bad.test", "zsk", "double-signature", 1, 2, 90),
        _rollover("bad.test", "csk", "double-ksk", 3, 4, 30),
        _rollover("bad.test", "zsk", "pre-publication", 2, 5, 5),
    ]))  # fmt: skip
    row = bad.loc["bad.test"]
    assert row["status"] == "fail"
    started = f"{NOW - timedelta(days=90):%Y-%m-%d}"
    assert f"ZSK rollover 1 -> 2 started {started}: double-signature" in row["message"]
    assert "CSK rollover 3 -> 4" in row["message"] and "-> 5" not in row["message"]
    assert "(ZSK pre-publication, KSK double-ds)" in row["message"]


def test_rollover_method_without_a_rollover_judged_is_never_passed():
    none = _method(_rollover_ctx("none.test", []))
    assert none.loc["none.test", "status"] == "indeterminate"
    assert "no ZSK, KSK or CSK rollover" in none.loc["none.test", "message"]
    unseen = _method(_rollover_ctx("u.test", [_rollover("u.test", "zsk", "unobserved", 1, 2, 9)]))
    assert unseen.loc["u.test", "status"] == "indeterminate"
    algo = _method(
        _rollover_ctx("a.test", [_rollover("a.test", "algorithm", "double-ds", 1, 2, 9)])
    )
    assert algo.loc["a.test", "status"] == "indeterminate"
    single = _method(context({"s.test": healthy("s.test")}, [zrow("s.test")]))  # one run
    assert single.loc["s.test", "status"] == "indeterminate"
