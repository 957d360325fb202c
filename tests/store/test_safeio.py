"""store.safeio: the one reader of spool files never blocks, never follows a link and
never reads past its limit, and says which file and why."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from store import safeio
from store.errors import FileTooLarge, NotRegularFile, SpoolError


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    p = tmp_path / "queue.json"
    p.write_bytes(b'{"slots": 2}')
    assert safeio.read_file(p, 100) == b'{"slots": 2}'


def test_a_missing_file_is_left_to_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        safeio.read_file(tmp_path / "nope", 100)


def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    os.mkfifo(p)
    start = time.monotonic()
    with pytest.raises(NotRegularFile, match=r"x\.json is a FIFO, not a regular file: remove it"):
        safeio.read_file(p, 100)
    assert time.monotonic() - start < 1


def test_a_symlink_to_dev_zero_is_never_followed(tmp_path: Path) -> None:
    p = tmp_path / "x.claims"
    p.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFile, match="is a symlink, and symlinks in a spool are never followed"):
        safeio.read_file(p, 1 << 20)


def test_a_file_larger_than_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    p = tmp_path / "types.toml"
    p.write_bytes(b"x" * 101)
    with pytest.raises(FileTooLarge, match=r"types\.toml is 101 bytes, more than the limit of 100"):
        safeio.read_file(p, 100)
    assert safeio.read_file(p, 101) == b"x" * 101


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFile, match="is a directory, not a regular file"):
        safeio.read_file(tmp_path, 100)


def test_a_socket_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(p))
        with pytest.raises(NotRegularFile, match="is a socket"):
            safeio.read_file(p, 100)


def test_the_name_shown_can_be_chosen(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    os.mkfifo(p)
    with pytest.raises(SpoolError, match=r"^runners/x\.json is a FIFO"):
        safeio.read_file(p, 100, what="runners/x.json")


def test_read_range_reads_from_an_offset_and_tails(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"0123456789")
    assert safeio.read_range(p, 3, 4) == (b"3456", 7)
    assert safeio.read_range(p, 0, 4, tail=True) == (b"6789", 10)
    os.unlink(p)
    os.mkfifo(p)
    with pytest.raises(NotRegularFile):
        safeio.read_range(p, 0, 4)


def test_list_dir_refuses_a_symlinked_directory(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a").write_bytes(b"")
    assert safeio.list_dir(tmp_path / "real") == ["a"]
    assert safeio.list_dir(tmp_path / "missing") == []
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(NotRegularFile, match="is a symlink, not a directory"):
        safeio.list_dir(tmp_path / "link")
