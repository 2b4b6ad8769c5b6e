"""The readers of policy.yaml's settings sections share these: the value checks (each raises
ValueError saying what it expected and what it found) and :class:`Collector`, which gathers
``(field_path, message)`` problems while a section is read. Used by
:mod:`toolkit.inputs.policy_settings` and :mod:`toolkit.inputs.maturity_settings`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeGuard

import pandas as pd

Path_ = tuple[str, ...]


Problems = list[tuple[Path_, str]]


_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def _describe(value: Any) -> str:
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
    return "a list" if isinstance(value, list) else "a mapping"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def parse_bool(value: Any) -> bool:
    """``true``/``false`` (YAML booleans only)."""
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, found {_describe(value)}")
    return value


def choice(*options: str) -> Callable[[Any], str]:
    """A parser accepting one of ``options`` (text)."""

    def parse(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}; found {_describe(value)}")
        return str(value)

    return parse


def non_negative_int(value: Any) -> int:
    """A whole number >= 0."""
    if not (_is_int(value) and value >= 0):
        raise ValueError(f"expected a whole number, 0 or more, found {_describe(value)}")
    return int(value)


def positive_number(value: Any) -> float:
    """A finite number > 0."""
    if not (_is_number(value) and value > 0):
        raise ValueError(f"expected a number above 0, found {_describe(value)}")
    return float(value)


def non_negative_number(value: Any) -> float:
    """A finite number >= 0."""
    if not (_is_number(value) and value >= 0):
        raise ValueError(f"expected a number, 0 or more, found {_describe(value)}")
    return float(value)


def int_list(low: int, high: int) -> Callable[[Any], tuple[int, ...]]:
    """A parser of a non-empty list of distinct whole numbers in ``low..high``."""

    def parse(value: Any) -> tuple[int, ...]:
        expected = f"expected a non-empty list of whole numbers {low} to {high}"
        if not isinstance(value, list) or not value:
            raise ValueError(f"{expected}, found {_describe(value)}")
        bad = [f"item {i + 1} is {_describe(v)}" for i, v in enumerate(value) if not _ok(v)]
        if bad:
            raise ValueError(f"{expected}; {', '.join(bad)}")
        if len(set(value)) != len(value):
            raise ValueError(f"{expected}, each once")
        return tuple(int(v) for v in value)

    def _ok(v: Any) -> bool:
        return _is_int(v) and low <= v <= high

    return parse


def word_list(*options: str) -> Callable[[Any], tuple[str, ...]]:
    """A parser of a non-empty list of distinct words taken from ``options``."""

    def parse(value: Any) -> tuple[str, ...]:
        expected = f"expected a non-empty list of: {', '.join(options)}"
        if not isinstance(value, list) or not value:
            raise ValueError(f"{expected}; found {_describe(value)}")
        bad = [f"item {i + 1} is {_describe(v)}" for i, v in enumerate(value) if v not in options]
        if bad or len(set(value)) != len(value):
            raise ValueError(f"{expected}, each once; {', '.join(bad) or 'a word is repeated'}")
        return tuple(value)

    return parse


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected non-empty text, found {_describe(value)}")
    return value.strip()


def _date(value: Any) -> pd.Timestamp:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime.combine(value, datetime.min.time(), UTC)
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date YYYY-MM-DD, found '{value}'") from None
        moment = datetime.combine(day, datetime.min.time(), UTC)
    else:
        raise ValueError(f"expected an ISO 8601 date YYYY-MM-DD, found {_describe(value)}")
    return pd.Timestamp(moment).tz_convert("UTC").as_unit("ns")


def _name_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and _NAME.match(v) for v in value):
        raise ValueError(
            f"expected a list of lower-case names (a-z, 0-9, _ and -), found {_describe(value)}"
        )
    return tuple(value)


class Collector:
    """Collects ``(field_path, message)`` problems while reading nested sections."""

    def __init__(self) -> None:
        self.problems: Problems = []

    def mapping(self, path: Path_, value: Any, what: str) -> dict[Any, Any] | None:
        if not isinstance(value, dict):
            self.problems.append((path, f"expected a mapping of {what}, found {_describe(value)}"))
            return None
        return value

    def fields(
        self, path: Path_, data: dict[Any, Any], table: Mapping[str, Callable[[Any], Any]]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key not in table:
                accepted = ", ".join(table)
                self.problems.append(
                    ((*path, str(key)), f"unknown key '{key}'; accepted keys: {accepted}")
                )
                continue
            try:
                out[key] = table[key](value)
            except ValueError as exc:
                self.problems.append(((*path, key), str(exc)))
        return out
