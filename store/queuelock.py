"""A runner's queue locks: flock on a descriptor kept open per queue, plus a mutex for
its threads; always with a timeout and an error that names the lock."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import LockTimeout, QueueNotFound, StorageError
from .spool import Spool


class QueueLocks:
    """The queue locks one runner takes, each file opened once (not a new FileLock each time)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._locks: dict[str, tuple[threading.Lock, int | None]] = {}
        self._locks_guard = threading.Lock()
        self._lock_paths: dict[str, str] = {}

    @contextmanager
    def lock(self, queue: str) -> Iterator[None]:
        """The queue's lock: flock on a descriptor kept open, plus a mutex for our threads
        (on NFS flock is emulated with POSIX locks, which do not exclude threads of one
        process, and which any close of the file by this process would drop)."""
        with self._locks_guard:
            entry = self._locks.get(queue)
            if entry is None:
                entry = self._locks[queue] = (threading.Lock(), None)
        mutex = entry[0]
        if not mutex.acquire(timeout=self.spool.lock_timeout):
            raise LockTimeout(f"queue {queue} is locked by another thread of this runner for more than "
                              f"{self.spool.lock_timeout:g}s; this is a bug: please report it")
        try:
            fd = self._lock_fd(queue)
            if fd is None:  # no flock here (some FUSE filesystems): FileLock's fallback
                with self.spool.lock(queue):
                    yield
                return
            self._flock(fd, queue)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            mutex.release()

    def _lock_fd(self, queue: str) -> int | None:
        path = self._lock_paths.get(queue) or self._lock_paths.setdefault(
            queue, str(self.spool.layout.queue_lock(queue)))
        mutex, fd = self._locks[queue]
        if fd is not None:
            try:
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # the queue was removed (and maybe made again): a new lock file
            fd = None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            self._locks[queue] = (mutex, None)
            raise QueueNotFound(f"queue {queue} is gone (removed while this runner served it)") from None
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot open the lock of queue {queue}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            if exc.errno in (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP):
                os.close(fd)
                self._locks[queue] = (mutex, None)
                return None
        self._locks[queue] = (mutex, fd)
        return fd

    def _flock(self, fd: int, queue: str) -> None:
        deadline = time.monotonic() + self.spool.lock_timeout
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise StorageError.wrap(exc, f"cannot take the lock of queue {queue}") from exc
            if time.monotonic() > deadline:
                raise LockTimeout(
                    f"queue {queue} is locked by another process for more than {self.spool.lock_timeout:g}s "
                    f"({self.spool.layout.queue_lock(queue)}); retry, and if it persists look for a stuck "
                    "coreflow process (`coreflow doctor`)")
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def close(self) -> None:
        with self._locks_guard:
            for _, fd in self._locks.values():
                if fd is not None:
                    os.close(fd)
            self._locks.clear()
