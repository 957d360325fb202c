"""Every state change a person makes: submit, move, hold, release, cancel, retry, prune.

Each is one function, used by the CLI and the TUI alike. Each takes the queue's lock
for a consistent view, commits with one rename, and records who did it.
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from . import atomic
from .errors import JobAlreadyStarted, JobNotFound, JobStateError, SpoolError, StorageError
from .layout import PendingName, cancel_name, done_name, parse_pending, pending_name, sorted_pending
from .limits import check_job_bytes, check_job_fields
from .locks import locked_all
from .model import CancelRequest, Job, Result, Trigger, actor, encode, encode_job
from .names import ID_RE, check_name, new_job_id, parse_priority, rank_between, respace_window, spread_ranks
from .runners import fs_now
from .listing import containing, list_names
from .spool import DEFAULT_QUEUE, JobRef, Spool
from .states import FINAL, State


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


class JobSpec(JobFields):
    """What a submitter gives: the fields of `submit` and of each `--jsonl` line."""

    trigger: Trigger | None = None


def build_job(spool: Spool, spec: JobSpec, now: float | None = None, who: str | None = None) -> Job:
    """Validate a spec against the spool (queue, type, names) and make the job it describes."""
    from .jobtypes import load_types  # here, not at the top: listings need no TOML parser

    jtype = None
    if spec.type is not None:  # only a typed submit reads types.toml: a broken one stops only those
        check_name(spec.type, "job type")
        types = load_types(spool.layout.types)
        jtype = types.get(spec.type)
        if jtype is None and types:
            known = ", ".join(sorted(types))
            raise SpoolError(f"unknown job type {spec.type!r} (types.toml has: {known})")
    queue = spec.queue or (jtype.queue if jtype and jtype.queue else DEFAULT_QUEUE)
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
    )
    check_job_bytes(len(encode_job(job)))  # what the fields add up to, as readers will see it
    return job


def submit(spool: Spool, specs: Sequence[JobSpec]) -> list[str]:
    """Queue jobs; all are validated before any is queued, and either all are queued or none."""
    jobs = [build_job(spool, spec) for spec in specs]
    return place(spool, jobs)


def place(spool: Spool, jobs: Sequence[Job]) -> list[str]:
    """Write new jobs and put them in their queues' run order (all or nothing)."""
    lay = spool.layout
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
        with locked_all([(lay.queue_lock(q), f"queue {q}") for q in by_queue], spool.lock_timeout):
            try:
                for queue, batch in by_queue.items():
                    order = spool.pending(queue)
                    pend = lay.pending(queue)
                    for job, path in batch:
                        rank = _insert_rank(spool, queue, order, job.priority)
                        name = pending_name(rank, job.priority, job.id)
                        try:
                            os.rename(path, pend / name)
                        except OSError as exc:
                            raise StorageError.wrap(exc, f"cannot queue job {job.id} in {queue}") from exc
                        placed.append(pend / name)
                        bisect.insort(order, PendingName(name), key=_name)
                    atomic.fsync_dir(pend)
            except BaseException:
                for dest in placed:
                    atomic.unlink_quietly(dest)
                raise
    finally:
        if len(placed) != len(staged):  # the placed ones were renamed away
            for path in staged:
                atomic.unlink_quietly(path)
    return [job.id for job in jobs]


def _insert_rank(spool: Spool, queue: str, order: list[PendingName], priority: int) -> int:
    """Rank for a new job: behind every pending job of the same or higher priority."""
    idx = len(order)
    while idx > 0 and order[idx - 1].priority < priority:
        idx -= 1
    return _rank_at(spool, queue, order, idx)


def _rank_at(spool: Spool, queue: str, order: list[PendingName], idx: int) -> int:
    """A rank that sorts between order[idx-1] and order[idx]; respaces if there is none."""
    before = order[idx - 1].rank if idx > 0 else None
    after = order[idx].rank if idx < len(order) else None
    rank = rank_between(before, after)
    if rank is None:
        order[:] = _respace(spool, queue, order, idx)
        before = order[idx - 1].rank if idx > 0 else None
        after = order[idx].rank if idx < len(order) else None
        rank = rank_between(before, after)
        assert rank is not None
    return rank


