"""The main screen's changes: what the user asked for, routed to dialogs and to the
SpoolChanges widget (each change a store call in a worker, the same the CLI makes).

Refusals ("job already started") come back as notifications, never as tracebacks.
"""

from __future__ import annotations

from store import Edit
from store.chain import cancelled_with, put_back_with

from ...fmt import short_id
from ...safetext import inert
from ..messages import ChangeRefused, JobsChanged
from ..readmodel import QueueRows
from ..widgets.job_list import JobList
from ..widgets.spool_changes import MOVES
from .cancel_modal import CancelModal
from .edit_modal import EditModal
from .queue_modal import QueueModal
from .retry_modal import RetryModal
from .submit_modal import SubmitModal
from .main_base import Part


class ChangesMixin(Part):
    def on_job_list_change_requested(self, message: JobList.ChangeRequested) -> None:
        try:
            self._change_requested(message)
        finally:
            self.app.release_keys(message)  # a dialog it opened holds the keys on its own

    def _change_requested(self, message: JobList.ChangeRequested) -> None:
        ids, states, action = message.job_ids, message.states, message.action
        if action == "cancel":
            was = self.jobs.marked
            named = [(short_id(k), self._job_name(k), s, was.get(k) or s) for k, s in zip(ids, states)]
            # Read here, not in a worker: the dialog must open before the keys typed after `c`
            # are replayed to it, and the reverse index costs one stat a job without dependents.
            with_them = len(cancelled_with(self.spool, ids))
            self.app.push_screen(CancelModal(named, with_them),
                                 lambda yes: yes and self.changes.change("cancel", ids))
        elif action == "retry" and (back := put_back_with(self.spool, ids)):
            named = [(short_id(k), self._job_name(k)) for k in ids]
            self.app.push_screen(RetryModal(named, back),
                                 lambda answer: answer is not None and self.changes.change("retry", ids, answer))
        elif action == "edit":
            self.open_edit(ids[0])
        elif action == "hold":
            if all(s == "held" for s in states):
                self.changes.change("release", ids)
            else:
                self.changes.change("hold", [k for k, s in zip(ids, states) if s != "held"])
        elif action in MOVES:
            rows = self.jobs.rows
            waiting = [k for k, s in zip(ids, states) if s in ("pending", "held")]
            positions = [rows.position(i) or 0 if (i := rows.index_of(k)) is not None else 0 for k in waiting] \
                if rows is not None else [0] * len(waiting)
            total = len(self.base.order) if isinstance(self.base, QueueRows) else 0
            others = [k for k in ids if k not in waiting]  # the store says why not ("already started on HOST")
            self.changes.change(action, _move_order(action, waiting, positions, total) + others)
        else:
            self.changes.change(action, ids)

    def _job_name(self, job_id: str) -> str:
        rows = self.jobs.rows
        i = rows.index_of(job_id) if rows is not None else None
        job = self.jobs.job(i) if i is not None else None
        return job.name if job else ""

    def on_jobs_changed(self, message: JobsChanged) -> None:
        if message.job_id and message.position and isinstance(self.base, QueueRows) and not self.filter_text:
            keep = self.jobs.current_id
            self.base.moved(message.job_id, message.position)
            self.jobs.set_rows(self.base, keep=keep, hold_screen=False)
        else:  # a single move shows itself; everything else says what it did
            self.notify(message.text, timeout=3, markup=False)
        self.request_load("jobs", "overview")

    def on_change_refused(self, message: ChangeRefused) -> None:
        self.notify(inert(message.text), severity="warning", timeout=6, markup=False)
        self.request_load("jobs", "overview")

    def action_pause(self) -> None:
        info = next((q for q in self.overview.queues if q.name == self.queue), None) if self.overview else None
        self.changes.set_paused(self.queue, not (info and info.config.paused))

    def action_submit(self) -> None:
        self.app.push_screen(SubmitModal(self.queue), lambda spec: spec and self.changes.submit_job(spec))

    def open_edit(self, job_id: str) -> None:
        rows = self.jobs.rows
        i = rows.index_of(job_id) if rows is not None else None
        job = self.jobs.job(i) if i is not None else None
        if job is None or rows is None or rows.state(i) not in ("pending", "held"):  # type: ignore[arg-type]
            self.changes.edit_job(job_id, Edit())  # the store says why not (already started on HOST, finished)
            return
        self.app.push_screen(EditModal(job), lambda change: change and self.changes.edit_job(job_id, change))

    def action_add_queue(self) -> None:
        names = [q.name for q in self.overview.queues] if self.overview else []
        self.app.push_screen(QueueModal(names), lambda answer: answer and self.changes.add_queue(*answer))



def _move_order(action: str, ids: list[str], positions: list[int], total: int) -> list[str]:
    """Which marked jobs to move, in which order, so they keep their relative order.

    Going up, the top-most moves first and a job stuck at the top blocks the one right
    under it (else they would swap); going down, the mirror image. To the top, the
    bottom-most goes first; to the bottom, the top-most.
    """
    pairs = sorted(zip(positions, ids))
    if action == "top":
        return [k for _p, k in reversed(pairs)]
    if action == "bottom":
        return [k for _p, k in pairs]
    out = []
    if action == "up":
        stuck = 0
        for p, k in pairs:
            if p - 1 <= stuck:
                stuck = p
            else:
                out.append(k)
        return out
    stuck = total + 1
    for p, k in reversed(pairs):
        if p + 1 >= stuck:
            stuck = p
        else:
            out.append(k)
    return out
