"""What a watch trigger watches: a directory, through inotify or by directory mtimes.

Local disks: inotify; NFS, CIFS and FUSE (where inotify sees only this host's
changes): directory-mtime polling, plus a slow full pass that stats files to catch
edits made in place. Both mechanisms are store/watch.py's, shared with the spool's
change feed. Watchers only collect paths; the `Burst` decides when a burst is over.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from store.triggers import TriggerDef
from store.triggers.watchmarks import watched_rel
from store.watch import DirPoller, notify

OnPaths = Callable[[list[str]], None]
OnStatus = Callable[[str | None], None]  # an error message, or None when all is well again


class Burst:
    """Changed paths gathered until `quiet` seconds pass without a new one (or `longest`
    seconds since the first, so a directory that never calms down still fires)."""

    def __init__(self, quiet: float, longest: float | None = None) -> None:
        self.quiet = quiet
        self.longest = longest if longest is not None else max(10 * quiet, 10.0)
        self._paths: dict[str, None] = {}
        self._first: float | None = None
        self._last: float | None = None
        self._lock = threading.Lock()

    def add(self, paths: Iterable[str], now: float) -> None:
        with self._lock:
            for p in paths:
                self._paths[p] = None
            if self._paths:
                self._first = now if self._first is None else self._first
                self._last = now

    def take(self, now: float) -> list[str] | None:
        """The burst's paths (sorted) if it is over, else None."""
        with self._lock:
            if not self._paths or self._first is None or self._last is None:
                return None
            if now - self._last < self.quiet and now - self._first < self.longest:
                return None
            paths = sorted(self._paths)
            self._paths.clear()
            self._first = self._last = None
            return paths


class Watcher:
    """A thread that reports changed paths (relative to the trigger's directory)."""

    def __init__(self, d: TriggerDef, on_paths: OnPaths, on_status: OnStatus,
                 ignore: Iterable[Path] = ()) -> None:
        assert d.watch_path is not None
        self.d = d
        self.root = d.watch_path
        self.on_paths = on_paths
        self.on_status = on_status
        self.ignore = tuple(str(p) for p in ignore)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{d.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def relevant(self, path: str) -> str | None:
        """`path` relative to the root if the trigger watches it (see store's watched_rel)."""
        return watched_rel(self.d, path, self.ignore)

    def _wait_for_root(self) -> bool:
        """Block until the directory exists (reporting it missing meanwhile); False if stopped."""
        reported = False
        while not self._stop.is_set():
            if self.root.is_dir():
                if reported:
                    self.on_status(None)
                return True
            if not reported:
                self.on_status(f"{self.d.file}: path: directory {self.root} does not exist (any more); "
                               "waiting for it to come back")
                reported = True
            self._stop.wait(2.0)
        return False

    def _run(self) -> None:
        raise NotImplementedError


class InotifyWatcher(Watcher):
    def _run(self) -> None:
        while self._wait_for_root():
            try:
                ino = os.stat(self.root).st_ino
                for paths in notify(self.root, self._stop, debounce=200, step=50, timeout_ms=2000,
                                    recursive=self.d.recursive):
                    rels = [r for p in paths if (r := self.relevant(p)) is not None]
                    if rels:
                        self.on_paths(rels)
                    if not self._same_root(ino):
                        break  # removed (or replaced): watch the new one once it is there
            except (OSError, RuntimeError) as exc:
                self.on_status(f"{self.d.file}: path: cannot watch {self.root}: {exc}; retrying")
                self._stop.wait(2.0)

    def _same_root(self, ino: int) -> bool:
        try:
            return os.stat(self.root).st_ino == ino
        except OSError:
            return False


class PollWatcher(Watcher):
    """Directory-mtime polling (network filesystems)."""

    def __init__(self, d: TriggerDef, on_paths: OnPaths, on_status: OnStatus, ignore: Iterable[Path] = (),
                 interval: float = 1.0, full_every: int = 60) -> None:
        super().__init__(d, on_paths, on_status, ignore)
        self.interval = interval
        self.full_every = full_every
        self.poller = DirPoller(self.root, recursive=d.recursive)

    def prime(self) -> None:
        self.poller.prime()

    def scan(self, full: bool = False) -> list[str]:
        """One polling pass; returns the relevant changed paths (relative)."""
        return sorted(r for p in self.poller.scan(full) if (r := self.relevant(p)) is not None)

    def _run(self) -> None:
        while self._wait_for_root():
            self.prime()
            passes = 0
            while not self._stop.wait(self.interval):
                if not self.root.is_dir():
                    break
                passes += 1
                rels = self.scan(full=passes % self.full_every == 0)
                if rels:
                    self.on_paths(rels)


class RefsGate:
    """Whether a repository's refs may have moved, cheaply: directory-mtime polling of
    refs/ and of the repository's top (where packed-refs is replaced), stat-ing only
    directories and new files. A git trigger reads its refs only when this says so."""

    def __init__(self, gitdir: Path) -> None:
        self.refs = str(gitdir / "refs")
        self.packed = str(gitdir / "packed-refs")
        self.poller = DirPoller(gitdir, skip=lambda p: p != self.refs and not p.startswith(self.refs + os.sep))
        self.poller.prime()

    def moved(self) -> bool:
        return any(p == self.packed or p.startswith(self.refs + os.sep) for p in self.poller.scan())
