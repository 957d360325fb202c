"""Issue 10 item 7: `doctor` is a health check scripts can trust: exit 0 only when every
check is ok, 1 when anything needs attention, and each problem named for what it is."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from clihelp import run

from store import Spool, submit
from store.jobs.submit import JobSpec
from store.model import Heartbeat
from store.runners import beat


def _doctor(spool: Spool | Path) -> tuple[int, str]:
    out = run(spool.root if isinstance(spool, Spool) else spool, "doctor")
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stdout


def test_a_healthy_spool_exits_0_and_a_missing_types_toml_is_information(spool: Spool) -> None:
    rc, text = _doctor(spool)
    assert rc == 0, text
    assert "0 job type(s)" not in text
    assert "info   no types.toml" in text
    spool.layout.types.write_text('[build]\ndescription = "compile"\n')
    rc, text = _doctor(spool)
    assert rc == 0 and "ok     types.toml: 1 job type(s)" in text, text


def test_a_corrupt_file_needs_attention(spool: Spool) -> None:
    bad = spool.layout.tmp / "junk.job"
    bad.write_bytes(b"{not json")
    spool.quarantine(bad, "not JSON")
    rc, text = _doctor(spool)
    assert rc == 1 and "warn   1 file(s) in corrupt/" in text, text


def test_broken_trigger_files_are_each_reported(spool: Spool) -> None:
    spool.layout.triggers.mkdir(exist_ok=True)
    (spool.layout.triggers / "one.toml").write_text("kind = \n")
    (spool.layout.triggers / "two.toml").write_text('kind = "sometimes"\n')
    (spool.layout.triggers / "Three.toml").write_text('kind = "manual"\n')
    rc, text = _doctor(spool)
    assert rc == 1, text
    for name in ("trigger one:", "trigger two:", "trigger Three:"):
        assert f"error  {name}" in text, text


def test_waiting_jobs_no_live_runner_serves(spool: Spool) -> None:
    spool.add_queue("build")
    submit(spool, [JobSpec(command=["make"], queue="build")] * 3)
    rc, text = _doctor(spool)
    assert rc == 1 and "warn   queue build has 3 waiting job(s) and no live runner serves it" in text, text
    assert "coreflow runner --queues build" in text
    beat(spool, Heartbeat(id="far-1-ab12", host="far", pid=1, queues=["build"], slots=2, lease=600,
                          started_at=time.time()))
    rc, text = _doctor(spool)
    assert rc == 0, text
    (gpu,) = submit(spool, [JobSpec(command=["train"], queue="build", requires=["gpu"])])
    rc, text = _doctor(spool)
    assert rc == 1, text
    assert "warn   queue build: 1 waiting job(s) require label gpu, which no live runner serving it has" in text
    assert "--labels gpu" in text
    run(spool.root, "cancel", gpu)
    spool.update_queue("build", "pause", paused=True)  # waiting on purpose
    os.unlink(spool.layout.runner("far-1-ab12"))
    rc, text = _doctor(spool)
    assert rc == 0, text


@pytest.fixture
def read_only(spool: Spool, tmp_path: Path):
    view = tmp_path / "ro"
    view.mkdir()
    try:
        subprocess.run(["mount", "--bind", str(spool.root), str(view)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot bind-mount here: {exc}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True, capture_output=True)
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=False)


def test_a_read_only_spool_is_named_as_such(read_only: Path) -> None:
    rc, text = _doctor(read_only)
    assert rc == 1
    assert "mounted read-only" in text and "remount" in text, text
    assert "fuser" not in text and "not writable by this user" not in text and "clock" not in text, text


def test_a_lock_file_on_a_read_only_mount_is_not_blamed_on_a_holder(spool: Spool) -> None:
    """EROFS for the lock alone (the spool's filesystem itself is writable): no `fuser`."""
    lock = spool.layout.queue_lock("default")
    lock.touch()
    try:
        subprocess.run(["mount", "--bind", str(lock), str(lock)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot bind-mount here: {exc}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(lock)], check=True, capture_output=True)
        rc, text = _doctor(spool)
    finally:
        subprocess.run(["umount", str(lock)], check=False)
    assert rc == 1 and "cannot take the lock of queue default" in text, text
    assert "read-only): remount it read-write" in text and "fuser" not in text, text
