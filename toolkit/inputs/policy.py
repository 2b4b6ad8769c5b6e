"""Load and validate the signing policies, ``policy.yaml``.

A policy says what the organisation requires of a signed zone: which DNSSEC algorithms are
allowed, how long keys may live and how much signature validity must remain. The inventory
names a policy per zone (or relies on ``default_policy``).

The file is read with :func:`yaml.safe_load` and validated strictly: every problem is collected
with its field path (``policies.standard.zsk_lifetime_days``) and line, and raised together in
one :class:`~toolkit.errors.InputError`. The accepted keys live in two tables,
:data:`TOP_LEVEL_KEYS` and :data:`POLICY_KEYS`; a later format version adds keys there.

Format version 1::

    format_version: 1
    default_policy: standard          # optional; the policy of zones naming none
    policies:
      standard:
        description: "..."            # optional
        allowed_algorithms: [13, 15]  # DNSSEC algorithm numbers, 1..255
        zsk_lifetime_days: 90         # positive whole numbers of days
        ksk_lifetime_days: 365
        min_rrsig_validity_days: 5    # number >= 0: warn below this remaining validity
        key_scheme: split             # optional: split (KSK + ZSK) or csk; absent: either
        # optional keys with documented defaults (toolkit.inputs.policy_settings.POLICY_EXTRAS):
        # csk_lifetime_days, signature_validity_days, signature_refresh_days, dnskey_ttl,
        # ds_ttl, ds_digest_types, denial, nsec3_iterations, nsec3_opt_out,
        # zsk_rollover_method, ksk_rollover_method, cds_automation, ksk_storage
    # optional organisation-wide sections (toolkit.inputs.policy_settings): policy_owner,
    # last_review, roles, alerts, change_control, drills, collector, maturity
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd
import yaml

from toolkit.errors import InputError, Problem
from toolkit.inputs.policy_settings import POLICY_EXTRAS, SETTINGS_KEYS, Settings, read_settings
from toolkit.schemas import Column, FrameSchema

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SigningPolicy:
    """One named signing policy of ``policy.yaml``."""

    name: str
    description: str
    allowed_algorithms: tuple[int, ...]
    zsk_lifetime_days: int
    ksk_lifetime_days: int
    min_rrsig_validity_days: float
    # Optional keys (toolkit.inputs.policy_settings.POLICY_EXTRAS documents them and their
    # defaults).
    csk_lifetime_days: int | None = None
    signature_validity_days: float = 14.0
    signature_refresh_days: float = 5.0
    dnskey_ttl: int = 3600
    ds_ttl: int = 86400
    ds_digest_types: tuple[int, ...] = (2,)
    denial: str = "nsec"
    nsec3_iterations: int = 0
    nsec3_opt_out: bool = False
    zsk_rollover_method: str = "pre-publication"
    ksk_rollover_method: str = "double-ds"
    cds_automation: bool = False
    ksk_storage: tuple[str, ...] = ("hsm", "offline")
    key_scheme: str | None = None  # split | csk; None: the policy does not say

    def allows(self, algorithm: int) -> bool:
        """Whether DNSSEC algorithm number ``algorithm`` is allowed by this policy."""
        return algorithm in self.allowed_algorithms

    def lifetime_days(self, role: str) -> int | None:
        """Maximum age in days of a key of ``role`` (ksk, zsk or csk; a CSK defaults to the
        KSK lifetime); None for an unknown role."""
        if role == "csk":
            return self.csk_lifetime_days or self.ksk_lifetime_days
        return {"ksk": self.ksk_lifetime_days, "zsk": self.zsk_lifetime_days}.get(role)


POLICIES = FrameSchema(
    "policies",
    "One row per signing policy of `policy.yaml`.",
    (
        Column("name", "string", "policy name, as named in the inventory's `policy` column"),
        Column("description", "string", "what the policy is for"),
        Column("allowed_algorithms", "string", "allowed DNSSEC algorithm numbers, `;`-joined"),
        Column("zsk_lifetime_days", "Int64", "maximum age of a zone signing key, in days"),
        Column("ksk_lifetime_days", "Int64", "maximum age of a key signing key, in days"),
        Column(
            "min_rrsig_validity_days",
            "Float64",
            "warn when the remaining signature validity falls below this many days",
        ),
        Column("is_default", "boolean", "the policy applies to zones that name none"),
        *(Column(name, x.dtype, x.meaning) for name, x in POLICY_EXTRAS.items()),
        Column("key_scheme", "string", "split (KSK + ZSK) or csk (one combined key); null: any"),
    ),
)


@dataclass(frozen=True)
class PolicySet:
    """The policies of a portfolio, by name, and the name of the default one.

    An empty set (``PolicySet()``) stands for "no policy.yaml": nothing is evidenced, and
    :meth:`get` returns None for every name.
    """

    policies: dict[str, SigningPolicy] = field(default_factory=dict)
    default: str | None = None
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        if self.default is not None and self.default not in self.policies:
            raise ValueError(f"default policy {self.default!r} is not among the policies")

    def get(self, name: str | None) -> SigningPolicy | None:
        """The policy called ``name``; the default policy when ``name`` is None.

        Returns None for an unknown name, or for None when there is no default policy.
        """
        if name is None:
            name = self.default
            if name is None:
                return None
        return self.policies.get(name)

    @property
    def names(self) -> list[str]:
        """Policy names in file order."""
        return list(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def __contains__(self, name: object) -> bool:
        return name in self.policies

    def to_frame(self) -> pd.DataFrame:
        """One row per policy, in file order; columns and dtypes of :data:`POLICIES`.

        ``name`` (string), ``description`` (string), ``allowed_algorithms`` (string,
        ``;``-joined numbers in file order), ``zsk_lifetime_days`` and ``ksk_lifetime_days``
        (Int64), ``min_rrsig_validity_days`` (Float64), ``is_default`` (boolean).
        """
        return POLICIES.frame(
            {
                "name": p.name,
                "description": p.description,
                "allowed_algorithms": ";".join(str(a) for a in p.allowed_algorithms),
                "zsk_lifetime_days": p.zsk_lifetime_days,
                "ksk_lifetime_days": p.ksk_lifetime_days,
                "min_rrsig_validity_days": p.min_rrsig_validity_days,
                "is_default": p.name == self.default,
                **{n: x.cell(getattr(p, n)) for n, x in POLICY_EXTRAS.items()},
                "key_scheme": p.key_scheme,
            }
            for p in self.policies.values()
        )


# --- the accepted keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """An accepted key of policy.yaml: whether it is required, and how to read its value.

    ``parse`` returns the value to store or raises ValueError with what was expected;
    ``default`` is used when an optional key is absent.
    """

    required: bool
    parse: Callable[[Any], Any]
    meaning: str
    default: Any = None


def _describe(value: Any) -> str:
    """How a YAML value reads in an error message: the value and its kind."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int):
        return f"{value} (a whole number)"
    if isinstance(value, float):
        return f"{value} (a decimal number)"
    if isinstance(value, str):
        return f"'{value}' (text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{value!r} ({type(value).__name__})"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, found {_describe(value)}")
    return value.strip()


