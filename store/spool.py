"""A spool on disk: opening, queues, listing and reading jobs.

State changes live in the `store.jobs` package and `claims.py`; this module only reads, plus the queue edits
that touch nothing but `queue.json`.
"""

from __future__ import annotations

import bisect
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

# auditlog, lookup, permissions, quarantine, queue_admin, results: imported where used (a submit needs none).
from . import atomic, safeio
from .errors import (ConfigError, CorruptJob, FileUnreadable, FormatError, JobNotFound, QueueExists, QueueNotFound,
                     SpoolNotFound, StorageError, UnsafeFile)
from .paths import Layout
from .layout import (DEFAULT_QUEUE, CANCEL_RE, DONE_RE, FORMAT, RUNNING_RE, PendingName, cancel_name,
                     sorted_pending)
from .limits import MAX_META_BYTES, check_queue_config
from .listing import list_names, scan_dir
from .locks import DEFAULT_TIMEOUT, locked
from .model import Audit, Job, QueueConfig, Result, SpoolMeta, actor, decode, decode_job, encode
from .names import NAME_RE, check_name
from .refs import JobRef, JobView, QueueInfo
from .states import ALL, FINAL, LIVE, WAITING, State

if TYPE_CHECKING:
    from . import results

TMP_CLEAN_EVERY = 3600.0  # seconds between a runner's sweeps of tmp/ (files go after 36 h)


