"""Never twice at once (issue 14, defects 1-3): without working locks, with a frozen
runner, and with a live runner in another PID namespace on the same host."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import JobSpec, Spool, submit
from store.atomic import clean_tmp, commit_rename
from store.layout import RUNNING_RE, running_name
from store.model import Heartbeat
from store.runners import RunnerLock, beat, lock_scope
from tests.conftest import TWO_HOSTS, run_cf
from tests.runner.conftest import RECORD, ROOT, job_of, peak, pid_gone, runs_of, state_of, wait_for


def test_a_claim_renames_to_the_claimers_own_name(spool: Spool) -> None:
    """Two claimers that both listed pending/X (no lock kept them apart): the loser's
    rename fails, and its NFS "is the target there?" check looks at its own target, so it
    cannot take the winner's file for its own success."""
    (job,) = submit(spool, [JobSpec(command=["true"])])
    src = spool.layout.pending("default") / spool.pending("default")[0].name
    run = spool.layout.running("default")
    assert commit_rename(src, run / running_name(job, "hosta-10-aa"))
    assert not commit_rename(src, run / running_name(job, "hostb-20-bb"))
    (name,) = os.listdir(run)
    m = RUNNING_RE.fullmatch(name)
    assert m and m["id"] == job and m["runner"] == "hosta-10-aa"
    assert [r.id for r in spool.running_refs("default")] == [job]
    assert run_cf(spool, "show", job).returncode == 0


@pytest.mark.slow
def test_without_cross_host_locks_no_job_runs_twice(two_hosts_nolock: tuple[Path, Path], start_runner) -> None:
    """Three runners on each of two hosts whose locks do not exclude each other, a 1-slot
    queue of short jobs: the slot limit may be exceeded, a job never starts twice; the
    runner and doctor say that locks do not exclude other hosts."""
    host_a, host_b = two_hosts_nolock
    base = host_a.parent
    rec = base / "backing" / "rec"
    rec.mkdir()
    spool_a = Spool.init(host_a / "spool")
    spool_a.update_queue("default", "set", slots=1)
    ids = submit(spool_a, [JobSpec(command=["sh", "-c", RECORD], env={"REC": str(rec)}) for _ in range(60)])

    def on(host: str) -> list[str]:
        return ["bash", str(TWO_HOSTS), "run", str(base), host, "--"]

    runners = [start_runner(view / "spool", "--lease", "5", "--slots", "1", "--drain", prefix=on(name))
               for _ in range(3) for view, name in ((host_a, "hostA"), (host_b, "hostB"))]
    for r in runners:
        assert r.wait(120) == 0, r.stderr
    spool = Spool.open(base / "backing" / "spool")
    assert all(state_of(spool, i) == "succeeded" for i in ids)
    runs = runs_of(rec)
    twice = {i: rs for i, rs in runs.items() if len(rs) > 1}
    assert set(runs) == set(ids) and not twice, f"jobs run more than once: {twice}"
    assert all(job_of(spool, i).attempt == 1 for i in ids)
    print(f"nolock: {len(ids)} jobs, 6 runners, 1 slot: peak {peak(runs)} at once, 0 double starts")
    assert "do not exclude other hosts" in runners[0].stderr
    doctor = run_cf(host_a / "spool", "doctor")
    assert "do not exclude other hosts" in doctor.stdout + doctor.stderr


def test_a_frozen_runners_job_is_dead_before_another_runner_starts_it(spool: Spool, tmp_path: Path,
                                                                     start_runner) -> None:
    """SIGSTOP a runner for longer than its lease: its watchdog kills the job at
    lease - margin, another runner starts attempt 2 only after lease + margin, so the
    two attempts never overlap. Resumed, the frozen runner says what happened."""
    rec = tmp_path / "rec"
    rec.mkdir()
    (job,) = submit(spool, [JobSpec(command=["sh", "-c", RECORD], env={"REC": str(rec), "N": "40"})])
    a = start_runner(spool, "--lease", "2", "--slots", "1")
    wait_for("attempt 1 started", lambda: any(rec.iterdir()))
    a.signal(signal.SIGSTOP)
    try:
        b = start_runner(spool, "--lease", "2", "--slots", "1")
        wait_for("attempt 2 started", lambda: any(f.name.split(".")[1] == "2" for f in rec.iterdir()), timeout=30)
    finally:
        a.signal(signal.SIGCONT)
    wait_for("the job succeeded", lambda: state_of(spool, job) == "succeeded", timeout=30)
    (one, two) = runs_of(rec)[job]
    assert one[2].split(".")[1] == "1" and two[2].split(".")[1] == "2"
    assert one[1] < two[0], "attempt 1 still ran when attempt 2 started"
    done = job_of(spool, job)
    assert done.attempt == 2 and done.history[0].reason == "runner-lost"
    wait_for("the frozen runner noticed", lambda: "did not beat" in a.stderr, timeout=10)
    b.stop()
    a.stop()


