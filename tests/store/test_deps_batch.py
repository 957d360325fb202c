"""`submit --jsonl` pipelines: "step" and "after": ["@step"] name earlier lines of the
batch, which stays all or nothing (issue 11 item 5, store side through the real CLI)."""

from __future__ import annotations

import json

from store import Spool
from store.states import State
from tests.conftest import run_cf


def lines(*objs: dict) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objs).encode()


def test_jsonl_steps_refer_to_earlier_lines(spool: Spool) -> None:
    out = run_cf(spool, "submit", "--jsonl", "-", input=lines(
        {"command": ["make"], "step": "build"},
        {"command": ["make", "test"], "step": "test", "after": ["@build"]},
        {"command": ["./deploy"], "after": ["@test"], "after_finished": ["@build"]}), check=True)
    build, test, deploy = out.stdout.split()
    assert spool.show(test).job.after == [build] and spool.show(test).job.step == "test"
    assert spool.show(deploy).job.after == [test] and spool.show(deploy).job.after_finished == [build]
    assert spool.find(deploy).pending.blocked and spool.show(deploy).state == State.PENDING


def test_a_bad_reference_refuses_the_whole_batch_naming_its_line(spool: Spool) -> None:
    out = run_cf(spool, "submit", "--jsonl", "-", input=lines(
        {"command": ["make"], "step": "build"},
        {"command": ["make", "test"], "after": ["@tests"]}))
    assert out.returncode == 1
    assert "line 2" in out.stderr and "'tests'" in out.stderr and "nothing was queued" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert spool.pending("default") == []


def test_a_failed_dependency_refuses_the_submit_in_one_line(spool: Spool) -> None:
    (a,) = run_cf(spool, "submit", "--", "true", check=True).stdout.split()
    run_cf(spool, "cancel", a, check=True)
    out = run_cf(spool, "submit", "--jsonl", "-", input=lines({"command": ["true"], "after": [a]}))
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert f"cannot wait for job {a} to succeed: it already cancelled" in out.stderr
    ok = run_cf(spool, "submit", "--jsonl", "-", input=lines({"command": ["true"], "after_finished": [a]}))
    assert ok.returncode == 0
