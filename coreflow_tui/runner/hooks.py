"""Finish hooks: a command the runner starts after a job's result is recorded.

Which command: the job type's `on_finish` (types.toml) if it names one, else the queue's
(`coreflow queue set Q --on-finish CMD`, in queue.json); its time limit is the same
place's `on_finish_timeout`, else limits.HOOK_TIMEOUT (30 s). It runs as `/bin/sh -c CMD`
in a session of its own, with the runner's environment plus COREFLOW_JOB_ID,
COREFLOW_JOB_STATE, COREFLOW_EXIT_CODE (empty when there is none), COREFLOW_QUEUE,
COREFLOW_JOB_NAME, COREFLOW_SPOOL, COREFLOW_ATTEMPT and the job's COREFLOW_PARAM_* (not
the job's own `env`: what a submitter gave the job is not the hook's).

Hooks run on worker threads (at most MAX_AT_ONCE at a time; more wait their turn), never
in a slot and never in the runner's loop. At its time limit a hook's process group is
killed; when its main process ends, what it left running in its group is killed too. A
hook never changes its job: its outcome (exit code, signal, timed out, could not start)
and the last MAX_HOOK_OUTPUT bytes of its output are written into the job's done file
(store.jobs.annotate.record_hook). A stopped runner lets running hooks finish for as long
as it gives a job after TERM (COREFLOW_STOP_GRACE, 10 s), then kills them (their outcome
says so); hooks still waiting to start
are recorded as not run; a runner that ends because it drained its queues (--drain) lets them
run to their time limits. A runner killed outright leaves its hooks running, unrecorded;
the runner that takes its jobs over runs the hooks of those it finishes (runner-lost,
cancelled, or ended before their runner could move them on).
"""

from __future__ import annotations

import math
import os
import queue
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from store import Job, Result, Spool, SpoolError
from store.jobs.annotate import record_hook
from store.jobtypes import load_types
from store.limits import HOOK_TIMEOUT, MAX_HOOK_OUTPUT
from store.model import HookOutcome, QueueConfig
from store.states import FINAL

from .jobenv import job_env

MAX_AT_ONCE = 8
NOT_FOUND = {126: "not executable", 127: "command not found"}  # what /bin/sh says by its exit code


@dataclass(slots=True)
class HookRun:
    job: Job
    result: Result
    command: str
    timeout: float


