"""The one lock of the store: flock(2) on a lock file, always with a timeout, released by
the kernel if its holder dies. `locked` takes it for one change; a runner keeps its
descriptors open (store/queuelock.py) but waits on them here, with the same error."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .errors import LockTimeout, StorageError

DEFAULT_TIMEOUT = 10.0
# flock's "not supported here" (some FUSE filesystems): a kept descriptor is then useless.
NO_FLOCK = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP)


def open_lock_file(path: Path | str) -> int:
    """The lock file's descriptor, made if missing; never through a symlink."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


def flock_wait(fd: int, what: str, path: Path | str, timeout: float) -> None:
    """Take an exclusive flock on `fd`, waiting at most `timeout` seconds (LockTimeout)."""
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise StorageError.wrap(exc, f"cannot take the lock of {what}") from exc
        if time.monotonic() > deadline:
            raise LockTimeout(
                f"{what} is locked by another process for more than {timeout:g}s ({path}); "
                "retry, and if it persists look for a stuck coreflow process (`coreflow doctor`)")
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


@contextmanager
def locked(path: Path, what: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the lock at `path` (one new descriptor: threads of one process exclude each
    other too, since each flock is on its own open file)."""
    try:
        fd = open_lock_file(path)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot take the lock of {what}") from exc
    try:
        flock_wait(fd, what, path, timeout)
        yield  # the close below releases the lock
    finally:
        os.close(fd)


@contextmanager
def locked_all(paths: list[tuple[Path, str]], timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Take several locks in name order, so two movers between the same queues never deadlock."""
    with ExitStack() as stack:
        for path, what in sorted(set(paths)):
            stack.enter_context(locked(path, what, timeout))
        yield