def _respace(spool: Spool, queue: str, order: list[PendingName], idx: int) -> list[PendingName]:
    """Make room before position `idx` by respacing a window of jobs around it (caller
    holds the lock): a few dozen renames, not the whole queue (names.respace_window).

    Run order holds after every rename, so a crash half-way leaves a queue in the right
    order: jobs that move up go first, from the far end inward, then those that move
    down, from the near end outward; none passes a neighbour's old or new rank.
    """
    window = respace_window(lambda i: order[i].rank, len(order), idx)
    if window is None:
        return _rebalance(spool, queue, order)
    lo, ranks = window
    d = spool.layout.pending(queue)
    moves = [(order[lo + i], rank) for i, rank in enumerate(ranks) if rank != order[lo + i].rank]
    ups = [(p, rank) for p, rank in reversed(moves) if rank > p.rank]
    downs = [(p, rank) for p, rank in moves if rank < p.rank]
    placed = {p.name: p for p in order[lo:lo + len(ranks)]}
    for p, rank in ups + downs:
        name = pending_name(rank, p.priority, p.id, p.held)
        del placed[p.name]
        if atomic.commit_rename(d / p.name, d / name):
            placed[name] = PendingName(name)
    atomic.fsync_dir(d)
    return order[:lo] + sorted(placed.values(), key=_name) + order[lo + len(ranks):]


def _rebalance(spool: Spool, queue: str, order: list[PendingName]) -> list[PendingName]:
    """Respace every rank (caller holds the lock). Only when no window has room (never
    in practice: it takes ~2**44 jobs).

    The new ranks lie wholly above (or below) the old ones and the renames go from
    the far end inward, so run order stays right even if we are killed half-way.
    """
    d = spool.layout.pending(queue)
    new = spread_ranks(len(order))
    span = new[-1] - new[0]
    top_room = (1 << 64) - 1 - order[-1].rank
    if top_room > span + (1 << 33):
        base = order[-1].rank + (top_room - span) // 2
        items = list(zip(reversed(order), reversed([base + r - new[0] for r in new])))
    else:
        base = (order[0].rank - span) // 2
        items = list(zip(order, [base + r - new[0] for r in new]))
    out = {}
    for p, rank in items:
        name = pending_name(rank, p.priority, p.id, p.held)
        if atomic.commit_rename(d / p.name, d / name):
            out[p.id] = parse_pending(name)
    atomic.fsync_dir(d)
    return sorted((v for v in out.values() if v is not None), key=lambda p: p.name)


# -- moves -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """A move target: top, bottom, up/down N places, before/after a job, or another queue."""

    kind: str  # top | bottom | up | down | before | after | queue
    count: int = 1
    other: str = ""


