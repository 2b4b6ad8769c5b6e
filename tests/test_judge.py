"""A stored run judged as of its own time (toolkit.assessment.judge): the stored findings of an
older collector are ignored, judgements are cached per run, catalogue and policies, and the
history's trends count the judged findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from toolkit import history
from toolkit.assessment import judge
from toolkit.assessment.judge import judged_history, run_findings
from toolkit.checks import run_checks
from toolkit.inputs.policy import PolicySet, SigningPolicy
from toolkit.schemas import FINDINGS, ZONES
from toolkit.store.runs import Store

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _zones(status: str, zone: str = "a.test"):
    return ZONES.frame(
        [{"zone": zone, "status": status, "signed": True, "has_ds": True, "ns_servers": 2,
          "ns_answered": 2, "checked_at": T0}]
    )  # fmt: skip


def _old_run(store: Store, status: str, now: datetime):
    """A run as the old collector stored it: with a findings frame (here a made-up one)."""
    stored = FINDINGS.frame(
        [{"check_id": "made_up", "zone": "a.test", "status": "fail", "severity": "critical"}]
    )
    return store.write({"zones": _zones(status), "findings": stored}, parameters={}, now=now)


@pytest.fixture(autouse=True)
def _fresh_cache():
    judge.clear_cache()
    yield
    judge.clear_cache()


def test_an_old_run_is_judged_afresh_as_of_its_own_time(tmp_path):
    store = Store(tmp_path)
    run = store.load(_old_run(store, "bogus", T0).run_id)
    assert "findings" in run.frames  # still loads, hashes and verifies
    got = run_findings(run)
    assert "made_up" not in set(got["check_id"])
    expected = run_checks({"zones": run["zones"]}, PolicySet(), now=T0, pillars=("technical",))
    assert got.equals(expected)
    failed = got[got["status"] == "fail"]
    assert set(failed["check_id"]) >= {"chain_not_bogus"}


def test_judgements_are_cached_per_run_catalogue_and_policies(tmp_path, monkeypatch):
    store = Store(tmp_path)
    run = store.load(_old_run(store, "bogus", T0).run_id)
    calls = []
    real = judge.run_checks

    def counting(*args, **kwargs):
        calls.append(kwargs["now"])
        return real(*args, **kwargs)

    monkeypatch.setattr(judge, "run_checks", counting)
    first = run_findings(run, PolicySet())
    first.loc[:, "status"] = "tampered"  # a copy: the cache is not changed through it
    second = run_findings(store.load(run.run_id), PolicySet())
    assert len(calls) == 1 and "tampered" not in set(second["status"])
    assert calls == [T0]  # judged as of the run's own time
    other = PolicySet({"p": SigningPolicy("p", "", (13,), 90, 365, 5.0)}, default="p")
    run_findings(run, other)
    assert len(calls) == 2  # other policies: judged again
    monkeypatch.setattr(judge, "__version__", "0.0.0-changed")
    run_findings(run, PolicySet())
    assert len(calls) == 3  # another catalogue version: judged again


def test_trends_count_the_judged_findings_not_the_stored_ones(tmp_path, monkeypatch):
    store = Store(tmp_path)
    _old_run(store, "secure", T0)
    _old_run(store, "bogus", T0 + timedelta(days=40))
    h = history.load_history(tmp_path, frames=("zones",))
    assert history.trends(h, "month")["open_critical"].isna().all()  # not judged: unknown
    t = history.trends(judged_history(h, store), "month")
    assert list(t["open_critical"]) == [0, 1]  # chain_not_bogus on the bogus run only
    loads = []
    real_load = Store.load
    monkeypatch.setattr(
        Store, "load", lambda self, *a, **k: loads.append(a) or real_load(self, *a, **k)
    )
    again = judged_history(h, store)
    assert loads == []  # judged runs are not read again
    assert again["findings"].equals(judged_history(h, store)["findings"])
    only = judged_history(h, store, zones=["other.test"])
    assert only["findings"].empty
