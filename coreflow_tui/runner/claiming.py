"""Claiming work: which queues to serve, claiming into free slots, starting a job and
writing its claim into its file once it has run a moment.

A part of Runner (loop.py), which holds the state these methods use."""

from __future__ import annotations

import selectors
import time

from store import Job, Result, SpoolError
from store.jobs import claims as cl
from store.errors import QueueNotFound
from store.states import State

from .common import Active, CLAIM_RECORD_AFTER, CLAIM_SAFETY, RESOURCE_ERRORS
from .process import JobProcess, SpawnError


class Claiming:
    """Claiming work: a part of Runner."""

    def _discover_queues(self) -> None:
        """Serving every queue: take on queues added since we looked, drop removed ones."""
        try:
            names = self.spool.queue_names()
        except SpoolError as exc:
            self.log(f"cannot list the queues: {exc}")
            return
        new = [q for q in names if q not in self.opts.queues]
        for q in new:
            try:
                cl.check_safe(self.spool, [q])
            except SpoolError as exc:
                self._queue_problem(q, "unsafe", exc)
                names.remove(q)
                self.refused.add(q)
                continue
            self.refused.discard(q)
            self.log(f"serving queue {q} (added)")
        if new or len(names) != len(self.opts.queues):
            self.opts.queues = names
            self.dirty |= set(new)
            self.t.beat = 0.0  # say at once which queues we serve: "why it waits" reads it

    def _fill_slots(self) -> None:
        if self.stop_level or len(self.jobs) >= self.opts.slots or not self.dirty:
            return
        if self.short_of is not None:
            if self.jobs and time.monotonic() < self.short_of + CLAIM_SAFETY:
                return
            self.short_of = None
        if not self._fresh():
            self._beat()  # a job starts only right after a beat (the fence counts from it)
            if not self._fresh():
                return
        while len(self.jobs) < self.opts.slots and self.dirty:
            claimed = False
            for q in self.opts.queues:
                if q not in self.dirty:
                    continue
                try:
                    got = self.claims.claim_next(q, limit=self.opts.slots - len(self.jobs))
                except QueueNotFound as exc:
                    self._queue_problem(q, "gone", exc)
                    continue
                except SpoolError as exc:
                    self._queue_problem(q, "error", exc)
                    continue
                for w in got.warnings:
                    self.log(f"skipped a bad job file in {q}: {w}")
                if self.status.get(q) == "error":
                    self.log(f"queue {q} is readable again")
                self.status[q] = got.status
                if got.job is None:
                    self.dirty.discard(q)
                    continue
                for job in got.jobs:
                    self._start_job(job)
                claimed = True
                break
            if not claimed:
                break

    def _queue_problem(self, q: str, status: str, exc: SpoolError) -> None:
        if self.status.get(q) != status:
            self.log(f"cannot claim from queue {q}: {exc}")
        self.status[q] = status
        self.dirty.discard(q)

    def _start_job(self, job: Job) -> None:
        proc = JobProcess(job, self.spool, self.opts.log_limit, self.workdirs)
        a = Active(job, proc)
        self.jobs[job.id] = a
        self._busy_changed()
        self.log(f"claimed {job.id} ({job.queue}, attempt {job.attempt}): {job.name or job.command[0]}")
        if job.attempt > 1:
            proc.note(f"attempt {job.attempt} on {self.host} (runner {self.id})")
        a.started_at = time.time()
        a.started_mono = time.monotonic()
        a.claim_due = a.started_mono + CLAIM_RECORD_AFTER
        if not self._fresh() and not self._still_mine_after_beat(a):
            return
        try:
            proc.start(self.env, self.devnull)
        except SpawnError as exc:
            proc.close()
            if exc.errno in RESOURCE_ERRORS:  # the runner's trouble, not the job's: give it back
                a.stop_reason = "requeue"
                self._ended(a, Result(state=State.FAILED, reason="runner-stopped", message=str(exc)))
                self._short_of(OSError(exc.errno, str(exc)))
                return
            proc.note(str(exc))
            self._ended(a, Result(state=State.FAILED, reason="spawn-error", message=str(exc)))
            return
        if job.timeout:
            a.deadline = a.started_mono + job.timeout
        assert proc.out_fd is not None
        self.sel.register(proc.out_fd, selectors.EVENT_READ, lambda: self._on_output(a))
        if proc.pidfd is not None:
            self.sel.register(proc.pidfd, selectors.EVENT_READ, lambda: self._reap(a))
        self._tell_reaper(f"+{proc.pid}", later=True)

    def _record_claim(self, a: Active) -> None:
        a.claim_due = None
        if a.closed:
            return
        try:
            self.claims.record_claim(a.job)
        except cl.ClaimLost as exc:
            self.log(f"job {a.job.id} was taken over by another runner: killing our copy ({exc})")
            a.proc.note("another runner took this job over: killed")
            self._stop(a, "lost", 0)
        except SpoolError as exc:
            # The job runs on (our claims journal names us its runner meanwhile), and
            # its finish records everything. Try again at the next beat.
            a.claim_due = time.monotonic() + self.beat_every
            self.log(f"cannot record the claim of {a.job.id} yet (will retry): {exc}")
