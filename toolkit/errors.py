"""The toolkit's exceptions: one base class, subclasses with structured fields.

Exceptions are for the program failing (bad input, a corrupted store). A zone failing is a
finding or a status, never an exception.
"""

from __future__ import annotations

from pathlib import Path


class ToolkitError(Exception):
    """The DNSSEC governance toolkit failed."""


class InputError(ToolkitError):
    """An input file is not what the toolkit expects.

    The message names the file, the line (1-based, counting the header as line 1 for CSV), the
    column or field, what was found and what was expected.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.detail = message
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


class StoreError(ToolkitError):
    """The run store is missing, corrupted or was asked for a run it does not hold."""


class LabError(ToolkitError):
    """The local DNS lab could not be built, started or stopped."""


class ReportError(ToolkitError):
    """A report could not be produced (notebook execution, conversion or PDF rendering)."""
