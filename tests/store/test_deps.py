"""Dependencies and delayed start (issue 11 items 1, 2, 5): the store side.

A blocked job waits as pending/X.wait (JSON state "pending"), is never claimed, and is
released or cancelled by whoever ends its dependencies (store/deps.py)."""

from __future__ import annotations

import os
import time

import pytest

from store import Spool, deps
from store.chain import Waiters
from store.errors import JobNotFound, JobStateError, SpoolError
from store.jobs import hold as holding
from store.jobs.cancel import cancel
from store.jobs.claims import Claimant, Claims
from store.jobs.move import Where, move
from store.jobs.retry import retry
from store.jobs.submit import JobSpec, build_job, place, submit
from store.model import Result
from store.states import State


def claims(spool: Spool, runner: str = "r1") -> Claims:
    return Claims(spool, Claimant(runner, "h", os.getpid(), frozenset()))


def kind(spool: Spool, job_id: str) -> str:
    r = spool.find(job_id)
    return r.pending.kind if r.pending else r.state


def run(spool: Spool, c: Claims, state: str = State.SUCCEEDED, queue: str = "default") -> str:
    """Claim the first eligible job and finish it with `state`; returns its id."""
    got = c.claim_next(queue)
    assert got.job is not None, got.status
    c.finish(got.job, Result(state=state, reason="exit", exit_code=0 if state == State.SUCCEEDED else 1,
                             finished_at=time.time()))
    return got.job.id


def test_a_blocked_job_waits_unclaimed_and_is_released_when_its_dependency_succeeds(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    (c,) = submit(spool, [JobSpec(command=["true"])])
    assert kind(spool, b) == "wait"
    assert spool.show(b).state == State.PENDING and spool.show(b).job.after == [a]
    cl = claims(spool)
    assert run(spool, cl) == a
    assert kind(spool, b) == "job"  # released by a's finish
    assert run(spool, cl) == b  # at its place: before c, which came later
    assert run(spool, cl) == c
    assert not spool.layout.deps(a).exists()


def test_claims_pass_a_blocked_job_without_reading_it(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    cl = claims(spool)
    first = cl.claim_next("default").job
    assert first is not None and first.id == a
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    (c,) = submit(spool, [JobSpec(command=["true"])])
    os.chmod(spool.find(b).file, 0)  # unreadable: a claim that read it would skip it as corrupt
    got = cl.claim_next("default")
    assert got.job is not None and got.job.id == c
    assert cl.claim_next("default").status == "ineligible"
    os.chmod(spool.find(b).file, 0o644)


def test_after_finished_waits_for_any_outcome(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after_finished=[a])])
    run(spool, claims(spool), State.FAILED)
    assert kind(spool, b) == "job"


def test_a_failed_dependency_cancels_its_dependents_transitively(spool: Spool) -> None:
    spool.add_queue("deploy")
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    (c,) = submit(spool, [JobSpec(command=["true"], after=[b], queue="deploy")])
    (d,) = submit(spool, [JobSpec(command=["true"], after_finished=[b], queue="deploy")])
    run(spool, claims(spool), State.FAILED)
    vb, vc = spool.show(b), spool.show(c)
    assert vb.state == vc.state == State.CANCELLED
    assert vb.job.result.reason == "dependency" and vb.job.result.message == f"dependency {a} failed"
    assert vc.job.result.message == f"dependency {b} was cancelled"
    assert any(e.action == "cancel" and a in e.detail for e in spool.audit(b))
    assert kind(spool, d) == "job"  # after_finished: b ended (cancelled), so d may run


