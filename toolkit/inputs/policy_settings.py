"""The organisation-wide sections of ``policy.yaml`` and the optional per-policy keys.

``policy.yaml`` (see :mod:`toolkit.inputs.policy`) carries, besides the named signing policies, the
governance facts the maturity model and the governance checks read. Every section is optional;
an absent one takes the documented defaults below (REFERENCE §5), except the *facts* —
``policy_owner``, ``last_review`` and ``roles`` — which have no default: when absent they are
"not evidenced", and the checks say so. :attr:`Settings.given` records which sections the file
gave.

Top-level sections::

    policy_owner: Head of Infrastructure     # who owns the signing policy
    last_review: 2026-06-15                  # when it was last reviewed (ISO 8601 date)
    roles:                                   # role -> the person or team holding it
      zone_administrator: DNS Operations     # (the three roles below are the ones checked)
      security_lead: CISO Office
      registrar_liaison: Domains Desk
    alerts:
      coverage_max_age_days: 7               # every inventory zone probed within this many days
      policy_review_max_days: 365            # the policy is reviewed at least this often
      ds_publish_sla_hours: 72               # DS visible at the parent within (registrar: none)
      signature_expiry_days: 7               # alert when signatures expire within this
      rollover_window_days: 30               # a key rollover should complete within this
    change_control:
      match_window_hours: 48                 # a ticket's implemented_at within this of a change
    drills:
      cadence_days: 365                      # each scenario drilled at least this often
      scenarios: [ksk_emergency_rollover]    # scenarios that must be drilled (empty: any)
      followup_max_days: 90                  # drill follow-ups closed within this many days
    collector:                               # politeness of the collector, per server address
      max_inflight_per_server: 16            # queries in flight at most (0: no cap)
      max_qps_per_server: 100                # queries per second at most (0: no limit)
    maturity:
      pillar_weights: {technical: 0.40, operational: 0.35, governance: 0.25}
      tier_weights: {1: 3, 2: 2, 3: 1, untiered: 1}
      indicator_weights: {chain_status: 3}   # overrides of toolkit.assessment.maturity's defaults
      levels: [40, 60, 75, 90]               # lowest score of levels 2, 3, 4 and 5
      gates:                                 # a gate caps the level whatever the score
        - {id: bogus-tier-1, when: zone_status, statuses: [bogus], tiers: [1], max_level: 2}
        - {id: zone-without-owner, when: check_fails, checks: [zone_has_owner], max_level: 3}

The ``maturity`` section's types and reader live in :mod:`toolkit.inputs.maturity_settings`.
Problems are returned as ``(field_path, message)`` pairs so that :mod:`toolkit.inputs.policy`
reports them with their lines, in its one :class:`~toolkit.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from toolkit.inputs.maturity_settings import MaturitySettings, read_maturity
from toolkit.inputs.settings_fields import (
    Collector,
    Problems,
    _date,
    _describe,
    _is_int,
    _name_list,
    _text,
    choice,
    int_list,
    non_negative_int,
    non_negative_number,
    parse_bool,
    positive_number,
    word_list,
)

ROLES: tuple[str, ...] = ("zone_administrator", "security_lead", "registrar_liaison")
"""The roles the governance checks expect named (REFERENCE §1: signing policy & roles)."""


# --- value parsers (each returns the value or raises ValueError saying what was expected) -----


# --- the optional per-policy keys -------------------------------------------------------------


@dataclass(frozen=True)
class PolicyExtra:
    """An optional key of one signing policy: parser, meaning, default, frame dtype."""

    parse: Callable[[Any], Any]
    meaning: str
    default: Any
    dtype: str

    def cell(self, value: Any) -> Any:
        """The value as a cell of the policies frame (lists ``;``-joined)."""
        return ";".join(str(v) for v in value) if isinstance(value, tuple) else value


def _optional_days(value: Any) -> int:
    if not (_is_int(value) and value > 0):
        raise ValueError(f"expected a whole number of days above 0, found {_describe(value)}")
    return int(value)


POLICY_EXTRAS: dict[str, PolicyExtra] = {
    "csk_lifetime_days": PolicyExtra(
        _optional_days, "maximum age of a combined signing key (default: the KSK's)", None, "Int64"
    ),
    "signature_validity_days": PolicyExtra(
        positive_number, "validity given to new signatures (BIND default 14)", 14.0, "Float64"
    ),
    "signature_refresh_days": PolicyExtra(
        positive_number, "re-sign when this much validity is left (BIND default 5)", 5.0, "Float64"
    ),
    "dnskey_ttl": PolicyExtra(non_negative_int, "DNSKEY TTL in seconds", 3600, "Int64"),
    "ds_ttl": PolicyExtra(non_negative_int, "DS TTL at the parent, in seconds", 86400, "Int64"),
    "ds_digest_types": PolicyExtra(
        int_list(1, 255), "DS digest types the zone may publish (2 = SHA-256)", (2,), "string"
    ),
    "denial": PolicyExtra(
        choice("nsec", "nsec3"), "authenticated denial: nsec or nsec3", "nsec", "string"
    ),
    "nsec3_iterations": PolicyExtra(
        non_negative_int, "NSEC3 extra iterations (RFC 9276: 0)", 0, "Int64"
    ),
    "nsec3_opt_out": PolicyExtra(parse_bool, "NSEC3 opt-out used", False, "boolean"),
    "zsk_rollover_method": PolicyExtra(
        choice("pre-publication", "double-signature"),
        "ZSK rollover method (RFC 6781 §4.1.1)",
        "pre-publication",
        "string",
    ),
    "ksk_rollover_method": PolicyExtra(
        choice("double-ds", "double-ksk", "double-rrset"),
        "KSK rollover method (RFC 6781 §4.1.2)",
        "double-ds",
        "string",
    ),
    "cds_automation": PolicyExtra(
        parse_bool, "CDS/CDNSKEY publish DS changes to the parent (RFC 7344)", False, "boolean"
    ),
    "ksk_storage": PolicyExtra(
        word_list("hsm", "offline", "online"),
        "where a KSK's private key may be kept (hsm, offline, online)",
        ("hsm", "offline"),
        "string",
    ),
}
"""Optional keys of a signing policy, with their documented defaults."""


# --- the organisation-wide sections -------------------------------------------------------------


@dataclass(frozen=True)
class Alerts:
    """Thresholds of ``alerts`` (defaults: REFERENCE §5)."""

    coverage_max_age_days: float = 7.0
    policy_review_max_days: float = 365.0
    ds_publish_sla_hours: float = 72.0
    signature_expiry_days: float = 7.0  # toolkit.alerts: signatures expiring within this
    rollover_window_days: float = 30.0  # toolkit.history: a rollover completes within this


@dataclass(frozen=True)
class ChangeControl:
    """``change_control``: how observed DNSKEY/DS changes are matched to tickets."""

    match_window_hours: float = 48.0


@dataclass(frozen=True)
class DrillPolicy:
    """``drills``: the cadence of drills, the scenarios required, the follow-up deadline."""

    cadence_days: float = 365.0
    scenarios: tuple[str, ...] = ()
    followup_max_days: float = 90.0


@dataclass(frozen=True)
class Politeness:
    """``collector``: the per-server-address caps of the collector (None: not set here, the
    command line or :class:`toolkit.collect.transport.TransportConfig`'s default decides;
    0: no cap). The command line wins over these."""

    max_inflight_per_server: int | None = None
    max_qps_per_server: float | None = None


@dataclass(frozen=True)
class Settings:
    """The organisation-wide sections of policy.yaml; ``given`` names those the file had.

    ``policy_owner``, ``last_review`` and ``roles`` are facts with no default: None (or an
    empty mapping) means not evidenced.
    """

    policy_owner: str | None = None
    last_review: pd.Timestamp | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    alerts: Alerts = Alerts()
    change_control: ChangeControl = ChangeControl()
    drills: DrillPolicy = DrillPolicy()
    collector: Politeness = Politeness()
    maturity: MaturitySettings = field(default_factory=MaturitySettings)
    given: frozenset[str] = frozenset()


SETTINGS_KEYS: dict[str, str] = {
    "policy_owner": "who owns the signing policy",
    "last_review": "date of the last review of the policy (YYYY-MM-DD)",
    "roles": "role -> person or team (zone_administrator, security_lead, registrar_liaison)",
    "alerts": "alert thresholds (coverage, policy review, DS publication SLA, signature "
    "expiry, rollover window)",
    "change_control": "how observed key changes are matched to change tickets",
    "drills": "drill cadence, required scenarios, follow-up deadline",
    "collector": "the collector's caps per server address (queries in flight, queries per second)",
    "maturity": "maturity model weights, level thresholds and gates",
}
"""Top-level keys of policy.yaml read by :func:`read_settings`, with their meaning."""


def read_settings(
    data: Mapping[str, Any], check_ids: Collection[str] | None = None
) -> tuple[Settings, Problems]:
    """Validate the organisation-wide sections present in ``data`` (the top-level mapping);
    ``check_ids``, when given, are the check ids the maturity gates may name.

    Returns the :class:`Settings` (defaults for what is absent or invalid) and the problems
    found, each as ``(field_path, message)``.
    """
    c = Collector()
    kw: dict[str, Any] = {"given": frozenset(k for k in SETTINGS_KEYS if k in data)}
    for key, parse in (("policy_owner", _text), ("last_review", _date)):
        if key in data:
            try:
                kw[key] = parse(data[key])
            except ValueError as exc:
                c.problems.append(((key,), str(exc)))
    if "roles" in data and (roles := c.mapping(("roles",), data["roles"], "roles")) is not None:
        kw["roles"] = c.fields(("roles",), roles, dict.fromkeys(ROLES, _text))
    sections: dict[str, tuple[type, Mapping[str, Callable[[Any], Any]]]] = {
        "alerts": (
            Alerts,
            {
                "coverage_max_age_days": positive_number,
                "policy_review_max_days": positive_number,
                "ds_publish_sla_hours": positive_number,
                "signature_expiry_days": positive_number,
                "rollover_window_days": positive_number,
            },
        ),
        "change_control": (ChangeControl, {"match_window_hours": positive_number}),
        "collector": (
            Politeness,
            {
                "max_inflight_per_server": non_negative_int,
                "max_qps_per_server": non_negative_number,
            },
        ),
        "drills": (
            DrillPolicy,
            {
                "cadence_days": positive_number,
                "scenarios": _name_list,
                "followup_max_days": positive_number,
            },
        ),
    }
    for key, (cls, table) in sections.items():
        if key in data and (body := c.mapping((key,), data[key], "settings")) is not None:
            kw[key] = cls(**c.fields((key,), body, table))
    if "maturity" in data:
        body = c.mapping(("maturity",), data["maturity"], "maturity settings")
        if body is not None:
            kw["maturity"] = read_maturity(c, body, check_ids)
    return Settings(**kw), c.problems
