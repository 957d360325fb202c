"""The change feed: what changed in a spool, as it happens.

Two modes, one shape of output:
  * inotify (through watchfiles) on local filesystems: events as they happen;
  * directory-mtime polling on NFS, CIFS and FUSE, where inotify sees only this
    host's changes. It stats the spool's few directories (a rename in or out of a
    directory changes its mtime), never each job file: through a network view,
    stat-ing 10,000 files takes over a second.
Either way a periodic full rescan (`Change.full`) is the safety net for anything an
event or an mtime missed (mtime granularity, a dropped inotify queue).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .layout import is_machinery_name
from .mounts import mount_of
from .spool import Spool

POLLED_FSTYPES = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse", "9p", "afs", "ceph", "glusterfs", "lustre")


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


def filesystem_type(path: Path) -> str:
    """The fstype of the mount holding `path` ('' if unknown)."""
    return mount_of(path).fstype


def needs_polling(fstype: str) -> bool:
    return any(fstype == t or fstype.startswith(t + ".") for t in POLLED_FSTYPES)


def choose_mode(path: Path, mode: str | None = None) -> str:
    """'inotify' or 'poll': the given mode, else $COREFLOW_WATCH, else by filesystem type."""
    mode = mode or os.environ.get("COREFLOW_WATCH") or "auto"
    if mode not in ("auto", "inotify", "poll"):
        raise ConfigError(f"COREFLOW_WATCH={mode!r}: the watch mode must be auto, inotify or poll; "
                          "unset it to choose by filesystem")
    if mode == "auto":
        return "poll" if needs_polling(filesystem_type(path)) else "inotify"
    return mode


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

    def _dirs(self) -> list[Path]:
        lay = self.spool.layout
        dirs = [lay.queues, lay.runners, lay.triggers, lay.corrupt]
        for q in self.spool.queue_names():
            dirs += [lay.queue(q), *lay.state_dirs(q)]
        return dirs

    def _snapshot(self) -> dict[str, tuple[int, int, int]]:
        snap = {}
        for d in self._dirs():
            try:
                st = os.stat(d)
            except OSError:
                continue
            snap[str(d / "x")] = (st.st_mtime_ns, st.st_ino, st.st_size)
        return snap

    def _poll_once(self, before: dict[str, tuple[int, int, int]]) -> tuple[Change, dict[str, tuple[int, int, int]]]:
        after = self._snapshot()
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        return self.classify(changed), after

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
        import watchfiles

        # yield_on_timeout: an empty batch every `rescan` seconds, so a quiet spool
        # still gets its safety-net rescan.
        for batch in watchfiles.watch(self.spool.root, watch_filter=lambda _c, p: not self._ignored(p),
                                      debounce=300, step=20, stop_event=stop, yield_on_timeout=True,
                                      rust_timeout=int(self.rescan * 1000), raise_interrupt=False):
            yield self.classify({p for _c, p in batch})

    def _polled(self, stop: threading.Event) -> Iterator[Change]:
        snap = self._snapshot()
        while not stop.wait(self.interval):
            change, snap = self._poll_once(snap)
            yield change
