"""Group commit of a runner's results (layout.py, "Results"): journal, flush, publish, fold.

  journal_result   a job's process ended: its result is appended to the runner's
                   results journal (no flush); the job's slot is free at once
  flush_results    one fdatasync covers every line appended so far (any thread)
  publish_results  the jobs whose lines a flush covered: running/ID.US.job renamed to
                   done/STAMP.ID.STATE, unchanged, under each queue's lock
  fold_results     later, off the hot path: the results written into their done
                   files (staged, one flush for the batch, renamed over), then the
                   journal emptied; also for the journals of runners that are gone

Readers get a result that is not folded yet from the journal (Spool.load).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from .. import atomic, deps, safeio
from ..atomic import commit_rename
from ..errors import CorruptJob, FileUnreadable, SpoolError
from ..model import Job, Result, decode_job, encode_job
from ..depindex import nobody_waits
from ..results import Entry, ResultsJournal, journals, read_journal
from ..layout import RUNNING_RE
from ..listing import list_names
from ..runners import RunnerState, fs_now, runners
from ..spool import Spool
from .claimbase import ClaimBase, ClaimLost, Claimant, boottime

FOLD_CHUNK = 500  # results folded per call, so a runner that folds stays responsive

Published = tuple[Job, Result, "str | SpoolError"]  # the job, its result, its new state or why not


class ResultBatches(ClaimBase):
    """A runner's results, group-committed (a part of Claims)."""

    def __init__(self, spool: Spool, me: Claimant) -> None:
        super().__init__(spool, me)
        lay = spool.layout
        self._results = ResultsJournal(lay.runner_results(self.me.runner), lay.tmp)
        self._unpublished: list[tuple[int, Entry, Job]] = []  # (line number, entry, job) not yet in done/
        self._unfolded: list[tuple[Entry, Job, bytes | None, str]] = []  # in done/, result not in its file

    def queued_again(self, job: Job, result: Result) -> bool:
        raise NotImplementedError  # Claims says

    def journal_result(self, job: Job, result: Result) -> bool:
        """Journal the result of a job this runner ran (not flushed: see flush_results).
        False when it must be recorded at once with finish(): a failure queued again,
        or a job whose file turned corrupt (our copy is written instead)."""
        mine = self._mine.get(job.id)
        if mine is None or mine[0] is None or self.queued_again(job, result):
            return False
        entry = Entry(job.id, job.queue, job.attempt, result)
        self._unpublished.append((self._results.add(entry), entry, job))
        self._ended.add(self._mine_path(job))
        return True

    def results_in_flight(self) -> int:
        """Results journaled and not yet published."""
        return len(self._unpublished)

    def flush_results(self) -> int:
        """Make every journaled result durable (one fdatasync); thread-safe. Returns the
        last line covered: pass it to publish_results."""
        return self._results.flush()

    def publish_results(self, durable: int) -> list[Published]:
        """Move the jobs whose results `durable` covers to done/ (never one before its
        flush). Per job: its new state, or the error that kept it (ClaimLost: taken over)."""
        batch = [u for u in self._unpublished if u[0] <= durable]
        if not batch:
            return []
        if self._results.replaced:  # another runner took us for gone (frozen?) and folded our journal
            self._results.rewrite([e for e, *_ in self._unfolded] + [e for _, e, _ in self._unpublished])
        self._unpublished = [u for u in self._unpublished if u[0] > durable]
        out: list[Published] = []
        for queue in dict.fromkeys(e.queue for _, e, _ in batch):
            mine = [(entry, job) for _, entry, job in batch if entry.queue == queue]
            try:
                with self.lock(queue):
                    for entry, job in mine:
                        out.append((job, entry.result, self._publish_one(entry, job, boottime())))
            except SpoolError as exc:  # the lock timed out, the queue went: each is recorded the slow way
                done = {j.id for j, _, _ in out}
                for entry, job in mine:
                    if job.id not in done:
                        self._ended.discard(self._mine_path(job))  # running again until finish() moves it
                        out.append((job, entry.result, exc))
        if not (self._local and nobody_waits(self.spool)):  # else one failed listing per job
            for job, _, state in out:  # outside the locks: dependents may wait in these queues
                if isinstance(state, str):
                    deps.on_final(self.spool, job.id, state)
        return out

    def _publish_one(self, entry: Entry, job: Job, since: float) -> str | SpoolError:
        src = self._mine_path(job)
        self._ended.discard(src)
        _, run_dir, done_dir = self._qdirs(job.queue)
        try:
            original = self._own(job, src)
            if original is None:  # turned corrupt after the end: our copy, with its result
                self._to_done(job, None, src, entry.result)
            else:
                dest = entry.done_file(done_dir)
                os.utime(src)  # prune ages done files by their mtime: now is when it finished
                if not commit_rename(src, dest):
                    raise ClaimLost(f"job {job.id} left running/ meanwhile")
                self._dirty_dirs.update((run_dir, done_dir))
                self._drop_cancel_request(job.queue, job.id)
                self._unless_taken(job, dest, since)
                self._unfolded.append((entry, job, original, dest))
        except ClaimLost as exc:
            return exc
        except SpoolError as exc:
            return exc  # still ours: the caller records it with finish() instead
        except OSError as exc:
            return SpoolError(f"cannot publish the result of job {job.id}: {exc.strerror or exc}")
        self._forget_mine(job.id)
        return entry.result.state

    def unfolded(self) -> int:
        """Results published but not yet folded into their files."""
        return len(self._unfolded)

    def fold_due(self, backlog: int = 1) -> bool:
        """Are at least `backlog` published results waiting to be folded?"""
        return len(self._unfolded) >= backlog

    def fold_results(self, limit: int = FOLD_CHUNK) -> int:
        """Write up to `limit` published results into their done files, then drop them
        from the journal (what it keeps: the rest). Returns how many were folded."""
        take, self._unfolded = self._unfolded[:limit], self._unfolded[limit:]
        try:
            self.fold_into([(e, encode_job(msgspec.structs.replace(j, result=e.result), orig), dest)
                            for e, j, orig, dest in take])
            self._results.rewrite([e for e, *_ in self._unfolded] + [e for _, e, _ in self._unpublished])
        except SpoolError:
            self._unfolded = take + self._unfolded  # tried again later; the journal still has them
            raise
        return len(take)

    def fold_into(self, items: list[tuple[Entry, bytes, str]]) -> None:
        """Replace each done file `dest` by the new content (its job with its result):
        staged, flushed once for all, renamed over under its queue's lock if the job is
        still there (not retried or pruned meanwhile), the directories flushed."""
        staged = [(e, atomic.stage(self._tmp, data, e.job_id, sync=False), dest) for e, data, dest in items]
        try:
            atomic.flush_staged([p for _, p, _ in staged])
            for queue in dict.fromkeys(e.queue for e, _, _ in staged):
                with self.lock(queue):
                    for e, path, dest in staged:
                        if e.queue == queue and _without_result(dest):
                            os.rename(path, dest)
                atomic.fsync_dir(Path(self._qdirs(queue)[2]))
        except OSError as exc:
            raise SpoolError(f"cannot fold results into their done files: {exc.strerror or exc}") from exc
        finally:
            for _, path, _ in staged:
                atomic.unlink_quietly(path)

    def fold_gone_journals(self, grace: float) -> int:
        """Fold the results journals of runners that are gone for certain (see _gone) and
        have no job left in running/ (recover_lost takes those back first, with their
        journaled results), then remove them. Returns how many results were folded."""
        spool = self.spool
        found = journals(spool.layout.runners)
        found.pop(self.me.runner, None)
        if not found:
            return 0
        now = fs_now(spool)
        states = {r.beat.id: r for r in runners(spool, now)}
        busy = {m["runner"] for q in spool.queue_names() for n in list_names(self._qdirs(q)[1])
                if (m := RUNNING_RE.fullmatch(n)) and m["runner"]}
        folded = 0
        for runner, path in found.items():
            state = states.get(runner)
            if runner in busy or not _gone(state, path, now, grace):
                continue
            items = []
            for e in read_journal(path):
                dest = e.done_file(self._qdirs(e.queue)[2])
                try:
                    data = safeio.read_job(dest)
                    job = decode_job(data, f"job {e.job_id}")
                except (OSError, CorruptJob, FileUnreadable):
                    continue  # retried, pruned, or already moved aside
                if job.result is None and job.attempt == e.attempt:
                    items.append((e, encode_job(msgspec.structs.replace(job, result=e.result), data), dest))
            self.fold_into(items)
            atomic.unlink_quietly(path)
            folded += len(items)
        return folded

    def close(self) -> None:
        super().close()
        self._results.close()


