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

import msgspec

from . import atomic
from .errors import CorruptJob, StorageError
from .model import Claim, Heartbeat, decode, encode
from .spool import Spool, _scan

RUNNER_FILE_RE = re.compile(r"(?P<id>[a-z0-9][a-z0-9._-]{0,80})\.json")
CLAIMS_FILE_RE = re.compile(r"(?P<id>[a-z0-9][a-z0-9._-]{0,80})\.claims")
JOURNAL_MAX = 256 << 10  # bytes; past this the journal is rewritten with its live claims only

_Entry = tuple[str, int, Claim]  # job id, attempt, claim


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
    """The filesystem's idea of now: the mtime of a file we just created (no fsync:
    nothing is kept)."""
    path = atomic.tmp_name(spool.layout.tmp, "clock")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot read the filesystem's clock (a file in tmp/)") from exc
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        atomic.unlink_quietly(path)


def clock_offset(spool: Spool) -> float:
    """Filesystem clock minus this host's clock, in seconds."""
    before = time.time()
    fs = fs_now(spool)
    return fs - (before + time.time()) / 2


def beat(spool: Spool, hb: Heartbeat) -> None:
    atomic.publish(spool.layout.tmp, spool.layout.runner(hb.id), encode(hb), sync_dir=False)


def remove(spool: Spool, runner_id: str) -> None:
    """Remove a runner's heartbeat and its claims journal (it is gone, and so are its jobs)."""
    try:
        atomic.unlink_quietly(spool.layout.runner(runner_id))
        atomic.unlink_quietly(spool.layout.runner_claims(runner_id))
    except OSError as exc:  # another user's runner in a shared, sticky runners/
        raise StorageError.wrap(exc, f"cannot remove the files of runner {runner_id}") from exc


def runners(spool: Spool, now: float | None = None) -> list[RunnerState]:
    """Every runner with a heartbeat file, live or lost, sorted by host and pid."""
    d = spool.layout.runners
    entries = [e for e in _scan(d) if RUNNER_FILE_RE.fullmatch(e.name)]
    if not entries:
        return []
    if now is None:
        try:
            now = fs_now(spool)
        except StorageError:
            now = time.time()  # a read-only spool: this host's clock stands in for its
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


class ClaimsJournal:
    """A runner's claims, appended to runners/RUNNERID.claims before each claim's rename.

    The claim is written into the job's own file only once the job has run a moment
    (see store.claims), so this is what names the runner of a running file without
    one: if that runner dies, others know the job was its, and where it came from.
    One write per claim, no fsync: after a power cut a running file may be named by
    nobody, and then it waits a whole lease.
    """

    def __init__(self, spool: Spool, runner_id: str) -> None:
        self.spool = spool
        self.path = spool.layout.runner_claims(runner_id)
        self.fd = -1
        self.size = 0
        self.live: dict[str, bytes] = {}  # job id -> its line, while the job is ours

    def add(self, job_id: str, attempt: int, claim: Claim) -> None:
        line = encode((job_id, attempt, claim)) + b"\n"
        try:
            if self.fd < 0 or self.size + len(line) > JOURNAL_MAX:
                self._rotate()
            os.write(self.fd, line)
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot write the runner's claims journal {self.path}") from exc
        self.size += len(line)
        self.live[job_id] = line

    def drop(self, job_id: str) -> None:
        """The job is no longer ours (finished, given back, or the claim's rename failed)."""
        self.live.pop(job_id, None)

    def _rotate(self) -> None:
        """Start a fresh journal holding only the live claims (atomically replaced)."""
        data = b"".join(self.live.values())
        atomic.publish(self.spool.layout.tmp, self.path, data, sync_dir=False)
        self.close()
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.size = len(data)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def journaled_claims(spool: Spool) -> dict[tuple[str, int], Claim]:
    """Every runner's journaled claims, by (job id, attempt). Torn lines are skipped."""
    d = spool.layout.runners
    out: dict[tuple[str, int], Claim] = {}
    for e in _scan(d):
        if not CLAIMS_FILE_RE.fullmatch(e.name):
            continue
        try:
            with open(d / e.name, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                job_id, attempt, claim = msgspec.json.decode(line, type=_Entry)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            out[(job_id, attempt)] = claim
    return out
