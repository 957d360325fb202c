"""The main screen's detail and log panes: what the highlighted job is, and its log."""

from __future__ import annotations

from textual import work

import store

from ..messages import DetailLoaded, LogRead
from ..widgets.detail_pane import DetailPane
from ..widgets.job_list import JobList
from ..widgets.log_pane import LogPane
from ...wording import outcome
from ..readmodel import FINISHED, FilteredRows, FinishedRows, QueueRows, load_detail, silent
from .main_base import Part


class PanesMixin(Part):
    def on_job_list_marks_changed(self, _message: JobList.MarksChanged) -> None:
        self._title()

    def on_job_list_job_highlighted(self, message: JobList.JobHighlighted) -> None:
        self._show_detail()
        if message.by_user and self.has_class("-log"):
            self._follow_log()  # the log stays on its job through listings; the user moves it

    def _show_detail(self) -> None:
        rows = self.jobs.rows
        if rows is None or not len(rows):
            self.query_one(DetailPane).show(None)
            return
        i = self.jobs.cursor
        base = rows.base if isinstance(rows, FilteredRows) else rows
        self.detail(rows.ref(i), rows.position(i), base)

    def _follow_log(self) -> None:
        jid = self.jobs.current_id
        job = self.jobs.job(self.jobs.cursor) if jid else None
        self.query_one(LogPane).follow(jid, job.name if job else "")
        self._poll_log()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def detail(self, ref: store.JobRef, position: int | None, base: QueueRows | FinishedRows) -> None:
        try:
            self.post_message(DetailLoaded(load_detail(self.spool, ref, position, base, self.settings.now())))
        except (store.JobNotFound, store.CorruptJob):
            pass  # it changed under us: the listing this causes shows the detail again

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        d = message.detail
        if d.view.job.id != self.jobs.current_id:
            return
        claim = d.view.job.claim if d.view.state == "running" else None
        runner = self.jobs.runners.get(claim.runner) if claim else None
        quiet = runner.age + d.now - self.jobs.runners_at if runner is not None and silent(runner) else None
        self.query_one(DetailPane).show(d, quiet)

    def action_open_detail(self) -> None:
        self.add_class("-detail-open")
        self.remove_class("-log")
        self.set_focus(self.query_one(DetailPane))

    def _poll_log(self) -> None:
        log = self.query_one(LogPane)
        if log.job_id is not None and not log.done:
            self.read_log(log.job_id, log.log_offset)

    @work(thread=True, group="log", exit_on_error=False)
    def read_log(self, job_id: str, offset: int) -> None:
        """Whole lines from `offset` (all of it once the job has ended) and how it ended."""
        try:
            r = self.spool.find(job_id)
            ended = None
            if r.state in FINISHED:
                result = self.spool.read(r).result
                ended = outcome(result) if result else r.state
        except store.JobNotFound:
            ended = "is gone (pruned, or its queue removed)"
        data, end = self.spool.read_log(job_id, offset, tail=True)
        if ended is None and data:
            cut = data.rfind(b"\n") + 1
            if cut or len(data) < 1 << 20:  # a line longer than a read shows in pieces
                end -= len(data) - cut
                data = data[:cut]
        self.post_message(LogRead(job_id, data.decode("utf-8", "replace"), offset, end, ended))

    def on_log_read(self, message: LogRead) -> None:
        log = self.query_one(LogPane)
        if message.job_id == log.job_id:
            log.add(message.text, message.offset, message.end, message.ended)

    def action_log(self) -> None:
        self.toggle_class("-log")
        if self.has_class("-log"):
            self.remove_class("-detail-open")
            self._follow_log()
            self._log_timer.resume()
            self.set_focus(self.query_one(LogPane))
        else:
            self._log_timer.pause()
            self.set_focus(self.jobs)

    def action_back(self) -> None:
        if self.has_class("-detail-open") or self.has_class("-log"):
            self.remove_class("-detail-open", "-log")
            self._log_timer.pause()
        elif self.jobs.marked:
            self.jobs.clear_marks()
        elif self.filter_text:
            self.filter_text = ""
        self.set_focus(self.jobs)
