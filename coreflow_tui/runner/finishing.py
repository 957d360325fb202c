"""Finishing work: a job's output and exit, its result recorded (retried while the disk
is full), and stopping jobs (timeouts, cancels, a job another runner took over).

A part of Runner (loop.py), which holds the state these methods use."""

from __future__ import annotations

import signal
import time

import msgspec

from store import Result, SpoolError
from store.jobs import claims as cl
from store.states import State

from .common import Active, CANCEL_CHECK, CANCEL_GRACE_MAX, RETRY_RECORD


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
        self._tell_reaper(f"-{a.proc.pid}")
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
        self._record(a)

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
        if not state:
            return
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
