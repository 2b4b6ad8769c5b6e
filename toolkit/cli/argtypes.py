"""The command line's value types, in one place: each turns an option's text into a value or
raises :class:`argparse.ArgumentTypeError` with one line saying what was expected (argparse then
prints ``usage`` and exits 2). :func:`parse_now` raises :class:`InputError` instead: ``--now`` is
read by the command, after parsing, so that its default is the wall clock at that moment.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

from toolkit.errors import InputError

#: The times the toolkit can store and compute with: the frames keep nanosecond timestamps
#: (pandas: 1677-09-21 .. 2262-04-11), and DNSSEC signature times are 32-bit serial numbers
#: (RFC 4034 §3.1.5) — so a --now far outside today is refused, not half-processed.
EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_NOW = datetime(2200, 1, 1, tzinfo=UTC)

#: Text shaped like a period (2026Q9, 2026-H3, 2026-13) that names none: refused. Other free
#: text (``last quarter``) stays a label and the report covers its run only.
_PERIOD_SHAPE = re.compile(r"^\d{4}(-?[QqHh]\d+|-\d{1,2})$")


def _number(text: str, kind: type[int] | type[float], expected: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = int(_number(text, int, "a whole number"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of at least 0."""
    value = int(_number(text, int, "a whole number"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number of at least 0."""
    value = _number(text, float, "a number")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of 0 or more, got {text}")
    return value


def positive_seconds(text: str) -> float:
    """A timeout: more than 0 and at most an hour."""
    value = _number(text, float, "seconds")
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 3600 s, got {text}")
    return value


def milliseconds(text: str) -> float:
    """Milliseconds between 0 and 10,000."""
    value = _number(text, float, "milliseconds")
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"expected 0 to 10000 ms, got {text}")
    return value


def share(text: str) -> float:
    """A share from 0 up to (not including) 1."""
    value = _number(text, float, "a share such as 0.02")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a share from 0 up to (not including) 1, e.g. 0.02 for 2 %, got {text}"
        )
    return value


def period(text: str) -> str:
    """A report period: ``2026Q4``, ``2026-H2``, ``2026-11``, ``2026`` or a free label; text
    shaped like a period that names none (``2026Q9``, ``2026-13``) is refused."""
    from toolkit.reports.audit import period_bounds

    if _PERIOD_SHAPE.match(text.strip()) and period_bounds(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is no period: expected a quarter 2026Q1..2026Q4, a half 2026-H1 or "
            "2026-H2, a month 2026-01..2026-12 or a year 2026"
        )
    return text


def parse_now(text: str | None, option: str = "--now") -> datetime:
    """``--now`` (ISO 8601, UTC if no offset) or the wall clock: the one place "now" is read.

    Raises InputError naming the option when the text is not a time or is outside
    [:data:`EARLIEST_NOW`, :data:`LATEST_NOW`)."""
    if not text:
        return datetime.now(UTC)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(option, f"expected an ISO 8601 time, got {text!r}") from None
    if not EARLIEST_NOW.year <= dt.year < LATEST_NOW.year:
        raise InputError(
            option,
            f"{text!r} is out of range: expected a time from {EARLIEST_NOW:%Y-%m-%d} to before "
            f"{LATEST_NOW:%Y-%m-%d} (stored times and DNSSEC signature times cannot hold it)",
        )
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def cluster_spec(text: str) -> str:
    """``--cluster``: ``local``, ``local:N`` or a scheduler address, normalised."""
    from toolkit.collect.cluster import ClusterSpec

    try:
        return str(ClusterSpec.parse(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def vantage(text: str) -> str:
    """``--vantage``: a name for the network the resolvers are asked from."""
    from toolkit.collect.resolvers import check_vantage

    try:
        return check_vantage(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
