"""Control frameworks as data: which checks evidence which requirement.

One YAML file per framework sits beside this module (``iso27001.yaml``, ``soc2.yaml``,
``nist-800-53.yaml``, ``nis2.yaml``, ``cis.yaml``)::

    framework: nist-800-53               # the id, = the file name
    title: NIST SP 800-53 Rev. 5
    source: https://...                  # optional
    requirements:
      SC-20:
        title: Secure name/address resolution service (authoritative source)
        checks: [chain_not_bogus, zone_signed_as_expected]

Frameworks reference check ids, never the other way round (Prowler's model); the mapping is
inverted at load time (:func:`requirements_by_check`). :func:`rollup` turns findings into a
status per requirement — pass, fail or not_evidenced — with the evidence rows behind each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from toolkit.errors import InputError, Problem
from toolkit.schemas import FINDINGS, Column, FrameSchema

HERE = Path(__file__).resolve().parent
FRAMEWORK_IDS: tuple[str, ...] = ("iso27001", "soc2", "nist-800-53", "nis2", "cis")
REQUIREMENT_STATUSES = ("pass", "fail", "not_evidenced")


@dataclass(frozen=True)
class Requirement:
    """One requirement (control) of a framework and the checks that evidence it."""

    framework: str
    id: str
    title: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Framework:
    """A framework: id, title, source, and its requirements in file order."""

    id: str
    title: str
    source: str
    requirements: tuple[Requirement, ...]

    def check_ids(self) -> set[str]:
        """Every check id the framework references."""
        return {c for r in self.requirements for c in r.checks}


def load_framework(name: str | Path) -> Framework:
    """Load a framework by id (one of :data:`FRAMEWORK_IDS`) or from a YAML path.

    Raises:
        InputError: unknown id, unreadable or invalid YAML, or a file not of the documented
            shape (every problem listed: missing framework/title/requirements, a requirement
            without a title or with an empty or non-text ``checks`` list, unknown keys).
    """
    path = Path(name) if str(name).endswith((".yaml", ".yml")) else HERE / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(FRAMEWORK_IDS)
        raise InputError(path, f"no such framework; known frameworks: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(path, f"cannot read the framework: {exc}") from None
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping with framework, title and requirements")
    for key in data:
        if key not in ("framework", "title", "source", "requirements"):
            problems.append(Problem(None, str(key), f"unknown key '{key}'", kind="field"))
    for key in ("framework", "title"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.append(Problem(None, key, "required text is missing", kind="field"))
    fid = str(data.get("framework", ""))
    raw = data.get("requirements")
    requirements: list[Requirement] = []
    if not isinstance(raw, dict) or not raw:
        problems.append(
            Problem(None, "requirements", "expected a mapping of requirement ids", kind="field")
        )
        raw = {}
    for rid, body in raw.items():
        where = f"requirements.{rid}"
        if not isinstance(body, dict) or set(body) - {"title", "checks"}:
            problems.append(Problem(None, where, "expected title and checks only", kind="field"))
            continue
        checks = body.get("checks")
        if not isinstance(body.get("title"), str) or not body["title"].strip():
            problems.append(Problem(None, f"{where}.title", "required text is missing", "field"))
        if (
            not isinstance(checks, list)
            or not checks
            or not all(isinstance(c, str) for c in checks)
        ):
            problems.append(
                Problem(None, f"{where}.checks", "expected a non-empty list of check ids", "field")
            )
            continue
        requirements.append(Requirement(fid, str(rid), str(body.get("title")), tuple(checks)))
    if problems:
        raise InputError(path, problems=problems)
    return Framework(fid, str(data["title"]), str(data.get("source", "")), tuple(requirements))


def load_frameworks(ids: Iterable[str] | None = None) -> dict[str, Framework]:
    """The frameworks ``ids`` (default: all of :data:`FRAMEWORK_IDS`), by id.

    Raises InputError as :func:`load_framework`.
    """
    return {f: load_framework(f) for f in (ids or FRAMEWORK_IDS)}


MAPPING = FrameSchema(
    "framework_mapping",
    "One row per framework requirement and check id it references.",
    (
        Column("framework", "string", "framework id"),
        Column("requirement_id", "string", "requirement (control) id"),
        Column("title", "string", "requirement title"),
        Column("check_id", "string", "check evidencing it"),
    ),
)


def mapping_frame(frameworks: Mapping[str, Framework]) -> pd.DataFrame:
    """The mapping as a frame (schema :data:`MAPPING`), in file order."""
    return MAPPING.frame(
        {"framework": r.framework, "requirement_id": r.id, "title": r.title, "check_id": c}
        for fw in frameworks.values()
        for r in fw.requirements
        for c in r.checks
    )


def requirements_by_check(frameworks: Mapping[str, Framework]) -> dict[str, list[Requirement]]:
    """The inverted mapping: check id -> the requirements it evidences."""
    out: dict[str, list[Requirement]] = {}
    for fw in frameworks.values():
        for r in fw.requirements:
            for c in r.checks:
                out.setdefault(c, []).append(r)
    return out


REQUIREMENTS = FrameSchema(
    "requirements",
    "One row per framework requirement: its status rolled up from the findings of its checks.",
    (
        Column("framework", "string", "framework id"),
        Column("requirement_id", "string", "requirement id"),
        Column("title", "string", "requirement title"),
        Column("status", "string", "pass | fail | not_evidenced"),
        Column("check_ids", "string", "checks evidencing it, `;`-joined"),
        Column("passed", "Int64", "findings that passed"),
        Column("failed", "Int64", "findings that failed"),
        Column("indeterminate", "Int64", "findings that could not be decided"),
        Column("not_applicable", "Int64", "findings not applicable"),
        Column("failing_zones", "string", "zones with a failed finding, `;`-joined"),
    ),
)

EVIDENCE = FrameSchema(
    "requirement_evidence",
    "The findings behind each requirement's status: one row per requirement and finding.",
    (
        Column("framework", "string", "framework id"),
        Column("requirement_id", "string", "requirement id"),
        *(c for c in FINDINGS.columns if c.name != "references"),
    ),
)


def requirement_status(statuses: Iterable[str]) -> str:
    """Roll finding statuses up: any fail -> fail; else any indeterminate, or no pass at all
    (nothing found, or all not applicable) -> not_evidenced; else pass. Missing data never
    passes."""
    seen = set(statuses)
    if "fail" in seen:
        return "fail"
    if "indeterminate" in seen or "pass" not in seen:
        return "not_evidenced"
    return "pass"


def rollup(
    findings: pd.DataFrame, frameworks: Mapping[str, Framework]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Status per requirement (schema :data:`REQUIREMENTS`) and its evidence rows (schema
    :data:`EVIDENCE`), from a findings frame (schema FINDINGS)."""
    rows: list[dict[str, Any]] = []
    evidence: list[pd.DataFrame] = []
    by_check = {c: g for c, g in findings.groupby("check_id")} if len(findings) else {}
    for fw in frameworks.values():
        for r in fw.requirements:
            parts = [by_check[c] for c in r.checks if c in by_check]
            mine = pd.concat(parts) if parts else FINDINGS.empty()
            counts = mine["status"].value_counts()
            failing = sorted(set(mine.loc[mine["status"] == "fail", "zone"]))
            rows.append(
                {
                    "framework": fw.id,
                    "requirement_id": r.id,
                    "title": r.title,
                    "status": requirement_status(mine["status"]),
                    "check_ids": ";".join(r.checks),
                    "passed": int(counts.get("pass", 0)),
                    "failed": int(counts.get("fail", 0)),
                    "indeterminate": int(counts.get("indeterminate", 0)),
                    "not_applicable": int(counts.get("not_applicable", 0)),
                    "failing_zones": ";".join(failing) or None,
                }
            )
            if len(mine):
                ev = mine.drop(columns=["references"]).copy()
                ev.insert(0, "requirement_id", r.id)
                ev.insert(0, "framework", fw.id)
                evidence.append(ev)
    ev_frame = (
        EVIDENCE.cast(pd.concat(evidence, ignore_index=True)) if evidence else EVIDENCE.empty()
    )
    return REQUIREMENTS.frame(rows), ev_frame
