"""`coreflow show` and the TUI's detail pane tell a job with the same facts, in the same words
(coreflow_tui/present.py); they had drifted: "waits"/"waiting", no owner or age in `show`."""

from __future__ import annotations

import json
import time

import msgspec
from clihelp import run

from coreflow_tui.present import facts
from coreflow_tui.tui.readmodel import load_detail, load_queue
from store import JobSpec, Spool, submit
from store.jobs.submit import build_job, place


def test_show_and_the_detail_pane_give_the_same_facts(spool: Spool) -> None:
    spool.layout.types.write_text('[build]\ndescription = "Compile a branch"\nowner = "ci-team@example.com"\n')
    submit(spool, [JobSpec(command=["true"], type="build", name="first")])
    (jid,) = submit(spool, [JobSpec(command=["make", "-j4"], type="build", name="second", labels={"pr": "7"})])

    out = run(spool.root, "show", jid)
    assert out.returncode == 0
    shown = [line.split("  ", 1) for line in out.stdout.splitlines()]

    rows = load_queue(spool, "default", None)
    view = spool.show(jid)
    ref = next(r for r in spool.refs("default", {"pending"}) if r.id == jid)
    tui = facts(load_detail(spool, ref, view.position, rows, time.time()))

    assert [k.strip() for k, _ in shown] == [f.key for f in tui]
    assert {"owner", "waiting", "expected"} <= {f.key for f in tui}
    values = dict((k.strip(), v.strip()) for k, v in shown)
    assert values["owner"] == "ci-team@example.com" and values["state"] == "pending, position 2"
    assert " ago) by " in values["submitted"]


def test_a_jobs_inputs_and_step_are_shown(spool: Spool) -> None:
    """A trigger's values (the commit a build is for) are shown, not only given to the job."""
    job = build_job(spool, JobSpec(command=["make"], step="build"))
    commit = "7197382e64d8" + "0" * 28
    job = msgspec.structs.replace(job, params={"ref": "refs/heads/master", "new": commit, "trigger": "ci",
                                               "changes": "M a.c\nA b.c\nD \x1b[31mred"})
    place(spool, [job])
    out = run(spool.root, "show", job.id).stdout
    assert "step       build" in out
    assert f"input      new={commit}" in out and "input      ref=refs/heads/master" in out
    assert "input      changes=M a.c (+2 more lines)" in out
    assert "trigger=" not in out  # the trigger line says which trigger
    shown = json.loads(run(spool.root, "show", job.id, "--json").stdout)
    listed = json.loads(run(spool.root, "ls", "--json").stdout)[0]
    for j in (shown, listed):
        assert j["step"] == "build" and j["params"]["new"] == commit and j["params"]["changes"].endswith("red")
