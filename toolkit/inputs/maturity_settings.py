"""The ``maturity`` section of ``policy.yaml``: indicators, weights, level thresholds and gates
of the maturity model (:mod:`toolkit.assessment.maturity`), with their defaults (REFERENCE §5)
and the reader that validates them. Read through
:func:`toolkit.inputs.policy_settings.read_settings`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.inputs.settings_fields import (
    Collector,
    _describe,
    _is_int,
    _is_number,
    _name_list,
    _text,
    choice,
    int_list,
    word_list,
)
from toolkit.vocabulary import PILLARS

GATE_KINDS: tuple[str, ...] = ("zone_status", "check_fails")
ZONE_STATUSES: tuple[str, ...] = ("secure", "insecure", "bogus", "indeterminate")

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class Gate:
    """A maturity gate: when it triggers, the level is at most ``max_level``.

    ``when="zone_status"``: a zone whose chain status is in ``statuses``;
    ``when="check_fails"``: a zone for which a check of ``checks`` fails. ``tiers`` limits
    the gate to zones of those risk tiers (empty: every zone).
    """

    id: str
    when: str
    max_level: int
    statuses: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    tiers: tuple[int, ...] = ()


DEFAULT_GATES: tuple[Gate, ...] = (
    Gate("bogus-tier-1", "zone_status", 2, statuses=("bogus",), tiers=(1,)),
    Gate("zone-without-owner", "check_fails", 3, checks=("zone_has_owner",)),
    Gate(
        "unapproved-change",
        "check_fails",
        3,
        checks=("key_changes_approved", "change_approval_segregated"),
    ),
)
"""Gates of REFERENCE §5 (bogus tier-1 zone caps at 2, zone without owner at 3), plus an
unapproved DNSKEY/DS change capping at 3."""


def _default_pillars() -> dict[str, float]:
    return {"technical": 0.40, "operational": 0.35, "governance": 0.25}


def _default_tiers() -> dict[int | None, float]:
    return {1: 3.0, 2: 2.0, 3: 1.0, None: 1.0}


@dataclass(frozen=True)
class MaturitySettings:
    """``maturity``: weights, level thresholds and gates of :mod:`toolkit.assessment.maturity`.

    ``tier_weights`` maps a risk tier (None: untiered) to the weight of its zones in the
    portfolio score; ``indicator_weights`` overrides the model's default indicator weights;
    ``levels`` are the lowest scores of levels 2, 3, 4 and 5.
    """

    pillar_weights: Mapping[str, float] = field(default_factory=_default_pillars)
    tier_weights: Mapping[int | None, float] = field(default_factory=_default_tiers)
    indicator_weights: Mapping[str, float] = field(default_factory=dict)
    levels: tuple[float, ...] = (40.0, 60.0, 75.0, 90.0)
    gates: tuple[Gate, ...] = DEFAULT_GATES


@dataclass(frozen=True)
class Indicator:
    """One indicator: its pillar, default weight, the checks it reads, and how it is graded
    (``grade``: ``share`` of passing findings, or a graded rule named after the indicator)."""

    name: str
    pillar: str
    weight: float
    description: str
    checks: tuple[str, ...] = ()
    grade: str = "share"


INDICATORS: tuple[Indicator, ...] = (
    Indicator("chain_status", "technical", 3, "secure 1, insecure by decision or accepted 1, "
              "insecure but should be signed 0.2, bogus 0", ("chain_not_bogus",), "chain_status"),
    Indicator("delegation_secure", "technical", 2, "signed as expected, DS published",
              ("zone_signed_as_expected", "ds_published_for_signed_zone")),
    Indicator("algorithm_strength", "technical", 1, "13/14/15/16 → 1, 8/10 → 0.7, else 0",
              (), "algorithm_strength"),
    Indicator("signature_validity", "technical", 2, "remaining RRSIG validity above the floor",
              ("rrsig_validity_above_floor",)),
    Indicator("server_health", "technical", 1, "every authoritative server answers",
              ("authoritative_servers_answer",)),
    Indicator("resolver_validation", "technical", 1, "validating resolvers agree",
              ("resolvers_agree_with_validation", "resolver_families_agree")),
    Indicator("other_technical_checks", "technical", 1, "every other technical check", (),
              "other"),
    Indicator("key_manifest", "operational", 2, "manifest and DNS agree",
              ("dnskey_in_manifest", "manifest_key_observed")),
    Indicator("key_crypto_period", "operational", 2, "keys within the policy crypto-period",
              ("key_rollover_not_overdue",)),
    Indicator("key_custody", "operational", 2, "KSK offline or in an HSM as required",
              ("ksk_custody_offline",)),
    Indicator("change_approval", "operational", 3, "key and DS changes approved, segregated",
              ("key_changes_approved", "change_approval_segregated")),
    Indicator("ds_coordination", "operational", 1, "DS published within the registrar SLA",
              ("ds_publish_within_sla",)),
    Indicator("cds_automation", "operational", 1, "the policy uses CDS/CDNSKEY automation",
              (), "cds_automation"),
    Indicator("incident_response", "operational", 1, "incidents recorded and reviewed",
              ("bogus_zone_has_incident", "incidents_reviewed")),
    Indicator("drills", "operational", 2, "runbook drills on schedule", ("drills_on_schedule",)),
    Indicator("other_operational_checks", "operational", 1, "every other operational check",
              (), "other"),
    Indicator("ownership", "governance", 2, "owner and key custodians named",
              ("zone_has_owner", "key_custodian_named")),
    Indicator("coverage", "governance", 2, "zone probed recently", ("zone_probed_recently",)),
    Indicator("signing_policy", "governance", 1, "policy applies and is reviewed",
              ("signing_policy_assigned", "policy_reviewed_recently")),
    Indicator("roles", "governance", 1, "roles named", ("roles_assigned",)),
    Indicator("risk_acceptance", "governance", 2, "unsigned zones have a current acceptance",
              ("unsigned_zone_risk_accepted",)),
    Indicator("registrar", "governance", 1, "registrar documented", ("registrar_documented",)),
    Indicator("drill_followups", "governance", 1, "drill follow-ups closed",
              ("drill_followups_closed",)),
    Indicator("other_governance_checks", "governance", 1, "every other governance check", (),
              "other"),
)  # fmt: skip
"""The maturity model's indicators (:mod:`toolkit.assessment.maturity` grades them) and their
default weights (overridden by ``maturity.indicator_weights``, which may name only these)."""

INDICATOR_NAMES: tuple[str, ...] = tuple(i.name for i in INDICATORS)


def read_maturity(
    c: Collector, body: dict[Any, Any], check_ids: Collection[str] | None = None
) -> MaturitySettings:
    """The ``maturity`` section; ``check_ids`` (the check catalogue's ids, passed in by the
    assessment: the catalogue is above the inputs), when given, is what a gate's ``checks``
    must name."""
    path: Path_ = ("maturity",)
    table = {
        "pillar_weights": lambda v: v,
        "tier_weights": lambda v: v,
        "indicator_weights": lambda v: v,
        "levels": lambda v: v,
        "gates": lambda v: v,
    }
    raw = c.fields(path, body, table)
    kw: dict[str, Any] = {}
    if "pillar_weights" in raw:
        weights = _weights(c, (*path, "pillar_weights"), raw["pillar_weights"], PILLARS)
        if weights is not None:
            kw["pillar_weights"] = {**_default_pillars(), **weights}
    if "tier_weights" in raw:
        tiers = _weights(c, (*path, "tier_weights"), raw["tier_weights"], (1, 2, 3, "untiered"))
        if tiers is not None:
            mapped = {None if k == "untiered" else k: v for k, v in tiers.items()}
            kw["tier_weights"] = {**_default_tiers(), **mapped}
    if "indicator_weights" in raw:
        w = _weights(c, (*path, "indicator_weights"), raw["indicator_weights"], INDICATOR_NAMES)
        if w is not None:
            kw["indicator_weights"] = w
    if "levels" in raw:
        levels = raw["levels"]
        ok = (
            isinstance(levels, list)
            and len(levels) == 4
            and all(_is_number(v) and 0 < v <= 100 for v in levels)
            and all(a < b for a, b in zip(levels, levels[1:], strict=False))
        )
        if ok:
            kw["levels"] = tuple(float(v) for v in levels)
        else:
            c.problems.append(
                (
                    (*path, "levels"),
                    "expected 4 increasing scores between 0 and 100 (the lowest score of "
                    f"levels 2, 3, 4 and 5), found {_describe(levels)}",
                )
            )
    if "gates" in raw:
        gates = _gates(c, (*path, "gates"), raw["gates"], check_ids)
        if gates is not None:
            kw["gates"] = gates
    return MaturitySettings(**kw)


def _weights(
    c: Collector, path: Path_, value: Any, names: tuple[Any, ...]
) -> dict[Any, float] | None:
    body = c.mapping(path, value, "names to weights")
    if body is None:
        return None
    out: dict[Any, float] = {}
    before = len(c.problems)
    for key, weight in body.items():
        if key not in names:
            known = ", ".join(str(n) for n in names)
            c.problems.append(
                ((*path, str(key)), f"unknown name '{key}'; expected one of: {known}")
            )
        elif not (_is_number(weight) and weight >= 0):
            c.problems.append(
                ((*path, str(key)), f"expected a weight, 0 or more, found {_describe(weight)}")
            )
        else:
            out[key] = float(weight)
    return out if len(c.problems) == before else None


def _gates(
    c: Collector, path: Path_, value: Any, known: Collection[str] | None
) -> tuple[Gate, ...] | None:
    if not isinstance(value, list):
        c.problems.append((path, f"expected a list of gates, found {_describe(value)}"))
        return None
    table: dict[str, Callable[[Any], Any]] = {
        "id": _text,
        "when": choice(*GATE_KINDS),
        "max_level": _level,
        "statuses": word_list(*ZONE_STATUSES),
        "checks": _name_list,
        "tiers": int_list(1, 3),
    }
    before = len(c.problems)
    gates: list[Gate] = []
    for i, item in enumerate(value):
        where = (*path, f"[{i}]")
        body = c.mapping(where, item, "gate settings")
        if body is None:
            continue
        fields = c.fields(where, body, table)
        missing = [k for k in ("id", "when", "max_level") if k not in body]
        for key in missing:
            c.problems.append(((*where, key), f"required key '{key}' is missing from the gate"))
        if missing or len(c.problems) > before:
            continue
        need = "statuses" if fields["when"] == "zone_status" else "checks"
        if not fields.get(need):
            c.problems.append(
                ((*where, need), f"a '{fields['when']}' gate needs a non-empty '{need}' list")
            )
            continue
        unknown = [k for k in fields.get("checks", ()) if known is not None and k not in known]
        if unknown:
            c.problems.append(
                ((*where, "checks"), f"unknown check id(s) {', '.join(unknown)} in the gate")
            )
            continue
        gates.append(Gate(**fields))
    return tuple(gates) if len(c.problems) == before else None


def _level(value: Any) -> int:
    if not (_is_int(value) and 1 <= value <= 5):
        raise ValueError(f"expected a level 1 to 5, found {_describe(value)}")
    return int(value)