def move(spool: Spool, ref: str, where: Where) -> int:
    """Move a pending or held job; returns its new 1-based position."""
    if where.kind == "top" and ID_RE.fullmatch(ref):
        pos = _move_to_top(spool, ref)
        if pos is not None:
            return pos
    r = _pending_ref(spool, ref, "move")
    if where.kind == "queue":
        return _move_to_queue(spool, r, where.other)
    other = spool.find(where.other) if where.kind in ("before", "after") else None
    if other is not None:
        if other.queue != r.queue:
            raise JobStateError(f"job {other.id} is in queue {other.queue}, not {r.queue}: move to that queue first")
        if other.pending is None:
            raise JobStateError(f"job {other.id} is {other.state}, not waiting: cannot place a job relative to it")
    d = spool.layout.pending(r.queue)
    with spool.lock(r.queue):
        order = spool.pending(r.queue)
        me = _locate(order, r)
        if me is None:
            raise _gone(spool, r, "move")
        p = order[me]
        rest = order[:me] + order[me + 1:]
        if where.kind == "top":
            idx = 0
        elif where.kind == "bottom":
            idx = len(rest)
        elif where.kind == "up":
            idx = max(0, me - where.count)
        elif where.kind == "down":
            idx = min(len(rest), me + where.count)
        else:
            assert other is not None
            if other.id == r.id:
                raise JobStateError(f"cannot move job {r.id} {where.kind} itself")
            o = _locate(rest, other)
            if o is None:
                raise JobStateError(f"job {other.id} is no longer waiting in queue {r.queue}")
            idx = o if where.kind == "before" else o + 1
        if idx == me:
            return me + 1
        rank = rank_between(rest[idx - 1].rank if idx else None, rest[idx].rank if idx < len(rest) else None)
        if rank is None:
            # Respace around the target, this job included if it is near: a respace of the
            # others alone could carry them past it, and a crash half-way leave them there.
            order = _respace(spool, r.queue, order, idx if idx < me else idx + 1)
            me = _index(order, r.id)
            if me is None:
                raise _gone(spool, r, "move")
            p = order[me]
            rest = order[:me] + order[me + 1:]
            rank = rank_between(rest[idx - 1].rank if idx else None, rest[idx].rank if idx < len(rest) else None)
            assert rank is not None
        if not atomic.commit_rename(d / p.name, d / pending_name(rank, p.priority, p.id, p.held)):
            raise _gone(spool, r, "move")
        atomic.fsync_dir(d)
        spool.record(r.id, "move", f"{where.kind}{' ' + str(where.count) if where.kind in ('up', 'down') else ''}"
                     f"{' ' + where.other if where.other else ''}: position {me + 1} -> {idx + 1}")
    return idx + 1


def _move_to_top(spool: Spool, job_id: str) -> int | None:
    """`move --top` of a full id in one listing under the lock, without sorting or parsing
    the queue: the common triage step stays cheap in a 100,000-job queue. None when the
    job is not waiting or the top has no room (the general path then answers)."""
    for q in spool.queue_names():
        d = spool.layout.pending(q)
        with spool.lock(q):
            names = list_names(d)
            mine = next((n for n in containing(names, job_id)
                         if (p := parse_pending(n)) is not None and p.id == job_id), None)
            if mine is None:
                continue
            p = parse_pending(mine)
            assert p is not None
            first = _first(names)
            if first is None or first.name == mine:
                return 1
            rank = rank_between(None, first.rank)
            if rank is None:
                return None
            # Only words the audit note: names outside the grammar that are not dot
            # files (.nfsXXXX, .fuse_hidden...) are rare, so they are not checked here.
            was = 1 + sum(map(mine.__gt__, names)) - sum(1 for n in names if n[:1] == ".")
            r = spool.pending_ref(q, p)
            if not atomic.commit_rename(d / mine, d / pending_name(rank, p.priority, p.id, p.held)):
                raise _gone(spool, r, "move")
            atomic.fsync_dir(d)
            spool.record(job_id, "move", f"top: position {was} -> 1")
            return 1
    return None


def _first(names: list[str]) -> PendingName | None:
    """The first pending name in run order: one min() in the usual case, a sort if a dot
    file or a foreign name sorts first."""
    first = min(names, default=None)
    if first is None:
        return None
    p = parse_pending(first)
    if p is not None:
        return p
    order = sorted_pending(list(names))
    return order[0] if order else None


def _move_to_queue(spool: Spool, r: JobRef, target: str) -> int:
    spool.check_queue(target)
    if target == r.queue:
        raise JobStateError(f"job {r.id} is already in queue {target}")
    lay = spool.layout
    paths = [(lay.queue_lock(q), f"queue {q}") for q in (r.queue, target)]
    with locked_all(paths, spool.lock_timeout):
        order = spool.pending(r.queue)
        me = _locate(order, r)
        if me is None:
            raise _gone(spool, r, "move")
        p = order[me]
        src = lay.pending(r.queue) / p.name
        job, original = spool.load(src, p.id, r.queue, p.state)
        # The file names its queue: a runner finishes the job in the queue it names.
        data = encode_job(msgspec.structs.replace(job, queue=target), original)
        rank = _insert_rank(spool, target, spool.pending(target), p.priority)
        dest = lay.pending(target) / pending_name(rank, p.priority, p.id, p.held)
        _commit_rewritten(spool, r, "move", src, dest, data)
        atomic.fsync_dir(lay.pending(target))
        atomic.fsync_dir(lay.pending(r.queue))
        spool.record(r.id, "move", f"queue {r.queue} -> {target}")
    pos = _index(spool.pending(target), r.id)
    return (pos or 0) + 1


