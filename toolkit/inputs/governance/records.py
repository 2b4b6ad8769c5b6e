"""The engine behind every governance record file: a CSV read as strictly as the inventory.

A record file is described by a :class:`RecordSpec`: its columns (:class:`Field`: name, dtype,
meaning, how a value is read, whether it is required), the columns whose values must be unique
together, and an optional row check for rules across columns. :func:`load_record_file` reads
it like :func:`toolkit.inputs.inventory.load_inventory` does: UTF-8 (a BOM is accepted), exact line
numbers (header = line 1), blank lines skipped, and every problem of the file collected with
its line and column into one :class:`~toolkit.errors.InputError`. A header with no rows is a
valid, empty record (an empty change log is a fact, not an error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import InputError, Problem
from toolkit.inputs.inventory import _last_reviewed, _read_text, _Records, normalize_zone
from toolkit.schemas import Column, FrameSchema

Parser = Callable[[str], Any]
RowCheck = Callable[[dict[str, Any], int, list[Problem]], None]


@dataclass(frozen=True)
class Field:
    """One column of a record file.

    ``parse`` turns the stripped, non-empty text into the value or raises ValueError saying
    what was expected (None: the text itself). ``required`` means the column must be in the
    header and every row must give a value.
    """

    name: str
    dtype: str
    meaning: str
    parse: Parser | None = None
    required: bool = False
    allowed: str = ""  # what a value may be, for the documentation


@dataclass(frozen=True)
class RecordSpec:
    """A record file: its frame name, file name, columns and rules."""

    name: str
    filename: str
    description: str
    fields: tuple[Field, ...]
    unique: tuple[str, ...] = ()
    row_check: RowCheck | None = None
    zone_columns: tuple[str, ...] = ("zone",)
    #: columns naming a check of the catalogue (or one of ``check_words``); the catalogue is
    #: above the inputs, so its ids are passed to :func:`load_record_file` by the caller
    check_columns: tuple[str, ...] = ()
    check_words: tuple[str, ...] = ()

    @property
    def schema(self) -> FrameSchema:
        """The frame's schema: the fields, then ``source_line``."""
        columns = [Column(f.name, f.dtype, f.meaning) for f in self.fields]
        columns.append(Column("source_line", "Int64", f"line of {self.filename} (header = 1)"))
        return FrameSchema(self.name, self.description, tuple(columns))

    def markdown(self) -> str:
        """The file's documentation: one row per column."""
        lines = [
            f"### `{self.filename}`",
            "",
            self.description,
            "",
            "| column | required | meaning | values |",
            "|---|---|---|---|",
        ]
        for f in self.fields:
            req = "yes" if f.required else ""
            lines.append(f"| `{f.name}` | {req} | {f.meaning} | {f.allowed} |")
        return "\n".join(lines) + "\n"


# --- value readers ------------------------------------------------------------------------------


def zone_name(raw: str) -> str:
    """A zone name, normalised to its A-label form."""
    try:
        return normalize_zone(raw)[0]
    except ValueError as exc:
        raise ValueError(f"'{raw}' is not a valid domain name: {exc}") from None


def zone_list(raw: str) -> str:
    """``;``-separated zone names, normalised, kept ``;``-joined."""
    return ";".join(zone_name(p.strip()) for p in raw.split(";") if p.strip())


def integer(low: int, high: int) -> Parser:
    """A reader of whole numbers in ``low..high``."""

    def parse(raw: str) -> int:
        if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
            raise ValueError(f"found '{raw}', expected a whole number from {low} to {high}")
        return int(raw)

    return parse


def positive(raw: str) -> float:
    """A number above 0."""
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"found '{raw}', expected a number above 0")
    return value


def word(*options: str) -> Parser:
    """A reader of one word of ``options`` (case-insensitive)."""

    def parse(raw: str) -> str:
        w = raw.lower()
        if w not in options:
            raise ValueError(f"found '{raw}', expected one of: {', '.join(options)}")
        return w

    return parse


def name(raw: str) -> str:
    """A lower-case identifier (a-z, 0-9, ``_`` and ``-``)."""
    w = raw.lower()
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", w):
        raise ValueError(f"found '{raw}', expected a name of letters, digits, '_' and '-'")
    return w


def boolean(raw: str) -> bool:
    """true/false, yes/no, 1/0."""
    w = raw.lower()
    if w in ("true", "yes", "1"):
        return True
    if w in ("false", "no", "0"):
        return False
    raise ValueError(f"found '{raw}', expected true/false, yes/no or 1/0")


timestamp: Parser = _last_reviewed
"""A date ``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 timestamp (no offset means UTC)."""


# --- the loader -----------------------------------------------------------------------------------


