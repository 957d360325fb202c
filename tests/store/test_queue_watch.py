"""The runner's change feed (store.feed.QueueWatch): a change to a queue it serves is
known at once, with no added step or debounce (inotify), or at the next poll."""

from __future__ import annotations

import os
import select

from store import JobSpec, Spool, submit
from store.feed import QueueWatch
from store.jobs.cancel import cancel


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_a_submit_makes_the_watch_readable_at_once(spool: Spool) -> None:
    w = QueueWatch(spool, mode="inotify")
    w.serve(["default"])
    fd = w.fileno()
    assert fd is not None and w.poll_due(0.0) is None
    assert not _readable(fd)
    submit(spool, [JobSpec(command=["true"])])
    assert _readable(fd), "no event at the moment of the submit's rename"
    change = w.read(0.0)
    assert change.queues == {"default"} and not change.full
    assert not _readable(fd)
    w.close()


def test_a_cancel_request_is_told_apart_from_other_changes(spool: Spool) -> None:
    (job,) = submit(spool, [JobSpec(command=["true"])])
    lay = spool.layout
    w = QueueWatch(spool, mode="inotify")
    w.serve(["default"])
    (name,) = os.listdir(lay.pending("default"))
    os.rename(lay.pending("default") / name, lay.running("default") / f"{job}.r1.job")
    assert w.cancel_asked(w.read(0.0)) == set()  # a claim: no cancel to look for
    assert cancel(spool, job) == "requested"
    assert w.cancel_asked(w.read(0.0)) == {"default"}
    w.close()


def test_polling_sees_a_change_at_the_next_poll_and_not_before(spool: Spool) -> None:
    w = QueueWatch(spool, mode="poll", interval=0.5)
    w.serve(["default"])
    assert w.fileno() is None and w.poll_due(10.0) == 0.0  # due at once: nothing polled yet
    assert not w.read(10.0)
    assert w.poll_due(10.0) == 10.5
    submit(spool, [JobSpec(command=["true"])])
    os.utime(spool.layout.pending("default"), ns=(1, 1))  # mtime granularity: make the change visible
    assert w.read(10.5).queues == {"default"}
    w.close()


def test_a_queue_added_is_a_full_change(spool: Spool) -> None:
    w = QueueWatch(spool, mode="inotify")
    w.serve(["default"])
    spool.add_queue("extra")
    assert w.read(0.0).full
    w.serve(["default", "extra"])
    submit(spool, [JobSpec(command=["true"], queue="extra")])
    assert w.read(0.0).queues == {"extra"}
    w.close()


def test_a_queue_made_after_the_watch_began_is_watched_once_it_exists(spool: Spool) -> None:
    w = QueueWatch(spool, mode="inotify")
    w.serve(["default", "later"])  # a runner serving every queue names it before it exists
    spool.add_queue("later")
    assert w.read(0.0).full
    w.serve(["default", "later"])
    submit(spool, [JobSpec(command=["true"], queue="later")])
    assert w.read(0.0).queues == {"later"}
    w.close()