# -- hold, release ---------------------------------------------------------------


def hold(spool: Spool, ref: str) -> bool:
    """Hold a pending job (it keeps its place and is skipped). False if it already was held."""
    return _set_held(spool, ref, True)


def release(spool: Spool, ref: str) -> bool:
    """Release a held job. False if it was not held."""
    return _set_held(spool, ref, False)


def _set_held(spool: Spool, ref: str, held: bool) -> bool:
    what = "hold" if held else "release"
    r = _pending_ref(spool, ref, what)
    d = spool.layout.pending(r.queue)
    with spool.lock(r.queue):
        order = spool.pending(r.queue)
        me = _locate(order, r)
        if me is None:
            raise _gone(spool, r, what)
        p = order[me]
        if p.held == held:
            return False
        if not atomic.commit_rename(d / p.name, d / pending_name(p.rank, p.priority, p.id, held)):
            raise _gone(spool, r, what)
        atomic.fsync_dir(d)
        spool.record(r.id, what)
    return True


# -- cancel ----------------------------------------------------------------------


def cancel(spool: Spool, ref: str, reason: str = "cancelled", detail: str = "") -> str:
    """Cancel a job. A waiting job is finished as cancelled at once; a running one gets
    a cancel request its runner acts on. Returns "cancelled" or "requested"."""
    r = spool.find(ref)
    if r.state == State.RUNNING:
        return _request_cancel(spool, r)
    if r.pending is None:
        raise JobStateError(f"job {r.id} already finished ({r.state}); nothing to cancel")
    lay = spool.layout
    with spool.lock(r.queue):
        order = spool.pending(r.queue)
        me = _locate(order, r)
        if me is None:
            now = spool.find(r.id)
            if now.state == State.RUNNING:
                return _request_cancel(spool, now)
            raise _gone(spool, r, "cancel")
        p = order[me]
        src = lay.pending(r.queue) / p.name
        job, original = spool.load(src, p.id, r.queue, p.state)
        t = time.time()
        dest = lay.done(r.queue) / done_name(r.id, State.CANCELLED, t)
        job = msgspec.structs.replace(job, result=Result(
            state=State.CANCELLED, reason=reason, finished_at=t, by=actor(), attempt=job.attempt, message=detail))
        _commit_rewritten(spool, r, "cancel", src, dest, encode_job(job, original))
        atomic.fsync_dir(lay.done(r.queue))
        atomic.fsync_dir(lay.pending(r.queue))
        spool.record(r.id, "cancel", detail)
    return State.CANCELLED


def _request_cancel(spool: Spool, r: JobRef) -> str:
    lay = spool.layout
    req = lay.running(r.queue) / cancel_name(r.id)
    atomic.publish(lay.tmp, req, encode(CancelRequest(by=actor(), at=time.time())))
    if not r.path.exists():  # it finished meanwhile (or another runner took it over)
        now = spool.find(r.id)
        if now.state != State.RUNNING:
            atomic.unlink_quietly(req)
            raise JobStateError(f"job {r.id} already finished ({now.state}); nothing to cancel")
    spool.record(r.id, "cancel-request", "stop the running job")
    return "requested"


# -- retry -----------------------------------------------------------------------


