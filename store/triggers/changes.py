"""Firing on changes: a watch trigger's burst of changed files, and a git trigger's
moved refs. Each trigger's state keeps a mark of what it has seen (the watched files'
mtimes and sizes, the refs' commits), so what changed while no daemon ran fires once
when one starts, and two daemons (two hosts) seeing one change fire it once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from ..errors import StorageError
from ..model import Trigger
from ..spool import Spool
from .definition import TriggerDef, TriggerState
from .firing import Fired, clip, fire_locked, read_state, recover_locked, trigger_lock, write_state
from .gitrefs import read_refs, ref_updates, selected
from .kinds import ref_range
from .schedules import fmt_time
from .watchmarks import changes_text, classify, differences, mark_of, stat_entry, walk


def _newest_mtime(d: TriggerDef, changed: Iterable[str]) -> int:
    """The newest mtime of the paths and of their directories (a create, delete or rename bumps it)."""
    assert d.watch_path is not None
    mark = 0
    for rel in changed:
        p = d.watch_path / rel
        for cand in (p, p.parent):
            try:
                mark = max(mark, os.lstat(cand).st_mtime_ns)
            except OSError:
                continue
    return mark


def _fire_changes(spool: Spool, d: TriggerDef, state: TriggerState, kinds: dict[str, str], detail: str,
                  now: float, **state_changes: Any) -> Fired:
    values = {"trigger": d.name, "fired_at": fmt_time(now, d.tz), "changed": list(kinds),
              "changes": changes_text(kinds), **d.spec.params}
    trig = Trigger(name=d.name, kind="watch", detail=clip(detail), fired_at=now)
    return fire_locked(spool, d, state, values, {}, trig, now, **state_changes)[0]


def _shown(paths: Sequence[str]) -> str:
    return ", ".join(paths[:10]) + (f" (+{len(paths) - 10} more)" if len(paths) > 10 else "")


def fire_watch(spool: Spool, d: TriggerDef, changed: Sequence[str], now: float | None = None) -> Fired | None:
    """Fire a watch trigger for a burst of changed paths (relative to its directory).

    Two daemons (two hosts) may see the same burst: the paths' newest mtime, by the
    filesystem's clock, is recorded, and a burst no newer than that was already fired.
    """
    now = time.time() if now is None else now
    assert d.watch_path is not None
    newest = _newest_mtime(d, changed)
    with trigger_lock(spool, d.name):
        state = recover_locked(spool, d.name, read_state(spool, d.name))
        if newest and newest <= state.watch_mark:
            return None
        marked = state.files if state.files_of == mark_of(d) else None
        kinds, entries = classify(d.watch_path, marked, changed)
        files = None
        if marked is not None:
            files = {k: v for k, v in marked.items() if k not in kinds}
            files.update(entries)
        return _fire_changes(spool, d, state, kinds, f"changed: {_shown(changed)}", now,
                             watch_mark=max(newest, state.watch_mark), files=files)


def catch_up_watch(spool: Spool, d: TriggerDef, ignore: Iterable[str] = (), now: float | None = None
                   ) -> Fired | None:
    """When a daemon starts watching: fire once for what changed since the trigger's
    mark (a first look only takes the mark). A Fired without a job says a tree is too
    big to keep a mark of."""
    now = time.time() if now is None else now
    assert d.watch_path is not None
    tree = walk(d, ignore)  # the slow part, outside the lock; what differs is checked again inside
    with trigger_lock(spool, d.name):
        state = recover_locked(spool, d.name, read_state(spool, d.name))
        if tree is None:
            if state.files is not None or not state.files_of:
                write_state(spool, d.name, msgspec.structs.replace(state, files=None, files_of="too many"))
                return Fired(d.name, None, "too many files to keep a mark: changes made while no daemon "
                                           "runs are not seen (narrow path or patterns)")
            return None
        if state.files is None or state.files_of != mark_of(d):
            write_state(spool, d.name, msgspec.structs.replace(state, files=tree, files_of=mark_of(d)))
            return None
        for rel in differences(state.files, tree):  # another daemon may have fired meanwhile
            entry = stat_entry(d.watch_path / rel)
            if entry is None:
                tree.pop(rel, None)
            else:
                tree[rel] = entry
        kinds = differences(state.files, tree)
        if not kinds:
            return None
        newest = _newest_mtime(d, kinds)
        detail = f"changed while no daemon watched: {_shown(list(kinds))}"
        return _fire_changes(spool, d, state, kinds, detail, now, files=tree,
                             watch_mark=max(newest, state.watch_mark))


def _refs(d: TriggerDef) -> dict[str, str]:
    assert d.git_dir is not None
    try:
        return selected(read_refs(d.git_dir), d.ref_patterns)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot read the refs of {d.git_dir}") from exc


def fire_git(spool: Spool, d: TriggerDef, now: float | None = None) -> list[Fired]:
    """Fire a git trigger once per selected ref that moved since its mark (a deleted
    ref only with on_delete); a first look only takes the mark."""
    now = time.time() if now is None else now
    if read_state(spool, d.name).refs == _refs(d):
        return []  # the common case, without the lock (other patterns change the selection too)
    out: list[Fired] = []
    with trigger_lock(spool, d.name):
        state = recover_locked(spool, d.name, read_state(spool, d.name))
        refs = _refs(d)
        refs_of = " ".join(d.ref_patterns)
        if state.refs is None or state.refs_of != refs_of:
            # A first look, or other patterns: refs it did not follow are taken as seen, not as new.
            first = state.refs is None
            seen = {r: (state.refs or {}).get(r, sha) for r, sha in refs.items()}
            state = msgspec.structs.replace(state, refs=seen, refs_of=refs_of)
            write_state(spool, d.name, state)
            if first:
                return out
        assert state.refs is not None
        for u in ref_updates(state.refs, refs):
            seen = {**state.refs, u.ref: u.new}
            if u.deleted:
                del seen[u.ref]
                if not d.on_delete:
                    state = msgspec.structs.replace(state, refs=seen)
                    write_state(spool, d.name, state)
                    continue
            values = {"trigger": d.name, "fired_at": fmt_time(now, d.tz), "ref": u.ref, "old": u.old,
                      "new": u.new, "deleted": "true" if u.deleted else "false", **d.spec.params}
            trig = Trigger(name=d.name, kind="git", detail=clip(ref_range(values)), fired_at=now)
            fired, state = fire_locked(spool, d, state, values, {}, trig, now, refs=seen)
            out.append(fired)
    return out
