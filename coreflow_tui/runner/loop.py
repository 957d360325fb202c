"""The runner: one thread, one event loop.

It waits (epoll) on its jobs' output pipes and exit notifications (pidfd), on a wake
pipe that the change-feed thread and the signal handlers write to, and on timers
(heartbeat, timeouts, kill deadlines, the lost-runner check). It claims when it has a
free slot and a queue it serves has changed, or at once when one of its jobs ends.
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import msgspec

from store import Job, Result, Spool, SpoolError
from store import claims as cl
from store import runners as rn
from store.errors import QueueNotFound
from store.feed import Change, Feed
from store.mounts import lock_warning
from store.model import Heartbeat

from ..ops.journal import log_line
from .process import JobProcess, SpawnError, append_note

CANCEL_GRACE_MAX = 1.0  # a cancel stops the job within 2 s, so its TERM grace is short
CANCEL_CHECK = 1.0  # safety net for a cancel request the feed did not report
CLAIM_SAFETY = 5.0  # re-look at every queue this often even without a change event
RETRY_RECORD = 1.0  # a result that could not be recorded (disk full) is retried this often
GIVE_UP_RECORD = 30.0  # when stopping, give up recording results after this long
BUSY_BEAT_DELAY = 1.0  # a change of how busy we are reaches the heartbeat within this
# A claim is a rename (and a line in our claims journal); a job still running this
# long after it gets its claim written into its file (who runs it, since when, where
# it came from). A short job never pays for that rewrite.
CLAIM_RECORD_AFTER = 0.05
# Out of files, processes or memory: the runner's trouble, never the job's.
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM})
FDS_PER_JOB = 4  # output pipe, pidfd, log, and one to spare
FDS_RESERVED = 48  # the runner's own: listings, staged files, locks, the feed


@dataclass(slots=True)
class Options:
    queues: list[str]
    slots: int
    labels: frozenset[str]
    lease: float
    drain: bool = False
    requeue_on_stop: bool = False
    stop_grace: float = 10.0
    log_limit: int = 100 << 20
    poll_interval: float = 0.5
    every_queue: bool = False  # serve each queue of the spool, found again at each change of queues/


@dataclass(slots=True)
class Active:
    """A job this runner claimed, while it runs and until its result is recorded."""

    job: Job
    proc: JobProcess
    started_at: float = 0.0
    started_mono: float = 0.0
    deadline: float | None = None
    claim_due: float | None = None  # when to write the claim into the job's file; None once written
    stop_reason: str | None = None  # timeout | cancel | requeue | lost
    kill_at: float | None = None
    cancelled_by: str | None = None
    result: Result | None = None  # set once the process ended, until recorded
    record_errors: int = 0
    closed: bool = False


@dataclass(slots=True)
class _Timers:
    beat: float = 0.0
    lost: float = 0.0
    cancel: float = 0.0
    claim: float = 0.0
    record: float = 0.0


class Runner:
    def __init__(self, spool: Spool, opts: Options, err: TextIO | None = None) -> None:
        self.spool = spool
        self.opts = opts
        self.err = err or sys.stderr
        self.host = socket.gethostname()
        self.id = rn.new_runner_id()
        self.me = cl.Claimant(self.id, self.host, os.getpid(), opts.labels)
        self.claims = cl.Claims(spool, self.me)
        self.jobs: dict[str, Active] = {}
        self.unrecorded: list[Active] = []
        self.dirty: set[str] = set(opts.queues)
        self.status: dict[str, str] = {}
        self.stop_level = 0
        self.signals = 0
        self.stop_since: float | None = None
        self.beat_every = max(0.2, min(opts.lease / 4, 10.0))
        # The watchdog stops our jobs when we have not beaten for this long: see layout.py.
        self.fence = opts.lease - rn.fence_margin(opts.lease)
        self.beat_ok = 0.0  # _boottime() of the last heartbeat written
        self.runner_lock: rn.RunnerLock | None = None
        self.short_of: float | None = None  # when a resource ran out (see _short_of)
        self.scope = rn.lock_scope(spool)
        self.started = time.time()
        self.t = _Timers()
        self.beat_failing = False
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.env = dict(os.environ)
        self.changes: Change | None = None
        self.changes_lock = threading.Lock()
        self.feed_stop = threading.Event()
        self.feed: Feed | None = None
        self.feed_thread: threading.Thread | None = None
        self.reaper: subprocess.Popen[bytes] | None = None
        self.old_handlers: dict[int, object] = {}

    # -- public --------------------------------------------------------------------

    def run(self) -> int:
        self._announce()
        try:
            self._start()
            while True:
                try:
                    if self._turn():
                        break
                except OSError as exc:  # out of files, memory, processes: keep our jobs, say why
                    self._short_of(exc)
        finally:
            self._shutdown()
        failed = [q for q in self.opts.queues if self.status.get(q) == "error"] if self.opts.drain else []
        if failed:
            self.log(f"could not drain queue(s) {', '.join(failed)}: see the error above")
        return 0 if not self.unrecorded and not failed else 1

    def _turn(self) -> bool:
        """One turn of the loop; True when it is time to exit."""
        self._fill_slots()
        self._sync()
        if self._should_exit():
            return True
        self._wait(self._timeout())
        self._on_signals()
        self._on_changes()
        self._on_timers()
        return False

    def _short_of(self, exc: OSError) -> None:
        """A resource ran out (EMFILE, ENFILE, ENOMEM, EAGAIN...): claim nothing more until
        one of our jobs ends (or a while passes), and say so once."""
        if self.short_of is None:
            self.log(f"stopped claiming: {exc.strerror or exc} ({len(self.jobs)} job(s) run on; claiming again "
                     "when one ends)" + (" - raise the limit (ulimit -n) or use fewer --slots"
                                         if exc.errno in (errno.EMFILE, errno.ENFILE) else ""))
        self.short_of = time.monotonic()
        self.t.claim = self.short_of + CLAIM_SAFETY
        time.sleep(0.05)  # whatever failed may fail again at once: do not spin

    def log(self, text: str) -> None:
        try:
            self.err.write(log_line("coreflow runner", text, stamp="%H:%M:%S") + "\n")
            self.err.flush()
        except (OSError, ValueError):
            pass  # stderr gone (closed terminal): the spool still records everything

    # -- start and stop ------------------------------------------------------------

    def _announce(self) -> None:
        """Take our lock and write the first heartbeat, or say why we cannot run."""
        # Held for our whole life: on this kernel it tells others we are alive (not our pid).
        self.runner_lock = rn.RunnerLock(self.spool, self.id)
        self._beat()
        if not self.beat_ok:
            self.runner_lock.close()
            rn.remove(self.spool, self.id)
            raise SpoolError(f"cannot start a runner: cannot write its heartbeat in {self.spool.layout.runners} "
                             "(see above); a runner must write the spool: check permissions and free space")

    def _fit_slots(self) -> None:
        """As many slots as open files allow: raise the soft limit to the hard one, and
        run fewer jobs at once (saying so) rather than fail with EMFILE half-way."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                soft = hard
            except (ValueError, OSError):
                pass
        if soft == resource.RLIM_INFINITY:
            return
        try:
            used = len(os.listdir("/proc/self/fd"))
        except OSError:
            used = 16
        fit = max(1, (soft - used - FDS_RESERVED) // FDS_PER_JOB)
        if self.opts.slots > fit:
            self.log(f"the open-file limit ({soft}) allows {fit} job(s) at once, not {self.opts.slots}: running at "
                     f"most {fit} (raise it with `ulimit -n` or LimitNOFILE= to use more slots)")
            self.opts.slots = fit

    def _start(self) -> None:
        self._fit_slots()
        o = self.opts
        self.sel.register(self.wake_r, selectors.EVENT_READ, self._drain_wake)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.old_handlers[sig] = signal.signal(sig, self._on_signal)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        self._start_reaper()
        self._tell_reaper("b")
        self.feed = Feed(self.spool, interval=o.poll_interval)
        self.log(f"{self.id} on {self.host} serving {','.join(o.queues)} with {o.slots} slot(s)"
                 f"{', labels ' + ','.join(sorted(o.labels)) if o.labels else ''}, lease {o.lease:g}s, "
                 f"change feed {self.feed.describe()}{', draining' if o.drain else ''}")
        locks = lock_warning(self.spool.layout.meta)
        if locks:
            self.log(f"{locks}; with runners on other hosts a queue may run more jobs than its slots for a "
                     "moment; a job still never runs twice at once")
        self._recover()
        self._bury_dead()
        self.feed_thread = threading.Thread(target=self._follow, name="coreflow-feed", daemon=True)
        self.feed_thread.start()
        now = time.monotonic()
        self.t.beat = now + self.beat_every
        self.t.lost = now + self.beat_every
        self.t.claim = now + CLAIM_SAFETY

    def _shutdown(self) -> None:
        self.feed_stop.set()
        for a in list(self.jobs.values()):  # only after an error in the loop itself
            a.proc.signal_group(signal.SIGKILL)
            a.proc.close()
        self.claims.close()
        left_behind = len(self.jobs) + len(self.unrecorded)
        if left_behind:  # keep the heartbeat: it says whose they are, and others take them over
            self.log(f"leaving {left_behind} job(s) claimed; another runner takes them over")
        else:
            try:
                rn.remove(self.spool, self.id)
            except SpoolError as exc:
                self.log(f"could not remove the heartbeat: {exc}")
        if self.runner_lock is not None:
            self.runner_lock.close()
        if self.reaper is not None and self.reaper.stdin is not None:
            try:
                self.reaper.stdin.close()
                self.reaper.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        signal.set_wakeup_fd(-1)
        for sig, handler in self.old_handlers.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self.feed_thread is not None:
            self.feed_thread.join(2)
        self.sel.close()
        for fd in (self.wake_r, self.wake_w, self.devnull):
            os.close(fd)
        left = f"; {len(self.unrecorded)} result(s) could not be recorded" if self.unrecorded else ""
        self.log(f"{self.id} stopped{left}")

    def _should_exit(self) -> bool:
        if self.jobs or self.unrecorded:
            if self.stop_level and self.unrecorded and not self.jobs and self.stop_since is not None \
                    and time.monotonic() - self.stop_since > GIVE_UP_RECORD:
                return True  # the jobs stay claimed by us; a runner started later takes them back
            return False
        if self.stop_level:
            return True
        if self.opts.drain and not self.dirty:
            # A queue it cannot claim from ("error") ends a drain too: waiting would never end.
            return all(self.status.get(q) in ("empty", "paused", "ineligible", "gone", "error")
                       for q in self.opts.queues)
        return False

    # -- the loop ------------------------------------------------------------------

    def _sync(self) -> None:
        try:
            self.claims.sync()
        except SpoolError as exc:
            self.log(f"cannot make the last changes durable: {exc}")

    def _timeout(self) -> float:
        now = time.monotonic()
        due = [self.t.beat, self.t.lost]
        if not self.stop_level:
            due.append(self.t.claim)
        if self.jobs:
            due.append(self.t.cancel)
        if self.unrecorded:
            due.append(self.t.record)
        sync = self.claims.sync_due()
        if sync is not None:
            due.append(sync)  # the last renames of a burst are made durable soon, not at the next beat
        for a in self.jobs.values():
            if a.claim_due is not None:
                due.append(a.claim_due)
            if a.deadline is not None and a.stop_reason is None:
                due.append(a.deadline)
            if a.kill_at is not None:
                due.append(a.kill_at)
            if a.proc.pidfd is None:
                due.append(now + 0.05)  # no pidfd (old kernel): look at the child often
        return max(0.0, min(due) - now)

    def _wait(self, timeout: float) -> None:
        try:
            events = self.sel.select(timeout)
        except InterruptedError:
            return
        self._check_fence()  # before any job's end is handled: a fenced job's end is not its own
        for key, _ in events:
            key.data()

    def _drain_wake(self) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1

    def _on_signals(self) -> None:
        while self.stop_level < self.signals:
            self.stop_level += 1
            if self.stop_level == 1:
                self.stop_since = time.monotonic()
                if self.opts.requeue_on_stop:
                    self.log(f"stopping: requeueing {len(self.jobs)} running job(s)")
                    self._stop_all("requeue")
                else:
                    self.log(f"stopping: no new claims; waiting for {len(self.jobs)} running job(s) "
                             "(signal again to stop and requeue them)")
                self._beat()
            elif self.stop_level == 2:
                self.log(f"stopping now: stopping and requeueing {len(self.jobs)} running job(s)")
                self._stop_all("requeue")
            else:
                self.log("killing the running jobs now")
                for a in self.jobs.values():
                    a.proc.signal_group(signal.SIGKILL)

    def _follow(self) -> None:
        """The change-feed thread: merge what changed and wake the loop."""
        assert self.feed is not None
        try:
            for change in self.feed.iterate(self.feed_stop):
                with self.changes_lock:
                    self.changes = change if self.changes is None else self.changes.merge(change)
                self._wake()
        except Exception as exc:  # noqa: BLE001 - reported; the loop's timers keep it serving
            self.log(f"change feed stopped ({type(exc).__name__}: {exc}); looking every {CLAIM_SAFETY:g}s instead")

    def _wake(self) -> None:
        try:
            os.write(self.wake_w, b"!")
        except (BlockingIOError, OSError):
            pass  # already full of wake-ups, or closing

    def _on_changes(self) -> None:
        with self.changes_lock:
            change, self.changes = self.changes, None
        if change is None:
            return
        if self.opts.every_queue and (change.full or change.queues - set(self.opts.queues)):
            self._discover_queues()
        served = set(self.opts.queues)
        touched = served if change.full else (change.queues & served)
        self.dirty |= touched
        mine = {a.job.queue for a in self.jobs.values()}
        if change.full or touched & mine:
            self._check_cancels(mine if change.full else touched & mine)

    def _on_timers(self) -> None:
        now = time.monotonic()
        for a in list(self.jobs.values()):
            if a.deadline is not None and a.stop_reason is None and now >= a.deadline:
                self.log(f"timeout {a.job.id} after {a.job.timeout:g}s: stopping it")
                a.proc.note(f"timeout after {a.job.timeout:g}s: stopping the job (TERM, then KILL after "
                            f"{self.opts.stop_grace:g}s)")
                self._stop(a, "timeout", self.opts.stop_grace)
            if a.kill_at is not None and now >= a.kill_at:
                a.kill_at = None
                if a.proc.signal_group(signal.SIGKILL):
                    a.proc.note("the job did not stop after TERM: killed it")
            if a.proc.pidfd is None:
                self._reap(a)
            if a.claim_due is not None and now >= a.claim_due:
                self._record_claim(a)
        if now >= self.t.beat:
            self._beat()
            self._check_ownership()
        if now >= self.t.lost:
            self.t.lost = now + self.beat_every
            self._recover()
        if self.jobs and now >= self.t.cancel:
            self._check_cancels({a.job.queue for a in self.jobs.values()})
        if now >= self.t.claim:
            self.t.claim = now + CLAIM_SAFETY
            if self.opts.every_queue:
                self._discover_queues()
            self.dirty |= set(self.opts.queues)
        if self.unrecorded and now >= self.t.record:
            self.t.record = now + RETRY_RECORD
            for a in list(self.unrecorded):
                self._record(a)

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
                continue
            self.log(f"serving queue {q} (added)")
        if new or len(names) != len(self.opts.queues):
            self.opts.queues = names
            self.dirty |= set(new)
            self.t.beat = 0.0  # say at once which queues we serve: "why it waits" reads it

    # -- claiming and starting -----------------------------------------------------

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
                    got = self.claims.claim_next(q)
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
                self._start_job(got.job)
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
        proc = JobProcess(job, self.spool.layout.log(job.id), self.opts.log_limit, self.spool.quarantine)
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
                self._ended(a, Result(state="failed", reason="runner-stopped", message=str(exc)))
                self._short_of(OSError(exc.errno, str(exc)))
                return
            proc.note(str(exc))
            self._ended(a, Result(state="failed", reason="spawn-error", message=str(exc)))
            return
        if job.timeout:
            a.deadline = a.started_mono + job.timeout
        assert proc.out_fd is not None
        self.sel.register(proc.out_fd, selectors.EVENT_READ, lambda: self._on_output(a))
        if proc.pidfd is not None:
            self.sel.register(proc.pidfd, selectors.EVENT_READ, lambda: self._reap(a))
        self._tell_reaper(f"+{proc.pid}")

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
            self._ended(a, Result(state="failed", reason="runner-lost", exit_code=ex.exit_code, signal=ex.signal,
                                  message=f"the runner did not beat for more than {self.fence:g}s (frozen?): "
                                          "its watchdog stopped the job"))
            return
        if reason == "lost":
            self.jobs.pop(a.job.id, None)
            self._busy_changed()
            self.log(f"stopped {a.job.id}: another runner took it over; no result recorded by us")
            return
        if reason == "requeue":
            state, why = "failed", "runner-stopped"
        elif reason == "cancel":
            state, why = "cancelled", "cancelled"
        elif reason == "timeout":
            state, why = "failed", "timeout"
        else:
            state, why = ("succeeded" if ex.exit_code == 0 else "failed"), "exit"
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
        took = (r.finished_at or 0) - (r.started_at or 0)
        code = f"exit {r.exit_code}" if r.exit_code is not None else (f"signal {r.signal}" if r.signal else "")
        how = code if r.reason == "exit" else ", ".join(x for x in (r.reason, code) if x)
        by = f" by {r.by}" if r.by else ""
        then = f"; queued again as attempt {a.job.attempt + 1}" if state == "pending" else ""
        self.log(f"finished {a.job.id} ({a.job.queue}): {r.state} ({how}){by} in {took:.2f}s{then}"
                 + (f"; {r.message}" if r.message else ""))

    # -- stopping jobs ---------------------------------------------------------------

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

    # -- heartbeats and lost runners -------------------------------------------------

    def _busy_changed(self) -> None:
        """Tell the spool soon (within a second, not at the next regular beat) how busy
        we are: people and "why it waits" read it. Not at once: a beat is a file write."""
        self.t.beat = min(self.t.beat, time.monotonic() + BUSY_BEAT_DELAY)

    def _fresh(self) -> bool:
        """Did we beat recently enough to start a job (well before the fence)?"""
        return _boottime() - self.beat_ok <= self.beat_every

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
        self._ended(a, Result(state="failed", reason="runner-stopped", message="the runner could not beat"))
        return False

    def _check_fence(self) -> None:
        """After a freeze longer than the fence our watchdog has killed our jobs: say so,
        and give them back as lost (before the next beat makes us look alive again)."""
        gap = _boottime() - self.beat_ok
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
        hb = Heartbeat(id=self.id, host=self.host, pid=os.getpid(), queues=list(o.queues), slots=o.slots,
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
        self.beat_ok = _boottime()
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
            what = {"pending": "queued again at its place", "failed": "failed (runner-lost)",
                    "cancelled": "cancelled (as asked)", "finished": "finished with the result it had"}[r.outcome]
            self.log(f"took over {r.job_id} ({r.queue}) from {r.note}: {what}")
            self._append_log(r.job_id, f"{r.note}; job {what}")
            dead.add(r.runner)
            if r.queue in self.opts.queues:
                self.dirty.add(r.queue)
        for runner_id in dead - {self.id}:
            try:
                rn.bury(self.spool, runner_id)  # only if nobody holds its lock: proven dead
            except SpoolError as exc:
                self.log(f"cannot remove the heartbeat of dead runner {runner_id}: {exc}")
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

    # -- the reaper --------------------------------------------------------------------

    def _start_reaper(self) -> None:
        script = Path(__file__).with_name("reaper.py")
        try:
            self.reaper = subprocess.Popen([sys.executable, "-I", "-S", str(script), f"{self.fence:g}"],
                                           stdin=subprocess.PIPE,
                                           stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as exc:
            self.log(f"cannot start the watchdog ({exc.strerror}): jobs would outlive a killed runner")

    def _tell_reaper(self, line: str) -> None:
        if self.reaper is None or self.reaper.stdin is None:
            return
        try:
            os.write(self.reaper.stdin.fileno(), f"{line}\n".encode())
        except OSError:
            self.log("the watchdog is gone: jobs would outlive a killed runner")
            self.reaper = None


def _boottime() -> float:
    """Seconds on a clock that also runs while the host is suspended (as the watchdog's)."""
    return time.clock_gettime(_CLOCK)


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