def retry(spool: Spool, ref: str) -> int:
    """Queue a finished job again as its next attempt (its earlier results kept). Returns position."""
    r = spool.find(ref)
    if r.state not in FINAL:
        raise JobStateError(f"job {r.id} is {r.state}; only a finished job can be retried")
    lay = spool.layout
    with spool.lock(r.queue):
        job, original = spool.load(r.path, r.id, r.queue, r.state)
        order = spool.pending(r.queue)
        rank = _insert_rank(spool, r.queue, order, job.priority)
        dest = lay.pending(r.queue) / pending_name(rank, job.priority, job.id)
        history = [*job.history, job.result] if job.result else list(job.history)
        job = msgspec.structs.replace(job, attempt=job.attempt + 1, result=None, claim=None, history=history,
                                      max_attempts=max(job.max_attempts, job.attempt + 1), lost=0)
        _commit_rewritten(spool, r, "retry", r.path, dest, encode_job(job, original))
        atomic.fsync_dir(lay.pending(r.queue))
        atomic.fsync_dir(lay.done(r.queue))
        spool.record(r.id, "retry", f"attempt {job.attempt}")
    return (_index(spool.pending(r.queue), r.id) or 0) + 1


# -- prune -----------------------------------------------------------------------


def prune(spool: Spool, older_than: float | None = None, keep: int | None = None,
          now: float | None = None) -> int:
    """Delete finished jobs (and their logs and audit) older than `older_than` seconds,
    keeping at least the `keep` newest of each queue, by the filesystem's clock (see
    prunable; `now`: fs_now by default). Returns how many were deleted."""
    now = fs_now(spool) if now is None else now
    lay = spool.layout
    removed = 0
    for q in spool.queue_names():
        with spool.lock(q):
            for r in prunable(spool, q, older_than, keep, now):
                for path in pruned_files(spool, r):
                    atomic.unlink_quietly(path)
                removed += 1
        atomic.fsync_dir(lay.done(q))
    return removed


def prunable(spool: Spool, queue: str, older_than: float | None, keep: int | None, now: float) -> list[JobRef]:
    """The finished jobs of a queue that `prune` would delete (doctor asks without deleting).

    Aged and ordered by the filesystem's clock, as leases are: a done file's mtime is
    when it was written (every finish writes it), `now` the filesystem's now; neither a
    host's clock nor the STAMP in done/ names (each host's own) counts."""
    aged = []
    for r in spool.done_refs(queue):
        try:
            aged.append((os.lstat(r.file).st_mtime, r.file, r))
        except FileNotFoundError:
            continue
    aged.sort(key=lambda a: a[:2])
    candidates = aged[: max(0, len(aged) - keep)] if keep is not None else aged
    return [r for mtime, _, r in candidates if older_than is None or now - mtime >= older_than]


def pruned_files(spool: Spool, r: JobRef) -> tuple[Path, ...]:
    """What pruning a finished job deletes: its file, its log and its audit trail."""
    return (r.path, spool.layout.log(r.id), spool.layout.job_audit(r.id))


# -- helpers ---------------------------------------------------------------------


def _pending_ref(spool: Spool, ref: str, what: str) -> JobRef:
    r = spool.find(ref)
    if r.pending is None:
        raise _not_waiting(spool, r, what)
    return r


def _not_waiting(spool: Spool, r: JobRef, what: str) -> SpoolError:
    if r.state == State.RUNNING:
        where = ""
        try:
            claim = spool.read(r).claim
            if claim:
                where = f" on {claim.host} (runner {claim.runner})"
        except SpoolError:
            pass
        return JobAlreadyStarted(f"cannot {what} job {r.id}: it already started{where}")
    return JobStateError(f"cannot {what} job {r.id}: it already finished ({r.state})")


def _gone(spool: Spool, r: JobRef, what: str) -> SpoolError:
    """The job changed between our look and our rename: say what it is now."""
    try:
        now = spool.find(r.id)
    except JobNotFound:
        return JobNotFound(f"cannot {what} job {r.id}: it vanished (pruned or its queue removed)")
    if now.pending is not None:
        return JobStateError(f"cannot {what} job {r.id}: it changed at the same moment; try again")
    return _not_waiting(spool, now, what)


