"""Watching directories: the one toolkit the change feed, the runner's pending cache
and the watch triggers build on.

  * `is_noise`: the one filter of paths nobody builds from (.git/, swap files...).
  * `choose_mode`: inotify or polling, decided in one place: inotify sees only this
    host's changes, so NFS, CIFS, FUSE and the like are polled ($COREFLOW_WATCH overrides).
    It lives in store/mounts.py, so a submit can ask it without this module's ctypes.
  * `notify`: inotify through watchfiles (recursive, debounced batches, a thread-free
    blocking iterator): the change feed and the watch triggers.
  * `Inotify`: raw inotify through ctypes, one non-blocking descriptor read on demand:
    the runner's pending cache drains it under a queue's lock on every claim, where
    watchfiles' debounce (tens of milliseconds) would delay each wake-up.
  * `DirPoller`: directory-mtime polling: stat directories, never every file, and list
    again only a directory whose mtime moved (through a network view, stat-ing 10,000
    files takes over a second). The change feed and polled watch triggers.
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path



# -- what no build cares about ------------------------------------------------------

_noise: Callable[[str], bool] | None = None


def is_noise(rel: str) -> bool:
    """True for a path no build cares about (watchfiles' default filter: a .git,
    node_modules, .venv or __pycache__ component, editors' swap and backup files),
    judged on `rel`, the path *below* the watched directory: a trigger watching
    /repo/.git/refs/heads sees its files, one watching /repo does not see /repo/.git."""
    global _noise
    if _noise is None:
        import watchfiles

        default = watchfiles.DefaultFilter()
        _noise = lambda p: not default(watchfiles.Change.modified, p)  # noqa: E731
    return _noise(rel.replace("/", os.sep))


# -- inotify through watchfiles ------------------------------------------------------

def notify(root: Path, stop: threading.Event, keep: Callable[[str], bool] | None = None, *,
           debounce: int, step: int, timeout_ms: int, recursive: bool = True) -> Iterator[set[str]]:
    """Batches of changed paths under `root` (those `keep` accepts) until `stop` is set;
    an empty batch every `timeout_ms` when nothing happens."""
    import watchfiles

    flt = None if keep is None else (lambda _c, p: keep(p))
    for batch in watchfiles.watch(root, watch_filter=flt, debounce=debounce, step=step, stop_event=stop,
                                  rust_timeout=timeout_ms, yield_on_timeout=True, raise_interrupt=False,
                                  recursive=recursive):
        yield {p for _c, p in batch}


# -- raw inotify ---------------------------------------------------------------------

IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_Q_OVERFLOW, IN_IGNORED = 0x400, 0x800, 0x4000, 0x8000
ENTRIES_MASK = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF


class Inotify:
    """One non-blocking inotify descriptor (`ok` is False where the kernel offers none)."""

    def __init__(self) -> None:
        self.fd = -1
        self.libc: ctypes.CDLL | None = None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd >= 0:
            self.fd, self.libc = fd, libc

    @property
    def ok(self) -> bool:
        return self.fd >= 0

    def add_watch(self, path: str, mask: int = ENTRIES_MASK) -> int:
        """The watch descriptor, or -1 if `path` cannot be watched."""
        assert self.libc is not None
        return int(self.libc.inotify_add_watch(self.fd, os.fsencode(path), mask))

    def read(self) -> Iterator[tuple[int, int, str]]:
        """(watch descriptor, mask, name) of every event queued so far; never blocks."""
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
                yield wd, mask, name

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# -- directory-mtime polling ---------------------------------------------------------

Entry = tuple[int, bool, int, int]  # inode, is a directory, mtime_ns, size (0, 0 when files are not stat-ed)


class DirPoller:
    """The directories under `root` (not those `skip` names), their mtimes and entries.

    `scan` stats each directory and lists again the ones whose (mtime, inode, size)
    moved; with `stat_files`, a new or replaced file is stat-ed too and a full scan
    stats every file, catching edits made in place (which move no directory's mtime).
    """

    def __init__(self, root: Path, recursive: bool = True, skip: Callable[[str], bool] = lambda _p: False,
                 stat_files: bool = True) -> None:
        self.root = str(root)
        self.recursive = recursive
        self.skip = skip
        self.stat_files = stat_files
        self._dirs: dict[str, tuple[tuple[int, int, int], dict[str, Entry]]] = {}

    def prime(self) -> None:
        self._dirs.clear()
        self._walk(self.root, set(), full=True)

    def scan(self, full: bool = False) -> set[str]:
        """One polling pass: the paths of files added, removed or replaced."""
        changed: set[str] = set()
        for d in sorted(self._dirs, key=len):
            if d not in self._dirs:
                continue  # went with a parent
            try:
                stamp = self._stamp(d)
            except OSError:
                self._drop(d, changed)
                continue
            if full or stamp != self._dirs[d][0]:
                self._relist(d, stamp, changed, full)
        return changed

    @staticmethod
    def _stamp(d: str) -> tuple[int, int, int]:
        st = os.stat(d)
        return st.st_mtime_ns, st.st_ino, st.st_size

    def _stat(self, e: os.DirEntry[str]) -> os.stat_result:
        return e.stat(follow_symlinks=False)

    def _list(self, d: str, old: dict[str, Entry], full: bool) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        try:
            entries = list(os.scandir(d))
        except OSError:
            return out
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=False)
                ino = e.inode()
                prev = old.get(e.name)
                if not self.stat_files:
                    out[e.name] = (ino, is_dir, 0, 0)
                elif full or prev is None or prev[0] != ino:
                    st = self._stat(e)
                    out[e.name] = (ino, is_dir, st.st_mtime_ns, st.st_size)
                else:
                    out[e.name] = prev
            except OSError:
                continue
        return out

    def _walk(self, d: str, changed: set[str], full: bool) -> None:
        if d != self.root and self.skip(d):
            return
        try:
            stamp = self._stamp(d)
        except OSError:
            return
        entries = self._list(d, {}, full)
        self._dirs[d] = (stamp, entries)
        for name, (_ino, is_dir, _m, _s) in entries.items():
            path = os.path.join(d, name)
            if is_dir and self.recursive:
                self._walk(path, changed, full)
            elif not is_dir:
                changed.add(path)

    def _relist(self, d: str, stamp: tuple[int, int, int], changed: set[str], full: bool) -> None:
        old = self._dirs[d][1]
        new = self._list(d, old, full)
        self._dirs[d] = (stamp, new)
        for name in old.keys() | new.keys():
            a, b = old.get(name), new.get(name)
            path = os.path.join(d, name)
            if a == b:
                continue
            if a is not None and a[1] and (b is None or not b[1]):
                self._drop(path, changed)
            if b is not None and b[1]:
                if path not in self._dirs and self.recursive:
                    self._walk(path, changed, True)
                continue
            changed.add(path)

    def _drop(self, d: str, changed: set[str]) -> None:
        for sub in [k for k in self._dirs if k == d or k.startswith(d + os.sep)]:
            for name, entry in self._dirs.pop(sub)[1].items():
                if not entry[1]:
                    changed.add(os.path.join(sub, name))


# -- a set of directories, without a thread ------------------------------------------

class DirWatch:
    """Some directories (not their subdirectories), watched without a thread or any
    added delay: with inotify, `fileno()` becomes readable as soon as an entry of one
    is added, removed or renamed; polling, `poll_due()` says when to call `changed()`,
    which stats the directories (never their files)."""

    def __init__(self, mode: str, interval: float = 0.5) -> None:
        self.mode = mode
        self.interval = interval
        self.inotify = Inotify() if mode == "inotify" else None
        if self.inotify is not None and not self.inotify.ok:
            self.inotify, self.mode = None, "poll"
        self._wds: dict[int, str] = {}
        self._stamps: dict[str, tuple[int, int, int] | None] = {}
        self._next_poll = 0.0

    def fileno(self) -> int | None:
        return self.inotify.fd if self.inotify is not None else None

    def watch(self, path: str) -> None:
        """Watch `path` too (again, if it was removed and made anew)."""
        if self.inotify is not None:
            wd = self.inotify.add_watch(path)
            if wd < 0:
                return  # not there (yet): watched once a change of its parent makes us look again
            self._wds[wd] = path
        self._stamps[path] = _dir_stamp(path)

    def watched(self) -> set[str]:
        return set(self._stamps)

    def poll_due(self, now: float) -> float | None:
        """When (time.monotonic) the next poll is due; None with inotify."""
        return None if self.inotify is not None else self._next_poll

    def changed(self, now: float) -> tuple[set[str], set[str] | None, bool]:
        """The watched directories whose entries changed since the last call, the paths
        of those entries (None when polling: unknown), and whether events may have been
        lost (an inotify overflow: look at everything)."""
        out: set[str] = set()
        lost = False
        if self.inotify is not None:
            names: set[str] = set()
            for wd, mask, name in self.inotify.read():
                if mask & IN_Q_OVERFLOW:
                    lost = True
                path = self._wds.get(wd)
                if path is not None:
                    out.add(path)
                    names.add(f"{path}/{name}")
                    if mask & IN_IGNORED:  # gone: watched again by whoever makes it anew
                        self._wds.pop(wd, None)
                        self._stamps.pop(path, None)
            return out, names, lost
        self._next_poll = now + self.interval
        for path, old in list(self._stamps.items()):
            new = _dir_stamp(path)
            if new != old:
                self._stamps[path] = new
                out.add(path)
        return out, None, lost

    def close(self) -> None:
        if self.inotify is not None:
            self.inotify.close()


def _dir_stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ino, st.st_size
