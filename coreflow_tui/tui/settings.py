"""What the app needs besides the spool: chosen at start, passed down, never read globally."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Settings:
    """What the app needs besides the spool. Widgets get their part passed in."""

    queue: str | None = None  # selected at start (default: the `default` queue)
    clock: Callable[[], float] | None = None  # a fixed clock makes ages and pictures repeatable
    watch: str | None = None  # "inotify" | "poll" | None: by filesystem type ($COREFLOW_WATCH)
    follow: bool = True  # follow the change feed (tests of a still picture turn it off)
    spool_label: str | None = None  # shown instead of the spool's path
    host: str | None = None  # shown instead of this host's name

    def now(self) -> float:
        return self.clock() if self.clock else time.time()
