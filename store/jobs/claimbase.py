"""The mechanics under a runner's transitions: its kept queue locks, the queue config
cache, its running files (which are still its own), the content written after a commit
(staged, renamed over, directory fsyncs batched per turn), and the two moves every
transition ends with: to done/ and back to pending/."""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from .. import atomic, deps
from ..atomic import commit_rename
from ..errors import CorruptJob, JobNotFound, JobStateError, SpoolError, StorageError
from ..mounts import choose_mode, filesystem_type, needs_polling
from ..layout import RUNNING_RE, cancel_name, done_name, pending_name, running_name
from ..listing import list_names
from ..model import Job, QueueConfig, Result, encode_job
from ..names import RANK_WIDTH, rank_between
from ..ordering import insert_rank
from ..pending_cache import PendingCache
from ..queuelock import QueueLocks
from .journal import ClaimsJournal
from ..spool import Spool
from ..states import State

SYNC_EVERY = 0.1  # seconds between directory fsyncs of a busy runner
DEPS_SWEEP_EVERY = 60.0  # seconds between a runner's repairs of the dependency index (deps.sweep)


HELD_UP = 0.5  # seconds: a state change that took longer may have raced a takeover (see _unless_taken)


class ClaimLost(JobStateError):
    """The running job is no longer this runner's (another runner took it over)."""


@dataclass(frozen=True, slots=True)
class Claimant:
    """The runner that claims: what its claims record, and the labels it has."""

    runner: str
    host: str
    pid: int
    labels: frozenset[str] = frozenset()


