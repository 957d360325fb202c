"""Group commit, headless (store.jobs.batches): results journaled, published only after
the flush that covers them, read by every reader before they are folded, folded later;
a lost runner's flushed result is kept; k claims under one lock."""

from __future__ import annotations

import json
import os
import time

from store import JobSpec, Result, Spool, submit
from store.jobs.batches import GONE_AFTER
from store.jobs.claims import Claimant, Claims
from store.jobs.prune import prune
from store.jobs.retry import retry
from store.model import Heartbeat, decode_job
from store.runners import beat

from ..conftest import run_cf


def _claims(spool: Spool, runner: str = "r1") -> Claims:
    return Claims(spool, Claimant(runner, "otherhost", 1))


def _result(code: int = 0) -> Result:
    return Result(state="succeeded" if code == 0 else "failed", reason="exit", exit_code=code,
                  started_at=time.time(), finished_at=time.time(), runner="r1", host="otherhost")


def _done_raw(spool: Spool, jid: str) -> dict:
    return json.loads(spool.find(jid).path.read_bytes())


def test_k_free_slots_claim_k_jobs_under_one_lock_within_the_queue_slots(spool: Spool) -> None:
    spool.update_queue("default", "set", slots=3)
    ids = submit(spool, [JobSpec(command=["x"]) for _ in range(5)])
    got = _claims(spool).claim_next("default", limit=4)
    assert [j.id for j in got.jobs] == ids[:3] and got.job is not None and got.job.id == ids[0]
    assert _claims(spool, "r2").claim_next("default", limit=4).status == "full"


def test_nothing_is_published_before_its_flush_and_every_reader_sees_the_result(spool: Spool) -> None:
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and c.journal_result(job, _result(3))
    assert c.publish_results(0) == []  # not flushed: still running/
    assert spool.find(jid).state == "running"
    assert c.claim_next("default").status == "empty"  # its slot is free already
    durable = c.flush_results()
    ((_, _, state),) = c.publish_results(durable)
    assert state == "failed" and spool.find(jid).state == "failed"
    assert _done_raw(spool, jid).get("result") is None  # renamed unchanged: the result is in the journal
    assert spool.read(spool.find(jid)).result.exit_code == 3  # type: ignore[union-attr]
    shown = json.loads(run_cf(spool, "show", jid, "--json", check=True).stdout)
    assert shown["result"]["exit_code"] == 3
    listed = json.loads(run_cf(spool, "ls", "--state", "all", "--json", check=True).stdout)
    assert [j["result"]["exit_code"] for j in listed] == [3]
    c.fold_results()
    assert _done_raw(spool, jid)["result"]["exit_code"] == 3
    assert not spool.layout.runner_results("r1").exists()  # emptied once folded
    c.close()


def test_retry_and_prune_of_a_job_whose_result_is_not_folded(spool: Spool) -> None:
    a, b = submit(spool, [JobSpec(command=["x"]), JobSpec(command=["y"])])
    c = _claims(spool)
    for _ in range(2):
        job = c.claim_next("default").job
        assert job is not None and c.journal_result(job, _result(1 if job.id == a else 0))
    c.publish_results(c.flush_results())
    retry(spool, a)
    again = spool.read(spool.find(a))
    assert again.attempt == 2 and again.history[-1].exit_code == 1  # the journaled result went into history
    os.utime(spool.find(b).path, (1, 1))
    assert prune(spool, older_than=60) == 1
    c.fold_results()  # both gone from done/: nothing to fold, the journal is emptied
    assert not spool.layout.runner_results("r1").exists()


