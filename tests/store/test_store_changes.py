"""The contract of each state change: submit, hold/release, move, cancel, retry, prune,
the audit trail, and why a job waits."""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest
from storehelp import check_order, places

from store import (
    Heartbeat,
    JobAlreadyStarted,
    JobNotFound,
    JobStateError,
    QueueNotEmpty,
    QueueNotFound,
    Spool,
    SpoolError,
    Where,
    cancel,
    hold,
    move,
    prune,
    release,
    retry,
    submit,
)
from store.jobs.submit import JobSpec
from store.layout import done_name, running_name
from store.model import Claim, Result, decode_job, encode_job
from store.runners import beat, lock_scope, runners
from store.waiting import QueueContext


def _submit(spool: Spool, *prios: int | str, queue: str | None = None, **kw: object) -> list[str]:
    return submit(spool, [JobSpec(command=["true"], name=f"j{i}", priority=p, queue=queue, **kw)  # type: ignore[arg-type]
                          for i, p in enumerate(prios)])


def _order(spool: Spool, queue: str = "default") -> list[str]:
    return check_order(spool, queue)


def _start(spool: Spool, job_id: str, host: str = "buildhost") -> None:
    """What a runner's claim does to a pending job (pending -> running, claim recorded)."""
    r = spool.find(job_id)
    dest = spool.layout.running(r.queue) / running_name(job_id)
    os.rename(r.path, dest)
    job = decode_job(dest.read_bytes())
    job = msgspec.structs.replace(job, claim=Claim(runner="r1", host=host, pid=1, claimed_at=time.time()))
    dest.write_bytes(encode_job(job))


def _finish(spool: Spool, job_id: str, state: str = "failed", exit_code: int = 3) -> None:
    """What a runner's finish does to a running job."""
    r = spool.find(job_id)
    t = time.time()
    dest = spool.layout.done(r.queue) / done_name(job_id, state, t)
    job = decode_job(r.path.read_bytes())
    os.rename(r.path, dest)
    res = Result(state=state, reason="exit", exit_code=exit_code, started_at=t - 2, finished_at=t, host="buildhost")
    dest.write_bytes(encode_job(msgspec.structs.replace(job, result=res)))


# -- submit and priority ----------------------------------------------------------------


def test_submit_is_fifo_within_a_priority(spool: Spool) -> None:
    ids = _submit(spool, 0, 0, 0)
    assert _order(spool) == ids
    assert [spool.show(i).position for i in ids] == [1, 2, 3]


def test_a_new_job_goes_behind_every_job_of_the_same_or_higher_priority(spool: Spool) -> None:
    low, norm, high, urgent = _submit(spool, "low", "normal", "high", "urgent")
    assert _order(spool) == [urgent, high, norm, low]
    (high2,) = _submit(spool, 10)
    assert _order(spool) == [urgent, high, high2, norm, low]
    (low2,) = _submit(spool, -10)
    assert _order(spool)[-1] == low2
    (top,) = _submit(spool, 999)
    assert _order(spool)[0] == top


def test_priority_insertion_respects_moves_and_held_jobs(spool: Spool) -> None:
    """Moves change position, not priority: a new job still goes behind every job of the
    same or higher priority, wherever people put them; held jobs count too."""
    a, b = _submit(spool, 10, 0)
    move(spool, b, Where("top"))  # [b(0), a(10)]
    hold(spool, a)
    (c,) = _submit(spool, 5)
    assert _order(spool) == [b, a, c]  # behind a (10), though b (0) is ahead of a
    (d,) = _submit(spool, 0)
    assert _order(spool) == [b, a, c, d]


def test_a_batch_is_queued_in_order_and_all_or_nothing(spool: Spool) -> None:
    specs = [JobSpec(command=["true"], name=str(i)) for i in range(5)]
    ids = submit(spool, specs)
    assert _order(spool) == ids
    bad = [*specs, JobSpec(command=["true"], queue="nope")]
    with pytest.raises(QueueNotFound):
        submit(spool, bad)
    assert _order(spool) == ids
    assert os.listdir(spool.layout.tmp) == []


