"""store.jobs.claims: the runner's state changes, headless and fast (no processes)."""

from __future__ import annotations

import contextlib
import os
import time

import pytest

from store import JobSpec, Result, Spool, cancel, hold, submit
from store.jobs.claims import MAX_LOST, ClaimLost, Claimant, Claims, UnsafeSpool, check_safe
from store.model import Heartbeat, Job
from store.runners import beat


def _claims(spool: Spool, runner: str = "r1", host: str = "otherhost", labels: frozenset[str] = frozenset(),
            pid: int = 1) -> Claims:
    return Claims(spool, Claimant(runner, host, pid, labels))


def _claim_and_record(c: Claims) -> Job:
    """Claim, and write the claim into the file: what a runner does for a job that runs
    longer than a moment."""
    job = c.claim_next("default").job
    assert job is not None
    c.record_claim(job)
    return job


def _order(spool: Spool, queue: str = "default") -> list[str]:
    return [p.id for p in spool.pending(queue)]


def _result(state: str = "succeeded", reason: str = "exit", code: int | None = 0) -> Result:
    return Result(state=state, reason=reason, exit_code=code, started_at=time.time(), finished_at=time.time())


def test_claims_in_run_order_skipping_held_and_unmet_labels(spool: Spool) -> None:
    a, b, c = submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"], requires=["gpu"]),
                             JobSpec(command=["c"])])
    hold(spool, a)
    plain = _claims(spool)
    got = plain.claim_next("default")
    assert got.status == "claimed" and got.job is not None and got.job.id == c
    assert got.job.claim is not None and got.job.claim.runner == "r1"
    assert spool.find(c).state == "running"
    assert plain.claim_next("default").status == "ineligible"  # a held, b needs gpu
    gpu = _claims(spool, "r2", labels=frozenset({"gpu"}))
    got = gpu.claim_next("default")
    assert got.job is not None and got.job.id == b


def test_slots_are_counted_across_runners_and_pause_stops_claims(spool: Spool) -> None:
    spool.update_queue("default", "set", slots=1)
    submit(spool, [JobSpec(command=["x"]) for _ in range(3)])
    assert _claims(spool, "r1").claim_next("default").status == "claimed"
    assert _claims(spool, "r2").claim_next("default").status == "full"
    spool.update_queue("default", "set", slots=2)
    spool.update_queue("default", "pause", paused=True)
    assert _claims(spool, "r2").claim_next("default").status == "paused"
    spool.update_queue("default", "resume", paused=False)
    assert _claims(spool, "r2").claim_next("default").status == "claimed"


def test_empty_queue(spool: Spool) -> None:
    assert _claims(spool).claim_next("default").status == "empty"


def test_order_changes_are_seen_between_claims(spool: Spool) -> None:
    """The cached listing of pending/ must notice a move to the top made by someone else."""
    from store import Where, move

    ids = submit(spool, [JobSpec(command=["x"]) for _ in range(4)])
    c = _claims(spool)
    assert c.claim_next("default").job.id == ids[0]  # type: ignore[union-attr]
    move(spool, ids[3], Where("top"))
    assert c.claim_next("default").job.id == ids[3]  # type: ignore[union-attr]
    (late,) = submit(spool, [JobSpec(command=["x"], priority="urgent")])
    assert c.claim_next("default").job.id == late  # type: ignore[union-attr]


def test_a_job_file_corrupt_before_claim_is_quarantined_and_the_next_runs(spool: Spool) -> None:
    good, bad = submit(spool, [JobSpec(command=["good"]), JobSpec(command=["bad"])])
    c = _claims(spool)
    c.claim_next("default")  # warm the cached listing, then spoil the head
    (nxt,) = submit(spool, [JobSpec(command=["after"])])
    path = spool.find(bad).path
    path.write_bytes(b'{"id": "trunc')
    got = c.claim_next("default")
    assert got.job is not None and got.job.id == nxt
    assert got.warnings and "moved to corrupt" in got.warnings[0]
    assert any(bad in p.name for p in spool.corrupt_files())
    assert good != nxt


