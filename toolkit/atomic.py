"""One home for the atomic write: nothing is ever half-written.

A file is written to a temporary file beside it (a name of its own per writer: pid and random
part, created exclusively), flushed and fsynced, then renamed over the target with
:func:`os.replace` — a reader sees the old file or the new one, never a part. On any failure the
temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def open_atomic(
    path: Path | str,
    mode: str = "wb",
    *,
    perms: int = 0o644,
    durable: bool = True,
    sync_folder: bool = False,
    **open_args: Any,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing (``mode`` ``"wb"`` or ``"w"``, with
    ``open_args`` such as ``encoding``, ``newline``); when the block ends without an error it
    gets ``perms``, is fsynced (``durable``) and renamed over ``path``, and the folder is
    fsynced too with ``sync_folder``. The folder must exist."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic writes new files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    tmp = _temporary(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, perms)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_folder:
        sync_dir(path.parent)


def write_atomic(
    path: Path | str,
    data: bytes | str,
    *,
    perms: int = 0o644,
    durable: bool = True,
    sync_folder: bool = False,
) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see :func:`open_atomic`); returns
    the path."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open_atomic(path, "wb", perms=perms, durable=durable, sync_folder=sync_folder) as fh:
        fh.write(raw)
    return Path(path)


def sync_dir(folder: Path | str) -> None:
    """fsync a folder, so a rename into it survives a crash (where the file system allows:
    a folder that cannot be opened or synced is left as it is)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. no read permission on the folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)