def load_record_file(
    path: str | Path,
    spec: RecordSpec,
    zones: Collection[str] | None = None,
    check_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read and validate one record file; return its frame (schema ``spec.schema``).

    ``zones`` (the inventory's zones), when given, is what every zone column must name.
    ``check_ids`` (the check catalogue's ids), when given, is what every check column
    (``spec.check_columns``) must name, besides ``spec.check_words``; the assessment passes
    them (an acceptance of a check that does not exist would silently exempt nothing).

    Raises:
        InputError: the file is missing, unreadable or not UTF-8; it has no header; or any of
            these, all collected first, each with its line and column: an unknown, empty or
            repeated header column, a missing required column, a row with more or fewer
            fields than the header, an unreadable or missing required value, a duplicate of
            the unique columns (both lines named), a zone not in the inventory, or a rule of
            the file broken (``spec.row_check``).
    """
    path = Path(path)
    text = _read_text(path)
    problems: list[Problem] = []
    records = _Records(text, problems)
    header = next(records, None)
    if header is None:
        problems.append(Problem(None, None, "no header row: the file is empty"))
        raise InputError(path, problems=problems)
    header_line, raw_names = header
    names = [n.strip() for n in raw_names]
    if _check_header(spec, header_line, names, problems):
        raise InputError(path, problems=problems)
    by_name = {f.name: f for f in spec.fields}
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line, fields in records:
        if len(fields) != len(names):
            problems.append(
                Problem(
                    line,
                    None,
                    f"{len(fields)} fields found, {len(names)} expected (one per header "
                    "column); a value containing a comma must be in double quotes",
                )
            )
            continue
        before = len(problems)
        row: dict[str, Any] = {"source_line": line}
        for column, raw in zip(names, fields, strict=True):
            field = by_name[column]
            value = raw.strip()
            if not value:
                if field.required:
                    problems.append(Problem(line, column, f"a value is required ({field.meaning})"))
                continue
            try:
                row[column] = field.parse(value) if field.parse else value
            except ValueError as exc:
                problems.append(Problem(line, column, str(exc)))
        if zones is not None:
            _check_zones(spec, row, line, zones, problems)
        if check_ids is not None:
            _check_check_ids(spec, row, line, check_ids, problems)
        if len(problems) == before and spec.row_check is not None:
            spec.row_check(row, line, problems)
        if spec.unique and all(row.get(c) is not None for c in spec.unique):
            key = tuple(row[c] for c in spec.unique)
            if key in seen:
                what = ", ".join(f"{c} '{v}'" for c, v in zip(spec.unique, key, strict=True))
                problems.append(
                    Problem(
                        line,
                        spec.unique[0],
                        f"{what} is listed twice: on line {seen[key]} and on line {line}",
                    )
                )
            else:
                seen[key] = line
        rows.append(row)
    if problems:
        raise InputError(path, problems=problems)
    return spec.schema.frame(rows)


def _check_header(spec: RecordSpec, line: int, names: list[str], problems: list[Problem]) -> bool:
    """Append header problems; return True when the rows cannot be read."""
    accepted = ", ".join(f.name for f in spec.fields)
    fatal = False
    counts: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        counts[n] = counts.get(n, 0) + 1
        if not n:
            problems.append(Problem(line, None, f"header field {i} is empty; expected a column"))
            fatal = True
        elif n not in {f.name for f in spec.fields}:
            problems.append(Problem(line, n, f"unknown column '{n}'; accepted columns: {accepted}"))
            fatal = True
        elif counts[n] == 2:
            problems.append(Problem(line, n, f"column '{n}' appears more than once"))
            fatal = True
    for f in spec.fields:
        if f.required and f.name not in names:
            problems.append(
                Problem(line, f.name, f"required column '{f.name}' is missing ({f.meaning})")
            )
            fatal = True
    return fatal


def _check_zones(
    spec: RecordSpec,
    row: dict[str, Any],
    line: int,
    zones: Collection[str],
    problems: list[Problem],
) -> None:
    for column in spec.zone_columns:
        value = row.get(column)
        if value is None:
            continue
        for zone in str(value).split(";"):
            if zone and zone not in zones:
                problems.append(
                    Problem(line, column, f"zone '{zone}' is not in the inventory (inventory.csv)")
                )


def _check_check_ids(
    spec: RecordSpec,
    row: dict[str, Any],
    line: int,
    check_ids: Collection[str],
    problems: list[Problem],
) -> None:
    for column in spec.check_columns:
        value = row.get(column)
        if value is None or value in spec.check_words or value in check_ids:
            continue
        words = " or ".join(spec.check_words)
        problems.append(
            Problem(
                line,
                column,
                f"found '{value}', which names no check; expected "
                + (f"{words} or " if words else "")
                + "a check id: "
                + ", ".join(sorted(check_ids)),
            )
        )


def check_order(row: dict[str, Any], line: int, problems: list[Problem], *columns: str) -> None:
    """Append a problem when the given time columns of ``row`` are not in order."""
    given = [(c, row[c]) for c in columns if row.get(c) is not None]
    for (a, ta), (b, tb) in zip(given, given[1:], strict=False):
        if tb < ta:
            problems.append(Problem(line, b, f"{b} ({tb:%Y-%m-%d}) is before {a} ({ta:%Y-%m-%d})"))
