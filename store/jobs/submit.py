"""submit: validate job specs and place new jobs at their priority's end of the queue."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from .. import atomic
from ..errors import SpoolError, StorageError, about
from ..layout import pending_name
from ..limits import check_job_bytes, check_job_fields
from ..locks import locked_all
from ..model import Job, Trigger, actor, encode_job
from ..names import check_name, new_job_id, parse_priority
from ..spool import DEFAULT_QUEUE, Spool
from ..tailhint import Tail

if TYPE_CHECKING:
    from .supersede import Replacing


class JobFields(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What describes a job to queue: shared by submits and trigger templates."""

    command: list[str] | str
    queue: str | None = None
    type: str | None = None
    name: str = ""
    priority: int | str | None = None
    labels: dict[str, str] = {}
    requires: list[str] = []
    timeout: float | None = None
    retries: int = 0
    cwd: str | None = None
    env: dict[str, str] = {}
    shell: bool = False
    # Pipelines: job ids (or "@STEP" of an earlier job of the batch) to wait for, a start time, a step name.
    after: list[str] = []
    after_finished: list[str] = []
    not_before: float | None = None
    step: str = ""


class JobSpec(JobFields):
    """What a submitter gives: the fields of `submit` and of each `--jsonl` line."""

    trigger: Trigger | None = None


def build_job(spool: Spool, spec: JobSpec, now: float | None = None, who: str | None = None,
              earlier: Sequence[Job] = ()) -> Job:
    """Validate a spec against the spool (queue, type, names, the jobs it waits for) and
    make the job it describes; `earlier`: the jobs before it in its batch ("@STEP")."""
    jtype = None
    if spec.type is not None:  # only a typed submit reads types.toml: a broken one stops only those
        from ..jobtypes import load_types  # here, not at the top: an untyped submit needs no TOML parser

        with about("type"):
            check_name(spec.type, "job type")
            types = load_types(spool.layout.types)
            jtype = types.get(spec.type)
            if jtype is None and types:
                known = ", ".join(sorted(types))
                raise SpoolError(f"unknown job type {spec.type!r} (types.toml has: {known})")
    queue = spec.queue or (jtype.queue if jtype and jtype.queue else DEFAULT_QUEUE)
    with about("queue"):
        spool.check_queue(queue)
    command = spec.command
    if isinstance(command, str):
        if not spec.shell:
            raise SpoolError("command is a string: give it as a list of arguments, or ask for a shell (--shell)")
        command = [command]
    if not command or not all(isinstance(a, str) for a in command) or not command[0].strip():
        raise SpoolError("command is empty: give the program to run and its arguments")
    if spec.shell and len(command) != 1:
        command = [" ".join(command)]
    prio = parse_priority(spec.priority) if spec.priority is not None else (
        jtype.priority if jtype and jtype.priority is not None else 0)
    timeout = spec.timeout if spec.timeout is not None else (jtype.timeout if jtype else None)
    if timeout is not None and timeout <= 0:
        raise SpoolError(f"timeout must be positive, not {timeout}")
    if spec.retries < 0:
        raise SpoolError(f"retries must be 0 or more, not {spec.retries}")
    check_job_fields(command, spec.env, spec.name, spec.labels, spec.requires)
    for label in [*spec.labels, *spec.requires]:
        check_name(label, "label")
    for key in spec.env:
        if not key or "=" in key or "\0" in key:
            raise SpoolError(f"invalid environment variable name {key!r}")
    now = time.time() if now is None else now
    after, after_finished = _links(spool, spec, earlier)
    job = Job(
        id=new_job_id(int(now * 1000)),
        queue=queue,
        command=list(command),
        name=spec.name or os.path.basename(command[0].split()[0] if spec.shell else command[0]),
        type=spec.type,
        shell=spec.shell,
        cwd=spec.cwd,
        env=dict(spec.env),
        priority=prio,
        labels=dict(spec.labels),
        requires=list(spec.requires or (jtype.requires if jtype else [])),
        timeout=timeout,
        max_attempts=spec.retries + 1,
        submitted_at=now,
        submitted_by=who or actor(),
        trigger=spec.trigger,
        after=after,
        after_finished=after_finished,
        not_before=spec.not_before,
        step=spec.step,
    )
    check_job_bytes(len(encode_job(job)))  # what the fields add up to, as readers will see it
    return job