def test_cancelling_a_waiting_dependency_cancels_its_dependents(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    cancel(spool, a)
    assert spool.show(b).state == State.CANCELLED


def test_submit_refuses_unknown_and_failed_dependencies_and_takes_succeeded_ones(spool: Spool) -> None:
    with pytest.raises(JobNotFound, match="after 0123456789abcdefghjkmnpqrs: no such job"):
        submit(spool, [JobSpec(command=["true"], after=["0123456789abcdefghjkmnpqrs"])])
    (a,) = submit(spool, [JobSpec(command=["true"])])
    cancel(spool, a)
    with pytest.raises(JobStateError, match=f"cannot wait for job {a} to succeed: it already cancelled"):
        submit(spool, [JobSpec(command=["true"], after=[a])])
    (b,) = submit(spool, [JobSpec(command=["true"], after_finished=[a[-6:]])])  # a part of the id will do
    assert kind(spool, b) == "job" and spool.show(b).job.after_finished == [a]
    (c,) = submit(spool, [JobSpec(command=["true"])])
    cl = claims(spool)
    assert [run(spool, cl), run(spool, cl)] == [b, c]
    (d,) = submit(spool, [JobSpec(command=["true"], after=[c])])
    assert kind(spool, d) == "job"  # c already succeeded


def test_steps_of_a_batch_refer_to_earlier_lines_all_or_nothing(spool: Spool) -> None:
    ids = submit(spool, [JobSpec(command=["make"], step="build"),
                         JobSpec(command=["make", "test"], step="test", after=["@build"]),
                         JobSpec(command=["deploy"], after=["@test", "@build"])])
    assert [kind(spool, i) for i in ids] == ["job", "wait", "wait"]
    assert spool.show(ids[2]).job.after == [ids[1], ids[0]]
    before = len(spool.pending("default"))
    with pytest.raises(SpoolError, match="no earlier job of this batch has step 'later'"):
        submit(spool, [JobSpec(command=["a"], after=["@later"]), JobSpec(command=["b"], step="later")])
    with pytest.raises(SpoolError, match="named twice"):
        submit(spool, [JobSpec(command=["a"], step="x"), JobSpec(command=["b"], step="x")])
    assert len(spool.pending("default")) == before
    cl = claims(spool)
    assert [run(spool, cl) for _ in range(3)] == ids


def test_a_dependency_that_ends_during_the_submit_is_seen(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides check after their own commit: a dependency that ends after the submit
    looked at it (so its on_final found no dependent yet) is seen by the submit's re-check."""
    (a,) = submit(spool, [JobSpec(command=["true"])])
    cl = claims(spool)
    got = cl.claim_next("default").job
    job = build_job(spool, JobSpec(command=["true"], after=[a]))
    assert deps.prepare(spool, [job]) == {job.id}  # a is running: job must wait
    cl.finish(got, Result(state=State.FAILED, reason="exit", exit_code=1))  # finds job nowhere yet
    monkeypatch.setattr(deps, "prepare", lambda s, j: {job.id})  # the look before a ended, as above
    place(spool, [job])
    assert spool.show(job.id).state == State.CANCELLED
    assert spool.show(job.id).job.result.message == f"dependency {a} failed"


def test_a_running_job_whose_file_was_moved_to_corrupt_still_counts_for_its_dependents(spool: Spool) -> None:
    """Its runner runs it on from its own copy and records it in done/: the sweep (which
    corrupt/'s change sets off) must not take it for gone (found in review)."""
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    cl = claims(spool)
    got = cl.claim_next("default").job
    next(spool.layout.running("default").iterdir()).write_bytes(b'{"id": "trunc')
    cl.record_claim(got)  # the runner finds its running file corrupt: moved aside, its copy stands in
    assert list(spool.layout.corrupt.iterdir())
    deps.sweep(spool)
    assert kind(spool, b) == "wait"
    cl.finish(got, Result(state=State.SUCCEEDED, reason="exit", exit_code=0, finished_at=time.time()))
    assert spool.find(a).state == State.SUCCEEDED and kind(spool, b) == "job"


def test_a_submit_that_dies_before_its_recheck_leaves_the_sweep_something_to_find(
        spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dependency ends after the submit indexed its job and before it placed it (its
    on_final finds the job nowhere), and the submit dies before its own re-check. Before,
    on_final dropped the index entry and the job waited for ever; now a young entry stays
    for the sweep."""
    (a,) = submit(spool, [JobSpec(command=["true"])])
    cl = claims(spool)
    got = cl.claim_next("default").job
    job = build_job(spool, JobSpec(command=["true"], after=[a]))
    assert deps.prepare(spool, [job]) == {job.id}
    cl.finish(got, Result(state=State.SUCCEEDED, reason="exit", exit_code=0))  # finds job nowhere yet
    monkeypatch.setattr(deps, "prepare", lambda s, j: {job.id})
    monkeypatch.setattr(deps, "recheck", lambda s, j: None)  # the submit died before it
    place(spool, [job])
    assert kind(spool, job.id) == "wait"
    monkeypatch.undo()
    deps.sweep(spool)
    assert kind(spool, job.id) == "job"
    assert not spool.layout.deps(a).exists()


def test_delayed_start_waits_at_its_place_and_later_jobs_pass(spool: Spool) -> None:
    now = time.time()
    (a,) = submit(spool, [JobSpec(command=["true"], not_before=now + 3600)])
    (b,) = submit(spool, [JobSpec(command=["true"])])
    assert kind(spool, a) == "wait"
    cl = claims(spool)
    assert run(spool, cl) == b
    assert cl.next_due() == pytest.approx(now + 3600, abs=0.01)
    assert deps.release_due(spool, "default", now + 3601) is None
    assert kind(spool, a) == "job"
    assert run(spool, cl) == a


def test_hold_and_release_of_a_blocked_job(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    assert holding.hold(spool, b)
    assert kind(spool, b) == "held"
    assert holding.release(spool, b)
    assert kind(spool, b) == "wait"
    holding.hold(spool, b)
    run(spool, claims(spool))
    assert kind(spool, b) == "held"  # a succeeded: b stays held, as asked
    holding.release(spool, b)
    assert kind(spool, b) == "job"


def test_move_keeps_a_blocked_job_blocked_even_to_another_queue(spool: Spool) -> None:
    spool.add_queue("other")
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    submit(spool, [JobSpec(command=["true"])])
    move(spool, b, Where("top"))
    assert kind(spool, b) == "wait"
    move(spool, b, Where("queue", other="other"))
    assert kind(spool, b) == "wait"
    assert [r.id for r in Waiters(spool).of(a)] == [b]
    run(spool, claims(spool))
    assert kind(spool, b) == "job" and spool.find(b).queue == "other"


def test_retry_with_dependents_puts_them_back_at_their_places(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    (x,) = submit(spool, [JobSpec(command=["true"])])
    (c,) = submit(spool, [JobSpec(command=["true"], after=[b])])
    place_b = spool.find(b).pending.rank
    cl = claims(spool)
    run(spool, cl, State.FAILED)
    assert spool.show(c).state == State.CANCELLED
    retry(spool, a, with_dependents=True)
    assert kind(spool, b) == kind(spool, c) == "wait"
    assert spool.find(b).pending.rank == place_b
    assert [p.id for p in spool.pending("default")][:2] == [b, x]
    assert spool.show(b).job.attempt == 2
    assert [run(spool, cl) for _ in range(4)] == [x, a, b, c]


def test_a_retried_job_that_succeeds_before_its_dependents_are_back_still_releases_them(
        spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner may run the retried job to its end while its dependents are still being
    put back: they must not wait for ever on a job that already succeeded."""
    from store import depindex

    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    cl = claims(spool)
    run(spool, cl, State.FAILED)
    assert spool.show(b).state == State.CANCELLED
    real = depindex.cancelled_dependents

    def runner_finishes_a_meanwhile(spool_: Spool, job_id: str):  # the window between the two renames
        found = real(spool_, job_id)
        if job_id == a:
            assert run(spool, cl) == a
        return found

    monkeypatch.setattr(depindex, "cancelled_dependents", runner_finishes_a_meanwhile)
    retry(spool, a, with_dependents=True)
    assert kind(spool, b) == "job"


def test_retry_alone_leaves_dependents_cancelled(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    run(spool, claims(spool), State.FAILED)
    retry(spool, a)
    assert spool.show(b).state == State.CANCELLED


def test_blockers_and_dependents(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"])])
    (c,) = submit(spool, [JobSpec(command=["true"], after=[a], after_finished=[b])])
    assert deps.blockers(spool, spool.show(c).job) == [(a, State.PENDING), (b, State.PENDING)]
    assert [r.id for r in Waiters(spool).of(a)] == [c]
    run(spool, claims(spool))
    assert deps.blockers(spool, spool.show(c).job) == [(b, State.PENDING)]


def test_sweep_releases_what_a_crash_left(spool: Spool) -> None:
    """A crash between a dependency's final rename and on_final: the sweep finishes it."""
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    cl = claims(spool)
    got = cl.claim_next("default").job
    real, deps.on_final = deps.on_final, lambda *args: None  # type: ignore[assignment]
    try:
        cl.finish(got, Result(state=State.SUCCEEDED, reason="exit", exit_code=0))
    finally:
        deps.on_final = real  # type: ignore[assignment]
    assert kind(spool, b) == "wait"
    deps.sweep(spool)
    assert kind(spool, b) == "job"


def plant_corrupt(spool: Spool, queue: str = "default") -> str:
    """A job file nobody can decode, at the head of `queue` (what a full disk or a
    stray writer leaves): its id, as listings show it."""
    from store.layout import pending_name
    from store.names import RANK_START, new_job_id

    job_id = new_job_id()
    (spool.layout.pending(queue) / pending_name(RANK_START, 0, job_id)).write_bytes(b'{"id": "trunc')
    return job_id


def test_dependents_of_a_job_moved_to_corrupt_are_settled_by_the_sweep(spool: Spool) -> None:
    """Nobody calls on_final for a job moved aside: before, its dependents waited an hour
    (STALE_INDEX) for a job that could never end (seen in bench.chaos)."""
    x = plant_corrupt(spool)
    (a, f) = submit(spool, [JobSpec(command=["true"], after=[x]), JobSpec(command=["true"], after_finished=[x])])
    with pytest.raises(SpoolError, match="moved to corrupt/"):
        spool.show(x)
    assert kind(spool, a) == kind(spool, f) == "wait"
    deps.sweep(spool)
    assert spool.find(a).state == State.CANCELLED
    assert spool.show(a).job.result.message == f"dependency {x} failed (it is gone)"
    assert kind(spool, f) == "job"  # gone counts as ended for --after-finished
    assert not spool.layout.deps(x).exists()


def test_removing_a_queue_with_force_settles_what_waits_on_its_jobs(spool: Spool) -> None:
    """Its waiting jobs are gone for good: before, a dependent elsewhere waited an hour
    for the sweep to notice."""
    spool.add_queue("doomed")
    (x,) = submit(spool, [JobSpec(command=["true"], queue="doomed")])
    a, f = submit(spool, [JobSpec(command=["true"], after=[x]), JobSpec(command=["true"], after_finished=[x])])
    assert spool.remove_queue("doomed", force=True) == 1
    assert spool.show(a).state == State.CANCELLED
    assert spool.show(a).job.result.message == f"dependency {x} failed (it is gone)"
    assert kind(spool, f) == "job"
    assert not spool.layout.deps(x).exists()


def test_a_job_with_no_dependents_costs_one_failed_listing(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    deps.on_final(spool, a, State.SUCCEEDED)
    assert not spool.layout.deps(a).exists()


def test_the_names_of_blocked_jobs_and_of_the_indexes_parse_with_one_regex_each() -> None:
    from store.layout import DEP_CANCELLED_RE, DEP_RE, DUE_RE, parse_pending, pending_name

    jid = "01m8qhxhvb7h04ky36a34zvx4q"
    name = pending_name(0x10, -10, jid, kind="wait")
    assert name == f"0000000000000010.-10.{jid}.wait"
    p = parse_pending(name)
    assert p is not None and p.id == jid and p.blocked and not p.held and p.state == State.PENDING
    assert p.kind == "wait" and parse_pending(pending_name(0x10, 0, jid)).kind == "job"
    assert parse_pending(f"0000000000000010.+0.{jid}.waiting") is None
    m = DEP_RE.fullmatch(f"my.queue.{jid}.dep")
    assert m and m["queue"] == "my.queue" and m["id"] == jid
    m = DEP_CANCELLED_RE.fullmatch(f"q.0000000000000010.+5.{jid}.cancelled")
    assert m and m["queue"] == "q" and m["rank"] == "0000000000000010" and m["prio"] == "+5"
    m = DUE_RE.fullmatch(f"1796119200000.{jid}")
    assert m and int(m["ms"]) == 1796119200000 and DUE_RE.fullmatch(f"17961192.{jid}") is None


def test_a_held_dependent_is_cancelled_too_and_a_doomed_job_cannot_be_retried_alone(spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    holding.hold(spool, b)
    run(spool, claims(spool), State.FAILED)
    assert spool.show(b).state == State.CANCELLED  # never left waiting on a job that can no longer succeed
    with pytest.raises(JobStateError, match=f"cannot retry job {b}: it could never start \\(dependency {a} failed\\)"):
        retry(spool, b)
    assert spool.show(b).state == State.CANCELLED


def test_a_dependent_whose_queue_is_locked_or_gone_does_not_fail_the_finish(spool: Spool) -> None:
    spool.add_queue("other")
    spool.add_queue("gone")
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a], queue="other")])
    submit(spool, [JobSpec(command=["true"], after=[a], queue="gone")])
    spool.remove_queue("gone", force=True)
    spool.lock_timeout = 0.2
    with spool.lock("other"):  # someone holds b's queue longer than the finish waits
        assert run(spool, claims(spool)) == a  # recorded all the same
    assert kind(spool, b) == "wait"
    deps.sweep(spool)  # what every runner does at start and every minute
    assert kind(spool, b) == "job"
    assert not spool.layout.deps(a).exists()


def test_a_delayed_job_moved_to_another_queue_starts_there_at_its_time(spool: Spool) -> None:
    spool.add_queue("other")
    now = time.time()
    (a,) = submit(spool, [JobSpec(command=["true"], not_before=now + 3600)])
    move(spool, a, Where("queue", other="other"))
    assert kind(spool, a) == "wait"
    assert deps.release_due(spool, "other", now + 3601) is None  # a runner of "other" alone sees it
    assert kind(spool, a) == "job"


def test_cancel_and_edit_of_a_blocked_job(spool: Spool) -> None:
    from store.jobs.edit import Edit, edit

    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    (c,) = submit(spool, [JobSpec(command=["true"], after=[b])])
    edit(spool, b, Edit(priority="high", name="renamed"))
    assert kind(spool, b) == "wait" and spool.show(b).job.name == "renamed"
    assert cancel(spool, b) == State.CANCELLED
    assert spool.show(c).state == State.CANCELLED  # its own dependent goes with it
    assert spool.show(c).job.result.message == f"dependency {b} was cancelled"
    assert [r.id for r in Waiters(spool).of(a)] == []