def _locate(order: list[PendingName], r: JobRef) -> int | None:
    """Where a job found earlier is in `order` now: a binary search for the name it had,
    else (it was held, released or moved meanwhile) a scan for its id."""
    if r.pending is not None:
        i = bisect.bisect_left(order, r.pending.name, key=_name)
        if i < len(order) and order[i].name == r.pending.name:
            return i
    return _index(order, r.id)


def _name(p: PendingName) -> str:
    return p.name


def _index(order: Iterable[PendingName], job_id: str) -> int | None:
    for i, p in enumerate(order):
        if p.id == job_id:
            return i
    return None


def _commit_rewritten(spool: Spool, r: JobRef, what: str, src: Path, dest: Path, data: bytes) -> None:
    """Rename src to dest (the commit), then give dest its new content. The content is
    staged first, so a full disk stops the change before it happens, not half-way."""
    staged = atomic.stage(spool.layout.tmp, data, what)
    try:
        if not atomic.commit_rename(src, dest):
            raise _gone(spool, r, what)
        try:
            os.rename(staged, dest)
        except OSError as exc:
            raise StorageError.wrap(exc, f"{what} of job {r.id} done, but its file not rewritten") from exc
    finally:
        atomic.unlink_quietly(staged)




# -- edit (`coreflow set`, the TUI's `e`) -------------------------------------------


@dataclass(frozen=True)
class Edit:
    """What to change of a waiting job; None leaves a field as it is. Labels are merged
    into the job's (an empty value removes that label); `requires` replaces the list."""

    priority: int | str | None = None
    name: str | None = None
    labels: dict[str, str] | None = None
    requires: list[str] | None = None
    timeout: float | None = None


def edit(spool: Spool, ref: str, change: Edit) -> int:
    """Change a pending or held job, recorded in its audit trail. A new priority places it
    behind every waiting job of the same or higher priority, as a submit would. Returns its
    new 1-based position; a running or finished job is refused (JobAlreadyStarted/JobStateError)."""
    r = _pending_ref(spool, ref, "edit")
    fields = _edit_fields(change)
    d = spool.layout.pending(r.queue)
    with spool.lock(r.queue):
        order = spool.pending(r.queue)
        me = _locate(order, r)
        if me is None:
            raise _gone(spool, r, "edit")
        p = order[me]
        job, original = spool.load(d / p.name, p.id, r.queue, p.state)
        if "labels" in fields:
            merged = {**job.labels, **fields["labels"]}
            fields["labels"] = {k: v for k, v in merged.items() if v != ""}
        said = [f"{k}: {getattr(job, k)!r} -> {v!r}" for k, v in fields.items() if getattr(job, k) != v]
        if not said:
            return me + 1
        new = msgspec.structs.replace(job, **fields)
        dest = d / p.name
        if new.priority != job.priority:
            rest = order[:me] + order[me + 1:]
            dest = d / pending_name(_insert_rank(spool, r.queue, rest, new.priority), new.priority, p.id, p.held)
            _commit_rewritten(spool, r, "edit", d / p.name, dest, encode_job(new, original))
        else:
            atomic.publish(spool.layout.tmp, dest, encode_job(new, original))
        atomic.fsync_dir(d)
        spool.record(r.id, "set", "; ".join(said))
    return (_index(spool.pending(r.queue), r.id) or 0) + 1


def _edit_fields(change: Edit) -> dict[str, object]:
    """The fields an edit sets, checked as a submit checks them."""
    fields: dict[str, object] = {}
    if change.priority is not None:
        fields["priority"] = parse_priority(change.priority)
    if change.name is not None:
        if not change.name.strip() or len(change.name) > 200 or "\n" in change.name:
            raise SpoolError("name must be one line of 1 to 200 characters")
        fields["name"] = change.name
    if change.labels is not None:
        for key in change.labels:
            check_name(key, "label")
        fields["labels"] = dict(change.labels)
    if change.requires is not None:
        for label in change.requires:
            check_name(label, "label")
        fields["requires"] = list(change.requires)
    if change.timeout is not None:
        if change.timeout <= 0:
            raise SpoolError(f"timeout must be positive, not {change.timeout}")
        fields["timeout"] = change.timeout
    return fields
