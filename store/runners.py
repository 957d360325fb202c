"""Runner heartbeats: who is alive, what they serve, judged by filesystem time.

A heartbeat is `runners/ID.json`, rewritten every few seconds; its mtime is the beat.
Hosts' clocks may disagree, so age is measured against the filesystem's own clock
(the mtime of a file we just wrote), never this host's wall clock.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass

from . import atomic
from .errors import CorruptJob
from .model import Heartbeat, decode, encode
from .spool import Spool, _scan

RUNNER_FILE_RE = re.compile(r"(?P<id>[a-z0-9][a-z0-9._-]{0,80})\.json")


@dataclass(slots=True)
class RunnerState:
    beat: Heartbeat
    age: float  # seconds since its last beat, by the filesystem's clock

    @property
    def lost(self) -> bool:
        if self.beat.host == socket.gethostname() and not _pid_alive(self.beat.pid):
            return True  # on this host we need not wait for the lease: the pid is gone
        return self.age > self.beat.lease

    def serves(self, queue: str) -> bool:
        return queue in self.beat.queues


def new_runner_id() -> str:
    host = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.") or "host"
    return f"{host[:40]}-{os.getpid()}-{os.urandom(2).hex()}"


def fs_now(spool: Spool) -> float:
    """The filesystem's idea of now: the mtime of a file we just created."""
    path = atomic.stage(spool.layout.tmp, b"", "clock")
    try:
        return os.stat(path).st_mtime
    finally:
        os.unlink(path)


def clock_offset(spool: Spool) -> float:
    """Filesystem clock minus this host's clock, in seconds."""
    before = time.time()
    fs = fs_now(spool)
    return fs - (before + time.time()) / 2


def beat(spool: Spool, hb: Heartbeat) -> None:
    atomic.publish(spool.layout.tmp, spool.layout.runner(hb.id), encode(hb), sync_dir=False)


def remove(spool: Spool, runner_id: str) -> None:
    try:
        os.unlink(spool.layout.runner(runner_id))
    except FileNotFoundError:
        pass


def runners(spool: Spool, now: float | None = None) -> list[RunnerState]:
    """Every runner with a heartbeat file, live or lost, sorted by host and pid."""
    d = spool.layout.runners
    entries = [e for e in _scan(d) if RUNNER_FILE_RE.fullmatch(e.name)]
    if not entries:
        return []
    now = fs_now(spool) if now is None else now
    out = []
    for e in entries:
        path = d / e.name
        try:
            st = os.lstat(path)
            with open(path, "rb") as f:
                hb = decode(f.read(65536), Heartbeat, f"heartbeat {e.name}")
        except FileNotFoundError:
            continue
        except CorruptJob as exc:
            spool.quarantine(path, str(exc))
            continue
        out.append(RunnerState(hb, max(0.0, now - st.st_mtime)))
    out.sort(key=lambda r: (r.beat.host, r.beat.pid))
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
