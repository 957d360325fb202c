"""`coreflow serve`: runner and triggers as separate processes; a crash of one stops neither."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import store
from store import JobSpec, Spool
from store.triggers import save_trigger

from .helpers import trigger_jobs
from .procs import alive, descendants, role, wait_for

pytestmark = pytest.mark.timeout(90)


def _serve(spool: Spool, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "serve",
                             "--queues", "default", "--slots", "2", "--requeue-on-stop"],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _finished(spool: Spool) -> list:
    return spool.jobs(states={"succeeded", "failed"})[0]


def test_killing_one_child_stops_neither_and_serve_restarts_it(spool: Spool, tmp_path: Path) -> None:
    save_trigger(spool, "tick", 'kind = "schedule"\nevery = "1s"\n[job]\ncommand = ["true"]\n')
    log = tmp_path / "serve.log"
    serve = _serve(spool, log)
    try:
        runner = wait_for(lambda: role(serve.pid, "runner"))
        triggers = wait_for(lambda: role(serve.pid, "triggers"))
        assert runner and triggers and runner != triggers
        assert wait_for(lambda: trigger_jobs(spool, "tick", {"succeeded"}), 20), log.read_text()

        os.kill(runner, signal.SIGKILL)
        fired = len(trigger_jobs(spool, "tick"))
        # Triggers keep enqueueing while the runner is down ...
        assert wait_for(lambda: len(trigger_jobs(spool, "tick")) >= fired + 2, 10), log.read_text()
        # ... and serve starts a new runner, which runs them.
        new_runner = wait_for(lambda: (r := role(serve.pid, "runner")) and r != runner and r)
        assert new_runner, log.read_text()
        done = len(trigger_jobs(spool, "tick", {"succeeded"}))
        assert wait_for(lambda: len(trigger_jobs(spool, "tick", {"succeeded"})) > done, 20), log.read_text()

        # The other way round: without the trigger daemon, the runner still runs jobs.
        os.kill(triggers, signal.SIGKILL)
        (job_id,) = store.submit(spool, [JobSpec(command=["true"], name="by hand")])
        assert wait_for(lambda: spool.find(job_id).state == "succeeded", 20), log.read_text()
        assert wait_for(lambda: (t := role(serve.pid, "triggers")) and t != triggers, 10), log.read_text()

        kids = descendants(serve.pid)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0
        assert not [pid for pid in kids if alive(pid)]
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
    text = log.read_text()
    assert "runner (pid %d) was killed by SIGKILL" % runner in text
    assert "triggers (pid %d) was killed by SIGKILL" % triggers in text
    assert "restarting in 1s" in text
    assert "serve: stopped" in text