def _links(spool: Spool, spec: JobSpec, earlier: Sequence[Job]) -> tuple[list[str], list[str]]:
    """A spec's dependencies as full job ids, its step and start time checked (store/deps.py)."""
    if spec.step:
        check_name(spec.step, "step name")
        if any(j.step == spec.step for j in earlier):
            raise SpoolError(f"step {spec.step!r} is named twice in this batch: give each step its own name")
    if spec.not_before is not None and not math.isfinite(spec.not_before):
        raise SpoolError(f"start time {spec.not_before} is not a time")
    if not (spec.after or spec.after_finished):
        return [], []
    from .. import deps  # only a job that waits on others needs the dependency index

    return (deps.resolve(spool, spec.after, earlier, "after"),
            deps.resolve(spool, spec.after_finished, earlier, "after_finished"))


def submit(spool: Spool, specs: Sequence[JobSpec]) -> list[str]:
    """Queue jobs; all are validated before any is queued, and either all are queued or none."""
    jobs: list[Job] = []
    for spec in specs:
        jobs.append(build_job(spool, spec, earlier=jobs))
    return place(spool, jobs)


def place(spool: Spool, jobs: Sequence[Job], replacing: Replacing | None = None) -> list[str]:
    """Write new jobs and put them in their queues' run order (all or nothing). With
    `replacing` (jobs/supersede.py), under the same locks: the jobs it names take the
    places it gives, and then it retires the jobs they replace."""
    lay = spool.layout
    blocked: set[str] = set()
    if any(j.after or j.after_finished or j.not_before for j in jobs):  # else no index to load
        from .. import deps

        blocked = deps.prepare(spool, jobs)  # their index entries are durable before they are visible
    by_queue: dict[str, list[tuple[Job, Path]]] = {}
    staged: list[Path] = []
    placed: list[Path] = []
    try:
        for job in jobs:
            # The expensive part (write + fsync) happens before the lock is taken.
            path = atomic.stage(lay.tmp, encode_job(job), "submit")
            staged.append(path)
            by_queue.setdefault(job.queue, []).append((job, path))
        # Every queue's lock at once (in name order, as movers take them): until they are
        # released nobody can claim what we placed, so a failure takes all of it back.
        queues = sorted({*by_queue, *(replacing.queues if replacing else ())})
        with locked_all([(lay.queue_lock(q), f"queue {q}") for q in queues], spool.lock_timeout):
            spots = replacing.spots() if replacing else {}
            try:
                for queue, batch in by_queue.items():
                    # Where new jobs go, mostly without listing pending/; a whole listing when
                    # one takes a place in the middle (the hint knows only the few names that
                    # decide where the end is).
                    tail = Tail(spool, queue, full=any(job.id in spots for job, _ in batch))
                    pend = lay.pending(queue)
                    for job, path in batch:
                        rank, held = spots.get(job.id) or (tail.rank(job.priority), False)
                        name = pending_name(rank, job.priority, job.id, held,
                                            kind=None if held else "wait" if job.id in blocked else None)
                        try:
                            os.rename(path, pend / name)
                        except OSError as exc:
                            raise StorageError.wrap(exc, f"cannot queue job {job.id} in {queue}") from exc
                        placed.append(pend / name)
                        tail.add(name)
                    tail.save()
                    atomic.fsync_dir(pend)
            except BaseException:
                for dest in placed:
                    atomic.unlink_quietly(dest)
                raise
            if replacing is not None:
                replacing.retire()
    finally:
        if len(placed) != len(staged):  # the placed ones were renamed away
            for path in staged:
                atomic.unlink_quietly(path)
    if blocked:  # a dependency that ended while we placed them did not see them
        from .. import deps

        deps.recheck(spool, [j for j in jobs if j.id in blocked])
    return [job.id for job in jobs]
