"""Trigger pipelines: [[jobs]] with `step` and `after`, fired as one all-or-nothing batch;
coalescing replaces a previous pipeline of its key only while none of its jobs started."""

from __future__ import annotations

import os

import pytest

from store import Spool, hold
from store.errors import ConfigError, SpoolError
from store.jobs.claims import Claimant, Claims
from store.triggers import fire_by_hand, load_trigger, read_state, recover, save_trigger
from store.states import State

from .gitrepo import Repo, needs_git
from .helpers import FakeClock, daemon, trigger_jobs

PIPELINE = '''kind = "manual"
coalesce = "{target}"
[params]
target = "all"
[[jobs]]
step = "build"
name = "build {target}"
command = ["make", "{target}"]
[[jobs]]
step = "test"
queue = "test"
after = ["build"]
command = ["make", "check"]
[[jobs]]
step = "deploy"
after = ["test"]
command = ["make", "deploy"]
'''


@pytest.fixture
def pipeline(spool: Spool) -> Spool:
    spool.add_queue("test")
    save_trigger(spool, "ci", PIPELINE)
    return spool


def _jobs(spool: Spool, states: set[str] | None = None) -> dict[str, list]:
    out: dict[str, list] = {}
    for v in sorted(trigger_jobs(spool, "ci", states), key=lambda v: v.job.id):
        out.setdefault(v.job.step, []).append(v)
    return out


def test_a_firing_places_the_whole_pipeline_with_its_links(pipeline: Spool) -> None:
    fired = fire_by_hand(pipeline, load_trigger(pipeline, "ci"), ["target=app"])
    jobs = {s: v[0].job for s, v in _jobs(pipeline).items()}
    assert sorted(jobs) == ["build", "deploy", "test"]
    assert fired.job_ids == (jobs["build"].id, jobs["test"].id, jobs["deploy"].id)
    assert jobs["test"].after == [jobs["build"].id] and jobs["test"].queue == "test"
    assert jobs["deploy"].after == [jobs["test"].id]
    assert all(j.params["target"] == "app" and j.coalesce == "app" for j in jobs.values())
    assert pipeline.find(jobs["test"].id).pending.kind == "wait"  # blocked until build succeeds


def test_a_pipeline_is_all_or_nothing(pipeline: Spool) -> None:
    d = load_trigger(pipeline, "ci")
    pipeline.remove_queue("test")  # the second job can no longer be queued
    with pytest.raises(SpoolError, match="queue"):
        fire_by_hand(pipeline, d)
    assert trigger_jobs(pipeline, "ci") == []


def test_a_new_pipeline_supersedes_the_waiting_one_of_its_key(pipeline: Spool) -> None:
    d = load_trigger(pipeline, "ci")
    first = fire_by_hand(pipeline, d, ["target=app"])
    other = fire_by_hand(pipeline, d, ["target=docs"])
    second = fire_by_hand(pipeline, d, ["target=app"])
    assert second.replaced == first.job_id and other.replaced is None
    for old, new in zip(first.job_ids, second.job_ids):
        view = pipeline.show(old)
        assert view.state == State.CANCELLED and view.job.superseded_by == new
        assert view.job.result.reason == "superseded"
    waiting = _jobs(pipeline, {"pending"})
    assert sorted(v.job.params["target"] for v in waiting["build"]) == ["app", "docs"]
    # Each new job took its old one's place: app (fired first) still runs before docs.
    for queue, app, docs in (("default", second.job_ids[0], other.job_ids[0]),
                             ("test", second.job_ids[1], other.job_ids[1]),
                             ("default", second.job_ids[2], other.job_ids[2])):
        order = [p.id for p in pipeline.pending(queue)]
        assert order.index(app) < order.index(docs), queue
    assert pipeline.find(second.job_ids[1]).pending.kind == "wait"  # still blocked on its build