def test_a_runner_frozen_past_its_fence_gives_its_job_back(spool: Spool, tmp_path: Path, start_runner) -> None:
    """Frozen past lease - margin with nobody to take over: the watchdog has killed the
    job; resumed, the runner queues it again as a lost attempt (not the job's failure)."""
    rec = tmp_path / "rec"
    rec.mkdir()
    (job,) = submit(spool, [JobSpec(command=["sh", "-c", RECORD], env={"REC": str(rec), "N": "10"})])
    a = start_runner(spool, "--lease", "2", "--slots", "1")
    wait_for("attempt 1 started", lambda: any(rec.iterdir()))
    a.signal(signal.SIGSTOP)
    time.sleep(2.2)  # past the fence (1.5 s), short of a takeover by anyone
    a.signal(signal.SIGCONT)
    wait_for("the job succeeded", lambda: state_of(spool, job) == "succeeded", timeout=30)
    done = job_of(spool, job)
    assert done.attempt == 2 and done.history[0].reason == "runner-lost" and done.lost == 1
    (one, two) = runs_of(rec)[job]
    assert one[1] < two[0]
    assert "did not beat" in a.stderr


def test_a_dead_runners_files_are_removed_only_when_its_lock_is_free(spool: Spool, start_runner) -> None:
    """A runner starting up removes the files of runners proven dead (same lock scope,
    lock not held), and never those of a runner that holds its lock, whatever its pid."""
    lay = spool.layout
    scope = lock_scope(spool)
    for rid in ("dead-1", "live-1"):
        beat(spool, Heartbeat(id=rid, host="elsewhere", pid=4_000_000, queues=["default"], slots=1, scope=scope))
        lay.runner_claims(rid).write_bytes(b"")
    lay.runner_lock("dead-1").write_bytes(b"")
    live = RunnerLock(spool, "live-1")
    try:
        r = start_runner(spool, "--slots", "1")
        wait_for("the dead runner's files removed", lambda: not any(
            p.exists() for p in (lay.runner("dead-1"), lay.runner_claims("dead-1"), lay.runner_lock("dead-1"))))
        assert lay.runner("live-1").exists() and lay.runner_claims("live-1").exists()
        r.stop()
    finally:
        live.close()


def _unshare_usable() -> str | None:
    if not shutil.which("unshare"):
        return "unshare(1) is not installed"
    try:
        got = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if got.returncode != 0:
        return f"cannot make a PID namespace here: {got.stderr.decode().strip()}"
    return None


def test_a_live_runner_in_another_pid_namespace_is_not_taken_for_dead(spool: Spool, tmp_path: Path,
                                                                       start_runner) -> None:
    """Same hostname, another PID namespace (a container with host networking): its pid
    means nothing here. Another runner leaves its job, heartbeat and journal alone."""
    why = _unshare_usable()
    if why:
        pytest.skip(why)
    rec = tmp_path / "rec"
    rec.mkdir()
    (job,) = submit(spool, [JobSpec(command=["sh", "-c", RECORD], env={"REC": str(rec), "N": "400"})])
    # Inside, the runner's pid is above this host's pid_max: no process here has it.
    inside = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=KILL", "sh", "-c",
              'echo 99999 > /proc/sys/kernel/ns_last_pid 2>/dev/null; "$@"', "sh"]
    a = start_runner(spool, "--lease", "30", "--slots", "1", prefix=inside)
    wait_for("the job started", lambda: any(rec.iterdir()))
    (hb,) = [p for p in spool.layout.runners.iterdir() if p.suffix == ".json"]
    claims = hb.with_suffix(".claims")
    b = start_runner(spool, "--lease", "1", "--slots", "1")
    wait_for("the second runner is up", lambda: len(list(spool.layout.runners.glob("*.json"))) == 2)
    time.sleep(1.5)  # the second runner looks for lost runners every 1/4 s
    assert state_of(spool, job) == "running" and job_of(spool, job).attempt == 1
    assert hb.exists() and claims.exists()
    assert len(list(rec.iterdir())) == 1
    a.proc.kill()  # unshare --kill-child: the runner dies with it, its watchdog kills the job
    a.proc.wait()
    wait_for("the job taken over at once (nobody holds the dead runner's lock)",
             lambda: job_of(spool, job).attempt == 2, timeout=10)
    wait_for("the dead runner's files removed (proven dead)", lambda: not hb.exists() and not claims.exists())
    b.stop()


