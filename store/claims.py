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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from . import atomic, safeio
from .atomic import commit_rename
from .ordering import insert_rank
from .feed import filesystem_type, needs_polling
from .errors import CorruptJob, JobNotFound, JobStateError, SpoolError, StorageError
from .layout import RUNNING_RE, cancel_name, done_name, parse_pending, pending_name, running_name
from .model import CancelRequest, Claim, Job, QueueConfig, Result, decode, encode_job
from .names import RANK_WIDTH, format_rank, rank_between
from .runners import ClaimsJournal, RunnerState, fs_now, journaled_claims, runners
from .pending_cache import PendingCache
from .preflight import UnsafeSpool, check_labels, check_safe
from .queuelock import QueueLocks
from .listing import list_names
from .spool import JobRef, Spool
from .states import State

SYNC_EVERY = 0.1  # seconds between directory fsyncs of a busy runner
HELD_UP = 0.5  # seconds: a state change that took longer may have raced a takeover (see _unless_taken)
MAX_LOST = 3  # times a job is given back after lost runners before it fails `runner-lost`
INFRA_REASONS = frozenset({"runner-lost", "runner-stopped"})


class ClaimLost(JobStateError):
    """The running job is no longer this runner's (another runner took it over)."""


@dataclass(frozen=True, slots=True)
class Claimant:
    """The runner that claims: what its claims record, and the labels it has."""

    runner: str
    host: str
    pid: int
    labels: frozenset[str] = frozenset()


@dataclass(slots=True)
class ClaimOutcome:
    """What a claim attempt found. `status`: claimed, empty (nothing waiting), full (the
    queue's slots are all busy), paused, or ineligible (waiting jobs are held or need
    labels this runner lacks)."""

    status: str
    job: Job | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Recovered:
    job_id: str
    queue: str
    outcome: str  # pending | failed | cancelled | finished (its result was already written)
    runner: str  # the lost runner
    host: str
    note: str


