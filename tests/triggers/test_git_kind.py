"""The git trigger kind, on real repositories: one job per ref update, with the commit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import store
from store import Spool
from store.errors import ConfigError
from store.triggers import fire_by_hand, load_trigger, read_state, save_trigger
from store.triggers.gitrefs import ZERO, read_refs

from .gitrepo import Repo, git, needs_git
from .helpers import FakeClock, daemon, trigger_jobs
from .procs import wait_for

pytestmark = needs_git


def _git_trigger(spool: Spool, repo: Path, extra: str = "", name: str = "build") -> None:
    save_trigger(spool, name, f'kind = "git"\nrepo = "{repo}"\n{extra}\n[job]\nname = "build {{ref}} at {{new}}"\n'
                              'command = ["make", "COMMIT={new}", "OLD={old}", "GONE={deleted}"]\n')


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "git")
    r.commit("master")
    r.push("master")
    return r


def _params(spool: Spool, name: str = "build") -> list[dict[str, str]]:
    return [v.job.params for v in sorted(trigger_jobs(spool, name), key=lambda v: v.job.id)]


def test_reads_loose_and_packed_refs_as_git_does(repo: Repo) -> None:
    repo.commit("feature/x")
    git(repo.work, "tag", "v1")
    repo.push("feature/x", "v1")
    expected = dict(line.split(" ", 1) for line in
                    git(repo.central, "for-each-ref", "--format=%(refname) %(objectname)").splitlines())
    assert read_refs(repo.central) == expected
    git(repo.central, "pack-refs", "--all")
    assert not (repo.central / "refs" / "heads" / "master").exists()
    assert read_refs(repo.central) == expected
    new = repo.commit("master")
    repo.push("master")  # a loose ref again, newer than its packed line: the loose one wins
    assert read_refs(repo.central)["refs/heads/master"] == new


def test_one_job_per_ref_update_with_the_commit(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central, 'branches = ["master", "release/*"]')
    clock = FakeClock()
    d = daemon(spool, clock)
    assert d.tick() == []  # the first look takes the mark: what was there before fires nothing
    old = repo.tip("master")
    new = repo.commit("master")
    repo.commit("feature")  # not selected
    rel = repo.commit("release/1.0")
    repo.push("master", "feature", "release/1.0")
    clock.advance(1)
    fired = d.tick()
    assert len(fired) == 2
    assert _params(spool) == [
        {"trigger": "build", "fired_at": "2023-11-14T22:00:01Z", "ref": "refs/heads/master", "old": old,
         "new": new, "deleted": "false"},
        {"trigger": "build", "fired_at": "2023-11-14T22:00:01Z", "ref": "refs/heads/release/1.0", "old": ZERO,
         "new": rel, "deleted": "false"}]
    first = sorted(trigger_jobs(spool, "build"), key=lambda v: v.job.id)[0].job
    assert first.command == ["make", f"COMMIT={new}", f"OLD={old}", "GONE=false"]
    assert first.name == f"build refs/heads/master at {new}"
    assert first.trigger.kind == "git" and first.trigger.detail == f"refs/heads/master {old[:12]}..{new[:12]}"
    clock.advance(1)
    assert d.tick() == []  # fired once


def test_a_burst_of_pushes_is_one_job_per_branch(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central)
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    tips = {}
    for i in range(6):
        tips[f"refs/heads/b{i}"] = repo.commit(f"b{i}")
        repo.push(f"b{i}")
    tips["refs/heads/b0"] = repo.commit("b0")  # pushed twice before the daemon looks: one job, the tip
    repo.push("b0")
    clock.advance(1)
    assert len(d.tick()) == 6
    assert {p["ref"]: p["new"] for p in _params(spool)} == tips
    assert all(p["old"] == ZERO for p in _params(spool))


def test_a_superseding_build_covers_and_says_the_whole_range(spool: Spool, repo: Repo) -> None:
    """Two pushes to master while its build waits: the newer build takes the older one's
    {old}, and its trigger line says the range it covers, as its inputs do."""
    _git_trigger(spool, repo.central, 'coalesce = "{ref}"')
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    base = repo.tip("master")
    for _ in range(2):
        tip = repo.commit("master")
        repo.push("master")
        clock.advance(1)
        assert len(d.tick()) == 1
    newest = sorted(trigger_jobs(spool, "build"), key=lambda v: v.job.id)[-1].job
    assert (newest.params["old"], newest.params["new"]) == (base, tip)
    assert newest.trigger.detail == f"refs/heads/master {base[:12]}..{tip[:12]}"
    # Fired by hand: its trigger line still says who fired it.
    for _ in range(2):
        fire_by_hand(spool, load_trigger(spool, "build"), ["ref=refs/heads/master", f"new={tip}"], who="bob")
    by_hand = sorted(trigger_jobs(spool, "build"), key=lambda v: v.job.id)[-1].job
    assert by_hand.trigger.kind == "manual" and by_hand.trigger.detail.startswith("by bob")


def test_gc_moving_refs_into_packed_refs_is_not_an_update(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central)
    repo.commit("feature")
    repo.push("feature")
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    git(repo.central, "gc", "-q")
    assert (repo.central / "packed-refs").exists() and not (repo.central / "refs/heads/feature").exists()
    clock.advance(1)
    assert d.tick() == []
    clock.advance(30)
    assert d.tick() == []
    assert trigger_jobs(spool, "build") == []


def test_a_deleted_branch_fires_only_when_asked(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central, name="quiet")
    _git_trigger(spool, repo.central, "on_delete = true", name="loud")
    tip = repo.commit("feature")
    repo.push("feature")
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    git(repo.central, "pack-refs", "--all")  # deleted from packed-refs, not a loose file
    repo.delete("feature")
    clock.advance(1)
    fired = d.tick()
    assert [f.trigger for f in fired] == ["loud"]
    assert trigger_jobs(spool, "quiet") == []
    assert _params(spool, "loud")[0] | {"fired_at": "-"} == {
        "trigger": "loud", "fired_at": "-", "ref": "refs/heads/feature", "old": tip, "new": ZERO, "deleted": "true"}
    assert "refs/heads/feature" not in (read_state(spool, "quiet").refs or {})


def test_a_push_while_no_daemon_ran_fires_once_when_one_starts(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central)
    clock = FakeClock()
    daemon(spool, clock).tick()  # armed, then stopped
    new = repo.commit("master")
    repo.push("master")
    later = daemon(spool, clock)
    (fired,) = later.tick()
    assert _params(spool)[0]["new"] == new
    clock.advance(1)
    assert later.tick() == [] and daemon(spool, clock).tick() == []


def test_two_daemons_fire_an_update_once(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central)
    clock = FakeClock()
    a, b = daemon(spool, clock), daemon(spool, clock)
    a.tick(), b.tick()
    repo.commit("master")
    repo.push("master")
    clock.advance(1)
    assert len(a.tick()) + len(b.tick()) == 1


def test_a_working_clone_and_its_local_commits(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.work, 'branches = ["master"]')
    assert load_trigger(spool, "build").git_dir == repo.work / ".git"
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    new = repo.commit("master")
    clock.advance(1)
    d.tick()
    assert _params(spool)[0]["new"] == new


def test_a_retried_build_builds_the_same_commit(spool: Spool, repo: Repo) -> None:
    _git_trigger(spool, repo.central)
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    x = repo.commit("master")
    repo.push("master")
    clock.advance(1)
    (fired,) = d.tick()
    store.cancel(spool, fired.job_id)
    repo.commit("master")  # the tip moves on; the retry must not follow it
    repo.push("master")
    store.retry(spool, fired.job_id)
    job = spool.show(fired.job_id).job
    assert job.attempt == 2 and job.params["new"] == x
    assert f"COMMIT={x}" in job.command


def test_bad_repositories_are_refused_at_load(spool: Spool, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ConfigError, match=r"build.toml:2: repo: .*plain is not a git repository"):
        _git_trigger(spool, plain)
    with pytest.raises(ConfigError, match=r"only a git trigger fills \{ref\}"):
        save_trigger(spool, "w", 'kind = "manual"\n[job]\ncommand = ["make", "{ref}"]\n')
    with pytest.raises(ConfigError, match=r"applies to kind = \"git\" only"):
        save_trigger(spool, "w", 'kind = "manual"\nbranches = ["x"]\n[job]\ncommand = ["make"]\n')


def test_fire_by_hand_may_set_the_commit(spool: Spool, repo: Repo) -> None:
    from store.triggers import fire_by_hand

    _git_trigger(spool, repo.central)
    fired = fire_by_hand(spool, load_trigger(spool, "build"), ["ref=refs/heads/master", "new=abc"])
    job = spool.show(fired.job_id).job
    assert job.params["new"] == "abc" and "COMMIT=abc" in job.command


def test_a_real_daemon_builds_every_push_across_a_kill(spool: Spool, repo: Repo) -> None:
    """`coreflow triggers run` as a process: a push while it is down (SIGKILLed) is built
    when it is back, once, with its commit."""
    _git_trigger(spool, repo.central, 'coalesce = "{ref}"')

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "triggers", "run"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def built() -> list[tuple[str, str]]:
        return sorted((p["ref"], p["new"]) for p in _params(spool))

    proc = start()
    try:
        assert wait_for(lambda: read_state(spool, "build").refs is not None)
        m1 = repo.commit("master")
        repo.push("master")
        assert wait_for(lambda: built() == [("refs/heads/master", m1)])
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        f1 = repo.commit("feature")
        m2 = repo.commit("master")
        repo.push("feature", "master")
        proc = start()
        want = sorted([("refs/heads/master", m1), ("refs/heads/feature", f1), ("refs/heads/master", m2)])
        assert wait_for(lambda: built() == want), built()
    finally:
        proc.terminate()
        proc.wait(10)
    # The first master build still waited (no runner): the second superseded it, carrying its range.
    assert spool.show(sorted(trigger_jobs(spool, "build"), key=lambda v: v.job.id)[0].job.id).state == "cancelled"


def test_other_branch_patterns_do_not_build_every_branch(spool: Spool, repo: Repo) -> None:
    repo.commit("old-feature")
    repo.push("old-feature")
    _git_trigger(spool, repo.central, 'branches = ["master"]')
    clock = FakeClock()
    daemon(spool, clock).tick()
    new = repo.commit("master")
    repo.push("master")  # while the trigger's file is edited, and no daemon runs
    _git_trigger(spool, repo.central, 'branches = ["*"]')
    d = daemon(spool, clock)
    d.tick()
    assert [(p["ref"], p["new"]) for p in _params(spool)] == [("refs/heads/master", new)]
    feature = repo.commit("old-feature")
    repo.push("old-feature")
    clock.advance(1)
    d.tick()
    assert _params(spool)[-1]["new"] == feature


def test_a_repository_on_the_shared_filesystem_seen_from_another_host(spool: Spool, two_hosts) -> None:
    """Pushed on host A, watched through host B's view (FUSE: no inotify across hosts)."""
    host_a, host_b = two_hosts
    repo = Repo(host_a / "git")
    repo.commit("master")
    repo.push("master")
    _git_trigger(spool, host_b / "git" / "central.git", 'branches = ["master", "release/*"]')
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    new = repo.commit("master")
    rel = repo.commit("release/2")
    repo.push("master", "release/2")
    git(repo.central, "pack-refs", "--all")
    got: list[tuple[str, str]] = []
    for _ in range(50):  # the other host's view may lag a moment (attribute caching)
        clock.advance(1)
        d.tick()
        got = sorted((p["ref"], p["new"]) for p in _params(spool))
        if len(got) == 2:
            break
        time.sleep(0.1)
    assert got == [("refs/heads/master", new), ("refs/heads/release/2", rel)]
