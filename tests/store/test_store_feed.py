"""The change feed in both modes: inotify locally, directory-mtime polling across hosts."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from store import Heartbeat, Spool, Where, move, submit
from store.jobs.submit import JobSpec
from store.errors import ConfigError
from store.feed import Change, Feed
from store.mounts import choose_mode, needs_polling
from store.runners import beat


@contextmanager
def following(feed: Feed) -> Iterator[Callable[[Callable[[Change], bool], float], Change]]:
    """Run feed.iterate in a thread; yield wait(pred, timeout) -> the first matching Change."""
    stop = threading.Event()
    got: queue.Queue[Change] = queue.Queue()
    ready = threading.Event()

    def run() -> None:
        ready.set()
        for change in feed.iterate(stop):
            got.put(change)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait()
    time.sleep(0.3)  # let the watcher take its first look before anything changes

    def wait(pred: Callable[[Change], bool], timeout: float) -> Change:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                change = got.get(timeout=left)
            except queue.Empty:
                break
            if pred(change):
                return change
        raise AssertionError(f"no matching change within {timeout}s")

    try:
        yield wait
    finally:
        stop.set()
        t.join(timeout=10)


def test_inotify_feed_reports_each_kind_of_change(spool: Spool) -> None:
    spool.add_queue("build")
    feed = Feed(spool, mode="inotify", rescan=600)
    assert feed.mode == "inotify" and feed.describe() == "live"
    with following(feed) as wait:
        (job,) = submit(spool, [JobSpec(command=["true"], queue="build")])
        assert "build" in wait(lambda c: bool(c.queues), 5).queues
        move(spool, job, Where("queue", other="default"))
        assert {"build", "default"} <= wait(lambda c: "default" in c.queues, 5).queues | {"build"}
        beat(spool, Heartbeat(id="r1", host="h", pid=1, queues=["default"], slots=1))
        assert wait(lambda c: c.runners, 5)
        spool.update_queue("build", "pause", paused=True)
        assert wait(lambda c: "build" in c.queues, 5)


def test_tmp_logs_and_audit_are_not_changes(spool: Spool) -> None:
    feed = Feed(spool, mode="inotify", rescan=600)
    assert not feed.classify({str(spool.root / "tmp" / "x")}).queues
    assert feed._ignored(str(spool.layout.tmp / "123.abc.host.w"))
    assert feed._ignored(str(spool.layout.log("x")))
    assert feed._ignored(str(spool.layout.queue_lock("default")))
    assert feed._ignored(str(spool.layout.pending("default") / ".nfs0001"))
    c = feed.classify({str(spool.layout.pending("default") / "x.job"), str(spool.layout.corrupt / "y")})
    assert c.queues == {"default"} and c.corrupt and not c.runners


def test_modes_are_chosen_by_filesystem_and_overridable(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    assert needs_polling("nfs4") and needs_polling("fuse.bindfs") and needs_polling("cifs")
    assert not needs_polling("ext4") and not needs_polling("tmpfs") and not needs_polling("fusectl-ish")
    assert choose_mode(spool.root, "poll") == "poll"
    monkeypatch.setenv("COREFLOW_WATCH", "poll")
    assert Feed(spool).mode == "poll" and Feed(spool, interval=2).describe() == "polling 2 s"
    with pytest.raises(ConfigError, match="auto, inotify or poll"):
        choose_mode(spool.root, "sometimes")


def test_poll_feed_reports_each_kind_of_change_and_not_the_machinery(spool: Spool) -> None:
    """The feed's polling is store/watch.py's DirPoller: same Changes as inotify, no
    Change for a log line or a lock file."""
    spool.add_queue("build")
    feed = Feed(spool, mode="poll", interval=0.05, rescan=600)
    with following(feed) as wait:
        spool.layout.log("x").parent.mkdir(parents=True, exist_ok=True)
        spool.layout.log("x").write_text("output")
        (spool.layout.pending("build") / ".lock").write_text("")
        with pytest.raises(AssertionError, match="no matching change"):
            wait(lambda c: bool(c), 0.5)
        (job,) = submit(spool, [JobSpec(command=["true"], queue="build")])
        assert "build" in wait(lambda c: bool(c.queues), 5).queues
        beat(spool, Heartbeat(id="r1", host="h", pid=1, queues=["default"], slots=1))
        assert wait(lambda c: c.runners, 5)
        spool.update_queue("build", "pause", paused=True)
        assert wait(lambda c: "build" in c.queues, 5)


def test_poll_feed_stats_directories_only(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    submit(spool, [JobSpec(command=["true"]) for _ in range(50)])
    import store.watch as watch_mod

    seen: list[str] = []
    real = watch_mod.os.stat
    poller = Feed(spool, mode="poll").poller()
    monkeypatch.setattr(watch_mod.os, "stat", lambda p, *a, **k: seen.append(str(p)) or real(p, *a, **k))
    monkeypatch.setattr(poller, "_stat", lambda e: seen.append(e.path) or e.stat(follow_symlinks=False))
    poller.prime()
    primed = list(seen)
    assert all(Path(p).is_dir() for p in primed), "priming lists files but never stats them"
    seen.clear()
    assert poller.scan() == set()
    monkeypatch.undo()
    assert seen and all(Path(p).is_dir() for p in seen)
    assert len(seen) < 20


def test_polling_sees_a_change_made_through_the_other_host(two_hosts: tuple[Path, Path]) -> None:
    host_a, host_b = two_hosts
    a = Spool.init(host_a / "spool")
    b = Spool.open(host_b / "spool")
    assert choose_mode(b.root) == "poll", "a FUSE view must be polled"
    feed = Feed(b, mode="poll", interval=0.2, rescan=600)
    with following(feed) as wait:
        (job,) = submit(a, [JobSpec(command=["true"])])
        assert "default" in wait(lambda c: bool(c.queues), 5).queues
        a.add_queue("late")
        assert "late" in wait(lambda c: "late" in c.queues, 5).queues | set()
        move(a, job, Where("queue", other="late"))
        assert wait(lambda c: "late" in c.queues, 5)
    assert b.find(job).queue == "late"


def test_inotify_does_not_see_the_other_host(two_hosts: tuple[Path, Path]) -> None:
    """Why polling exists: a change through hostA raises no event on hostB's view."""
    host_a, host_b = two_hosts
    a = Spool.init(host_a / "spool")
    b = Spool.open(host_b / "spool")
    with following(Feed(b, mode="inotify", rescan=600)) as wait:
        submit(a, [JobSpec(command=["true"])])
        with pytest.raises(AssertionError, match="no matching change"):
            wait(lambda c: bool(c.queues), 1.5)
