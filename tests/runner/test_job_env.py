"""Issue 11 item 0: what every job gets from its runner — COREFLOW_* variables (its
inputs as COREFLOW_PARAM_*) and a working directory of its own — with real runners."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import msgspec

from store import JobSpec, Spool, atomic, submit
from store.model import encode_job
from tests.runner.conftest import job_of, state_of

SHOW_ENV = 'env | grep "^COREFLOW_" | sort; echo "X=$X"; echo "PWD=$(pwd)"'


def _with_params(spool: Spool, job_id: str, params: dict[str, str]) -> None:
    """Give a waiting job inputs, as a trigger's template would have (the trigger side is not ours)."""
    r = spool.find(job_id)
    with spool.lock(r.queue):
        job, original = spool.load(r.path, r.id, r.queue, r.state)
        atomic.publish(spool.layout.tmp, Path(r.path), encode_job(msgspec.structs.replace(job, params=params), original))


def _vars(log: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in log.splitlines() if "=" in line)


def test_every_job_gets_its_ids_spool_and_params_which_nothing_overrides(spool: Spool, start_runner,
                                                                        tmp_path: Path) -> None:
    (jid,) = submit(spool, [JobSpec(command=SHOW_ENV, shell=True, env={
        "X": "mine", "COREFLOW_JOB_ID": "forged", "COREFLOW_QUEUE": "forged", "COREFLOW_PARAM_REF": "forged"})])
    _with_params(spool, jid, {"ref": "refs/heads/main", "new": "c0ffee", "build-dir": "a b", "x.y": "1"})
    work = tmp_path / "work"
    # The runner's own environment has a stale spool and a parameter of some other job.
    r = start_runner(spool, "--drain", "--work-root", str(work),
                     env={"COREFLOW_SPOOL": "/nowhere", "COREFLOW_PARAM_STALE": "x", "COREFLOW_ATTEMPT": "9"})
    assert r.wait() == 0, r.stderr
    got = _vars(spool.layout.log(jid).read_text())
    assert got["COREFLOW_JOB_ID"] == jid and got["COREFLOW_QUEUE"] == "default" and got["COREFLOW_ATTEMPT"] == "1"
    assert got["COREFLOW_SPOOL"] == str(spool.root)
    assert got["COREFLOW_PARAM_REF"] == "refs/heads/main" and got["COREFLOW_PARAM_NEW"] == "c0ffee"
    assert got["COREFLOW_PARAM_BUILD_DIR"] == "a b" and got["COREFLOW_PARAM_X_Y"] == "1"
    assert "COREFLOW_PARAM_STALE" not in got and got["X"] == "mine"
    assert got["PWD"] == got["COREFLOW_WORKDIR"] and got["PWD"].startswith(f"{work}/{jid}.1")


def test_a_job_runs_in_a_private_directory_of_its_own_removed_after_it(spool: Spool, start_runner,
                                                                      tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / ".trash.left-by-a-dead-runner" / "x").mkdir(parents=True)
    work.chmod(0o700)
    probe = tmp_path / "probe"
    probe.mkdir()
    script = (f'pwd > {probe}/$COREFLOW_JOB_ID; stat -c %a . >> {probe}/$COREFLOW_JOB_ID; '
              'mkdir -p deep/er && touch deep/er/f && chmod 500 deep/er deep; ln -s / root-link')
    a, b = submit(spool, [JobSpec(command=script, shell=True), JobSpec(command=script, shell=True)])
    (elsewhere,) = submit(spool, [JobSpec(command=["pwd"], cwd=str(tmp_path))])
    r = start_runner(spool, "--drain", "--work-root", str(work))
    assert r.wait() == 0, r.stderr
    dirs = {}
    for jid in (a, b):
        where, mode = (probe / jid).read_text().split()
        assert Path(where).parent == work and mode == "700"
        dirs[jid] = where
    assert dirs[a] != dirs[b]
    assert spool.layout.log(elsewhere).read_text() == f"{tmp_path}\n"  # a named cwd is used as it is
    assert stat.S_IMODE(os.stat(work).st_mode) == 0o700
    _wait_gone(work)  # deleted in the background, read-only parts too, the symlink not followed
    assert Path("/").exists() and os.listdir("/")


def test_an_empty_directory_is_handed_on_and_a_used_one_never(spool: Spool, start_runner, tmp_path: Path) -> None:
    """A job's empty directory (as made: ours, 0700) is renamed for the next job, saving a
    mkdir and an rmdir; one with files in it or another mode is never handed on: every
    job starts in an empty 0700 directory of its own name."""
    work = tmp_path / "work"
    probe = tmp_path / "probe"
    probe.mkdir()
    look = f'echo "$(pwd) $(stat -c %a .) [$(ls -A)]" > {probe}/$COREFLOW_JOB_ID'
    ids = submit(spool, [JobSpec(command=f"{look}; {then}", shell=True)
                         for then in ("true", "touch left", "chmod 755 .", "true", "true")])
    r = start_runner(spool, "--drain", "--slots", "1", "--work-root", str(work))
    assert r.wait() == 0, r.stderr
    for jid in ids:
        where, mode, listing = (probe / jid).read_text().split()
        assert where == f"{work}/{jid}.1" and mode == "700" and listing == "[]", (jid, where, mode, listing)
    _wait_gone(work)  # the spares too, at the runner's exit


