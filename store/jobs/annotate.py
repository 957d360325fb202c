"""What is added to a job's record after it started: labels a running job gives itself
(`coreflow annotate`), and the outcome of its finish hook once it has ended.

Both rewrite the job's file where it is (running/ or done/): read, staged and fsynced
in tmp/ outside the queue's lock, renamed over under it if the file is still the one
read (else read again), so the lock is held for a rename, not a flush (layout.py). A runner
that rewrites a running file later (its claim, its result) reads it again when it is
not the file it placed, and keeps the labels found there (claimbase.ClaimBase._own).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import msgspec

from .. import atomic
from ..errors import CorruptJob, JobNotFound, JobStateError, LockTimeout, SpoolError, StorageError
from ..layout import DONE_RE, RUNNING_RE
from ..limits import check_job_fields
from ..listing import containing, list_names
from ..model import HookOutcome, Job, encode_job
from ..names import check_name
from ..spool import Spool
from ..states import State

Lock = Callable[[str], AbstractContextManager[None]]  # queue -> its lock (Spool.lock, a runner's kept locks)


def annotate(spool: Spool, job_id: str, pairs: dict[str, str], queue: str | None = None,
             attempt: int | None = None) -> Job:
    """Add (or change) labels of a running job; returns the job as written.

    `queue` and `attempt` (COREFLOW_QUEUE, COREFLOW_ATTEMPT inside a job) narrow the
    search and make sure a left-over process of an earlier attempt does not label the
    new one. A job that is not running is refused (JobStateError), saying what it is.
    """
    for key in pairs:
        check_name(key, "label")
    if queue is None:
        r = spool.find(job_id)
        q, job_id = r.queue, r.id
    else:
        q = spool.check_queue(queue)

    def labelled(job: Job) -> Job | None:
        if attempt is not None and job.attempt != attempt:
            raise JobStateError(f"cannot annotate job {job_id}: it now runs as attempt {job.attempt}, "
                                f"not attempt {attempt} (this is a left-over of the earlier one)")
        labels = {**job.labels, **pairs}
        if labels == job.labels:
            return None
        check_job_fields(job.command, job.env, job.name, labels, job.requires)
        return msgspec.structs.replace(job, labels=labels)

    found = _rewrite(spool, q, spool.lock, spool.layout.running(q), RUNNING_RE, job_id, State.RUNNING, labelled)
    if found is None:
        raise _not_running(spool, job_id)
    job, changed = found
    if changed:
        spool.record(job_id, "annotate", " ".join(f"{k}={v}" for k, v in pairs.items()))
    return job


def record_hook(spool: Spool, queue: str, job_id: str, outcome: HookOutcome, lock: Lock | None = None) -> bool:
    """Write a finish hook's outcome into the job's done file. False (nothing written) when
    the job is no longer the finished attempt the hook ran for: retried, pruned, removed."""

    def with_outcome(job: Job) -> Job | None:
        if job.attempt != outcome.attempt or job.result is None:
            return None
        return msgspec.structs.replace(job, hook=outcome)

    try:
        found = _rewrite(spool, queue, lock or spool.lock, spool.layout.done(queue), DONE_RE, job_id, None,
                         with_outcome)
    except CorruptJob:
        return False  # moved aside: nothing to write the outcome into
    return found is not None and found[1]


TRIES = 5  # rewrites raced by a runner's own rewrite of the same file before giving up


def _rewrite(spool: Spool, queue: str, lock: Lock, directory: Path, grammar: object, job_id: str,
             state: str | None, change: Callable[[Job], Job | None]) -> tuple[Job, bool] | None:
    """Rewrite the job's file in `directory` with change(job) (None: leave it): read and
    staged (fsynced) outside the queue's lock, renamed over under it only if the file is
    still the one read, else read again. The lock is held for a rename, not a flush.
    Returns the job as it is now and whether it was rewritten; None if it is not there."""
    for _ in range(TRIES):
        path = _file(directory, job_id, grammar)
        if path is None:
            return None
        try:
            before = os.lstat(path)
            job, original = spool.load(path, job_id, queue, state or path.name.rsplit(".", 1)[-1])
        except JobNotFound:
            continue  # renamed meanwhile: look again
        new = change(job)
        if new is None:
            return job, False
        staged = atomic.stage(spool.layout.tmp, encode_job(new, original), job_id)
        try:
            with lock(queue):
                try:
                    now = os.lstat(path)
                except FileNotFoundError:
                    continue
                if _same(now, before):
                    os.rename(staged, path)
                    break
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot rewrite the file of job {job_id}") from exc
        finally:
            atomic.unlink_quietly(staged)
    else:
        raise LockTimeout(f"job {job_id} kept changing while it was being rewritten; try again")
    atomic.fsync_dir(directory)
    return new, True


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_mtime_ns, a.st_size) == (b.st_ino, b.st_mtime_ns, b.st_size)


def _file(directory: Path, job_id: str, grammar: object) -> Path | None:
    """The job's file in a state directory (found by name), or None."""
    for name in containing(list_names(directory), job_id):
        m = grammar.fullmatch(name)  # type: ignore[attr-defined]
        if m and m["id"] == job_id:
            return directory / name
    return None


def _not_running(spool: Spool, job_id: str) -> SpoolError:
    try:
        now = spool.find(job_id)
    except JobNotFound:
        return JobNotFound(f"cannot annotate job {job_id}: there is no such job in {spool.root}")
    if now.state in (State.PENDING, State.HELD):
        return JobStateError(f"cannot annotate job {job_id}: it is {now.state}, not running")
    return JobStateError(f"cannot annotate job {job_id}: it already finished ({now.state}); "
                         "a job annotates itself only while it runs")
