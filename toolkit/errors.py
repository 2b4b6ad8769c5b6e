"""The toolkit's exceptions: one base class, subclasses with structured fields.

Exceptions are for the program failing (bad input, a corrupted store). A zone failing is a
finding or a status, never an exception.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class ToolkitError(Exception):
    """The DNSSEC governance toolkit failed."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    ``line`` is 1-based (the CSV header is line 1) or None when the problem concerns the whole
    file; ``column`` is the CSV column or, for YAML, the dotted field path
    (``policies.standard.zsk_lifetime_days``), with ``kind`` saying which of the two it is.
    """

    line: int | None
    column: str | None
    message: str
    kind: str = "column"

    def where(self) -> str:
        """``line 3, column 'zone'`` (the parts that are known), or the empty string."""
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"{self.kind} '{self.column}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class InputError(ToolkitError):
    """An input file is not what the toolkit expects.

    The message names the file, the line (1-based, counting the header as line 1 for CSV), the
    column or field, what was found and what was expected.

    Two forms: ``InputError(path, message, line=..., column=...)`` for a single problem, and
    ``InputError(path, problems=[Problem(...), ...])`` when a loader collected every problem of
    a file before raising (``message`` is then an optional summary heading the list).

    Either way ``problems`` lists them all; ``line``, ``column`` and ``detail`` describe the
    problem when there is exactly one (else ``line`` and ``column`` are None and ``detail`` is
    the summary). ``str(err)`` starts with the file path; several problems are listed one per
    line, at most :attr:`MAX_LISTED`, then "... and N more".
    """

    MAX_LISTED = 50

    def __init__(
        self,
        path: str | Path,
        message: str | None = None,
        *,
        line: int | None = None,
        column: str | None = None,
        problems: Sequence[Problem] | None = None,
    ) -> None:
        self.path = str(path)
        if problems is None:
            if message is None:
                raise TypeError("InputError needs a message or a list of problems")
            found = [Problem(line, column, message)]
        else:
            if line is not None or column is not None:
                raise TypeError("give line and column in each Problem, not to InputError")
            found = list(problems)
            if not found:
                raise TypeError("InputError needs at least one problem")
        self.problems: list[Problem] = found
        if len(found) == 1:
            only = found[0]
            self.line = only.line
            self.column = only.column
            self.detail = only.message
            where = only.where()
            text = (
                f"{self.path}, {where}: {only.message}" if where else f"{self.path}: {only.message}"
            )
        else:
            self.line = None
            self.column = None
            self.detail = message or f"{len(found)} problems found"
            listed = [f"  {p}" for p in found[: self.MAX_LISTED]]
            if len(found) > self.MAX_LISTED:
                listed.append(f"  ... and {len(found) - self.MAX_LISTED} more")
            text = "\n".join([f"{self.path}: {self.detail}:", *listed])
        super().__init__(text)

    def __reduce__(self) -> tuple[object, ...]:
        # Exceptions pickle as cls(*args); rebuild from the structured fields instead.
        summary = self.detail if len(self.problems) > 1 else None
        return (_restore_input_error, (type(self), self.path, summary, tuple(self.problems)))


def _restore_input_error(
    cls: type[InputError], path: str, summary: str | None, problems: tuple[Problem, ...]
) -> InputError:
    return cls(path, summary, problems=list(problems))


class StoreError(ToolkitError):
    """The run store is missing, corrupted or was asked for a run it does not hold."""


class LabError(ToolkitError):
    """The local DNS lab could not be built, started or stopped."""


class ReportError(ToolkitError):
    """A report could not be produced (notebook execution, conversion or PDF rendering)."""


#: The errors of an environment that cannot take a write (not of the toolkit's input or code):
#: a full disk, a read-only or forbidden folder, a path through a file or too long.
WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO,
     errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}
)  # fmt: skip


class WriteError(ToolkitError):
    """A file or folder could not be written: the disk is full, the file system read-only, the
    permission missing. One line naming the path and the system's reason."""

    def __init__(self, path: str | Path, exc: OSError, action: str = "cannot write") -> None:
        self.path = str(path)
        self.errno = exc.errno
        reason = exc.strerror or str(exc) or type(exc).__name__
        super().__init__(f"{action} {self.path}: {reason}")
