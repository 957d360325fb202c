"""The trigger daemon: `coreflow triggers run`.

Follows `triggers/` (a file added, changed or removed takes effect at the next tick,
no restart), fires schedules when their slot comes, and fires watch triggers once
per debounced burst. A bad trigger file is reported once and skipped; a trigger
whose firing fails is reported and retried a little later; the others go on.
Every spool change goes through `store.triggers`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from store import Spool, SpoolError
from store import atomic
from store.mounts import choose_mode
from store.triggers import daemons
from store.triggers import (
    Fired,
    TriggerDef,
    arm_or_fire_schedule,
    catch_up_watch,
    file_key,
    fire_git,
    fire_watch,
    load_trigger,
    read_state,
    recover,
    slot_at_or_before,
    trigger_files,
)

from ..ops.journal import log_line
from .watch import Burst, InotifyWatcher, PollWatcher, RefsGate, Watcher

RETRY_AFTER = 5.0  # seconds before a trigger whose firing failed (or whose file is bad) is tried again
REFS_EVERY = 10.0  # a git trigger reads its refs at least this often, even when its gate saw nothing


def _stderr(msg: str) -> None:
    # log_line makes msg inert: it may quote a trigger file, a changed path or a job name
    print(log_line("triggers", msg), file=sys.stderr, flush=True)


@dataclass
class _Entry:
    d: TriggerDef | None
    key: tuple[int, int, int] | None
    error: str | None = None
    retry_at: float = 0.0  # after a failure, not before this
    last_slot: float | None = None  # cached from the state file, to skip reading it every tick
    burst: Burst | None = None
    watcher: Watcher | None = None
    watch_error: str | None = field(default=None)
    gate: RefsGate | None = None  # git: whether the refs may have moved
    refs_at: float = 0.0  # git: when to read the refs even if the gate saw nothing
    caught_up: bool = False  # watch: compared with its mark since loading


class TriggerDaemon:
    def __init__(self, spool: Spool, *, clock: Callable[[], float] = time.time,
                 log: Callable[[str], None] = _stderr, watch_mode: str | None = None,
                 poll_interval: float = 1.0, start_watchers: bool = True) -> None:
        self.spool = spool
        self.clock = clock
        self.log = log
        self.watch_mode = choose_mode(spool.root, watch_mode)
        self.poll_interval = poll_interval
        self.start_watchers = start_watchers
        self.entries: dict[str, _Entry] = {}

    # -- following triggers/ -------------------------------------------------------

    def refresh(self) -> None:
        """Load added and changed trigger files, drop removed ones, retry bad ones."""
        now = self.clock()
        files = trigger_files(self.spool)
        for name in [n for n in self.entries if n not in files]:
            self._drop(name)
            self.log(f"{name}: removed (its file is gone)")
        for name, path in files.items():
            key = file_key(path)
            e = self.entries.get(name)
            if e is not None and e.key == key and (e.error is None or now < e.retry_at):
                continue
            try:
                d = load_trigger(self.spool, name, path)
            except SpoolError as exc:
                msg = str(exc)
                if e is not None and e.watcher is not None:
                    self._stop_watch(e)
                if e is None or e.error != msg:
                    self.log(f"{msg}; skipped (the other triggers go on)")
                self.entries[name] = _Entry(None, key, msg, now + RETRY_AFTER)
                continue
            if e is not None and e.d is not None and e.key == key:
                continue
            if e is not None:
                self._stop_watch(e)
            what = "loaded" if e is None or e.d is None else "reloaded"
            self.log(f"{name}: {what} ({d.kind}: {d.describe()}{'' if d.enabled else ', disabled'})")
            entry = _Entry(d, key)
            self.entries[name] = entry
            try:
                if recover(self.spool, name):
                    self.log(f"{name}: placed the job of a firing a crash interrupted")
            except SpoolError as exc:
                self.log(f"{name}: {exc}")
            if d.by_files and d.enabled:
                entry.burst = Burst(d.debounce)
                if self.start_watchers:
                    self._start_watch(name, entry)

    def _drop(self, name: str) -> None:
        e = self.entries.pop(name)
        self._stop_watch(e)

    def _start_watch(self, name: str, e: _Entry) -> None:
        assert e.d is not None and e.burst is not None
        burst = e.burst

        def on_paths(paths: list[str]) -> None:
            burst.add(paths, self.clock())

        def on_status(msg: str | None) -> None:
            if msg is not None:
                self.log(f"{name}: {msg}")
            elif e.watch_error is not None:
                self.log(f"{name}: watching {e.d.watch_path if e.d else ''} again")
            e.watch_error = msg

        lay = self.spool.layout
        ignore = lay.top_dirs()
        if self.watch_mode == "poll":
            e.watcher = PollWatcher(e.d, on_paths, on_status, ignore, interval=self.poll_interval)
        else:
            e.watcher = InotifyWatcher(e.d, on_paths, on_status, ignore)
        e.watcher.start()

    def _stop_watch(self, e: _Entry) -> None:
        if e.watcher is not None:
            e.watcher.stop()
            e.watcher = None

    def watch_event(self, name: str, paths: list[str], at: float | None = None) -> None:
        """Feed changed paths to a watch trigger (what its watcher does; tests call it too)."""
        e = self.entries.get(name)
        if e is not None and e.burst is not None:
            e.burst.add(paths, self.clock() if at is None else at)

    # -- firing --------------------------------------------------------------------

    def tick(self) -> list[Fired]:
        """Fire what is due now; returns what fired (and schedule slots skipped)."""
        now = self.clock()
        out: list[Fired] = []
        for name, e in list(self.entries.items()):
            d = e.d
            if d is None or not d.enabled or now < e.retry_at:
                continue
            try:
                fired = self._tick_one(name, e, d, now)
            except SpoolError as exc:
                e.retry_at = now + RETRY_AFTER
                msg = f"{name}: could not fire: {exc}"
                if msg != e.error:
                    self.log(msg + f" (trying again in {RETRY_AFTER:g}s)")
                e.error = msg
                continue
            if e.error is not None:
                e.error = None
            for f in fired:
                out.append(f)
                self._report(f)
        return out

    def _tick_one(self, name: str, e: _Entry, d: TriggerDef, now: float) -> list[Fired]:
        if d.by_clock:
            if e.last_slot is not None and slot_at_or_before(d, now) <= e.last_slot:
                return []
            fired = arm_or_fire_schedule(self.spool, d, now)
            e.last_slot = read_state(self.spool, name).last_slot
            return [fired] if fired else []
        if d.by_refs and d.git_dir is not None:
            if e.gate is None:
                e.gate = RefsGate(d.git_dir)  # primed before the first read: nothing slips between
            elif not e.gate.moved() and now < e.refs_at:
                return []
            e.refs_at = now + REFS_EVERY
            return fire_git(self.spool, d, now)
        if d.by_files and e.burst is not None:
            if not e.caught_up:  # what changed while no daemon watched (after the watcher started)
                caught = catch_up_watch(self.spool, d, [str(p) for p in self.spool.layout.top_dirs()], now)
                e.caught_up = True
                if caught is not None:
                    return [caught]
            paths = e.burst.take(now)
            if paths:
                try:
                    fired = fire_watch(self.spool, d, paths, now)
                except SpoolError:
                    e.burst.add(paths, now)  # keep the burst for the retry
                    raise
                return [fired] if fired else []
        return []

    def _report(self, f: Fired) -> None:
        if f.job_id is None:
            self.log(f"{f.trigger}: {f.detail}")
            return
        more = f" and {len(f.job_ids) - 1} more (a pipeline)" if len(f.job_ids) > 1 else ""
        self.log(f"{f.trigger}: fired, job {f.job_id}{more}" + (f" replacing {f.replaced}" if f.replaced else "")
                 + f" ({f.detail})")

    # -- running -------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 0.25) -> None:
        """Refresh and tick until `stop` is set, beating (store/triggers/daemons.py) as it goes."""
        self.log(f"following {self.spool.layout.triggers} (watch mode: {self.watch_mode})")
        beat_file, beat_at, beat_failing = daemons.beat_file(self.spool), 0.0, False
        daemons.forget_dead(self.spool)
        try:
            while True:
                if time.monotonic() >= beat_at:  # first: a long tick (a big catch-up walk) is no silence
                    beat_at = time.monotonic() + daemons.BEAT
                    try:
                        daemons.beat(beat_file)
                        beat_failing = False
                    except SpoolError as exc:
                        if not beat_failing:  # once, not every beat
                            self.log(f"{exc} (doctor will say no daemon runs)")
                        beat_failing = True
                try:
                    self.refresh()
                except SpoolError as exc:
                    self.log(f"cannot read the triggers: {exc}")
                self.tick()
                if stop.wait(interval):
                    break
        finally:
            self.close()
            atomic.unlink_quietly(beat_file)

    def close(self) -> None:
        for e in self.entries.values():
            self._stop_watch(e)
