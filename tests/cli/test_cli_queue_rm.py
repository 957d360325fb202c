"""Issue 10 item 10: `queue rm` refuses a queue that still has finished jobs unless --force."""

from __future__ import annotations

from clihelp import run

import store
from store import JobSpec, Spool
from tests.tui.sample import finish, start


def test_queue_rm_refuses_finished_jobs_unless_forced(spool: Spool) -> None:
    spool.add_queue("old")
    jid = store.submit(spool, [JobSpec(command=["true"], queue="old")])[0]
    start(spool, jid)
    finish(spool, jid, "succeeded", 0, 1, 1)
    out = run(spool.root, "queue", "rm", "old")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "1 finished job(s)" in out.stderr and "--force" in out.stderr
    assert "old" in spool.queue_names()
    out = run(spool.root, "queue", "rm", "old", "--force")
    assert out.returncode == 0, out.stderr
    assert "old" not in spool.queue_names()


def test_queue_rm_of_an_empty_queue_needs_no_force(spool: Spool) -> None:
    spool.add_queue("spare")
    assert run(spool.root, "queue", "rm", "spare").returncode == 0
