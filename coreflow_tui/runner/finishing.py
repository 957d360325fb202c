"""Finishing work: a job's output and exit, its result recorded (retried while the disk
is full), and stopping jobs (timeouts, cancels, a job another runner took over).

A part of Runner (loop.py), which holds the state these methods use."""

from __future__ import annotations

import signal
import time

import msgspec

from store import Result, SpoolError
from store.jobs import claims as cl
from store.jobs.batches import FOLD_CHUNK
from store.states import State

from .common import Active, CANCEL_CHECK, CANCEL_GRACE_MAX, FOLD_BACKLOG, RETRY_RECORD


class Finishing:
    """Finishing work: a part of Runner."""

    def _on_output(self, a: Active) -> None:
        if a.closed or a.proc.out_fd is None:
            return
        if not a.proc.read_output():
            self.sel.unregister(a.proc.out_fd)
            a.proc.close_output(0)

    def _reap(self, a: Active) -> None:
        if a.closed:
            return
        ex = a.proc.poll()
        if ex is None:
            return
        a.closed = True
        if a.proc.out_fd is not None:
            self.sel.unregister(a.proc.out_fd)
        if a.proc.pidfd is not None:
            self.sel.unregister(a.proc.pidfd)
        a.proc.close_output()
        a.proc.close()
        self._tell_reaper(f"-{a.proc.pid}", later=True)
        reason = a.stop_reason
        if reason == "fenced":
            self._ended(a, Result(state=State.FAILED, reason="runner-lost", exit_code=ex.exit_code, signal=ex.signal,
                                  message=f"the runner did not beat for more than {self.fence:g}s (frozen?): "
                                          "its watchdog stopped the job"))
            return
        if reason == "lost":
            self.jobs.pop(a.job.id, None)
            self._busy_changed()
            self.log(f"stopped {a.job.id}: another runner took it over; no result recorded by us")
            return
        if reason == "requeue":
            state, why = State.FAILED, "runner-stopped"
        elif reason == "cancel":
            state, why = State.CANCELLED, "cancelled"
        elif reason == "timeout":
            state, why = State.FAILED, "timeout"
        else:
            state, why = (State.SUCCEEDED if ex.exit_code == 0 else State.FAILED), "exit"
        self._ended(a, Result(state=state, reason=why, exit_code=ex.exit_code, signal=ex.signal,
                              by=a.cancelled_by if reason == "cancel" else None))

    def _ended(self, a: Active, result: Result) -> None:
        """The job's process is over (or never started): complete and record its result."""
        problems = a.proc.problems()
        if a.proc.log_problem.startswith("cannot write the log"):
            self.log(f"job {a.job.id}: {a.proc.log_problem}")
        message = "; ".join(m for m in (result.message, problems) if m)
        a.result = msgspec.structs.replace(
            result, started_at=a.started_at, finished_at=time.time(), host=self.host, runner=self.id,
            attempt=a.job.attempt, message=message)
        self.jobs.pop(a.job.id, None)
        self._busy_changed()
        self.dirty |= set(self.opts.queues)  # a slot is free: look again at once
        self.short_of = None
        if a.stop_reason not in ("requeue", "fenced"):
            try:
                journaled = self.claims.journal_result(a.job, a.result)
            except SpoolError:
                journaled = False  # full disk, say: finish() retries and says why
            if journaled:  # group commit: published by _publish_results once flushed
                self.in_flight[a.job.id] = a
                assert self.flusher is not None
                self.flusher.kick()
                return
        self._record(a)

    def _publish_results(self) -> None:
        """THE place where a batch of results becomes durable and published: the flusher
        has made their journal lines durable, so their jobs move to done/ now (never
        before). Whatever must follow a job's final state being durable goes here."""
        f = self.flusher
        assert f is not None
        if f.error is not None:
            if self.t.flush_error <= time.monotonic():
                self.log(f"cannot make results durable yet (will retry): {f.error}")
                self.t.flush_error = time.monotonic() + RETRY_RECORD
                f.kick()
            return
        if not self.in_flight:
            return
        for job, r, state in self.claims.publish_results(f.durable):
            a = self.in_flight.pop(job.id)
            if isinstance(state, cl.ClaimLost):
                self.log(f"result of {job.id} not recorded: {state}")
            elif not isinstance(state, str):
                self._record(a)  # the rename failed: write the whole file instead (retried if need be)
            else:
                self._finished(a, state)

    def _fold(self) -> None:
        """Write published results into their done files: when idle, or when many wait."""
        idle = not self.jobs and not self.in_flight and not self.dirty
        if not self.claims.fold_due(FOLD_BACKLOG if not idle else 1):
            return
        try:
            self.claims.fold_results()
        except SpoolError as exc:
            self.log(f"cannot write results into their done files yet (they stay in the journal): {exc}")

    def _fold_at_exit(self) -> None:
        """Fold what takes a moment; a bigger backlog stays in our results journal (every
        reader finds it there) until the next runner, on any host, folds it."""
        left = self.claims.unfolded()
        try:
            if 0 < left <= FOLD_CHUNK:
                self.claims.fold_results()
                left = 0
        except SpoolError as exc:
            self.log(f"cannot write results into their done files: {exc}")
        if left:
            self.log(f"{left} result(s) stay in this runner's results journal; the next runner folds them")

    def _record(self, a: Active) -> None:
        assert a.result is not None
        r = a.result
        try:
            if a.stop_reason in ("requeue", "fenced"):
                state = self.claims.give_back(a.job, r)
            else:
                state = self.claims.finish(a.job, r)
        except cl.ClaimLost as exc:
            self.log(f"result of {a.job.id} not recorded: {exc}")
            state = ""
        except SpoolError as exc:
            a.record_errors += 1
            if a not in self.unrecorded:
                self.unrecorded.append(a)
                self.t.record = time.monotonic() + RETRY_RECORD
            if a.record_errors in (1, 10) or a.record_errors % 100 == 0:
                self.log(f"cannot record the result of {a.job.id} yet (will retry): {exc}")
            return
        if a in self.unrecorded:
            self.unrecorded.remove(a)
        if state:
            self._finished(a, state)

    def _finished(self, a: Active, state: str) -> None:
        """A job's result is recorded (durable): say so, and start its finish hook."""
        assert a.result is not None
        r = a.result
        self.hooks.after_finish(a.job, r, state)
        took = (r.finished_at or 0) - (r.started_at or 0)
        code = f"exit {r.exit_code}" if r.exit_code is not None else (f"signal {r.signal}" if r.signal else "")
        how = code if r.reason == "exit" else ", ".join(x for x in (r.reason, code) if x)
        by = f" by {r.by}" if r.by else ""
        then = f"; queued again as attempt {a.job.attempt + 1}" if state == State.PENDING else ""
        self.log(f"finished {a.job.id} ({a.job.queue}): {r.state} ({how}){by} in {took:.2f}s{then}"
                 + (f"; {r.message}" if r.message else ""))

    def _stop(self, a: Active, reason: str, grace: float) -> None:
        if a.closed:
            return
        if a.stop_reason in ("cancel", "lost") and reason != "lost":
            return  # already being stopped for a reason that decides its result
        a.stop_reason = reason
        if reason == "lost":
            a.proc.signal_group(signal.SIGKILL)
            a.kill_at = None
            return
        a.proc.signal_group(signal.SIGTERM)
        kill_at = time.monotonic() + grace
        a.kill_at = kill_at if a.kill_at is None else min(a.kill_at, kill_at)

    def _stop_all(self, reason: str) -> None:
        for a in list(self.jobs.values()):
            if a.stop_reason is None or a.stop_reason == "timeout":
                a.proc.note("the runner is stopping: stopping the job to queue it again")
                self._stop(a, reason, self.opts.stop_grace)

    def _check_cancels(self, queues: set[str]) -> None:
        self.t.cancel = time.monotonic() + CANCEL_CHECK
        for q in queues:
            try:
                asked = self.spool.cancel_requests(q)
            except SpoolError:
                continue
            for job_id in asked:
                a = self.jobs.get(job_id)
                if a is None or a.stop_reason in ("cancel", "lost"):
                    continue
                req = self.claims.cancel_request(q, job_id)
                a.cancelled_by = req.by if req else "unknown"
                self.log(f"cancel {job_id} (asked by {a.cancelled_by}): stopping it")
                a.proc.note(f"cancelled by {a.cancelled_by}: stopping the job")
                self._stop(a, "cancel", min(self.opts.stop_grace, CANCEL_GRACE_MAX))

    def _check_ownership(self) -> None:
        """Fence: a job another runner took over (our heartbeat was late) must stop here."""
        for a in list(self.jobs.values()):
            if a.stop_reason == "lost" or a.closed:
                continue
            try:
                ours = self.claims.still_ours(a.job)
            except SpoolError:
                continue
            if not ours:
                self.log(f"job {a.job.id} was taken over by another runner: killing our copy")
                a.proc.note("another runner took this job over (this runner's heartbeat was late): killed")
                self._stop(a, "lost", 0)