GONE_AFTER = 3600.0  # seconds without a beat after which a runner that may be elsewhere is gone


def _gone(state: RunnerState | None, path: Path, now: float, grace: float) -> bool:
    """May its journal be folded and removed? Only once the runner cannot append to it
    again: its lock is free (same kernel), or no beat for GONE_AFTER (another host), or
    no heartbeat at all and a journal `grace` old. A lost-looking runner may only be
    frozen (SIGSTOP): once woken it publishes and appends, and a line appended after our
    read would go with the file. Until the fold, readers take results from the journal."""
    if state is None:
        return not _younger(path, now, grace)
    if state.locked is not None:
        return state.locked is False
    return state.age > GONE_AFTER


def _without_result(dest: str) -> bool:
    """Is the done file still there and still without its result? A finish hook's outcome
    may have been written into it meanwhile (with the result, taken from the journal):
    our staged copy would drop that outcome."""
    try:
        return decode_job(safeio.read_job(dest), dest).result is None
    except FileNotFoundError:
        return False  # retried or pruned meanwhile
    except (OSError, CorruptJob, FileUnreadable):
        return True  # ours to replace: the staged copy is the job with its result


def _younger(path: Path, now: float, grace: float) -> bool:
    """A journal written in the last `grace` seconds (by the filesystem's clock)."""
    try:
        return now - os.stat(path).st_mtime <= grace
    except OSError:
        return True
