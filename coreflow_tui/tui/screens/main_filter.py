"""The main screen's filter: `/` and the text to match in name, type, labels, trigger and id."""

from __future__ import annotations

from textual import work
from textual.widgets import Input
from textual.worker import get_current_worker

from store import SpoolError

from ..messages import FilterMatched
from ..widgets.filter_bar import FilterBar
from ..readmodel import FilteredRows, FinishedRows, QueueRows, matches
from .main_base import Part


class FilterMixin(Part):
    def action_filter(self) -> None:
        self.query_one("#jobs-pane").add_class("-filtering")
        self.set_focus(self.query_one(FilterBar))

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, FilterBar):
            self.filter_text = event.value.strip().lower()

    def action_filter_done(self) -> None:
        self.filter_text = self.query_one(FilterBar).value.strip().lower()
        if not self.filter_text:
            self.query_one("#jobs-pane").remove_class("-filtering")
        self.set_focus(self.jobs)

    def action_filter_clear(self) -> None:
        self.filter_text = ""
        self.set_focus(self.jobs)

    def watch_filter_text(self, text: str) -> None:
        if not text:
            self.query_one(FilterBar).value = ""
            self.query_one("#jobs-pane").remove_class("-filtering")
            if self.base is not None:
                self.jobs.set_rows(self.base)
            self._title()
        elif self.base is not None:
            self.run_filter(text)

    def run_filter(self, text: str) -> None:
        self.match_jobs(text, self.base)
        self._title()

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def match_jobs(self, text: str, base: QueueRows | FinishedRows) -> None:
        worker = get_current_worker()
        hits = []
        for i in range(len(base)):
            if i % 512 == 0 and worker.is_cancelled:
                return
            if text in base.job_id(i):
                hits.append(i)
                continue
            try:
                job = base.known(i) or self.spool.read(base.ref(i), cache=False)
            except SpoolError:
                continue
            if matches(job, text):
                hits.append(i)
        self.post_message(FilterMatched(text, hits, base))

    def on_filter_matched(self, message: FilterMatched) -> None:
        if message.text == self.filter_text and message.base is self.base:
            rows = FilteredRows(message.base, message.indices, message.text)
            here = self.jobs.current_id
            self.jobs.set_rows(rows, first=self._first or here is None or rows.index_of(here) is None)
            self._first = False
            self._title()
