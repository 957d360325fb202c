"""The runner: one thread, one event loop.

It waits (epoll) on its jobs' output pipes and exit notifications (pidfd), on the
spool's own change events (store.feed.QueueWatch: inotify, or a polling timer), on a
wake pipe that the flusher thread and the signal handlers write to, and on timers
(heartbeat, timeouts, kill deadlines, the lost-runner check). It claims when it has a
free slot and a queue it serves has changed, or at once when one of its jobs ends.

Runner holds the state and the loop; its parts are claiming.py (claim and start),
finishing.py (output, exit, results, stopping jobs) and fence.py (heartbeats, the
fence, lost runners, the watchdog); what they share is in common.py.
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
import time
from typing import TextIO

from store import Spool, SpoolError
from store.jobs import claims as cl
from store import runners as rn
from store.feed import QueueWatch
from store.mounts import lock_warning

from ..ops.journal import log_line
from .claiming import Claiming
from .drain import Drain
from .common import Active, CLAIM_SAFETY, FDS_PER_JOB, FDS_RESERVED, GIVE_UP_RECORD, Options, RETRY_RECORD, Timers
from .fence import Fencing
from .finishing import Finishing
from .flusher import Flusher
from .hooks import Hooks
from .jobenv import runner_env
from .workdir import WorkDirs, default_work_root


class Runner(Claiming, Finishing, Fencing):
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
        self.in_flight: dict[str, Active] = {}  # ended, result journaled, not yet published
        self.dirty: set[str] = set(opts.queues)
        self.status: dict[str, str] = {}
        self.refused: set[str] = set()  # serving every queue: those found unsafe (not served)
        self.drain = Drain(spool, self.id, frozenset(opts.labels))
        self.stop_level = 0
        self.signals = 0
        self.stop_since: float | None = None
        self.beat_every = max(0.2, min(opts.lease / 4, 10.0))
        # The watchdog stops our jobs when we have not beaten for this long: see layout.py.
        self.fence = opts.lease - rn.fence_margin(opts.lease)
        self.beat_ok = 0.0  # boottime() of the last heartbeat written
        self.runner_lock: rn.RunnerLock | None = None
        self.short_of: float | None = None  # when a resource ran out (see _short_of)
        self.scope = rn.lock_scope(spool)
        self.started = time.time()
        self.t = Timers()
        self.beat_failing = False
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.env = runner_env(os.environ)
        self.workdirs = WorkDirs(opts.work_root or default_work_root(), opts.keep_workdir, spool)
        self.hooks = Hooks(spool, self.claims.lock, self.log, self.env, self.claims.queue_config)
        self.watch: QueueWatch | None = None
        self.reaper: subprocess.Popen[bytes] | None = None
        self.flusher: Flusher | None = None
        self.reaper_lines: list[str] = []  # for the watchdog, written once per turn
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
        return 0 if not self.unrecorded and not self.in_flight and not failed else 1

    def _turn(self) -> bool:
        """One turn of the loop; True when it is time to exit."""
        self._fill_slots()
        self._sync()
        if self._should_exit():
            return True
        self._fold()
        self._flush_reaper()  # before waiting: the jobs started this turn are the watchdog's
        self._wait(self._timeout())
        self._publish_results()
        self._on_signals()
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
        self.flusher = Flusher(self.claims.flush_results, self.claims.fsync_dirs, self._wake)
        self.watch = QueueWatch(self.spool, interval=o.poll_interval)
        self.watch.serve(o.queues)
        fd = self.watch.fileno()
        if fd is not None:  # inotify: the loop wakes as soon as a queue changes
            self.sel.register(fd, selectors.EVENT_READ, self._on_watch)
        self.log(f"{self.id} on {self.host} serving {','.join(o.queues)} with {o.slots} slot(s)"
                 f"{', labels ' + ','.join(sorted(o.labels)) if o.labels else ''}, lease {o.lease:g}s, "
                 f"change feed {self.watch.describe()}{', draining' if o.drain else ''}")
        locks = lock_warning(self.spool.layout.meta)
        if locks:
            self.log(f"{locks}; with runners on other hosts a queue may run more jobs than its slots for a "
                     "moment; a job still never runs twice at once")
        self._recover()
        self._bury_dead()
        now = time.monotonic()
        self.t.beat = now + self.beat_every
        self.t.lost = now + self.beat_every
        self.t.claim = now + CLAIM_SAFETY

    def _shutdown(self) -> None:
        if self.flusher is not None:
            self.flusher.stop()
        for a in list(self.jobs.values()):  # only after an error in the loop itself
            a.proc.signal_group(signal.SIGKILL)
            a.proc.close()
        self.hooks.close(self.opts.stop_grace if self.stop_level else None)  # before the locks: outcomes need them
        self.workdirs.close()
        self._fold_at_exit()
        self.claims.close()
        left_behind = len(self.jobs) + len(self.unrecorded) + len(self.in_flight)
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
        if self.watch is not None:
            self.watch.close()
        self.sel.close()
        for fd in (self.wake_r, self.wake_w, self.devnull):
            os.close(fd)
        left = f"; {len(self.unrecorded)} result(s) could not be recorded" if self.unrecorded else ""
        self.log(f"{self.id} stopped{left}")

    def _should_exit(self) -> bool:
        if self.jobs or self.unrecorded or self.in_flight:
            if self.stop_level and not self.jobs and self.stop_since is not None \
                    and time.monotonic() - self.stop_since > GIVE_UP_RECORD:
                return True  # the jobs stay claimed by us; a runner started later takes them back
            return False
        if self.stop_level:
            return True
        if self.opts.drain and not self.dirty:
            # A queue it cannot claim from ("error") ends a drain too: waiting would never end.
            seen = [self.status.get(q) for q in self.opts.queues]
            if not all(s in ("empty", "paused", "ineligible", "gone", "error") for s in seen):
                return False
            if "ineligible" in seen:  # blocked jobs: stay while one will become runnable on its own
                if self.drain.waits(self.opts.queues, self.status):
                    return False
                if self.drain.stuck:
                    self.log(f"drained; left waiting: {self.drain.stuck}")
            return True
        return False

    # -- the loop ------------------------------------------------------------------

    def _sync(self) -> None:
        try:
            if self.flusher is not None:
                self.flusher.sync_dirs(self.claims.dirs_to_sync())
            else:
                self.claims.sync()
        except SpoolError as exc:
            self.log(f"cannot make the last changes durable: {exc}")

    def _timeout(self) -> float:
        now = time.monotonic()
        due = [self.t.beat, self.t.lost]
        if not self.stop_level:
            start = self.claims.next_due()  # a delayed job's start time (store/deps.py): claim then
            self.t.claim = min(self.t.claim, now + max(0.0, start - time.time())) if start else self.t.claim
            due.append(self.t.claim)
        if self.jobs:
            due.append(self.t.cancel)
        if self.unrecorded:
            due.append(self.t.record)
        if self.in_flight and self.flusher is not None and self.flusher.error is not None:
            due.append(self.t.flush_error)
        poll = self.watch.poll_due(now) if self.watch is not None else None
        if poll is not None:
            due.append(poll)
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

    def _wake(self) -> None:
        try:
            os.write(self.wake_w, b"!")
        except (BlockingIOError, OSError):
            pass  # already full of wake-ups, or closing

    def _on_watch(self) -> None:
        """A queue we serve changed (inotify, at once; polling, when due): claim, cancel."""
        assert self.watch is not None
        change = self.watch.read(time.monotonic())
        if not change:
            return
        if self.opts.every_queue and (change.full or change.queues - set(self.opts.queues)):
            self._discover_queues()
        served = set(self.opts.queues)
        touched = served if change.full else (change.queues & served)
        self.dirty |= touched
        mine = {a.job.queue for a in self.jobs.values()}
        asked = self.watch.cancel_asked(change) & mine
        if asked:
            self._check_cancels(asked)
        if change.full:
            self.watch.serve(self.opts.queues)  # queues added, or made anew

    def _on_timers(self) -> None:
        now = time.monotonic()
        poll = self.watch.poll_due(now) if self.watch is not None else None
        if poll is not None and now >= poll:
            self._on_watch()
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
