"""Housekeeping: the spool's settings, serve's hourly prune, the log size limit, doctor's
disk figures."""

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
from store.settings import load_settings
from tests.conftest import ROOT, run_cf

pytestmark = pytest.mark.timeout(120)
DAY = 86400


def _finished(spool: Spool, n: int, age: float, queue: str = "default") -> list[str]:
    """`n` finished (cancelled) jobs with a log each, finished `age` seconds ago."""
    ids = store.submit(spool, [JobSpec(command=["true"], queue=queue) for _ in range(n)])
    for job_id in ids:
        store.cancel(spool, job_id)
        spool.layout.log(job_id).write_bytes(b"x" * 5000)
    t = time.time() - age
    for r in spool.done_refs(queue):
        if r.id in ids:
            os.utime(r.path, (t, t))
    return ids


def _ids(spool: Spool) -> set[str]:
    return {r.id for q in spool.queue_names() for r in spool.done_refs(q)}


def test_spool_set_stores_validates_and_shows(spool: Spool, cf) -> None:
    before = json.loads(spool.layout.meta.read_text())
    out = cf("spool", "set", "--keep-finished", "14d", "--max-log-size", "100MiB", check=True).stdout
    assert "keep-finished  14d" in out and "max-log-size   100MiB" in out
    after = json.loads(spool.layout.meta.read_text())
    assert after["settings"] == {"keep_finished": 14 * DAY, "max_log_size": 100 << 20}
    assert {k: after[k] for k in before} == before  # format, created_at, created_by kept
    assert cf("spool", check=True).stdout == out
    assert cf("spool", "show", check=True).stdout == out
    assert cf("spool", "set", check=True).stdout == out

    for args, words in ((["--keep-finished", "14"], "less than an hour"), (["--keep-finished", "soon"], "not a duration"),
                        (["--max-log-size", "12X"], "not a size"), (["--max-log-size", "10"], "less than 1KiB")):
        r = cf("spool", "set", *args)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, (args, r.stderr)
    assert load_settings(spool).keep_finished == 14 * DAY  # a refused change changes nothing

    cf("spool", "set", "--keep-finished", "off", check=True)
    assert load_settings(spool).keep_finished is None
    assert load_settings(spool).max_log_size == 100 << 20


def test_an_older_coreflow_still_opens_a_spool_with_settings(spool: Spool, cf) -> None:
    cf("spool", "set", "--keep-finished", "2d", check=True)
    assert Spool.open(spool.root).root == spool.root
    assert cf("ls", check=True).returncode == 0


def test_serve_prunes_what_is_past_keep_finished(spool: Spool, tmp_path: Path, cf) -> None:
    old = _finished(spool, 3, 3 * DAY)
    young = _finished(spool, 2, 0.5 * DAY)
    cf("spool", "set", "--keep-finished", "1d", check=True)
    err = open(tmp_path / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "serve",
                              "--requeue-on-stop"], cwd=ROOT, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while _ids(spool) & set(old):
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert _ids(spool) == set(young)
    assert not any(spool.layout.log(i).exists() for i in old)
    assert all(spool.layout.log(i).exists() for i in young)
    assert "pruned 3 finished job(s)" in (tmp_path / "serve.log").read_text()


def test_prune_runs_once_an_hour(spool: Spool) -> None:
    from coreflow_tui.ops.housekeeping import Housekeeper

    now = [1000.0]
    logged: list[str] = []
    keeper = Housekeeper(spool, lambda msg, level=6: logged.append(msg), clock=lambda: now[0])
    assert keeper.step() == 3600  # nothing set: nothing pruned; the next look in an hour
    run_cf(spool, "spool", "set", "--keep-finished", "1d", check=True)
    _finished(spool, 2, 2 * DAY)
    now[0] += 1800
    assert keeper.step() == 1800
    assert len(_ids(spool)) == 2  # not yet: half an hour since the last prune
    now[0] += 1800
    assert keeper.step() == 3600
    assert _ids(spool) == set()
    assert logged == ["pruned 2 finished job(s) older than the spool's keep-finished setting"]


def test_serve_keeps_the_metrics_textfile_fresh(spool: Spool, tmp_path: Path) -> None:
    out = tmp_path / "textfile"
    out.mkdir()
    serve = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "serve",
                              "--metrics-textfile", str(out), "--metrics-every", "0.2s", "--requeue-on-stop"],
                             cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True)
    prom = out / "coreflow.prom"
    try:
        deadline = time.monotonic() + 30
        while not prom.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        spool.update_queue("default", "pause", paused=True)
        while 'coreflow_queue_paused{queue="default"} 1.0' not in prom.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert sorted(p.name for p in out.iterdir()) == ["coreflow.prom"]


def test_a_log_stops_at_max_log_size_and_the_job_runs_on(spool: Spool, tmp_path: Path, cf) -> None:
    cf("spool", "set", "--max-log-size", "64KiB", check=True)
    marker = tmp_path / "still running"
    script = f"head -c 1000000 /dev/zero | tr '\\\\0' x; echo; echo done > '{marker}'"
    (job_id,) = store.submit(spool, [JobSpec(command=["sh", "-c", script])])
    env = {k: v for k, v in os.environ.items() if k != "COREFLOW_LOG_LIMIT"}
    subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "runner", "--drain"],
                   cwd=ROOT, env=env, check=True, timeout=60, capture_output=True)
    assert spool.show(job_id).state == "succeeded"
    assert marker.read_text() == "done\n"  # the job went on past the limit
    log = spool.layout.log(job_id).read_bytes()
    assert 64 << 10 <= len(log) < (64 << 10) + 200
    assert log.rstrip(b"\n").splitlines()[-1] == b"[coreflow] log limit of 64 KiB reached: further output is discarded"


def test_doctor_reports_size_largest_logs_and_what_prune_would_free(spool: Spool, cf) -> None:
    _finished(spool, 2, 20 * DAY)
    _finished(spool, 1, 1 * DAY)
    (big,) = store.submit(spool, [JobSpec(command=["true"])])
    spool.layout.log(big).write_bytes(b"y" * (3 << 20))
    out = cf("doctor").stdout
    line = next(line for line in out.splitlines() if "disk:" in line)
    assert "the spool uses" in line and f"largest logs: {big} 3.0 MiB" in line
    assert "`coreflow prune --older-than 14d` would free" in line and "(2 finished job(s))" in line
    assert "--keep-finished 14d" in out  # the advice, while nothing is set

    cf("spool", "set", "--keep-finished", "12h", check=True)
    line = next(line for line in cf("doctor").stdout.splitlines() if "disk:" in line)
    assert "the keep-finished setting would free" in line and "(3 finished job(s))" in line


def test_doctor_figures_match_what_prune_frees(spool: Spool) -> None:
    from store.usage import tree_size, usage

    _finished(spool, 4, 20 * DAY)
    u = usage(spool)
    before, _ = tree_size(spool.root)
    assert store.prune(spool, older_than=14 * DAY) == u.prunable_jobs == 4
    after, _ = tree_size(spool.root)
    assert before - after >= u.prunable_bytes > 0