class Claims:
    """One runner's access to the spool's state: claims, results, give-backs, recovery."""

    def __init__(self, spool: Spool, me: Claimant) -> None:
        self.spool = spool
        self.me = me
        self._qlocks = QueueLocks(spool)
        self._configs: dict[str, tuple[tuple[int, int, int], QueueConfig]] = {}
        # job id -> (identity of its running file as we placed it, or None once it was
        # moved aside as corrupt; its original bytes):
        # lets finish() know the file is still ours without reading it back.
        self._mine: dict[str, tuple[tuple[int, int, int] | None, bytes | None]] = {}
        self._dirty_dirs: set[str] = set()
        self._synced = 0.0
        self._dirs: dict[str, tuple[str, str, str]] = {}  # queue -> pending, running, done (str)
        self._meta_paths: dict[str, str] = {}
        self._tmp = str(spool.layout.tmp)
        self._journal = ClaimsJournal(spool, me.runner)
        # Other hosts' changes raise no inotify event: there, list pending/ every time.
        self._pending = None if needs_polling(filesystem_type(spool.root)) else PendingCache()

    # -- claim -----------------------------------------------------------------------

    def claim_next(self, queue: str, now: float | None = None) -> ClaimOutcome:
        """Claim the first eligible pending job of `queue`, if the queue has a free slot."""
        pend_dir, run_dir, _ = self._qdirs(queue)
        warnings: list[str] = []
        with self.lock(queue):
            config = self._config(queue)
            if config.paused:
                return ClaimOutcome("paused")
            names = self._pending.listing(queue, pend_dir) if self._pending else sorted(list_names(pend_dir))
            if not any(n[-4:] == ".job" for n in names):
                return ClaimOutcome(_idle(names))
            if self._running_count(run_dir) >= config.slots:
                return ClaimOutcome("full")
            ineligible = False
            for name in names:  # name order is run order (removed() is followed by a return)
                if name[-4:] != ".job":
                    continue
                p = parse_pending(name)
                if p is None:
                    continue
                src = f"{pend_dir}/{name}"
                try:
                    job, original = self.spool.load(src, p.id, queue, State.PENDING, refuse_world_writable=True)
                except JobNotFound:
                    self._forget_listing(queue)
                    continue  # moved aside by a reader that found it corrupt
                except CorruptJob as exc:
                    self._forget_listing(queue)
                    warnings.append(str(exc))
                    continue
                if job.requires and not set(job.requires) <= self.me.labels:
                    ineligible = True
                    continue
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
                    continue
                if self._pending:
                    self._pending.removed(queue, name)
                self._dirty_dirs.update((run_dir, pend_dir))
                job = msgspec.structs.replace(job, claim=claim, result=None)
                self._mine[job.id] = (_identity(os.lstat(dest)), original)
                return ClaimOutcome("claimed", job, warnings)
        return ClaimOutcome("ineligible" if ineligible or _idle(names) == "ineligible" else "empty",
                            warnings=warnings)

    def record_claim(self, job: Job) -> None:
        """Write the claim of a job we run into its running file: who runs it, where,
        since when, and the place it was claimed from.

        The claim itself is the rename (and a line in our claims journal, which names us
        as the job's runner until then), so that a short job costs no rewrite: a runner
        calls this for a job still running a moment later. Raises ClaimLost if the job
        is no longer ours.
        """
        src = self._mine_path(job)
        since = _boottime()
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
        retried = result.state == State.FAILED and result.reason not in INFRA_REASONS \
            and own_attempts(job) < job.max_attempts
        staged = None
        if not retried:  # write and fsync the done/ file before taking the lock
            mine = self._mine.get(job.id)
            data = encode_job(msgspec.structs.replace(job, result=result), mine[1] if mine else None)
            staged = str(atomic.stage(self._tmp, data, job.id))
        since = _boottime()
        try:
            with self.lock(queue):
                original = self._own(job, src)
                if retried:
                    self._unless_taken(job, self._to_pending(job, original, src, result, at_old_place=False), since)
                    self._forget_mine(job.id)
                    return State.PENDING
                staged, placing = None, staged
                self._unless_taken(job, self._to_done(job, original, src, result, placing), since)
                self._forget_mine(job.id)  # not before: a finish that failed is tried again
            return result.state
        finally:
            if staged:  # not placed: ClaimLost, or an error before the rename
                atomic.unlink_quietly(staged)

    def give_back(self, job: Job, result: Result) -> str:
        """Put a job this runner stopped back where it was claimed from, as its next
        attempt (`result`, reason runner-stopped, goes into its history). A cancel asked
        for meanwhile wins: then the job ends cancelled. Returns the new state."""
        src = self._mine_path(job)
        since = _boottime()
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
            if job.result is not None:  # it had ended; its runner died before moving it on
                self._to_done(job, original, path, job.result)
                outcome, why = "finished", f"{why}, after the job ended ({job.result.state})"
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
        return Recovered(job.id, queue, outcome, runner, host, why)

    # -- cancel requests ---------------------------------------------------------------

    def cancel_request(self, queue: str, job_id: str) -> CancelRequest | None:
        """The request to stop a running job (see changes.cancel), or None."""
        return cancel_request(self.spool, queue, job_id)

    # -- content after a commit ----------------------------------------------------------

    def _drop_cancel_request(self, queue: str, job_id: str) -> None:
        try:
            os.unlink(f"{self._qdirs(queue)[1]}/{cancel_name(job_id)}")
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot remove the cancel request of job {job_id}") from exc

    def _mine_path(self, job: Job) -> str:
        """Where a job we claimed is while it runs: running/ID.US.job."""
        return f"{self._qdirs(job.queue)[1]}/{running_name(job.id, self.me.runner)}"

    def _qdirs(self, queue: str) -> tuple[str, str, str]:
        d = self._dirs.get(queue)
        if d is None:
            lay = self.spool.layout
            d = self._dirs[queue] = (str(lay.pending(queue)), str(lay.running(queue)), str(lay.done(queue)))
        return d

    def _forget_listing(self, queue: str) -> None:
        if self._pending:
            self._pending.forget(queue)

    def sync_due(self) -> float | None:
        """When (time.monotonic) sync() has renames to make durable, or None."""
        return self._synced + SYNC_EVERY if self._dirty_dirs else None

    def sync(self, force: bool = False) -> None:
        """Make the renames so far durable: fsync each directory they touched, once for
        all of them, at most every SYNC_EVERY seconds unless forced. (Each new content
        file is fsynced before it is renamed into place, and on ext4 that fsync commits
        the journal with the renames before it too; this is the portable guarantee.)"""
        now = time.monotonic()
        if not force and now - self._synced < SYNC_EVERY:
            return
        self._synced = now
        dirs, self._dirty_dirs = self._dirty_dirs, set()
        for d in dirs:
            try:
                atomic.fsync_dir(Path(d))
            except OSError:
                continue  # the directory went away (queue removed): nothing left to make durable

    def _forget_mine(self, job_id: str) -> None:
        self._mine.pop(job_id, None)
        self._journal.drop(job_id)

    def close(self) -> None:
        self.sync(force=True)
        self._journal.close()
        if self._pending:
            self._pending.close()
        self._qlocks.close()

    def _rewrite(self, dest: str, data: bytes, dirs: tuple[str, ...]) -> tuple[int, int, int]:
        """Replace the content of `dest`, which we just committed (the queue's lock is
        held): staged and fsynced in tmp/, renamed over. Returns the new file's identity."""
        return self._place(str(atomic.stage(self._tmp, data, os.path.basename(dest)[:40])), dest, dirs)

    def _place(self, staged: str, dest: str, dirs: tuple[str, ...]) -> tuple[int, int, int]:
        """Rename a staged (fsynced) file to `dest`; returns its identity. The staged
        file is gone afterwards, placed or removed."""
        try:
            ident = _identity(os.lstat(staged))
            os.rename(staged, dest)
        except OSError as exc:
            atomic.unlink_quietly(staged)
            raise StorageError.wrap(exc, f"cannot place {os.path.basename(dest)}") from exc
        self._dirty_dirs.update(dirs)
        return ident

    # -- locks and reads -------------------------------------------------------------

    def lock(self, queue: str) -> AbstractContextManager[None]:
        """The queue's lock (see store.queuelock.QueueLocks)."""
        return self._qlocks.lock(queue)

    def _config(self, queue: str) -> QueueConfig:
        """queue.json, re-read only when it was replaced (every change is a new inode)."""
        path = self._meta_paths.get(queue)
        if path is None:
            path = self._meta_paths[queue] = str(self.spool.layout.queue_meta(queue))
        try:
            st = os.stat(path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = (0, 0, 0)
        hit = self._configs.get(queue)
        if hit is not None and hit[0] == key:
            return hit[1]
        cfg = self.spool.queue_config(queue)
        self._configs[queue] = (key, cfg)
        return cfg

    def _running_count(self, run_dir: str) -> int:
        return sum(1 for n in list_names(run_dir) if n[-4:] == ".job" and RUNNING_RE.fullmatch(n))

    def _own(self, job: Job, src: str) -> bytes | None:
        """The on-disk bytes of our running job, checked to be still ours (lock held).

        If the file turned corrupt it has been moved aside: our copy stands in for it
        (None), so the result is still recorded and nothing is lost.
        """
        mine = self._mine.get(job.id)
        if mine is not None:
            if mine[0] is None:
                return None  # moved aside as corrupt earlier: still ours, our copy stands in
            try:
                if _identity(os.lstat(src)) == mine[0]:
                    return mine[1]  # the very file we placed: nobody replaced it
            except FileNotFoundError:
                pass
        try:
            current, original = self.spool.load(src, job.id, job.queue, State.RUNNING)
        except JobNotFound:
            self._forget_mine(job.id)
            raise ClaimLost(f"job {job.id} is no longer running here (taken over after a late heartbeat?)") from None
        except CorruptJob:
            self._mine[job.id] = (None, mine[1] if mine else None)
            return None
        if _same_claim(current, job):
            return original
        self._forget_mine(job.id)
        who = current.claim.runner if current.claim else "nobody"
        raise ClaimLost(f"job {job.id} is now claimed by {who} (attempt {current.attempt}), not by us")

    # -- transitions (the caller holds the queue's lock) ---------------------------------

    def _to_done(self, job: Job, original: bytes | None, src: str, result: Result, staged: str | None = None) -> str:
        """running -> done with `result`; `staged`: the new file, already written and fsynced.
        Returns the done file's path."""
        _, run_dir, done_dir = self._qdirs(job.queue)
        dest = f"{done_dir}/{done_name(job.id, result.state, result.finished_at)}"
        if staged is None:
            data = encode_job(msgspec.structs.replace(job, result=result), original)
            staged = str(atomic.stage(self._tmp, data, os.path.basename(src)[:40]))
        if original is None:  # our copy stands in for a file that turned corrupt
            self._place(staged, dest, (done_dir,))
        else:
            # The result goes in first, then the rename: killed in between, the job is
            # still running/ but carries its result, and whoever recovers it finishes it.
            self._place(staged, src, (run_dir,))
            if not commit_rename(src, dest):
                raise ClaimLost(f"job {job.id} left running/ meanwhile")
            self._dirty_dirs.update((done_dir, run_dir))
        self._drop_cancel_request(job.queue, job.id)
        return dest

    def _to_pending(self, job: Job, original: bytes | None, src: str, result: Result, at_old_place: bool) -> str:
        """running -> pending as the next attempt; returns the pending file's path.

        At its old place for a job its runner gave up (the rank it was claimed from; the
        top if unknown), behind the jobs of its priority for a retry of its own failure.
        """
        lay, queue = self.spool.layout, job.queue
        claim = job.claim
        priority = claim.priority if claim and at_old_place else job.priority
        rank = None
        if at_old_place and claim and len(claim.rank) == RANK_WIDTH:
            try:
                rank = int(claim.rank, 16)
            except ValueError:
                rank = None
        if rank is None:  # list the queue only when the old place is unknown
            order = self.spool.pending(queue)
            if at_old_place:
                rank = rank_between(None, order[0].rank) if order else rank_between(None, None)
            else:
                rank = insert_rank(self.spool, queue, order, priority)
        pend_dir, run_dir = str(lay.pending(queue)), str(lay.running(queue))
        dest = f"{pend_dir}/{pending_name(rank, priority, job.id)}"
        nxt = msgspec.structs.replace(
            job, claim=None, result=None, attempt=job.attempt + 1, history=[*job.history, result],
            lost=job.lost + (result.reason == "runner-lost"))
        # Staged first: a full disk fails here, before the commit, and leaves it running/.
        staged = str(atomic.stage(self._tmp, encode_job(nxt, original), job.id))
        if original is not None and not commit_rename(src, dest):
            atomic.unlink_quietly(staged)
            raise ClaimLost(f"job {job.id} left running/ meanwhile")
        self._place(staged, dest, (pend_dir, run_dir))  # the new content (or, for a corrupt file, the job)
        self._forget_listing(queue)  # a name we added: re-list rather than track it
        self._drop_cancel_request(queue, job.id)
        return dest

    def _unless_taken(self, job: Job, placed: str, since: float) -> None:
        """After a change that took long (we were frozen or stuck between the check that
        the job is ours and our rename), make sure nobody took it over meanwhile: where
        locks do not exclude other hosts, a taker may have. If the job is also anywhere
        else, what we placed is stale: remove it, and the job stays the taker's."""
        if _boottime() - since < HELD_UP:
            return
        elsewhere = [f"{d}/{n}" for d in self._qdirs(job.queue) for n in list_names(d)
                     if job.id in n and f"{d}/{n}" != placed and not n.endswith(".cancel")]
        if not elsewhere:
            return
        atomic.unlink_quietly(placed)
        self._forget_mine(job.id)
        raise ClaimLost(f"job {job.id} was taken over while this runner was held up "
                        f"({os.path.basename(elsewhere[0])}); what it wrote meanwhile was removed")


# -- module functions --------------------------------------------------------------


def own_attempts(job: Job) -> int:
    """Attempts that count against the job's retries: all but those its runners lost."""
    return job.attempt - sum(1 for h in job.history if h.reason in INFRA_REASONS)


def cancel_request(spool: Spool, queue: str, job_id: str) -> CancelRequest | None:
    """The request to stop a running job (see changes.cancel), or None."""
    path = spool.layout.running(queue) / cancel_name(job_id)
    try:
        data = safeio.read_job(path)
    except FileNotFoundError:
        return None
    except (CorruptJob, StorageError):
        return CancelRequest(by="unknown", at=0.0)
    try:
        return decode(data, CancelRequest, f"cancel request of job {job_id}")  # type: ignore[no-any-return]
    except CorruptJob:
        return CancelRequest(by="unknown", at=0.0)  # a torn request still asks to stop


# -- helpers -------------------------------------------------------------------------


def _idle(names: list[str]) -> str:
    return "ineligible" if any(n[-5:] == ".held" for n in names) else "empty"


def _boottime() -> float:
    return time.clock_gettime(_CLOCK)


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def _owner(r: JobRef) -> str | None:
    """The runner a running file's name says holds it (None for an older runner's ID.job)."""
    m = RUNNING_RE.fullmatch(os.path.basename(r.file))
    return m["runner"] if m else None


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _same_claim(current: Job, mine: Job) -> bool:
    a, b = current.claim, mine.claim
    if a is None or b is None:
        return a is b and current.attempt == mine.attempt
    return a.runner == b.runner and a.claimed_at == b.claimed_at and current.attempt == mine.attempt


__all__ = [
    "INFRA_REASONS", "MAX_LOST", "ClaimLost", "ClaimOutcome", "Claimant", "Claims", "Recovered", "UnsafeSpool",
    "cancel_request", "check_labels", "check_safe", "own_attempts",
]
