"""What `serve` does besides supervising: it keeps the metrics textfile fresh and prunes
finished jobs past the spool's keep-finished setting, once an hour.

Both run in one thread of their own, so a slow spool (100,000 finished jobs on NFS)
delays neither the supervision of the runner nor the systemd watchdog. A failure is
logged and tried again at the next turn; it never stops serve.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import store
from store import Spool, SpoolError
from store.settings import load_settings

from .journal import WARNING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

PRUNE_EVERY = 3600.0


class Housekeeper:
    def __init__(self, spool: Spool, log: Callable[[str, int], None], *, metrics_dir: Path | None = None,
                 metrics_every: float = 15.0, prune_every: float = PRUNE_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spool = spool
        self.log = log
        self.metrics_dir = metrics_dir
        self.metrics_every = metrics_every
        self.prune_every = prune_every
        self.clock = clock
        self.next_metrics = self.next_prune = clock()  # both at once when serve starts
        self.registry: CollectorRegistry | None = None
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def step(self) -> float:
        """Do what is due; return the seconds until something is due again."""
        now = self.clock()
        if now >= self.next_prune:
            self.next_prune = now + self.prune_every
            self._prune()
        if self.metrics_dir is not None and now >= self.next_metrics:
            self.next_metrics = now + self.metrics_every
            self._metrics()
        due = [self.next_prune] + ([self.next_metrics] if self.metrics_dir is not None else [])
        return max(0.0, min(due) - self.clock())

    def _prune(self) -> None:
        try:
            keep = load_settings(self.spool).keep_finished
            if keep is None:
                return
            n = store.prune(self.spool, older_than=keep)
        except (SpoolError, OSError) as exc:
            self.log(f"prune failed (trying again in {self.prune_every:g}s): {exc}", WARNING)
            return
        if n:
            self.log(f"pruned {n} finished job(s) older than the spool's keep-finished setting", 6)

    def _metrics(self) -> None:
        from .metrics import registry_for, write_textfile  # prometheus_client: only when asked for

        try:
            if self.registry is None:
                self.registry = registry_for(self.spool)
            write_textfile(self.registry, self.metrics_dir)  # type: ignore[arg-type]
        except (SpoolError, OSError) as exc:
            self.log(f"metrics not written (trying again in {self.metrics_every:g}s): {exc}", WARNING)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.wait(self.step()):
            pass

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(10)
