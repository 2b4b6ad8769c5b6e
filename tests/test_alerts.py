"""Alerts: each rule on hand-built runs, de-duplication, acknowledgement, delivery to the
console, a JSON Lines file and a webhook on a local HTTP server (down, then up: delivered
once), atomic state; and the state rules on the real lab's catalog, resolvers included."""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_history import KEYS, STABLE, State, frames_for, history_of

from toolkit.alerts import (
    AlertContext,
    AlertStateError,
    ConsoleSink,
    JsonlSink,
    WebhookSink,
    acknowledge,
    alerts_frame,
    default_registry,
    evaluate_alerts,
    load_state,
    state_path,
)
from toolkit.cli.main import main
from toolkit.collect import CollectConfig, ResolverSpec, collect_run
from toolkit.inputs.governance import load_records
from toolkit.inputs.policy import PolicySet, load_policies
from toolkit.schemas import INVENTORY, RECORDS, RESOLVER_CHECKS, ZONES
from toolkit.store.runs import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ZONE = "example.test"
DAY = timedelta(days=1)

POLICY = """\
format_version: 1
default_policy: std
policies:
  std:
    allowed_algorithms: [13, 15]
    zsk_lifetime_days: 90
    ksk_lifetime_days: 365
    min_rrsig_validity_days: 5
alerts:
  coverage_max_age_days: 7
  ds_publish_sla_hours: 72
  signature_expiry_days: {expiry}
change_control:
  match_window_hours: 48
"""

CHANGES_HEADER = (
    "ticket,zone,action,key_tag,requested_by,approved_by,approved_at,implemented_at,status\n"
)


def portfolio(tmp_path: Path, *, expiry: float = 7, changes: str | None = None) -> Path:
    d = tmp_path / "portfolio"
    d.mkdir(exist_ok=True)
    (d / "inventory.csv").write_text(
        "zone,owner,business_unit,risk_tier,category,registrar,expected_signed,policy,"
        f"last_reviewed\n{ZONE},Ops,IT,1,service,Reg,true,,2026-01-01\n"
    )
    (d / "policy.yaml").write_text(POLICY.format(expiry=expiry))
    if changes is not None:
        (d / "changes.csv").write_text(CHANGES_HEADER + changes)
    return d


def store_run(
    workspace: Path, state: State, at: datetime, resolvers: dict[str, str] | None = None
) -> str:
    z, r = frames_for(state, at)
    inv = INVENTORY.frame([{"zone": ZONE, "zone_unicode": ZONE, "expected_signed": True}])
    rc = RESOLVER_CHECKS.frame(
        [
            {"zone": ZONE, "resolver": name, "resolver_status": status, "latency_ms": 1.5}
            for name, status in (resolvers or {}).items()
        ]
    )
    frames = {
        "inventory": inv,
        "zones": ZONES.frame([z]),
        "records": RECORDS.frame(r),
        "resolver_checks": rc,
    }
    return Store(workspace).write(frames, parameters={}, now=at).run_id


def ctx_for(states: list[State], *, policies: PolicySet | None = None, records=None, resolvers=None,
            now: datetime | None = None, new: int = 1) -> AlertContext:  # fmt: skip
    h = history_of(states, start=T0)
    if resolvers is not None:
        last = h.run_ids[-1]
        h.frames["resolver_checks"] = pd.DataFrame(
            {
                "run_id": last,
                "zone": ZONE,
                "resolver": list(resolvers),
                "resolver_status": list(resolvers.values()),
            }  # fmt: skip
        )
    h.frames["inventory"] = pd.DataFrame(
        {
            "run_id": h.run_ids,
            "run_at": h.runs["created_at"].array,
            "zone": ZONE,
            "registrar": "Reg",
        }  # fmt: skip
    )
    return AlertContext(
        history=h,
        latest_run_id=h.run_ids[-1],
        new_run_ids=tuple(h.run_ids[-new:]),
        policies=policies or PolicySet(),
        records=records,
        now=pd.Timestamp(now or T0 + (len(states) - 1) * DAY),
    )


def fired(ctx: AlertContext) -> set[str]:
    return {c.rule for c in default_registry().evaluate(ctx)}


# --- each rule ---------------------------------------------------------------------------------


