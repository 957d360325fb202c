"""`coreflow serve`: a runner and the trigger daemon, as two supervised child processes.

Each child is a plain `coreflow` command (`python -m coreflow_tui --spool S runner ...`,
`... triggers run`), so `ps` shows which is which. They meet only in the spool: a
child that dies is restarted with backoff (1 s, 2 s, 4 s ... 30 s; back to 1 s once a
child has stayed up a minute) and the other keeps working meanwhile. SIGTERM or
SIGINT stops both: the runner drains (or requeues, with --requeue-on-stop); a second
signal kills what is left.

Under systemd (see coreflow_tui/ops/): serve speaks the notify protocol (READY once the
runner has beaten and the triggers run, WATCHDOG pings, STOPPING), writes journald's
`<N>` prefixes instead of timestamps, keeps the metrics textfile fresh and prunes by the
spool's keep-finished setting; `--systemd-unit` prints a unit for this very command.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store import Spool
from store.runners import runners

from .journal import INFO, WARNING, log_line
from .notify import Notifier
from ..exits import EXIT_OK

BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_AFTER = 60.0  # seconds up after which a child's next crash restarts it at once


def _log(msg: str, level: int = INFO) -> None:
    print(log_line("serve", msg, level), file=sys.stderr, flush=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when serve dies, even by SIGKILL (Linux), so no child outlives it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(argv: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
    """Start a coreflow process in its own process group (a terminal's Ctrl-C reaches only
    its parent, which stops it in order) that dies with its parent."""
    return subprocess.Popen(list(argv), process_group=0, preexec_fn=_die_with_parent, **kw)


def coreflow_argv(spool: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "coreflow_tui", "--spool", str(spool), *args]


def runner_args(args: argparse.Namespace) -> list[str]:
    """The runner options of `serve` (the same as `runner`'s), as a command line."""
    out = (["--queues", args.queues] if args.queues else []) + ["--lease", f"{args.lease:g}"]
    if args.slots is not None:
        out += ["--slots", str(args.slots)]
    if args.labels:
        out += ["--labels", args.labels]
    if args.drain:
        out.append("--drain")
    if args.requeue_on_stop:
        out.append("--requeue-on-stop")
    if args.work_root is not None:
        out += ["--work-root", str(args.work_root)]
    if args.keep_workdir:
        out.append("--keep-workdir")
    return out


@dataclass
class Child:
    role: str
    argv: list[str]
    done_ok: bool = False  # exit 0 means "finished" (a draining runner), not "crashed"
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0
    restart_at: float = 0.0
    history: list[int] = field(default_factory=list)  # pids, oldest first


class Supervisor:
    def __init__(self, children: list[Child], *, log: Callable[..., None] = _log,
                 backoff: Sequence[float] = BACKOFF, stable_after: float = STABLE_AFTER,
                 poll: float = 0.2, notifier: Notifier | None = None,
                 ready: Callable[[list[Child]], bool] = lambda children: True) -> None:
        self.children = children
        self.notifier = notifier or Notifier(None)
        self.ready = ready
        self.ready_sent = False
        self.next_ping = 0.0
        self.log = log
        self.backoff = tuple(backoff)
        self.stable_after = stable_after
        self.poll = poll
        self.signals: list[int] = []  # appended by the handler, acted on by the loop
        self.handled = 0
        self.stopping = False

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # Only note it: logging here could re-enter a write to stderr the loop was doing.
        self.signals.append(signum)

    def _act_on_signals(self) -> None:
        while self.handled < len(self.signals):
            name = signal.Signals(self.signals[self.handled]).name
            self.handled += 1
            if self.handled == 1:
                self.log(f"{name}: stopping (again to stop at once)")
                self.notifier.stopping("stopping: the runner lets running jobs finish")
                self._signal_all(signal.SIGTERM)
            else:
                self.log(f"{name} again: killing what is left")
                self._signal_all(signal.SIGKILL)
            self.stopping = True

    def _signal_all(self, sig: int) -> None:
        for c in self.children:
            if c.proc is not None and c.proc.poll() is None:
                try:
                    os.kill(c.proc.pid, sig)
                except ProcessLookupError:
                    pass

    def _start(self, c: Child) -> None:
        c.proc = spawn(c.argv)
        c.started_at = time.monotonic()
        c.history.append(c.proc.pid)
        self.log(f"started {c.role} (pid {c.proc.pid}): {' '.join(c.argv[1:])}")

    def run(self) -> int:
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for c in self.children:
                self._start(c)
            while True:
                self._act_on_signals()
                if self.stopping:
                    return self._wait_stopped()
                for c in self.children:
                    if self._check(c):
                        self.log(f"{c.role} has finished; stopping the others")
                        self.notifier.stopping()
                        self._signal_all(signal.SIGTERM)
                        self.stopping = True
                self._notify()
                time.sleep(self.poll)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _notify(self) -> None:
        """READY=1 once every child is up, then WATCHDOG=1 at the interval systemd asked for
        (on through a stop: a drain may outlast the watchdog's timeout)."""
        now = time.monotonic()
        if not self.ready_sent:
            if self.stopping or not self.ready(self.children):
                return
            self.ready_sent = True
            self.notifier.ready("serving: runner and triggers are up")
            self.next_ping = now
        interval = self.notifier.watchdog_interval
        if interval and now >= self.next_ping:
            self.notifier.watchdog()
            self.next_ping = now + interval

    def _check(self, c: Child) -> bool:
        """Restart `c` if it died and its backoff has passed; True if it finished for good."""
        now = time.monotonic()
        if c.proc is None:
            if now >= c.restart_at and not self.stopping:
                self._start(c)
            return False
        code = c.proc.poll()
        if code is None:
            return False
        c.proc = None
        if code == 0 and c.done_ok:
            return True
        up = now - c.started_at
        c.crashes = 0 if up >= self.stable_after else c.crashes
        delay = self.backoff[min(c.crashes, len(self.backoff) - 1)]
        c.crashes += 1
        c.restart_at = now + delay
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        self.log(f"{c.role} (pid {c.history[-1]}) {how} after {up:.1f}s; restarting in {delay:g}s", WARNING)
        return False

    def _wait_stopped(self) -> int:
        waiting_logged = False
        while True:
            self._act_on_signals()
            live = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
            if not live:
                break
            if not waiting_logged and any(c.role == "runner" for c in live):
                self.log("waiting for the runner to stop (it lets running jobs finish)")
                waiting_logged = True
            self._notify()
            time.sleep(self.poll)
        self.log("stopped")
        return EXIT_OK


def children_up(spool: Spool) -> Callable[[list[Child]], bool]:
    """Ready when the runner child has written its heartbeat and the triggers child runs."""
    def up(children: list[Child]) -> bool:
        pids = {c.role: c.proc.pid for c in children if c.proc is not None and c.proc.poll() is None}
        if "runner" not in pids or "triggers" not in pids:
            return False
        # this host's clock: no probe file in tmp/ five times a second while starting
        return any(r.beat.pid == pids["runner"] for r in runners(spool, now=time.time()))
    return up


def cmd_serve(args: argparse.Namespace) -> int:
    spool = Spool.open(args.spool)  # fail here, once, rather than in two restarting children
    if getattr(args, "systemd_unit", False):
        from .unit import print_unit

        return print_unit(args, spool.root, runner_args(args))
    if getattr(args, "user", None) or getattr(args, "writable", None):
        print("coreflow: serve: --user and --writable describe the unit: give them with --systemd-unit",
              file=sys.stderr)
        return 2
    from .housekeeping import Housekeeper

    children = [
        Child("runner", coreflow_argv(spool.root, "runner", *runner_args(args)), done_ok=args.drain),
        Child("triggers", coreflow_argv(spool.root, "triggers", "run")),
    ]
    _log(f"serving {spool.root}")
    keeper = Housekeeper(spool, _log, metrics_dir=getattr(args, "metrics_textfile", None),
                         metrics_every=getattr(args, "metrics_every", 15.0))
    keeper.start()
    notifier = Notifier.from_env()
    try:
        return Supervisor(children, notifier=notifier, ready=children_up(spool)).run()
    finally:
        keeper.stop()
        notifier.close()
