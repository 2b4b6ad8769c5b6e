"""A stored run judged as of its own collection time: the technical checks over its frames.

A run holds observations only; the checks run in the assessment. What a run's findings were
*then* — the technical checks over its frames, as of the run's ``created_at`` — is what the
history's trends, the alerts' metrics export and the reports' per-run figures show.
:func:`run_findings` computes them; :func:`judged_history` gives a loaded history every run's
findings, and :func:`history_view` is one view of a workspace's history (``dnssec-audit
history``), the trends judged so. A ``findings`` frame stored by an older collector is ignored:
the run is judged afresh by today's catalogue (the frame stays in the run's files, as what that
collector said).

Judging is pure and a run is immutable, so judgements are kept in a small in-process cache,
keyed by the run id, the SHA-256 of its manifest (which names every file's SHA-256), the check
catalogue (the tool version and the check ids) and the policies. The cache lives only as long
as the process, so a judgement is never served after a code change.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit import __version__
from toolkit.checks import check_ids, run_checks
from toolkit.errors import InputError
from toolkit.history.load import History, load_history
from toolkit.inputs.policy import PolicySet
from toolkit.inputs.portfolio import load_portfolio
from toolkit.schemas import FINDINGS
from toolkit.store.runs import Run, Store
from toolkit.vocabulary import HISTORY_VIEWS

PILLARS = ("technical",)
"""The pillars a stored run is judged on by itself: the operational and governance checks need
the portfolio's records and the history, and are judged by :func:`toolkit.assessment.assess`."""

CACHE_SIZE = 512
"""Judgements kept in memory (least recently used dropped first)."""

_cache: OrderedDict[tuple[str, ...], pd.DataFrame] = OrderedDict()


def catalogue_key() -> str:
    """What identifies the check catalogue in a cache key: the tool version and the check ids."""
    ids = ",".join(sorted(check_ids()))
    return f"{__version__}:{hashlib.sha256(ids.encode()).hexdigest()[:16]}"


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of a run's manifest (canonical JSON): it lists every file's SHA-256."""
    data = json.dumps(manifest, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()


def _key(run_id: str, manifest: Mapping[str, Any], policies: PolicySet) -> tuple[str, ...]:
    return (run_id, manifest_digest(manifest), catalogue_key(), repr(policies))


def run_policies(run: Run | Mapping[str, Any]) -> PolicySet:
    """The policies of the portfolio the run (or run manifest) was collected from (its manifest
    records the folder), when that folder is on this machine and its files load; else the empty
    set (``PolicySet()``: policy-dependent checks are then not evidenced)."""
    manifest = run.manifest if isinstance(run, Run) else run
    folder = (manifest.get("parameters") or {}).get("portfolio")
    if not folder or not Path(str(folder)).is_dir():
        return PolicySet()
    try:
        return load_portfolio(str(folder), check_ids()).policies
    except InputError:
        return PolicySet()


def run_findings(run: Run, policies: PolicySet | None = None) -> pd.DataFrame:
    """The findings (schema FINDINGS) of the technical checks over ``run``'s frames, as of the
    run's own collection time; a stored ``findings`` frame is not read. ``policies`` default:
    :func:`run_policies`. Cached (see the module docstring); returns a copy."""
    if policies is None:
        policies = run_policies(run)
    key = _key(run.run_id, run.manifest, policies)
    hit = _cache.get(key)
    if hit is None:
        frames = {k: v for k, v in run.frames.items() if k != "findings"}
        hit = run_checks(frames, policies, now=run.created_at, pillars=PILLARS, run_id=run.run_id)
        _cache[key] = hit
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return hit.copy()


def clear_cache() -> None:
    """Forget every cached judgement."""
    _cache.clear()


def judged_history(
    history: History,
    store: Store | str | Path,
    policies: PolicySet | None = None,
    *,
    zones: Collection[str] | None = None,
) -> History:
    """``history`` with a ``findings`` frame of every run's :func:`run_findings` (columns
    ``run_id``, ``run_at`` then FINDINGS), replacing any stored findings it loaded; kept to
    ``zones`` when given (as the history was loaded). A run whose judgement is cached (same
    manifest) is not read again; any other is loaded from ``store`` (its files checked against
    its manifest) and judged."""
    store = store if isinstance(store, Store) else Store(store)
    at = dict(zip(history.runs["run_id"], history.runs["created_at"], strict=True))
    by_folder: dict[str, PolicySet] = {}
    parts = []
    for run_id in history.run_ids:
        manifest = store.read_manifest(run_id)
        chosen = policies
        if chosen is None:
            folder = str((manifest.get("parameters") or {}).get("portfolio"))
            if folder not in by_folder:
                by_folder[folder] = run_policies(manifest)
            chosen = by_folder[folder]
        hit = _cache.get(_key(run_id, manifest, chosen))
        found = hit.copy() if hit is not None else run_findings(store.load(run_id), chosen)
        parts.append(found.assign(run_id=run_id, run_at=at[run_id]))
    cols = ["run_id", "run_at", *FINDINGS.names]
    findings = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    if zones is not None:
        findings = findings[findings["zone"].isin(list(zones))].reset_index(drop=True)
    return History(history.runs, {**history.frames, "findings": findings})


def history_view(
    workspace: str | Path,
    view: str,
    *,
    zone: str | None = None,
    portfolio: str | Path | None = None,
    period: str = "quarter",
) -> pd.DataFrame:
    """One view (:data:`toolkit.vocabulary.HISTORY_VIEWS`) of the runs stored in
    ``workspace``: key changes, timeline, rollovers (their window from ``portfolio``'s
    policy.yaml when given), faults, last known-good keys, signature trend, or the trends per
    ``period`` (week, month, quarter; each run judged, and scored under ``portfolio``'s
    policies when given). ``zone`` (A- or U-label) keeps one zone.

    Raises InputError for a zone that is no zone name (naming ``--zone``), or an unknown view;
    ValueError for an unknown period."""
    from toolkit import history
    from toolkit.assessment.maturity import maturity_scorer
    from toolkit.inputs.inventory import normalize_zone

    if view not in HISTORY_VIEWS:
        raise InputError("--view", f"expected one of {', '.join(HISTORY_VIEWS)}, got {view!r}")
    zones = None
    if zone:
        try:
            zones = [normalize_zone(zone)[0]]
        except ValueError as exc:
            raise InputError("--zone", f"{zone!r} is not a zone name: {exc}") from None
    h = load_history(workspace, zones=zones)
    policies = load_portfolio(portfolio, check_ids()).policies if portfolio else None
    if view == "trends":
        scorer = maturity_scorer(policies) if policies is not None else None
        judged = judged_history(h, workspace, policies, zones=zones)
        return history.trends(judged, period, scorer=scorer)
    views = {
        "changes": history.changes,
        "timeline": history.timeline,
        "rollovers": lambda h: history.rollovers(h, policies),
        "faults": history.faults,
        "known-good": history.last_known_good,
        "signatures": history.signature_trend,
    }
    return views[view](h)
