"""A runner's queue locks: the store's one lock (store/locks.py) on a descriptor kept open
per queue, plus a mutex for its threads."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import LockTimeout, QueueNotFound, StorageError
from .locks import NO_FLOCK, flock_wait, open_lock_file
from .spool import Spool


class QueueLocks:
    """The queue locks one runner takes, each file opened once (not opened anew each time)."""

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
            if fd is None:  # no flock here (some FUSE filesystems): the plain lock's error says so
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
            fd = open_lock_file(path)
        except FileNotFoundError:
            self._locks[queue] = (mutex, None)
            raise QueueNotFound(f"queue {queue} is gone (removed while this runner served it)") from None
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot open the lock of queue {queue}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            if exc.errno in NO_FLOCK:
                os.close(fd)
                self._locks[queue] = (mutex, None)
                return None
        self._locks[queue] = (mutex, fd)
        return fd

    def _flock(self, fd: int, queue: str) -> None:
        flock_wait(fd, f"queue {queue}", self._lock_paths[queue], self.spool.lock_timeout)

    def close(self) -> None:
        with self._locks_guard:
            for _, fd in self._locks.values():
                if fd is not None:
                    os.close(fd)
            self._locks.clear()
