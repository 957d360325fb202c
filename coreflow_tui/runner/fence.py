"""The lease: heartbeats, the fence (never start a job unless just beaten), taking over
lost runners' jobs, burying dead runners, and the watchdog process that kills our
jobs if we freeze.

A part of Runner (loop.py), which holds the state these methods use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from store import Result, SpoolError
from store import runners as rn
from store.model import Heartbeat
from store.states import State

from .common import Active, BUSY_BEAT_DELAY, boottime
from .process import append_note


class Fencing:
    """The lease: a part of Runner."""

    def _busy_changed(self) -> None:
        """Tell the spool soon (within a second, not at the next regular beat) how busy
        we are: people and "why it waits" read it. Not at once: a beat is a file write."""
        self.t.beat = min(self.t.beat, time.monotonic() + BUSY_BEAT_DELAY)

    def _fresh(self) -> bool:
        """Did we beat recently enough to start a job (well before the fence)?"""
        return boottime() - self.beat_ok <= self.beat_every

    def _still_mine_after_beat(self, a: Active) -> bool:
        """We were held up between the claim and the start: beat, and start the job only
        if it is still ours (after a freeze another runner may have taken it over)."""
        self._beat()
        try:
            if self._fresh() and self.claims.still_ours(a.job):
                return True
        except SpoolError as exc:
            self.log(f"cannot tell whether {a.job.id} is still ours: {exc}")
        self.jobs.pop(a.job.id, None)
        a.proc.close()
        if self._fresh() and not self.claims.is_mine(a.job):
            self.log(f"not starting {a.job.id}: another runner took it over while this runner was held up")
            return False
        self.log(f"not starting {a.job.id}: giving it back")
        a.stop_reason = "requeue"
        self._ended(a, Result(state=State.FAILED, reason="runner-stopped", message="the runner could not beat"))
        return False

    def _check_fence(self) -> None:
        """After a freeze longer than the fence our watchdog has killed our jobs: say so,
        and give them back as lost (before the next beat makes us look alive again)."""
        gap = boottime() - self.beat_ok
        if not self.jobs or gap <= self.fence:
            return
        self.log(f"this runner did not beat for {gap:.1f}s (frozen or stuck; fence {self.fence:g}s): its "
                 f"watchdog stopped its {len(self.jobs)} job(s); they go back to their queues")
        for a in self.jobs.values():
            if not a.closed and a.stop_reason != "lost":
                a.stop_reason = "fenced"
                a.proc.note(f"the runner did not beat for {gap:.1f}s: the job was stopped (fence)")
                a.proc.signal_group(signal.SIGKILL)

    def _beat(self) -> None:
        self._check_fence()
        now = time.monotonic()
        self.t.beat = now + self.beat_every
        o = self.opts
        hb = Heartbeat(id=self.id, host=self.host, pid=os.getpid(), queues=list(o.queues), every=o.every_queue,
                       refused=sorted(self.refused), slots=o.slots,
                       labels=sorted(o.labels), lease=o.lease, started_at=self.started,
                       busy=sorted(self.jobs), stopping=bool(self.stop_level), scope=self.scope)
        try:
            rn.beat(self.spool, hb)
        except SpoolError as exc:
            if not self.beat_failing:
                self.log(f"cannot write the heartbeat (other runners will take our jobs after "
                         f"{o.lease:g}s): {exc}")
            self.beat_failing = True
            return
        self.beat_ok = boottime()
        self._tell_reaper("b")
        if self.beat_failing:
            self.log("heartbeat written again")
        self.beat_failing = False

    def _recover(self) -> None:
        try:
            got = self.claims.recover_lost(grace=self.opts.lease)
        except (SpoolError, OSError) as exc:
            self.log(f"cannot look for lost runners' jobs: {exc}")
            return
        dead: set[str] = set()
        for r in got:
            what = {State.PENDING: "queued again at its place", State.FAILED: "failed (runner-lost)",
                    State.CANCELLED: "cancelled (as asked)", "finished": "finished with the result it had"}[r.outcome]
            self.log(f"took over {r.job_id} ({r.queue}) from {r.note}: {what}")
            self._append_log(r.job_id, f"{r.note}; job {what}")
            if r.outcome != State.PENDING:
                self.hooks.after_takeover(r.job_id)  # its own runner is gone: the hook is ours to run
            dead.add(r.runner)
            if r.queue in self.opts.queues:
                self.dirty.add(r.queue)
        for runner_id in dead - {self.id}:
            try:
                rn.bury(self.spool, runner_id)  # only if nobody holds its lock: proven dead
            except SpoolError as exc:
                self.log(f"cannot remove the heartbeat of dead runner {runner_id}: {exc}")
        if not self.jobs and not self.in_flight and not self.dirty:  # idle: fold what runners gone left
            try:
                self.claims.fold_gone_journals(grace=self.opts.lease)
            except (SpoolError, OSError) as exc:
                self.log(f"cannot fold the results journals of runners that are gone: {exc}")
        try:
            self.spool.clean_tmp()  # at most hourly: what dead writers left in tmp/
        except SpoolError as exc:
            self.log(f"cannot clean tmp/: {exc}")

    def _bury_dead(self) -> None:
        """Remove the files of runners proven dead (nobody holds their lock) that left no
        jobs behind: else `doctor` and people would see them as lost for ever."""
        try:
            states = rn.runners(self.spool)
        except (SpoolError, OSError):
            return
        for r in states:
            if r.locked is False and r.beat.id != self.id:
                try:
                    rn.bury(self.spool, r.beat.id)
                except SpoolError as exc:
                    self.log(f"cannot remove the heartbeat of dead runner {r.beat.id}: {exc}")

    def _append_log(self, job_id: str, text: str) -> None:
        append_note(self.spool.layout.log(job_id), text, self.spool.quarantine)

    def _start_reaper(self) -> None:
        script = Path(__file__).with_name("reaper.py")
        try:
            self.reaper = subprocess.Popen([sys.executable, "-I", "-S", str(script), f"{self.fence:g}"],
                                           stdin=subprocess.PIPE,
                                           stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as exc:
            self.log(f"cannot start the watchdog ({exc.strerror}): jobs would outlive a killed runner")

    def _tell_reaper(self, line: str, later: bool = False) -> None:
        """A line for the watchdog; `later`: with the others of this turn (a job's start
        or end), written before the loop next waits."""
        self.reaper_lines.append(line)
        if not later:
            self._flush_reaper()

    def _flush_reaper(self) -> None:
        lines, self.reaper_lines = self.reaper_lines, []
        if not lines or self.reaper is None or self.reaper.stdin is None:
            return
        try:
            os.write(self.reaper.stdin.fileno(), ("\n".join(lines) + "\n").encode())
        except OSError:
            self.log("the watchdog is gone: jobs would outlive a killed runner")
            self.reaper = None
