"""Security promises: nothing the store makes is world-writable, names cannot escape
the spool, and commands are never given to a shell unless the job asked for one."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from store import InvalidName, Spool, Where, hold, move, submit
from store.jobs.submit import JobSpec
from tests.conftest import run_cf


def test_files_are_not_world_writable_even_with_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        spool = Spool.init(tmp_path / "spool")
        spool.add_queue("build")
        ids = submit(spool, [JobSpec(command=["true"]) for _ in range(3)])
        hold(spool, ids[0])
        move(spool, ids[1], Where("queue", other="build"))
        spool.update_queue("build", "pause", paused=True)
    finally:
        os.umask(old)
    loose = [str(p) for p in spool.root.rglob("*")
             if not p.is_symlink() and p.stat().st_mode & stat.S_IWOTH]
    assert loose == []


@pytest.mark.parametrize("name", ["../x", "..", "a/b", "/etc", "x y", "A", "-x", ".hidden", "a" * 65, "é", ""])
def test_names_cannot_escape(spool: Spool, tmp_path: Path, name: str) -> None:
    before = set(tmp_path.rglob("*"))
    with pytest.raises(InvalidName):
        spool.add_queue(name)
    with pytest.raises(InvalidName):
        submit(spool, [JobSpec(command=["true"], type=name)])
    out = run_cf(spool, "queue", "add", name)
    assert out.returncode == 2  # a bad name is a usage error (argparse takes "-x" for an option)
    if not name.startswith("-"):
        assert "invalid queue name" in out.stderr
    assert set(tmp_path.rglob("*")) == before


def test_command_is_stored_as_argv_not_shell(spool: Spool) -> None:
    """What looks like shell stays one argument unless --shell is given."""
    out = run_cf(spool, "submit", "--json", "--", "echo", "$HOME; rm -rf /", "`id`")
    job = json.loads(out.stdout)
    assert job["command"] == ["echo", "$HOME; rm -rf /", "`id`"] and job["shell"] is False
    out = run_cf(spool, "submit", "--json", "--shell", "--", "echo $HOME")
    job = json.loads(out.stdout)
    assert job["command"] == ["echo $HOME"] and job["shell"] is True


def test_a_string_command_needs_a_shell_request(spool: Spool) -> None:
    from store import SpoolError

    with pytest.raises(SpoolError, match="ask for a shell"):
        submit(spool, [JobSpec(command="echo hi")])


def test_anyone_who_can_add_a_trigger_or_a_job_makes_the_spool_unsafe(spool: Spool) -> None:
    """A sticky directory lets others add files but not replace ours: fine for the
    spool's top directory and corrupt/ only. Not for triggers/ (a new trigger file is a
    new command), nor runners/, logs/, audit/ or tmp/ (a FIFO or a forged line there
    hangs or blinds the runner). The trigger daemon and the runner refuse such a spool,
    and doctor says why and how to fix it."""
    assert spool.world_writable() == []
    os.chmod(spool.layout.root, 0o1777)
    os.chmod(spool.layout.corrupt, 0o1777)
    assert spool.world_writable() == []
    for d in (spool.layout.runners, spool.layout.logs, spool.layout.audit, spool.layout.tmp):
        os.chmod(d, 0o1777)
        assert spool.world_writable() == [str(d)]
        os.chmod(d, 0o755)
    os.chmod(spool.layout.triggers, 0o1777)
    assert spool.world_writable() == [str(spool.layout.triggers)]
    out = run_cf(spool, "triggers", "run")
    assert out.returncode != 0 and "refusing to fire triggers" in out.stderr and "chmod -R o-w" in out.stderr
    out = run_cf(spool, "runner", "--drain")
    assert out.returncode != 0 and "world-writable" in out.stderr
    doctor = run_cf(spool, "doctor")
    assert "world-writable" in doctor.stdout + doctor.stderr and str(spool.layout.triggers) in doctor.stdout
    os.chmod(spool.layout.triggers, 0o755)
    os.chmod(spool.layout.pending("default"), 0o1777)  # sticky or not: a new pending file runs
    assert spool.world_writable(["default"]) == [str(spool.layout.pending("default"))]