def test_a_lost_runners_flushed_result_finishes_its_job_and_its_journal_is_folded(spool: Spool) -> None:
    a, b = submit(spool, [JobSpec(command=["x"]), JobSpec(command=["y"])])
    ghost = _claims(spool, "ghost")
    beat(spool, Heartbeat(id="ghost", host="elsewhere", pid=1, queues=["default"], slots=2, lease=1.0))
    ja = ghost.claim_next("default").job
    jb = ghost.claim_next("default").job
    assert ja and jb and ghost.journal_result(ja, _result(0)) and ghost.journal_result(jb, _result(5))
    durable = ghost.flush_results()
    ghost.publish_results(durable)  # a published ...
    assert spool.find(a).state == "succeeded"
    # ... and b: its line is durable but it died before renaming it (simulated: moved back)
    done_b = spool.find(b).path
    os.rename(done_b, spool.layout.running("default") / f"{b}.ghost.job")
    t = time.time() - 10
    os.utime(spool.layout.runner("ghost"), (t, t))
    me = _claims(spool, "me")
    (got,) = me.recover_lost(grace=5)
    assert got.job_id == b and got.outcome == "finished"
    assert spool.read(spool.find(b)).result.exit_code == 5  # type: ignore[union-attr]
    # Lost by its beat, but perhaps only frozen on its host: it could wake and append, so
    # its journal stays (readers use it) until it is gone for certain.
    assert me.fold_gone_journals(grace=5) == 0 and spool.layout.runner_results("ghost").exists()
    t = time.time() - 2 * GONE_AFTER
    os.utime(spool.layout.runner("ghost"), (t, t))
    assert me.fold_gone_journals(grace=5) == 1  # a's result, into its file
    assert not spool.layout.runner_results("ghost").exists()
    assert decode_job(spool.find(a).path.read_bytes()).result.state == "succeeded"  # type: ignore[union-attr]


def test_a_fold_keeps_a_finish_hooks_outcome_written_before_it(spool: Spool) -> None:
    """A hook may finish before the runner folds: its outcome (written with the result
    taken from the journal) stays; the fold does not replace the file with its own copy."""
    from store.jobs.annotate import record_hook
    from store.model import HookOutcome

    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and c.journal_result(job, _result(0))
    c.publish_results(c.flush_results())
    assert record_hook(spool, "default", jid, HookOutcome(command="notify", exit_code=0, attempt=1))
    c.fold_results()
    raw = _done_raw(spool, jid)
    assert raw["hook"]["command"] == "notify" and raw["result"]["state"] == "succeeded"


def test_a_dependent_is_released_when_its_dependencys_result_is_published(spool: Spool) -> None:
    """Group commit publishes results in batches, not through finish(): the jobs waiting
    on one are released all the same."""
    (jid,) = submit(spool, [JobSpec(command=["x"])])
    (dep,) = submit(spool, [JobSpec(command=["y"], after=[jid])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and job.id == jid and c.journal_result(job, _result(0))
    assert c.claim_next("default").status != "claimed"  # the dependent waits
    c.publish_results(c.flush_results())
    got = c.claim_next("default").job
    assert got is not None and got.id == dep


def test_a_lock_that_times_out_while_publishing_leaves_the_result_to_finish(spool: Spool, monkeypatch) -> None:
    """A queue lock held too long when a batch is published is not the runner's end: the
    jobs come back to be recorded the slow way (finish), nothing lost."""
    from store.errors import LockTimeout

    (jid,) = submit(spool, [JobSpec(command=["x"])])
    c = _claims(spool)
    job = c.claim_next("default").job
    assert job is not None and c.journal_result(job, _result(0))
    durable = c.flush_results()

    def held_elsewhere(queue: str):
        raise LockTimeout(f"queue {queue} is locked by someone else")

    monkeypatch.setattr(c, "lock", held_elsewhere)
    ((_, _, state),) = c.publish_results(durable)
    assert isinstance(state, LockTimeout) and spool.find(jid).state == "running"
    monkeypatch.undo()
    assert c.finish(job, _result(0)) == "succeeded" and spool.find(jid).state == "succeeded"


def test_a_new_journals_name_is_flushed_with_its_first_lines(spool: Spool, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """fdatasync makes a new file's lines durable, not its name: the first flush after the
    journal is made (again, after a fold emptied it) flushes runners/ too, later ones not."""
    from store import atomic
    from store.results import Entry, ResultsJournal

    synced: list[str] = []
    real = atomic.fsync_dir
    monkeypatch.setattr(atomic, "fsync_dir", lambda p: (synced.append(str(p)), real(p)))
    journal = ResultsJournal(spool.layout.runner_results("r1"), spool.layout.tmp)
    entry = Entry("0" * 26, "default", 1, Result(state="succeeded", reason="exit", exit_code=0))
    runners = str(spool.layout.runners)
    journal.add(entry)
    journal.flush()
    assert synced.count(runners) == 1
    journal.add(entry)
    journal.flush()
    assert synced.count(runners) == 1
    journal.rewrite([])  # folded: the journal is removed
    journal.add(entry)
    journal.flush()
    assert synced.count(runners) == 2
    journal.close()