def test_a_job_file_that_vanishes_before_claim_is_skipped(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    import store.safeio as safeio_mod

    first, second = submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"])])
    real = safeio_mod.read_job
    gone = spool.find(first).path

    def vanish_first(path):  # type: ignore[no-untyped-def]
        if os.path.exists(gone):
            os.unlink(gone)  # pruned by someone between the listing and the read
        return real(path)

    monkeypatch.setattr(safeio_mod, "read_job", vanish_first)
    got = _claims(spool).claim_next("default")
    assert got.job is not None and got.job.id == second


def test_finish_records_the_result_and_drops_the_cancel_request(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None
    cancel(spool, jid)  # running: a request
    assert spool.cancel_requested("default", jid)
    assert c.finish(job, _result()) == "succeeded"
    r = spool.find(jid)
    assert r.state == "succeeded"
    done = spool.read(r)
    assert done.result is not None and done.result.exit_code == 0
    assert not spool.cancel_requested("default", jid)
    c.sync()


def test_a_failure_with_retries_left_is_queued_again_then_fails(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"], retries=1)])
    (other,) = submit(spool, [JobSpec(command=["y"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and job.id == jid
    assert c.finish(job, _result("failed", code=1)) == "pending"
    assert _order(spool) == [other, jid]  # behind the jobs of its priority, as `retry` does
    again = spool.read(spool.find(jid))
    assert again.attempt == 2 and [h.reason for h in again.history] == ["exit"]
    job2 = c.claim_next("default").job
    assert job2 is not None and job2.id == other
    job3 = c.claim_next("default").job
    assert job3 is not None and job3.id == jid and job3.attempt == 2
    assert c.finish(job3, _result("failed", code=1)) == "failed"


def test_give_back_puts_the_job_back_at_its_place_as_the_next_attempt(spool: Spool) -> None:
    ids = submit(spool, [JobSpec(command=["x"]) for _ in range(3)])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and job.id == ids[0]
    assert c.give_back(job, _result("failed", "runner-stopped", None)) == "pending"
    assert _order(spool) == ids
    back = spool.read(spool.find(ids[0]))
    assert back.attempt == 2 and back.lost == 0 and back.history[0].reason == "runner-stopped"


def test_give_back_of_a_job_asked_to_cancel_ends_it_cancelled(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None
    cancel(spool, jid)
    assert c.give_back(job, _result("failed", "runner-stopped", None)) == "cancelled"
    assert spool.find(jid).state == "cancelled"


def _ghost(spool: Spool, age: float, lease: float = 1.0) -> Claims:
    """A runner on another host whose last heartbeat is `age` seconds old."""
    ghost = _claims(spool, "ghost", host="elsewhere")
    beat(spool, Heartbeat(id="ghost", host="elsewhere", pid=1, queues=["default"], slots=1, lease=lease))
    t = time.time() - age
    os.utime(spool.layout.runner("ghost"), (t, t))
    return ghost


def test_jobs_of_a_lost_runner_go_back_to_their_place_then_fail_runner_lost(spool: Spool) -> None:
    ids = submit(spool, [JobSpec(command=["x"]) for _ in range(3)])
    me = _claims(spool, "me")
    for n in range(MAX_LOST + 1):
        ghost = _ghost(spool, age=0)
        job = _claim_and_record(ghost)
        assert job.id == ids[0]
        assert me.recover_lost(grace=5) == []  # its heartbeat is fresh
        t = time.time() - 10
        os.utime(spool.layout.runner("ghost"), (t, t))
        (got,) = me.recover_lost(grace=5)
        if n < MAX_LOST:
            assert got.outcome == "pending"
            assert _order(spool) == ids  # back at its old place
            assert spool.read(spool.find(ids[0])).lost == n + 1
        else:
            assert got.outcome == "failed"
            done = spool.read(spool.find(ids[0]))
            assert done.result is not None and done.result.reason == "runner-lost"
            assert done.attempt == MAX_LOST + 1
        with pytest.raises(ClaimLost):
            ghost.finish(job, _result())  # it comes back: too late, the job is not its own


def test_a_lost_runners_job_asked_to_cancel_ends_cancelled(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    ghost = _ghost(spool, age=0)
    _claim_and_record(ghost)
    cancel(spool, jid)
    t = time.time() - 10
    os.utime(spool.layout.runner("ghost"), (t, t))
    (got,) = _claims(spool, "me").recover_lost(grace=5)
    assert got.outcome == "cancelled"
    assert spool.read(spool.find(jid)).result.by  # type: ignore[union-attr]


def test_a_result_written_before_the_runner_died_is_kept(spool: Spool) -> None:
    """finish() writes the result into the running file before its rename to done/:
    a runner killed in between leaves a finished job in running/, and recovery finishes it."""
    import msgspec

    from store import atomic
    from store.model import encode_job

    (jid,) = submit(spool, [JobSpec(command=["x"])])
    ghost = _ghost(spool, age=0)
    job = _claim_and_record(ghost)
    r = spool.find(jid)
    atomic.publish(spool.layout.tmp, r.path, encode_job(msgspec.structs.replace(job, result=_result(
        "failed", code=3))))  # the first half of finish(), then the runner died
    t = time.time() - 10
    os.utime(spool.layout.runner("ghost"), (t, t))
    (got,) = _claims(spool, "me").recover_lost(grace=5)
    assert got.outcome == "finished"
    done = spool.read(spool.find(jid))
    assert spool.find(jid).state == "failed" and done.result is not None and done.result.exit_code == 3


def test_a_running_job_whose_runner_left_no_heartbeat_waits_for_the_grace(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    _claim_and_record(_claims(spool, "vanished"))
    me = _claims(spool, "me")
    assert me.recover_lost(grace=30) == []
    (got,) = me.recover_lost(grace=0)
    assert got.job_id == jid and got.outcome == "pending"


def test_a_claim_is_a_rename_and_is_written_into_the_file_later(spool: Spool) -> None:
    """A short job costs no rewrite: its file says who runs it only once record_claim ran.
    Either way the job is ours: it finishes, and nobody else can take it from us."""
    a, b = submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"])])
    c = _claims(spool)
    quick = c.claim_next("default").job
    assert quick is not None and quick.claim is not None  # the runner knows its claim...
    assert spool.read(spool.find(a)).claim is None  # ...the file does not say it yet
    assert c.still_ours(quick)
    assert c.finish(quick, _result()) == "succeeded"
    done = spool.read(spool.find(a))
    assert done.claim is not None and done.claim.runner == "r1" and done.result is not None
    slow = _claim_and_record(c)
    on_disk = spool.read(spool.find(b)).claim
    assert on_disk is not None and on_disk.runner == "r1" and on_disk.rank and c.still_ours(slow)
    assert c.finish(slow, _result()) == "succeeded"


def test_a_job_whose_runner_died_before_writing_its_claim_is_named_by_its_journal(spool: Spool) -> None:
    """The claim's rename is preceded by a line in the runner's claims journal: a runner
    killed before it wrote the claim into the job's file is still known to own it, so
    its job comes back at once (its runner is lost), at its old place."""
    first, second = submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"])])
    ghost = _ghost(spool, age=0)
    job = ghost.claim_next("default").job
    assert job is not None and job.id == first and spool.read(spool.find(first)).claim is None
    me = _claims(spool, "me")
    assert me.recover_lost(grace=30) == []  # its runner beats: it is running
    t = time.time() - 10
    os.utime(spool.layout.runner("ghost"), (t, t))
    (got,) = me.recover_lost(grace=30)  # lost: no need to wait for the grace
    assert got.outcome == "pending" and got.runner == "ghost"
    back = spool.read(spool.find(first))
    assert _order(spool) == [first, second]
    assert back.attempt == 2 and back.lost == 1 and back.history[-1].runner == "ghost"
    with pytest.raises(ClaimLost):
        ghost.finish(job, _result())
    assert not ghost.still_ours(job)


def test_a_running_job_without_claim_or_journal_comes_back_after_the_grace(spool: Spool) -> None:
    """No claim in the file and none in any journal (a power cut ate the line): its name
    still says whose it is; with no heartbeat of that runner it waits a whole grace, then
    comes back as its next attempt, at the top (its place is unknown)."""
    first, second = submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"])])
    assert _claims(spool, "dead").claim_next("default").job is not None
    os.unlink(spool.layout.runner_claims("dead"))
    me = _claims(spool, "me")
    assert me.recover_lost(grace=30) == []
    (got,) = me.recover_lost(grace=0)
    assert got.outcome == "pending" and got.runner == "dead" and "left no heartbeat" in got.note
    back = spool.read(spool.find(first))
    assert _order(spool) == [first, second]
    assert back.attempt == 2 and back.lost == 1 and back.history[-1].reason == "runner-lost"


def test_the_claims_journal_keeps_only_live_claims_when_it_grows(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    from store.jobs import journal

    monkeypatch.setattr(journal, "JOURNAL_MAX", 2000)
    ids = submit(spool, [JobSpec(command=["x"]) for _ in range(40)])
    c = _claims(spool)
    for _ in ids[:-1]:
        job = c.claim_next("default").job
        assert job is not None
        c.finish(job, _result())
    running = c.claim_next("default").job
    assert running is not None
    path = spool.layout.runner_claims("r1")
    assert path.stat().st_size <= 2000
    journaled = journal.journaled_claims(spool)
    assert (running.id, 1) in journaled and len(journaled) < 20  # finished ones pruned at each rewrite
    c.close()


def test_a_world_writable_queue_is_refused_with_the_fix(spool: Spool) -> None:
    check_safe(spool, ["default"])
    pending = spool.layout.pending("default")
    os.chmod(pending, 0o777)
    with pytest.raises(UnsafeSpool, match="chmod -R o-w"):
        check_safe(spool, ["default"])


def test_a_world_writable_job_file_is_not_run(spool: Spool) -> None:
    bad, good = submit(spool, [JobSpec(command=["x"]), JobSpec(command=["y"])])
    os.chmod(spool.find(bad).path, 0o666)
    got = _claims(spool).claim_next("default")
    assert got.job is not None and got.job.id == good
    assert "world-writable" in got.warnings[0]


def test_a_job_whose_file_names_another_queue_is_run_in_the_queue_it_is_in(spool: Spool) -> None:
    """A crash between a move's rename and its rewrite leaves the old queue in the file:
    the directory is the truth, for a runner as for every reader."""
    import msgspec

    from store import atomic
    from store.model import encode_job

    spool.add_queue("build")
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    r = spool.find(jid)
    stale = msgspec.structs.replace(spool.read(r), queue="build")
    atomic.publish(spool.layout.tmp, r.path, encode_job(stale))
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and job.queue == "default"
    c.record_claim(job)
    assert c.finish(job, _result()) == "succeeded"
    assert spool.find(jid).queue == "default"


def test_a_finish_that_failed_on_a_full_disk_succeeds_when_tried_again(spool: Spool,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from store.errors import StorageError

    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job  # a short job: its claim is not in its file
    assert job is not None

    def full(*a, **k):  # type: ignore[no-untyped-def]
        raise StorageError("cannot place it: No space left on device")

    monkeypatch.setattr(Claims, "_place", full)
    with pytest.raises(StorageError):
        c.finish(job, _result())
    assert spool.find(jid).state == "running"
    monkeypatch.undo()
    assert c.finish(job, _result()) == "succeeded"  # still ours: the runner's retry records it


def test_a_running_file_that_turns_corrupt_is_finished_from_the_runners_copy(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None
    spool.find(jid).path.write_bytes(b"\x00garbage")
    assert c.still_ours(job)  # moved aside to corrupt/ ...
    assert c.still_ours(job)  # ... and still ours at the next look
    assert c.finish(job, _result()) == "succeeded"
    done = spool.read(spool.find(jid))
    assert done.result is not None and done.result.state == "succeeded"


def test_renames_not_yet_durable_say_when_they_will_be(spool: Spool) -> None:
    submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    assert c.sync_due() is None
    assert c.claim_next("default").job is not None
    assert c.sync_due() is not None  # the runner's loop wakes for it
    c.sync(force=True)
    assert c.sync_due() is None


class _FrozenAfterItsCheck(Claims):
    """A runner frozen (SIGSTOP, a VM pause) right after checking that a job is still its
    own, while another host, whose locks do not exclude ours, takes the job over."""

    meanwhile: Claims

    def _own(self, job: Job, src: str) -> bytes | None:
        got = super()._own(job, src)
        assert [r.outcome for r in self.meanwhile.recover_lost(grace=-1)] == ["pending"]
        return got


class _OtherHostNoLock(Claims):
    """A runner on another host of a `nolock` mount: its queue lock excludes nobody here."""

    def lock(self, queue: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@pytest.mark.parametrize("what", ["finish", "give_back", "record_claim"])
def test_a_change_made_after_a_freeze_never_leaves_the_job_in_two_places(
        spool: Spool, monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    """The takeover won while we were frozen: what we write afterwards is removed again and
    we are told the job is no longer ours; the job is only where the taker put it."""
    import store.jobs.claimbase

    monkeypatch.setattr(store.jobs.claimbase, "HELD_UP", 0.0)  # as if every change took longer than it
    (job_id,) = submit(spool, [JobSpec(command=["true"])])
    frozen = _FrozenAfterItsCheck(spool, Claimant("frozen", "hosta", 1))
    frozen.meanwhile = _OtherHostNoLock(spool, Claimant("taker", "hostb", 1))
    job = frozen.claim_next("default").job
    assert job is not None
    with pytest.raises(ClaimLost):
        if what == "finish":
            frozen.finish(job, _result())
        elif what == "give_back":
            frozen.give_back(job, _result("failed", "runner-stopped", None))
        else:
            frozen.record_claim(job)
    places = [n for d in spool.layout.state_dirs("default") for n in os.listdir(d) if job_id in n]
    assert len(places) == 1 and _order(spool) == [job_id]
    assert spool.read(spool.find(job_id)).attempt == 2
