"""`coreflow metrics`: every family parsed back with prometheus_client's own parser and
checked against a spool built with real store calls and a real runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import store
from store import Heartbeat, JobSpec, Spool
from store import runners as rn
from tests.conftest import ROOT, run_cf

from .conftest import running_job

pytestmark = pytest.mark.timeout(120)


def _families(text: str) -> dict[str, dict[tuple, float]]:
    """family name -> {(sample name, sorted labels): value}"""
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in fam.samples}
    return out


def _drain(spool: Spool, queues: str) -> None:
    subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "runner", "--queues", queues,
                    "--drain", "--slots", "4"], check=True, timeout=60, cwd=ROOT, capture_output=True)


def _built(spool: Spool) -> dict[str, str]:
    """A spool with something in every family; returns the ids worth naming."""
    spool.add_queue("build", slots=2)
    ok = store.submit(spool, [JobSpec(command=["true"], queue="build", type="compile") for _ in range(3)])
    bad = store.submit(spool, [JobSpec(command=["sh", "-c", "sleep 0.2; exit 3"], queue="build", type="test")])
    untyped = store.submit(spool, [JobSpec(command=["true"], queue="build")])
    _drain(spool, "build")
    first = store.submit(spool, [JobSpec(command=["true"], queue="build", name="first")])[0]
    store.submit(spool, [JobSpec(command=["true"], queue="build") for _ in range(2)])
    held = store.submit(spool, [JobSpec(command=["true"], queue="build")])[0]
    store.hold(spool, held)
    cancelled = store.submit(spool, [JobSpec(command=["true"])])[0]
    store.cancel(spool, cancelled)
    spool.update_queue("default", "pause", paused=True)
    # A live runner (this process) and a lost one (a pid that has exited, beating long ago).
    rn.beat(spool, Heartbeat(id="live-1", host=os.uname().nodename, pid=os.getpid(), queues=["build"], slots=1))
    gone = subprocess.Popen(["true"])
    gone.wait()
    rn.beat(spool, Heartbeat(id="lost-1", host="elsewhere", pid=gone.pid, queues=["build"], slots=1, lease=30))
    old = time.time() - 600
    os.utime(spool.layout.runner("lost-1"), (old, old))
    return {"first": first, "ok": ok[0], "bad": bad[0], "untyped": untyped[0]}


def test_every_family_matches_the_spool(spool: Spool) -> None:
    ids = _built(spool)
    out = run_cf(spool, "metrics", check=True).stdout
    fams = _families(out)
    assert set(fams) == {"coreflow_jobs", "coreflow_oldest_waiting_seconds", "coreflow_queue_slots",
                         "coreflow_queue_busy_slots", "coreflow_queue_paused", "coreflow_finished_jobs",
                         "coreflow_job_duration_seconds", "coreflow_runners"}

    # Jobs by queue and state: the spool's own listing, state by state.
    jobs = fams["coreflow_jobs"]
    for q in ("build", "default"):
        for state in ("pending", "held", "running", "succeeded", "failed", "cancelled"):
            expected = len(spool.jobs(q, {state})[0])
            assert jobs[("coreflow_jobs", (("queue", q), ("state", state)))] == expected, (q, state)
    assert jobs[("coreflow_jobs", (("queue", "build"), ("state", "pending")))] == 3
    assert jobs[("coreflow_jobs", (("queue", "build"), ("state", "succeeded")))] == 4

    fin = fams["coreflow_finished_jobs"]
    assert fin[("coreflow_finished_jobs", (("outcome", "failed"), ("queue", "build")))] == 1
    assert fin[("coreflow_finished_jobs", (("outcome", "cancelled"), ("queue", "default")))] == 1

    # The oldest waiting job of build is `first` (held jobs do not count); none waits in default.
    age = fams["coreflow_oldest_waiting_seconds"]
    first = spool.show(ids["first"]).job
    assert abs(age[("coreflow_oldest_waiting_seconds", (("queue", "build"),))] - (time.time() - first.submitted_at)) < 30
    assert age[("coreflow_oldest_waiting_seconds", (("queue", "default"),))] == 0

    slots = fams["coreflow_queue_slots"]
    assert slots[("coreflow_queue_slots", (("queue", "build"),))] == 2
    assert slots[("coreflow_queue_slots", (("queue", "default"),))] == spool.queue_config("default").slots
    busy = fams["coreflow_queue_busy_slots"]
    assert busy[("coreflow_queue_busy_slots", (("queue", "build"),))] == len(spool.running_ids("build")) == 0
    assert fams["coreflow_queue_paused"][("coreflow_queue_paused", (("queue", "default"),))] == 1
    assert fams["coreflow_queue_paused"][("coreflow_queue_paused", (("queue", "build"),))] == 0

    run = fams["coreflow_runners"]
    assert run[("coreflow_runners", (("state", "live"),))] == 1
    assert run[("coreflow_runners", (("state", "lost"),))] == 1

    # Durations: one histogram per (queue, type), from each finished job's own result.
    hist = fams["coreflow_job_duration_seconds"]
    for jtype, key, n in (("compile", "ok", 3), ("test", "bad", 1), ("", "untyped", 1)):
        labels = (("queue", "build"), ("type", jtype))
        assert hist[("coreflow_job_duration_seconds_count", labels)] == n, jtype
        assert hist[("coreflow_job_duration_seconds_bucket", (("le", "+Inf"), *labels))] == n
    r = spool.show(ids["bad"]).job.result
    took = r.finished_at - r.started_at
    labels = (("queue", "build"), ("type", "test"))
    assert hist[("coreflow_job_duration_seconds_sum", labels)] == pytest.approx(took)
    assert took >= 0.2
    below = {le: hist[("coreflow_job_duration_seconds_bucket", (("le", le), *labels))] for le in ("0.0", "1.0", "5.0")}
    assert below == {"0.0": 0, "1.0": float(took <= 1), "5.0": float(took <= 5)}
    # cancelled before it started: not in any histogram
    assert not any(dict(k[1]).get("queue") == "default" for k in hist)


def test_running_jobs_fill_busy_slots(spool: Spool) -> None:
    """A job a real runner is running shows as running and as a busy slot."""
    with running_job(spool):
        fams = _families(run_cf(spool, "metrics", check=True).stdout)
        assert fams["coreflow_queue_busy_slots"][("coreflow_queue_busy_slots", (("queue", "default"),))] == 1
        assert fams["coreflow_jobs"][("coreflow_jobs", (("queue", "default"), ("state", "running")))] == 1
        assert fams["coreflow_runners"][("coreflow_runners", (("state", "live"),))] == 1


def test_textfile_is_written_atomically_for_node_exporter(spool: Spool, tmp_path: Path) -> None:
    out = tmp_path / "textfile"
    out.mkdir()
    (out / "coreflow.prom").write_text("stale\n")
    run_cf(spool, "metrics", "--textfile", str(out), check=True)
    assert sorted(p.name for p in out.iterdir()) == ["coreflow.prom"]  # no temporary file left
    assert "coreflow_jobs" in _families((out / "coreflow.prom").read_text())


def test_textfile_into_a_missing_directory_says_so(spool: Spool, tmp_path: Path) -> None:
    r = run_cf(spool, "metrics", "--textfile", str(tmp_path / "nope"))
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "cannot write the metrics file" in r.stderr


def test_a_long_lived_collector_rereads_only_new_done_files(spool: Spool) -> None:
    """serve keeps one collector: done files are read once, pruned ones are forgotten."""
    from coreflow_tui.ops.metrics import SpoolCollector

    store.submit(spool, [JobSpec(command=["true"]) for _ in range(3)])
    _drain(spool, "default")
    c = SpoolCollector(spool)
    list(c.collect())
    assert len(c.cache) == 3
    for r in spool.done_refs("default"):
        os.utime(r.path, (0, 0))
    store.prune(spool, older_than=60)
    list(c.collect())
    assert c.cache == {}


def test_metrics_loads_prometheus_client_but_submit_does_not(spool: Spool) -> None:
    code = ("import sys; from coreflow_tui.cli import main; rc = main(['--spool', %r, 'submit', '--', 'true']); "
            "print('prometheus_client' in sys.modules, 'argcomplete' in sys.modules)") % str(spool.root)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split()[-2:] == ["False", "False"]
