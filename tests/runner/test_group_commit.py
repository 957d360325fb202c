"""Group commit of results (layout.py, "Results"): a runner SIGKILLed at random moments
of a dispatch loses no job, runs none twice as the same attempt, and every job ends in
exactly one final state with its result (or was run again as attempt 2, its history
saying why). COREFLOW_KILL_JOBS=2000 runs the same at the scale of the bench."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from store import JobSpec, Spool, build_job, place
from store.model import decode_job
from store.states import FINAL, State

from .conftest import wait_for

JOBS = int(os.environ.get("COREFLOW_KILL_JOBS", "400"))


def _files_of(spool: Spool) -> Counter[str]:
    """How many files of each job id lie in the queue's state directories."""
    seen: Counter[str] = Counter()
    for d, field in zip(spool.layout.state_dirs("default"), (2, 0, 1)):  # RANK.PRIO.ID, ID.RUNNER, STAMP.ID
        for name in os.listdir(d):
            if not name.endswith(".cancel"):
                seen[name.split(".")[field]] += 1
    return seen


def _left(spool: Spool) -> int:
    return sum(len(os.listdir(d)) for d in (spool.layout.pending("default"), spool.layout.running("default")))


def test_sigkill_at_random_moments_loses_no_result(spool: Spool, start_runner, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    cmd = f'echo "$COREFLOW_JOB_ID $COREFLOW_ATTEMPT" >> {ran}'
    now = time.time()
    jobs = [build_job(spool, JobSpec(command=["sh", "-c", cmd]), now=now) for _ in range(JOBS)]
    place(spool, jobs)
    ids = {j.id for j in jobs}
    rng = random.Random(int(os.environ.get("COREFLOW_KILL_SEED", "15")))
    kills = 0
    for _ in range(60):
        if not _left(spool):
            break
        r = start_runner(spool, "--slots", "2", "--lease", "2")
        done_before = len(os.listdir(spool.layout.done("default")))
        wait_for("the runner dispatching", lambda: len(os.listdir(spool.layout.done("default"))) > done_before
                 or not _left(spool) or r.proc.poll() is not None, timeout=30, every=0.005)
        time.sleep(rng.uniform(0, 0.25))
        r.proc.send_signal(signal.SIGKILL)
        r.proc.wait()
        kills += 1
    assert kills >= 3, f"only {kills} kills: the dispatch ended too soon to test anything"
    last = start_runner(spool, "--slots", "2", "--lease", "1")
    wait_for("every job finished", lambda: not _left(spool), timeout=60)
    # Once idle, the last runner folds the journals the killed ones left (after a lease).
    wait_for("the killed runners' journals folded",
             lambda: len([n for n in os.listdir(spool.layout.runners) if n.endswith(".results")]) == 0, timeout=30)
    last.stop()

    files = _files_of(spool)
    assert set(files) == ids and set(files.values()) == {1}, "a job lost, or in two places"
    runs = Counter(tuple(line.split()) for line in ran.read_text().splitlines())
    assert max(runs.values()) == 1, f"the same attempt ran twice: {runs.most_common(3)}"
    rerun = 0
    for view in spool.jobs(states=set(FINAL))[0]:
        job = view.job
        assert view.state == State.SUCCEEDED or (view.state == State.FAILED and job.result
                                                 and job.result.reason == "runner-lost"), (job.id, view.state)
        assert job.result is not None and job.result.state == view.state and job.result.attempt == job.attempt
        raw = decode_job(Path(view.ref.file).read_bytes())
        assert raw.result == job.result, "the result was folded into the done file"
        assert len(job.history) == job.attempt - 1
        for h in job.history:
            assert h.reason == "runner-lost" and h.message, (job.id, h)
        rerun += job.attempt > 1
        assert (job.id, str(job.attempt)) in runs or view.state == State.FAILED
    print(f"{kills} kills, {rerun} job(s) run again as a later attempt")
