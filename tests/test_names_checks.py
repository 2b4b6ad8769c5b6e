"""The checks on the names beyond the apex (issue 11), on hand-built frames: what fails, what
passes, and that nothing passes when the names were not asked or not answered; and a run stored
before names existed still loads and is judged indeterminate, never pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from toolkit.checks import Context, Registry
from toolkit.checks import names as names_checks
from toolkit.inputs.policy import PolicySet
from toolkit.schemas import INVENTORY, NAME_RESOLVERS, NAMES, NAMESERVERS, ZONES
from toolkit.store.runs import Store

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
ZONE = "example.test"


def frames(*, names=None, resolvers=None, status="secure", listed="www;@") -> dict:
    out = {
        "zones": ZONES.frame([{"zone": ZONE, "status": status}]),
        "inventory": INVENTORY.frame([{"zone": ZONE, "names": listed}]),
        "nameservers": NAMESERVERS.frame(
            [{"zone": ZONE, "side": "child", "server": "192.0.2.1", "answered": True}]
        ),
    }
    if names is not None:
        out["names"] = NAMES.frame(names)
    if resolvers is not None:
        out["name_resolvers"] = NAME_RESOLVERS.frame(resolvers)
    return out


def answer(name: str, qtype: str, status: str, reason: str = "ok", answer: str = "data") -> dict:
    return {
        "zone": ZONE,
        "name": name,
        "qtype": qtype,
        "server": "192.0.2.1",
        "answer": answer,
        "status": status,
        "reason": reason,
    }


def asked(name: str, qtype: str, status: str | None, rcode: str | None) -> dict:
    return {
        "zone": ZONE,
        "name": name,
        "qtype": qtype,
        "resolver": "unbound",
        "address": "192.0.2.53",
        "port": 53,
        "rcode": rcode,
        "resolver_status": status,
    }


def run(frames_: dict) -> pd.DataFrame:
    registry = Registry()
    for check, func in names_checks.CHECKS:
        registry.register(check, func)
    return registry.run(Context(frames_, PolicySet({}, None), NOW)).set_index("check_id")


def every(status: str) -> list[dict]:
    return [
        answer(n, t, status)
        for n in ("www.example.test", "example.test")
        for t in ("A", "AAAA", "MX", "TXT")
    ]


def test_all_answers_validate_pass():
    out = run(
        frames(
            names=every("secure"), resolvers=[asked("www.example.test", "A", "secure", "NOERROR")]
        )
    )
    assert out.loc["names_validate", "status"] == "pass"
    assert out.loc["names_resolve_at_resolvers", "status"] == "pass"


def test_one_bogus_answer_fails_and_names_it():
    rows = every("secure")
    rows[0] = answer("www.example.test", "A", "bogus", "RRSIG_EXPIRED")
    resolvers = [
        asked("www.example.test", "A", "bogus", "SERVFAIL"),
        asked("example.test", "TXT", "secure", "NOERROR"),
    ]
    out = run(frames(names=rows, resolvers=resolvers))
    f = out.loc["names_validate"]
    assert (f["status"], f["severity"]) == ("fail", "critical")
    assert "www.example.test A" in f["message"] and "RRSIG_EXPIRED" in f["evidence"]
    r = out.loc["names_resolve_at_resolvers"]
    assert r["status"] == "fail" and "www.example.test A at unbound" in r["message"]


def test_unanswered_names_are_indeterminate_never_pass():
    rows = every("secure")
    rows[0] = answer("www.example.test", "A", "indeterminate", "no answer (timeout)", "none")
    timeouts = [asked("www.example.test", "A", "indeterminate", None)]
    out = run(frames(names=rows, resolvers=timeouts))
    f = out.loc["names_validate"]
    assert f["status"] == "indeterminate" and "www.example.test A" in f["message"]
    assert out.loc["names_resolve_at_resolvers", "status"] == "indeterminate"


def test_a_listed_name_never_probed_is_indeterminate():
    rows = [r for r in every("secure") if r["name"] == "example.test"]
    out = run(frames(names=rows, resolvers=[]))
    assert out.loc["names_validate", "status"] == "indeterminate"
    assert "www.example.test (not probed)" in out.loc["names_validate", "message"]
    assert out.loc["names_resolve_at_resolvers", "status"] == "indeterminate"


@pytest.mark.parametrize(
    "status, expected", [("insecure", "not_applicable"), ("bogus", "not_applicable"),
                         ("indeterminate", "indeterminate")],
)  # fmt: skip
def test_the_zone_status_scopes_names_validate(status, expected):
    out = run(frames(names=every(status), status=status))
    assert out.loc["names_validate", "status"] == expected


def test_zones_without_names_are_not_applicable():
    out = run(frames(names=[], resolvers=[], listed=None))
    assert set(out["status"]) == {"not_applicable"}


def test_a_run_stored_before_names_loads_and_is_not_judged_a_pass(tmp_path):
    """An old run: the inventory has no names column, and there is no names or name_resolvers
    frame. It loads (the column is optional: null), and its zones are not_applicable; an
    inventory listing names over frames that lack the names frame is indeterminate."""
    old = frames(listed=None)
    old["inventory"] = old["inventory"].drop(columns=["names"])
    store = Store(tmp_path)
    store.write(old, parameters={}, now=NOW)
    loaded = store.load("latest")
    assert loaded["inventory"]["names"].isna().all()
    assert "names" not in loaded.frames and "name_resolvers" not in loaded.frames
    assert set(run(dict(loaded.frames))["status"]) == {"not_applicable"}
    listed_but_unprobed = run(frames())
    assert set(listed_but_unprobed["status"]) == {"indeterminate"}
