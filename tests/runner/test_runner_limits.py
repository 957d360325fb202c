"""A runner at its limits (issue 14, defects 14 and 16): out of open files, or in a
spool it cannot write. It says why, keeps (or gives back) its jobs, and ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import JobSpec, Spool, submit
from tests.runner.conftest import ROOT, state_of


def test_a_runner_short_of_open_files_runs_fewer_jobs_and_never_crashes(spool: Spool, start_runner) -> None:
    """`ulimit -n 128` and 100 slots: the runner says how many jobs the limit allows, runs
    that many at once, and finishes every job (it used to crash in the lost-runner check
    with EMFILE, killing its running jobs)."""
    if not shutil.which("prlimit"):
        pytest.skip("prlimit(1) is not installed")
    spool.update_queue("default", "set", slots=100)
    ids = submit(spool, [JobSpec(command=["sleep", "1"]) for _ in range(60)])
    r = start_runner(spool, "--slots", "100", "--lease", "3", "--drain", prefix=["prlimit", "--nofile=128:128", "--"])
    assert r.wait(90) == 0, r.stderr
    assert "Traceback" not in r.stderr and "Too many open files" not in r.stderr
    assert "the open-file limit (128) allows" in r.stderr
    assert all(state_of(spool, i) == "succeeded" for i in ids)


@pytest.fixture
def foreign_spool() -> Iterator[Path]:
    """A spool owned by root in a directory anyone can read (tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="coreflow-foreign-"))
    try:
        d.chmod(0o755)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_runner_that_cannot_write_the_spool_says_so_and_exits(foreign_spool: Path) -> None:
    """Another user's spool: the runner (even with --drain) exits 1 with one clear line,
    instead of logging errors for ever."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv(1) to run as another user")
    spool = Spool.init(foreign_spool / "spool")
    submit(spool, [JobSpec(command=["true"])])
    for args in ([], ["--drain"]):
        got = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m", "coreflow_tui",
             "--spool", str(spool.root), "runner", *args],
            capture_output=True, text=True, timeout=30, cwd=ROOT, env={**os.environ, "HOME": "/"})
        if "Permission denied" in got.stderr and "python" in got.stderr.lower() and got.returncode == 126:
            pytest.skip(f"nobody cannot run this interpreter: {got.stderr.strip()}")
        assert got.returncode == 1, got.stderr
        assert "Traceback" not in got.stderr
        assert "cannot" in got.stderr and "runner" in got.stderr and "Permission denied" in got.stderr
    assert os.listdir(spool.layout.runners) == []
