"""Dependencies and delayed start: which waiting jobs are blocked, and letting them go.

A job with `after` (ids that must succeed), `after_finished` (ids that must end) or a
`not_before` in the future is *blocked*: it waits in pending/ under the name
RANK.PRIO.ID.wait, which a claim skips by name (its JSON state stays "pending"). Two
indexes, both written before the job is placed, find blocked jobs without reading them:

  deps/DEPID/QUEUE.ID.dep     job ID (in QUEUE when it was indexed) waits on DEPID
  due/QUEUE/MS.ID             job ID may start at MS (epoch milliseconds)

Whoever makes a job final calls `on_final` afterwards: it reads deps/ID/ (one failed
listing when nobody waits), and under each dependent's queue lock releases the
dependents whose conditions now hold (.wait -> .job, one rename) or cancels those
whose `after` job can no longer succeed, transitively. A submit re-checks its own
dependencies after placing the job, so a dependency that ended meanwhile is seen by
one side or the other. `release_due` does the same for start times; `sweep` repairs
what a crash between a final rename and its `on_final` left behind. See layout.py.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from . import atomic
from .errors import JobNotFound, JobStateError, SpoolError
from .jobs.commit import commit
from .depindex import create_entry, drop_dir, entries, forget_notes, register  # noqa: F401 (public here)
from .layout import DUE_RE, PendingName, done_name, pending_name
from .listing import list_names
from .model import Job, Result, actor, encode_job
from .quarantine import quarantined_ids
from .refs import JobRef
from .spool import Spool
from .states import FINAL, State

READY, WAIT, DOOMED = "ready", "wait", "doomed"
STALE_INDEX = 3600.0  # seconds: a deps/ID/ whose job ID is nowhere is a submit that died (or pruned)

Known = dict[str, "State | None"]


# -- reading ---------------------------------------------------------------------------


def state_of(spool: Spool, job_id: str, known: Known | None = None) -> State | None:
    """The state of a job by its full id (None: no such job, e.g. pruned); `known` caches."""
    if known is not None and job_id in known:
        return known[job_id]
    st: State | None = None
    try:  # find looks twice, for a job that moves between its listings
        st = State(spool.find(job_id).state)
    except JobNotFound:
        pass  # any other error (EIO, EACCES) is no proof it is gone: the caller gives up, the sweep retries
    if known is not None:
        known[job_id] = st
    return st


def is_blocking(job: Job) -> bool:
    """Does the job name anything to wait for (dependencies or a start time)?"""
    return bool(job.after or job.after_finished or job.not_before)


def verdict(spool: Spool, job: Job, now: float | None = None, known: Known | None = None) -> tuple[str, str]:
    """READY (may run), WAIT (blocked) or DOOMED (an `after` job failed, was cancelled or
    is gone: the job can never run); for DOOMED, why ("dependency ID failed")."""
    known = {} if known is None else known
    out = READY
    for dep in job.after:
        st = state_of(spool, dep, known)
        if st == State.SUCCEEDED:
            continue
        if st is None:
            return DOOMED, f"dependency {dep} failed (it is gone)"
        if st == State.FAILED:
            return DOOMED, f"dependency {dep} failed"
        if st == State.CANCELLED:
            return DOOMED, f"dependency {dep} was cancelled"
        out = WAIT
    for dep in job.after_finished:
        st = state_of(spool, dep, known)
        if st is not None and st not in FINAL:
            out = WAIT
    if job.not_before is not None and job.not_before > (time.time() if now is None else now):
        out = WAIT
    return out, ""


def blockers(spool: Spool, job: Job, known: Known | None = None) -> list[tuple[str, State | None]]:
    """What a job still waits for: (id, its state) of each unmet dependency, in the
    order given (`after` first). Pass one `known` dict for a whole listing."""
    known = {} if known is None else known
    out: list[tuple[str, State | None]] = []
    for dep in job.after:
        st = state_of(spool, dep, known)
        if st != State.SUCCEEDED:
            out.append((dep, st))
    for dep in job.after_finished:
        st = state_of(spool, dep, known)
        if st is not None and st not in FINAL:
            out.append((dep, st))
    return out


# -- submitting ------------------------------------------------------------------------


def resolve(spool: Spool, refs: Sequence[str], earlier: Sequence[Job], flag: str) -> list[str]:
    """The full ids a submit's `after` (flag "after") or `after_finished` names: a job
    id (or a unique part of one) in any queue, or "@STEP", an earlier job of the same
    batch. Refuses an unknown job, and for `after` one that already failed or was cancelled."""
    out: list[str] = []
    for ref in refs:
        if ref.startswith("@"):
            hit = [j for j in earlier if j.step == ref[1:]]
            if not hit:
                raise SpoolError(f"{flag} {ref}: no earlier job of this batch has step {ref[1:]!r}")
            out.append(hit[-1].id)
            continue
        try:
            r = spool.find(ref)
        except JobNotFound:
            raise JobNotFound(f"{flag} {ref}: no such job in {spool.root}; name an existing job") from None
        if flag == "after" and r.state in (State.FAILED, State.CANCELLED):
            raise JobStateError(f"cannot wait for job {r.id} to succeed: it already {r.state}; "
                                "use --after-finished to start after it whatever its outcome")
        out.append(r.id)
    return list(dict.fromkeys(out))


def prepare(spool: Spool, jobs: Sequence[Job]) -> set[str]:
    """Before placing new jobs: the ids of those that must wait (their index entries are
    then written and durable). Jobs of the same batch count as waiting."""
    if not any(is_blocking(j) for j in jobs):
        return set()
    known: Known = {j.id: State.PENDING for j in jobs}
    blocked = [j for j in jobs if is_blocking(j) and verdict(spool, j, known=known)[0] != READY]
    register(spool, blocked)
    return {j.id for j in blocked}


# -- letting blocked jobs go -------------------------------------------------------------


def on_final(spool: Spool, job_id: str, state: str | None) -> None:
    """Call after job `job_id`'s final `state` is durable (None: it is gone for good,
    moved to corrupt/ or removed with its queue): releases its dependents whose
    conditions now hold, cancels (transitively) those its failure dooms. One failed
    listing when nobody waits on it."""
    work: list[tuple[str, State | None]] = [(job_id, None if state is None else State(state))]
    while work:
        jid, st = work.pop()
        waiting = entries(spool, jid)
        if not waiting:
            continue
        by_queue: dict[str, list[str]] = {}
        for queue, dep_id in waiting:
            by_queue.setdefault(queue, []).append(dep_id)
        for queue, ids in by_queue.items():
            try:
                work += [(did, State.CANCELLED) for did in settle(spool, queue, ids, known={jid: st}, cause=jid)]
            except SpoolError:
                continue  # a lock that timed out, a queue removed: the runners' sweep comes back to it
        drop_dir(spool.layout.deps(jid))
    if state is None:  # nor can it be retried: no .cancelled notes to keep for that
        forget_notes(spool, job_id)


def settle(spool: Spool, queue: str, ids: Sequence[str], known: Known | None = None,
           now: float | None = None, cause: str | None = None) -> list[str]:
    """Look at blocked jobs of `queue`: release the ready, cancel the doomed. Returns the
    ids cancelled (their dependents need on_final in turn). With `cause` (the job that
    just ended), its deps/ entries for them are dropped or, for those it doomed, kept as
    the note `retry --with-dependents` reads. Files are read before the queue's lock is
    taken; under it, only renames (and a re-read for a job that changed meanwhile)."""
    known = {} if known is None else known
    now = time.time() if now is None else now
    lay = spool.layout
    cancelled: list[str] = []
    elsewhere: list[str] = []
    looked: dict[str, tuple[str, str, str, Job, bytes]] = {}  # id -> (name, verdict, why, job, bytes)
    by_id = {p.id: p for p in spool.pending(queue)}
    for did in ids:
        p = by_id.get(did)
        if p is not None and (p.blocked or p.held):
            try:
                job, original = spool.load(lay.pending(queue) / p.name, p.id, queue, p.state)
            except SpoolError:
                continue
            looked[did] = (p.name, *verdict(spool, job, now, known), job, original)
    if not any(did in by_id for did in ids):
        elsewhere, ids = list(ids), []  # none here: no lock to take
    with spool.lock(queue) if ids else contextlib.nullcontext():
        by_id = {p.id: p for p in spool.pending(queue)} if ids else {}
        changed = False
        for did in ids:
            p = by_id.get(did)
            if p is None:
                elsewhere.append(did)
                continue
            changed |= _settle_one(spool, queue, p, looked.get(did), known, now, cause, cancelled)
        if changed:
            atomic.fsync_dir(lay.pending(queue))
    for did in elsewhere:  # moved to another queue since it was indexed, placed meanwhile, or no longer waiting
        entry = lay.deps(cause) / f"{queue}.{did}.dep" if cause is not None else None
        try:
            r: JobRef | None = spool.find(did)
        except JobNotFound:
            if entry is not None and lay.pending(queue).is_dir() and _younger(spool, entry, STALE_INDEX):
                continue  # its submit may be placing it, and die before its own recheck: the sweep looks again
            r = None
        except SpoolError:
            continue  # no proof of anything: the entry stays for the sweep
        if r is not None and r.pending is not None and (r.queue != queue or not ids):
            cancelled += settle(spool, r.queue, [did], known, now, cause)  # (not ids: listed without the lock)
        if entry is not None:
            atomic.unlink_quietly(entry)
    return cancelled


def _settle_one(spool: Spool, queue: str, p: PendingName, looked: tuple[str, str, str, Job, bytes] | None,
                known: Known, now: float, cause: str | None, cancelled: list[str]) -> bool:
    """One waiting job under its queue's lock (`looked`: what was read of it before); True
    if its file was renamed."""
    lay = spool.layout
    src = lay.pending(queue) / p.name
    index = lay.deps(cause) / f"{queue}.{p.id}.dep" if cause else None
    if not (p.blocked or p.held):
        if index is not None:
            atomic.unlink_quietly(index)
        return False
    if looked is None or looked[0] != p.name:  # changed since we read it (held, moved, edited)
        try:
            job, original = spool.load(src, p.id, queue, p.state)
        except SpoolError:
            return False
        looked = (p.name, *verdict(spool, job, now, known), job, original)
    _, what, why, job, original = looked
    if what == DOOMED:
        t = time.time()
        done = msgspec.structs.replace(job, result=Result(
            state=State.CANCELLED, reason="dependency", finished_at=t, by=actor(), attempt=job.attempt, message=why))
        if cause is not None:  # the note first: a crash leaves at worst a note for a job still waiting
            create_entry(lay.deps(cause), f"{queue}.{p.rank:016x}.{p.priority:+d}.{p.id}.cancelled")
        if not commit(lay.tmp, src, lay.done(queue) / done_name(p.id, State.CANCELLED, t), encode_job(done, original),
                      "cancel", p.id, sync=(lay.done(queue),)):
            return False
        cancelled.append(p.id)
        known[p.id] = State.CANCELLED
        spool.record(p.id, "cancel", why)
    elif what == READY and p.blocked:
        if not atomic.commit_rename(src, lay.pending(queue) / pending_name(p.rank, p.priority, p.id)):
            return False
    if index is not None:
        atomic.unlink_quietly(index)
    return True


def release_due(spool: Spool, queue: str, now: float | None = None) -> float | None:
    """Let the blocked jobs of `queue` whose start time has come go (if nothing else
    holds them). Returns the next start time still ahead (epoch seconds), or None."""
    now = time.time() if now is None else now
    d = spool.layout.due(queue)
    names = list_names(d)
    if not names:
        return None
    due, ahead = [], None
    for name in names:
        m = DUE_RE.fullmatch(name)
        if m is None:
            continue
        at = int(m["ms"]) / 1000
        if at <= now:
            due.append((name, m["id"]))
        elif ahead is None or at < ahead:
            ahead = at
    if due:
        for did in settle(spool, queue, [i for _, i in due], now=now):
            on_final(spool, did, State.CANCELLED)  # its own dependents, now rather than at the next sweep
        for name, _ in due:
            atomic.unlink_quietly(d / name)
    return ahead


def recheck(spool: Spool, jobs: Iterable[Job]) -> None:
    """After placing blocked jobs: a dependency that ended while we placed them did not
    see them; look at them ourselves (releasing or cancelling them as on_final would)."""
    by_queue: dict[str, list[str]] = {}
    for job in jobs:
        by_queue.setdefault(job.queue, []).append(job.id)
    known: Known = {}
    for queue, ids in by_queue.items():
        for did in settle(spool, queue, ids, known):
            on_final(spool, did, State.CANCELLED)


def sweep(spool: Spool, now: float | None = None) -> int:
    """Repair after crashes: for each deps/ID/ whose job ended, do what its on_final
    did not finish; settle the dependents of a job moved to corrupt/ (it can never end:
    nobody else calls on_final for it); remove the index of a job that is nowhere after
    STALE_INDEX. Also releases start times that have come in every queue. Returns how
    many jobs it looked at."""
    root = spool.layout.deps_root
    n = 0
    ids = list_names(root)
    known: Known = {i: State(r.state) for i, r in spool.every_ref().items()} if ids else {}
    aside = quarantined_ids(spool) if ids else set()
    for job_id in ids:
        st = state_of(spool, job_id, known)
        if st in FINAL or st is None and job_id in aside:
            n += len(entries(spool, job_id))
            on_final(spool, job_id, st)
        elif st is None:
            _drop_stale(spool, job_id, known, now)
    for queue in spool.queue_names():
        release_due(spool, queue, now)
    return n


def _drop_stale(spool: Spool, job_id: str, known: Known, now: float | None) -> None:
    d = spool.layout.deps(job_id)
    if _younger(spool, d, STALE_INDEX):
        return  # a submit may be placing job_id right now
    for queue, did in entries(spool, job_id):  # the dependency vanished: its dependents cannot go on
        for cancelled in settle(spool, queue, [did], known, now):
            on_final(spool, cancelled, State.CANCELLED)
    for name in list_names(d):
        atomic.unlink_quietly(d / name)
    drop_dir(d)


# -- helpers ---------------------------------------------------------------------------


def _younger(spool: Spool, path: Path, seconds: float) -> bool:
    """Was `path` written in the last `seconds` (by the filesystem's clock)? False if it
    is gone; True if that cannot be told (no proof it is old)."""
    try:
        return atomic.fs_now(spool.layout.tmp) - os.lstat(path).st_mtime < seconds
    except FileNotFoundError:
        return False
    except (OSError, SpoolError):
        return True
