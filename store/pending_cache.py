"""The sorted listing of pending/ directories a runner claims from, kept valid by inotify."""

from __future__ import annotations

import bisect
import ctypes
import os
import struct

from .listing import list_names


class PendingCache:
    """Sorted names of pending/ directories, kept valid by inotify (local filesystems).

    inotify queues an event when the rename happens, so events read while holding a
    queue's lock include every change made by whoever held it before. Events for
    names we removed ourselves are expected; any other event means re-list. Where
    inotify cannot see other hosts (NFS and the like), no cache: list every time.
    """

    _MASK = 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800  # moved from/to, create, delete, delete/move self
    _IGNORED, _OVERFLOW = 0x8000, 0x4000

    def __init__(self) -> None:
        self.fd = -1
        self.libc: ctypes.CDLL | None = None
        self.wds: dict[int, str] = {}
        self.by_queue: dict[str, tuple[int, str]] = {}  # queue -> (wd, path)
        self.names: dict[str, list[str]] = {}  # queue -> sorted names (valid ones only)
        self.expected: dict[str, set[str]] = {}
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd >= 0:
            self.fd, self.libc = fd, libc

    def listing(self, queue: str, path: str) -> list[str]:
        """The names in `path` (sorted); the caller holds the queue's lock."""
        if self.fd < 0:
            return sorted(list_names(path))
        self._read_events()
        cached = self.names.get(queue)
        if cached is not None:
            return cached
        entry = self.by_queue.get(queue)
        if entry is None or entry[1] != path:
            assert self.libc is not None
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), self._MASK)
            if wd < 0:
                return sorted(list_names(path))
            self.wds[wd] = queue
            self.by_queue[queue] = (wd, path)
        names = sorted(list_names(path))
        self.names[queue] = names
        self.expected[queue] = set()
        return names

    def removed(self, queue: str, name: str) -> None:
        """We renamed `name` out of the queue's pending/ (its event is expected)."""
        names = self.names.get(queue)
        if names is None:
            return
        i = bisect.bisect_left(names, name)
        if i < len(names) and names[i] == name:
            del names[i]
        self.expected[queue].add(name)

    def forget(self, queue: str) -> None:
        self.names.pop(queue, None)

    def _read_events(self) -> None:
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            off = 0
            while off + 16 <= len(buf):
                wd, mask, _cookie, size = struct.unpack_from("iIII", buf, off)
                name = buf[off + 16:off + 16 + size].split(b"\0", 1)[0].decode(errors="replace")
                off += 16 + size
                if mask & self._OVERFLOW:
                    self.names.clear()
                    continue
                queue = self.wds.get(wd)
                if queue is None:
                    continue
                if mask & self._IGNORED:  # the directory went away: watch it again next time
                    self.wds.pop(wd, None)
                    self.by_queue.pop(queue, None)
                    self.names.pop(queue, None)
                    continue
                exp = self.expected.get(queue)
                if exp is not None and mask & 0x40 and name in exp:
                    exp.discard(name)
                    continue
                self.names.pop(queue, None)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
