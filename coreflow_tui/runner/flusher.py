"""The flusher: a thread that makes the runner's journaled results durable, one flush
for whatever a batch holds (group commit), while the loop goes on starting jobs.

It only flushes (fdatasync and directory fsyncs release the interpreter); the loop
publishes what a flush covered (Runner._publish_results), so every state change stays
on one thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from store import SpoolError


class Flusher:
    def __init__(self, flush: Callable[[], int], fsync_dirs: Callable[[set[str]], None],
                 wake: Callable[[], None]) -> None:
        self._flush = flush
        self._fsync_dirs = fsync_dirs
        self._dirs: set[str] = set()
        self._wake = wake
        self._cond = threading.Condition()
        self._wanted = False
        self._stopping = False
        self.durable = 0  # the last journal line known durable
        self.error: SpoolError | None = None  # the last flush's failure, until one succeeds
        self._thread = threading.Thread(target=self._run, name="coreflow-flusher", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Results were journaled: flush them soon (at once if no flush is under way)."""
        with self._cond:
            self._wanted = True
            self._cond.notify()

    def sync_dirs(self, dirs: set[str]) -> None:
        """Make these directories' renames durable (fsync), soon, on this thread."""
        if dirs:
            with self._cond:
                self._dirs |= dirs
                self._wanted = True
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._wanted and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._wanted:
                    return
                self._wanted = False
                dirs, self._dirs = self._dirs, set()
            try:
                durable = self._flush()
            except SpoolError as exc:
                self.error = exc
                self._wake()
            else:
                self.error = None
                if durable != self.durable:
                    self.durable = durable
                    self._wake()  # the loop publishes them
            self._fsync_dirs(dirs)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(5)
