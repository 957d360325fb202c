"""Watch triggers: paths inside .git (and other directories watchfiles' default filter
drops) are seen, what changed while no daemon ran fires once, {changes} says A/M/D."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from store import Spool
from store.doctor import diagnose
from store.errors import ConfigError
from store.triggers import load_trigger, load_triggers, read_state, save_trigger

from coreflow_tui.triggers.daemon import TriggerDaemon
from coreflow_tui.triggers.watch import PollWatcher

from .helpers import FakeClock, daemon, trigger_jobs


def _watch(spool: Spool, path: str, patterns: str = '["*"]', name: str = "w") -> None:
    save_trigger(spool, name, f'kind = "watch"\npath = "{path}"\npatterns = {patterns}\ndebounce = "0.2s"\n'
                              '[job]\nname = "build"\ncommand = ["make", "{changes}"]\n')


def _heads(spool: Spool) -> Path:
    heads = spool.root / "proj" / ".git" / "refs" / "heads"
    heads.mkdir(parents=True)
    (heads / "master").write_text("a" * 40 + "\n")
    return heads


def test_a_path_inside_git_is_watched_by_polling(spool: Spool) -> None:
    heads = _heads(spool)
    _watch(spool, "proj/.git/refs/heads")
    w = PollWatcher(load_trigger(spool, "w"), lambda _p: None, lambda _m: None)
    w.prime()
    (heads / "feature").write_text("b" * 40 + "\n")
    (heads / "__pycache__").mkdir()
    (heads / "__pycache__" / "x.pyc").write_text("noise below the watched directory is still noise")
    assert w.scan() == ["feature"]


def test_a_path_inside_git_is_watched_by_inotify(spool: Spool) -> None:
    heads = _heads(spool)
    _watch(spool, "proj/.git/refs/heads")
    d = TriggerDaemon(spool, log=lambda _m: None, watch_mode="inotify")
    stop = threading.Event()
    t = threading.Thread(target=d.run, args=(stop, 0.05), daemon=True)
    t.start()
    try:
        time.sleep(0.5)  # let the watcher start (inotify sees only what happens after)
        (heads / "master").write_text("c" * 40 + "\n")
        deadline = time.monotonic() + 10
        while not trigger_jobs(spool, "w") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(5)
    (job,) = trigger_jobs(spool, "w")
    assert job.job.command == ["make", "M master"]


def test_a_trigger_that_can_never_fire_is_refused_at_load(spool: Spool) -> None:
    (spool.root / "src").mkdir()
    with pytest.raises(ConfigError, match=r"patterns: .*can never fire"):
        _watch(spool, "src", '["*.pyc", "*~"]')
    with pytest.raises(ConfigError, match=r"path: .*the spool's own queues/"):
        _watch(spool, "queues/default")
    # A file written by hand is not saved through save_trigger: ls and doctor say it is broken.
    spool.layout.trigger("never").write_text('kind = "watch"\npath = "src"\npatterns = ["*.swp"]\n'
                                             '[job]\ncommand = ["make"]\n')
    assert "can never fire" in load_triggers(spool).errors["never"]
    assert any(f.level == "error" and "trigger never" in f.what for f in diagnose(spool.root))


def test_changes_while_no_daemon_ran_fire_once_when_one_starts(spool: Spool) -> None:
    src = spool.root / "src"
    src.mkdir()
    for name in ("keep.c", "edit.c", "gone.c"):
        (src / name).write_text("1")
    _watch(spool, "src", '["*.c"]')
    clock = FakeClock()
    assert daemon(spool, clock).tick() == []  # the first look takes the mark
    assert set(read_state(spool, "w").files or {}) == {"keep.c", "edit.c", "gone.c"}
    (src / "edit.c").write_text("22")
    (src / "gone.c").unlink()
    (src / "new.c").write_text("3")
    (src / "notes.txt").write_text("not watched")
    later = daemon(spool, clock)
    (fired,) = later.tick()
    (job,) = trigger_jobs(spool, "w")
    assert job.job.command == ["make", "M edit.c", "D gone.c", "A new.c"]
    assert job.job.params["changed"] == "edit.c\ngone.c\nnew.c"
    assert job.job.params["changes"] == "M edit.c\nD gone.c\nA new.c"
    assert job.job.trigger.detail.startswith("changed while no daemon watched: edit.c, gone.c, new.c")
    clock.advance(5)
    assert later.tick() == [] and daemon(spool, clock).tick() == []


def test_a_burst_says_added_modified_deleted(spool: Spool) -> None:
    src = spool.root / "src"
    src.mkdir()
    (src / "a.c").write_text("1")
    (src / "b.c").write_text("1")
    _watch(spool, "src", '["*.c"]')
    clock = FakeClock()
    d = daemon(spool, clock)
    d.tick()
    (src / "a.c").write_text("22")
    (src / "b.c").unlink()
    (src / "c.c").write_text("3")
    d.watch_event("w", ["a.c", "b.c", "c.c"])
    clock.advance(1)
    d.tick()
    (job,) = trigger_jobs(spool, "w")
    assert job.job.command == ["make", "M a.c", "D b.c", "A c.c"]
    assert set(read_state(spool, "w").files or {}) == {"a.c", "c.c"}  # the mark follows the firing
    assert daemon(spool, clock).tick() == []  # so a restart has nothing to catch up


def test_new_patterns_take_a_new_mark_without_firing(spool: Spool) -> None:
    src = spool.root / "src"
    src.mkdir()
    (src / "a.c").write_text("1")
    (src / "a.h").write_text("1")
    _watch(spool, "src", '["*.c"]')
    clock = FakeClock()
    daemon(spool, clock).tick()
    _watch(spool, "src", '["*.c", "*.h"]')
    assert daemon(spool, clock).tick() == []
    assert set(read_state(spool, "w").files or {}) == {"a.c", "a.h"}


def test_a_tree_too_big_for_a_mark_says_so_once_and_still_fires(spool: Spool, monkeypatch) -> None:
    import store.triggers.watchmarks as watchmarks

    monkeypatch.setattr(watchmarks, "MAX_MARK_FILES", 2)
    src = spool.root / "src"
    src.mkdir()
    for name in ("a.c", "b.c", "c.c"):
        (src / name).write_text("1")
    _watch(spool, "src", '["*.c"]')
    clock = FakeClock()
    logs: list[str] = []
    d = daemon(spool, clock, logs)
    assert [f.job_id for f in d.tick()] == [None]
    assert any("too many files to keep a mark" in m for m in logs)
    assert daemon(spool, clock).tick() == []  # said once, not at every start
    (src / "a.c").write_text("22")
    d.watch_event("w", ["a.c"])
    clock.advance(1)
    (fired,) = d.tick()
    assert spool.show(fired.job_id).job.command == ["make", "M a.c"]
