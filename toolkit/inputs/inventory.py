"""Load and validate the zone inventory, ``inventory.csv``.

The inventory is the portfolio's list of zones: one row per zone with its owner, business
unit, risk tier and whether the organisation intends it to be signed. It is the denominator of
every figure in the reports, so it is read strictly: every problem of the file is collected
(with its line and column) and reported in one :class:`~toolkit.errors.InputError`; nothing is
coerced or dropped silently.

The CSV is read with the :mod:`csv` module (UTF-8, a byte order mark is accepted) so that line
numbers are exact: the header is line 1 and blank lines are skipped but still counted. A
record with a quoted value spanning several lines is numbered by its first line.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import idna
import pandas as pd

from toolkit.errors import InputError, Problem
from toolkit.schemas import INVENTORY

# Columns an inventory.csv may carry, in the order of the documented header. Only ``zone`` is
# required. ``zone_unicode`` and ``source_line`` of the frame are derived, never read.
ACCEPTED_COLUMNS: tuple[str, ...] = (
    "zone",
    "owner",
    "business_unit",
    "risk_tier",
    "category",
    "registrar",
    "expected_signed",
    "policy",
    "last_reviewed",
    "names",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("zone",)
TEXT_COLUMNS: tuple[str, ...] = ("owner", "business_unit", "category", "registrar", "policy")

RISK_TIERS = {"1": 1, "2": 2, "3": 3}
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})

MAX_LABEL_OCTETS = 63
MAX_NAME_OCTETS = 253

MAX_NAMES_PER_ZONE = 20
"""Names beyond the apex listed for one zone at most: each is asked A, AAAA, MX and TXT at every
server address of the zone, so a long list multiplies the zone's queries."""
APEX = "@"
"""The ``names`` entry for the zone's apex itself (its A, AAAA, MX, TXT), as in a zone file."""

_NAME_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ].+")


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalize_zone(name: str) -> tuple[str, str]:
    """Normalise a zone name to ``(a_label_form, unicode_form)``.

    Surrounding whitespace and one trailing dot are removed and the name is lower-cased;
    internationalised names are converted with IDNA 2008 (UTS #46 mapping, non-transitional),
    so ``"Bücher.test."`` gives ``("xn--bcher-kva.test", "bücher.test")``.

    Raises ValueError saying why the name is not a valid domain name: empty, an empty label
    (``a..b``), a label longer than 63 octets or a name longer than 253, a character not
    allowed in a host name (underscores included), a label starting or ending with a hyphen,
    or an ``xn--`` label that is not valid punycode.
    """
    text = name.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("the name is empty")
    if any(ch.isspace() for ch in text):
        raise ValueError("it contains whitespace")
    if "_" in text:
        raise ValueError("underscore '_' is not allowed in a zone name")
    if _is_ip_address(text):
        raise ValueError(
            f"'{_show(text)}' is an IP address, not a zone name: DNSSEC is deployed on domain "
            "names (a reverse zone is named like 0.0.127.in-addr.arpa)"
        )
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        raise ValueError(_idna_reason(exc)) from None
    labels = mapped.split(".")
    a_labels: list[str] = []
    for label in labels:
        if not label:
            raise ValueError("it has an empty label (two dots in a row, or a leading dot)")
        if label.isascii() and len(label) > MAX_LABEL_OCTETS:
            raise ValueError(
                f"label '{_show(label)}' is {len(label)} octets long; "
                f"at most {MAX_LABEL_OCTETS} allowed"
            )
        try:
            a_label = idna.alabel(label).decode("ascii")
        except idna.IDNAError as exc:
            if label.startswith("xn--"):
                raise ValueError(
                    f"label '{_show(label)}' is not valid punycode ({_idna_reason(exc)})"
                ) from None
            reason = _idna_reason(exc)
            if reason.startswith("label "):
                raise ValueError(f"label '{_show(label)}' {reason[len('label ') :]}") from None
            raise ValueError(f"label '{_show(label)}': {reason}") from None
        if len(a_label) > MAX_LABEL_OCTETS:
            raise ValueError(
                f"label '{_show(label)}' is {len(a_label)} octets long in its A-label form "
                f"'{a_label}'; at most {MAX_LABEL_OCTETS} allowed"
            )
        a_labels.append(a_label)
    a_name = ".".join(a_labels)
    if len(a_name) > MAX_NAME_OCTETS:
        raise ValueError(
            f"the name is {len(a_name)} octets long; at most {MAX_NAME_OCTETS} allowed"
        )
    try:
        u_name = ".".join(idna.ulabel(a) for a in a_labels)
    except idna.IDNAError as exc:  # pragma: no cover - alabel() already checked the round trip
        raise ValueError(_idna_reason(exc)) from None
    return a_name, u_name


