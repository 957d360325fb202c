"""A spool on disk: opening, queues, listing and reading jobs.

State changes live in `changes.py`; this module only reads, plus the queue edits
that touch nothing but `queue.json`.
"""

from __future__ import annotations

import bisect
import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from . import atomic, auditlog, safeio
from .errors import (
    AmbiguousJob,
    ConfigError,
    CorruptJob,
    FileUnreadable,
    FormatError,
    JobNotFound,
    QueueExists,
    QueueNotEmpty,
    QueueNotFound,
    SpoolError,
    SpoolNotFound,
    StorageError,
    UnsafeFile,
)
from .layout import (
    CANCEL_RE,
    DONE_RE,
    FORMAT,
    RUNNING_RE,
    Layout,
    PendingName,
    cancel_name,
    parse_pending,
    sorted_pending,
)
from .limits import MAX_JOB_BYTES, MAX_META_BYTES, check_queue_config, check_slots
from .locks import DEFAULT_TIMEOUT, locked
from .model import Audit, Job, QueueConfig, SpoolMeta, actor, decode, decode_job, encode
from .names import check_name

DEFAULT_QUEUE = "default"
TMP_CLEAN_EVERY = 3600.0  # seconds between a runner's sweeps of tmp/ (files go after 36 h)


@dataclass(slots=True)
class JobRef:
    """Where a job is now: its queue, state and file. Cheap: found from names alone."""

    id: str
    queue: str
    state: str
    file: str  # its path; a str: a listing of 50,000 jobs makes no Path objects
    pending: PendingName | None = None  # the parsed name while pending or held

    @property
    def path(self) -> Path:
        return Path(self.file)


@dataclass(slots=True)
class QueueInfo:
    name: str
    config: QueueConfig
    pending: int
    held: int
    running: int


@dataclass(slots=True)
class JobView:
    """A decoded job with where it is: what `ls`, `show` and the TUI present."""

    job: Job
    queue: str
    state: str
    position: int | None  # 1-based among pending and held, in run order
    ref: JobRef