RULE_CASES = {
    "signature_expiring": [State(STABLE, ("ksk1",), days_left=2.5)],
    "signed_without_ds": [State(STABLE, (), status="insecure", reasons="NO_DS_SIGNED")],
    "ds_no_matching_key": [
        State(STABLE, ("ksk2",), status="bogus", reasons="DS_NO_MATCHING_DNSKEY")
    ],
    "chain_bogus": [State(STABLE, ("ksk1",), status="bogus", reasons="RRSIG_INVALID")],
    "rollover_fault": [
        State(STABLE, ("ksk1",)),
        State(STABLE, ("ksk1", "ksk2")),
        State(STABLE, ("ksk2",), status="bogus", reasons="DS_NO_MATCHING_DNSKEY"),
    ],
    "unapproved_change": [State(STABLE, ("ksk1",)), State({**STABLE, "zsk2": "none"}, ("ksk1",))],
}


@pytest.mark.parametrize("rule", list(RULE_CASES))
def test_each_rule_fires_on_its_condition(rule):
    assert rule in fired(ctx_for(RULE_CASES[rule]))


def test_a_healthy_zone_raises_nothing():
    assert fired(ctx_for([State(STABLE, ("ksk1",)), State(STABLE, ("ksk1",))])) == set()


def test_resolver_rules():
    ok = [State(STABLE, ("ksk1",))]
    assert fired(ctx_for(ok, resolvers={"unbound": "secure", "bind": "secure"})) == set()
    got = fired(ctx_for(ok, resolvers={"unbound": "bogus", "bind": "secure", "pdns": "bogus"}))
    assert got == {"resolver_bogus", "resolver_disagreement"}
    # a resolver that could not answer is no disagreement
    assert fired(ctx_for(ok, resolvers={"unbound": "secure", "bind": "indeterminate"})) == set()


def test_zone_not_probed_counts_from_the_last_answered_probe():
    states = [State(STABLE, ("ksk1",))]
    assert "zone_not_probed" not in fired(ctx_for(states, now=T0 + 6 * DAY))
    assert "zone_not_probed" in fired(ctx_for(states, now=T0 + 8 * DAY))
    unreachable = State({}, (), "indeterminate", "NO_RESPONSE", child=False, parent=False)
    assert "zone_not_probed" in fired(ctx_for([unreachable]))


def test_thresholds_come_from_policy_yaml(tmp_path):
    policies = load_policies(portfolio(tmp_path, expiry=2) / "policy.yaml")
    states = [State(STABLE, ("ksk1",), days_left=2.5)]
    assert "signature_expiring" not in fired(ctx_for(states, policies=policies))
    assert "signature_expiring" in fired(ctx_for(states))  # default: 7 days


def test_an_approved_ticket_covers_the_change_and_a_self_approved_one_does_not(tmp_path):
    states = RULE_CASES["unapproved_change"]
    tag = KEYS["zsk2"].key_tag
    day1 = (T0 + DAY).isoformat()
    good = f"C1,{ZONE},zsk_rollover,{tag},alice,bob,{T0.isoformat()},{day1},implemented\n"
    bad = f"C1,{ZONE},zsk_rollover,{tag},alice,alice,{T0.isoformat()},{day1},implemented\n"
    for text, expect in ((good, False), (bad, True)):
        d = portfolio(tmp_path, changes=text)
        records = load_records(d, zones={ZONE})
        assert ("unapproved_change" in fired(ctx_for(states, records=records))) is expect


def test_ds_publish_overdue_after_the_sla(tmp_path):
    tag = KEYS["ksk1"].key_tag
    submitted = T0 + DAY
    d = portfolio(
        tmp_path,
        changes=f"D1,{ZONE},ds_publish,{tag},alice,bob,{T0.isoformat()},"
        f"{submitted.isoformat()},implemented\n",
    )
    records = load_records(d, zones={ZONE})
    island = State(STABLE, (), status="insecure", reasons="NO_DS_SIGNED")
    within = ctx_for([island] * 3, records=records)  # last run: 1 day after submission
    assert "ds_publish_overdue" not in fired(within)
    late = ctx_for([island] * 6, records=records)  # last run: 4 days after
    assert "ds_publish_overdue" in fired(late)
    published = ctx_for([island] * 5 + [State(STABLE, ("ksk1",))], records=records)
    assert "ds_publish_overdue" not in fired(published)


def test_event_rules_look_only_at_the_new_runs():
    states = RULE_CASES["unapproved_change"] + [State({**STABLE, "zsk2": "none"}, ("ksk1",))]
    assert "unapproved_change" not in fired(ctx_for(states, new=1))
    assert "unapproved_change" in fired(ctx_for(states, new=2))


# --- the engine: de-duplication, clearing, acknowledgement ------------------------------------


