"""The collector against the real lab: the toolkit's own verdict for every scenario, and its
agreement with a real validating resolver (Unbound)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from toolkit.assessment.judge import run_findings
from toolkit.checks import run_checks
from toolkit.collect import CollectConfig, ResolverSpec, TransportConfig, collect, collect_run
from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab import LAB_ZONES
from toolkit.lab.scenarios import AUDIT_ZONES
from toolkit.schemas import EVIDENCE, QUERIES, RECORDS, RESOLVER_CHECKS, ZONES
from toolkit.store.runs import Store

SAMPLE = "data/sample-portfolio"
# The lab zones of the sample portfolio (the audit scenarios' zones are collected by
# tests/test_scenarios.py in a portfolio of their own).
SAMPLE_ZONES = [z for z in LAB_ZONES if z not in AUDIT_ZONES]

pytestmark = pytest.mark.lab


def lab_config(lab, **kw) -> CollectConfig:
    return CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=lab.root_hints,
        resolvers=tuple(ResolverSpec.parse(f"{n}={a}") for n, a in lab.resolvers.items()),
        progress=False,
        **kw,
    )


@pytest.fixture(scope="module")
def frames(lab) -> dict[str, pd.DataFrame]:
    return collect(load_portfolio(SAMPLE), lab_config(lab), now=datetime.now(UTC))


def test_frames_follow_their_schemas(frames):
    for schema in (ZONES, RECORDS, RESOLVER_CHECKS, QUERIES, *EVIDENCE):
        df = frames[schema.name]
        schema.check(df)
        assert list(df.dtypes.astype(str)) == list(schema.empty().dtypes.astype(str))
    assert len(frames["zones"]) == len(frames["inventory"]) == 14


def test_sample_portfolio_covers_every_lab_zone(frames):
    assert {z.zone for z in SAMPLE_ZONES} <= set(frames["zones"]["zone"])


@pytest.mark.parametrize("lz", SAMPLE_ZONES, ids=[z.zone for z in SAMPLE_ZONES])
def test_own_validation_gives_each_scenario_its_status(frames, lz):
    row = frames["zones"].set_index("zone").loc[lz.zone]
    assert row["status"] == lz.expected_status, row["reason_text"]
    assert set(row["reasons"].split(";")) - {""} == set(lz.expected_reasons)
    assert row["ns_servers"] == 2 and row["ns_answered"] == 2


@pytest.mark.parametrize("lz", SAMPLE_ZONES, ids=[z.zone for z in SAMPLE_ZONES])
def test_unbound_agrees_with_own_validation(frames, lz):
    checks = frames["resolver_checks"]
    row = checks[(checks["zone"] == lz.zone) & (checks["resolver"] == "unbound")].iloc[0]
    assert row["error"] is pd.NA
    expected = {
        "secure": ("NOERROR", True),
        "insecure": ("NOERROR", False),
        "bogus": ("SERVFAIL", False),
    }[lz.expected_status]
    assert (row["rcode"], bool(row["ad"])) == expected
    assert row["resolver_status"] == lz.expected_status
    assert row["latency_ms"] > 0


def test_zone_missing_from_dns_is_indeterminate_with_reason(frames):
    row = frames["zones"].set_index("zone").loc["old-campaign.test"]
    assert (row["status"], row["reasons"]) == ("indeterminate", "ZONE_NOT_FOUND")
    assert "does not exist" in row["reason_text"]


def test_records_are_the_evidence_behind_the_status(frames):
    rec = frames["records"]
    corp = rec[rec["zone"] == "corp.test"]
    ds = corp[(corp["rrtype"] == "DS") & (corp["source"] == "parent")]
    ksk = corp[(corp["rrtype"] == "DNSKEY") & (corp["flags"] == 257)]
    assert len(ds) == 1 and set(ds["key_tag"]) == set(ksk["key_tag"])
    assert set(corp.loc[corp["source"] == "child", "server"]) == {
        f"{lab_base(frames)}.3",
        f"{lab_base(frames)}.4",
    }
    # the ancestors whose keys the chain was validated with are in the evidence too
    assert {".", "test"} <= set(rec["zone"])
    shop = frames["zones"].set_index("zone").loc["shop.test"]
    assert 2.5 < shop["min_rrsig_days_left"] < 3.5
    events = frames["zones"].set_index("zone").loc["events.test"]
    assert events["min_rrsig_days_left"] < -9


def lab_base(frames) -> str:
    server = frames["queries"]["server"].iloc[0]
    return server.rsplit(".", 1)[0]


def test_every_query_is_logged_with_its_outcome(frames):
    q = frames["queries"]
    assert len(q) > 30
    assert q["error"].isna().all() and (q["rcode"] == "NOERROR").sum() > 0
    assert set(q["qtype"]) >= {"NS", "DS", "DNSKEY", "SOA"}


def test_collect_run_is_stored_and_reloads(lab, tmp_path):
    now = datetime.now(UTC)
    run = collect_run(SAMPLE, tmp_path / "ws", lab_config(lab), now=now)
    loaded = Store(tmp_path / "ws").load("latest")
    assert loaded.run_id == run.run_id
    pd.testing.assert_frame_equal(loaded["zones"], run.frames["zones"])
    every = [f"{n}={a}" for n, a in lab.resolvers.items()]
    assert loaded.manifest["parameters"]["resolvers"] == every


def test_dead_servers_are_observations_not_crashes(lab, tmp_path):
    hints = tmp_path / "dead.hints"
    dead = lab.root_hints.read_text().replace(".1\n", ".99\n")
    assert dead != lab.root_hints.read_text()
    hints.write_text(dead)
    config = CollectConfig(
        trust_anchor=lab.trust_anchor,
        root_hints=hints,
        resolvers=(ResolverSpec("nobody", "127.77.0.98"),),
        transport=TransportConfig(timeout=0.3, tries=1),
        progress=False,
    )
    frames = collect(load_portfolio(SAMPLE), config, now=datetime.now(UTC))
    zones = frames["zones"]
    assert (zones["status"] == "indeterminate").all()
    assert set(zones["reasons"]) == {"PARENT_INDETERMINATE"}
    assert frames["queries"]["error"].notna().all()
    assert frames["resolver_checks"]["resolver_status"].eq("indeterminate").all()


# The checks that must fail for each zone of the sample portfolio (and no other may fail).
EXPECTED_FAILURES = {
    "corp.test": set(),
    "payments.test": set(),
    "xn--bcher-kva.test": set(),
    "shop.test": {  # signed for 3 days where the sample policy states 30
        "rrsig_validity_above_floor",
        "rrsig_outlives_soa_expire",
        "signature_validity_matches_policy",
    },
    "brand.test": {"zone_signed_as_expected", "ds_published_for_signed_zone"},
    "legacy.test": {"chain_not_bogus", "ds_matches_dnskey"},
    "events.test": {
        "chain_not_bogus",
        "rrsig_validity_above_floor",
        "rrsig_not_expired",
        "denial_proofs_valid",
    },
    "intranet.test": set(),  # unsigned by decision (expected_signed = false)
    "marketing.test": {"zone_signed_as_expected"},
    "old-campaign.test": set(),
    "api.test": set(),
    "partners.test": set(),
    "support.test": set(),
    "careers.test": set(),  # unsigned by decision
}


def test_stored_run_holds_observations_judged_as_of_its_time(lab, tmp_path):
    """A new run stores no findings (nor lists any in its manifest); the assessment's
    judgement of the stored run as of its own time is what the collector used to store: the
    technical checks over the frames it collected, at that time."""
    now = datetime.now(UTC)
    run = collect_run(SAMPLE, tmp_path / "ws", lab_config(lab), now=now)
    stored = Store(tmp_path / "ws").load(run.run_id)
    assert "findings" not in stored.frames
    assert "findings.parquet" not in stored.manifest["files"]
    assert set(stored.manifest["files"]) == {f"{name}.parquet" for name in run.frames}
    findings = run_findings(stored)
    policies = load_portfolio(SAMPLE).policies
    at_collection = run_checks(run.frames, policies, now=now, pillars=("technical",))
    pd.testing.assert_frame_equal(findings, at_collection)
    failed = findings[findings["status"] == "fail"].groupby("zone")["check_id"].agg(frozenset)
    assert {z: set(failed.get(z, ())) for z in EXPECTED_FAILURES} == EXPECTED_FAILURES
    gone = findings[findings["zone"] == "old-campaign.test"]
    assert set(gone["status"]) <= {"indeterminate", "not_applicable"}
    assert (findings.groupby("zone").size() == findings["check_id"].nunique()).all()
