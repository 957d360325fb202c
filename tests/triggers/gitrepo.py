"""Real git repositories for the trigger tests: a bare central repository and a clone
that commits and pushes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (.ci/run installs it)")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_GLOBAL": "/dev/null"}
    out = subprocess.run(["git", "-C", str(cwd), *args], env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Repo:
    """A bare repository `central` and a working clone `work` that pushes to it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.central = root / "central.git"
        self.work = root / "work"
        git(root, "init", "-q", "--bare", "-b", "master", str(self.central))
        git(root, "clone", "-q", str(self.central), str(self.work))
        git(self.work, "checkout", "-q", "-b", "master")
        self.n = 0

    def commit(self, branch: str = "master") -> str:
        """A new commit on `branch` in the clone (created from the current one if new)."""
        if git(self.work, "branch", "--list", branch):
            git(self.work, "checkout", "-q", branch)
        else:
            git(self.work, "checkout", "-q", "-b", branch)
        self.n += 1
        (self.work / "f.txt").write_text(f"{self.n}\n")
        git(self.work, "add", "f.txt")
        git(self.work, "commit", "-q", "-m", f"change {self.n}")
        return git(self.work, "rev-parse", "HEAD")

    def push(self, *branches: str) -> None:
        git(self.work, "push", "-q", "origin", *branches)

    def delete(self, branch: str) -> None:
        git(self.work, "push", "-q", "origin", "--delete", branch)

    def tip(self, branch: str) -> str:
        return git(self.central, "rev-parse", f"refs/heads/{branch}")
