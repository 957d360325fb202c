"""Coalescing by key: a firing supersedes only the waiting job with its key, and carries
that job's inputs (commits, changed paths) into the new one."""

from __future__ import annotations

from pathlib import Path

import pytest

import store
from store import Spool
from store.errors import ConfigError
from store.triggers import read_state, save_trigger

from tests.conftest import run_cf

from .gitrepo import Repo, needs_git
from .helpers import FakeClock, daemon, trigger_jobs


def _git_trigger(spool: Spool, repo: Path, coalesce: str = '"{ref}"') -> None:
    save_trigger(spool, "build", f'kind = "git"\nrepo = "{repo}"\ncoalesce = {coalesce}\n[job]\n'
                                 'command = ["make", "RANGE={old}..{new}"]\n')


def _waiting(spool: Spool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in trigger_jobs(spool, "build", {"pending"}):
        out.setdefault(v.job.params["ref"], []).append(v.job.params["new"])
    return out


@needs_git
def test_a_push_supersedes_only_the_waiting_build_of_its_branch(spool: Spool, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "git")
    base = repo.commit("master")
    repo.push("master")
    _git_trigger(spool, repo.central)
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    x1 = repo.commit("feature-x")
    repo.push("feature-x")
    clock.advance(1)
    (first,) = d.tick()
    m1 = repo.commit("master")
    repo.push("master")
    clock.advance(3)
    d.tick()  # another key: the waiting feature-x build stays
    assert _waiting(spool) == {"refs/heads/feature-x": [x1], "refs/heads/master": [m1]}
    x2 = repo.commit("feature-x")
    repo.push("feature-x")
    clock.advance(1)
    (second,) = d.tick()
    assert second.replaced == first.job_id
    assert _waiting(spool) == {"refs/heads/feature-x": [x2], "refs/heads/master": [m1]}
    new = spool.show(second.job_id).job
    assert new.coalesce == "refs/heads/feature-x"
    # The superseded build's commits are the new one's too: its range starts where the old one did.
    assert new.params["old"] == "0" * 40 and new.command == ["make", f"RANGE={'0' * 40}..{x2}"]
    old = spool.show(first.job_id)
    assert old.state == "cancelled" and old.job.superseded_by == second.job_id
    why = f"superseded by {second.job_id} (a newer firing of trigger build for refs/heads/feature-x)"
    assert old.job.result.message == why
    shown = run_cf(spool, "show", first.job_id, check=True).stdout
    assert why in shown and "superseded by a newer firing" in shown
    master = [v.job.id for v in trigger_jobs(spool, "build", {"pending"}) if v.job.params["new"] == m1]
    assert read_state(spool, "build").waiting["refs/heads/master"] == master and base != m1


@needs_git
def test_a_build_that_started_is_not_superseded(spool: Spool, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "git")
    repo.commit("master")
    repo.push("master")
    _git_trigger(spool, repo.central)
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    repo.commit("master")
    repo.push("master")
    clock.advance(1)
    (first,) = d.tick()
    store.cancel(spool, first.job_id)  # no longer waiting (as good as started, for coalescing)
    new = repo.commit("master")
    repo.push("master")
    clock.advance(1)
    (second,) = d.tick()
    assert second.replaced is None
    assert spool.show(second.job_id).job.params["new"] == new


def test_watch_coalescing_carries_the_changed_paths(spool: Spool) -> None:
    src = spool.root / "src"
    src.mkdir()
    (src / "old.c").write_text("1")
    save_trigger(spool, "build", 'kind = "watch"\npath = "src"\npatterns = ["*.c"]\ncoalesce = true\n'
                                 '[job]\ncommand = ["make", "{changed}"]\n')
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    (src / "a.c").write_text("1")
    d.watch_event("build", ["a.c"])
    clock.advance(2)
    (first,) = d.tick()
    (src / "old.c").unlink()
    (src / "a.c").write_text("22")
    d.watch_event("build", ["old.c", "a.c"])
    clock.advance(2)
    (second,) = d.tick()
    assert second.replaced == first.job_id
    (job,) = trigger_jobs(spool, "build", {"pending"})
    assert job.job.command == ["make", "a.c", "old.c"]
    assert job.job.params["changes"] == "A a.c\nD old.c"  # added, then modified: still added


def test_a_coalescing_key_is_checked_at_load(spool: Spool) -> None:
    with pytest.raises(ConfigError, match=r"coalesce: unknown placeholder \{branch\}"):
        save_trigger(spool, "t", 'kind = "manual"\ncoalesce = "{branch}"\n[job]\ncommand = ["make"]\n')
    save_trigger(spool, "t", 'kind = "manual"\ncoalesce = "{target}"\n[params]\ntarget = "all"\n'
                             '[job]\ncommand = ["make", "{target}"]\n')


def test_the_oldest_keys_are_forgotten(spool: Spool, monkeypatch) -> None:
    import store.triggers.firing as firing
    from store.triggers import fire_by_hand, load_trigger

    monkeypatch.setattr(firing, "MAX_KEYS", 2)
    save_trigger(spool, "t", 'kind = "manual"\ncoalesce = "{target}"\n[params]\ntarget = "all"\n'
                             '[job]\ncommand = ["make", "{target}"]\n')
    d = load_trigger(spool, "t")
    for target in ("a", "b", "a", "c"):
        fire_by_hand(spool, d, [f"target={target}"])
    assert list(read_state(spool, "t").waiting) == ["a", "c"]  # a state file that stays small