def test_a_new_pipeline_keeps_the_hold_a_person_put_on_the_old_one(pipeline: Spool, monkeypatch) -> None:
    """Placed held, at the old build's place, under the lock that retires the old one:
    no runner can take the new build before the hold applies to it."""
    d = load_trigger(pipeline, "ci")
    first = fire_by_hand(pipeline, d)
    hold(pipeline, first.job_id)
    rank = pipeline.find(first.job_id).pending.rank
    runner = Claims(pipeline, Claimant("r1", "h", os.getpid(), frozenset()))
    claimed = []
    real_show = Spool.show

    def show_while_a_runner_claims(self: Spool, ref: str):  # type: ignore[no-untyped-def]
        claimed.append(runner.claim_next("default").job)  # an idle runner, woken by any change
        return real_show(self, ref)

    monkeypatch.setattr(Spool, "show", show_while_a_runner_claims)
    second = fire_by_hand(pipeline, d)
    monkeypatch.undo()
    assert second.replaced == first.job_id and claimed and not any(claimed)
    build = pipeline.find(second.job_id)
    assert build.state == State.HELD and build.pending.rank == rank
    assert runner.claim_next("default").job is None


def test_a_pipeline_that_started_is_not_superseded(pipeline: Spool) -> None:
    d = load_trigger(pipeline, "ci")
    first = fire_by_hand(pipeline, d)
    got = Claims(pipeline, Claimant("r1", "h", os.getpid(), frozenset())).claim_next("default")
    assert got.job is not None and got.job.id == first.job_id  # its build started
    second = fire_by_hand(pipeline, d)
    assert second.replaced is None
    assert all(pipeline.show(i).state != State.CANCELLED for i in first.job_ids)
    assert len(_jobs(pipeline)["build"]) == 2


@pytest.mark.parametrize(("jobs", "expected"), [
    ('[[jobs]]\ncommand = ["make"]\n', "jobs.step: each [[jobs]] of a pipeline needs `step"),
    ('[[jobs]]\nstep = "test"\nafter = ["build"]\ncommand = ["make"]\n[[jobs]]\nstep = "build"\ncommand = ["x"]\n',
     "step 'test' waits for 'build', which is not an earlier step"),
    ('[job]\ncommand = ["x"]\n[[jobs]]\nstep = "a"\ncommand = ["make"]\n', "not both"),
])
def test_bad_pipelines_are_refused_at_load(spool: Spool, jobs: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        save_trigger(spool, "bad", 'kind = "manual"\n' + jobs)


def test_a_pipeline_a_crash_interrupted_is_placed_whole_after(pipeline: Spool, monkeypatch) -> None:
    import store.triggers.firing as firing

    def crash(*_a: object) -> None:
        raise KeyboardInterrupt("killed between noting the pipeline and placing it")

    monkeypatch.setattr(firing, "place", crash)
    with pytest.raises(KeyboardInterrupt):
        fire_by_hand(pipeline, load_trigger(pipeline, "ci"))
    monkeypatch.undo()
    noted = read_state(pipeline, "ci").placing
    assert isinstance(noted, list) and len(noted) == 3 and trigger_jobs(pipeline, "ci") == []
    assert recover(pipeline, "ci") is True
    assert sorted(_jobs(pipeline)) == ["build", "deploy", "test"]
    assert recover(pipeline, "ci") is False and len(trigger_jobs(pipeline, "ci")) == 3


@needs_git
def test_every_push_fires_a_pipeline_of_its_commit(spool: Spool, tmp_path) -> None:
    repo = Repo(tmp_path / "git")
    repo.commit("master")
    repo.push("master")
    save_trigger(spool, "ci", f'kind = "git"\nrepo = "{repo.central}"\ncoalesce = "{{ref}}"\n'
                              '[[jobs]]\nstep = "build"\ncommand = ["make", "COMMIT={new}"]\n'
                              '[[jobs]]\nstep = "test"\nafter = ["build"]\ncommand = ["make", "check"]\n')
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    repo.commit("master")
    repo.push("master")
    clock.advance(1)
    (first,) = d.tick()
    tip = repo.commit("master")
    repo.push("master")
    clock.advance(1)
    (second,) = d.tick()
    assert second.replaced == first.job_id  # the whole waiting pipeline of master
    waiting = _jobs(spool, {"pending"})
    assert [v.job.params["new"] for v in waiting["build"] + waiting["test"]] == [tip, tip]
    assert waiting["build"][0].job.command == ["make", f"COMMIT={tip}"]
