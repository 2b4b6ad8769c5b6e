"""The signing policy as a DNSSEC Policy and Practice Statement (outline of RFC 6841).

Pure: a parsed ``policy.yaml`` in, HTML sections out; ``notebooks/policy_statement.ipynb``
displays them and :func:`toolkit.reports.render.render_policy_statement` prints the PDF.

Every value shown comes from the file as written. The file is validated with
:func:`toolkit.inputs.policy.load_policies` first (an invalid file is an error, never a statement),
but the values are taken from the raw YAML, so that a key the file does not give is stated as
"not defined in policy.yaml" — with the toolkit's default, which then applies — instead of
quietly showing the default as if the organisation had chosen it. Annex A lists every value
of the file with its path. Each section is a list of blocks (heading, paragraph, parameter
table) rendered by the Jinja2 template ``report_templates/fragments/policy/blocks.html.j2``
(:mod:`toolkit.reports.templates`): autoescape escapes all text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from toolkit.checks import check_ids
from toolkit.inputs.policy import PolicySet, load_policies
from toolkit.inputs.policy_settings import (
    POLICY_EXTRAS,
    SETTINGS_KEYS,
    Alerts,
    ChangeControl,
    DrillPolicy,
)
from toolkit.reports import templates
from toolkit.reports.html import heading_html

NOT_DEFINED = "not defined in policy.yaml"

#: Meaning of the required keys of a signing policy (the optional ones: POLICY_EXTRAS).
_REQUIRED_MEANING = {
    "description": "what the policy is for",
    "allowed_algorithms": "DNSSEC algorithm numbers a zone may be signed with",
    "zsk_lifetime_days": "maximum age of a zone signing key (ZSK), in days",
    "ksk_lifetime_days": "maximum age of a key signing key (KSK), in days",
    "min_rrsig_validity_days": "warn when less signature validity than this remains, in days",
    "key_scheme": "split (KSK + ZSK) or csk (one combined key)",
}
_ALGORITHMS = {
    5: "RSASHA1",
    7: "RSASHA1-NSEC3-SHA1",
    8: "RSASHA256",
    10: "RSASHA512",
    13: "ECDSAP256SHA256",
    14: "ECDSAP384SHA384",
    15: "ED25519",
    16: "ED448",
}


def fmt(value: Any) -> str:
    """A YAML value as the statement writes it: booleans ``true``/``false``, lists joined with
    ``, ``, dates ISO, mappings ``key: value; ...``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    if value is None:
        return "null"
    return " ".join(str(value).split())


