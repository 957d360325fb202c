"""`coreflow show` and the TUI's detail pane tell a job with the same facts, in the same words
(coreflow_tui/present.py); they had drifted: "waits"/"waiting", no owner or age in `show`."""

from __future__ import annotations

import time

from clihelp import run

from coreflow_tui.present import facts
from coreflow_tui.tui.readmodel import load_detail, load_queue
from store import JobSpec, Spool, submit


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