class Spool:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.layout = Layout(self.root)
        self._cache: dict[str, tuple[int, int, Job]] = {}
        self.lock_timeout = DEFAULT_TIMEOUT
        self._tmp_cleaned_at = -TMP_CLEAN_EVERY

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
            if e.is_dir(follow_symlinks=False) and _is_name(e.name):
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
        """Create a queue whole or not at all: its directories and queue.json are made in
        tmp/ and renamed into queues/ in one step (a full disk leaves nothing behind)."""
        check_name(name, "queue name")
        check_slots(slots, f"cannot add queue {name}")
        lay = self.layout
        path = lay.queue(name)
        if os.path.lexists(path):
            raise QueueExists(f"queue {name!r} already exists")
        cfg = QueueConfig(slots=slots, description=description, created_at=time.time())
        check_queue_config(encode(cfg), f"cannot add queue {name}")  # never write what a reader refuses
        staging = Path(atomic.tmp_name(lay.tmp, f"queue.{name}"))
        try:
            staging.mkdir(mode=0o755)
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot add queue {name}") from exc
        try:
            for d in ("pending", "running", "done"):
                (staging / d).mkdir(mode=0o755)
            atomic.publish(lay.tmp, staging / "queue.json", encode(cfg), sync_dir=False)
            atomic.fsync_dir(staging)
            os.rename(staging, path)  # fails if a queue of that name appeared meanwhile
        except OSError as exc:
            _remove_tree(staging)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise QueueExists(f"queue {name!r} already exists") from None
            raise StorageError.wrap(exc, f"cannot add queue {name}") from exc
        except SpoolError:
            _remove_tree(staging)
            raise
        atomic.fsync_dir(lay.queues)

    def update_queue(self, name: str, action: str, **changes: object) -> QueueConfig:
        """Change queue.json fields under the lock, and record who did it."""
        self.check_queue(name)
        if "slots" in changes:
            check_slots(changes["slots"], f"cannot set slots of queue {name}")
        with self.lock(name):
            cfg = msgspec.structs.replace(self.queue_config(name), **changes)
            # A queue.json a reader refuses means defaults, so a paused queue would run: never write one.
            check_queue_config(encode(cfg), f"cannot change queue {name}")
            atomic.publish(self.layout.tmp, self.layout.queue_meta(name), encode(cfg))
            detail = " ".join(f"{k}={v}" for k, v in changes.items())
            self.record_queue(name, action, detail)
        return cfg

    def remove_queue(self, name: str, force: bool = False) -> int:
        """Remove a queue and every job file in it; returns how many jobs went with it.

        Refuses a queue with pending, held or finished jobs unless forced, and always refuses
        one with running jobs (a runner is writing their results).
        """
        self.check_queue(name)
        if name == DEFAULT_QUEUE:
            raise SpoolError("the default queue cannot be removed")
        lay = self.layout
        removed = 0
        with self.lock(name):
            # Checked under the lock: a job submitted meanwhile is never removed unasked.
            info = self.queue_info(name)
            live = info.pending + info.held + info.running
            if info.running and force:
                raise QueueNotEmpty(
                    f"queue {name} has {info.running} running job(s): cancel them and wait, then remove it"
                )
            if live and not force:
                raise QueueNotEmpty(
                    f"queue {name} has {live} pending/held/running job(s): move or cancel them, or use --force"
                )
            finished = 0 if force else len(self.done_refs(name))
            if finished:  # their results and logs are the queue's history: not lost unasked
                raise QueueNotEmpty(
                    f"queue {name} has {finished} finished job(s): prune them, or use --force to remove them too"
                )
            # Rename the whole queue aside first: one atomic step, then delete at leisure.
            grave = lay.tmp / f"removed-queue.{name}.{os.getpid()}.{time.time_ns()}"
            try:
                os.rename(lay.queue(name), grave)
            except OSError as exc:
                raise StorageError.wrap(exc, f"cannot remove queue {name}") from exc
        # Every entry goes, dot files too (.lock, NFS's .nfsXXXX): else rmdir fails.
        try:
            for sub in ("pending", "running", "done"):
                d = grave / sub
                for entry in _names(d):
                    if sub == "pending" and parse_pending(entry) or sub == "running" and RUNNING_RE.fullmatch(entry) \
                            or sub == "done" and DONE_RE.fullmatch(entry):
                        removed += 1
                    os.unlink(d / entry)
                if d.exists():
                    d.rmdir()
            for entry in _names(grave):
                os.unlink(grave / entry)
            grave.rmdir()
        except OSError as exc:
            raise StorageError.wrap(exc, f"removed queue {name} but not all of its files (left in tmp/)") from exc
        atomic.fsync_dir(lay.queues)
        return removed

    def queue_info(self, name: str) -> QueueInfo:
        pend = self.pending(name)
        held = sum(1 for p in pend if p.held)
        return QueueInfo(name, self.queue_config(name), len(pend) - held, held, len(self.running_ids(name)))

    def queues(self) -> list[QueueInfo]:
        return [self.queue_info(q) for q in self.queue_names()]

    # -- listing (names only, no decoding) -----------------------------------------

    def pending(self, queue: str) -> list[PendingName]:
        """Pending and held jobs of a queue in run order, from file names alone."""
        return sorted_pending(_names(self.layout.pending(queue)))

    def running_ids(self, queue: str) -> list[str]:
        return [r.id for r in self.running_refs(queue)]

    def running_refs(self, queue: str) -> list[JobRef]:
        """Running jobs of a queue by id; each file's name says which runner holds it."""
        d = self.layout.running(queue)
        found = sorted((m["id"], e.name) for e in _scan(d) if (m := RUNNING_RE.fullmatch(e.name)))
        return [JobRef(i, queue, "running", f"{d}/{name}") for i, name in found]

    def cancel_requested(self, queue: str, job_id: str) -> bool:
        return self.layout.running(queue).joinpath(cancel_name(job_id)).exists()

    def cancel_requests(self, queue: str) -> set[str]:
        return {m["id"] for e in _scan(self.layout.running(queue)) if (m := CANCEL_RE.fullmatch(e.name))}

    def done_refs(self, queue: str, last: int | None = None) -> list[JobRef]:
        """Finished jobs of a queue, oldest first (by finish stamp); only the `last` ones
        if given (refs are made only for those: history reads a few of 100,000)."""
        d = self.layout.done(queue)
        names = sorted(n for n in _names(d) if DONE_RE.fullmatch(n))
        out = []
        for n in names[-last:] if last else names:
            m = DONE_RE.fullmatch(n)
            assert m is not None
            out.append(JobRef(m["id"], queue, m["st"], f"{d}/{n}"))
        return out

    def refs(self, queue: str, states: frozenset[str] | set[str]) -> list[JobRef]:
        """Jobs of one queue in the given states: running first, then run order, then done."""
        out: list[JobRef] = []
        if "running" in states:
            out += self.running_refs(queue)
        if states & {"pending", "held"}:
            d = self.layout.pending(queue)
            out += [JobRef(p.id, queue, p.state, f"{d}/{p.name}", p) for p in self.pending(queue) if p.state in states]
        if states & {"succeeded", "failed", "cancelled"}:
            out += [r for r in self.done_refs(queue) if r.state in states]
        return out

    def find(self, ref: str) -> JobRef:
        """Find a job by id, or by a unique prefix or suffix of at least 4 characters."""
        ref = ref.strip().lower()
        if len(ref) < 4 or not ref.isalnum():
            raise JobNotFound(f"no job {ref!r}: give a job id (or at least 4 of its characters)")
        hits: dict[str, JobRef] = {}
        for r in self._refs_containing(ref):
            if r.id == ref:
                return r
            if r.id.startswith(ref) or r.id.endswith(ref):
                hits[r.id] = r
        if len(hits) == 1:
            return next(iter(hits.values()))
        if not hits:
            raise JobNotFound(f"no job {ref} in {self.root}")
        some = ", ".join(sorted(hits)[:3])
        raise AmbiguousJob(f"{ref} matches {len(hits)} jobs ({some}, ...): give more of the id")

    def _refs_containing(self, text: str) -> Iterator[JobRef]:
        """Jobs whose file names contain `text`, running first, found by names alone: a
        100,000-job queue costs one listing, not 100,000 refs."""
        lay = self.layout
        for q in self.queue_names():
            for name in _containing(_names(lay.running(q)), text):
                if m := RUNNING_RE.fullmatch(name):
                    yield JobRef(m["id"], q, "running", f"{lay.running(q)}/{name}")
            for name in _containing(_names(lay.pending(q)), text):
                if (p := parse_pending(name)) is not None:
                    yield self.pending_ref(q, p)
            for name in _containing(_names(lay.done(q)), text):
                if m := DONE_RE.fullmatch(name):
                    yield JobRef(m["id"], q, m["st"], f"{lay.done(q)}/{name}")

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
            data = _read_nofollow(path)  # safeio: a regular file, not a link, at most MAX_JOB_BYTES
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
            return job, data
        self.quarantine(Path(path), problem)
        raise CorruptJob(f"{problem}; moved to corrupt/")

    def view(self, r: JobRef, position: int | None = None) -> JobView:
        return JobView(self.read(r), r.queue, r.state, position, r)

    def jobs(self, queue: str | None = None, states: set[str] | frozenset[str] = frozenset(
            {"pending", "held", "running"})) -> tuple[list[JobView], list[str]]:
        """Decoded jobs (running, then run order, then finished) and warnings about bad files."""
        warnings: list[str] = []
        return list(self.iter_jobs(queue, states, warnings.append, cache=True)), warnings

    def iter_jobs(self, queue: str | None = None, states: set[str] | frozenset[str] = frozenset(
            {"pending", "held", "running"}), warn: Callable[[str], None] | None = None,
            cache: bool = False) -> Iterator[JobView]:
        """jobs(), one at a time and (by default) uncached: a listing of 50,000 jobs holds
        one in memory at a time. Each bad file found is passed to `warn`."""
        for q in [self.check_queue(queue)] if queue else self.queue_names():
            position = 0
            for r in self.refs(q, states | ({"pending", "held"} if states & {"pending", "held"} else set())):
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
        r = self.find(ref)
        pos = None
        if r.pending is not None:
            order = self.pending(r.queue)
            i = bisect.bisect_left(order, r.pending.name, key=_name)
            pos = i + 1 if i < len(order) and order[i].name == r.pending.name else None
        return self.view(r, pos)

    # -- audit ---------------------------------------------------------------------

    def record(self, job_id: str, action: str, detail: str = "", who: str | None = None) -> None:
        entry = Audit(at=time.time(), actor=who or actor(), action=action, detail=detail)
        try:
            atomic.append_line(self.layout.job_audit(job_id), encode(entry))
        except (StorageError, UnsafeFile) as exc:
            # Called after the commit: say the change happened, so nobody repeats it.
            raise StorageError(f"{action} of job {job_id} done, but not recorded in its audit trail: {exc}") from None

    def record_queue(self, queue: str, action: str, detail: str = "") -> None:
        entry = Audit(at=time.time(), actor=actor(), action=action, detail=detail)
        atomic.append_line(self.layout.queue_audit(queue), encode(entry))

    def audit(self, job_id: str) -> list[Audit]:
        return auditlog.read(self.layout.job_audit(job_id), self.owner())

    def queue_audit(self, queue: str) -> list[Audit]:
        return auditlog.read(self.layout.queue_audit(queue), self.owner())

    def owner(self) -> int:
        """The uid that owns the spool (its top directory)."""
        try:
            return os.stat(self.root).st_uid
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot read the spool at {self.root}") from exc

    # -- corrupt files ---------------------------------------------------------------

    def quarantine(self, path: Path, reason: str) -> Path | None:
        """Move an undecodable file to corrupt/ with a note beside it; None if it vanished."""
        lay = self.layout
        rel = path.relative_to(self.root) if path.is_relative_to(self.root) else Path(path.name)
        stem = ".".join(rel.parts).lstrip(".")[:150]
        dest = lay.corrupt / f"{stem}.{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.{os.urandom(3).hex()}"
        try:
            lay.corrupt.mkdir(exist_ok=True)
            os.rename(path, dest)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return None  # a read-only spool: report, but we cannot move it
            raise StorageError.wrap(exc, f"cannot move {path.name} to corrupt/") from exc
        note = f"from: {rel}\nat: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\nby: {actor()}\nreason: {reason}\n"
        try:
            atomic.publish(lay.tmp, dest.with_name(dest.name + ".why"), note.encode())
        except SpoolError:
            pass  # the file is aside; the note is a courtesy
        return dest

    def read_log(self, job_id: str, offset: int, limit: int = 1 << 20, tail: bool = False) -> tuple[bytes, int]:
        """Bytes of a job's log from `offset` (at most `limit`) and the offset after them;
        with `tail`, a read from 0 of a longer log starts at its last `limit` bytes. A
        job that has printed nothing has no log file: no bytes."""
        try:
            return safeio.read_range(self.layout.log(job_id), offset, limit, tail, f"the log of job {job_id}")
        except FileNotFoundError:
            return b"", offset

    def world_writable(self, queues: list[str] | None = None) -> list[str]:
        """Directories others may write (`queues`: all when None), sticky or not, where
        that lets them choose commands run as the spool's owner (a new trigger or pending
        file is a new command) or hang or blind its readers (a FIFO as a heartbeat, log or
        audit file, a forged audit line, a file in tmp/ renamed into place). Only the
        spool's top directory and corrupt/ may be sticky and world-writable."""
        lay = self.layout
        strict = [d for d in lay.top_dirs() if d != lay.corrupt] + [
            d for q in (self.queue_names() if queues is None else queues) for d in (lay.queue(q), *lay.state_dirs(q))]
        loose = []
        for d, sticky_passes in [(d, False) for d in strict] + [(lay.root, True), (lay.corrupt, True)]:
            try:
                mode = os.lstat(d).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError.wrap(exc, f"cannot check the permissions of {d}") from exc
            if mode & stat.S_IWOTH and not (sticky_passes and mode & stat.S_ISVTX):
                loose.append(str(d))
        return loose

    def clean_tmp(self, every: float = TMP_CLEAN_EVERY) -> int:
        """Housekeeping for long-lived processes (the runner calls it at each beat):
        atomic.clean_tmp, at most once per `every` seconds of this process."""
        now = time.monotonic()
        if now - self._tmp_cleaned_at < every:
            return 0
        self._tmp_cleaned_at = now
        return atomic.clean_tmp(self.layout.tmp)

    def corrupt_files(self) -> list[Path]:
        return sorted(Path(e.path) for e in _scan(self.layout.corrupt) if not e.name.endswith(".why"))