def leaves(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar of a parsed YAML document with its path (``policies.standard.ds_ttl``,
    ``maturity.gates[0].id``); an empty list or mapping is a leaf of its own."""
    if isinstance(data, Mapping) and data:
        for k, v in data.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list) and data and any(isinstance(v, Mapping | list) for v in data):
        for i, v in enumerate(data):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, data


@dataclass(frozen=True)
class PolicyDocument:
    """policy.yaml: the raw mapping as written, the validated policies, the file's SHA-256."""

    path: Path
    raw: Mapping[str, Any]
    policies: PolicySet
    sha256: str

    def get(self, *keys: str) -> Any:
        """The raw value at ``keys`` (e.g. ``"alerts", "ds_publish_sla_hours"``), or None."""
        node: Any = self.raw
        for k in keys:
            if not isinstance(node, Mapping) or k not in node:
                return None
            node = node[k]
        return node

    def has(self, *keys: str) -> bool:
        node: Any = self.raw
        for k in keys:
            if not isinstance(node, Mapping) or k not in node:
                return False
            node = node[k]
        return True

    def shown(self, *keys: str, default: Any = None) -> str:
        """The value as written, or "not defined in policy.yaml" (and the default that applies)."""
        if self.has(*keys):
            return fmt(self.get(*keys))
        if default is None:
            return NOT_DEFINED
        return f"{NOT_DEFINED} (the toolkit applies its default: {fmt(default)})"


def read_policy_document(path: Path | str) -> PolicyDocument:
    """Validate and read ``policy.yaml``. Raises InputError (from :func:`load_policies`) when
    the file is invalid."""
    path = Path(path)
    policies = load_policies(path, check_ids())
    data = path.read_bytes()
    raw = yaml.safe_load(data) or {}
    return PolicyDocument(path, raw, policies, hashlib.sha256(data).hexdigest())


# -- HTML ----------------------------------------------------------------------------------------


#: A block of a section: a dict with "kind" (heading, p, policy, table, annex) and its values.
Block = dict[str, Any]


def _table(rows: Sequence[tuple[str, str, str]], head: tuple[str, str, str]) -> Block:
    return {"kind": "table", "rows": rows, "head": head}


def _p(text: str) -> Block:
    return {"kind": "p", "text": text}


def _h(number: str, title: str, level: int = 2) -> Block:
    anchor = f"s{number.replace('.', '-')}"
    html = heading_html(f"{number} {title}", level=level, anchor=anchor, toc=True)
    return {"kind": "heading", "html": Markup(html)}


def _render(blocks: Sequence[Block | Sequence[Block]]) -> str:
    """The blocks (a list of blocks counts as its blocks, in order) as HTML."""
    flat = [x for b in blocks for x in ([b] if isinstance(b, dict) else b)]
    return str(templates.render("policy/blocks.html.j2", blocks=flat, not_defined=NOT_DEFINED))


def _policy_rows(doc: PolicyDocument, name: str, keys: Sequence[str]) -> list[tuple[str, str, str]]:
    rows = []
    for key in keys:
        extra = POLICY_EXTRAS.get(key)
        meaning = extra.meaning if extra else _REQUIRED_MEANING.get(key, "")
        default = extra.default if extra else None
        if key == "csk_lifetime_days":
            default = None  # no default of its own: the KSK's lifetime applies
        value = doc.shown("policies", name, key, default=default)
        if key == "allowed_algorithms" and doc.has("policies", name, key):
            named = [f"{a} ({_ALGORITHMS[a]})" if a in _ALGORITHMS else str(a)
                     for a in doc.get("policies", name, key) or []]  # fmt: skip
            value = f"{value} — {', '.join(named)}"
        rows.append((key, value, meaning))
    return rows


def _per_policy(doc: PolicyDocument, keys: Sequence[str]) -> list[Block]:
    out: list[Block] = []
    for name in doc.policies.names:
        out.append({"kind": "policy", "name": name})
        out.append(_table(_policy_rows(doc, name, keys), ("Parameter", "Value", "Meaning")))
    return out


def introduction_html(
    doc: PolicyDocument, organisation: str, zones_by_policy: Mapping[str, int]
) -> str:
    """§1 Introduction: overview, identification, community and applicability, administration."""
    default = doc.shown("default_policy")
    applic = [
        (
            name,
            str(zones_by_policy.get(name, 0)),
            fmt(doc.get("policies", name, "description") or NOT_DEFINED),
        )
        for name in doc.policies.names
    ]
    return _render(
        [
            _h("1", "Introduction"),
            _h("1.1", "Overview", 3),
            _p(
                f"This DNSSEC Policy and Practice Statement (DPS) sets out how {organisation} "
                "signs its DNS zones with DNSSEC and manages the keys. It follows the outline of "
                "RFC 6841. Every value in it is taken from the organisation's signing policy "
                "file, policy.yaml; where the file gives no value the statement says "
                f"“{NOT_DEFINED}”."
            ),
            _h("1.2", "Document name and identification", 3),
            _table(
                [
                    ("Source file", doc.path.name, "the signing policy this statement renders"),
                    ("SHA-256", doc.sha256, "fingerprint of the file as read"),
                    ("format_version", doc.shown("format_version"), "layout of the file"),
                ],
                ("Item", "Value", "Meaning"),
            ),
            _h("1.3", "Community and applicability", 3),
            _p(
                "The policies below apply to the zones of the inventory that name them; zones "
                f"that name none follow the default policy: {default}."
            ),
            _table(applic, ("Policy", "Zones in the inventory", "Description")),
            _h("1.4", "Specification administration", 3),
            _table(
                [
                    ("policy_owner", doc.shown("policy_owner"), SETTINGS_KEYS["policy_owner"]),
                    ("last_review", doc.shown("last_review"), SETTINGS_KEYS["last_review"]),
                    (
                        "alerts.policy_review_max_days",
                        doc.shown(
                            "alerts",
                            "policy_review_max_days",
                            default=Alerts().policy_review_max_days,
                        ),  # fmt: skip
                        "the policy is reviewed at least this often (days)",
                    ),
                ],
                ("Item", "Value", "Meaning"),
            ),
        ]
    )


def publication_html(doc: PolicyDocument) -> str:
    """§2 Publication and repositories: the statement, and the DS at the parent."""
    return _render(
        [
            _h("2", "Publication and repositories"),
            _p(
                "This statement is generated from policy.yaml and published with the audit "
                "evidence; the SHA-256 in 1.2 identifies the exact file. The trust anchors of "
                "the zones are their DS records, published in the parent zone through the "
                "registrar (see each zone's runbook for contacts)."
            ),
            _per_policy(doc, ("ds_ttl", "ds_digest_types", "cds_automation")),
        ]
    )


def operational_html(doc: PolicyDocument) -> str:
    """§3 Operational requirements: signing, monitoring and change control."""
    a, c = Alerts(), ChangeControl()
    return _render(
        [
            _h("3", "Operational requirements"),
            _h("3.1", "Meaning of domain names and activation of DNSSEC", 3),
            _p(
                "A zone is in scope when the inventory lists it; the inventory says whether it "
                "is expected to be signed and which policy it follows."
            ),
            _h("3.2", "Monitoring and alerting", 3),
            _table(
                [
                    (f"alerts.{k}", doc.shown("alerts", k, default=getattr(a, k)), m)
                    for k, m in (
                        ("coverage_max_age_days", "every inventory zone probed within (days)"),
                        ("signature_expiry_days", "alert when signatures expire within (days)"),
                        ("ds_publish_sla_hours", "DS visible at the parent within (hours)"),
                        ("rollover_window_days", "a key rollover completes within (days)"),
                    )
                ],
                ("Parameter", "Value", "Meaning"),
            ),
            _h("3.3", "Change control", 3),
            _table(
                [
                    (
                        "change_control.match_window_hours",
                        doc.shown(
                            "change_control", "match_window_hours", default=c.match_window_hours
                        ),  # fmt: skip
                        "a change ticket is implemented within this many hours of an "
                        "observed key or DS change",
                    )
                ],
                ("Parameter", "Value", "Meaning"),
            ),
        ]
    )


def management_html(doc: PolicyDocument) -> str:
    """§4 Facility, management and operational controls: roles, drills, key compromise."""
    roles = doc.get("roles")
    role_rows = (
        [(str(k), fmt(v), "named holder of the role") for k, v in roles.items()]
        if isinstance(roles, Mapping) and roles
        else [("roles", NOT_DEFINED, SETTINGS_KEYS["roles"])]
    )
    d = DrillPolicy()
    return _render(
        [
            _h("4", "Facility, management and operational controls"),
            _h("4.1", "Procedural controls: trusted roles", 3),
            _table(role_rows, ("Role", "Held by", "Meaning")),
            _h("4.2", "Compromise and disaster recovery: drills", 3),
            _table(
                [
                    (
                        "drills.cadence_days",
                        doc.shown("drills", "cadence_days", default=d.cadence_days),
                        "each scenario drilled at least this often (days)",
                    ),
                    (
                        "drills.scenarios",
                        doc.shown("drills", "scenarios"),
                        "scenarios that must be drilled",
                    ),
                    (
                        "drills.followup_max_days",
                        doc.shown("drills", "followup_max_days", default=d.followup_max_days),
                        "drill follow-ups closed within (days)",
                    ),
                ],
                ("Parameter", "Value", "Meaning"),
            ),  # fmt: skip
            _p(
                "On suspected key compromise the zone's runbook applies (emergency rollover, "
                "DS replacement through the registrar)."
            ),
        ]
    )


def technical_html(doc: PolicyDocument) -> str:
    """§5 Technical security controls, subsection by subsection, per policy."""
    parts: list[Block | list[Block]] = [_h("5", "Technical security controls")]
    for number, title, intro, keys in (
        ("5.1", "Key pair generation and algorithms",
         "Keys are generated with the algorithms the policy allows, in the key scheme it sets.",
         ("allowed_algorithms", "key_scheme")),
        ("5.2", "Private key protection",
         "Where the private half of a key signing key may be kept.", ("ksk_storage",)),
        ("5.3", "Key lifetimes", "Keys are rolled before they reach these ages.",
         ("zsk_lifetime_days", "ksk_lifetime_days", "csk_lifetime_days")),
        ("5.4", "Signature validity and re-signing",
         "Validity given to signatures, when they are refreshed, and the alert floor.",
         ("signature_validity_days", "signature_refresh_days", "min_rrsig_validity_days")),
        ("5.5", "DS records and TTLs", "Time-to-live values and the DS digest types.",
         ("dnskey_ttl", "ds_ttl", "ds_digest_types")),
        ("5.6", "Authenticated denial of existence (NSEC/NSEC3)",
         "How the zones prove that a name does not exist.",
         ("denial", "nsec3_iterations", "nsec3_opt_out")),
        ("5.7", "Key rollover methods", "How keys are replaced (RFC 6781, RFC 7583).",
         ("zsk_rollover_method", "ksk_rollover_method", "cds_automation")),
    ):  # fmt: skip
        parts += [_h(number, title, 3), _p(intro), _per_policy(doc, keys)]
    return _render(parts)


def audit_html(doc: PolicyDocument) -> str:
    """§6 Compliance audit and §7 legal matters."""
    m = doc.get("maturity")
    rows = (
        [(f"maturity.{k}", fmt(v), "maturity model setting") for k, v in m.items()]
        if isinstance(m, Mapping) and m
        else [("maturity", f"{NOT_DEFINED} (the toolkit's default model applies)", "")]
    )
    return _render(
        [
            _h("6", "Compliance audit"),
            _p(
                "Compliance with this statement is audited with the DNSSEC governance audit "
                "toolkit: every inventory zone is probed and validated, key changes are "
                "reconciled with the key manifest and the change log, and the portfolio is "
                "scored on the maturity model below. The audit report and its evidence pack "
                "carry the findings."
            ),
            _table(rows, ("Parameter", "Value", "Meaning")),
            _h("7", "Legal matters"),
            _p(f"Legal terms (liability, privacy, notices): {NOT_DEFINED}."),
        ]
    )


def annex_html(doc: PolicyDocument) -> str:
    """Annex A: every value of policy.yaml with its path, in file order."""
    return _render(
        [
            {"kind": "heading", "html": Markup(heading_html(
                "Annex A — every value of policy.yaml", anchor="annex-a", toc=True))},
            _p("The file as read, one value per line; this is what the sections above render."),
            {"kind": "annex", "rows": [(p, fmt(v)) for p, v in leaves(doc.raw)]},
        ]
    )  # fmt: skip