def test_alert_fires_once_per_condition_until_it_clears(tmp_path):
    ws = tmp_path / "ws"
    expiring = State(STABLE, ("ksk1",), days_left=3)
    store_run(ws, expiring, T0)
    first = evaluate_alerts(ws, now=T0)
    assert [a["rule"] for a in first.new] == ["signature_expiring"]
    store_run(ws, expiring, T0 + DAY)
    second = evaluate_alerts(ws, now=T0 + DAY)
    assert second.new == [] and len(second.active) == 1
    store_run(ws, State(STABLE, ("ksk1",), days_left=14), T0 + 2 * DAY)
    third = evaluate_alerts(ws, now=T0 + 2 * DAY)
    assert third.new == [] and [a["id"] for a in third.cleared] == [first.new[0]["id"]]
    store_run(ws, expiring, T0 + 3 * DAY)
    fourth = evaluate_alerts(ws, now=T0 + 3 * DAY)
    assert [a["rule"] for a in fourth.new] == ["signature_expiring"]
    assert fourth.new[0]["id"] != first.new[0]["id"]  # a new occurrence, a new alert
    frame = alerts_frame(ws)
    assert list(frame["status"]) == ["active", "cleared"]


def test_evaluation_judges_the_runs_up_to_now(tmp_path):
    ws = tmp_path / "ws"
    store_run(ws, State(STABLE, ("ksk1",)), T0)
    store_run(ws, State(STABLE, ("ksk1",), status="bogus", reasons="RRSIG_EXPIRED"), T0 + DAY)
    assert evaluate_alerts(ws, now=T0 + timedelta(hours=1)).new == []


def test_acknowledge_by_prefix(tmp_path, capsys):
    ws = tmp_path / "ws"
    store_run(ws, State(STABLE, ("ksk1",), status="bogus", reasons="RRSIG_INVALID"), T0)
    run = evaluate_alerts(ws, now=T0)
    aid = run.new[0]["id"]
    a = acknowledge(ws, aid[:6], by="alice", now=T0 + timedelta(hours=1))
    assert a["acknowledged_by"] == "alice" and a["status"] == "active"
    assert load_state(ws).alerts[aid]["acknowledged_at"].startswith("2026-03-02T10:00")
    with pytest.raises(KeyError):
        acknowledge(ws, "zzzz", by="alice", now=T0)
    store_run(ws, State(STABLE, ("ksk1",), status="bogus", reasons="RRSIG_INVALID"), T0 + DAY)
    again = evaluate_alerts(ws, now=T0 + DAY)
    assert again.new == [] and again.active[0]["acknowledged_by"] == "alice"
    assert main(["alerts", "--workspace", str(ws), "--ack", aid, "--by", "carol"]) == 0
    assert "acknowledged" in capsys.readouterr().out
    assert main(["alerts", "--workspace", str(ws), "--ack", "nope"]) == 1


# --- delivery ----------------------------------------------------------------------------------


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Server:
    """A webhook receiver on 127.0.0.1 in a thread."""

    def __init__(self, port: int = 0) -> None:
        handler = type("Hook", (_Hook,), {"received": []})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.received = handler.received
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def hook() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.stop()


def _bogus(ws: Path, at: datetime) -> None:
    store_run(ws, State(STABLE, ("ksk1",), status="bogus", reasons="RRSIG_EXPIRED"), at)