def _algorithms(value: Any) -> tuple[int, ...]:
    expected = "expected a non-empty list of DNSSEC algorithm numbers (whole numbers 1 to 255)"
    if not isinstance(value, list) or not value:
        raise ValueError(f"{expected}, found {_describe(value)}")
    bad = [
        f"item {i + 1} is {_describe(v)}"
        for i, v in enumerate(value)
        if not (_is_int(v) and 1 <= v <= 255)
    ]
    if bad:
        raise ValueError(f"{expected}; {', '.join(bad)}")
    twice = sorted({v for v in value if value.count(v) > 1})
    if twice:
        raise ValueError(f"algorithm(s) {', '.join(map(str, twice))} listed more than once")
    return tuple(value)


def _positive_days(value: Any) -> int:
    if not (_is_int(value) and value > 0):
        raise ValueError(f"expected a whole number of days above 0, found {_describe(value)}")
    return int(value)


def _non_negative_days(value: Any) -> float:
    ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value) and value >= 0
    if not ok:
        raise ValueError(f"expected a number of days, 0 or more, found {_describe(value)}")
    return float(value)


def _key_scheme(value: Any) -> str:
    if value not in ("split", "csk"):
        raise ValueError(f"expected split or csk, found {_describe(value)}")
    return str(value)


def _format_version(value: Any) -> int:
    if not _is_int(value):
        raise ValueError(f"expected {FORMAT_VERSION}, found {_describe(value)}")
    if value != FORMAT_VERSION:
        raise ValueError(_unsupported(value))
    return value


def _unsupported(version: int) -> str:
    return f"format version {version} is not supported; this toolkit reads version {FORMAT_VERSION}"


def _policy_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected the name of a policy, found {_describe(value)}")
    return value


