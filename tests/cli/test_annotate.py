"""Issue 11 item 0: `coreflow annotate KEY=VALUE...` from inside a running job (real
runners): its labels survive the runner's own rewrites of the running file, and
everything else is refused with one clear line."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from store import JobSpec, Spool, submit
from tests.conftest import run_cf
from tests.runner.conftest import job_of, start_runner, state_of, wait_for  # noqa: F401 (a fixture)

CF = f"{shlex.quote(sys.executable)} -m coreflow_tui"


def _labels_shown(spool: Spool, jid: str) -> dict[str, str]:
    listed = json.loads(run_cf(spool, "ls", "--state", "all", "--json", check=True).stdout)
    (mine,) = [j for j in listed if j["id"] == jid]
    shown = json.loads(run_cf(spool, "show", jid, "--json", check=True).stdout)
    assert shown["labels"] == mine["labels"]
    return mine["labels"]


def detail_facts(spool: Spool, jid: str) -> dict[str, str]:
    """What the TUI's detail pane shows of a job (the facts it renders, one key each)."""
    from coreflow_tui.present import facts
    from coreflow_tui.tui.readmodel import load_detail

    return {f.key: f.value for f in facts(load_detail(spool, spool.find(jid), None, None, time.time()))}


def test_a_job_annotates_itself_at_once_and_later_and_keeps_every_label(spool: Spool, start_runner,
                                                                      tmp_path: Path) -> None:
    # The first annotate lands before the runner writes the claim (50 ms), the last one
    # just before the job ends: both of the runner's rewrites must keep them.
    script = f"{CF} annotate commit=c0ffee && sleep 0.3 && {CF} annotate tests=12 commit=beef && echo ok"
    (jid,) = submit(spool, [JobSpec(command=script, shell=True, labels={"branch": "main"}, cwd=str(tmp_path))])
    r = start_runner(spool, "--drain")
    assert r.wait() == 0, r.stderr
    assert state_of(spool, jid) == "succeeded", job_of(spool, jid).result
    assert "taken over" not in r.stderr
    assert _labels_shown(spool, jid) == {"branch": "main", "commit": "beef", "tests": "12"}
    assert "commit=beef" in run_cf(spool, "show", jid, check=True).stdout
    assert "commit=beef" in detail_facts(spool, jid)["labels"]
    trail = json.loads(run_cf(spool, "show", jid, "--json", check=True).stdout)["audit"]
    assert [a["detail"] for a in trail if a["action"] == "annotate"] == ["commit=c0ffee", "tests=12 commit=beef"]


