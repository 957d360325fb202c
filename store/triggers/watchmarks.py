"""What a watch trigger sees: which paths are its own, and the mark of what it has seen.

The mark (`TriggerState.files`) is every watched file's [mtime_ns, size], taken by
walking the directory once when a daemon loads the trigger and kept up to date by
each firing (for the burst's paths only). Comparing a fresh walk with it finds what
changed while no daemon ran: added, modified (another mtime or size), deleted.
Cost: one stat per watched file at each daemon start (the patterns select which),
about 40 bytes of state per file; MAX_MARK_FILES bounds it. Limits: a file rewritten
with the same size within the filesystem's mtime granularity, or one changed and
changed back (mtime restored) while no daemon ran, looks unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..watch import is_noise

if TYPE_CHECKING:
    from .definition import TriggerDef

MAX_MARK_FILES = 50_000  # past this a trigger keeps no mark: changes while no daemon ran are not seen
ADDED, MODIFIED, DELETED = "A", "M", "D"


def watched_rel(d: TriggerDef, path: str, ignore: Iterable[str] = ()) -> str | None:
    """`path` relative to the trigger's directory ("/"-separated) if the trigger watches
    it: under the directory, not spool machinery (`ignore`), not noise, and matching."""
    assert d.watch_path is not None
    if any(path == i or path.startswith(i + os.sep) for i in ignore):
        return None
    try:
        rel = os.path.relpath(path, d.watch_path)
    except ValueError:
        return None
    if rel.startswith(".." + os.sep) or rel in (".", "..") or is_noise(rel):
        return None
    if not d.recursive and os.sep in rel:
        return None
    rel = rel.replace(os.sep, "/")
    return rel if d.matches(rel) else None


def mark_of(d: TriggerDef) -> str:
    """What a mark was taken for: another path, patterns or recursion makes it stale."""
    return f"{d.watch_path}|{int(d.recursive)}|{'|'.join(d.patterns)}"


def walk(d: TriggerDef, ignore: Iterable[str] = ()) -> dict[str, list[int]] | None:
    """The mark of the watched files now; None if there are more than MAX_MARK_FILES."""
    assert d.watch_path is not None
    skip = tuple(ignore)
    out: dict[str, list[int]] = {}
    for top, dirs, files in os.walk(d.watch_path):
        if not d.recursive:
            dirs.clear()
        dirs[:] = [x for x in dirs if not _skipped(d, os.path.join(top, x), skip)]
        for name in files:
            path = os.path.join(top, name)
            rel = watched_rel(d, path, skip)
            if rel is None:
                continue
            entry = stat_entry(path)
            if entry is not None:
                out[rel] = entry
                if len(out) > MAX_MARK_FILES:
                    return None
    return out


def _skipped(d: TriggerDef, path: str, ignore: tuple[str, ...]) -> bool:
    assert d.watch_path is not None
    rel = os.path.relpath(path, d.watch_path)
    return is_noise(rel) or any(path == i or path.startswith(i + os.sep) for i in ignore)


def stat_entry(path: str | Path) -> list[int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def differences(seen: Mapping[str, list[int]], now: Mapping[str, list[int]]) -> dict[str, str]:
    """Path -> A, M or D between two marks."""
    out = {}
    for rel in sorted(seen.keys() | now.keys()):
        a, b = seen.get(rel), now.get(rel)
        if a != b:
            out[rel] = ADDED if a is None else DELETED if b is None else MODIFIED
    return out


def classify(root: Path, seen: Mapping[str, list[int]] | None, changed: Iterable[str]
             ) -> tuple[dict[str, str], dict[str, list[int]]]:
    """A burst's paths as {path: A|M|D} (by the mark: a file it did not have is added;
    without a mark, a file that exists is said to be modified), and the mark's entries."""
    kinds: dict[str, str] = {}
    entries: dict[str, list[int]] = {}
    for rel in changed:
        entry = stat_entry(root / rel)
        if entry is None:
            kinds[rel] = DELETED
        else:
            kinds[rel] = MODIFIED if seen is None or rel in seen else ADDED
            entries[rel] = entry
    return kinds, entries


def merge_changes(older: Mapping[str, str], newer: Mapping[str, str]) -> dict[str, str]:
    """Two firings' changes as one (a superseded job's carried into its successor):
    added then modified is added, added then deleted is gone, deleted then added is modified."""
    out = dict(older)
    for rel, kind in newer.items():
        before = out.get(rel)
        if before == ADDED and kind == DELETED:
            del out[rel]
        elif before == ADDED:
            continue
        elif before == DELETED and kind == ADDED:
            out[rel] = MODIFIED
        else:
            out[rel] = kind
    return dict(sorted(out.items()))


def changes_text(changes: Mapping[str, str]) -> list[str]:
    """{changes} entries: "A path", "M path", "D path"."""
    return [f"{kind} {rel}" for rel, kind in changes.items()]


def parse_changes(text: str) -> dict[str, str]:
    """The inverse of changes_text joined by newlines (a job's params["changes"])."""
    out = {}
    for line in text.splitlines():
        kind, _, rel = line.partition(" ")
        if kind in (ADDED, MODIFIED, DELETED) and rel:
            out[rel] = kind
    return out