def normalize_names(raw: str, zone: str) -> tuple[str, ...]:
    """The ``names`` cell of a zone's row as its names relative to ``zone`` (an A-label name),
    in A-label form, lower case, in the order given.

    ``raw`` is ``;``-separated: ``www;mail;_dmarc;shop.eu;@`` (``@`` is the apex, as in a zone
    file). Labels may hold underscores (``_dmarc``, ``_25._tcp.mail``: service names are names
    too) or be internationalised (IDNA 2008, as zone names). An empty cell gives no names.

    Raises ValueError saying what is wrong and what was expected: an absolute name (ending in
    a dot), a wildcard, an invalid label, a name listed twice, a name too long once the zone is
    appended, or more than :data:`MAX_NAMES_PER_ZONE` names.
    """
    entries = [e.strip() for e in raw.split(";")]
    if all(not e for e in entries):
        return ()
    out: list[str] = []
    for entry in entries:
        if not entry:
            raise ValueError(
                f"found '{_show(raw.strip())}' with an empty name (two ';' in a row, or a "
                "leading/trailing ';'); expected names separated by ';', e.g. www;mail;_dmarc"
            )
        name = _relative_name(entry, zone)
        if name in out:
            raise ValueError(f"name '{_show(entry)}' is listed twice; expected each name once")
        out.append(name)
    if len(out) > MAX_NAMES_PER_ZONE:
        raise ValueError(
            f"{len(out)} names listed; at most {MAX_NAMES_PER_ZONE} per zone (each is asked "
            "A, AAAA, MX and TXT at every server of the zone)"
        )
    return tuple(out)


def _relative_name(entry: str, zone: str) -> str:
    if entry == APEX:
        return APEX
    if entry.endswith("."):
        raise ValueError(
            f"'{_show(entry)}' ends with a dot; expected a name relative to the zone "
            f"(www, not www.{zone}.), or '@' for the apex"
        )
    if any(ch.isspace() for ch in entry):
        raise ValueError(f"'{_show(entry)}' contains whitespace; expected a DNS name")
    labels = []
    for label in entry.split("."):
        if label == "*":
            raise ValueError(
                f"'{_show(entry)}' is a wildcard; expected a name users ask for "
                "(list one the wildcard covers)"
            )
        lowered = label.lower()
        if "_" in label and _NAME_LABEL.fullmatch(lowered):
            labels.append(lowered)
            continue
        if not label:
            raise ValueError(f"'{_show(entry)}' has an empty label (two dots in a row)")
        try:
            a_label, _ = normalize_zone(label)
        except ValueError as exc:
            raise ValueError(f"'{_show(entry)}' is not a valid DNS name: {exc}") from None
        labels.append(a_label)
    name = ".".join(labels)
    if len(f"{name}.{zone}") > MAX_NAME_OCTETS:
        raise ValueError(
            f"'{_show(entry)}' under {zone} is {len(name) + 1 + len(zone)} octets long; at most "
            f"{MAX_NAME_OCTETS} allowed"
        )
    return name


def _idna_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if text == "Label too long":
        return f"a label is longer than {MAX_LABEL_OCTETS} octets in its A-label form"
    found = _CODEPOINT.search(text)
    if found:
        char = _show(chr(int(found.group(1), 16)))
        return f"character '{char}' (U+{found.group(1)}) is not allowed in a domain name"
    return text[0].lower() + text[1:]


