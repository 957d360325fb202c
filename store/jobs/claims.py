"""The runner's state changes: claim, finish, give back, recover; and cancel requests.

One `Claims` object per runner holds what makes these fast enough to dispatch many
short jobs a second: each queue's lock file stays open (flock on a kept descriptor,
not a new lock file each time), queue.json is re-read only when it was replaced, the
sorted listing of pending/ is kept valid by inotify on local filesystems, and the
directory fsyncs of a turn of the runner's loop are done once for all its renames.

  claim_next     pending -> running/ID.US.job: the first eligible job, under the queue's
                 slot limit counted across every host (the running/ directory is shared)
  finish         running -> done with a Result; or, for a failure with attempts left,
                 running -> pending as the next attempt
  give_back      running -> pending at the place it was claimed from (attempt + 1):
                 what a stopping runner does with --requeue-on-stop
  recover_lost   the running jobs of lost runners (any host): renamed to our own name
                 first, then back to their place, at most MAX_LOST times, then failed
                 `runner-lost`; cancelled if a cancel was asked meanwhile

Each follows the protocol of layout.py: the commit is one rename under the queue's
lock, and the new content (the claim, the result) is staged and fsynced in tmp/ and
renamed over the committed file under the same lock.

A job's own `--retries` count its own failures; a lost or stopping runner is the
infrastructure's failure and never uses them up. Headless: no processes are started
here, the runner (coreflow_tui.runner) does that.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import msgspec

from .. import atomic, deps
from ..atomic import commit_rename
from ..errors import CorruptJob, JobNotFound, SpoolError
from ..layout import RUNNING_RE, PendingName, parse_pending, running_name
from ..listing import list_names
from ..model import CancelRequest, Claim, Job, Result, encode_job
from ..names import format_rank
from ..preflight import UnsafeSpool, check_labels, check_safe
from ..runners import RunnerState, fs_now, runners
from .journal import journaled_claims, journaled_result
from ..refs import JobRef
from ..states import State

from .cancel import cancel_request
from .batches import ResultBatches
from .claimbase import ClaimLost, Claimant, boottime, identity

MAX_LOST = 3  # times a job is given back after lost runners before it fails `runner-lost`
INFRA_REASONS = frozenset({"runner-lost", "runner-stopped"})
NEEDS_LABELS = "needs-labels"  # claim_next: a waiting job this runner lacks the labels for


@dataclass(slots=True)
class ClaimOutcome:
    """What a claim attempt found. `status`: claimed, empty (nothing waiting), full (the
    queue's slots are all busy), paused, or ineligible (waiting jobs are held or need
    labels this runner lacks). `jobs`: what was claimed, in run order; `job` the first."""

    status: str
    job: Job | None = None
    warnings: list[str] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


@dataclass(slots=True)
class Recovered:
    job_id: str
    queue: str
    outcome: str  # pending | failed | cancelled | finished (its result was already written)
    runner: str  # the lost runner
    host: str
    note: str
    state: str = ""  # the job's state now: pending, or its final state (for "finished": its result's)


class Claims(ResultBatches):
    """One runner's access to the spool's state: claims, results, give-backs, recovery."""

    # -- claim -----------------------------------------------------------------------

    def claim_next(self, queue: str, now: float | None = None, limit: int = 1) -> ClaimOutcome:
        """Claim the first eligible pending jobs of `queue`, up to `limit` and the queue's
        free slots, under one hold of its lock."""
        pend_dir, run_dir, _ = self._qdirs(queue)
        warnings: list[str] = []
        self._release_due(queue)
        got: list[Job] = []
        with self.lock(queue):
            config = self.queue_config(queue)
            if config.paused:
                return ClaimOutcome("paused")
            names = self._pending.listing(queue, pend_dir) if self._pending else sorted(list_names(pend_dir))
            if not any(n[-4:] == ".job" for n in names):
                return ClaimOutcome(_idle(names))
            free = config.slots - self._running_count(run_dir)
            if free <= 0:
                return ClaimOutcome("full")
            ineligible = False
            for name in list(names):  # name order is run order (a copy: a claim removes its name)
                if name[-4:] != ".job":
                    continue
                p = parse_pending(name)
                if p is None:
                    continue
                job = self._claim_one(queue, name, p, now, warnings)
                if job is NEEDS_LABELS:
                    ineligible = True
                    continue
                if not isinstance(job, Job):
                    continue
                got.append(job)
                if len(got) >= min(limit, free):
                    break
        if got:
            return ClaimOutcome("claimed", got[0], warnings, got)
        return ClaimOutcome("ineligible" if ineligible or _idle(names) == "ineligible" else "empty",
                            warnings=warnings)

    def _claim_one(self, queue: str, name: str, p: PendingName, now: float | None,
                   warnings: list[str]) -> Job | str | None:
        """Claim one pending job (the queue's lock is held): None if it is gone or corrupt
        (then a warning says so), NEEDS_LABELS if this runner lacks its labels."""
        pend_dir, run_dir, _ = self._qdirs(queue)
        src = f"{pend_dir}/{name}"
        try:
            job, original = self.spool.load(src, p.id, queue, State.PENDING, refuse_world_writable=True)
        except JobNotFound:
            self._forget_listing(queue)
            return None  # moved aside by a reader that found it corrupt
        except CorruptJob as exc:
            self._forget_listing(queue)
            warnings.append(str(exc))
            return None
        if job.requires and not set(job.requires) <= self.me.labels:
            return NEEDS_LABELS
        me = self.me
        claim = Claim(runner=me.runner, host=me.host, pid=me.pid, rank=format_rank(p.rank),
                      priority=p.priority, claimed_at=time.time() if now is None else now)
        self._journal.add(job.id, job.attempt, claim)  # before the rename: see layout.py
        dest = f"{run_dir}/{running_name(p.id, me.runner)}"  # ours alone: see layout.py
        try:
            claimed = commit_rename(src, dest)
        except SpoolError:
            self._journal.drop(job.id)
            raise
        if not claimed:
            self._journal.drop(job.id)
            self._forget_listing(queue)
            return None
        if self._pending:
            self._pending.removed(queue, name)
        self._dirty_dirs.update((run_dir, pend_dir))
        self._mine[job.id] = (identity(os.lstat(dest)), original)
        return msgspec.structs.replace(job, claim=claim, result=None)

    def record_claim(self, job: Job) -> None:
        """Write the claim of a job we run into its running file: who runs it, where,
        since when, and the place it was claimed from.

        The claim itself is the rename (and a line in our claims journal, which names us
        as the job's runner until then), so that a short job costs no rewrite: a runner
        calls this for a job still running a moment later. Raises ClaimLost if the job
        is no longer ours.
        """
        src = self._mine_path(job)
        since = boottime()
        with self.lock(job.queue):
            original = self._own(job, src)
            if original is None:
                return  # the file turned corrupt and was moved aside: finish() records our copy
            self._mine[job.id] = (self._rewrite(src, encode_job(job, original), (os.path.dirname(src),)), original)
            self._unless_taken(job, src, since)

    # -- finish ----------------------------------------------------------------------

    def finish(self, job: Job, result: Result) -> str:
        """Record the result of a job this runner ran. Returns the job's new state: the
        result's state, or "pending" when a failure had attempts left (queued again
        behind the jobs of the same or higher priority, as `retry` does).

        Raises ClaimLost if the job is no longer ours: the result is then not recorded.
        """
        queue = job.queue
        src = self._mine_path(job)
        retried = self.queued_again(job, result)
        staged = None
        mine = self._mine.get(job.id)
        if not retried:  # write and fsync the done/ file before taking the lock
            data = encode_job(msgspec.structs.replace(job, result=result), mine[1] if mine else None)
            staged = str(atomic.stage(self._tmp, data, job.id))
        since = boottime()
        try:
            with self.lock(queue):
                original = self._own(job, src)
                if retried:
                    self._unless_taken(job, self._to_pending(job, original, src, result, at_old_place=False), since)
                    self._forget_mine(job.id)
                    return State.PENDING
                staged, placing = None, staged
                if original is not (mine[1] if mine else None):  # rewritten meanwhile (annotate): stage anew
                    atomic.unlink_quietly(placing)
                    placing = None
                self._unless_taken(job, self._to_done(job, original, src, result, placing), since)
                self._forget_mine(job.id)  # not before: a finish that failed is tried again
            deps.on_final(self.spool, job.id, result.state)
            return result.state
        finally:
            if staged:  # not placed: ClaimLost, or an error before the rename
                atomic.unlink_quietly(staged)

    def queued_again(self, job: Job, result: Result) -> bool:
        """Does this result queue the job again (a failure of its own, attempts left)?"""
        return result.state == State.FAILED and result.reason not in INFRA_REASONS \
            and own_attempts(job) < job.max_attempts

    def give_back(self, job: Job, result: Result) -> str:
        """Put a job this runner stopped back where it was claimed from, as its next
        attempt (`result`, reason runner-stopped, goes into its history). A cancel asked
        for meanwhile wins: then the job ends cancelled. Returns the new state."""
        src = self._mine_path(job)
        since = boottime()
        with self.lock(job.queue):
            original = self._own(job, src)
            req = self.cancel_request(job.queue, job.id)
            if req is not None:
                state = State.CANCELLED
                placed = self._to_done(job, original, src, msgspec.structs.replace(
                    result, state=State.CANCELLED, reason="cancelled", by=req.by))
            else:
                placed = self._to_pending(job, original, src, result, at_old_place=True)
                state = State.PENDING
            self._unless_taken(job, placed, since)
            self._forget_mine(job.id)
        if state == State.CANCELLED:
            deps.on_final(self.spool, job.id, state)
        return state

    def is_mine(self, job: Job) -> bool:
        """Do we still count this job as ours (claimed, result not yet recorded)?"""
        return job.id in self._mine

    def still_ours(self, job: Job) -> bool:
        """Is this running job still claimed by us, as this attempt?"""
        try:
            self._own(job, self._mine_path(job))
        except ClaimLost:
            return False
        return True

    # -- lost runners ------------------------------------------------------------------

    def recover_lost(self, grace: float, queues: list[str] | None = None) -> list[Recovered]:
        """Take back the running jobs of lost runners, on any host.

        The running file's name says whose a job is (running/ID.RUNNER.job). That
        runner is lost when its heartbeat is older than its lease plus the margin (by
        the filesystem's clock; its watchdog has stopped the job by then), or at once
        when it ran on this kernel and nobody holds its lock (runners.RunnerState). A
        job whose runner has no heartbeat at all is taken back once it has been in
        running/ for `grace` seconds (a heartbeat may be slow to show through NFS
        caches). A job back from a lost runner is its next attempt, at its old place
        (from its claim, or its runner's claims journal; else the top of its queue).
        Our own running files that we do not run (we crashed mid-takeover) count as lost.
        """
        spool = self.spool
        self.sweep_deps()
        found: list[JobRef] = []
        for q in queues if queues is not None else spool.queue_names():
            try:
                found += spool.running_refs(q)
            except SpoolError:
                continue
        found = [r for r in found if r.id not in self._mine or _owner(r) != self.me.runner]
        if not found:
            return []
        # Runners are listed after the jobs: a runner that claimed one of them beat before it.
        now = fs_now(spool)
        states = {r.beat.id: r for r in runners(spool, now)}
        journal: dict[tuple[str, int], Claim] | None = None
        out = []
        for r in found:
            owner = _owner(r)
            state = states.get(owner or "")
            if owner != self.me.runner and state is not None and not state.lost:
                continue
            path = r.file
            try:
                st = os.lstat(path)
                job, _ = spool.load(path, r.id, r.queue, State.RUNNING)
            except (JobNotFound, FileNotFoundError, CorruptJob):
                continue
            claim = job.claim
            if claim is None:  # not written into the file yet: its runner's journal has it
                if journal is None:
                    journal = journaled_claims(spool)
                claim = journal.get((r.id, job.attempt))
            if owner is None:  # an older runner's running/ID.job: only its claim names it
                owner = claim.runner if claim else None
                state = states.get(owner or "")
                if owner == self.me.runner or state is not None and not state.lost:
                    continue
            # A rename keeps mtime but sets ctime: ctime says when it entered running/.
            if state is None and owner != self.me.runner and now - max(st.st_mtime, st.st_ctime) <= grace:
                continue
            try:
                got = self._recover_one(r, owner, state, claim)
            except SpoolError:
                continue
            if got is not None:
                out.append(got)
                if got.state != State.PENDING:
                    deps.on_final(spool, got.job_id, got.state)
        return out

    def _recover_one(self, r: JobRef, owner: str | None, state: RunnerState | None,
                     claim: Claim | None) -> Recovered | None:
        """Take one lost job over: first rename it to our own running name (of two
        takers, one wins, unambiguously), then requeue or finish it from there."""
        queue = r.queue
        path = f"{self._qdirs(queue)[1]}/{running_name(r.id, self.me.runner)}"
        with self.lock(queue):
            if not commit_rename(r.file, path):
                return None  # another runner took it over first, or it moved on
            self._dirty_dirs.add(self._qdirs(queue)[1])
            try:
                job, original = self.spool.load(path, r.id, queue, State.RUNNING)
            except (JobNotFound, CorruptJob):
                return None
            if job.result is None and owner:  # ended, its result flushed, but not yet in done/
                job = msgspec.structs.replace(job, result=journaled_result(self.spool, owner, job))
            if job.claim is None and claim is not None:
                job = msgspec.structs.replace(job, claim=claim)  # as its runner's journal has it
            claim = job.claim
            runner = owner or (claim.runner if claim else "?")
            host = state.beat.host if state is not None else claim.host if claim else "?"
            why = (f"runner {runner} on {host} is gone (nobody holds its lock)" if state is not None
                   and state.locked is False
                   else f"runner {runner} on {host} stopped beating (lease {state.beat.lease:g}s)"
                   if state is not None
                   else f"runner {runner} on {host} left no heartbeat" if runner != "?"
                   else "the runner that claimed it is unknown and gone (it recorded no claim)")
            lost = Result(state=State.FAILED, reason="runner-lost", started_at=claim.claimed_at if claim else None,
                          finished_at=time.time(), host=None if host == "?" else host,
                          runner=None if runner == "?" else runner, attempt=job.attempt, message=why)
            req = self.cancel_request(queue, job.id)
            final = None
            if job.result is not None:  # it had ended; its runner died before moving it on
                self._to_done(job, original, path, job.result)
                outcome, why, final = "finished", f"{why}, after the job ended ({job.result.state})", job.result.state
            elif req is not None:
                self._to_done(job, original, path, msgspec.structs.replace(
                    lost, state=State.CANCELLED, reason="cancelled", by=req.by))
                outcome = State.CANCELLED
            elif job.lost >= MAX_LOST:
                self._to_done(job, original, path, msgspec.structs.replace(
                    lost, message=f"{why}; lost {job.lost + 1} times, not requeued again"))
                outcome = State.FAILED
            else:
                self._to_pending(job, original, path, lost, at_old_place=True)
                outcome = State.PENDING
        return Recovered(job.id, queue, outcome, runner, host, why, final or outcome)

    # -- cancel requests ---------------------------------------------------------------

    def cancel_request(self, queue: str, job_id: str) -> CancelRequest | None:
        """The request to stop a running job (see changes.cancel), or None."""
        return cancel_request(self.spool, queue, job_id)


# -- module functions --------------------------------------------------------------


def own_attempts(job: Job) -> int:
    """Attempts that count against the job's retries: all but those its runners lost."""
    return job.attempt - sum(1 for h in job.history if h.reason in INFRA_REASONS)


# -- helpers -------------------------------------------------------------------------


def _idle(names: list[str]) -> str:
    return "ineligible" if any(n[-5:] in (".held", ".wait") for n in names) else "empty"


def _owner(r: JobRef) -> str | None:
    """The runner a running file's name says holds it (None for an older runner's ID.job)."""
    m = RUNNING_RE.fullmatch(os.path.basename(r.file))
    return m["runner"] if m else None


__all__ = [
    "INFRA_REASONS", "MAX_LOST", "ClaimLost", "ClaimOutcome", "Claimant", "Claims", "Recovered", "UnsafeSpool",
    "cancel_request", "check_labels", "check_safe", "own_attempts",
]
