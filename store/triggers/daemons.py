"""Which trigger daemons are alive: each beats a file of its own in triggers/.state/.

`coreflow triggers run` (serve's too) touches triggers/.state/daemon.PID.RAND.HOST.beat every
BEAT seconds and removes it when it stops. The file is empty: its mtime is the beat and
its name says whose (RAND: two PID namespaces of one host may both have pid 1). `doctor` and `triggers ls` say when none has beaten lately: then
schedules, watches and git triggers wait (what they miss fires once when one starts).
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..errors import SpoolError, StorageError
from ..spool import Spool

BEAT = 10.0  # seconds between a daemon's beats
STALE = 3 * BEAT  # a daemon silent this long is not running (killed, frozen, its host down)
FORGET = 86400.0  # a dead daemon's file is removed by the next daemon after a day
BEAT_RE = re.compile(r"daemon\.(?P<pid>\d+)\.(?P<rand>[0-9a-f]{8})\.(?P<host>[^/]+)\.beat")


@dataclass(frozen=True)
class Daemon:
    host: str
    pid: int
    age: float  # seconds since its last beat, by the filesystem's clock
    file: str

    @property
    def alive(self) -> bool:
        return self.age < STALE

    def describe(self) -> str:
        return f"on {self.host} (pid {self.pid})"


def beat_file(spool: Spool) -> Path:
    """A beat file for this process."""
    host = socket.gethostname() or "host"
    return spool.layout.trigger_state / f"daemon.{os.getpid()}.{os.urandom(4).hex()}.{host}.beat"


def beat(path: Path) -> None:
    """Touch the beat file (made if missing; never through a symlink). Raises StorageError."""
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        try:
            os.utime(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot write the trigger daemon's beat {path.name}") from exc


def daemons(spool: Spool) -> list[Daemon]:
    """Every trigger daemon with a beat file, the freshest first."""
    try:
        now = atomic.fs_now(spool.layout.tmp)
    except SpoolError:
        now = time.time()  # a read-only spool: this host's clock stands in
    out = []
    try:
        entries = list(os.scandir(spool.layout.trigger_state))
    except OSError:
        return []
    for e in entries:
        m = BEAT_RE.fullmatch(e.name)
        if m is None or not e.is_file(follow_symlinks=False):
            continue
        try:
            age = max(0.0, now - e.stat(follow_symlinks=False).st_mtime)
        except OSError:
            continue
        out.append(Daemon(m["host"], int(m["pid"]), age, e.name))
    return sorted(out, key=lambda d: d.age)


def forget_dead(spool: Spool) -> None:
    """Remove the beat files of daemons silent for over a day."""
    for d in daemons(spool):
        if d.age > FORGET:
            atomic.unlink_quietly(spool.layout.trigger_state / d.file)