def _mapping(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ValueError(
            f"expected a mapping of policy names to policies, found {_describe(value)}"
        )
    return value


TOP_LEVEL_KEYS: dict[str, Key] = {
    "format_version": Key(True, _format_version, f"format of the file; must be {FORMAT_VERSION}"),
    "default_policy": Key(False, _policy_name, "policy of the zones that name none"),
    "policies": Key(True, _mapping, "the policies, by name"),
    # organisation-wide sections, validated by toolkit.inputs.policy_settings.read_settings
    **{k: Key(False, lambda v: v, meaning) for k, meaning in SETTINGS_KEYS.items()},
}

# Keys of one policy; each is also a field of SigningPolicy (besides ``name``).
POLICY_KEYS: dict[str, Key] = {
    "description": Key(False, _text, "what the policy is for", default=""),
    "allowed_algorithms": Key(True, _algorithms, "allowed DNSSEC algorithm numbers"),
    "zsk_lifetime_days": Key(True, _positive_days, "maximum age of a zone signing key"),
    "ksk_lifetime_days": Key(True, _positive_days, "maximum age of a key signing key"),
    "min_rrsig_validity_days": Key(
        True, _non_negative_days, "warn when remaining signature validity falls below"
    ),
    **{k: Key(False, x.parse, x.meaning, x.default) for k, x in POLICY_EXTRAS.items()},
    "key_scheme": Key(False, _key_scheme, "split (KSK + ZSK) or csk (one combined signing key)"),
}


# --- loading -----------------------------------------------------------------------------------


def load_policies(path: str | Path, check_ids: Collection[str] | None = None) -> PolicySet:
    """Read and validate ``policy.yaml`` (format version 1, see the module docstring).

    ``check_ids`` (the check catalogue's ids, passed in by the stages that judge: the
    catalogue is above the inputs), when given, is what a maturity gate's ``checks`` must name;
    without them the gates' check ids are not checked here.

    Returns a :class:`PolicySet` with the policies in file order; its ``to_frame()`` has the
    columns of :data:`POLICIES`.

    Raises:
        InputError: the file does not exist or cannot be read; it is not valid YAML (the line
            of the YAML error is given) or is empty; or it has any problem below. All
            problems are collected first and raised together (``err.problems``), each naming
            the field path (``policies.standard.zsk_lifetime_days``), its line and what was
            expected: missing or unsupported ``format_version``, an unknown key (the accepted
            ones are listed), a missing required key, a key given twice, a value of the wrong
            type or range, no policies, or a ``default_policy`` naming no policy.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory; expected a YAML file")
    try:
        data_bytes = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        text = data_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data_bytes[: exc.start].count(b"\n") + 1
        raise InputError(path, "not valid UTF-8 text; save the file as UTF-8", line=line) from None
    node = None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_nesting(path, node)
        data = yaml.safe_load(text)
    except RecursionError:  # the YAML parser recurses once per level of nesting
        raise InputError(path, _TOO_DEEP) from None
    except ValueError as exc:  # a scalar YAML resolves to a date that does not exist
        raise _bad_scalar(path, node, exc) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        mark_line: int | None = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {what}" if context else what
        raise InputError(path, f"not valid YAML: {detail}", line=mark_line) from None
    if data is None:
        raise InputError(
            path, "the file is empty; expected a mapping with format_version and policies"
        )
    if not isinstance(data, dict):
        raise InputError(
            path,
            f"expected a mapping with format_version and policies, found {_describe(data)}",
            line=1,
        )

    reader = _Reader(_key_lines(node))
    policies, default = reader.read(data)
    settings = Settings()
    if data.get("format_version") == FORMAT_VERSION:  # another version: nothing else is read
        given = {k: data[k] for k in SETTINGS_KEYS if k in data}
        settings, problems = read_settings(given, check_ids)
        for field_path, message in problems:
            reader.problem_at(field_path, message)
    if reader.problems:
        raise InputError(path, problems=reader.problems)
    return PolicySet(policies, default, settings)


#: policy.yaml nests a few levels (policies -> name -> field -> list); past this, refused.
MAX_NESTING = 32
_TOO_DEEP = f"nested more than {MAX_NESTING} levels deep; policy.yaml nests a few levels"


def _check_nesting(path: Path, node: yaml.Node | None) -> None:
    """Raise InputError when ``node`` nests deeper than :data:`MAX_NESTING` (walked without
    recursion, so any depth the parser accepted is measured safely)."""
    stack = [(node, 1)] if node is not None else []
    while stack:
        n, depth = stack.pop()
        if depth > MAX_NESTING:
            raise InputError(path, _TOO_DEEP, line=n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in n.value for child in pair)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in n.value)


def _bad_scalar(path: Path, node: yaml.Node | None, exc: ValueError) -> InputError:
    """The InputError for a scalar YAML resolves but cannot build (``2026-02-30``): the first
    such scalar's line and text, found by building each timestamp scalar alone."""
    constructor = yaml.SafeLoader("")
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.ScalarNode):
            if n.tag == "tag:yaml.org,2002:timestamp":
                try:
                    constructor.construct_yaml_timestamp(n)
                except ValueError as bad:
                    return InputError(
                        path,
                        f"{n.value!r} is not a real date or time ({bad}); expected an ISO date "
                        "such as 2026-06-15",
                        line=n.start_mark.line + 1,
                    )
        elif isinstance(n, yaml.MappingNode):
            stack.extend(child for pair in reversed(n.value) for child in reversed(pair))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(reversed(n.value))
    return InputError(path, f"not valid YAML: {exc}")


