"""Finding a process's children by role, from /proc (no psutil)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def children(pid: int) -> dict[int, str]:
    """Direct children of `pid`: pid -> command line."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and cmd:
            out[int(entry)] = cmd
    return out


def descendants(pid: int) -> dict[int, str]:
    out = {}
    todo = [pid]
    while todo:
        for child, cmd in children(todo.pop()).items():
            out[child] = cmd
            todo.append(child)
    return out


def role(pid: int, word: str) -> int | None:
    """The child of `pid` whose coreflow command is `word` (runner, triggers, serve)."""
    for child, cmd in children(pid).items():
        if f" {word}" in cmd.split("--spool", 1)[-1]:
            return child
    return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(what: Callable[[], T], timeout: float = 15.0, step: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(step)
