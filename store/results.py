"""Results journals: runners/RUNNERID.results, where a runner group-commits the results
of the jobs it ran, and where every reader finds a result not yet folded into its job's
done file (see layout.py, "Results").

A line is one JSON array: [job id, queue, attempt, result]. The runner appends a line
when a job's process ends, flushes (fdatasync) once for a batch of lines, and only then
renames the batch's running files to done/, unchanged; later, off the hot path, it
writes each result into its done file (the fold) and empties the journal.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import msgspec

from . import atomic, safeio
from .errors import StorageError, UnsafeFile
from .layout import RUNNER_ID, done_name
from .listing import scan_dir
from .errors import CorruptJob, FileUnreadable
from .model import Job, Result, decode_job, encode

RESULTS_FILE_RE = re.compile(r"(?P<id>%s)\.results" % RUNNER_ID)
RESULTS_READ_MAX = 64 << 20  # bytes: a journal is folded long before this

Key = tuple[str, int]  # job id, attempt
_Line = tuple[str, str, int, Result]  # job id, queue, attempt, result


class Entry(msgspec.Struct, frozen=True):
    """One journaled result, and where its job's done file is once published."""

    job_id: str
    queue: str
    attempt: int
    result: Result

    def done_file(self, layout_done: Path | str) -> str:
        return f"{layout_done}/{done_name(self.job_id, self.result.state, self.result.finished_at)}"


def encode_line(e: Entry) -> bytes:
    return encode((e.job_id, e.queue, e.attempt, e.result)) + b"\n"


def decode_lines(data: bytes) -> list[Entry]:
    """The entries of a journal's bytes; a torn last line (a crash mid-append) is skipped."""
    out = []
    for line in data.splitlines():
        try:
            job_id, queue, attempt, result = msgspec.json.decode(line, type=_Line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        out.append(Entry(job_id, queue, attempt, result))
    return out


class ResultsJournal:
    """One runner's results journal (the writer). `add` runs on the runner's loop;
    `flush` may run on another thread: it makes durable every line added before it."""

    def __init__(self, path: Path, tmp: Path) -> None:
        self.path = path
        self.tmp = tmp
        self.fd = -1
        self.added = 0  # lines added so far (a sequence number)
        self.durable = 0  # lines known to be on disk
        self.replaced = False  # the file was removed or replaced under us (folded by another runner)
        self._created = False  # made since the last flush: its directory entry needs flushing too
        self._lock = threading.Lock()  # appends and the descriptor
        self._flushing = threading.Lock()  # a flush against a rewrite (never held by add)

    def add(self, entry: Entry) -> int:
        """Append a line (no flush); returns its sequence number."""
        line = encode_line(entry)
        with self._lock:
            try:
                if self.fd < 0:
                    self._created = self._created or not os.path.lexists(self.path)
                    self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                                      atomic.FILE_MODE)
                os.write(self.fd, line)
            except OSError as exc:
                raise StorageError.wrap(exc, f"cannot write the runner's results journal {self.path}") from exc
            self.added += 1
            return self.added

    def flush(self) -> int:
        """Make every line added so far durable (one fdatasync); returns the last one covered."""
        with self._flushing:
            with self._lock:
                upto, fd, created = self.added, self.fd, self._created
            if upto > self.durable and fd >= 0:
                try:
                    os.fdatasync(fd)
                    if created:  # a new file's lines are durable only once its name is
                        atomic.fsync_dir(self.path.parent)
                        with self._lock:
                            self._created = False  # (no new file meanwhile: that needs a rewrite, which waits for us)
                    self.replaced = self.replaced or os.fstat(fd).st_ino != _inode(self.path)
                except OSError as exc:
                    raise StorageError.wrap(exc, f"cannot flush the runner's results journal {self.path}") from exc
            self.durable = max(self.durable, upto)
            return upto

    def rewrite(self, keep: list[Entry]) -> None:
        """Replace the journal by `keep` (the lines not folded yet), atomically; an empty
        journal is removed. Called after the folded results are durable in their files."""
        with self._flushing, self._lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            if keep:  # (its name flushed too: the file may be new, if a runner took us for gone)
                atomic.publish(self.tmp, self.path, b"".join(map(encode_line, keep)))
            else:
                atomic.unlink_quietly(self.path)
            self.durable = self.added  # what it holds now was fsynced by publish
            self.replaced = False

    def close(self) -> None:
        with self._flushing, self._lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


def read_journal(path: Path) -> list[Entry]:
    try:
        return decode_lines(safeio.read_file(path, RESULTS_READ_MAX, f"results journal {path.name}"))
    except FileNotFoundError:
        return []
    except (OSError, UnsafeFile, StorageError):
        return []  # a FIFO, a link, a huge file: not a journal we wrote


def journals(runners_dir: Path) -> dict[str, Path]:
    """runner id -> its results journal."""
    return {m["id"]: runners_dir / e.name for e in scan_dir(runners_dir)
            if (m := RESULTS_FILE_RE.fullmatch(e.name))}


class ResultIndex:
    """What every results journal of a spool holds, by (job id, attempt): a reader's view,
    re-read only for journals that changed since (by inode, size and mtime)."""

    def __init__(self, runners_dir: Path) -> None:
        self.dir = runners_dir
        self._files: dict[str, tuple[tuple[int, int, int], dict[Key, Result]]] = {}
        # One look-up at a time: a runner's hook threads share it. Without this, a thread
        # whose refresh found nothing changed (another had just re-read the journal) gave
        # up, and a job that had just finished looked resultless to its finish hook.
        self._lock = threading.Lock()

    def lookup(self, job_id: str, attempt: int) -> Result | None:
        key = (job_id, attempt)
        with self._lock:
            for _pass in range(2):  # what we have, then what the journals hold now
                for _ident, entries in self._files.values():
                    hit = entries.get(key)
                    if hit is not None:
                        return hit
                if not _pass and not self.refresh():
                    return None
        return None

    def refresh(self) -> bool:
        """Re-read the journals that changed; False if none did."""
        seen: dict[str, tuple[tuple[int, int, int], dict[Key, Result]]] = {}
        changed = False
        for path in journals(self.dir).values():
            try:
                st = os.stat(path)
            except OSError:
                continue
            ident = (st.st_ino, st.st_size, st.st_mtime_ns)
            old = self._files.get(str(path))
            if old is not None and old[0] == ident:
                seen[str(path)] = old
                continue
            changed = True
            seen[str(path)] = (ident, {(e.job_id, e.attempt): e.result for e in read_journal(path)})
        changed = changed or len(seen) != len(self._files)
        self._files = seen
        return changed


def with_journaled_result(result: Result | None, path: str | Path, job: Job, what: str) -> Job:
    """A done file published before its result was folded in, with `result` (its
    journal's line). Without one the journal was folded meanwhile: read the file again."""
    if result is not None:
        return msgspec.structs.replace(job, result=result)
    try:
        again = decode_job(safeio.read_job(path), what)
    except (OSError, CorruptJob, FileUnreadable):
        return job
    return msgspec.structs.replace(job, result=again.result) if again.id == job.id else job
