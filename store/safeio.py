"""The one way the store reads a file or lists a directory of the spool.

Anyone who can write a shared directory can plant a FIFO (an open that blocks for
ever), a symlink to /dev/zero (a read without end) or a huge file where the store
expects a small one. So every read here opens with O_NOFOLLOW (never through a
symlink) and O_NONBLOCK (a FIFO opens at once instead of waiting for a writer),
checks with fstat that it got a regular file no larger than the caller's limit, and
reads at most that much. Anything else is an `UnsafeFile` naming the path and why.
A missing file is left to the caller (FileNotFoundError): most readers expect it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import CorruptJob, FileTooLarge, FileUnreadable, NotRegularFile, StorageError, UnsafeFile
from .limits import MAX_JOB_BYTES

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 16


def kind(mode: int) -> str:
    """What a file is, in words, for messages ("a FIFO", "a directory", ...)."""
    for test, words in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symlink"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device")):
        if test(mode):
            return words
    return "not a regular file"


def open_regular(path: str | Path, what: str = "") -> tuple[int, os.stat_result]:
    """Open a regular file for reading, safely; returns the fd (the caller closes it) and
    its stat. Raises NotRegularFile, FileNotFoundError or StorageError."""
    shown = what or path  # formatted only in a message
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularFile(f"{shown} is a symlink, and symlinks in a spool are never followed",
                                 path) from None
        if exc.errno == errno.ENXIO:  # a socket cannot be opened at all
            raise NotRegularFile(f"{shown} is a socket, not a regular file", path) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise FileUnreadable(f"{shown} cannot be read by this user ({_owner(path)})") from None
        raise StorageError.wrap(exc, f"cannot read {shown}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{shown} is {kind(st.st_mode)}, not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_file(path: str | Path, limit: int, what: str = "") -> bytes:
    """A regular file's bytes, all of them, refusing one larger than `limit` bytes
    (judged by fstat and again by what the read returns, in case it grows)."""
    shown = what or path  # formatted only in a message
    fd, st = open_regular(path, what)
    try:
        if st.st_size > limit:
            raise FileTooLarge(f"{shown} is {st.st_size} bytes, more than the limit of {limit}", path,
                               "shorten or remove it")
        data = read_fd(fd, limit + 1, shown, st.st_size)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileTooLarge(f"{shown} grew past the limit of {limit} bytes while being read", path,
                           "shorten or remove it")
    return data


def read_fd(fd: int, limit: int, shown: object, size: int | None = None) -> bytes:
    """Up to `limit` bytes from `fd`'s position, reading on after a short read (NFS);
    given the file's `size` (fstat's), the read ends once that many have come."""
    chunks = []
    got = 0
    try:
        while got < limit:
            chunk = os.read(fd, min(_CHUNK, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got == size:
                break
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot read {shown}") from exc
    return b"".join(chunks)


def read_range(path: str | Path, offset: int, limit: int, tail: bool = False, what: str = "") -> tuple[bytes, int]:
    """At most `limit` bytes of a (growing) regular file from `offset`, and the offset
    after them; with `tail`, a read from 0 of a longer file starts at its last `limit`
    bytes. For logs, which have no size limit of their own."""
    fd, st = open_regular(path, what)
    try:
        if tail and offset == 0:
            offset = max(0, st.st_size - limit)
        os.lseek(fd, offset, os.SEEK_SET)
        data = read_fd(fd, limit, what or path)
    finally:
        os.close(fd)
    return data, offset + len(data)


def list_dir(path: str | Path, what: str = "") -> list[str]:
    """The names in a directory, refusing a symlink in its place (it could lead anywhere).
    A missing directory is an empty one."""
    shown = what or path  # formatted only in a message
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                mode = 0
            raise NotRegularFile(f"{shown} is {kind(mode)}, not a directory", path) from None
        raise StorageError.wrap(exc, f"cannot list {shown}") from exc
    try:
        return os.listdir(fd)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot list {shown}") from exc
    finally:
        os.close(fd)


def _owner(path: str | Path) -> str:
    try:
        st = os.lstat(path)
    except OSError:
        return "permission denied"
    return f"owned by uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}"


def read_job(path: str | Path) -> bytes:
    """A job file's bytes (read_file with the job limit); a file that cannot be one of
    ours (a FIFO, a symlink, too large) is a CorruptJob, for the callers that quarantine it."""
    try:
        return read_file(path, MAX_JOB_BYTES)
    except UnsafeFile as exc:
        raise CorruptJob(exc.what) from None  # the fix is the caller's: corrupt/