class Spool:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.layout = Layout(self.root)
        self._cache: dict[str, tuple[int, int, Job]] = {}
        self.lock_timeout = DEFAULT_TIMEOUT
        self._tmp_cleaned_at = -TMP_CLEAN_EVERY
        self._results: results.ResultIndex | None = None

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Spool:
        spool = cls(root)
        try:
            data = safeio.read_file(spool.layout.meta, MAX_META_BYTES)
        except FileNotFoundError:
            raise SpoolNotFound(
                f"no spool at {spool.root}: run `coreflow init` (or pass --spool / set COREFLOW_SPOOL)"
            ) from None
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot read the spool at {spool.root}") from exc
        meta = decode(data, SpoolMeta, f"{spool.layout.meta}")
        if meta.format != FORMAT:
            raise FormatError(
                f"spool {spool.root} is format {meta.format}; this coreflow reads format {FORMAT}: "
                "upgrade coreflow"
            )
        return spool

    @classmethod
    def init(cls, root: str | os.PathLike[str]) -> Spool:
        """Create a spool (with the `default` queue) or check an existing one. Idempotent."""
        spool = cls(root)
        lay = spool.layout
        try:
            lay.root.mkdir(parents=True, exist_ok=True, mode=0o755)
            for d in lay.top_dirs():
                d.mkdir(exist_ok=True, mode=0o755)
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot create a spool at {spool.root}") from exc
        meta = SpoolMeta(format=FORMAT, created_at=time.time(), created_by=actor())
        atomic.publish_new(lay.tmp, lay.meta, encode(meta))
        spool = cls.open(root)
        if DEFAULT_QUEUE not in spool.queue_names():
            try:
                spool.add_queue(DEFAULT_QUEUE)
            except QueueExists:
                pass
        return spool

    # -- locks ---------------------------------------------------------------------

    @contextmanager
    def lock(self, queue: str) -> Iterator[None]:
        with locked(self.layout.queue_lock(queue), f"queue {queue}", self.lock_timeout):
            yield

    # -- queues --------------------------------------------------------------------

    def queue_names(self) -> list[str]:
        try:
            entries = list(os.scandir(self.layout.queues))
        except FileNotFoundError:
            return []
        names = []
        for e in entries:
            # A symlinked queue directory could lead outside the spool: never followed.
            if e.is_dir(follow_symlinks=False) and NAME_RE.fullmatch(e.name):
                names.append(e.name)
        return sorted(names)

    def check_queue(self, name: str) -> str:
        check_name(name, "queue name")
        path = self.layout.queue(name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            known = ", ".join(self.queue_names()) or "none"
            raise QueueNotFound(
                f"no queue {name!r} in {self.root} (queues: {known}); add it with `coreflow queue add {name}`"
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise QueueNotFound(f"queue {name!r} is not a directory (a symlink?) and is ignored")
        return name

    def queue_config(self, name: str) -> QueueConfig:
        """The queue's settings; defaults if queue.json is missing or invalid (a broken
        queue.json must not stop the queue: `doctor` names the file and the value)."""
        try:
            return self.read_queue_config(name)
        except ConfigError:
            return QueueConfig()

    def read_queue_config(self, name: str) -> QueueConfig:
        """The queue's settings, each value checked; ConfigError names the file and value."""
        self.check_queue(name)
        path = self.layout.queue_meta(name)
        where = f"queues/{name}/queue.json"
        try:
            data = safeio.read_file(path, MAX_META_BYTES, where)
        except FileNotFoundError:
            return QueueConfig()
        except UnsafeFile as exc:
            raise ConfigError(str(exc)) from None
        return QueueConfig(**check_queue_config(data, where))

    def add_queue(self, name: str, slots: int = 4, description: str = "") -> None:
        """Create a queue whole or not at all (see queue_admin.add_queue)."""
        from . import queue_admin
        return queue_admin.add_queue(self, name, slots, description)

    def update_queue(self, name: str, action: str, **changes: object) -> QueueConfig:
        """Change queue.json fields under the lock, and record who did it (queue_admin)."""
        from . import queue_admin
        return queue_admin.update_queue(self, name, action, **changes)

    def remove_queue(self, name: str, force: bool = False) -> int:
        """Remove a queue and its jobs; returns how many jobs went (see queue_admin.remove_queue)."""
        from . import queue_admin
        return queue_admin.remove_queue(self, name, force)

    def queue_info(self, name: str) -> QueueInfo:
        pend = self.pending(name)
        held = sum(1 for p in pend if p.held)
        return QueueInfo(name, self.queue_config(name), len(pend) - held, held, len(self.running_ids(name)))

    def queues(self) -> list[QueueInfo]:
        return [self.queue_info(q) for q in self.queue_names()]

    # -- listing (names only, no decoding) -----------------------------------------

    def pending(self, queue: str) -> list[PendingName]:
        """Pending and held jobs of a queue in run order, from file names alone."""
        return sorted_pending(list_names(self.layout.pending(queue)))

    def running_ids(self, queue: str) -> list[str]:
        return [r.id for r in self.running_refs(queue)]

    def running_refs(self, queue: str) -> list[JobRef]:
        """Running jobs of a queue by id; each file's name says which runner holds it."""
        d = self.layout.running(queue)
        found = sorted((m["id"], e.name) for e in scan_dir(d) if (m := RUNNING_RE.fullmatch(e.name)))
        return [JobRef(i, queue, State.RUNNING, f"{d}/{name}") for i, name in found]

    def cancel_requested(self, queue: str, job_id: str) -> bool:
        return self.layout.running(queue).joinpath(cancel_name(job_id)).exists()

    def cancel_requests(self, queue: str) -> set[str]:
        return {m["id"] for e in scan_dir(self.layout.running(queue)) if (m := CANCEL_RE.fullmatch(e.name))}

    def done_refs(self, queue: str, last: int | None = None) -> list[JobRef]:
        """Finished jobs of a queue, oldest first (by finish stamp); only the `last` ones
        if given (refs are made only for those: history reads a few of 100,000)."""
        d = self.layout.done(queue)
        names = sorted(n for n in list_names(d) if DONE_RE.fullmatch(n))
        out = []
        for n in names[-last:] if last else names:
            m = DONE_RE.fullmatch(n)
            assert m is not None
            out.append(JobRef(m["id"], queue, m["st"], f"{d}/{n}"))
        return out

    def every_ref(self) -> dict[str, JobRef]:
        """Every job by id, from names alone (one listing of each state directory)."""
        return {r.id: r for q in self.queue_names() for r in self.refs(q, ALL)}

    def refs(self, queue: str, states: frozenset[str] | set[str]) -> list[JobRef]:
        """Jobs of one queue in the given states: running first, then run order, then done."""
        out: list[JobRef] = []
        if State.RUNNING in states:
            out += self.running_refs(queue)
        if states & WAITING:
            d = self.layout.pending(queue)
            out += [JobRef(p.id, queue, p.state, f"{d}/{p.name}", p) for p in self.pending(queue) if p.state in states]
        if states & FINAL:
            out += [r for r in self.done_refs(queue) if r.state in states]
        return out

    def find(self, ref: str) -> JobRef:
        """Find a job by id, or by a unique prefix or suffix of at least 4 characters."""
        from . import lookup
        return lookup.find(self, ref)

    def pending_ref(self, queue: str, p: PendingName) -> JobRef:
        """The ref of one entry of `pending(queue)`, for callers that keep the names only."""
        return JobRef(p.id, queue, p.state, f"{self.layout.pending(queue)}/{p.name}", p)

    def refresh(self, r: JobRef) -> JobRef:
        """Where is this job now? (It may have moved since it was found.)"""
        return self.find(r.id)

    # -- reading -------------------------------------------------------------------

    def read(self, r: JobRef, cache: bool = True) -> Job:
        """Decode a job file (cached: files are immutable, so (mtime, size) identifies one).

        `cache=False` still uses a cached copy but does not keep a new one: for one-off
        sweeps over a big queue (the TUI's filter) that would otherwise fill memory.

        A file that cannot be decoded is moved to corrupt/ and CorruptJob raised.
        """
        try:
            st = os.lstat(r.file)
        except FileNotFoundError:
            raise JobNotFound(f"job {r.id} ({r.queue}/{r.state}) is gone (it just changed)") from None
        hit = self._cache.get(r.id)
        if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        job, _ = self.load(r.file, r.id, r.queue, r.state, st)
        if cache:
            self._cache[r.id] = (st.st_mtime_ns, st.st_size, job)
        return job

    def load(self, path: str | Path, job_id: str, queue: str, state: str, st: os.stat_result | None = None,
             refuse_world_writable: bool = False) -> tuple[Job, bytes]:
        """Read and decode one job file, uncached; returns the job and the file's bytes
        (a rewrite keeps the fields a newer version added). A file that cannot be a job
        of ours is moved to corrupt/ and CorruptJob raised; `refuse_world_writable` adds
        one more such reason (a runner about to run it: anyone could have changed it)."""
        what = f"job {job_id} ({queue}/{state})"
        try:
            if refuse_world_writable and (os.lstat(path) if st is None else st).st_mode & stat.S_IWOTH:
                raise CorruptJob(f"{what} is world-writable: anyone could have changed its command")
            data = safeio.read_job(path)  # safeio: a regular file, not a link, at most MAX_JOB_BYTES
            job = decode_job(data, what)
            if job.id != job_id:
                raise CorruptJob(f"{what} holds job {job.id!r}, not {job_id}")
        except FileNotFoundError:
            raise JobNotFound(f"{what} is gone (it just changed)") from None
        except (CorruptJob, FileUnreadable) as exc:  # unreadable: another user's private file
            problem = str(exc)
        else:
            if job.queue != queue:
                # The directory is the truth: a crash between a move's rename and its
                # rewrite leaves the old queue in the file.
                job = msgspec.structs.replace(job, queue=queue)
            if job.result is None and state in FINAL:  # group commit: the result may not be folded in yet
                from .results import with_journaled_result

                job = with_journaled_result(self.journaled_result(job.id, job.attempt), path, job, what)
            return job, data
        self.quarantine(Path(path), problem)
        raise CorruptJob(f"{problem}; moved to corrupt/")

    def journaled_result(self, job_id: str, attempt: int) -> Result | None:
        """A finished job's result still in its runner's results journal (store/results.py)."""
        from .results import ResultIndex  # here: a submit reads no results

        self._results = self._results or ResultIndex(self.layout.runners)
        return self._results.lookup(job_id, attempt)

    def view(self, r: JobRef, position: int | None = None) -> JobView:
        return JobView(self.read(r), r.queue, r.state, position, r)

    def jobs(self, queue: str | None = None, states: set[str] | frozenset[str] = LIVE
             ) -> tuple[list[JobView], list[str]]:
        """Decoded jobs (running, then run order, then finished) and warnings about bad files."""
        warnings: list[str] = []
        return list(self.iter_jobs(queue, states, warnings.append, cache=True)), warnings

    def iter_jobs(self, queue: str | None = None, states: set[str] | frozenset[str] = LIVE,
                  warn: Callable[[str], None] | None = None,
            cache: bool = False) -> Iterator[JobView]:
        """jobs(), one at a time and (by default) uncached: a listing of 50,000 jobs holds
        one in memory at a time. Each bad file found is passed to `warn`."""
        for q in [self.check_queue(queue)] if queue else self.queue_names():
            position = 0
            for r in self.refs(q, states | (WAITING if states & WAITING else set())):
                pos = None
                if r.pending is not None:
                    position += 1
                    pos = position
                    if r.state not in states:
                        continue
                try:
                    job = self.read(r) if cache else self.load(r.file, r.id, r.queue, r.state)[0]
                except CorruptJob as exc:
                    if warn is not None:
                        warn(str(exc))
                    continue
                except JobNotFound:
                    continue
                yield JobView(job, r.queue, r.state, pos, r)

    def show(self, ref: str) -> JobView:
        """One job as it is now. Its file may move on (pending -> running -> done) between
        the look-up and the read: then it is looked up again, where it went."""
        r = self.find(ref)
        for _ in range(4):
            try:
                return self.view(r, self.position(r))
            except JobNotFound:
                r = self.find(r.id)
        return self.view(r, self.position(r))

    def position(self, r: JobRef) -> int | None:
        """A waiting job's place in its queue's run order (1 runs next)."""
        if r.pending is None:
            return None
        order = self.pending(r.queue)
        i = bisect.bisect_left(order, r.pending.name, key=attrgetter("name"))
        return i + 1 if i < len(order) and order[i].name == r.pending.name else None

    # -- audit ---------------------------------------------------------------------

    def record(self, job_id: str, action: str, detail: str = "", who: str | None = None) -> None:
        from . import auditlog
        auditlog.record_job(self.layout.job_audit(job_id), job_id, action, detail, who)

    def record_queue(self, queue: str, action: str, detail: str = "") -> None:
        from . import auditlog
        auditlog.append(self.layout.queue_audit(queue), action, detail)

    def audit(self, job_id: str) -> list[Audit]:
        from . import auditlog
        return auditlog.read(self.layout.job_audit(job_id), self.owner())

    def queue_audit(self, queue: str) -> list[Audit]:
        from . import auditlog
        return auditlog.read(self.layout.queue_audit(queue), self.owner())

    def owner(self) -> int:
        """The uid that owns the spool (its top directory)."""
        try:
            return os.stat(self.root).st_uid
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot read the spool at {self.root}") from exc

    # -- corrupt files ---------------------------------------------------------------

    def quarantine(self, path: Path, reason: str) -> Path | None:
        """Move a file that cannot be ours to corrupt/ (see quarantine.quarantine)."""
        from . import quarantine
        return quarantine.quarantine(self, path, reason)

    def read_log(self, job_id: str, offset: int, limit: int = 1 << 20, tail: bool = False) -> tuple[bytes, int]:
        """Bytes of a job's log from `offset` (at most `limit`) and the offset after them;
        with `tail`, a read from 0 of a longer log starts at its last `limit` bytes. A
        job that has printed nothing has no log file: no bytes."""
        try:
            return safeio.read_range(self.layout.log(job_id), offset, limit, tail, f"the log of job {job_id}")
        except FileNotFoundError:
            return b"", offset

    def world_writable(self, queues: list[str] | None = None) -> list[str]:
        """Directories others may write where they must not (see permissions.world_writable)."""
        from . import permissions
        return permissions.world_writable(self, queues)

    def clean_tmp(self, every: float = TMP_CLEAN_EVERY) -> int:
        """Housekeeping for long-lived processes (the runner calls it at each beat):
        atomic.clean_tmp, at most once per `every` seconds of this process."""
        now = time.monotonic()
        if now - self._tmp_cleaned_at < every:
            return 0
        self._tmp_cleaned_at = now
        return atomic.clean_tmp(self.layout.tmp)

    def corrupt_files(self) -> list[Path]:
        from . import quarantine
        return quarantine.corrupt_files(self)