def _show(text: str) -> str:
    """``text`` with unprintable characters escaped, for error messages."""
    return text if text.isprintable() else repr(text)[1:-1]


_CODEPOINT = re.compile(r"U\+([0-9A-Fa-f]{4,6})")


def load_inventory(path: str | Path) -> pd.DataFrame:
    """Read and validate ``inventory.csv``; return one row per zone, in file order.

    The returned frame conforms to :data:`toolkit.schemas.INVENTORY`:

    ========================  =====================  ===========================================
    column                    dtype                  content
    ========================  =====================  ===========================================
    ``zone``                  string                 lower-case A-label name, no trailing dot
    ``zone_unicode``          string                 the same name as U-labels (for display)
    ``owner``                 string                 stripped text; null when empty
    ``business_unit``         string                 stripped text; null when empty
    ``risk_tier``             Int64                  1, 2 or 3; null when empty
    ``category``              string                 stripped text; null when empty
    ``registrar``             string                 stripped text; null when empty
    ``expected_signed``       boolean                true/false, yes/no, 1/0; empty means true
    ``policy``                string                 policy name; null (the default) when empty
    ``last_reviewed``         datetime64[ns, UTC]    ``YYYY-MM-DD`` (midnight UTC) or an ISO
                                                     8601 timestamp (no offset means UTC)
    ``names``                 string                 names beyond the apex to probe, relative
                                                     A-labels ``;``-joined (``@``: the apex);
                                                     null when none (see :func:`normalize_names`)
    ``source_line``           Int64                  line of the row in the file (header = 1)
    ========================  =====================  ===========================================

    Only the ``zone`` column is required; a column absent from the file is null throughout
    (``expected_signed`` then true). Blank lines, and lines whose fields are all empty, are
    skipped.

    Raises:
        InputError: the file does not exist or cannot be read; it is empty (no header row) or
            has no data rows; or it has any problem below. All problems are collected first
            and raised together (``err.problems``), each with its line and column: missing
            ``zone`` column, unknown, empty or duplicate header column, a row with more or
            fewer fields than the header, an invalid domain name, a zone listed twice (after
            normalisation; both lines are named), a risk tier other than 1, 2 or 3, an
            unreadable ``expected_signed`` or ``last_reviewed`` value, a bad ``names`` list
            (see :func:`normalize_names`), invalid UTF-8 or malformed CSV quoting.
    """
    path = Path(path)
    text = _read_text(path)
    problems: list[Problem] = []
    records = _Records(text, problems)

    header: tuple[int, list[str]] | None = None
    for line, fields in records:
        header = (line, fields)
        break
    if header is None:
        problems.append(Problem(None, None, "no header row: the file is empty"))
        raise InputError(path, problems=problems)
    header_line, raw_names = header
    names = [n.strip() for n in raw_names]
    fatal = _check_header(header_line, names, problems)
    if fatal:
        raise InputError(path, problems=problems)

    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
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
        values = {n: v for n, v in zip(names, fields, strict=True) if n in ACCEPTED_COLUMNS}
        row = _parse_row(line, values, problems)
        zone = row.get("zone")
        if zone is None:
            continue
        if zone in seen:
            problems.append(
                Problem(
                    line,
                    "zone",
                    f"zone '{zone}' is listed twice: on line {seen[zone]} and on line {line}; "
                    "expected each zone once",
                )
            )
            continue
        seen[zone] = line
        rows.append(row)

    if not problems and not rows:
        problems.append(Problem(None, None, "no zones: the file has a header row but no data rows"))
    if problems:
        raise InputError(path, problems=problems)
    return INVENTORY.frame(rows)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory; expected a CSV file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            path,
            f"not valid UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            line=line,
        ) from None


