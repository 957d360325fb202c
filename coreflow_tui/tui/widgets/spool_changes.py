"""The spool's changes from the TUI: each one store call in a worker, the same the CLI makes.
An invisible widget that posts `JobsChanged` or `ChangeRefused` up; it knows no screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual import work
from textual.widget import Widget

import store
from store import Edit, JobSpec, Spool, SpoolError, Where

from ...fmt import short_id
from ..messages import ChangeRefused, JobsChanged

T = TypeVar("T")
MOVES = {"up", "down", "top", "bottom"}
DONE = {"up": "moved up", "down": "moved down", "top": "moved to the top", "bottom": "moved to the bottom",
        "cancel": "cancelled", "hold": "held", "release": "released", "retry": "queued again"}


class SpoolChanges(Widget):
    DEFAULT_CSS = "SpoolChanges { display: none; }"

    def __init__(self, spool: Spool, **kw: str) -> None:
        super().__init__(**kw)
        self.spool = spool

    @work(thread=True, group="change", exit_on_error=False)
    def change(self, action: str, ids: list[str], with_dependents: bool = False) -> None:
        """One store call a job; refusals become notifications. `with_dependents`: a retry
        puts back the jobs cancelled because of these."""
        done = []
        position = None
        for k in ids:
            try:
                if action in MOVES:
                    position = store.move(self.spool, k, Where(action))
                elif action == "cancel":
                    store.cancel(self.spool, k)
                elif action == "hold":
                    store.hold(self.spool, k)
                elif action == "release":
                    store.release(self.spool, k)
                elif action == "retry":
                    position = store.retry(self.spool, k, with_dependents=with_dependents)
                done.append(k)
            except SpoolError as exc:
                self.post_message(ChangeRefused(str(exc)))
        if done:
            text = f"{short_id(done[0])} {DONE[action]}" if len(done) == 1 else f"{len(done)} jobs {DONE[action]}"
            single = len(ids) == 1 and action in MOVES
            self.post_message(JobsChanged(text, done[0] if single else None, position if single else None))

    def _do(self, call: Callable[[], T], said: Callable[[T], str]) -> None:
        """One store call: post what it did, or why the store refused."""
        try:
            out = call()
        except SpoolError as exc:
            self.post_message(ChangeRefused(str(exc)))
            return
        self.post_message(JobsChanged(said(out)))

    @work(thread=True, group="change", exit_on_error=False)
    def set_paused(self, queue: str, paused: bool) -> None:
        self._do(lambda: self.spool.update_queue(queue, "pause" if paused else "resume", paused=paused),
                 lambda _: f"queue {queue} {'paused' if paused else 'resumed'}")

    @work(thread=True, group="change", exit_on_error=False)
    def submit_job(self, spec: JobSpec) -> None:
        self._do(lambda: store.submit(self.spool, [spec])[0],
                 lambda job_id: f"submitted {short_id(job_id)} to {spec.queue or 'its queue'}")

    @work(thread=True, group="change", exit_on_error=False)
    def edit_job(self, job_id: str, change: Edit) -> None:
        self._do(lambda: store.edit(self.spool, job_id, change),
                 lambda position: f"{short_id(job_id)} changed; position {position}")

    @work(thread=True, group="change", exit_on_error=False)
    def add_queue(self, name: str, slots: int) -> None:
        def add() -> None:
            self.spool.add_queue(name, slots=slots)
            self.spool.record_queue(name, "add", f"slots={slots}")

        self._do(add, lambda _: f"added queue {name} ({slots} slots)")
