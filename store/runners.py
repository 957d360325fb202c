"""Runner heartbeats and liveness: who is alive, what they serve, judged by filesystem time.

A heartbeat is `runners/ID.json`, rewritten every lease/4; its mtime is the beat.
Hosts' clocks may disagree, so age is measured against the filesystem's own clock
(the mtime of a file we just wrote), never this host's wall clock.

A runner is lost when its beat is older than its lease plus a margin (its own
watchdog has stopped its jobs at lease minus that margin: see layout.py), or, on the
same kernel and view of the spool (lock_scope), as soon as nobody holds its
runners/ID.lock. A bare pid proves nothing: the same hostname may be another PID
namespace or container.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import time
from dataclasses import dataclass
from functools import cache

from . import atomic, safeio
from .errors import CorruptJob, StorageError, UnsafeFile
from .layout import RUNNER_ID
from .model import Heartbeat, decode, encode
from .listing import scan_dir
from .spool import Spool

RUNNER_FILE_RE = re.compile(r"(?P<id>%s)\.json" % RUNNER_ID)
HEARTBEAT_MAX = 64 << 10  # bytes a heartbeat may have


def fence_margin(lease: float) -> float:
    """The margin on each side of a lease: a runner's watchdog stops its jobs when it has
    not beaten for lease - margin, others take them over at lease + margin."""
    return min(lease * 0.25, 15.0)


@cache
def boot_id() -> str:
    """This kernel's boot id ('' if unknown)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def lock_scope(spool: Spool) -> str:
    """Where flock on runners/ is coherent: this kernel (boot id) and this view of the
    spool (its device: another mount of the same directory may keep locks to itself).
    Two runners with the same scope see each other's runners/ID.lock; '' if unknown."""
    boot = boot_id()
    try:
        return f"{boot}/{os.stat(spool.layout.runners).st_dev}" if boot else ""
    except OSError:
        return ""


@dataclass(slots=True)
class RunnerState:
    beat: Heartbeat
    age: float  # seconds since its last beat, by the filesystem's clock
    locked: bool | None = None  # its runners/ID.lock is held (None: cannot tell from here)

    @property
    def lost(self) -> bool:
        if self.locked is False:
            return True  # same kernel, and nobody holds its lock: it is dead
        return self.age > self.beat.lease + fence_margin(self.beat.lease)

    def serves(self, queue: str) -> bool:
        return queue in self.beat.queues or self.beat.every and queue not in self.beat.refused


def new_runner_id() -> str:
    host = re.sub(r"[^a-z0-9.-]+", "-", os.uname().nodename.lower()).strip("-.") or "host"
    return f"{host[:40]}-{os.getpid()}-{os.urandom(4).hex()}"


def fs_now(spool: Spool) -> float:
    """The filesystem's idea of now (see atomic.fs_now), for a spool."""
    return atomic.fs_now(spool.layout.tmp)


def clock_offset(spool: Spool) -> float:
    """Filesystem clock minus this host's clock, in seconds."""
    before = time.time()
    fs = fs_now(spool)
    return fs - (before + time.time()) / 2


def beat(spool: Spool, hb: Heartbeat) -> None:
    """Write the heartbeat. If a new file cannot be written (a full disk), touching the
    old one still beats: what it says may be a little stale, but we are alive."""
    path = spool.layout.runner(hb.id)
    try:
        atomic.publish(spool.layout.tmp, path, encode(hb), sync_dir=False)
    except StorageError as exc:
        try:
            os.utime(path, follow_symlinks=False)
        except OSError:
            raise exc from None


class RunnerLock:
    """runners/ID.lock, flock-ed for the runner's life (released by the kernel at its death)."""

    def __init__(self, spool: Spool, runner_id: str) -> None:
        path = spool.layout.runner_lock(runner_id)
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot start a runner: cannot create its lock in {path.parent} "
                                    "(a runner must write the spool: run it as the spool's owner)") from exc
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            atomic.unlink_quietly(path)
            raise StorageError.wrap(exc, f"cannot lock {path.name}") from exc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def lock_held(spool: Spool, runner_id: str, exclusive: bool = False) -> tuple[bool | None, int]:
    """Is runners/ID.lock held? (None when there is no such lock to ask.) When it is not
    held, returns with the lock taken (the fd, to close) so the caller may bury the runner."""
    path = spool.layout.runner_lock(runner_id)
    try:
        fd, _ = safeio.open_regular(path)
    except (FileNotFoundError, UnsafeFile, StorageError):
        return None, -1
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True, -1
        return None, -1
    return False, fd


def remove(spool: Spool, runner_id: str) -> None:
    """Remove a runner's heartbeat, claims journal and lock (it is gone, and so are its jobs)."""
    lay = spool.layout
    try:
        for path in (lay.runner(runner_id), lay.runner_claims(runner_id), lay.runner_lock(runner_id)):
            atomic.unlink_quietly(path)
    except OSError as exc:  # another user's runner in a shared, sticky runners/
        raise StorageError.wrap(exc, f"cannot remove the files of runner {runner_id}") from exc


def bury(spool: Spool, runner_id: str) -> bool:
    """Remove the files of a runner proven dead (nobody holds its lock; we hold it while
    removing). A runner we cannot prove dead keeps its files: False."""
    held, fd = lock_held(spool, runner_id, exclusive=True)
    if held is not False:
        return False
    try:
        remove(spool, runner_id)
    finally:
        os.close(fd)
    return True


def runners(spool: Spool, now: float | None = None) -> list[RunnerState]:
    """Every runner with a heartbeat file, live or lost, sorted by host and pid."""
    d = spool.layout.runners
    entries = [e for e in scan_dir(d) if RUNNER_FILE_RE.fullmatch(e.name)]
    if not entries:
        return []
    if now is None:
        try:
            now = fs_now(spool)
        except StorageError:
            now = time.time()  # a read-only spool: this host's clock stands in for its
    mine = lock_scope(spool)
    out = []
    for e in entries:
        path = d / e.name
        try:
            fd, st = safeio.open_regular(path, f"heartbeat {e.name}")
            try:
                data = safeio.read_fd(fd, HEARTBEAT_MAX + 1, f"heartbeat {e.name}")
            finally:
                os.close(fd)
            hb = decode(data, Heartbeat, f"heartbeat {e.name}")
        except (FileNotFoundError, UnsafeFile, StorageError):
            continue  # not a heartbeat we can read (a FIFO, a link...): doctor names it
        except CorruptJob as exc:
            if len(data) <= HEARTBEAT_MAX:  # a torn or foreign file, not a growing one
                spool.quarantine(path, str(exc))
            continue
        state = RunnerState(hb, max(0.0, now - st.st_mtime))
        if mine and hb.scope == mine:
            held, fd = lock_held(spool, hb.id)
            if fd >= 0:
                os.close(fd)
            state.locked = held
        out.append(state)
    out.sort(key=lambda r: (r.beat.host, r.beat.pid))
    return out
