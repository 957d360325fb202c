"""`coreflow wait ID...`: blocks until the jobs have ended, woken by the spool's change
feed (local disk and a polled spool), exit 0 / 1 / 130, --timeout, --json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import store
from store import JobSpec, Spool
from tests.conftest import run_cf, two_host_views
from tests.runner.conftest import RunnerProc

ROOT = Path(__file__).resolve().parents[2]


def submit(spool: Spool, *cmd: str, queue: str | None = None) -> str:
    return store.submit(spool, [JobSpec(command=list(cmd), queue=queue)])[0]


def start_wait(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(root), "wait", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=ROOT)


def runner(root: Path, tmp_path: Path, *args: str) -> RunnerProc:
    return RunnerProc(root, ["--queues", "default", "--slots", "2", *args], {"COREFLOW_STOP_GRACE": "0.5"},
                      tmp_path / f"runner{time.monotonic_ns()}.stderr", [])


def settle(p: subprocess.Popen[str], seconds: float = 1.0) -> None:
    """Give `wait` time to start watching; it must still be waiting then."""
    time.sleep(seconds)
    assert p.poll() is None, p.communicate()


def test_wait_returns_when_a_runner_finishes_the_jobs(spool: Spool, tmp_path: Path) -> None:
    """Two jobs finished by a real runner: exit 0, woken by the feed (well inside the
    10 s fallback look), and --json prints both results."""
    a = submit(spool, "sh", "-c", "sleep 1.5")
    b = submit(spool, "true")
    w = start_wait(spool.root, a, b[-8:], "--json")
    settle(w, 0.5)
    r = runner(spool.root, tmp_path, "--drain")
    try:
        out, err = w.communicate(timeout=30)
        ended = time.time()
        assert w.returncode == 0, err
        jobs = json.loads(out)
        assert [j["id"] for j in jobs] == [a, b]
        assert {j["state"] for j in jobs} == {"succeeded"}
        assert r.wait(30) == 0
    finally:
        r.stop()
    done_at = Spool.open(spool.root).show(a).job.result.finished_at
    assert ended - done_at < 4, "wait woke by its fallback look, not by the spool's events"


def test_wait_wakes_on_events_not_on_its_fallback(spool: Spool) -> None:
    """A cancel from another process ends the wait within a second (the fallback look is 10 s)."""
    a = submit(spool, "true")
    w = start_wait(spool.root, a)
    settle(w)
    t0 = time.monotonic()
    run_cf(spool, "cancel", a, check=True)
    _, err = w.communicate(timeout=10)
    assert time.monotonic() - t0 < 4
    assert w.returncode == 1
    assert err.count("\n") == 1 and a[-8:] in err and "cancelled" in err


def test_wait_names_the_first_job_that_did_not_succeed(spool: Spool, tmp_path: Path) -> None:
    ok = submit(spool, "true")
    bad = submit(spool, "sh", "-c", "exit 3")
    r = runner(spool.root, tmp_path, "--drain")
    try:
        assert r.wait(30) == 0
    finally:
        r.stop()
    p = run_cf(spool, "wait", ok, bad)
    assert p.returncode == 1
    assert p.stderr == f"coreflow: wait: job {bad[-8:]} (sh) failed (exit 3)\n"
    assert run_cf(spool, "wait", ok).returncode == 0


def test_wait_timeout_exits_1_with_one_line(spool: Spool) -> None:
    a = submit(spool, "true")
    t0 = time.monotonic()
    p = run_cf(spool, "wait", a, "--timeout", "0.5s", "--json")
    assert time.monotonic() - t0 < 5
    assert p.returncode == 1
    assert p.stderr == f"coreflow: wait: timed out after 0.5s; still waiting for {a[-8:]} (pending)\n"
    assert json.loads(p.stdout)[0]["state"] == "pending"


def test_wait_refuses_unknown_ids_and_bad_timeouts(spool: Spool) -> None:
    p = run_cf(spool, "wait", "zzzzzzzz")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "zzzzzzzz" in p.stderr
    a = submit(spool, "true")
    p = run_cf(spool, "wait", a, "--timeout", "soon")
    assert p.returncode == 2 and "--timeout" in p.stderr and p.stderr.count("\n") == 1


def test_ctrl_c_exits_130_cleanly(spool: Spool) -> None:
    a = submit(spool, "true")
    w = start_wait(spool.root, a)
    settle(w)
    w.send_signal(signal.SIGINT)
    out, err = w.communicate(timeout=10)
    assert w.returncode == 130
    assert "Traceback" not in err and out == ""


def test_wait_on_a_polled_spool_sees_another_hosts_runner(tmp_path: Path) -> None:
    """On a shared spool (no inotify across hosts) wait on host B is woken by the directory
    poll when a runner on host A finishes the job."""
    with two_host_views(tmp_path) as (a_view, b_view):
        Spool.init(a_view / "spool")
        sa, root_b = Spool.open(a_view / "spool"), b_view / "spool"
        job = submit(sa, "sh", "-c", "sleep 1")
        w = start_wait(root_b, job, "--json")
        settle(w)
        r = runner(a_view / "spool", tmp_path, "--drain")
        try:
            out, err = w.communicate(timeout=30)
            ended = time.time()
            assert w.returncode == 0, err
            assert json.loads(out)[0]["state"] == "succeeded"
            finished = Spool.open(root_b).show(job).job.result.finished_at
            assert ended - finished < 5, "woken by the fallback look, not the poll"
        finally:
            r.stop()
            if w.poll() is None:
                w.kill()
