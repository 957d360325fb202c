"""Listing a spool directory: names only (100,000-job queues), entries without dot files,
and a fast search of a listing. A directory that is not there lists as empty."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .errors import StorageError


def scan_dir(path: Path) -> list[os.DirEntry[str]]:
    """Directory entries, skipping dot files (NFS's .nfsXXXX, FUSE's .fuse_hidden, .lock)."""
    try:
        return [e for e in os.scandir(path) if not e.name.startswith(".")]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot list {path}") from exc


def list_names(path: str | Path) -> list[str]:
    """The names in a directory (os.listdir: no per-entry objects, for 100,000-job queues)."""
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot list {path}") from exc


def containing(names: list[str], text: str) -> Iterator[str]:
    """The names that contain `text`: one string search over the listing, not a loop."""
    blob = "\n".join(names)
    i = blob.find(text)
    while i >= 0:
        start = blob.rfind("\n", 0, i) + 1
        end = blob.find("\n", i)
        end = len(blob) if end < 0 else end
        yield blob[start:end]
        i = blob.find(text, end)
