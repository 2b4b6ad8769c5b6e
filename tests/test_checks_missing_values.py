"""Missing values in the technical checks' evidence: the checks read frames as plain rows
(missing values None), yet evidence and messages still print a null as pandas prints it
(``<NA>``), as they did when the checks read DataFrames."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from toolkit.checks import run_checks
from toolkit.inputs.policy import PolicySet
from toolkit.schemas import RESOLVER_CHECKS, ZONES

NOW = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture
def findings():
    zones = ZONES.frame(
        [
            {
                "zone": "a.test",
                "status": "secure",
                "reasons": "",
                "ns_servers": 2,
                "ns_answered": 2,
            },
            # nothing known about its servers; a bogus zone whose reasons were not worded
            {"zone": "b.test", "status": "bogus", "reasons": "x"},
        ]
    )
    checks = RESOLVER_CHECKS.frame(
        [
            {
                "zone": "a.test",
                "resolver": "unbound",
                "address": "127.91.0.53",
                "rcode": "NOERROR",
                "ad": True,
                "resolver_status": "secure",
            },
            {  # a timeout: no rcode, no AD bit, no Extended DNS Error
                "zone": "a.test",
                "resolver": "bind",
                "address": "127.91.0.54",
                "error": "timeout",
                "resolver_status": "indeterminate",
            },
        ]
    )
    f = run_checks({"zones": zones, "resolver_checks": checks}, PolicySet(), now=NOW)
    return f.set_index(["check_id", "zone"])


def test_resolver_evidence_prints_missing_answers_as_na(findings):
    agree = findings.loc[("resolvers_agree_with_validation", "a.test")]
    assert (agree["status"], agree["message"]) == ("pass", "1 agree")
    assert agree["evidence"] == (
        "unbound@127.91.0.53: rcode=NOERROR ad=True ede=<NA>; "
        "bind@127.91.0.54: rcode=<NA> ad=<NA> ede=<NA>"
    )
    families = findings.loc[("resolver_families_agree", "a.test")]
    assert families["status"] == "indeterminate"
    assert families["evidence"] == (
        "unbound@127.91.0.53: rcode=NOERROR ad=True ede=<NA> status=secure; "
        "bind@127.91.0.54: rcode=<NA> ad=<NA> ede=<NA> status=indeterminate"
    )


def test_zone_evidence_prints_missing_facts_as_na(findings):
    servers = findings.loc[("authoritative_servers_answer", "b.test")]
    assert servers["status"] == "indeterminate"
    assert servers["evidence"] == "zones[b.test] ns_servers=<NA> ns_answered=<NA>; queries frame"
    assert findings.loc[("authoritative_servers_answer", "a.test"), "evidence"] == (
        "zones[a.test] ns_servers=2 ns_answered=2; queries frame"
    )
    bogus = findings.loc[("chain_not_bogus", "b.test")]
    assert (bogus["status"], bogus["message"]) == ("fail", "The chain of trust is bogus: <NA>")
    assert bogus["evidence"] == "zones[b.test] status=bogus reasons=x"


def test_missing_status_is_never_a_pass():
    """A zones row without a status (a malformed frame) is indeterminate, never a pass."""
    zones = ZONES.frame([{"zone": "c.test", "reasons": "", "expected_signed": True}])
    checks = RESOLVER_CHECKS.frame(
        [
            {"zone": "c.test", "resolver": r, "address": a, "resolver_status": "secure"}
            for r, a in (("unbound", "127.91.0.53"), ("bind", "127.91.0.54"))
        ]
    )
    f = run_checks({"zones": zones, "resolver_checks": checks}, PolicySet(), now=NOW)
    by_check = dict(zip(f["check_id"], f["status"], strict=True))
    for check_id in ("chain_not_bogus", "zone_signed_as_expected", "resolver_families_agree"):
        assert by_check[check_id] == "indeterminate", check_id