def test_a_batch_over_two_queues_that_fails_in_the_second_leaves_nothing(spool: Spool,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Both queues are locked for the whole batch, so the jobs placed in the first could
    not have been claimed before the second failed: taking them back loses nothing."""
    from contextlib import contextmanager

    from store import locks

    spool.add_queue("zeta")
    held: list[str] = []
    real_rename, real_locked = os.rename, locks.locked

    def rename(src, dst):  # type: ignore[no-untyped-def]
        if "/zeta/pending/" in str(dst):
            assert {"queue default", "queue zeta"} <= set(held)  # the first queue is still locked
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    @contextmanager
    def locked(path, what, timeout=10.0):  # type: ignore[no-untyped-def]
        with real_locked(path, what, timeout):
            held.append(what)
            try:
                yield
            finally:
                held.remove(what)

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(locks, "locked", locked)
    with pytest.raises(SpoolError, match="No space left"):
        submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"], queue="zeta")])
    monkeypatch.undo()
    assert _order(spool) == [] and _order(spool, "zeta") == []
    assert os.listdir(spool.layout.tmp) == []


def test_submit_validates_before_writing(spool: Spool) -> None:
    for spec, match in [
        (JobSpec(command=[]), "command is empty"),
        (JobSpec(command=[""]), "command is empty"),
        (JobSpec(command=" ", shell=True), "command is empty"),
        (JobSpec(command="echo hi"), "ask for a shell"),
        (JobSpec(command=["true"], timeout=0), "timeout must be positive"),
        (JobSpec(command=["true"], retries=-1), "retries"),
        (JobSpec(command=["true"], name="x" * 201), "name must be"),
        (JobSpec(command=["true"], name="two\nlines"), "name must be"),
        (JobSpec(command=["true"], env={"A=B": "1"}), "environment variable"),
        (JobSpec(command=["true"], priority="asap"), "invalid priority"),
        (JobSpec(command=["true"], queue="nope"), "no queue 'nope'"),
    ]:
        with pytest.raises(SpoolError, match=match):
            submit(spool, [spec])
    assert places(spool) == {}
    assert os.listdir(spool.layout.tmp) == []


# -- hold and release -----------------------------------------------------------------------


def test_hold_keeps_position_and_release_restores_it(spool: Spool) -> None:
    ids = _submit(spool, 0, 0, 0, 0)
    assert hold(spool, ids[1]) is True
    assert hold(spool, ids[1]) is False  # already held
    assert _order(spool) == ids
    assert spool.show(ids[1]).state == "held" and spool.show(ids[1]).position == 2
    move(spool, ids[3], Where("top"))  # moving others around a held job
    move(spool, ids[1], Where("down"))  # and the held job itself
    assert _order(spool) == [ids[3], ids[0], ids[2], ids[1]]
    assert release(spool, ids[1]) is True
    assert release(spool, ids[1]) is False
    assert _order(spool) == [ids[3], ids[0], ids[2], ids[1]]
    assert spool.show(ids[1]).state == "pending"


# -- move -----------------------------------------------------------------------------------


@pytest.mark.parametrize("where, expect, pos", [
    (Where("top"), "e a b c d", 1),
    (Where("bottom"), "a b c d e", 5),
    (Where("up"), "a b c e d", 4),
    (Where("up", 2), "a b e c d", 3),
    (Where("up", 99), "e a b c d", 1),
    (Where("down"), "a b c d e", 5),
])
def test_move_of_the_last_job(spool: Spool, where: Where, expect: str, pos: int) -> None:
    ids = dict(zip("abcde", _submit(spool, 0, 0, 0, 0, 0)))
    assert move(spool, ids["e"], where) == pos
    assert _order(spool) == [ids[k] for k in expect.split()]


@pytest.mark.parametrize("where, expect, pos", [
    (Where("top"), "b a c d e", 1),
    (Where("bottom"), "a c d e b", 5),
    (Where("up"), "b a c d e", 1),
    (Where("down"), "a c b d e", 3),
    (Where("down", 2), "a c d b e", 4),
    (Where("down", 99), "a c d e b", 5),
    (Where("before", other="d"), "a c b d e", 3),
    (Where("after", other="d"), "a c d b e", 4),
    (Where("before", other="a"), "b a c d e", 1),
    (Where("after", other="e"), "a c d e b", 5),
    (Where("after", other="a"), "a b c d e", 2),
])
def test_move_of_a_middle_job(spool: Spool, where: Where, expect: str, pos: int) -> None:
    ids = dict(zip("abcde", _submit(spool, 0, 0, 0, 0, 0)))
    if where.other:
        where = Where(where.kind, where.count, ids[where.other])
    assert move(spool, ids["b"], where) == pos
    assert _order(spool) == [ids[k] for k in expect.split()]


def test_move_takes_short_ids_and_keeps_priority(spool: Spool) -> None:
    a, b = _submit(spool, 10, 0)
    move(spool, b[-8:], Where("top"))
    assert _order(spool) == [b, a]
    assert spool.show(b).job.priority == 0
    move(spool, b.upper(), Where("bottom"))
    assert _order(spool) == [a, b]


def test_move_to_another_queue(spool: Spool) -> None:
    spool.add_queue("build")
    x, y = _submit(spool, 0, 5, queue="build")
    a, b = _submit(spool, 0, 5)
    hold(spool, b)
    assert move(spool, b, Where("queue", other="build")) == 2  # behind y (5), ahead of x (0)
    assert _order(spool, "build") == [y, b, x]
    assert _order(spool) == [a]
    v = spool.show(b)
    assert (v.queue, v.state, v.job.priority) == ("build", "held", 5)
    # the file says where it is: a runner reads the job's queue from it
    assert v.job.queue == "build"
    assert json.loads(v.ref.path.read_bytes())["queue"] == "build"
    assert set(places(spool).values()) == {1}


def test_move_errors(spool: Spool) -> None:
    a, b, c = _submit(spool, 0, 0, 0)
    with pytest.raises(JobNotFound):
        move(spool, "0" * 26, Where("top"))
    with pytest.raises(JobNotFound):
        move(spool, "zz", Where("top"))
    with pytest.raises(QueueNotFound):
        move(spool, a, Where("queue", other="nope"))
    with pytest.raises(JobStateError, match="already in queue default"):
        move(spool, a, Where("queue", other="default"))
    with pytest.raises(JobStateError, match="itself"):
        move(spool, a, Where("before", other=a))
    spool.add_queue("other")
    (o,) = _submit(spool, 0, queue="other")
    with pytest.raises(JobStateError, match="in queue other"):
        move(spool, a, Where("before", other=o))
    _start(spool, c)
    with pytest.raises(JobAlreadyStarted, match=f"cannot move job {c}: it already started on buildhost"):
        move(spool, c, Where("top"))
    with pytest.raises(JobStateError, match="not waiting"):
        move(spool, a, Where("after", other=c))
    cancel(spool, b)
    with pytest.raises(JobStateError, match="already finished"):
        move(spool, b, Where("top"))
    assert _order(spool) == [a]


@pytest.mark.parametrize("op", ["move-top", "move-down", "hold", "cancel"])
def test_a_job_that_starts_between_look_and_change(spool: Spool, op: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner claims the job after we found it and before we take the lock."""
    a, b = _submit(spool, 0, 0)
    real = Spool.lock

    @contextmanager
    def racy_lock(self: Spool, queue: str):  # type: ignore[no-untyped-def]
        if spool.find(a).state == "pending":
            _start(spool, a)
        with real(self, queue):
            yield

    monkeypatch.setattr(Spool, "lock", racy_lock)
    if op == "cancel":
        assert cancel(spool, a) == "requested"  # a running job gets a cancel request
        assert spool.cancel_requested("default", a)
        return
    with pytest.raises(JobAlreadyStarted, match=f"job {a}: it already started on buildhost"):
        if op == "move-top":
            move(spool, a, Where("top"))
        elif op == "move-down":
            move(spool, a, Where("down"))
        else:
            hold(spool, a)
    assert spool.find(a).state == "running" and _order(spool) == [b]
    assert set(places(spool).values()) == {1}


def test_show_follows_a_job_that_moves_on_between_look_and_read(spool: Spool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`show` of a job that starts and then finishes while it is being read says where it
    went, not "gone" (a dependency test on a polled spool met this in CI)."""
    (a,) = _submit(spool, 0)
    real = Spool.view
    steps = [lambda: _start(spool, a), lambda: _finish(spool, a, "succeeded", 0)]

    def racy_view(self: Spool, r, position=None):  # type: ignore[no-untyped-def]
        if steps:
            steps.pop(0)()  # the file moves after the look-up found it
        return real(self, r, position)

    monkeypatch.setattr(Spool, "view", racy_view)
    v = spool.show(a[:8])
    assert v.state == "succeeded" and v.job.result is not None and v.job.result.exit_code == 0


# -- cancel, retry, prune -------------------------------------------------------------------


def test_cancel_pending_held_running_finished(spool: Spool) -> None:
    a, b, c, d = _submit(spool, 0, 0, 0, 0)
    hold(spool, b)
    assert cancel(spool, a) == "cancelled"
    assert cancel(spool, b) == "cancelled"
    v = spool.show(a)
    assert v.state == "cancelled" and v.job.result is not None and v.job.result.by
    _start(spool, c)
    assert cancel(spool, c) == "requested"
    assert spool.find(c).state == "running"
    _finish(spool, c, "failed")
    with pytest.raises(JobStateError, match="already finished"):
        cancel(spool, c)
    assert _order(spool) == [d]


def test_retry_queues_a_finished_job_again_and_keeps_history(spool: Spool) -> None:
    a, b = _submit(spool, 0, 0)
    _start(spool, a)
    _finish(spool, a, "failed", 3)
    assert retry(spool, a) == 2  # behind b
    v = spool.show(a)
    assert (v.state, v.job.attempt, v.job.result, v.job.claim) == ("pending", 2, None, None)
    assert [(h.state, h.exit_code, h.attempt) for h in v.job.history] == [("failed", 3, 1)]
    _start(spool, a)
    _finish(spool, a, "succeeded", 0)
    retry(spool, a)
    v = spool.show(a)
    assert v.job.attempt == 3 and [h.state for h in v.job.history] == ["failed", "succeeded"]
    with pytest.raises(JobStateError, match="only a finished job"):
        retry(spool, a)
    with pytest.raises(JobStateError, match="only a finished job"):
        retry(spool, b)
    assert set(places(spool).values()) == {1}


def test_prune_by_age_and_count(spool: Spool) -> None:
    ids = _submit(spool, *[0] * 6)
    keep = _submit(spool, 0)  # still pending: never pruned
    now = time.time()
    for i, job_id in enumerate(ids):
        cancel(spool, job_id)
        path = spool.find(job_id).path
        os.utime(path, (now - (6 - i) * 86400,) * 2)  # ids[0] six days old ... ids[5] one day
        spool.layout.log(job_id).write_text("log")
        time.sleep(0.002)  # distinct finish stamps
    assert prune(spool, older_than=10 * 86400, now=now) == 0
    assert prune(spool, older_than=4.5 * 86400, now=now) == 2  # six and five days old
    assert {r.id for r in spool.done_refs("default")} == set(ids[2:])
    assert not spool.layout.log(ids[0]).exists() and not spool.layout.job_audit(ids[0]).exists()
    assert spool.layout.log(ids[2]).exists()
    assert prune(spool, keep=2) == 2
    assert [r.id for r in spool.done_refs("default")] == ids[4:]
    assert prune(spool, older_than=0, keep=1, now=now) == 1
    assert [r.id for r in spool.done_refs("default")] == ids[5:]
    assert _order(spool) == keep


# -- queues ---------------------------------------------------------------------------------


def test_queues_add_pause_slots_remove(spool: Spool) -> None:
    spool.add_queue("build", slots=2, description="compile")
    assert [q.name for q in spool.queues()] == ["build", "default"]
    spool.update_queue("build", "pause", paused=True)
    spool.update_queue("build", "set", slots=7)
    cfg = spool.queue_config("build")
    assert (cfg.paused, cfg.slots, cfg.description) == (True, 7, "compile")
    with pytest.raises(SpoolError, match="from 1 to 10000, not 0"):
        spool.update_queue("build", "set", slots=0)
    (job,) = _submit(spool, 0, queue="build")
    with pytest.raises(QueueNotEmpty, match="--force"):
        spool.remove_queue("build")
    assert spool.remove_queue("build", force=True) == 1
    assert spool.queue_names() == ["default"]
    with pytest.raises(JobNotFound):
        spool.find(job)
    with pytest.raises(SpoolError, match="default queue cannot be removed"):
        spool.remove_queue("default")
    assert [a.action for a in spool.queue_audit("default")] == []
    assert Spool.init(spool.root).queue_names() == ["default"]  # init is idempotent


# -- audit ----------------------------------------------------------------------------------


def test_who_moved_my_job_to_the_bottom(spool: Spool) -> None:
    a, b = _submit(spool, 0, 0)
    move(spool, a, Where("bottom"))
    hold(spool, a)
    release(spool, a)
    move(spool, a, Where("top"))
    cancel(spool, a)
    retry(spool, a)
    spool.update_queue("default", "pause", paused=True)
    trail = spool.audit(a)
    assert [t.action for t in trail] == ["move", "hold", "release", "move", "cancel", "retry"]
    me = f"{os.environ.get('USER') or __import__('getpass').getuser()}@{socket.gethostname()}"
    assert all(t.actor == me and abs(t.at - time.time()) < 60 for t in trail)
    assert trail[0].detail == "bottom: position 1 -> 2"
    assert trail[3].detail == "top: position 2 -> 1"
    assert [(t.action, t.detail) for t in spool.queue_audit("default")] == [("pause", "paused=True")]
    assert spool.show(a).job.submitted_by == me


# -- why it waits ---------------------------------------------------------------------------


def _why(spool: Spool, job_id: str) -> str:
    v = spool.show(job_id)
    ctx = QueueContext.load(spool, v.queue, runners(spool))
    return ctx.why(v.job, v.state == "held").reason


def _runner(spool: Spool, queues: list[str], labels: list[str] = (), slots: int = 2,  # type: ignore[assignment]
            rid: str = "runner-1", pid: int | None = None) -> None:
    beat(spool, Heartbeat(id=rid, host=socket.gethostname(), pid=pid or os.getpid(), queues=queues,
                          slots=slots, labels=list(labels), lease=30.0, started_at=time.time()))


def test_why_it_waits(spool: Spool) -> None:
    a, b, c = _submit(spool, 0, 0, 0)
    assert _why(spool, a) == "no live runner serves queue default"
    _runner(spool, ["other"])
    assert _why(spool, a) == "no live runner serves queue default"
    _runner(spool, ["default"], labels=["linux"])
    assert _why(spool, a) == "starting"
    assert _why(spool, c) == "2 ahead"
    hold(spool, a)
    assert _why(spool, a) == "held"
    assert _why(spool, c) == "1 ahead"  # a held job is not ahead of anyone
    release(spool, a)
    (gpu,) = _submit(spool, 0, requires=["gpu", "linux"])
    assert _why(spool, gpu) == "no runner has labels gpu,linux"
    spool.update_queue("default", "set", slots=2)
    _start(spool, a)
    _start(spool, b)
    assert _why(spool, c) == "all 2 slots busy"
    (d,) = _submit(spool, 0)
    assert _why(spool, d) == "all 2 slots busy, 2 ahead"
    spool.update_queue("default", "pause", paused=True)
    assert _why(spool, d) == "queue paused"


def test_busy_or_draining_runners_say_so(spool: Spool) -> None:
    """Free queue slots are not enough: the runners that could take the job are full."""
    a, b = _submit(spool, 0, 0)
    beat(spool, Heartbeat(id="runner-1", host=socket.gethostname(), pid=os.getpid(), queues=["default"],
                          slots=1, busy=["x" * 26], lease=30.0))
    assert _why(spool, a) == "its runner is busy"
    assert _why(spool, b) == "its runner is busy, 1 ahead"
    beat(spool, Heartbeat(id="runner-1", host=socket.gethostname(), pid=os.getpid(), queues=["default"],
                          slots=2, stopping=True, lease=30.0))
    assert _why(spool, a) == "no live runner serves queue default"


def test_a_runner_of_every_queue_serves_a_queue_added_after_its_beat(spool: Spool) -> None:
    beat(spool, Heartbeat(id="runner-1", host=socket.gethostname(), pid=os.getpid(), queues=["default"],
                          every=True, slots=2, lease=30.0))
    spool.add_queue("new")
    (a,) = _submit(spool, 0, queue="new")
    assert _why(spool, a) == "starting"  # not "no live runner serves queue new"
    beat(spool, Heartbeat(id="runner-1", host=socket.gethostname(), pid=os.getpid(), queues=["default"],
                          every=True, refused=["new"], slots=2, lease=30.0))  # it found the queue unsafe
    assert _why(spool, a) == "no live runner serves queue new"


def test_a_lost_runner_does_not_count(spool: Spool) -> None:
    (a,) = _submit(spool, 0)
    _runner(spool, ["default"], pid=2**22 + 12345)  # a pid alone proves nothing (PID namespaces)
    assert _why(spool, a) == "starting"
    beat(spool, Heartbeat(id="runner-1", host="x", pid=1, queues=["default"], slots=2, scope=lock_scope(spool)))
    spool.layout.runner_lock("runner-1").touch()  # same kernel, and nobody holds its lock: dead
    assert _why(spool, a) == "no live runner serves queue default"
    _runner(spool, ["default"], rid="runner-2")
    path = spool.layout.runner("runner-2")
    os.utime(path, (time.time() - 300,) * 2)  # its last beat was 5 minutes ago
    assert _why(spool, a) == "no live runner serves queue default"


def test_listing_of_a_job_whose_file_says_another_queue(spool: Spool, tmp_path: Path) -> None:
    """The directory is the truth: `show` names the queue the job is in."""
    spool.add_queue("b")
    (a,) = _submit(spool, 0)
    r = spool.find(a)
    os.rename(r.path, spool.layout.pending("b") / r.path.name)
    assert spool.show(a).queue == "b"