def _name(p: PendingName) -> str:
    return p.name


def _is_name(name: str) -> bool:
    try:
        check_name(name)
    except SpoolError:
        return False
    return True


def _scan(path: Path) -> list[os.DirEntry[str]]:
    """Directory entries, skipping dot files (NFS's .nfsXXXX, FUSE's .fuse_hidden, .lock)."""
    try:
        return [e for e in os.scandir(path) if not e.name.startswith(".")]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot list {path}") from exc


def _names(path: str | Path) -> list[str]:
    """The names in a directory (os.listdir: no per-entry objects, for 100,000-job queues)."""
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot list {path}") from exc


def _remove_tree(path: Path) -> None:
    """Remove a queue directory the store staged in tmp/, best effort: the caller is
    already reporting why it failed, and clean_tmp takes what is left."""
    try:
        for sub in (path / "pending", path / "running", path / "done"):
            if sub.exists():
                sub.rmdir()
        for name in _names(path):
            atomic.unlink_quietly(path / name)
        path.rmdir()
    except (OSError, SpoolError):
        pass


def _containing(names: list[str], text: str) -> Iterator[str]:
    """The names that contain `text`: one string search over the listing, not a loop."""
    blob = "\n".join(names)
    i = blob.find(text)
    while i >= 0:
        start = blob.rfind("\n", 0, i) + 1
        end = blob.find("\n", i)
        end = len(blob) if end < 0 else end
        yield blob[start:end]
        i = blob.find(text, end)


def _read_nofollow(path: str | Path) -> bytes:
    """A job-sized file's bytes (safeio.read_file with the job limit); a file that cannot
    be one of ours (a FIFO, a symlink, too large) is a CorruptJob, for the callers that
    quarantine it."""
    try:
        return safeio.read_file(path, MAX_JOB_BYTES)
    except UnsafeFile as exc:
        raise CorruptJob(exc.what) from None  # the fix is the caller's: corrupt/
