"""Housekeeping that runs (issue 14, defects 18 and 19): the runner sweeps tmp/ of what
dead writers left, doctor says what is true about it, and doctor fails a full spool."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import Spool, atomic
from tests.conftest import ROOT, run_cf
from tests.store.storehelp import fill_disk, small_tmpfs

HOURS = 3600.0


def _age(path: Path, seconds: float) -> None:
    t = atomic.fs_now(path.parent) - seconds
    os.utime(path, (t, t))


def test_a_running_runner_removes_stale_tmp_files_and_keeps_young_ones(spool: Spool) -> None:
    tmp = spool.layout.tmp
    stale = tmp / "4242.abcdefabcdef.another-host.w"  # another host's writer: only age can tell
    stale.write_bytes(b"left by a writer that died")
    _age(stale, 37 * HOURS)
    young = tmp / "4243.abcdefabcdef.another-host.w"
    young.write_bytes(b"maybe still being written")
    _age(young, 2 * HOURS)
    stale_dir = tmp / "4244.abcdefabcdef.another-host.queue.build"  # a queue add that died
    (stale_dir / "pending").mkdir(parents=True)
    _age(stale_dir, 40 * HOURS)
    proc = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "runner",
                             "--lease", "1"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while (stale.exists() or stale_dir.exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    assert not stale.exists() and not stale_dir.exists(), "the runner never swept tmp/"
    assert young.exists()


def test_clean_tmp_judges_age_by_the_filesystems_clock(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    f = spool.layout.tmp / "4242.abcdefabcdef.another-host.w"
    f.write_bytes(b"x")
    _age(f, 2 * HOURS)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 40 * HOURS)  # this host's clock runs far ahead
    assert atomic.clean_tmp(spool.layout.tmp) == 0 and f.exists()


def test_the_runner_sweeps_at_most_hourly(spool: Spool) -> None:
    f = spool.layout.tmp / "4242.abcdefabcdef.another-host.w"
    assert spool.clean_tmp() == 0
    f.write_bytes(b"x")
    _age(f, 37 * HOURS)
    assert spool.clean_tmp() == 0 and f.exists()  # swept a moment ago
    assert spool.clean_tmp(every=0) == 1 and not f.exists()


def test_doctor_says_who_removes_tmp_leftovers_and_when_none_did(spool: Spool) -> None:
    f = spool.layout.tmp / "4242.abcdefabcdef.another-host.w"
    f.write_bytes(b"x")
    _age(f, 2 * HOURS)
    out = run_cf(spool, "doctor").stdout
    assert "1 leftover file(s) in tmp/ older than an hour" in out and "a running runner removes them" in out
    _age(f, 40 * HOURS)
    out = run_cf(spool, "doctor").stdout
    assert "older than 36 h: no runner has removed them" in out


def test_doctor_fails_a_full_spool(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path, "size=512k,nr_inodes=400") as mnt:
        spool = Spool.init(mnt / "spool")
        fill_disk(mnt)
        out = run_cf(spool, "doctor")
        assert out.returncode == 1
        assert "the spool's filesystem is nearly full: 0 B space free of 512.0 KiB (0.0%)" in out.stdout


def test_doctor_fails_a_spool_out_of_inodes(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path, "size=64m,nr_inodes=300") as mnt:
        spool = Spool.init(mnt / "spool")
        n = 0
        while True:
            try:
                (mnt / f"f{n}").touch()
            except OSError:
                break
            n += 1
        out = run_cf(spool, "doctor")
        assert out.returncode == 1 and "inodes free of 300" in out.stdout
        assert "submits and finishes will fail" in out.stdout
