"""Whether a trigger daemon runs: `doctor` and `triggers ls` say so, from the beat file each
`coreflow triggers run` keeps in triggers/.state/ (store/triggers/daemons.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from store import Spool
from store.triggers import save_trigger
from tests.conftest import run_cf

from .procs import wait_for

SCHEDULE = 'kind = "schedule"\nevery = "1h"\ncatch_up = "skip"\n[job]\ncommand = ["true"]\n'


def _start(spool: Spool) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "triggers", "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _doctor(spool: Spool) -> str:
    return run_cf(spool, "doctor").stdout


def test_doctor_and_triggers_ls_say_whether_a_trigger_daemon_runs(spool: Spool) -> None:
    save_trigger(spool, "nightly", SCHEDULE)
    doctor = run_cf(spool, "doctor")
    assert doctor.returncode == 1 and "warn   no trigger daemon is running: schedules" in doctor.stdout
    assert "trigger daemon: none running; start `coreflow triggers run`" in run_cf(spool, "triggers", "ls").stdout

    proc = _start(spool)
    try:
        running = f"trigger daemon: running on {socket.gethostname()} (pid {proc.pid})"
        assert wait_for(lambda: running in _doctor(spool), 20)
        assert running in run_cf(spool, "triggers", "ls").stdout
    finally:
        proc.terminate()
        proc.wait(10)
    assert "no trigger daemon is running: schedules" in _doctor(spool)  # a clean stop takes its beat away

    proc = _start(spool)
    assert wait_for(lambda: "trigger daemon: running" in _doctor(spool), 20)
    proc.send_signal(signal.SIGKILL)  # killed: its beat stays, and ages
    proc.wait(10)
    (beat,) = spool.layout.trigger_state.glob("daemon.*.beat")
    os.utime(beat, (time.time() - 120,) * 2)
    assert f"no trigger daemon is running (the last one, on {socket.gethostname()} (pid {proc.pid}), beat " \
        in _doctor(spool)
    assert "trigger daemon: none running (last seen 2m" in run_cf(spool, "triggers", "ls").stdout


def test_only_manual_triggers_need_no_daemon(spool: Spool) -> None:
    save_trigger(spool, "release", 'kind = "manual"\n[job]\ncommand = ["true"]\n')
    assert "trigger daemon" not in _doctor(spool) and "trigger daemon" not in run_cf(spool, "triggers", "ls").stdout
