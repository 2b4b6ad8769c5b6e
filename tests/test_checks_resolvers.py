"""resolver_families_agree: validating resolver families must give a zone the same status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from toolkit.checks import default_registry, run_checks
from toolkit.inputs.policy import PolicySet
from toolkit.schemas import FINDINGS, RESOLVER_CHECKS, ZONES

NOW = datetime(2026, 11, 28, tzinfo=UTC)
CHECK = "resolver_families_agree"

# zone -> {resolver: (rcode, ad, resolver_status)}; None: no answer (timeout)
SEEN = {
    "agree.test": {
        "unbound": ("NOERROR", True, "secure"),
        "bind": ("NOERROR", True, "secure"),
        "knot-resolver": ("NOERROR", True, "secure"),
        "powerdns": ("NOERROR", True, "secure"),
    },
    "split.test": {
        "unbound": ("NOERROR", True, "secure"),
        "bind": ("NOERROR", True, "secure"),
        "knot-resolver": ("NOERROR", True, "secure"),
        "powerdns": ("SERVFAIL", False, "bogus"),
    },
    "three-ways.test": {
        "unbound": ("NOERROR", False, "insecure"),
        "bind": ("SERVFAIL", False, "bogus"),
        "powerdns": ("NOERROR", True, "secure"),
    },
    # a resolver that did not answer is not a disagreement
    "one-silent.test": {
        "unbound": ("SERVFAIL", False, "bogus"),
        "bind": ("SERVFAIL", False, "bogus"),
        "powerdns": None,
    },
    "lonely.test": {"unbound": ("NOERROR", False, "insecure"), "bind": None},
    # all deny the zone exists (NXDOMAIN with AD reads "secure"), the toolkit found no zone
    "gone.test": {
        "unbound": ("NXDOMAIN", True, "secure"),
        "bind": ("NXDOMAIN", True, "secure"),
    },
    "unasked.test": {},
}


@pytest.fixture
def frames():
    zones = ZONES.frame(
        {"zone": z, "status": "secure"}
        if z != "gone.test"
        else {"zone": z, "status": "indeterminate", "reason_text": "the zone does not exist"}
        for z in SEEN
    )
    rows = []
    for zone, seen in SEEN.items():
        for i, (resolver, answer) in enumerate(seen.items()):
            row = {"zone": zone, "resolver": resolver, "address": f"127.91.0.{53 + i}"}
            if answer is None:
                row |= {"error": "timeout", "resolver_status": "indeterminate"}
            else:
                rcode, ad, status = answer
                row |= {"rcode": rcode, "ad": ad, "resolver_status": status}
            rows.append(row)
    return {"zones": zones, "resolver_checks": RESOLVER_CHECKS.frame(rows)}


def test_check_is_in_the_catalogue():
    check = default_registry().get(CHECK)
    assert (check.severity, check.pillar) == ("high", "technical")


def test_families_agree_or_not(frames):
    f = run_checks(frames, PolicySet(), now=NOW)
    FINDINGS.check(f)
    mine = f[f["check_id"] == CHECK].set_index("zone")
    assert mine["status"].to_dict() == {
        "agree.test": "pass",
        "split.test": "fail",
        "three-ways.test": "fail",
        "one-silent.test": "pass",
        "lonely.test": "indeterminate",
        "gone.test": "indeterminate",
        "unasked.test": "indeterminate",
    }
    assert mine.loc["split.test", "message"] == (
        "Resolver families disagree on the zone's status: "
        "powerdns saw bogus; bind, knot-resolver, unbound saw secure."
    )
    assert mine.loc["three-ways.test", "message"] == (
        "Resolver families disagree on the zone's status: "
        "bind saw bogus; unbound saw insecure; powerdns saw secure."
    )
    assert "powerdns@127.91.0.56: rcode=SERVFAIL" in mine.loc["split.test", "evidence"]
    assert mine.loc["agree.test", "message"] == "4 resolvers agree: secure"
    assert mine.loc["one-silent.test", "message"] == "2 resolvers agree: bogus"
    assert "1 of 2 resolvers answered" in mine.loc["lonely.test", "message"]
    assert mine.loc["unasked.test", "message"] == "no resolver was asked"
    assert mine.loc["gone.test", "message"] == (
        "2 resolvers agree: secure, but the zone itself is indeterminate: the zone does not exist"
    )


def test_without_resolver_checks_every_zone_is_indeterminate(frames):
    f = run_checks({"zones": frames["zones"]}, PolicySet(), now=NOW)
    assert set(f.loc[f["check_id"] == CHECK, "status"]) == {"indeterminate"}