_Path = tuple[str, ...]


def _key_lines(node: yaml.Node | None) -> dict[_Path, tuple[int, list[int]]]:
    """Line of every mapping key, by field path, with the lines of any repeats of it."""
    out: dict[_Path, tuple[int, list[int]]] = {}

    seen: set[int] = set()

    def walk(n: yaml.Node, path: _Path) -> None:
        if id(n) in seen:  # an alias: its lines are those of the anchored node
            return
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                key = str(key_node.value)
                sub = (*path, key)
                line = key_node.start_mark.line + 1
                if sub in out:
                    # safe_load keeps the last value: forget the lines of the earlier one
                    out[sub][1].append(line)
                    for stale in [p for p in out if len(p) > len(sub) and p[: len(sub)] == sub]:
                        del out[stale]
                else:
                    out[sub] = (line, [])
                walk(value_node, sub)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, f"[{i}]"))

    if node is not None:
        walk(node, ())
    return out


class _Reader:
    """Validates the loaded YAML against the key tables, collecting problems."""

    def __init__(self, lines: Mapping[_Path, tuple[int, list[int]]]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def problem_at(self, path: _Path, message: str) -> None:
        """Record a problem of the field at ``path`` (line: the key's, else its parent's)."""
        known = self.lines.get(path)
        parent = self.lines.get(path[:-1]) if path[:-1] else None
        line = known[0] if known else (parent[0] if parent else None)
        field_name = ".".join(path) if path else None
        self.problems.append(Problem(line, field_name, message, kind="field"))

    def read(self, data: dict[Any, Any]) -> tuple[dict[str, SigningPolicy], str | None]:
        for path, (first, repeats) in self.lines.items():
            for line in repeats:
                self.problems.append(
                    Problem(
                        line,
                        ".".join(path),
                        f"key given twice (first on line {first}); expected each key once",
                        kind="field",
                    )
                )
        version = data.get("format_version")
        if _is_int(version) and version != FORMAT_VERSION:
            # another version: its keys may mean other things, so check nothing else
            self.problem_at(("format_version",), _unsupported(version))
            return {}, None
        values = self.check_keys((), data, TOP_LEVEL_KEYS, "top-level key")
        policies: dict[str, SigningPolicy] = {}
        raw_policies = values.get("policies")
        if isinstance(raw_policies, dict):
            if not raw_policies:
                self.problem_at(("policies",), "no policies; expected at least one policy")
            for name, body in raw_policies.items():
                policy = self.read_policy(name, body)
                if policy is not None:
                    policies[policy.name] = policy
        default = values.get("default_policy")
        if isinstance(default, str) and isinstance(raw_policies, dict) and raw_policies:
            if default not in raw_policies:
                known = ", ".join(f"'{n}'" for n in raw_policies)
                self.problem_at(
                    ("default_policy",),
                    f"'{default}' names no policy; expected one of: {known}",
                )
                default = None
        if default is not None and default not in policies:
            default = None  # its own problems were reported
        return policies, default

    def check_keys(
        self, path: _Path, data: dict[Any, Any], table: Mapping[str, Key], what: str
    ) -> dict[str, Any]:
        """Check ``data`` against ``table``; return the parsed values of the good keys."""
        accepted = ", ".join(table)
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key not in table:
                self.problem_at(
                    (*path, str(key)), f"unknown {what} '{key}'; accepted keys: {accepted}"
                )
                continue
            try:
                out[key] = table[key].parse(value)
            except ValueError as exc:
                self.problem_at((*path, key), str(exc))
        for key, spec in table.items():
            if key in data:
                continue
            if spec.required:
                where = ".".join(path) if path else "the top level"
                self.problem_at(
                    (*path, key),
                    f"required key '{key}' is missing from {where} ({spec.meaning})",
                )
            else:
                out[key] = spec.default
        return out

    def read_policy(self, name: Any, body: Any) -> SigningPolicy | None:
        path = ("policies", str(name))
        ok = True
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            self.problem_at(
                path,
                f"policy name {_describe(name)} is not valid; expected text without "
                "surrounding spaces",
            )
            ok = False
        if not isinstance(body, dict):
            self.problem_at(
                path,
                f"expected a mapping of policy settings ({', '.join(POLICY_KEYS)}), "
                f"found {_describe(body)}",
            )
            return None
        before = len(self.problems)
        values = self.check_keys(path, body, POLICY_KEYS, "policy key")
        if not ok or len(self.problems) > before:
            return None
        return SigningPolicy(name=name, **values)
