"""`coreflow runner` with real processes: order, slots, cancel, timeout, spawn errors,
signals, retries, lost runners, bad input. Each test starts its own runner(s)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import JobSpec, Spool, submit
from tests.conftest import run_cf
from tests.runner.conftest import job_of, pid_gone, state_of, wait_for

FINAL = ("succeeded", "failed", "cancelled")


def _record(rec: Path, seconds: float) -> list[str]:
    """A job that records its start and end (ns) in REC/ID, sleeping in between."""
    return ["sh", "-c", f'date +%s%N >> "{rec}/$COREFLOW_JOB_ID"; sleep {seconds}; date +%s%N >> "{rec}/$COREFLOW_JOB_ID"']


def _spans(rec: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for f in rec.iterdir():
        t = [int(x) for x in f.read_text().split()]
        out[f.name] = (t[0], t[-1])
    return out


def _peak(spans: list[tuple[int, int]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    cur = peak = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    return peak


def test_runs_argv_with_env_and_cwd_and_streams_the_log(spool: Spool, start_runner, tmp_path: Path) -> None:
    (jid,) = submit(spool, [JobSpec(
        command=["sh", "-c", 'echo "$COREFLOW_JOB_ID $COREFLOW_QUEUE $COREFLOW_ATTEMPT $X"; pwd; echo oops >&2',
                 "literal $HOME"], env={"X": "y"}, cwd=str(tmp_path))])
    (lit,) = submit(spool, [JobSpec(command=["echo", "$HOME", "*"])])
    r = start_runner(spool, "--drain", "--slots", "1")
    assert r.wait() == 0
    assert spool.layout.log(jid).read_text() == f"{jid} default 1 y\n{tmp_path}\noops\n"
    assert spool.layout.log(lit).read_text() == "$HOME *\n"  # argv, no shell
    job = job_of(spool, jid)
    assert state_of(spool, jid) == "succeeded" and job.result.exit_code == 0  # type: ignore[union-attr]
    assert job.result.host and job.result.runner  # type: ignore[union-attr]
    assert f"claimed {jid}" in r.stderr and f"finished {jid}" in r.stderr
    assert not list(spool.layout.runners.iterdir())  # heartbeat removed at exit


def test_order_and_slots_with_two_runners(spool: Spool, start_runner, tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    spool.update_queue("default", "set", slots=2)
    ids = submit(spool, [JobSpec(command=_record(rec, 0.15)) for _ in range(10)])
    a = start_runner(spool, "--drain", "--slots", "2")
    b = start_runner(spool, "--drain", "--slots", "2")
    assert a.wait() == 0 and b.wait() == 0
    jobs = [job_of(spool, i) for i in ids]
    assert all(state_of(spool, i) == "succeeded" for i in ids)
    claimed = sorted(ids, key=lambda i: jobs[ids.index(i)].claim.claimed_at)  # type: ignore[union-attr]
    assert claimed == ids  # claims happen in queue order
    spans = _spans(rec)
    assert len(spans) == 10
    assert _peak(list(spans.values())) <= 2  # the queue's limit, across both runners
    assert {j.result.runner for j in jobs} <= {*_runner_ids(a), *_runner_ids(b)}  # type: ignore[union-attr]


def _runner_ids(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {line.split()[3] for line in r.stderr.splitlines() if " serving " in line}


def test_cancel_stops_the_job_and_its_grandchild_within_two_seconds(spool: Spool, start_runner,
                                                                    tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (f'trap "" TERM; sh -c \'sleep 300 & echo $! >> {pids}; wait\' & echo $! >> {pids}; wait')
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", script])])  # ignores TERM: needs the KILL
    r = start_runner(spool, env={"COREFLOW_STOP_GRACE": "30"})
    wait_for("the child and grandchild", lambda: pids.exists() and len(pids.read_text().split()) == 2)
    child, grandchild = (int(p) for p in pids.read_text().split())
    t = time.monotonic()
    assert run_cf(spool, "cancel", jid).returncode == 0
    wait_for("both gone", lambda: pid_gone(child) and pid_gone(grandchild), timeout=5, every=0.02)
    assert time.monotonic() - t < 2.0
    wait_for("cancelled", lambda: state_of(spool, jid) == "cancelled", timeout=5)
    res = job_of(spool, jid).result
    assert res is not None and res.reason == "cancelled" and res.by
    assert "cancelled by" in spool.layout.log(jid).read_text()
    r.signal(signal.SIGTERM)
    assert r.wait() == 0


def test_timeout_terms_then_kills(spool: Spool, start_runner) -> None:
    polite, stubborn = submit(spool, [JobSpec(command=["sleep", "30"], timeout=0.3),
                                      JobSpec(command=["sh", "-c", 'trap "" TERM; sleep 30'], timeout=0.3)])
    r = start_runner(spool, "--drain", env={"COREFLOW_STOP_GRACE": "0.5"})
    assert r.wait(20) == 0
    p, s = job_of(spool, polite).result, job_of(spool, stubborn).result
    assert p is not None and (p.state, p.reason, p.signal) == ("failed", "timeout", signal.SIGTERM)
    assert s is not None and (s.state, s.reason, s.signal) == ("failed", "timeout", signal.SIGKILL)
    assert "did not stop after TERM" in spool.layout.log(stubborn).read_text()


def test_spawn_errors_fail_with_the_os_message_and_the_runner_goes_on(spool: Spool, start_runner,
                                                                      tmp_path: Path) -> None:
    noexec = tmp_path / "script.sh"
    noexec.write_text("#!/bin/sh\necho hi\n")
    missing, denied, badcwd, fine = submit(spool, [
        JobSpec(command=["no-such-command-here"]), JobSpec(command=[str(noexec)]),
        JobSpec(command=["true"], cwd=str(tmp_path / "nowhere")), JobSpec(command=["true"])])
    r = start_runner(spool, "--drain", "--slots", "1")
    assert r.wait() == 0
    for jid, words in ((missing, "No such file"), (denied, "Permission denied"), (badcwd, "nowhere")):
        res = job_of(spool, jid).result
        assert res is not None and (res.state, res.reason) == ("failed", "spawn-error")
        assert words in spool.layout.log(jid).read_text()
    assert state_of(spool, fine) == "succeeded"


def test_sigterm_drains_then_exits(spool: Spool, start_runner, tmp_path: Path) -> None:
    mark = tmp_path / "started"
    first, second = submit(spool, [JobSpec(command=["sh", "-c", f"touch {mark}; sleep 0.8"]),
                                   JobSpec(command=["true"])])
    r = start_runner(spool, "--slots", "1")
    wait_for("the first job", mark.exists)
    r.signal(signal.SIGTERM)
    assert r.wait(15) == 0
    assert state_of(spool, first) == "succeeded"  # let finish
    assert state_of(spool, second) == "pending"  # not claimed while draining
    assert "stopping" in r.stderr


def test_requeue_on_stop_puts_the_job_back_at_its_place(spool: Spool, start_runner, tmp_path: Path) -> None:
    mark = tmp_path / "started"
    first, second = submit(spool, [JobSpec(command=["sh", "-c", f"touch {mark}; sleep 30"]),
                                   JobSpec(command=["true"])])
    r = start_runner(spool, "--slots", "1", "--requeue-on-stop")
    wait_for("the first job", mark.exists)
    r.signal(signal.SIGTERM)
    assert r.wait(15) == 0
    assert [p.id for p in spool.pending("default")] == [first, second]
    job = job_of(spool, first)
    assert job.attempt == 2 and job.lost == 0 and job.history[0].reason == "runner-stopped"


def test_a_second_signal_stops_and_requeues(spool: Spool, start_runner, tmp_path: Path) -> None:
    mark = tmp_path / "started"
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", f"touch {mark}; sleep 30"])])
    r = start_runner(spool, "--slots", "1")
    wait_for("the job", mark.exists)
    r.signal(signal.SIGTERM)
    time.sleep(0.3)
    assert r.proc.poll() is None  # draining: waits for the job
    r.signal(signal.SIGTERM)
    assert r.wait(15) == 0
    assert state_of(spool, jid) == "pending" and job_of(spool, jid).attempt == 2


def test_retries_run_the_job_again(spool: Spool, start_runner) -> None:
    flaky, broken = submit(spool, [
        JobSpec(command=["sh", "-c", '[ "$COREFLOW_ATTEMPT" -ge 2 ]'], retries=2),
        JobSpec(command=["false"], retries=1)])
    r = start_runner(spool, "--drain", "--slots", "1")
    assert r.wait() == 0
    f, b = job_of(spool, flaky), job_of(spool, broken)
    assert state_of(spool, flaky) == "succeeded" and f.attempt == 2 and len(f.history) == 1
    assert state_of(spool, broken) == "failed" and b.attempt == 2


def test_a_killed_runners_job_dies_with_it_and_a_restart_takes_it_back(spool: Spool, start_runner,
                                                                         tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", f'echo $$ >> {rec}/pids; sleep 1; touch {rec}/done'])])
    a = start_runner(spool, "--lease", "30")
    wait_for("the job", lambda: (rec / "pids").exists())
    first_pid = int((rec / "pids").read_text().split()[0])
    a.signal(signal.SIGKILL)
    a.wait()
    wait_for("the job killed by the watchdog", lambda: pid_gone(first_pid), timeout=3)
    b = start_runner(spool, "--lease", "30", "--drain")  # same host, pid gone: no need to wait for the lease
    assert b.wait(20) == 0
    job = job_of(spool, jid)
    assert state_of(spool, jid) == "succeeded" and job.attempt == 2 and job.lost == 1
    assert job.history[0].reason == "runner-lost"
    assert "took over" in b.stderr


def test_drain_exits_when_only_held_or_paused_work_is_left(spool: Spool, start_runner) -> None:
    from store import hold

    (jid,) = submit(spool, [JobSpec(command=["true"])])
    hold(spool, jid)
    spool.add_queue("other")
    submit(spool, [JobSpec(command=["true"], queue="other")])
    spool.update_queue("other", "pause", paused=True)
    r = start_runner(spool, "--drain", "--queues", "default,other")
    assert r.wait(10) == 0


def test_refuses_a_world_writable_spool(spool: Spool) -> None:
    os.chmod(spool.layout.pending("default"), 0o777)
    out = run_cf(spool, "runner", "--drain")
    assert out.returncode == 1 and "world-writable" in out.stderr and "chmod" in out.stderr


def test_an_unknown_queue_is_an_error(spool: Spool) -> None:
    out = run_cf(spool, "runner", "--queues", "nosuch", "--drain")
    assert out.returncode == 1 and "nosuch" in out.stderr


def test_a_log_that_cannot_be_written_does_not_stop_the_job(spool: Spool, start_runner) -> None:
    (jid,) = submit(spool, [JobSpec(command=["echo", "hello"])])
    spool.layout.log(jid).mkdir()  # the log's name is taken by a directory...
    spool.layout.corrupt.rmdir()
    spool.layout.corrupt.write_text("")  # ...that cannot be moved aside
    r = start_runner(spool, "--drain")
    assert r.wait() == 0
    res = job_of(spool, jid).result
    assert state_of(spool, jid) == "succeeded" and res is not None and "not logged" in res.message


def test_a_job_that_prints_a_lot_is_cut_at_the_log_limit(spool: Spool, start_runner) -> None:
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x; echo"])])
    r = start_runner(spool, "--drain", env={"COREFLOW_LOG_LIMIT": "64K"})
    assert r.wait() == 0
    log = spool.layout.log(jid).read_bytes()
    assert 65536 <= len(log) < 65536 + 200 and b"log limit of 64 KiB reached" in log
    res = job_of(spool, jid).result
    assert state_of(spool, jid) == "succeeded" and res is not None and "discarded" in res.message


def test_a_job_that_leaves_a_daemon_ends_when_it_exits(spool: Spool, start_runner, tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon"
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", f"setsid sleep 30 & echo $! > {pidfile}; echo started"])])
    r = start_runner(spool, "--drain")
    try:
        assert r.wait(10) == 0  # did not wait for the daemon's copy of stdout to close
        assert state_of(spool, jid) == "succeeded"
        assert spool.layout.log(jid).read_text() == "started\n"
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_logs_follow_streams_until_the_job_ends(spool: Spool, start_runner) -> None:
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"])])
    r = start_runner(spool, "--drain")
    follow = subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "logs", jid,
                             "--follow"], capture_output=True, text=True, timeout=30)
    assert follow.returncode == 0 and follow.stdout == "line 1\nline 2\nline 3\n"
    assert r.wait() == 0


def test_a_job_that_prints_nothing_has_an_empty_log(spool: Spool, start_runner) -> None:
    (jid,) = submit(spool, [JobSpec(command=["true"])])
    assert start_runner(spool, "--drain").wait() == 0
    assert not spool.layout.log(jid).exists()  # no file made for nothing
    out = run_cf(spool, "logs", jid)
    assert out.returncode == 0 and out.stdout == ""


def test_ls_and_show_know_the_live_runner(spool: Spool, start_runner, tmp_path: Path) -> None:
    mark = tmp_path / "started"
    running, waiting = submit(spool, [JobSpec(command=["sh", "-c", f"touch {mark}; sleep 30"]),
                                      JobSpec(command=["true"], requires=["gpu"])])
    r = start_runner(spool, "--slots", "1")
    wait_for("the job", mark.exists)

    def listed() -> dict:
        return {j["id"]: j for j in json.loads(run_cf(spool, "ls", "--json", check=True).stdout)}

    # The claim is written into the job's file once it has run 50 ms.
    wait_for("the runner named in the running job", lambda: listed()[running].get("runner"))
    jobs = listed()
    assert jobs[running]["state"] == "running"
    assert "label" in jobs[waiting]["reason"]  # a runner is live, but none has gpu
    r.signal(signal.SIGTERM)
    time.sleep(0.3)  # two signals at once are one signal
    r.signal(signal.SIGTERM)
    assert r.wait(15) == 0


def test_the_heartbeat_says_which_jobs_run_within_a_second_or_two(spool: Spool, start_runner,
                                                                   tmp_path: Path) -> None:
    """`busy` is what the TUI's runners pane and "its runner is busy" read."""
    from store.runners import runners

    mark = tmp_path / "started"
    (job,) = submit(spool, [JobSpec(command=["sh", "-c", f"touch {mark}; sleep 30"])])
    start_runner(spool, "--slots", "1", "--lease", "60")  # regular beats only every 10 s
    wait_for("the job", mark.exists)
    wait_for("busy in the heartbeat", lambda: any(job in r.beat.busy for r in runners(spool)), timeout=3)
    run_cf(spool, "cancel", job, check=True)
    wait_for("the job to end", lambda: state_of(spool, job) == "cancelled")
    wait_for("an idle heartbeat", lambda: all(not r.beat.busy for r in runners(spool)), timeout=3)


@pytest.mark.slow
def test_polling_mode_serves_and_cancels(spool: Spool, start_runner, tmp_path: Path) -> None:
    mark = tmp_path / "started"
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", f"touch {mark}; sleep 30"])])
    r = start_runner(spool, env={"COREFLOW_WATCH": "poll"})
    wait_for("the job", mark.exists, timeout=5)
    assert "polling" in r.stderr
    t = time.monotonic()
    run_cf(spool, "cancel", jid, check=True)
    wait_for("cancelled", lambda: state_of(spool, jid) == "cancelled", timeout=5)
    assert time.monotonic() - t < 2.5
    (late,) = submit(spool, [JobSpec(command=["true"])])
    wait_for("a job submitted later", lambda: state_of(spool, late) in FINAL, timeout=5)