def test_annotate_with_a_job_id_from_outside_while_it_runs_then_after_it_ended(spool: Spool, start_runner,
                                                                              tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    (jid,) = submit(spool, [JobSpec(command=f"while [ ! -e {gate} ]; do sleep 0.05; done", shell=True)])
    start_runner(spool)
    wait_for("the job to run", lambda: state_of(spool, jid) == "running")
    time.sleep(0.2)  # the runner has written its claim: this rewrite comes after it
    assert run_cf(spool, "annotate", "--job", jid[-8:], "who=outside").returncode == 0
    gate.touch()
    wait_for("the job to end", lambda: state_of(spool, jid) == "succeeded")
    assert _labels_shown(spool, jid) == {"who": "outside"}
    late = run_cf(spool, "annotate", "--job", jid, "x=1", env={"COREFLOW_JOB_ID": ""})
    assert late.returncode == 1
    assert late.stderr == f"coreflow: cannot annotate job {jid}: it already finished (succeeded); " \
                          "a job annotates itself only while it runs\n"


def test_a_left_over_process_of_an_earlier_attempt_cannot_annotate_the_new_one(spool: Spool, start_runner,
                                                                               tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    (jid,) = submit(spool, [JobSpec(command=f"while [ ! -e {gate} ]; do sleep 0.05; done", shell=True)])
    start_runner(spool)
    wait_for("the job to run", lambda: state_of(spool, jid) == "running")
    got = run_cf(spool, "annotate", "x=1",
                 env={"COREFLOW_JOB_ID": jid, "COREFLOW_QUEUE": "default", "COREFLOW_ATTEMPT": "2"})
    gate.touch()
    assert got.returncode == 1 and "it now runs as attempt 1, not attempt 2" in got.stderr


def test_annotate_refuses_outside_a_job_bad_keys_and_oversized_values(spool: Spool) -> None:
    outside = run_cf(spool, "annotate", "x=1", env={"COREFLOW_JOB_ID": ""})
    assert outside.returncode == 2 and outside.stderr.count("\n") == 1
    assert "run it inside a job" in outside.stderr and "--job ID" in outside.stderr
    assert run_cf(spool, "annotate", "--job", "x" * 26, "Bad Key=1").returncode == 2
    assert run_cf(spool, "annotate", "--job", "x" * 26, "novalue").returncode == 2
    (jid,) = submit(spool, [JobSpec(command=["true"])])
    waiting = run_cf(spool, "annotate", "--job", jid, "k=v", env={"COREFLOW_JOB_ID": ""})
    assert waiting.returncode == 1 and "it is pending, not running" in waiting.stderr
    unknown = run_cf(spool, "annotate", "--job", "0" * 26, "k=v", env={"COREFLOW_JOB_ID": ""})
    assert unknown.returncode == 1


def test_annotate_keeps_to_the_label_limits(spool: Spool, start_runner, tmp_path: Path) -> None:
    big = "v" * 1001
    many = " ".join(f"k{i}=1" for i in range(70))
    script = (f"{CF} annotate big={big}; echo big=$?; {CF} annotate {many}; echo many=$?; "
              f"{CF} annotate fine=1; echo fine=$?")
    (jid,) = submit(spool, [JobSpec(command=script, shell=True, cwd=str(tmp_path))])
    assert start_runner(spool, "--drain").wait() == 0
    log = spool.layout.log(jid).read_text()
    assert "big=1" in log and "many=1" in log and "fine=0" in log, log
    assert "more than the limit of 1000" in log and "more than the limit of 64" in log
    assert job_of(spool, jid).labels == {"fine": "1"}


def test_the_runners_rewrites_keep_labels_added_before_and_after_its_claim_write(spool: Spool) -> None:
    """The store's side of the race, step by step: annotate lands before the runner writes
    its claim into the running file (a rewrite the runner did not make: still its job),
    then again before its finish (which staged the done file from its own copy)."""
    import os

    from store.jobs import claims as cl
    from store.jobs.annotate import annotate
    from store.model import Result

    (jid,) = submit(spool, [JobSpec(command=["true"], labels={"branch": "main"})])
    me = cl.Claims(spool, cl.Claimant("r1", "host", os.getpid()))
    job = me.claim_next("default").job
    assert job is not None
    annotate(spool, jid, {"commit": "c0ffee"}, "default", 1)  # the claim is not in the file yet
    me.record_claim(job)  # must not take the rewrite for another runner's takeover
    assert job_of(spool, jid).claim is not None and job_of(spool, jid).labels["commit"] == "c0ffee"
    annotate(spool, jid, {"tests": "12"}, "default", 1)
    assert me.finish(job, Result(state="succeeded", reason="exit", exit_code=0)) == "succeeded"
    me.close()
    assert job_of(spool, jid).labels == {"branch": "main", "commit": "c0ffee", "tests": "12"}


def test_annotate_holds_the_queue_lock_for_a_rename_not_a_flush_and_keeps_a_rewrite_made_meanwhile(
        spool: Spool, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Its fsync happens with the queue unlocked (claims and publishes of busy queues do
    not wait for it); a rewrite of the file between its read and its rename (the runner
    writing its claim) is seen, and the file read again, so neither change is lost."""
    import fcntl
    import os

    import msgspec

    from store import atomic
    from store.jobs import claims as cl
    from store.jobs.annotate import annotate

    (jid,) = submit(spool, [JobSpec(command=["true"])])
    me = cl.Claims(spool, cl.Claimant("r1", "host", os.getpid()))
    job = me.claim_next("default").job
    assert job is not None
    lock_file = os.open(spool.layout.queue_lock("default"), os.O_RDWR)
    real_stage, raced = atomic.stage, []

    def stage_then_race(tmp, data, hint="w", sync=True):  # type: ignore[no-untyped-def]
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free while annotate flushes
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        path = real_stage(tmp, data, hint, sync)
        if not raced:  # someone else rewrites the running file meanwhile
            raced.append(1)
            r = spool.find(jid)
            current, original = spool.load(r.path, jid, "default", "running")
            atomic.publish(spool.layout.tmp, r.path,
                           msgspec.json.encode(msgspec.structs.replace(current, labels={"by": "runner"})))
        return path

    monkeypatch.setattr(atomic, "stage", stage_then_race)
    annotate(spool, jid, {"commit": "c0ffee"}, "default", 1)
    os.close(lock_file)
    me.close()
    assert raced and job_of(spool, jid).labels == {"by": "runner", "commit": "c0ffee"}
