"""Helpers for the ops tests: a real runner holding a job in running/."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import store
from store import JobSpec, Spool
from tests.conftest import ROOT


@contextmanager
def running_job(spool: Spool, queue: str = "default", name: str = "long one") -> Iterator[str]:
    """A `sleep 60` job a real runner is running; the runner is stopped (requeueing it) after."""
    (job_id,) = store.submit(spool, [JobSpec(command=["sleep", "60"], queue=queue, name=name)])
    runner = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "runner",
                               "--queues", queue, "--slots", "1", "--requeue-on-stop"],
                              cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while spool.find(job_id).state != "running":
            assert time.time() < deadline, "the runner did not start the job"
            time.sleep(0.05)
        yield job_id
    finally:
        runner.terminate()
        runner.wait(15)
