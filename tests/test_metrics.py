"""The Prometheus export: the text exposition parses with prometheus_client's parser, holds
the zone and resolver figures of the run, is written atomically; and on a real lab run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from toolkit.alerts.metrics import exposition, latest_exposition, write_metrics
from toolkit.cli.main import main
from toolkit.collect import CollectConfig, ResolverSpec, collect_run
from toolkit.schemas import FINDINGS, RESOLVER_CHECKS, ZONES
from toolkit.store.runs import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _run(tmp_path):
    zones = ZONES.frame(
        [
            {"zone": "a.test", "status": "secure", "signed": True, "has_ds": True,
             "ns_servers": 2, "ns_answered": 2, "earliest_expiration": T0 + timedelta(days=3),
             "checked_at": T0},
            {"zone": "b.test", "status": "bogus", "signed": True, "has_ds": True,
             "ns_servers": 2, "ns_answered": 1, "earliest_expiration": T0 - timedelta(hours=1),
             "checked_at": T0},
            {"zone": "c.test", "status": "indeterminate", "ns_servers": 0, "ns_answered": 0,
             "checked_at": T0},
        ]
    )  # fmt: skip
    rc = RESOLVER_CHECKS.frame(
        [
            {"zone": "a.test", "resolver": "unbound", "resolver_status": "secure",
             "latency_ms": 12.5},
            {"zone": "b.test", "resolver": 'odd "name"\\x', "resolver_status": "bogus",
             "latency_ms": None},
        ]
    )  # fmt: skip
    # A findings frame as an older collector stored it: ignored, the run is judged afresh.
    findings = FINDINGS.frame(
        [{"check_id": "x", "zone": "a.test", "status": "fail", "severity": "high"}] * 3
        + [{"check_id": "y", "zone": "a.test", "status": "pass", "severity": "high"}]
    )
    frames = {"zones": zones, "resolver_checks": rc, "findings": findings}
    return Store(tmp_path).write(frames, parameters={"simulated": True}, now=T0)


def test_exposition_parses_and_holds_the_run(tmp_path):
    run = _run(tmp_path)
    s = samples(exposition(run))
    assert s[("dnssec_zones", ())] == 3
    assert s[("dnssec_run_timestamp_seconds", ())] == T0.timestamp()
    info = [k for k in s if k[0] == "dnssec_run_info"][0]
    assert dict(info[1]) == {"run_id": run.run_id, "tool_version": run.manifest["tool_version"],
                             "simulated": "true"}  # fmt: skip
    status = {dict(k[1])["status"]: v for k, v in s.items()
              if k[0] == "dnssec_zone_status" and dict(k[1])["zone"] == "b.test"}  # fmt: skip
    assert status == {"secure": 0, "insecure": 0, "bogus": 1, "indeterminate": 0}
    assert s[("dnssec_zone_signature_expiry_seconds", (("zone", "a.test"),))] == 3 * 86400
    assert s[("dnssec_zone_signature_expiry_seconds", (("zone", "b.test"),))] == -3600
    assert ("dnssec_zone_signature_expiry_seconds", (("zone", "c.test"),)) not in s
    assert s[("dnssec_zone_authoritative_answered_ratio", (("zone", "b.test"),))] == 0.5
    assert s[("dnssec_resolver_latency_seconds",
              (("resolver", "unbound"), ("zone", "a.test")))] == 0.0125  # fmt: skip
    odd = ("dnssec_resolver_validation",
           (("resolver", 'odd "name"\\x'), ("status", "bogus"), ("zone", "b.test")))  # fmt: skip
    assert s[odd] == 1  # label escaping survives the round trip
    # The technical checks judged over the run's frames as of its time: b.test bogus fails
    # chain_not_bogus (critical) and authoritative_servers_answer (medium, 1 of 2 answered);
    # the stored frame's three high fails are not counted.
    assert s[("dnssec_findings_failed", (("severity", "critical"),))] == 1
    assert s[("dnssec_findings_failed", (("severity", "medium"),))] == 1
    assert s[("dnssec_findings_failed", (("severity", "high"),))] == 0


def test_write_is_atomic_and_cli_writes_or_prints(tmp_path, capsys):
    _run(tmp_path / "ws")
    out = tmp_path / "textfile" / "dnssec.prom"
    write_metrics(latest_exposition(tmp_path / "ws"), out)
    assert [p.name for p in out.parent.iterdir()] == ["dnssec.prom"]
    assert samples(out.read_text())[("dnssec_zones", ())] == 3
    assert main(["metrics", "--workspace", str(tmp_path / "ws"), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["metrics", "--workspace", str(tmp_path / "ws")]) == 0
    assert samples(capsys.readouterr().out)[("dnssec_zones", ())] == 3
    assert main(["metrics", "--workspace", str(tmp_path / "empty")]) == 1


@pytest.mark.lab
def test_exposition_of_a_real_lab_run_parses(lab, tmp_path):
    d = tmp_path / "portfolio"
    d.mkdir()
    (d / "inventory.csv").write_text(
        "zone,owner,business_unit,risk_tier,category,registrar,expected_signed,policy,"
        "last_reviewed\ncorp.test,Ops,IT,1,,,true,,\nlegacy.test,Ops,IT,2,,,true,,\n"
    )
    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
    )
    run = collect_run(d, tmp_path / "ws", config, now=datetime.now(UTC))
    s = samples(exposition(run))
    assert s[("dnssec_zone_status", (("status", "secure"), ("zone", "corp.test")))] == 1
    assert s[("dnssec_zone_status", (("status", "bogus"), ("zone", "legacy.test")))] == 1
    for name in lab.resolvers:
        key = ("dnssec_resolver_validation",
               (("resolver", name), ("status", "bogus"), ("zone", "legacy.test")))  # fmt: skip
        assert s[key] == 1
    assert s[("dnssec_zone_signature_expiry_seconds", (("zone", "corp.test"),))] > 86400