def _wait_gone(work: Path) -> None:
    from tests.runner.conftest import wait_for

    wait_for("the jobs' directories to be removed", lambda: not os.listdir(work), timeout=10)


def test_keep_workdir_by_runner_flag_and_by_type_which_wins(spool: Spool, start_runner, tmp_path: Path) -> None:
    (spool.root / "types.toml").write_text("[scratch]\nkeep_workdir = false\n[debug]\nkeep_workdir = true\n")
    work = tmp_path / "work"
    plain, scratch = submit(spool, [JobSpec(command="touch made", shell=True),
                                    JobSpec(command="touch made", shell=True, type="scratch")])
    r = start_runner(spool, "--drain", "--work-root", str(work), "--keep-workdir")
    assert r.wait() == 0, r.stderr
    assert (work / f"{plain}.1" / "made").exists()
    assert "working directory kept" in spool.layout.log(plain).read_text()
    _wait_until_absent(work / f"{scratch}.1")
    (debug,) = submit(spool, [JobSpec(command="touch made", shell=True, type="debug")])
    assert start_runner(spool, "--drain", "--work-root", str(work)).wait() == 0
    assert (work / f"{debug}.1" / "made").exists()


def _wait_until_absent(path: Path) -> None:
    from tests.runner.conftest import wait_for

    wait_for(f"{path} to be removed", lambda: not path.exists(), timeout=10)


def test_a_work_root_that_cannot_be_used_fails_the_job_with_a_reason_never_the_runner(
        spool: Spool, start_runner, tmp_path: Path) -> None:
    as_file = tmp_path / "a-file"
    as_file.write_text("")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    (tmp_path / "target").mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for root, why in ((as_file, "not a directory"), (link, "a symlink"), (shared, "writable by others")):
        (jid,) = submit(spool, [JobSpec(command=["true"])])
        (ok,) = submit(spool, [JobSpec(command=["true"], cwd=str(tmp_path))])
        r = start_runner(spool, "--drain", "--work-root", str(root))
        assert r.wait() == 0, r.stderr
        res = job_of(spool, jid).result
        assert res.reason == "spawn-error" and why in res.message and str(root) in res.message, res.message
        assert state_of(spool, ok) == "succeeded"  # the runner went on
    assert not os.listdir(tmp_path / "target")


def test_a_full_disk_under_the_work_root_is_a_spawn_error(spool: Spool, start_runner, tmp_path: Path) -> None:
    from tests.store.storehelp import small_tmpfs

    with small_tmpfs(tmp_path, "size=64k,nr_inodes=8") as mnt:
        for n in range(20):  # take every inode
            try:
                (mnt / f"f{n}").mkdir()
            except OSError:
                break
        (jid,) = submit(spool, [JobSpec(command=["true"])])
        (ok,) = submit(spool, [JobSpec(command=["true"], cwd=str(tmp_path))])
        r = start_runner(spool, "--drain", "--work-root", str(mnt / "f0"))
        assert r.wait() == 0, r.stderr
        res = job_of(spool, jid).result
        assert res.reason == "spawn-error" and "No space left on device" in res.message, res.message
        assert state_of(spool, ok) == "succeeded"


def test_a_work_root_swapped_for_a_symlink_while_the_runner_runs_is_refused(spool: Spool, start_runner,
                                                                             tmp_path: Path) -> None:
    from tests.runner.conftest import wait_for

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (first,) = submit(spool, [JobSpec(command=["true"])])
    start_runner(spool, "--work-root", str(work))
    wait_for("the first job", lambda: state_of(spool, first) == "succeeded")
    work.rename(tmp_path / "old-work")
    work.symlink_to(elsewhere)
    (second,) = submit(spool, [JobSpec(command=["true"])])
    wait_for("the second job to end", lambda: state_of(spool, second) in ("succeeded", "failed"))
    res = job_of(spool, second).result
    assert res.reason == "spawn-error" and "a symlink" in res.message, res
    assert not os.listdir(elsewhere)


def test_a_work_root_inside_the_spool_is_refused_at_start(spool: Spool) -> None:
    from tests.conftest import run_cf

    out = run_cf(spool, "runner", "--drain", "--work-root", str(spool.root / "work"))
    assert out.returncode == 1 and "is inside the spool" in out.stderr and out.stderr.count("\n") == 1


def test_spawning_in_a_jobs_directory_leaves_the_runner_where_it_was(tmp_path: Path) -> None:
    """The loop steps into a job's directory to spawn it (posix_spawn has no chdir) and
    back; back means the runner's own directory, also at the very first spawn (found in
    review: it stayed in the first job's directory for good)."""
    from coreflow_tui.runner import process

    here = os.getcwd()
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        pid = process._spawn(["/bin/true"], {}, [], str(tmp_path / name))
        os.waitpid(pid, 0)
        assert os.getcwd() == here
