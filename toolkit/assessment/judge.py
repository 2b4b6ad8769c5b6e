"""A stored run judged as of its own collection time: the technical checks over its frames.

A run holds observations only; the checks run in the assessment. What a run's findings were
*then* — the technical checks over its frames, as of the run's ``created_at`` — is what the
history's trends, the alerts' metrics export and the reports' per-run figures show.
:func:`run_findings` computes them; :func:`judged_history` gives a loaded history every run's
findings. A ``findings`` frame stored by an older collector is ignored: the run is judged
afresh by today's catalogue (the frame stays in the run's files, as what that collector said).

Judging is pure and a run is immutable, so judgements are kept in a small in-process cache,
keyed by the run id, the SHA-256 of its manifest (which names every file's SHA-256), the check
catalogue (the tool version and the check ids) and the policies. The cache lives only as long
as the process, so a judgement is never served after a code change.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd

from toolkit import __version__
from toolkit.checks import check_ids, run_checks
from toolkit.errors import InputError
from toolkit.history.load import History
from toolkit.inputs.policy import PolicySet
from toolkit.inputs.portfolio import load_portfolio
from toolkit.schemas import FINDINGS
from toolkit.store.runs import Run, Store

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


def manifest_digest(run: Run) -> str:
    """SHA-256 of the run's manifest (canonical JSON): it lists every file's SHA-256."""
    data = json.dumps(run.manifest, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()


def run_policies(run: Run) -> PolicySet:
    """The policies of the portfolio the run was collected from (its manifest records the
    folder), when that folder is on this machine and its files load; else the empty set
    (``PolicySet()``: policy-dependent checks are then not evidenced)."""
    folder = (run.manifest.get("parameters") or {}).get("portfolio")
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
    key = (run.run_id, manifest_digest(run), catalogue_key(), repr(policies))
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
    ``zones`` when given (as the history was loaded). Each run is loaded from ``store`` (its
    files checked against its manifest)."""
    store = store if isinstance(store, Store) else Store(store)
    at = dict(zip(history.runs["run_id"], history.runs["created_at"], strict=True))
    parts = [
        run_findings(r, policies).assign(run_id=r.run_id, run_at=at[r.run_id])
        for r in _runs(store, history.run_ids)
    ]
    cols = ["run_id", "run_at", *FINDINGS.names]
    findings = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    if zones is not None:
        findings = findings[findings["zone"].isin(list(zones))].reset_index(drop=True)
    return History(history.runs, {**history.frames, "findings": findings})


def _runs(store: Store, run_ids: Iterable[str]) -> Iterable[Run]:
    for run_id in run_ids:
        yield store.load(run_id)