def test_jobs_run_in_a_session_of_their_own(spool: Spool, start_runner) -> None:
    """A job has no controlling terminal (it cannot stty or retitle the runner's) and
    leads its own session; cancel still stops its whole group."""
    stat = 'read -r s < /proc/self/stat; set -- ${s#*) }; echo "$$ $4 $5"'  # pid, session, tty_nr
    (job,) = submit(spool, [JobSpec(command=["sh", "-c", f"{stat}; sleep 30 & sleep 30"])])
    start_runner(spool, "--slots", "1")
    log = spool.layout.log(job)
    wait_for("the job ran", lambda: log.exists() and log.read_text().strip())
    pid, session, tty = log.read_text().split()[:3]
    assert session == pid and tty == "0"
    assert run_cf(spool, "cancel", job).returncode == 0
    wait_for("cancelled", lambda: state_of(spool, job) == "cancelled", timeout=10)
    left = subprocess.run(["pgrep", "-s", pid], capture_output=True, text=True).stdout.split()
    wait_for("nothing left of the job's session", lambda: all(pid_gone(int(p)) for p in left), timeout=5)


def test_tmp_cleaning_never_takes_a_live_writer_of_another_pid_namespace(spool: Spool) -> None:
    """A file a live process of another PID namespace (same hostname) is staging in tmp/
    is not taken for a dead writer's leftover: its pid means nothing here."""
    why = _unshare_usable()
    if why:
        pytest.skip(why)
    code = ("import sys, time; from store.atomic import stage; print(stage(sys.argv[1], b'x', 'w'), flush=True); "
            "time.sleep(30)")
    writer = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=KILL", "sh", "-c",
         'echo 99999 > /proc/sys/kernel/ns_last_pid 2>/dev/null; "$@"', "sh", sys.executable, "-c", code,
         str(spool.layout.tmp)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert writer.stdout is not None
        staged = Path(writer.stdout.readline().strip())
        assert staged.exists()
        clean_tmp(spool.layout.tmp)
        assert staged.exists()
    finally:
        writer.kill()
        writer.wait()


def test_a_requeued_attempt_is_never_claimable_with_its_old_content(two_hosts_nolock: tuple[Path, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without cross-host locks, host B claims a failed job the moment host A puts it
    back in pending/ for its retry: B must get the next attempt, and A must not re-create
    the pending file afterwards (it once renamed the old content first and rewrote it
    after, so B ran attempt 1 again while attempt 2 waited in pending/ too)."""
    from store.jobs import claimbase
    from store.jobs.claims import Claims
    from store.jobs.claimbase import Claimant
    from store.model import Result

    host_a, host_b = two_hosts_nolock
    spool_a = Spool.init(host_a / "spool")
    spool_b = Spool.open(host_b / "spool")
    (job_id,) = submit(spool_a, [JobSpec(command=["false"], retries=1)])
    a = Claims(spool_a, Claimant("hosta-1-aa", "hostA", os.getpid()))
    b = Claims(spool_b, Claimant("hostb-2-bb", "hostB", os.getpid()))
    job = a.claim_next("default").job
    assert job is not None and job.attempt == 1
    taken: list = []
    real = claimbase.commit_rename

    def rename_then_host_b_claims(src, dst):
        ok = real(src, dst)
        if "/pending/" in str(dst) and not taken:
            taken.append(b.claim_next("default").job)  # in A's window: B's lock does not exclude
        return ok

    monkeypatch.setattr(claimbase, "commit_rename", rename_then_host_b_claims)
    a.finish(job, Result(state="failed", reason="exit", exit_code=1))
    (got,) = taken
    assert got is not None and got.attempt == 2, "host B claimed the old attempt"
    q = host_a / "spool" / "queues" / "default"
    places = [f"{d}/{n}" for d in ("pending", "running") for n in os.listdir(q / d) if job_id in n]
    assert places == [f"running/{running_name(job_id, 'hostb-2-bb')}"], places
