"""What is added to a job's record after it started: labels a running job gives itself
(`coreflow annotate`), and the outcome of its finish hook once it has ended.

Both rewrite the job's file where it is (running/ or done/), under the queue's lock,
after reading it again: staged and fsynced in tmp/, renamed over (layout.py). A runner
that rewrites a running file later (its claim, its result) reads it again when it is
not the file it placed, and keeps the labels found there (claimbase.ClaimBase._own).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import msgspec

from .. import atomic
from ..errors import JobNotFound, JobStateError, SpoolError
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
    with spool.lock(q):
        path = _file(spool.layout.running(q), job_id, RUNNING_RE)
        if path is None:
            raise _not_running(spool, job_id)
        job, original = spool.load(path, job_id, q, State.RUNNING)
        if attempt is not None and job.attempt != attempt:
            raise JobStateError(f"cannot annotate job {job_id}: it now runs as attempt {job.attempt}, "
                                f"not attempt {attempt} (this is a left-over of the earlier one)")
        labels = {**job.labels, **pairs}
        if labels == job.labels:
            return job
        check_job_fields(job.command, job.env, job.name, labels, job.requires)
        new = msgspec.structs.replace(job, labels=labels)
        atomic.publish(spool.layout.tmp, path, encode_job(new, original))
    spool.record(job_id, "annotate", " ".join(f"{k}={v}" for k, v in pairs.items()))
    return new


def record_hook(spool: Spool, queue: str, job_id: str, outcome: HookOutcome, lock: Lock | None = None) -> bool:
    """Write a finish hook's outcome into the job's done file. False (nothing written) when
    the job is no longer the finished attempt the hook ran for: retried, pruned, removed."""
    with (lock or spool.lock)(queue):
        path = _file(spool.layout.done(queue), job_id, DONE_RE)
        if path is None:
            return False
        try:
            job, original = spool.load(path, job_id, queue, path.name.rsplit(".", 1)[-1])
        except SpoolError:
            return False
        if job.attempt != outcome.attempt or job.result is None:
            return False
        atomic.publish(spool.layout.tmp, path, encode_job(msgspec.structs.replace(job, hook=outcome), original))
    return True


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
