"""The main screen: queues and runners, the jobs of the selected queue, detail and log.

It holds the snapshot (the spool on disk is the truth), starts the workers that read
and change the spool, and routes their messages to the panes.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList
from textual.worker import Worker, WorkerState

from store import SpoolError
from store.runners import runners

from ...safetext import inert
from ..messages import (
    JobsLoaded,
    LoadFinished,
    OverviewLoaded,
    RunnersLoaded,
    SpoolChanged,
)
from ..widgets.detail_pane import DetailPane
from ..widgets.filter_bar import FilterBar
from ..widgets.job_list import EMPTY, JobList
from ..widgets.key_footer import KeyFooter
from ..widgets.log_pane import LogPane
from ..widgets.queue_list import QueueList
from ..widgets.runner_list import RunnerList
from ..widgets.spool_changes import SpoolChanges
from ..widgets.spool_header import SpoolHeader
from .help_screen import HelpScreen
from .main_changes import ChangesMixin
from .main_base import MainBase
from .main_filter import FilterMixin
from .main_panes import PanesMixin
from ..keys import bindings
from ..readmodel import (
    FilteredRows,
    FinishedRows,
    QueueRows,
    load_finished,
    load_overview,
    load_queue,
    serving,
    shown_runners,
)


class MainScreen(ChangesMixin, PanesMixin, FilterMixin, MainBase):
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = bindings("screen")  # made from the registry (keys.py)

    def compose(self) -> ComposeResult:
        yield SpoolHeader(id="header")
        with Horizontal(id="body"):
            with Vertical(id="side"):
                yield QueueList(id="queues")
                yield RunnerList(id="runners")
            with Vertical(id="main"):
                with Vertical(id="jobs-pane"):
                    yield JobList(self.settings.now, id="jobs")
                    yield FilterBar(placeholder="filter: name, type, label, trigger, id", id="filter")
                yield DetailPane(id="detail")
                yield LogPane(id="log")
        yield KeyFooter(compact=True, show_command_palette=False)
        yield SpoolChanges(self.spool)

    def on_mount(self) -> None:
        self.query_one("#queues").border_title = "Queues"
        self.query_one("#runners").border_title = "Runners"
        self.query_one("#detail").border_title = "Detail"
        self.query_one("#log").border_title = "Log"
        self._title()
        self._header()
        self.set_focus(self.jobs)
        self.request_load("jobs", "overview")
        if self.settings.follow:
            self.follow_spool()
        self.set_interval(1.0, self._tick)
        self._log_timer = self.set_interval(0.5, self._poll_log, pause=True)

    def on_unmount(self) -> None:
        self._stop.set()

    # -- loading -------------------------------------------------------------------

    def request_load(self, *what: str) -> None:
        """Coalesce: while a load runs, later requests wait and then run as one."""
        self._dirty.update(what)
        if not self._loading:
            what, self._dirty = frozenset(self._dirty), set()
            self._loading = True
            self.load(what, self.queue, self.finished)

    @work(thread=True, group="load", exit_on_error=False)
    def load(self, what: frozenset[str], queue: str, finished: bool) -> None:
        try:
            now = self.settings.clock() if self.settings.clock else None
            if "runners" in what and "jobs" not in what:  # a heartbeat was rewritten: often only a newer beat
                live = runners(self.spool, now)
                if serving(live) != self._serving:
                    what = frozenset({"jobs", "overview"})  # who serves what changed: why jobs wait too
                elif what == {"runners"}:
                    self.post_message(RunnersLoaded(live, time.time() if now is None else now))
                    return
            rows = None
            if "jobs" in what:
                rows = load_finished(self.spool, queue) if finished else load_queue(self.spool, queue, now)
                self.post_message(JobsLoaded(rows))
            if what & {"jobs", "overview"}:
                known = rows if isinstance(rows, QueueRows) else None
                ov = load_overview(self.spool, now, known)
                self._serving = serving(ov.runners)
                self.post_message(OverviewLoaded(ov))
        finally:
            self.post_message(LoadFinished())

    def on_load_finished(self, _message: LoadFinished) -> None:
        self._loading = False
        if self._dirty:
            self.request_load()

    @work(thread=True, group="feed", exit_on_error=False)
    def follow_spool(self) -> None:
        for change in self.feed.iterate(self._stop):
            self.post_message(SpoolChanged(change))

    def on_spool_changed(self, message: SpoolChanged) -> None:
        c = message.change
        if c.full or self.queue in c.queues:
            self.request_load("jobs", "overview")
        elif c.queues or c.corrupt:
            self.request_load("overview")
        elif c.runners:  # why jobs wait depends on runners: load() tells whether that changed
            self.request_load("runners")

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        rows = message.rows
        if rows.queue != self.queue or isinstance(rows, FinishedRows) != self.finished:
            return  # the user switched meanwhile; that switch asked for its own load
        self.base = rows
        if self.filter_text:
            self.run_filter(self.filter_text)
        else:
            self.jobs.set_rows(rows, first=self._first)
            self._first = False
        self._title()
        self._show_detail()

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        ov = self.overview = message.overview
        names = [q.name for q in ov.queues]
        if names and self.queue not in names:
            self.notify(f"queue {self.queue} is gone; showing {names[0]}", severity="warning")
            self._switch(names[0])
        self.query_one(QueueList).show(ov.queues, self.queue)
        self._runners()
        self._header()
        self._title()
        self._balance()

    def on_resize(self) -> None:
        self._balance()

    def _balance(self) -> None:
        """Give the queues the rows they need, the runners theirs, and neither more than its share."""
        ov = self.overview
        queues, runners = self.query_one(QueueList), self.query_one(RunnerList)
        need_q = len(ov.queues) + 2 if ov else 3
        need_r = runners.lines_needed() + 2
        body = max(6, self.size.height - 2)  # header and footer
        if self.has_class("-narrow"):  # side by side above the jobs: one height for both
            height = min(max(need_q, need_r), max(5, body // 2))
            self.query_one("#side").styles.height = height
            queues.styles.height = runners.styles.height = height
        else:  # stacked: the queues first, the runners keep a few rows, then take the rest
            self.query_one("#side").styles.height = "100%"
            queues.styles.height = min(need_q, max(3, body - min(need_r, 5)))
            runners.styles.height = "1fr"

    def on_runners_loaded(self, message: RunnersLoaded) -> None:
        if self.overview is None:
            return
        self.overview = dataclasses.replace(self.overview, runners=message.runners, loaded_at=message.at)
        self._runners()
        self._header()

    def _header(self) -> None:
        ov = self.overview
        self.query_one(SpoolHeader).show(
            self.settings.spool_label or str(self.spool.root), self.settings.host or socket.gethostname(),
            self.feed.describe(), ov.corrupt if ov else 0, sum(r.lost for r in shown_runners(ov)) if ov else 0)

    def _title(self) -> None:
        pane = self.query_one("#jobs-pane")
        info = next((q for q in self.overview.queues if q.name == self.queue), None) if self.overview else None
        if self.finished:
            n = len(self.base or ())
            title = f"Finished · {self.queue} — {n:,} job{'' if n == 1 else 's'}, newest first (f: back)"
        else:
            title = f"Jobs · {self.queue}"
            if info is not None:
                title += f" — {info.running} running of {info.config.slots}, {info.pending:,} waiting"
                title += f", {info.held:,} held" if info.held else ""
                title += "  ‖ PAUSED (p resumes)" if info.config.paused else ""
        if self.jobs.marked:
            title += f"  [{len(self.jobs.marked)} marked, U clears]"
        rows = self.jobs.rows
        if self.filter_text and isinstance(rows, FilteredRows) and rows.text == self.filter_text:
            title += f"  [filter {self.filter_text!r}: {len(rows):,} match]"
        elif self.filter_text:
            title += f"  [filter {self.filter_text!r}: searching…]"
        pane.border_title = Text(title)  # text, never markup: the filter is typed
        pane.set_class(bool(info and info.config.paused), "-paused")
        self.set_class(self.finished, "-finished")

    def _tick(self) -> None:
        rows = self.jobs.rows
        if isinstance(rows, (QueueRows, FilteredRows)) and getattr(rows, "running", None):
            self.jobs.refresh()
        if self.overview and self.overview.runners and self.settings.clock is None:
            self._runners(time.time() - self.overview.loaded_at)

    def _runners(self, since_load: float = 0.0) -> None:
        ov = self.overview
        assert ov is not None
        self.query_one(RunnerList).show(shown_runners(ov), ov.orphans, since_load)
        self.jobs.runners = {r.beat.id: r for r in ov.runners}
        self.jobs.runners_at = ov.loaded_at
        self.jobs.refresh()

    # -- queues --------------------------------------------------------------------

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.queue:
            self._switch(event.option.id)

    def action_show_jobs(self) -> None:
        self.set_focus(self.jobs)

    def _switch(self, queue: str) -> None:
        self.queue = queue
        self._first = True
        self.base = None
        self.jobs.clear_marks()
        self._title()
        self.request_load("jobs", "overview")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            text = str(err) if isinstance(err, SpoolError) else f"{type(err).__name__}: {err}"
            self.notify(inert(text), title=f"could not {event.worker.name.replace('_', ' ')}", severity="error",
                        timeout=10, markup=False)

    # -- screen actions ------------------------------------------------------------

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_finished(self) -> None:
        self.finished = not self.finished

    def watch_finished(self, finished: bool) -> None:
        self._first = True
        self.base = None
        self.jobs.clear_marks()
        self.jobs.empty_text = "No finished jobs." if finished else EMPTY
        self._title()
        self.request_load("jobs")

    def job_action(self, action: str) -> None:
        """Run a jobs-list action by name (the command palette's way in)."""
        name, _, arg = action.partition(":")
        self.set_focus(self.jobs)
        self.call_later(self.jobs.run_action, f"{name}({arg!r})" if arg else name)
