"""Files planted where the spool expects its own (issue 14, defects 8 and 9): a FIFO,
a symlink to /dev/zero, a forged audit line, another user's private job file. Every
command finishes at once (a timeout here is the old hang) and says which file and why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store import Spool, submit
from store.jobs.submit import JobSpec
from store.jobs.hold import hold
from tests.conftest import run_cf

QUICK = 20  # seconds: every command here answers in well under one; the old code hung


def test_a_fifo_as_queue_json_hangs_nothing_and_doctor_names_it(spool: Spool) -> None:
    submit(spool, [JobSpec(command=["true"])])
    meta = spool.layout.queue_meta("default")
    meta.unlink()
    os.mkfifo(meta)
    for args in (["ls"], ["queue", "ls"], ["submit", "--", "true"]):
        out = run_cf(spool, *args, timeout=QUICK)
        assert out.returncode == 0, (args, out.stderr)
    doctor = run_cf(spool, "doctor", timeout=QUICK)
    assert "queues/default/queue.json is a FIFO, not a regular file: remove it" in doctor.stdout
    out = run_cf(spool, "runner", "--drain", "--lease", "5", timeout=QUICK)
    assert out.returncode == 0, out.stderr


def test_a_fifo_as_spool_json_is_a_one_line_error(spool: Spool) -> None:
    spool.layout.meta.unlink()
    os.mkfifo(spool.layout.meta)
    for args in (["ls"], ["queue", "ls"], ["doctor"], ["submit", "--", "true"]):
        out = run_cf(spool, *args, timeout=QUICK)
        text = out.stdout + out.stderr
        assert "spool.json is a FIFO, not a regular file: remove it" in text, (args, text)
        assert "Traceback" not in text


@pytest.mark.parametrize("plant", ["fifo", "dev-zero", "huge"])
def test_a_bad_types_toml_fails_typed_submits_clearly_and_no_other(spool: Spool, plant: str) -> None:
    types = spool.layout.types
    if plant == "fifo":
        os.mkfifo(types)
        why = "types.toml is a FIFO, not a regular file"
    elif plant == "dev-zero":
        types.symlink_to("/dev/zero")
        why = "types.toml is a symlink, and symlinks in a spool are never followed"
    else:
        with open(types, "wb") as f:
            f.truncate(50 * 1024 * 1024)
        why = "types.toml is 52428800 bytes, more than the limit of 1048576"
    out = run_cf(spool, "submit", "--type", "build", "--", "make", timeout=QUICK)
    assert out.returncode == 1 and why in out.stderr and "MemoryError" not in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1
    assert run_cf(spool, "submit", "--", "true", timeout=QUICK).returncode == 0
    doctor = run_cf(spool, "doctor", timeout=QUICK)
    assert why in doctor.stdout


def test_a_fifo_as_a_trigger_file_is_listed_as_broken(spool: Spool) -> None:
    spool.layout.trigger("nightly").parent.mkdir(exist_ok=True)
    os.mkfifo(spool.layout.trigger("nightly"))
    out = run_cf(spool, "triggers", "ls", timeout=QUICK)
    assert "nightly.toml is a FIFO, not a regular file: remove it" in out.stdout + out.stderr


def test_a_fifo_as_an_audit_trail_hangs_neither_release_nor_show(spool: Spool) -> None:
    """The old `release` opened the FIFO for writing under the queue's lock and waited
    for a reader for ever."""
    [job] = submit(spool, [JobSpec(command=["true"])])
    hold(spool, job)
    audit = spool.layout.job_audit(job)
    audit.unlink()
    os.mkfifo(audit)
    out = run_cf(spool, "release", job, timeout=QUICK)
    assert "not a regular file" in out.stderr and f"release of job {job} done" in out.stderr
    assert spool.show(job).state == "pending"
    show = run_cf(spool, "show", job, timeout=QUICK)
    assert show.returncode == 0 and "is a FIFO, not a regular file" in show.stdout


def test_a_fifo_as_a_log_is_refused_by_logs(spool: Spool) -> None:
    [job] = submit(spool, [JobSpec(command=["true"])])
    os.mkfifo(spool.layout.log(job))
    out = run_cf(spool, "logs", job, timeout=QUICK)
    assert out.returncode == 1 and f"the log of job {job} is a FIFO, not a regular file" in out.stderr


def test_a_forged_audit_trail_is_not_shown_as_real(spool: Spool) -> None:
    """A trail another user wrote (here: owned by another uid) shows one line saying so,
    never the entries it holds."""
    [job] = submit(spool, [JobSpec(command=["true"])])
    audit = spool.layout.job_audit(job)
    forged = {"at": 1.0, "actor": "boss@ci", "action": "cancel", "detail": "approved by security"}
    audit.write_text(json.dumps(forged) + "\n")
    assert [a.action for a in spool.audit(job)] == ["cancel"]  # ours: trusted
    os.chown(audit, 4242, 4242)
    [entry] = spool.audit(job)
    assert entry.action == "unverified" and "owned by uid 4242" in entry.detail
    show = run_cf(spool, "show", job, timeout=QUICK)
    assert "approved by security" not in show.stdout and "unverified" in show.stdout
    os.chown(audit, os.getuid(), os.getgid())
    os.chmod(audit, 0o666)
    [entry] = spool.audit(job)
    assert entry.action == "unverified" and "writable by others" in entry.detail


def test_damaged_audit_lines_are_counted_not_shown(spool: Spool) -> None:
    [job] = submit(spool, [JobSpec(command=["true"])])
    hold(spool, job)
    with open(spool.layout.job_audit(job), "ab") as f:
        f.write(b'{"at": "x"}\nnot json\n{"at": 2.0, "actor": "a", "action": "release"}\n{"at": 3')
    actions = [a.action for a in spool.audit(job)]
    assert actions == ["hold", "release", "unverified"]
    assert "3 line(s)" in spool.audit(job)[-1].detail


@pytest.mark.parametrize("d", ["runners", "logs", "audit", "tmp"])
def test_a_sticky_world_writable_shared_directory_is_refused_by_runner_and_doctor(spool: Spool, d: str) -> None:
    """Sticky is not enough there: anyone could plant a FIFO as a heartbeat, log or
    audit trail, or forge an audit line."""
    path = spool.root / d
    os.chmod(path, 0o1777)
    out = run_cf(spool, "runner", "--drain", timeout=QUICK)
    assert out.returncode == 1 and f"{path}" in out.stderr and "world-writable" in out.stderr
    doctor = run_cf(spool, "doctor", timeout=QUICK)
    assert doctor.returncode == 1 and f"world-writable: {path}" in doctor.stdout
    assert "chmod -R o-w" in doctor.stdout


# -- another user's files --------------------------------------------------------------

OTHER_UID, SPOOL_UID = 4243, 4244


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory another uid can reach (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as two users")
    d = Path(tempfile.mkdtemp(prefix="cf-hostile-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        subprocess.run(["rm", "-rf", str(d)], check=False)


def _as(uid: int, fn: Callable[[], int]) -> tuple[int, str, str]:
    """Run fn() in a forked child as `uid` (exit status, stdout, stderr). Forked, not
    exec'd: this Python lives under /root, which another uid cannot enter."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            os.setgid(uid)
            os.setuid(uid)
            code = fn()
        except BaseException as exc:  # noqa: BLE001 - a child must report, then exit
            print(f"child failed: {exc!r}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    out.seek(0)
    err.seek(0)
    return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()


def test_another_users_private_job_at_the_head_does_not_stall_the_queue(shared_tmp: Path) -> None:
    """A 0600 job file of another user at the head of pending/: `ls` by the spool's
    owner lists the rest and exits 0, and a runner claims the next job."""
    from coreflow_tui.cli import main
    from store.jobs.claims import Claimant, Claims

    spool = Spool.init(shared_tmp / "spool")
    ids = submit(spool, [JobSpec(command=["true"], name=f"j{i}") for i in range(3)])
    main(["--spool", str(spool.root), "ls"])  # imports everything ls needs while we can read it
    subprocess.run(["chown", "-R", f"{SPOOL_UID}:{SPOOL_UID}", str(spool.root)], check=True)
    head = spool.find(ids[0]).path
    os.chown(head, OTHER_UID, OTHER_UID)
    os.chmod(head, 0o600)
    code, out, err = _as(SPOOL_UID, lambda: main(["--spool", str(spool.root), "ls"]))
    assert code == 0, err
    assert "j1" in out and "j2" in out
    assert "cannot be read by this user" in err and f"uid {OTHER_UID}" in err
    assert not head.exists()  # moved aside to corrupt/, with the reason beside it

    def claim() -> int:
        got = Claims(Spool.open(spool.root), Claimant("r1", "h", os.getpid(), frozenset())).claim_next("default")
        print(got.job.id if got.job else got.status)
        return 0

    head2 = spool.find(ids[1]).path
    os.chown(head2, OTHER_UID, OTHER_UID)
    os.chmod(head2, 0o600)
    code, out, err = _as(SPOOL_UID, claim)
    assert code == 0 and out.strip() == ids[2], (out, err)
