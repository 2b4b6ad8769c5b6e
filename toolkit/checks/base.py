"""What a check is: metadata next to its code, a function from evidence frames to results.

A :class:`Check` carries a stable id, title, severity, pillar, description, risk, remediation,
RFC/standard references and a message template. Its function takes a :class:`Context` (the
run's frames, the portfolio's policies and the injected ``now``) and yields one
:class:`Result` per zone it looked at: pass, fail, indeterminate (could not decide — never a
pass) or not_applicable. Frameworks point at check ids (see :mod:`toolkit.assessment.frameworks`),
never
the other way round.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from toolkit.inputs.policy import PolicySet
from toolkit.schemas import CATALOGUE, FINDINGS
from toolkit.vocabulary import PILLARS, SEVERITIES

RESULT_STATUSES = ("pass", "fail", "indeterminate", "not_applicable")
_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")

Row = dict[str, Any]
"""One frame row as a dict of plain values (missing values None)."""


@dataclass(frozen=True)
class Check:
    """One check's metadata. ``message`` is a ``str.format`` template over a result's params."""

    id: str
    title: str
    severity: str
    pillar: str
    description: str
    risk: str
    remediation: str
    references: tuple[str, ...]
    message: str

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"check id {self.id!r}: expected lower_snake_case, 3-64 chars")
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.id}: severity {self.severity!r} not in {SEVERITIES}")
        if self.pillar not in PILLARS:
            raise ValueError(f"check {self.id}: pillar {self.pillar!r} not in {PILLARS}")
        for name in ("title", "description", "risk", "remediation", "message"):
            if not getattr(self, name).strip():
                raise ValueError(f"check {self.id}: {name} is empty")


@dataclass(frozen=True)
class Result:
    """A check's outcome for one zone; ``params`` fill the message, ``evidence`` says where
    the facts come from (frame, rows, servers)."""

    zone: str
    status: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.status not in RESULT_STATUSES:
            raise ValueError(f"result status {self.status!r} not in {RESULT_STATUSES}")


@dataclass(frozen=True)
class Context:
    """What checks read: the run's frames by name, the signing policies, and ``now``.

    ``portfolio_zones``: every inventory zone of the portfolio, when ``frames`` hold only a
    part of it (the streaming assessment, :mod:`toolkit.assessment.stream`); a check that
    compares a zone with the rest of the portfolio reads it (:func:`known_zones`)."""

    frames: Mapping[str, pd.DataFrame]
    policies: PolicySet
    now: datetime
    run_id: str = ""
    portfolio_zones: frozenset[str] | None = None

    def frame(self, name: str) -> pd.DataFrame | None:
        return self.frames.get(name)


CheckFunc = Callable[[Context], Iterable[Result]]


class Registry:
    """Checks by id, in registration order. Registration is explicit (no import side effects)."""

    def __init__(self) -> None:
        self._checks: dict[str, tuple[Check, CheckFunc]] = {}

    def register(self, check: Check, func: CheckFunc) -> None:
        """Add a check; raises ValueError when its id is taken."""
        if check.id in self._checks:
            raise ValueError(f"check id {check.id!r} registered twice")
        self._checks[check.id] = (check, func)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def __len__(self) -> int:
        return len(self._checks)

    def get(self, check_id: str) -> Check:
        return self._checks[check_id][0]

    def checks(self) -> list[Check]:
        return [c for c, _ in self._checks.values()]

    def catalogue(self) -> pd.DataFrame:
        """The catalogue as a frame (schema CATALOGUE)."""
        return CATALOGUE.frame(
            {
                "check_id": c.id,
                "title": c.title,
                "severity": c.severity,
                "pillar": c.pillar,
                "description": c.description,
                "risk": c.risk,
                "remediation": c.remediation,
                "references": ";".join(c.references),
            }
            for c in self.checks()
        )

    def run(
        self,
        ctx: Context,
        ids: Iterable[str] | None = None,
        *,
        pillars: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Run the checks (all, or ``ids``; only those of ``pillars`` when given) and return
        the findings frame (schema FINDINGS).

        A check function that raises does not stop the others: every zone of the inventory
        gets an indeterminate result for it, naming the error.
        """
        columns: dict[str, list[Any]] = {name: [] for name in FINDINGS.names}
        wanted = list(ids) if ids is not None else list(self._checks)
        if pillars is not None:
            keep = set(pillars)
            wanted = [i for i in wanted if self._checks[i][0].pillar in keep]
        zones = _zones(ctx)
        try:
            self._run_into(columns, ctx, wanted, zones)
        finally:  # the plain rows cached for the checks: hundreds of MB at 10,000 zones
            _GROUPED.clear()
        return FINDINGS.cast(pd.DataFrame(columns))

    def _run_into(
        self, columns: dict[str, list[Any]], ctx: Context, wanted: list[str], zones: list[str]
    ) -> None:
        for check_id in wanted:
            check, func = self._checks[check_id]
            try:
                results = list(func(ctx))
            except Exception as exc:  # a broken check must not hide the others' results
                results = [
                    Result(z, "indeterminate", {}, f"check failed: {type(exc).__name__}: {exc}")
                    for z in zones
                ]
            for r in results:  # column by column: a portfolio's findings are 100,000s of rows
                for name, value in _row(check, r).items():
                    columns[name].append(value)
            del results


