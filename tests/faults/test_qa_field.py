"""Field tries of issue 14 by an adversarial user (the qa round): each test is a case the
merged work still got wrong, reproduced with real processes and planted files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store import JobSpec, Spool, submit
from tests.conftest import run_cf

QUICK = 20  # seconds: each command here answers at once; a timeout is the defect


def test_drain_ends_when_a_queue_cannot_be_claimed_from(spool: Spool) -> None:
    """A queue whose lock is a symlink can never be claimed from: `--drain` ends, exit 1, saying which."""
    submit(spool, [JobSpec(command=["true"])])
    lock = spool.layout.queue_lock("default")
    lock.unlink(missing_ok=True)
    lock.symlink_to("/dev/zero")
    out = run_cf(spool, "runner", "--drain", "--lease", "5", timeout=QUICK)
    assert out.returncode == 1, out.stderr
    assert "queue default" in out.stderr.splitlines()[-1] or "queue default" in out.stderr


def test_doctor_on_a_symlinked_queue_lock_says_remove_it_not_fuser(spool: Spool) -> None:
    lock = spool.layout.queue_lock("default")
    lock.unlink(missing_ok=True)
    lock.symlink_to("/dev/zero")
    out = run_cf(spool, "doctor", timeout=QUICK)
    assert out.returncode == 1
    assert "symlink" in out.stdout and "fuser" not in out.stdout, out.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="planting a file as another user needs root (chown)")
def test_doctor_names_files_another_user_planted_in_a_world_writable_spool(spool: Spool) -> None:
    """The top directory may be world-writable (sticky): another user can still create types.toml
    and .spool.lock there before the owner does; doctor must not call that ok."""
    os.chmod(spool.root, 0o1777)
    types = spool.root / "types.toml"
    types.write_text('[build]\nqueue = "default"\n')
    os.chown(types, 54321, 54321)
    lock = spool.root / ".spool.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to("/dev/zero")
    os.lchown(lock, 54321, 54321)
    out = run_cf(spool, "doctor", timeout=QUICK)
    assert out.returncode == 1
    line = next(x for x in out.stdout.splitlines() if "another user" in x)
    assert "types.toml (uid 54321)" in line and ".spool.lock (uid 54321)" in line


@pytest.mark.parametrize("plant", ["runners/x.json", "runners/y.claims", "logs/{id}.log", "audit/{id}.jsonl",
                                   "triggers/.state/x.json", "queues/default/audit.jsonl"])
@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_doctor_is_not_ok_with_a_fifo_or_symlink_readers_skip(spool: Spool, plant: str, kind: str) -> None:
    """Readers skip these without blocking (runners/x.json is 'doctor names it'); doctor said
    all is well (exit 0) while a planted FIFO blocked `queue pause` or hid a runner."""
    [job_id] = submit(spool, [JobSpec(command=["true"])])
    spool.update_queue("default", "pause", paused=True)  # no other finding: waiting jobs in a paused queue
    path = spool.root / plant.format(id=job_id)
    path.unlink(missing_ok=True)
    os.mkfifo(path) if kind == "fifo" else path.symlink_to("/dev/zero")
    out = run_cf(spool, "doctor", timeout=QUICK)
    assert out.returncode == 1, out.stdout
    assert plant.format(id=job_id) in out.stdout


DEEP = "[" * 30000 + "]" * 30000  # 60 KB: under every size limit, far over Python's recursion limit


def test_a_deeply_nested_queue_json_is_reported_not_a_traceback(spool: Spool) -> None:
    submit(spool, [JobSpec(command=["true"])])
    spool.layout.queue_meta("default").write_text('{"slots": %s}' % DEEP)
    for args in (["ls"], ["queue", "ls"], ["submit", "--", "true"], ["runner", "--drain", "--lease", "5"]):
        out = run_cf(spool, *args, timeout=QUICK)
        assert out.returncode == 0 and "Traceback" not in out.stderr, (args, out.stderr[-300:])
    doctor = run_cf(spool, "doctor", timeout=QUICK)
    assert doctor.returncode == 1 and "queue.json cannot be decoded: nested too deeply" in doctor.stdout


def test_a_deeply_nested_spool_json_is_a_one_line_error(spool: Spool) -> None:
    spool.layout.meta.write_text('{"format": 1, "settings": %s}' % DEEP)
    for args in (["ls"], ["doctor"]):
        out = run_cf(spool, *args, timeout=QUICK)
        assert out.returncode == 1 and "Traceback" not in out.stderr, (args, out.stderr[-300:])
        assert "spool.json cannot be decoded: nested too deeply" in out.stdout + out.stderr


def test_doctor_does_not_call_a_small_mostly_free_filesystem_nearly_full(tmp_path: Path) -> None:
    """A 4 MiB spool filesystem, 99% free, was 'nearly full: 4.0 MiB space free of 4.0 MiB (99.7%)'."""
    from tests.store.storehelp import small_tmpfs

    with small_tmpfs(tmp_path, "size=4m") as mnt:
        spool = Spool.init(mnt / "spool")
        out = run_cf(spool, "doctor", timeout=QUICK)
        assert out.returncode == 1  # it still needs attention: one job's log may not fit
        assert "nearly full" not in out.stdout and "the spool's filesystem is small" in out.stdout, out.stdout