class Hooks:
    def __init__(self, spool: Spool, lock: Callable[[str], AbstractContextManager[None]],
                 log: Callable[[str], None], env: dict[str, str],
                 queue_config: Callable[[str], QueueConfig]) -> None:
        self.spool = spool
        self.lock = lock  # the runner's kept queue locks (a second open of a lock file drops NFS locks)
        self.queue_config = queue_config  # the runner's cached queue.json (read again only when replaced)
        self.log = log
        self.env = env
        self.cwd = _runner_cwd()  # named at each start: the loop steps into jobs' directories to spawn them
        self._todo: queue.SimpleQueue[HookRun | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._guard = threading.Lock()
        self._stop_by: float | None = None  # time.monotonic() when a stopping runner kills them

    def after_finish(self, job: Job, result: Result, state: str) -> None:
        """Start the job's hook, if it has one, now that its final result is recorded."""
        if state not in FINAL or self._stop_by is not None:
            return
        found = self.hook_for(job)
        if found is None:
            return
        self._todo.put(HookRun(job, result, *found))
        with self._guard:
            if self._idle <= 0 and len(self._workers) < MAX_AT_ONCE:
                t = threading.Thread(target=self._work, name="coreflow-hook", daemon=True)
                try:
                    t.start()
                except RuntimeError as exc:  # out of threads: the queued hook waits for a worker
                    if not self._workers:
                        self.log(f"cannot start a thread for finish hooks ({exc}); hooks wait")
                    return
                self._workers.append(t)
            else:
                self._idle -= 1

    def after_takeover(self, job_id: str) -> None:
        """A lost runner's job that we finished (runner-lost, cancelled, or the result it had)."""
        try:
            r = self.spool.find(job_id)
            job = self.spool.read(r)
        except SpoolError as exc:
            self.log(f"job {job_id}: cannot read it to start its finish hook: {exc}")
            return
        if job.result is not None:
            self.after_finish(job, job.result, r.state)

    def hook_for(self, job: Job) -> tuple[str, float] | None:
        """(command, time limit) of the job's finish hook: its type's, else its queue's."""
        if job.type:
            try:
                jt = load_types(self.spool.layout.types).get(job.type)
            except SpoolError as exc:
                self.log(f"job {job.id}: types.toml cannot be read, so its type's hook is unknown: {exc}")
                jt = None
            if jt is not None and jt.on_finish:
                return jt.on_finish, jt.on_finish_timeout or HOOK_TIMEOUT
        try:
            cfg = self.queue_config(job.queue)
        except SpoolError as exc:
            self.log(f"job {job.id}: cannot read queue {job.queue}'s settings for its finish hook: {exc}")
            return None
        return (cfg.on_finish, cfg.on_finish_timeout or HOOK_TIMEOUT) if cfg.on_finish else None

    def close(self, wait: float | None) -> None:
        """The runner stops. `wait` None (it drained its queues): every hook, queued ones too, runs
        to its own time limit. Otherwise running hooks get `wait` seconds, then are killed, and
        queued ones are recorded as not run."""
        self._stop_by = math.inf if wait is None else time.monotonic() + wait
        while wait is not None:
            try:
                run = self._todo.get_nowait()
            except queue.Empty:
                break
            if run is not None:
                self._record(run, HookOutcome(command=run.command, attempt=run.job.attempt,
                                              error="not run: the runner stopped first"))
        for _ in self._workers:
            self._todo.put(None)
        for t in self._workers:
            t.join(None if wait is None else wait + 5.0)

    # -- worker threads --------------------------------------------------------------

    def _work(self) -> None:
        while True:
            run = self._todo.get()
            if run is None:
                return
            try:
                self._record(run, self._run(run))
            except Exception as exc:  # noqa: BLE001 - a hook's trouble must never stop the runner
                self.log(f"finish hook of job {run.job.id} failed in the runner: {type(exc).__name__}: {exc}")
            with self._guard:
                self._idle += 1

    def _run(self, run: HookRun) -> HookOutcome:
        job, r = run.job, run.result
        env = job_env(self.env, job, str(self.spool.root), None, own_env=False)  # the job's secrets stay its own
        env.update(COREFLOW_JOB_STATE=r.state, COREFLOW_JOB_NAME=job.name,
                   COREFLOW_EXIT_CODE="" if r.exit_code is None else str(r.exit_code))
        started = time.time()
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", run.command], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=self.cwd,
                                    start_new_session=True, close_fds=True)
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            return HookOutcome(command=run.command, attempt=job.attempt, error=f"could not start: {why}",
                               started_at=started, finished_at=time.time())
        output, error = self._follow(proc, time.monotonic() + run.timeout, run.timeout)
        code = proc.returncode
        out = HookOutcome(command=run.command, attempt=job.attempt, started_at=started, finished_at=time.time(),
                          output=output, error=error)
        if code is not None and code < 0:
            out.signal = -code
        else:
            out.exit_code = code
            if not error and code in NOT_FOUND:
                out.error = f"could not start: {NOT_FOUND[code]} (exit {code})"
        return out

    def _follow(self, proc: subprocess.Popen[bytes], deadline: float, limit: float) -> tuple[str, str]:
        """Read the hook's output until it ends or its time is up; returns (output, error)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        kept, cut, error, eof = b"", 0, "", False
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                now, stop_by = time.monotonic(), self._stop_by
                if now >= deadline or (stop_by is not None and now >= stop_by):
                    error = f"timed out after {limit:g}s: killed" if now >= deadline else "killed: the runner stopped"
                    break
                if _exited(proc.pid):
                    break
                if eof:
                    time.sleep(0.02)  # it closed its output but runs on
                elif sel.select(min(0.1, deadline - now)):
                    chunk = _read(fd)
                    if chunk is None:
                        eof = True
                        sel.unregister(fd)
                    kept, cut = _keep(kept, cut, chunk or b"")
        _kill(proc.pid)  # its group: nothing it started outlives it (the leader is not reaped yet)
        proc.wait()
        while (chunk := _read(fd)):  # what it wrote before it ended
            kept, cut = _keep(kept, cut, chunk)
        proc.stdout.close()
        return (f"[{cut} bytes before this cut]\n" if cut else "") + kept.decode("utf-8", "replace"), error

    def _record(self, run: HookRun, outcome: HookOutcome) -> None:
        job = run.job
        how = outcome.error or (f"exit {outcome.exit_code}" if outcome.exit_code is not None
                                else f"signal {outcome.signal}")
        try:
            if record_hook(self.spool, job.queue, job.id, outcome, self.lock):
                self.log(f"finish hook of {job.id}: {how}")
            else:
                self.log(f"finish hook of {job.id}: {how} (not recorded: the job was retried or removed meanwhile)")
        except SpoolError as exc:
            self.log(f"finish hook of {job.id}: {how}; cannot record it with the job: {exc}")


def _exited(pid: int) -> bool:
    """Has the hook's main process ended? (Not reaped: its pid still names its group.)"""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _read(fd: int) -> bytes | None:
    """A chunk of output; b"" when there is none for now, None at its end."""
    try:
        return os.read(fd, 65536) or None
    except BlockingIOError:
        return b""
    except OSError:
        return None


def _keep(kept: bytes, cut: int, chunk: bytes) -> tuple[bytes, int]:
    """The last MAX_HOOK_OUTPUT bytes, and how many came before them."""
    kept += chunk
    if len(kept) > MAX_HOOK_OUTPUT:
        cut += len(kept) - MAX_HOOK_OUTPUT
        kept = kept[-MAX_HOOK_OUTPUT:]
    return kept, cut


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _runner_cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed under us
        return "/"
