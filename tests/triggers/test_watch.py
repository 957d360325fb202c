"""Watch triggers: one firing per debounced burst, with the changed paths."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from store import Spool
from store.triggers import load_trigger, save_trigger

from coreflow_tui.triggers.daemon import TriggerDaemon
from coreflow_tui.triggers.watch import Burst, PollWatcher

from .helpers import T0, FakeClock, daemon, trigger_jobs


def _watch(spool: Spool, name: str = "src", debounce: str = "1s", coalesce: bool = False) -> Path:
    src = spool.root / "src"
    src.mkdir(exist_ok=True)
    save_trigger(spool, name, f'kind = "watch"\npath = "src"\npatterns = ["*.c", "*.h"]\ndebounce = "{debounce}"\n'
                              f'coalesce = {str(coalesce).lower()}\n[job]\nname = "build {{changed}}"\n'
                              'command = ["make", "{changed}"]\n')
    return src


def test_burst_waits_for_quiet_and_fires_once() -> None:
    b = Burst(quiet=1.0, longest=10.0)
    b.add(["a.c"], T0)
    b.add(["b.h"], T0 + 0.6)
    b.add(["a.c"], T0 + 1.2)
    assert b.take(T0 + 2.1) is None  # 0.9 s since the last change
    assert b.take(T0 + 2.2) == ["a.c", "b.h"]
    assert b.take(T0 + 9) is None


def test_burst_that_never_calms_down_still_fires() -> None:
    b = Burst(quiet=1.0, longest=5.0)
    for i in range(12):
        b.add([f"f{i}.c"], T0 + i * 0.5)
    assert b.take(T0 + 5.0) is not None


def test_one_job_per_burst_with_the_changed_paths(spool: Spool) -> None:
    src = _watch(spool)
    for name in ("a.c", "b.h"):
        (src / name).write_text("x")
    clock = FakeClock()
    d = daemon(spool, clock)
    d.watch_event("src", ["a.c"], T0)
    d.watch_event("src", ["b.h", "a.c"], T0 + 0.5)
    clock.t = T0 + 1.0
    assert d.tick() == []
    clock.t = T0 + 1.6
    fired = d.tick()
    assert len(fired) == 1
    clock.advance(5)
    assert d.tick() == []
    (job,) = trigger_jobs(spool, "src")
    assert job.job.command == ["make", "a.c", "b.h"]  # "{changed}" alone: one argument per path
    assert job.job.name == "build a.c b.h"
    assert job.job.trigger.kind == "watch"
    assert job.job.trigger.detail == "changed: a.c, b.h"
    # A second burst is a second job.
    (src / "c.c").write_text("y")
    d.watch_event("src", ["c.c"], clock.t)
    clock.advance(1.5)
    assert len(d.tick()) == 1
    assert len(trigger_jobs(spool, "src")) == 2


def test_a_burst_another_daemon_already_fired_is_not_fired_again(spool: Spool) -> None:
    """Two hosts watching one directory see the same burst: it is fired once."""
    src = _watch(spool)
    (src / "a.c").write_text("x")
    clock = FakeClock()
    a, b = daemon(spool, clock), daemon(spool, clock)
    for d in (a, b):
        d.watch_event("src", ["a.c"], T0)
    clock.advance(2)
    assert len(a.tick()) + len(b.tick()) == 1


def test_inotify_end_to_end(spool: Spool) -> None:
    """Real files, real inotify: a burst of writes is one job naming every file."""
    src = _watch(spool, debounce="0.3s")
    d = TriggerDaemon(spool, log=lambda _m: None, watch_mode="inotify")
    stop = threading.Event()
    t = threading.Thread(target=d.run, args=(stop, 0.05), daemon=True)
    t.start()
    try:
        time.sleep(0.5)  # let the watcher start (inotify sees only what happens after)
        for name in ("one.c", "two.h", "notes.txt", "one.c"):
            (src / name).write_text(name)
        deadline = time.monotonic() + 10
        while not trigger_jobs(spool, "src") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.6)  # a second (wrong) job would come within one more debounce
    finally:
        stop.set()
        t.join(5)
    (job,) = trigger_jobs(spool, "src")
    assert job.job.command == ["make", "one.c", "two.h"]


def test_polling_stats_directories_and_changed_entries_only(spool: Spool, monkeypatch) -> None:
    src = _watch(spool)
    (src / "sub").mkdir()
    (src / "a.c").write_text("1")
    (src / "sub" / "b.c").write_text("1")
    for i in range(50):
        (src / f"same{i}.c").write_text("unchanged")
    w = PollWatcher(load_trigger(spool, "src"), lambda _p: None, lambda _m: None)
    w.prime()
    assert w.scan() == []
    (src / "new.c").write_text("n")
    tmp = src / "sub" / ".b.c.swp"
    tmp.write_text("2")
    os.rename(tmp, src / "sub" / "b.c")  # an editor's save: rename over
    (src / "a.c").unlink()
    (src / "deeper").mkdir()
    (src / "deeper" / "x.h").write_text("x")
    dirs: list[str] = []
    entries: list[str] = []
    real_stat, real_entry_stat = os.stat, w.poller._stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: (dirs.append(str(p)), real_stat(p, *a, **k))[1])
    monkeypatch.setattr(w.poller, "_stat", lambda e: (entries.append(e.name), real_entry_stat(e))[1])
    changed = w.scan()
    monkeypatch.undo()
    assert changed == ["a.c", "deeper/x.h", "new.c", "sub/b.c"]
    assert dirs and all(Path(p).is_dir() for p in dirs)
    # Of the 50 unchanged files none was stat-ed: only what was new or replaced.
    assert sorted(entries) == ["b.c", "deeper", "new.c", "x.h"]
    # An edit in place moves no directory's mtime: only the slow full pass sees it.
    (src / "new.c").write_text("changed in place, longer")
    assert w.scan() == []
    assert w.scan(full=True) == ["new.c"]


def test_a_vanished_directory_is_reported_and_others_go_on(spool: Spool) -> None:
    src = _watch(spool)
    save_trigger(spool, "tick", 'kind = "schedule"\nevery = "10s"\n[job]\ncommand = ["true"]\n')
    logs: list[str] = []
    d = TriggerDaemon(spool, log=logs.append, watch_mode="poll", poll_interval=0.05)
    d.refresh()
    try:
        src.rmdir()
        deadline = time.monotonic() + 5
        while not any("does not exist" in m for m in logs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(m.startswith("src: ") and "path: directory" in m and "src.toml" in m for m in logs)
        assert "tick" in d.entries and d.entries["tick"].d is not None
    finally:
        d.close()