def boottime() -> float:
    return time.clock_gettime(_CLOCK)


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def identity(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def same_claim(current: Job, mine: Job) -> bool:
    a, b = current.claim, mine.claim
    if a is None and b is not None:
        # Our own running name, claim not written yet, rewritten by `coreflow annotate`.
        return current.attempt == mine.attempt
    if a is None or b is None:
        return a is b and current.attempt == mine.attempt
    return a.runner == b.runner and a.claimed_at == b.claimed_at and current.attempt == mine.attempt


class ClaimBase:
    """A runner's access to its queues and its running files (Claims adds the transitions)."""

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
        self._ended: set[str] = set()  # our running files whose process ended: their slots are free
        self._synced = 0.0
        self._dirs: dict[str, tuple[str, str, str]] = {}  # queue -> pending, running, done (str)
        self._meta_paths: dict[str, str] = {}
        self._tmp = str(spool.layout.tmp)
        self._journal = ClaimsJournal(spool, me.runner)
        # Other hosts' changes raise no inotify event: there, or where COREFLOW_WATCH says
        # not to trust it (a spool this host exports, say), list pending/ every time.
        self._local = not needs_polling(filesystem_type(spool.root)) and choose_mode(spool.root) == "inotify"
        self._pending = PendingCache() if self._local else None
        self._due: dict[str, tuple[int, float | None]] = {}  # queue -> (due/QUEUE mtime, next start time)
        self._swept = -DEPS_SWEEP_EVERY
        self._aside = self._corrupt_stamp()  # corrupt/'s mtime: a job moved there dooms its dependents

    # -- blocked jobs (store/deps.py) ------------------------------------------------------

    def _release_due(self, queue: str) -> None:
        """Let the queue's delayed jobs whose time has come go: one stat of due/QUEUE
        while nothing there is due (re-listed when it changed or its next time came)."""
        d = self.spool.layout.due(queue)
        try:
            mtime = os.stat(d).st_mtime_ns
        except FileNotFoundError:
            self._due.pop(queue, None)
            return
        hit = self._due.get(queue)
        if hit is not None and hit[0] == mtime and (hit[1] is None or hit[1] > time.time()):
            return
        try:
            ahead = deps.release_due(self.spool, queue)
        except SpoolError:
            return  # claiming what may run matters more; the next claim tries again
        try:
            self._due[queue] = (os.stat(d).st_mtime_ns, ahead)
        except FileNotFoundError:
            self._due.pop(queue, None)

    def next_due(self) -> float | None:
        """The next start time (epoch seconds) of a delayed job in the queues claimed
        from, if any: the runner wakes then to claim it."""
        times = [t for _, t in self._due.values() if t is not None]
        return min(times) if times else None

    def sweep_deps(self) -> None:
        """Repair what a crash between a job's end and releasing its dependents left
        (deps.sweep), at the first call, then every DEPS_SWEEP_EVERY seconds and whenever
        a file was moved to corrupt/ (by anyone: a job there never ends by itself)."""
        now = time.monotonic()
        aside = self._corrupt_stamp()
        if now - self._swept < DEPS_SWEEP_EVERY and aside == self._aside:
            return
        self._swept, self._aside = now, aside
        try:
            deps.sweep(self.spool)
        except SpoolError:
            pass  # must not stop the recovery of lost runners' jobs it runs before; again next time

    def _corrupt_stamp(self) -> int:
        try:
            return os.stat(self.spool.layout.corrupt).st_mtime_ns
        except OSError:
            return 0

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
        self.fsync_dirs(self.dirs_to_sync(force))

    def dirs_to_sync(self, force: bool = False) -> set[str]:
        """What sync() would fsync now, taken: for a caller that fsyncs them on another
        thread (fsync_dirs), so the loop does not wait for the disk."""
        now = time.monotonic()
        if not self._dirty_dirs or not force and now - self._synced < SYNC_EVERY:
            return set()
        self._synced = now
        dirs, self._dirty_dirs = self._dirty_dirs, set()
        return dirs

    @staticmethod
    def fsync_dirs(dirs: set[str]) -> None:
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
            ident = identity(os.lstat(staged))
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

    def queue_config(self, queue: str) -> QueueConfig:
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
        """Jobs running in a queue, on any host: its running files, but not ours whose
        process has ended (their results are on their way to done/: see batches.py)."""
        ended = self._ended
        return sum(1 for n in list_names(run_dir)
                   if n[-4:] == ".job" and RUNNING_RE.fullmatch(n) and (not ended or f"{run_dir}/{n}" not in ended))

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
                if identity(os.lstat(src)) == mine[0]:
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
        if same_claim(current, job):
            job.labels = current.labels  # added by `coreflow annotate` while it ran: keep them
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
        if original is None:  # moved aside as corrupt: the staged copy is all there is
            self._place(staged, dest, (pend_dir, run_dir))
        else:
            # The next attempt's content goes over our own running file first, and one
            # rename publishes it: a pending file holding the old attempt, even for a
            # moment, could be claimed by another host where locks do not exclude, and
            # then re-created by our rewrite (the job run twice, in two places).
            if not os.path.lexists(src):
                atomic.unlink_quietly(staged)
                raise ClaimLost(f"job {job.id} left running/ meanwhile")
            self._place(staged, src, (run_dir,))
            if not commit_rename(src, dest):
                raise ClaimLost(f"job {job.id} left running/ meanwhile")
            self._dirty_dirs.add(pend_dir)
        self._forget_listing(queue)  # a name we added: re-list rather than track it
        self._drop_cancel_request(queue, job.id)
        return dest

    def _unless_taken(self, job: Job, placed: str, since: float) -> None:
        """After a change that took long (we were frozen or stuck between the check that
        the job is ours and our rename), make sure nobody took it over meanwhile: where
        locks do not exclude other hosts, a taker may have. If the job is also anywhere
        else, what we placed is stale: remove it, and the job stays the taker's."""
        if boottime() - since < HELD_UP:
            return
        elsewhere = [f"{d}/{n}" for d in self._qdirs(job.queue) for n in list_names(d)
                     if job.id in n and f"{d}/{n}" != placed and not n.endswith(".cancel")]
        if not elsewhere:
            return
        atomic.unlink_quietly(placed)
        self._forget_mine(job.id)
        raise ClaimLost(f"job {job.id} was taken over while this runner was held up "
                        f"({os.path.basename(elsewhere[0])}); what it wrote meanwhile was removed")
