"""The change feed: what changed in a spool, as it happens.

Two modes, one shape of output:
  * inotify on local filesystems: events as they happen;
  * directory-mtime polling on NFS, CIFS and FUSE, where inotify sees only this
    host's changes: the spool's directories are stat-ed (a rename in or out of a
    directory changes its mtime), never each job file.
Both mechanisms, and the choice between them, are store/watch.py's.
Either way a periodic full rescan (`Change.full`) is the safety net for anything an
event or an mtime missed (mtime granularity, a dropped inotify queue).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from .layout import is_machinery_name
from .spool import Spool
from .mounts import choose_mode
from .watch import DirPoller, DirWatch, notify



@dataclass(frozen=True)
class Change:
    queues: frozenset[str] = frozenset()  # queues whose jobs or queue.json changed
    runners: bool = False
    triggers: bool = False
    corrupt: bool = False
    full: bool = False  # a periodic rescan: assume anything may have changed
    paths: frozenset[str] = field(default=frozenset(), repr=False)

    def __bool__(self) -> bool:
        return bool(self.queues or self.runners or self.triggers or self.corrupt or self.full)

    def merge(self, other: Change) -> Change:
        return Change(self.queues | other.queues, self.runners or other.runners, self.triggers or other.triggers,
                      self.corrupt or other.corrupt, self.full or other.full, self.paths | other.paths)


class Feed:
    """Follow a spool: iterate to get batched `Change`s."""

    def __init__(self, spool: Spool, mode: str | None = None, interval: float = 1.0, rescan: float = 30.0) -> None:
        self.spool = spool
        self.mode = choose_mode(spool.root, mode)
        self.interval = interval
        self.rescan = rescan
        self._churn = frozenset(p.name for p in spool.layout.churn_dirs())

    def describe(self) -> str:
        return "live" if self.mode == "inotify" else f"polling {self.interval:g} s"

    # -- classification ------------------------------------------------------------

    def classify(self, paths: set[str]) -> Change:
        root = str(self.spool.root) + os.sep
        queues: set[str] = set()
        runners = triggers = corrupt = False
        for p in paths:
            rel = p[len(root):] if p.startswith(root) else p
            parts = rel.split(os.sep)
            top = parts[0]
            if top == "queues" and len(parts) > 1:
                queues.add(parts[1])
            elif top == "runners":
                runners = True
            elif top == "triggers":
                triggers = True
            elif top == "corrupt":
                corrupt = True
        return Change(frozenset(queues), runners, triggers, corrupt, paths=frozenset(paths))

    def _ignored(self, path: str) -> bool:
        rel = path[len(str(self.spool.root)) + 1:]
        top = rel.split(os.sep, 1)[0]
        name = os.path.basename(path)
        return top in self._churn or is_machinery_name(name)

    # -- polling -------------------------------------------------------------------

    def poller(self) -> DirPoller:
        """The spool's directories but the churning ones; files are listed, never stat-ed."""
        root = str(self.spool.root) + os.sep
        return DirPoller(self.spool.root, skip=lambda d: d[len(root):].split(os.sep, 1)[0] in self._churn,
                         stat_files=False)

    # -- iteration -----------------------------------------------------------------

    def iterate(self, stop: threading.Event) -> Iterator[Change]:
        """Batched changes until `stop` is set. Blocking: run it in a thread (the TUI's
        worker) or as a process's main loop (the runner, the trigger daemon)."""
        rescan_due = time.monotonic() + self.rescan
        for change in self._polled(stop) if self.mode == "poll" else self._notified(stop):
            if time.monotonic() >= rescan_due:
                rescan_due = time.monotonic() + self.rescan
                change = change.merge(Change(full=True))
            if change:
                yield change

    def _notified(self, stop: threading.Event) -> Iterator[Change]:
        # An empty batch every `rescan` seconds, so a quiet spool still gets its safety-net rescan.
        for paths in notify(self.spool.root, stop, lambda p: not self._ignored(p), debounce=300, step=20,
                            timeout_ms=int(self.rescan * 1000)):
            yield self.classify(paths)

    def _polled(self, stop: threading.Event) -> Iterator[Change]:
        poller = self.poller()
        poller.prime()
        while not stop.wait(self.interval):
            yield self.classify({p for p in poller.scan() if not self._ignored(p)})


class QueueWatch:
    """The change feed as a runner needs it, with no thread and no added delay: the
    directories of the queues it serves (pending/, running/, the queue's own for
    queue.json) and queues/ itself, through store.watch.DirWatch. inotify wakes the
    runner's loop at once (`fileno()`); polling, the loop calls `read()` when due."""

    def __init__(self, spool: Spool, mode: str | None = None, interval: float = 0.5) -> None:
        self.spool = spool
        self.interval = interval
        self.dirs = DirWatch(choose_mode(spool.root, mode), interval)
        self._queue_of: dict[str, str] = {}  # directory -> its queue ('' for queues/)

    @property
    def mode(self) -> str:
        return self.dirs.mode

    def describe(self) -> str:
        return "live" if self.mode == "inotify" else f"polling {self.interval:g} s"

    def fileno(self) -> int | None:
        return self.dirs.fileno()

    def poll_due(self, now: float) -> float | None:
        return self.dirs.poll_due(now)

    def serve(self, queues: list[str]) -> None:
        """Watch these queues (and any of their directories made anew since)."""
        lay = self.spool.layout
        wanted = {str(lay.queues): ""}
        for q in queues:
            for d in (lay.queue(q), lay.pending(q), lay.running(q)):
                wanted[str(d)] = q
        watched = self.dirs.watched()
        for d, q in wanted.items():
            if d not in watched:
                self.dirs.watch(d)
            self._queue_of[d] = q

    def read(self, now: float) -> Change:
        """What changed since the last read: the queues touched; `full` when a queue was
        added or removed, or inotify lost events."""
        dirs, paths, lost = self.dirs.changed(now)
        queues = {self._queue_of.get(d, "") for d in dirs}
        full = lost or "" in queues
        return Change(frozenset(q for q in queues if q), full=full,
                      paths=frozenset(dirs if paths is None else paths))

    def cancel_asked(self, change: Change) -> set[str]:
        """The queues of `change` where a cancel may have been asked (a running/ID.cancel
        appeared); polling cannot tell, so every queue it names."""
        if change.full:
            return set(self._queue_of.values()) - {""}
        if self.mode != "inotify":
            return set(change.queues)
        return {self._queue_of.get(os.path.dirname(p), "") for p in change.paths if p.endswith(".cancel")} - {""}

    def close(self) -> None:
        self.dirs.close()
