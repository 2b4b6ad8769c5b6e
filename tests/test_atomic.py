"""The one atomic write (toolkit/atomic.py): a reader sees the old file or the new one."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from toolkit.atomic import open_atomic, write_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), open_atomic(target, "w", encoding="utf-8") as fh:
        fh.write("half of the new")
        raise RuntimeError("disk pulled")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_the_new_file_gets_its_permissions_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "public.txt", "x", perms=0o644)
        write_atomic(tmp_path / "key.pem", b"secret", perms=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "public.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    """Two threads of one process wrote through the same pid-named temporary file before: one
    rename then failed or published the other's bytes. Every result is one writer's whole."""
    target = tmp_path / "stats.json"
    payloads = [(str(i) * 20_000).encode() for i in range(8)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(20):
                write_atomic(target, data, durable=False)
        except BaseException as exc:  # pragma: no cover - the failure this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_only_new_files_are_opened(tmp_path):
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"), open_atomic(tmp_path / "x", "a"):
        pass
