"""Issue 10 item 12: `coreflow set` edits a waiting job, audited; a new priority places it
as a submit would; a running or finished job is refused (exit 1, one line)."""

from __future__ import annotations

import msgspec
from clihelp import run

import store
from store import Edit, JobSpec, Spool
from tests.tui.sample import finish, start


def run_cf(spool: Spool, *args: str):  # noqa: ANN201
    return run(spool.root, *args)


def _submit(spool: Spool, name: str, priority: int = 0) -> str:
    return store.submit(spool, [JobSpec(command=["true"], name=name, priority=priority)])[0]


def names(spool: Spool) -> list[str]:
    views, _ = spool.jobs("default", {"pending", "held"})
    return [v.job.name for v in views]


def test_set_changes_fields_and_a_priority_places_it_as_a_submit_would(spool: Spool) -> None:
    _submit(spool, "a")
    _submit(spool, "b", priority=10)
    c = _submit(spool, "c")
    out = run_cf(spool, "set", c, "--priority", "high", "--name", "c2", "--label", "team=ci",
                 "--requires", "gpu", "--timeout", "5m")
    assert out.returncode == 0, out.stderr
    assert names(spool) == ["b", "c2", "a"]  # behind b (same priority), ahead of a
    job = spool.read(spool.find(c))
    assert (job.priority, job.labels, job.requires, job.timeout) == (10, {"team": "ci"}, ["gpu"], 300.0)
    audit = [a for a in spool.audit(c) if a.action == "set"]
    assert audit and "priority: 0 -> 10" in audit[0].detail and "name: 'c' -> 'c2'" in audit[0].detail


def test_set_keeps_a_held_job_held_and_a_label_can_be_removed(spool: Spool) -> None:
    a = store.submit(spool, [JobSpec(command=["true"], name="a", labels={"x": "1", "y": "2"})])[0]
    store.hold(spool, a)
    assert store.edit(spool, a, Edit(labels={"x": ""}, priority=5)) == 1
    view = spool.show(a)
    assert view.state == "held" and view.job.labels == {"y": "2"} and view.job.priority == 5


def test_set_refuses_a_running_and_a_finished_job(spool: Spool) -> None:
    run_id = _submit(spool, "r")
    done_id = _submit(spool, "d")
    start(spool, run_id, host="hostA")
    start(spool, done_id)
    finish(spool, done_id, "succeeded", 0, 1, 1)
    out = run_cf(spool, "set", run_id, "--priority", "1")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "already started on hostA" in out.stderr
    out = run_cf(spool, "set", done_id, "--name", "x")
    assert out.returncode == 1 and "already finished" in out.stderr
    assert spool.read(spool.find(run_id)).priority == 0


def test_set_usage_errors_exit_2(spool: Spool) -> None:
    a = _submit(spool, "a")
    for args in (["set", a], ["set", a, "--priority", "abc"], ["set", a, "--label", "nokey"],
                 ["set", a, "--timeout", "soon"]):
        out = run_cf(spool, *args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.count("\n") == 1
    assert msgspec.structs.asdict(spool.read(spool.find(a)))["name"] == "a"