def _zones(ctx: Context) -> list[str]:
    zones = ctx.frame("zones")
    return [] if zones is None else list(zones["zone"])


def _row(check: Check, r: Result) -> dict[str, Any]:
    if r.status in ("pass", "not_applicable"):
        message = r.params.get("detail") or ("passed" if r.status == "pass" else "not applicable")
    elif r.status == "indeterminate":
        message = r.params.get("detail") or r.evidence or "could not be decided"
    else:
        try:
            message = check.message.format(**r.params)
        except (KeyError, IndexError, ValueError) as exc:
            message = f"{check.message} (message parameters incomplete: {exc})"
    return {
        "check_id": check.id,
        "zone": r.zone,
        "status": r.status,
        "severity": check.severity,
        "pillar": check.pillar,
        "title": check.title,
        "message": str(message),
        "evidence": r.evidence,
        "references": ";".join(check.references),
    }


CheckList = list[tuple[Check, CheckFunc]]


def collector() -> tuple[CheckList, Callable[..., Callable[[CheckFunc], CheckFunc]]]:
    """A fresh ``(CHECKS, check)`` pair for a checks module: ``@check(**metadata)`` declares a
    check's metadata next to its function and appends both to ``CHECKS``, which
    :func:`toolkit.checks.default_registry` registers explicitly."""
    checks: CheckList = []

    def check(**meta: Any) -> Callable[[CheckFunc], CheckFunc]:
        def deco(func: CheckFunc) -> CheckFunc:
            checks.append((Check(**meta), func))
            return func

        return deco

    return checks, check


def value(v: Any) -> Any:
    """A cell as a plain value: None for pd.NA, NaN and NaT."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def flag(v: Any) -> bool:
    """A boolean cell, missing counting as False."""
    v = value(v)
    return bool(v) if v is not None else False


_GROUPED: dict[int, tuple[weakref.ref[pd.DataFrame], int, dict[str, list[Row]]]] = {}


def plain_rows(df: pd.DataFrame) -> list[Row]:
    """``df``'s rows as dicts of plain values (column by column: far faster than
    ``to_dict("records")`` on Arrow-backed strings)."""
    columns = list(df.columns)
    data = []
    for name in columns:
        col = df[name]
        values = col.tolist()
        if col.isna().any():
            values = [value(v) for v in values]
        data.append(values)
    return [dict(zip(columns, vals, strict=True)) for vals in zip(*data, strict=True)]


def records_by_zone(df: pd.DataFrame) -> dict[str, list[Row]]:
    """``df``'s rows as dicts of plain values, by zone (in frame order). Computed once per
    frame object (the checks of one run read the same frames many times) and kept until the
    end of the :meth:`Registry.run` that asked for it; frames are treated as immutable."""
    key, size = id(df), len(df)
    hit = _GROUPED.get(key)
    if hit is not None and hit[0]() is df and hit[1] == size:
        return hit[2]
    out: dict[str, list[Row]] = {}
    for row in plain_rows(df):
        out.setdefault(str(row["zone"]), []).append(row)
    _GROUPED[key] = (weakref.ref(df, lambda _: _GROUPED.pop(key, None)), size, out)
    return out


_NO_ROWS: list[Row] = []


def zone_rows(df: pd.DataFrame | None) -> Callable[[str], list[Row]]:
    """A lookup of ``df``'s rows per zone as plain dicts (:func:`records_by_zone`); a zone
    without rows, or ``df`` None, gives an empty list (never to be appended to)."""
    if df is None:
        return lambda zone: _NO_ROWS
    grouped = records_by_zone(df)
    return lambda zone: grouped.get(zone, _NO_ROWS)