def test_delivery_to_console_jsonl_and_webhook(tmp_path, hook):
    ws = tmp_path / "ws"
    _bogus(ws, T0)
    out = io.StringIO()
    jsonl = tmp_path / "alerts.jsonl"
    sinks = [ConsoleSink(out), JsonlSink(jsonl), WebhookSink(hook.url)]
    run = evaluate_alerts(ws, now=T0, sinks=sinks)
    ids = {a["id"] for a in run.new}
    assert {a["rule"] for a in run.new} == {"chain_bogus"}
    assert {r["id"] for r in hook.received} == ids
    assert hook.received[0]["type"] == "dnssec-audit.alert" and hook.received[0]["zone"] == ZONE
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert {x["id"] for x in lines} == ids
    assert "chain_bogus" in out.getvalue()
    assert run.pending == {}
    _bogus(ws, T0 + DAY)
    evaluate_alerts(ws, now=T0 + DAY, sinks=sinks)  # nothing new: nothing sent again
    assert len(hook.received) == 1 and len(jsonl.read_text().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_down_keeps_the_alert_pending_then_delivers_once(tmp_path):
    ws = tmp_path / "ws"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    _bogus(ws, T0)
    down = evaluate_alerts(ws, now=T0, sinks=[WebhookSink(url, timeout=2)])
    assert len(down.new) == 1 and down.pending == {f"webhook:{url}": 1}
    assert alerts_frame(ws)["pending"].iloc[0] == f"webhook:{url}"
    server = _Server(port)
    try:
        _bogus(ws, T0 + DAY)
        up = evaluate_alerts(ws, now=T0 + DAY, sinks=[WebhookSink(url, timeout=2)])
        assert up.new == [] and up.pending == {}
        assert [r["id"] for r in server.received] == [down.new[0]["id"]]
        evaluate_alerts(ws, now=T0 + DAY, sinks=[WebhookSink(url, timeout=2)])
        assert len(server.received) == 1
    finally:
        server.stop()


def test_webhook_error_status_keeps_the_alert_pending(tmp_path):
    class Failing(_Hook):
        received: list[dict] = []

        def do_POST(self) -> None:
            self.send_response(503)
            self.end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        ws = tmp_path / "ws"
        _bogus(ws, T0)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        run = evaluate_alerts(ws, now=T0, sinks=[WebhookSink(url)])
        assert run.pending == {f"webhook:{url}": 1}
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_alert_cleared_before_delivery_is_still_delivered(tmp_path):
    ws = tmp_path / "ws"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    _bogus(ws, T0)
    evaluate_alerts(ws, now=T0, sinks=[WebhookSink(url, timeout=2)])
    store_run(ws, State(STABLE, ("ksk1",)), T0 + DAY)
    server = _Server(port)
    try:
        run = evaluate_alerts(ws, now=T0 + DAY, sinks=[WebhookSink(url, timeout=2)])
        assert len(run.cleared) == 1 and len(server.received) == 1
        assert server.received[0]["status"] == "cleared"
    finally:
        server.stop()


def test_state_is_written_atomically_and_checked_on_read(tmp_path):
    ws = tmp_path / "ws"
    _bogus(ws, T0)
    evaluate_alerts(ws, now=T0)
    folder = state_path(ws).parent
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "state.json"]
    doc = json.loads(state_path(ws).read_text())
    assert doc["format_version"] == 1 and doc["last_run_id"]
    state_path(ws).write_text('{"format_version": 9}')
    with pytest.raises(AlertStateError):
        evaluate_alerts(ws, now=T0)


def test_cli_alerts_evaluates_and_lists(tmp_path, hook, capsys):
    ws = tmp_path / "ws"
    d = portfolio(tmp_path)
    _bogus(ws, T0)
    jsonl = tmp_path / "a.jsonl"
    argv = ["alerts", "--workspace", str(ws), "--portfolio", str(d), "--now", T0.isoformat()]
    assert main([*argv, "--jsonl", str(jsonl), "--webhook", hook.url]) == 0
    out = capsys.readouterr().out
    assert "chain_bogus" in out and "1 new" in out
    assert len(hook.received) == 1 and jsonl.exists()
    assert main(["alerts", "--workspace", str(ws), "--list", "--format", "csv"]) == 0
    assert "chain_bogus" in capsys.readouterr().out
    assert main([*argv, "--webhook", "ftp://x"]) == 1


# --- on the real lab ---------------------------------------------------------------------------


LAB_ZONES = {
    "corp.test": set(),
    "shop.test": {"signature_expiring"},
    "brand.test": {"signed_without_ds"},
    "legacy.test": {"ds_no_matching_key", "chain_bogus", "resolver_bogus"},
    "events.test": {"chain_bogus", "signature_expiring", "resolver_bogus"},
}


@pytest.mark.lab
def test_state_rules_on_the_lab_catalog_with_its_resolvers(lab, tmp_path):
    d = tmp_path / "portfolio"
    d.mkdir()
    rows = "".join(f"{z},Ops,IT,1,service,Lab Registrar,true,,2026-01-01\n" for z in LAB_ZONES)
    (d / "inventory.csv").write_text(
        "zone,owner,business_unit,risk_tier,category,registrar,expected_signed,policy,"
        "last_reviewed\n" + rows
    )
    (d / "policy.yaml").write_text(POLICY.format(expiry=7))
    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )
    now = datetime.now(UTC)
    ws = tmp_path / "ws"
    collect_run(d, ws, config, now=now)
    run = evaluate_alerts(ws, now=now)
    got: dict[str, set[str]] = {z: set() for z in LAB_ZONES}
    for a in run.new:
        got[a["zone"]].add(a["rule"])
    for zone, rules in LAB_ZONES.items():
        assert rules <= got[zone], (zone, got[zone])
    assert got["corp.test"] == set()
    bogus_at = next(
        a for a in run.new if a["rule"] == "resolver_bogus" and a["zone"] == "legacy.test"
    )
    assert all(name in bogus_at["message"] for name in lab.resolvers)
