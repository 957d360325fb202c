"""`coreflow demo [DIR] [--no-tui]`: a living queue in one command.

Makes a demo spool (a new temporary directory, or DIR), starts `coreflow serve` on it
in the background, opens the TUI, and on quitting stops what it started. The spool
is left in place, so `coreflow --spool DIR` opens it again.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import store
from store import JobSpec, Result, Spool, SpoolError
from store import atomic
from store.triggers import save_trigger

from ..ops.serve import coreflow_argv, spawn
from ..exits import EXIT_FAIL, EXIT_OK

STOP_TIMEOUT = 20.0
INBOX = "inbox"  # the folder inside the demo spool that the watch trigger follows

TYPES = '''\
# Job types of the demo: what each kind of job is, who owns it, where it runs.
[compile]
description = "Compile a branch with -Werror"
owner = "build-team@example.com"
queue = "build"
timeout = 600

[unit-test]
description = "Unit tests of one package, in parallel"
owner = "build-team@example.com"
queue = "build"
timeout = 900

[lint]
description = "Style and static checks (fast, never blocks a merge alone)"
owner = "dev-experience@example.com"
queue = "default"

[package]
description = "Build release tarballs and checksums"
owner = "release@example.com"
queue = "default"

[docs]
description = "Render the documentation site"
owner = "docs@example.com"
queue = "default"

[smoke]
description = "A quick end-to-end check of the staging stack"
owner = "sre@example.com"
queue = "default"
timeout = 120

[deploy]
description = "Roll a release out to one environment (one at a time)"
owner = "sre@example.com"
queue = "deploy"
timeout = 1800
'''

SMOKE_TRIGGER = '''\
description = "Smoke-test staging every few seconds; one waiting run is enough"
kind = "schedule"
every = "6s"
catch_up = "once"
coalesce = true
[job]
type = "smoke"
name = "smoke at {fired_at}"
command = ["sh", "-c", "echo smoke test of staging; sleep 2; echo all endpoints answered"]
labels = { trigger = "{trigger}" }
'''

INBOX_TRIGGER = f'''\
description = "Lint whatever lands in the inbox folder of the demo spool"
kind = "watch"
path = "{INBOX}"
patterns = ["*"]
debounce = "1s"
coalesce = true
[job]
type = "lint"
name = "lint {{changed}}"
command = ["sh", "-c", "echo linting \\"$@\\"; sleep 2", "lint", "{{changed}}"]
'''

RELEASE_TRIGGER = '''\
description = "Package a release by hand: coreflow triggers fire release --set version=1.2.3"
kind = "manual"
[params]
version = "0.0.0-dev"
[job]
type = "package"
name = "package v{version}"
command = ["sh", "-c", "echo packaging v$0; sleep 3; echo done", "{version}"]
priority = "high"
'''

# (type, name, seconds, exit code, priority)
WORK = [
    ("compile", "main@4f2a91c", 6, 0, "normal"), ("unit-test", "core (main@4f2a91c)", 5, 0, "normal"),
    ("compile", "feature/cache@88e01d2", 7, 1, "normal"), ("unit-test", "net (main@4f2a91c)", 4, 0, "low"),
    ("compile", "hotfix/oom@1b9c3e0", 4, 0, "urgent"), ("unit-test", "store (pr #812)", 8, 0, "normal"),
    ("compile", "release/2.4@c0ffee1", 9, 0, "high"), ("unit-test", "ui (pr #815)", 3, 1, "normal"),
    ("compile", "pr #817@77aa2b4", 5, 0, "normal"), ("unit-test", "parser (pr #817)", 6, 0, "low"),
    ("lint", "pr #812", 2, 0, "normal"), ("lint", "pr #815", 2, 1, "normal"),
    ("docs", "site for 2.4", 8, 0, "low"), ("package", "nightly tarballs", 7, 0, "normal"),
    ("lint", "pr #817", 2, 0, "normal"), ("smoke", "staging after 2.4-rc1", 4, 0, "high"),
    ("package", "2.4-rc1", 6, 0, "high"), ("docs", "api reference", 5, 0, "low"),
    ("lint", "main", 3, 0, "low"), ("unit-test", "flaky: scheduler", 5, 1, "normal"),
    ("compile", "arm64 main@4f2a91c", 9, 0, "normal"), ("package", "debug symbols", 4, 0, "low"),
]
DEPLOYS = [("deploy", "2.3.9 to staging", 6, 0, "normal"), ("deploy", "2.4-rc1 to staging", 8, 0, "high"),
           ("deploy", "2.4-rc1 to canary", 8, 0, "normal"), ("deploy", "2.3.9 to eu-west", 10, 0, "normal")]
FINISHED = [("compile", "main@9d0e4aa", 41, 0), ("unit-test", "core (main@9d0e4aa)", 73, 1),
            ("lint", "pr #809", 8, 0), ("compile", "feature/cache@51ab3e2", 55, 2),
            ("deploy", "2.3.8 to production", 312, 0), ("package", "2.3.9", 66, 0),
            ("unit-test", "net (pr #810)", 48, 1), ("docs", "site for 2.3", 95, 0)]
# A pipeline (each step waits for the one before) and a job held back until later.
PIPELINE = [("compile", "release/2.5@5e1f0a2", 7, 0, "build"), ("unit-test", "all (release/2.5)", 6, 0, "test"),
            ("package", "2.5 tarballs", 4, 0, "package")]
LATER = ("docs", "nightly site rebuild", 5, 0, 1800)  # starts in 30 minutes


def _command(name: str, seconds: int, code: int) -> list[str]:
    steps = max(1, seconds // 2)
    script = (f'echo "== {name}"; i=0; while [ $i -lt {steps} ]; do i=$((i+1)); '
              f'echo "step $i of {steps}"; sleep {seconds / steps:g}; done; ')
    script += 'echo "FAILED: see the step above" >&2; exit 1' if code else 'echo "ok"'
    return ["sh", "-c", script]


def make_demo(root: Path) -> tuple[Spool, bool]:
    """Make (or reuse) a demo spool at `root`; returns it and whether it was made now."""
    if root.exists() and any(root.iterdir()):
        try:
            return Spool.open(root), False
        except SpoolError:
            raise SpoolError(f"{root} is neither empty nor a spool: give a new or empty directory for the demo "
                             "(or none, for a temporary one)") from None
    spool = Spool.init(root)
    lay = spool.layout
    atomic.publish(lay.tmp, lay.types, TYPES.encode())
    spool.update_queue("default", "set", description="everything without a queue of its own")
    spool.add_queue("build", slots=2, description="compiles and tests: two at a time across all hosts")
    spool.add_queue("deploy", slots=1, description="one rollout at a time")
    (spool.root / INBOX).mkdir()
    rng = random.Random(4)
    _finished(spool, rng)
    ids = store.submit(spool, [JobSpec(command=_command(n, s, c), type=t, name=n, priority=p,
                                       labels={"demo": "yes"}) for t, n, s, c, p in WORK + DEPLOYS])
    for job_id in (ids[5], ids[13], ids[20]):
        store.hold(spool, job_id)
    for job_id in (ids[9], ids[18]):
        store.cancel(spool, job_id, detail="no longer needed (demo)")
    steps = [JobSpec(command=_command(n, s, c), type=t, name=n, step=step, labels={"demo": "yes"},
                     after=[f"@{PIPELINE[i - 1][4]}"] if i else [])
             for i, (t, n, s, c, step) in enumerate(PIPELINE)]
    t, n, s, c, delay = LATER
    store.submit(spool, [*steps, JobSpec(command=_command(n, s, c), type=t, name=n, labels={"demo": "yes"},
                                         not_before=time.time() + delay)])
    spool.update_queue("deploy", "pause", paused=True)
    save_trigger(spool, "smoke", SMOKE_TRIGGER)
    save_trigger(spool, "inbox", INBOX_TRIGGER)
    save_trigger(spool, "release", RELEASE_TRIGGER)
    return spool, True


def _finished(spool: Spool, rng: random.Random) -> None:
    """Jobs that ran before the demo began, claimed and finished through the runner's own
    store calls (so they look exactly like jobs a runner ran)."""
    from store.jobs.claims import Claimant, Claims
    from store.runners import remove as remove_runner

    me = Claimant(runner=f"demo-{os.getpid()}", host=socket.gethostname(), pid=os.getpid())
    now = time.time()
    specs = [JobSpec(command=_command(n, 1, c), type=t, name=n, labels={"demo": "yes"}) for t, n, _s, c in FINISHED]
    jobs = [store.build_job(spool, s, now=now - 3600 + 400 * i) for i, s in enumerate(specs)]
    store.place(spool, jobs)
    claims = Claims(spool, me)
    try:
        for job, (_t, name, seconds, code) in zip(jobs, FINISHED, strict=True):
            got = claims.claim_next(job.queue)
            if got.job is None:
                continue
            started = job.submitted_at + rng.uniform(5, 60)
            log = f"== {name}\n" + "".join(f"step {i} of 3\n" for i in (1, 2, 3))
            log += "FAILED: see the step above\n" if code else "ok\n"
            atomic.publish(spool.layout.tmp, spool.layout.log(got.job.id), log.encode())
            claims.finish(got.job, Result(state="failed" if code else "succeeded", reason="exit", exit_code=code,
                                          started_at=started, finished_at=started + seconds, host=me.host,
                                          runner=me.runner, attempt=got.job.attempt))
    finally:
        claims.close()
        remove_runner(spool, me.runner)  # its claims journal: this was no real runner


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"coreflow demo: serve did not stop in {STOP_TIMEOUT:g}s; killing it", file=sys.stderr)
            proc.kill()
    return proc.wait()


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="coreflow-demo-"))
    spool, fresh = make_demo(root)
    print(f"coreflow demo: {'made' if fresh else 'reusing'} the demo spool {spool.root}", file=sys.stderr)
    serve_argv = coreflow_argv(spool.root, "serve", "--queues", "default,build,deploy", "--slots", "4",
                               "--requeue-on-stop")
    if args.no_tui:
        return _headless(spool, serve_argv)
    try:
        from coreflow_tui.tui.app import cmd_tui
    except ImportError as exc:
        print(f"coreflow demo: the terminal UI is not available ({exc}); use --no-tui", file=sys.stderr)
        return EXIT_FAIL
    log_fd, log_name = tempfile.mkstemp(prefix="coreflow-demo-serve-", suffix=".log")
    serve = spawn(serve_argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd)
    os.close(log_fd)
    try:
        rc = cmd_tui(argparse.Namespace(spool=spool.root, queue=None, command="tui"))
    finally:
        _stop(serve)
    print(f"coreflow demo: stopped the runner and triggers (their log: {log_name}); the spool stays at "
          f"{spool.root}: `coreflow --spool {spool.root}` opens it again", file=sys.stderr)
    return rc


def _headless(spool: Spool, serve_argv: list[str]) -> int:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    serve = spawn(serve_argv, stdin=subprocess.DEVNULL)
    print(f"coreflow demo: serving (pid {serve.pid}); look with `coreflow --spool {spool.root} ls`, "
          "stop with Ctrl-C", file=sys.stderr)
    try:
        while not stop.wait(0.2):
            if serve.poll() is not None:
                print(f"coreflow demo: serve exited with status {serve.returncode}", file=sys.stderr)
                return EXIT_FAIL
    finally:
        code = _stop(serve)
        for s, h in old.items():
            signal.signal(s, h)
    print(f"coreflow demo: stopped (serve exited {code}); the spool stays at {spool.root}", file=sys.stderr)
    return EXIT_OK if code == 0 else EXIT_FAIL
