"""Issue 10 item 4: only true figures. An expected start only where the job could start,
counting what is left of the running jobs; history per job type, or per queue and command;
results and attempts in plain words."""

from __future__ import annotations

import json
import signal
import sys
import time
from datetime import datetime

import msgspec
from clihelp import run

from store import Spool, atomic, hold, submit
from store.jobs.submit import JobSpec
from store.layout import done_name, running_name
from store.model import Claim, Heartbeat, Result, actor, encode_job
from store.runners import beat


def _start(spool: Spool, jid: str, ago: float) -> None:
    """pending -> running, as a runner's claim does."""
    r = spool.find(jid)
    dest = spool.layout.running(r.queue) / running_name(jid)
    job = spool.read(r)
    assert atomic.commit_rename(r.path, dest)
    job = msgspec.structs.replace(job, claim=Claim(runner="far-1-ab12", host="far", pid=1,
                                                   claimed_at=time.time() - ago))
    atomic.publish(spool.layout.tmp, dest, encode_job(job))


def _ran(spool: Spool, spec: JobSpec, seconds: float, state: str = "succeeded") -> None:
    """A job that ran for `seconds` and ended a minute ago."""
    (jid,) = submit(spool, [spec])
    _start(spool, jid, 60 + seconds)
    r = spool.find(jid)
    end = time.time() - 60
    dest = spool.layout.done(r.queue) / done_name(jid, state, end)
    job = spool.read(r)
    assert atomic.commit_rename(r.path, dest)
    job = msgspec.structs.replace(job, claim=None, result=Result(
        state=state, reason="exit", exit_code=0 if state == "succeeded" else 1, started_at=end - seconds,
        finished_at=end, host="far", runner="far-1-ab12"))
    atomic.publish(spool.layout.tmp, dest, encode_job(job))


def _runner(spool: Spool, queues: list[str], slots: int = 2, labels: list[str] | None = None) -> None:
    """A live runner on another host, as its heartbeat file says."""
    beat(spool, Heartbeat(id="far-1-ab12", host="far", pid=1, queues=queues, slots=slots, labels=labels or [],
                          lease=600, started_at=time.time()))


def _show(spool: Spool, jid: str) -> tuple[dict, str]:
    j = run(spool.root, "show", jid, "--json")
    t = run(spool.root, "show", jid)
    assert j.returncode == 0 and t.returncode == 0, (j.stderr, t.stderr)
    return json.loads(j.stdout), t.stdout


def _eta(out: dict) -> float | None:
    s = out["expected_start"]
    return None if s is None else datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() - time.time()


def test_a_job_that_cannot_start_has_no_expected_start(spool: Spool) -> None:
    for _ in range(3):
        _ran(spool, JobSpec(command=["true"]), 2.0)
    _runner(spool, ["default"])
    spool.add_queue("other")
    (ok,) = submit(spool, [JobSpec(command=["true"])])
    (gpu,) = submit(spool, [JobSpec(command=["true"], requires=["gpu"])])
    (held,) = submit(spool, [JobSpec(command=["true"])])
    hold(spool, held)
    (unserved,) = submit(spool, [JobSpec(command=["true"], queue="other")])
    out, text = _show(spool, ok)
    assert out["expected_start"] is not None and "expected   any moment" in text
    for jid, why in ((gpu, "no runner has label gpu"), (held, "held"),
                     (unserved, "no live runner serves queue other")):
        out, text = _show(spool, jid)
        assert (out["expected_start"], out["reason"]) == (None, why)
        assert f"expected   cannot start: {why}" in text, text
    assert run(spool.root, "queue", "pause", "default").returncode == 0
    out, text = _show(spool, ok)
    assert (out["expected_start"], out["reason"]) == (None, "queue paused")
    ls = json.loads(run(spool.root, "ls", "--json").stdout)
    assert all(j["expected_start"] is None for j in ls if j["queue"] == "default")


def test_expected_start_counts_what_is_left_of_running_jobs(spool: Spool) -> None:
    spool.update_queue("default", "set", slots=1)
    for _ in range(3):
        _ran(spool, JobSpec(command=["make"], type="build"), 100.0)
    _runner(spool, ["default"], slots=4)
    running, first, second = submit(spool, [JobSpec(command=["make"], type="build")] * 3)
    _start(spool, running, 60)  # 40 s of its typical 100 s left
    out, text = _show(spool, first)
    assert 35 < _eta(out) < 45, out["expected_start"]
    assert "to start in ~40s" in text or "to start in ~39s" in text, text
    out, _ = _show(spool, second)
    assert 135 < _eta(out) < 145, out["expected_start"]


def test_untyped_jobs_learn_only_from_the_same_command_in_the_same_queue(spool: Spool) -> None:
    for _ in range(5):
        _ran(spool, JobSpec(command=["true"]), 0.1)
    spool.update_queue("default", "set", slots=1)
    spool.add_queue("other")
    _runner(spool, ["default", "other"])
    running, waiting = submit(spool, [JobSpec(command=["sleep", "30"])] * 2)
    _start(spool, running, 10)
    out, text = _show(spool, waiting)
    assert out["expected_start"] is None
    assert "expected   unknown (no history for `sleep 30` in queue default)" in text, text
    assert "history" not in text.replace("no history", "")
    _, text = _show(spool, running)
    assert "typically" not in text  # `true` jobs say nothing about `sleep 30`
    (elsewhere,) = submit(spool, [JobSpec(command=["true"], queue="other")])
    _, text = _show(spool, elsewhere)
    assert "typically" not in text
    (same,) = submit(spool, [JobSpec(command=["true"])])
    _, text = _show(spool, same)
    assert "history    typically 0.1s, 100% of 5 runs succeeded" in text, text


def test_results_and_attempts_in_plain_words(spool: Spool, tmp_path) -> None:
    ok, bad = submit(spool, [JobSpec(command=["true"]), JobSpec(command=["sh", "-c", "exit 2"])])
    assert run(spool.root, "runner", "--drain", "--slots", "1").returncode == 0
    assert "result     succeeded (exit 0)\n" in _show(spool, ok)[1]
    assert "result     failed (exit 2)\n" in _show(spool, bad)[1]
    (gone,) = submit(spool, [JobSpec(command=["true"])])
    assert run(spool.root, "cancel", gone).returncode == 0
    assert f"result     cancelled by {actor()}\n" in _show(spool, gone)[1]

    # A runner stopped with --requeue-on-stop gives its job back as attempt 2.
    import subprocess

    (long,) = submit(spool, [JobSpec(command=["sleep", "30"])])
    proc = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "runner",
                             "--slots", "1", "--requeue-on-stop"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while spool.find(long).state != "running":
            assert time.time() < deadline, "the runner never claimed the job"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    out, text = _show(spool, long)
    assert out["attempt"] == 2
    assert "attempt    2 (requeued: runner stopped)\n" in text, text
    assert " of 1" not in text
