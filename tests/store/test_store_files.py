"""Atomic writes, tmp/ housekeeping, and quarantine of files that are not jobs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storehelp import fill, places

from store import CorruptJob, JobNotFound, Spool, submit
from store import atomic
from store.jobs.submit import JobSpec
from store.layout import pending_name
from store.names import new_job_id

# -- atomic writes ---------------------------------------------------------------------


def test_stage_and_publish_leave_no_tmp_file(spool: Spool) -> None:
    tmp = spool.layout.tmp
    dest = spool.root / "some.json"
    atomic.publish(tmp, dest, b'{"a": 1}')
    atomic.publish(tmp, dest, b'{"a": 2}')  # over an existing file
    assert dest.read_bytes() == b'{"a": 2}'
    assert atomic.publish_new(tmp, spool.root / "new.json", b"1") is True
    assert atomic.publish_new(tmp, spool.root / "new.json", b"2") is False  # exclusive
    assert (spool.root / "new.json").read_bytes() == b"1"
    assert os.listdir(tmp) == []
    staged = atomic.stage(tmp, b"x" * 100_000, "hint")
    assert staged.parent == tmp and staged.read_bytes() == b"x" * 100_000
    assert staged.stat().st_mode & 0o777 == 0o644


def test_publish_into_a_missing_directory_fails_cleanly(spool: Spool) -> None:
    with pytest.raises(atomic.StorageError, match="cannot place"):
        atomic.publish(spool.layout.tmp, spool.root / "nowhere" / "x.json", b"1")
    assert os.listdir(spool.layout.tmp) == []


def test_stage_refuses_to_follow_a_planted_symlink(spool: Spool, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """O_EXCL|O_NOFOLLOW: a name planted in tmp/ is never written through."""
    target = tmp_path / "victim"
    target.write_text("safe")
    monkeypatch.setattr(os, "urandom", lambda n: b"\0" * n)  # so we know the next name
    name = atomic.stage(spool.layout.tmp, b"first", "h").name
    os.unlink(spool.layout.tmp / name)
    os.symlink(target, spool.layout.tmp / name)
    with pytest.raises(atomic.StorageError):
        atomic.stage(spool.layout.tmp, b"second", "h")
    assert target.read_text() == "safe"


def test_commit_rename_reports_a_lost_race(spool: Spool) -> None:
    a, b, c = spool.root / "a", spool.root / "b", spool.root / "c"
    a.write_text("x")
    assert atomic.commit_rename(a, b) is True
    assert atomic.commit_rename(a, c) is False  # someone else took it
    assert atomic.commit_rename(a, b) is True  # NFS: a retransmitted rename that did succeed
    assert b.read_text() == "x" and not c.exists()


def test_clean_tmp_removes_a_dead_writers_files_only(spool: Spool) -> None:
    tmp = spool.layout.tmp
    # a writer of this host that died mid-write: its pid is gone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    mine = atomic.stage(tmp, b"live writer", "w")  # this (live) process
    dead_name = mine.name.replace(f"{os.getpid()}.", f"{dead_pid}.", 1)
    (tmp / dead_name).write_bytes(b"half")
    other_host = tmp / f"{dead_pid}.abcdefabcdef.some-other-host.w"
    other_host.write_bytes(b"can't tell if alive")
    old_other_host = tmp / f"{dead_pid}.abcdefabcdee.some-other-host.w"
    old_other_host.write_bytes(b"old")
    os.utime(old_other_host, (time.time() - 40 * 3600,) * 2)
    foreign = tmp / "notes.txt"
    foreign.write_text("someone's file, young")
    assert atomic.clean_tmp(tmp) == 2
    left = sorted(os.listdir(tmp))
    assert left == sorted([mine.name, other_host.name, "notes.txt"])
    # the grace period is measured against `now`, which tests shift instead of sleeping
    assert atomic.clean_tmp(tmp, now=time.time() + 37 * 3600) == 3
    assert os.listdir(tmp) == []


def test_a_writer_killed_mid_write_leaves_its_file_only_in_tmp(spool: Spool) -> None:
    """SIGKILL during stage(): the half-written file is in tmp/, invisible, and cleanable."""
    script = ("import os, sys, signal; from store import atomic; from pathlib import Path\n"
              "fd_write = os.write\n"
              "def dying(fd, data):\n"
              "    fd_write(fd, data[:10]); os.kill(os.getpid(), signal.SIGKILL)\n"
              "os.write = dying\n"
              "atomic.publish(Path(sys.argv[1]), Path(sys.argv[2]), b'x' * 1000)\n")
    dest = spool.root / "queues" / "default" / "queue.json"
    before = dest.read_bytes()
    proc = subprocess.run([sys.executable, "-c", script, str(spool.layout.tmp), str(dest)])
    assert proc.returncode == -signal.SIGKILL
    assert dest.read_bytes() == before
    assert len(os.listdir(spool.layout.tmp)) == 1
    assert atomic.clean_tmp(spool.layout.tmp) == 1
    assert os.listdir(spool.layout.tmp) == []


# -- quarantine ------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bad_job(spool: Spool, kind: str, tmp_path: Path) -> Path:
    path = spool.layout.pending("default") / pending_name(1 << 62, 0, new_job_id())
    good = json.dumps({"id": path.name.split(".")[2], "queue": "default", "command": ["true"]}).encode()
    if kind == "truncated":
        path.write_bytes(good[:-7])
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff" * 100 + b"\x89PNG")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong shape":
        path.write_bytes(b'{"id": 5, "command": "rm -rf /"}')
    elif kind == "a list":
        path.write_bytes(b"[1, 2, 3]")
    elif kind == "another job's id":
        path.write_bytes(good.replace(path.name.split(".")[2].encode(), new_job_id().encode()))
    elif kind == "newer format":
        path.write_bytes(good[:-1] + b', "v": 7}')
    elif kind == "symlink to /etc/passwd":
        os.symlink("/etc/passwd", path)
    elif kind == "symlink to a good job":
        real = tmp_path / "elsewhere.job"
        real.write_bytes(good)
        os.symlink(real, path)
    elif kind == "a directory":
        path.mkdir()
    elif kind == "enormous":
        with open(path, "wb") as f:
            f.truncate(6 * 1024 * 1024)
    else:
        raise AssertionError(kind)
    return path


KINDS = ["truncated", "garbage", "empty", "wrong shape", "a list", "another job's id", "newer format",
         "symlink to /etc/passwd", "symlink to a good job", "a directory", "enormous"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_file_is_quarantined_and_listing_goes_on(spool: Spool, tmp_path: Path, kind: str) -> None:
    (good,) = submit(spool, [JobSpec(command=["true"], name="good")])
    passwd = _digest(Path("/etc/passwd"))
    bad = _bad_job(spool, kind, tmp_path)
    outside = sorted(p for p in tmp_path.iterdir() if p.name != "spool")
    views, warnings = spool.jobs()
    assert [v.job.id for v in views] == [good]
    assert len(warnings) == 1 and "corrupt/" in warnings[0] and "\n" not in warnings[0]
    assert not os.path.lexists(bad)
    (moved,) = spool.corrupt_files()
    why = Path(str(moved) + ".why").read_text()
    assert "reason:" in why and "from: queues/default/pending/" in why
    assert moved.name.startswith("queues.default.pending.")
    # nothing outside the spool was touched, no link followed
    assert _digest(Path("/etc/passwd")) == passwd
    assert sorted(p for p in tmp_path.iterdir() if p.name != "spool") == outside
    if kind == "symlink to a good job":
        assert (tmp_path / "elsewhere.job").exists()
    assert os.listdir(spool.layout.tmp) == []
    # a second listing is clean
    views, warnings = spool.jobs()
    assert [v.job.id for v in views] == [good] and warnings == [] and views[0].position == 1


def test_show_of_a_bad_file_says_which_job_and_why(spool: Spool, tmp_path: Path) -> None:
    bad = _bad_job(spool, "truncated", tmp_path)
    job_id = bad.name.split(".")[2]
    with pytest.raises(CorruptJob, match=job_id) as e:
        spool.show(job_id)
    assert "moved to corrupt/" in str(e.value)
    with pytest.raises(JobNotFound):
        spool.show(job_id)


def test_unknown_fields_of_a_newer_minor_version_are_kept(spool: Spool) -> None:
    from store import cancel

    (job_id,) = submit(spool, [JobSpec(command=["true"])])
    r = spool.find(job_id)
    data = json.loads(r.path.read_bytes())
    data["from_the_future"] = {"x": 1}
    r.path.write_text(json.dumps(data))
    cancel(spool, job_id)
    after = json.loads(spool.find(job_id).path.read_bytes())
    assert after["from_the_future"] == {"x": 1} and after["result"]["state"] == "cancelled"


def test_names_that_are_not_ours_are_ignored_and_left_alone(spool: Spool) -> None:
    ids = fill(spool, "default", 3)
    d = spool.layout.pending("default")
    for name in (".nfs000000000001", ".fuse_hidden0000001", "README", "x.job~", "8" * 16 + ".+0.x.job"):
        (d / name).write_text("not a job")
    views, warnings = spool.jobs()
    assert [v.job.id for v in views] == ids and warnings == []
    assert len(os.listdir(d)) == 8
    assert set(places(spool)) == set(ids)
