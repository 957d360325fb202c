"""The sorted listing of pending/ directories a runner claims from, kept valid by inotify."""

from __future__ import annotations

import bisect

from .listing import list_names
from .watch import IN_CREATE, IN_DELETE, IN_IGNORED, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW, Inotify


class PendingCache:
    """Sorted names of pending/ directories, kept valid by inotify (local filesystems).

    inotify queues an event when the rename happens, so events read while holding a
    queue's lock include every change made by whoever held it before. Events for
    names we removed ourselves are expected; a name added or removed by someone else is
    put in or taken out (a submit into a 10,000-job queue costs no re-listing); any
    other event means re-list. Where inotify cannot see other hosts (NFS and the like),
    no cache: list every time.
    """

    def __init__(self) -> None:
        self.inotify = Inotify()
        self.wds: dict[int, str] = {}
        self.by_queue: dict[str, tuple[int, str]] = {}  # queue -> (wd, path)
        self.names: dict[str, list[str]] = {}  # queue -> sorted names (valid ones only)
        self.expected: dict[str, set[str]] = {}

    def listing(self, queue: str, path: str) -> list[str]:
        """The names in `path` (sorted); the caller holds the queue's lock."""
        if not self.inotify.ok:
            return sorted(list_names(path))
        self._read_events()
        cached = self.names.get(queue)
        if cached is not None:
            return cached
        entry = self.by_queue.get(queue)
        if entry is None or entry[1] != path:
            wd = self.inotify.add_watch(path)
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
        for wd, mask, name in self.inotify.read():
            if mask & IN_Q_OVERFLOW:
                self.names.clear()
                continue
            queue = self.wds.get(wd)
            if queue is None:
                continue
            if mask & IN_IGNORED:  # the directory went away: watch it again next time
                self.wds.pop(wd, None)
                self.by_queue.pop(queue, None)
                self.names.pop(queue, None)
                continue
            exp = self.expected.get(queue)
            if exp is not None and mask & IN_MOVED_FROM and name in exp:
                exp.discard(name)
                continue
            names = self.names.get(queue)
            if names is None:
                continue  # listed afresh at the next look anyway
            i = bisect.bisect_left(names, name)
            there = i < len(names) and names[i] == name
            if name and mask & (IN_MOVED_TO | IN_CREATE):
                if not there:
                    names.insert(i, name)
            elif name and mask & (IN_MOVED_FROM | IN_DELETE):
                if there:
                    del names[i]
            else:  # the directory itself moved or went: list it again
                self.names.pop(queue, None)

    def close(self) -> None:
        self.inotify.close()
