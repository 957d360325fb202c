"""Files another user of a shared spool can plant where a runner looks (issue 14,
defects 4-7): none of them hangs a runner or the CLI, none is followed or read without
end, and a job's output never goes into a file someone else made."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys

import pytest

from store import JobSpec, Spool, submit
from tests.conftest import run_cf
from tests.runner.conftest import ROOT, state_of, wait_for


def test_a_fifo_as_a_heartbeat_hangs_nothing(spool: Spool, start_runner) -> None:
    """runners/x.json is a FIFO: ls, show and doctor answer, and a runner looking for lost
    runners' jobs (another runner's job is running) still runs its own."""
    os.mkfifo(spool.layout.runners / "x.json")
    slow, quick = submit(spool, [JobSpec(command=["sleep", "5"]), JobSpec(command=["true"])])
    start_runner(spool, "--slots", "1", "--lease", "1")
    wait_for("the slow job started", lambda: state_of(spool, slow) == "running")
    for args in (["ls"], ["show", slow], ["doctor"]):
        got = run_cf(spool, *args, timeout=20)
        assert "Traceback" not in got.stderr, got.stderr
    start_runner(spool, "--slots", "1", "--lease", "1")
    wait_for("the quick job ran", lambda: state_of(spool, quick) == "succeeded", timeout=15)


def test_a_fifo_as_a_jobs_log_hangs_no_runner(spool: Spool, start_runner) -> None:
    """logs/ID.log of a waiting job is a FIFO: the job runs, its output goes to a new log
    the runner made, and the FIFO is moved aside to corrupt/."""
    (job,) = submit(spool, [JobSpec(command=["echo", "hello"])])
    os.mkfifo(spool.layout.log(job))
    start_runner(spool, "--slots", "1")
    wait_for("the job ran", lambda: state_of(spool, job) == "succeeded", timeout=15)
    log = spool.layout.log(job)
    assert stat.S_ISREG(os.lstat(log).st_mode)
    text = log.read_text()
    assert "hello" in text and "moved aside" in text
    assert any(stat.S_ISFIFO(os.lstat(p).st_mode) for p in spool.layout.corrupt.iterdir())


def test_a_claims_journal_linked_to_dev_zero_is_not_read(spool: Spool) -> None:
    """runners/x.claims -> /dev/zero: reading the journals neither follows it nor reads
    without end (it used to read until MemoryError)."""
    os.symlink("/dev/zero", spool.layout.runners / "x.claims")
    (spool.layout.runners / "y.claims").write_bytes(b"\0" * (8 << 20))  # far larger than any journal
    code = "import sys; from store import Spool; from store.jobs.journal import journaled_claims; " \
           "print(len(journaled_claims(Spool.open(sys.argv[1]))))"
    got = subprocess.run([sys.executable, "-c", code, str(spool.root)], capture_output=True, text=True,
                         timeout=20, cwd=ROOT)
    assert got.returncode == 0 and got.stdout.strip() == "0", got.stderr


def test_a_log_made_by_another_user_gets_no_output(spool: Spool, start_runner) -> None:
    """A mode-666 logs/ID.log owned by another user, made before the job runs: the
    job's output (a secret) goes to a new log of the runner's own (mode 640), never
    into that file, which is moved aside."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a file owned by another user")
    nobody = pwd.getpwnam("nobody")
    (job,) = submit(spool, [JobSpec(command=["echo", "s3cret"])])
    planted = spool.layout.log(job)
    planted.write_text("")
    os.chown(planted, nobody.pw_uid, nobody.pw_gid)
    planted.chmod(0o666)
    start_runner(spool, "--slots", "1")
    wait_for("the job ran", lambda: state_of(spool, job) == "succeeded", timeout=15)
    st = os.lstat(planted)
    assert st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o640
    assert "s3cret" in planted.read_text()
    (aside,) = [p for p in spool.layout.corrupt.iterdir() if not p.name.endswith(".why")]
    assert os.lstat(aside).st_uid == nobody.pw_uid and aside.read_text() == ""
