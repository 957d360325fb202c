"""`coreflow demo`: a living queue in one command, and nothing left running after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store import SpoolError
from store.jobtypes import load_types
from store.triggers import load_triggers

from coreflow_tui.cli.demo import make_demo

from .procs import alive, descendants, role, wait_for

pytestmark = pytest.mark.timeout(90)


def test_demo_spool_has_everything_to_look_at(tmp_path: Path) -> None:
    spool, fresh = make_demo(tmp_path / "demo")
    assert fresh
    queues = {q.name: q for q in spool.queues()}
    assert sorted(queues) == ["build", "default", "deploy"]
    assert queues["deploy"].config.slots == 1
    assert [q for q in queues.values() if q.config.paused]
    views, warnings = spool.jobs(states={"pending", "held", "running", "succeeded", "failed", "cancelled"})
    assert not warnings
    states = [v.state for v in views]
    assert len(views) >= 30
    assert {"pending", "held", "succeeded", "failed", "cancelled"} <= set(states)
    assert [v for v in views if v.job.after] and [v for v in views if v.job.not_before]  # a pipeline, a later job
    assert len({v.job.type for v in views}) >= 5 and len({v.job.priority for v in views}) >= 3
    types = load_types(spool.layout.types)
    assert len(types) >= 5 and all(t.description for t in types.values())
    loaded = load_triggers(spool)
    assert not loaded.errors
    assert {d.kind for d in loaded.triggers.values()} == {"schedule", "watch", "manual"}
    watch = next(d for d in loaded.triggers.values() if d.kind == "watch")
    assert watch.watch_path is not None and watch.watch_path.parent == spool.root
    # A second run reuses it; a directory that is not a spool is never littered.
    assert make_demo(tmp_path / "demo")[1] is False
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SpoolError, match="neither empty nor a spool"):
        make_demo(tmp_path / "other")


def test_demo_starts_and_stops_cleanly_headless(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "demo", str(root), "--no-tui"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        serve = wait_for(lambda: role(demo.pid, "serve"), 20)
        assert serve, log.read_text()
        assert wait_for(lambda: role(serve, "runner") and role(serve, "triggers"), 20), log.read_text()
        from store import Spool

        spool = Spool.open(root)

        def ran_here() -> bool:
            views = spool.jobs(states={"running", "succeeded", "failed"})[0]
            return any(v.job.claim is not None and not v.job.claim.runner.startswith("demo-") for v in views)

        assert wait_for(ran_here, 30), log.read_text()
        assert wait_for(lambda: any(v.job.trigger for v in spool.jobs()[0] + spool.jobs(
            states={"succeeded", "failed", "cancelled"})[0]), 30), log.read_text()
        kids = descendants(demo.pid)
        assert len(kids) >= 3
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0, log.read_text()
        assert wait_for(lambda: not [p for p in kids if alive(p)], 10), [kids[p] for p in kids if alive(p)]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    assert "stopped (serve exited 0)" in log.read_text()
