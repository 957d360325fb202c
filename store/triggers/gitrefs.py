"""Reading a git repository's refs without git: loose refs under refs/ and packed-refs.

Git's "files" ref store: a ref is a file refs/heads/NAME holding a commit id, or a
line of packed-refs ("SHA refs/heads/NAME", a "^SHA" line after a tag is its peeled
commit); a loose ref wins over a packed one. `git gc` / `git pack-refs` writes
packed-refs first and only then removes the loose files, and a deletion removes the
packed line first, then the loose file: reading the loose refs *before* packed-refs
therefore never shows a ref as missing while it exists. Writers work on NAME.lock
and rename it over NAME, so a read sees the old or the new value, never half a one.
The "reftable" store (git 2.45+, extensions.refStorage) is not read: refused at load.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

ZERO = "0" * 40  # git's "no commit": the old value of a new ref, the new value of a deleted one
_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1 or SHA-256
MAX_REF_FILE = 4096  # a loose ref is one line; anything bigger is not a ref


class NotARepository(ConfigError):
    """The path is not a git repository whose refs we can read (the message says why)."""


def git_dir(path: Path) -> Path:
    """The directory holding the refs of the repository at `path`: a bare repository,
    a working clone (path/.git), or a linked worktree (.git file -> gitdir -> commondir)."""
    if (path / ".git").is_dir():
        path = path / ".git"
    elif (path / ".git").is_file():
        text = (path / ".git").read_text(errors="replace").strip()
        if not text.startswith("gitdir:"):
            raise NotARepository(f"{path / '.git'} is a file but does not say `gitdir: ...`")
        target = Path(text[len("gitdir:"):].strip())
        path = target if target.is_absolute() else (path / target)
    common = path / "commondir"
    if common.is_file():
        target = Path(common.read_text(errors="replace").strip())
        path = target if target.is_absolute() else (path / target)
    path = Path(os.path.normpath(path))
    if not (path / "HEAD").is_file() or not (path / "refs").is_dir():
        raise NotARepository(f"{path} is not a git repository (no HEAD file and refs/ directory; give a bare "
                             "repository or a working clone)")
    if (path / "reftable").is_dir():
        raise NotARepository(f"{path} keeps its refs in a reftable (extensions.refStorage), which this trigger "
                             "cannot read; convert it with `git refs migrate --ref-format=files`")
    return path


def read_refs(gitdir: Path) -> dict[str, str]:
    """Every ref (full name -> commit id) of the repository; symbolic refs are left out."""
    if not (gitdir / "refs").is_dir():  # a repository that went away is not one whose refs were all deleted
        raise FileNotFoundError(2, "no refs/ directory (the repository is gone?)", str(gitdir / "refs"))
    loose: dict[str, str] = {}
    _read_loose(gitdir, "refs", loose)
    refs = _read_packed(gitdir / "packed-refs")
    refs.update(loose)
    return refs


def _read_loose(gitdir: Path, rel: str, out: dict[str, str]) -> None:
    try:
        entries = list(os.scandir(gitdir / rel))
    except (FileNotFoundError, NotADirectoryError):
        return
    for e in entries:
        if e.name.endswith(".lock") or e.name.startswith("."):
            continue  # a writer's lock file (or not a ref name at all)
        name = f"{rel}/{e.name}"
        if e.is_dir(follow_symlinks=False):
            _read_loose(gitdir, name, out)
            continue
        try:
            with open(e.path, "rb") as f:
                text = f.read(MAX_REF_FILE).decode(errors="replace").strip()
        except (FileNotFoundError, IsADirectoryError):
            continue  # removed (packed, deleted) since the listing: packed-refs is read after
        if _SHA_RE.fullmatch(text):
            out[name] = text


def _read_packed(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        if not line or line[0] in "#^":
            continue
        sha, _, name = line.partition(" ")
        if _SHA_RE.fullmatch(sha) and name.startswith("refs/"):
            out[name] = sha
    return out


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old: str  # ZERO for a new ref
    new: str  # ZERO for a deleted ref

    @property
    def deleted(self) -> bool:
        return self.new == ZERO


def ref_updates(seen: dict[str, str], now: dict[str, str]) -> list[RefUpdate]:
    """What changed from `seen` to `now`, one update per ref, in ref name order."""
    out = []
    for ref in sorted(seen.keys() | now.keys()):
        old, new = seen.get(ref, ZERO), now.get(ref, ZERO)
        if old != new:
            out.append(RefUpdate(ref, old, new))
    return out


def ref_patterns(branches: list[str] | None, tags: list[str] | None) -> tuple[str, ...]:
    """Glob patterns on full ref names: branches ["release/*"] -> "refs/heads/release/*"."""
    out = [p if p.startswith("refs/") else f"refs/heads/{p}" for p in branches or []]
    out += [p if p.startswith("refs/") else f"refs/tags/{p}" for p in tags or []]
    return tuple(out) if out else ("refs/heads/*",)


def selected(refs: dict[str, str], patterns: tuple[str, ...]) -> dict[str, str]:
    return {r: sha for r, sha in refs.items() if any(fnmatch.fnmatchcase(r, p) for p in patterns)}