class _Records:
    """Iterate the non-blank CSV records of a text as ``(first_line, fields)``.

    A CSV syntax error ends the iteration and is appended to ``problems``.
    """

    def __init__(self, text: str, problems: list[Problem]) -> None:
        self._reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        self._problems = problems
        self._next_line = 1
        self._done = False

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        while not self._done:
            start = self._next_line
            try:
                fields = next(self._reader)
            except StopIteration:
                self._done = True
                break
            except csv.Error as exc:
                self._done = True
                self._problems.append(
                    Problem(start, None, f"malformed CSV ({exc}); check the double quotes")
                )
                break
            self._next_line = self._reader.line_num + 1
            if all(not f.strip() for f in fields):
                continue
            return start, fields
        raise StopIteration


def _check_header(line: int, names: list[str], problems: list[Problem]) -> bool:
    """Append header problems; return True when the rows cannot be read at all."""
    accepted = ", ".join(ACCEPTED_COLUMNS)
    fatal = False
    for i, name in enumerate(names, start=1):
        if not name:
            problems.append(
                Problem(
                    line,
                    None,
                    f"header field {i} is empty; expected a column name (one of: {accepted})",
                )
            )
            fatal = True
        elif name not in ACCEPTED_COLUMNS:
            hint = ""
            lowered = name.lower().replace(" ", "_").replace("-", "_")
            if lowered in ACCEPTED_COLUMNS:
                hint = f" (did you mean '{lowered}'? column names are lower case)"
            problems.append(
                Problem(line, name, f"unknown column '{name}'{hint}; accepted columns: {accepted}")
            )
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            problems.append(
                Problem(line, name, f"column '{name}' appears more than once in the header")
            )
            fatal = True
        seen.add(name)
    for required in REQUIRED_COLUMNS:
        if required not in names:
            found = ", ".join(f"'{n}'" for n in names) or "none"
            problems.append(
                Problem(
                    line,
                    required,
                    f"required column '{required}' is missing; columns found: {found}",
                )
            )
            fatal = True
    return fatal


def _parse_row(line: int, values: dict[str, str], problems: list[Problem]) -> dict[str, Any]:
    row: dict[str, Any] = {"source_line": line}
    raw_zone = values["zone"]
    try:
        row["zone"], row["zone_unicode"] = normalize_zone(raw_zone)
    except ValueError as exc:
        problems.append(
            Problem(line, "zone", f"'{_show(raw_zone.strip())}' is not a valid domain name: {exc}")
        )
    for column in TEXT_COLUMNS:
        if column in values:
            row[column] = values[column].strip() or None
    row["expected_signed"] = True
    for column, parse in _PARSERS.items():
        if column not in values:
            continue
        raw = values[column].strip()
        if not raw:
            continue
        try:
            row[column] = parse(raw)
        except ValueError as exc:
            problems.append(Problem(line, column, str(exc)))
    if "names" in values and row.get("zone") is not None:
        try:
            names = normalize_names(values["names"], row["zone"])
        except ValueError as exc:
            problems.append(Problem(line, "names", str(exc)))
        else:
            row["names"] = ";".join(names) or None
    return row


def _risk_tier(raw: str) -> int:
    if raw in RISK_TIERS:
        return RISK_TIERS[raw]
    raise ValueError(f"found '{raw}', expected 1, 2 or 3 (or empty)")


def _expected_signed(raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"found '{raw}', expected true/false, yes/no or 1/0 (empty means true)")


def _last_reviewed(raw: str) -> pd.Timestamp:
    expected = "expected an ISO 8601 date YYYY-MM-DD (or a full ISO 8601 timestamp)"
    try:
        if _DATE.fullmatch(raw):
            moment = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        elif _TIMESTAMP.fullmatch(raw):
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        else:
            raise ValueError(f"found '{raw}', {expected}")
        return pd.Timestamp(moment).tz_convert("UTC").as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise ValueError(f"found '{raw}' (out of range), {expected}") from None
    except ValueError as exc:
        if str(exc).startswith("found "):
            raise
        raise ValueError(f"found '{raw}' ({exc}), {expected}") from None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "risk_tier": _risk_tier,
    "expected_signed": _expected_signed,
    "last_reviewed": _last_reviewed,
}
