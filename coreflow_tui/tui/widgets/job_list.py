"""The jobs of one queue: a line-API list that draws only the rows on screen.

It holds the names-only run order (100,000 jobs cost a list of names, not 100,000
rows) and decodes the jobs it shows in a worker, keeping a bounded cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from store import Job
from store.runners import RunnerState

from ... import wording
from ...fmt import age, duration, short_id
from ..keys import bindings
from ..readmodel import FilteredRows, FinishedRows, QueueRows, Rows, decode_jobs, job_key, silent
from .job_rows import Columns, first_fitting, job_cells, progress

WAITS_ON = "↳"  # a job that waits on other jobs (glyphs.py: '>' where the terminal lacks it)
LEAD = Style(meta={"lead": True})  # keeps a row's leading blanks a segment of their own
DIALOGS = frozenset({"cancel", "edit", "retry"})  # retry may ask about dependents
REFUSED = {"move": "moved", "cancel": "cancelled", "hold": "held", "edit": "edited", "mark": "marked"}
CACHE = 4096
EMPTY = "No jobs waiting. s submits one (so does `coreflow submit -- CMD`)."  # decoded jobs kept; a screenful is ~40


class JobList(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-list--header", "job-list--cursor", "job-list--running", "job-list--held",
        "job-list--marked", "job-list--failed", "job-list--dim", "job-list--cancelling",
    }
    BINDINGS: ClassVar[list[BindingType]] = bindings("jobs") + [  # made from the registry (keys.py)
        # What this view does not offer (check_action hides it) says why instead of nothing.
        Binding("K,shift+up,J,shift+down,t,b", "refuse('move')", show=False),
        Binding("c,delete", "refuse('cancel')", show=False),
        Binding("h", "refuse('hold')", show=False),
        Binding("r", "refuse('retry')", show=False),
        Binding("e", "refuse('edit')", show=False),
        Binding("space", "refuse('mark')", show=False),
    ]

    class JobHighlighted(Message):
        def __init__(self, job_list: JobList, job_id: str | None, by_user: bool = False) -> None:
            super().__init__()
            self.job_list = job_list
            self.job_id = job_id
            self.by_user = by_user  # the user moved the cursor (not a new listing)

    class MarksChanged(Message):
        """Jobs were marked or unmarked (the pane's title counts them)."""

    class ChangeRequested(Message):
        """The user asked for a change (move, cancel, hold, retry) of these jobs, in row order."""

        def __init__(self, job_list: JobList, action: str, job_ids: list[str], states: list[str]) -> None:
            super().__init__()
            self.job_list = job_list
            self.action = action
            self.job_ids = job_ids
            self.states = states

    class JobsDecoded(Message):
        def __init__(self, asked: list[str], jobs: dict[str, Job], failed: dict[str, str]) -> None:
            super().__init__()
            self.asked = asked  # every key read; one in neither dict was not settled yet
            self.jobs = jobs
            self.failed = failed

    def __init__(self, clock: Callable[[], float], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.clock = clock
        self.rows: Rows | None = None
        self.cursor = 0
        self.marked: dict[str, str] = {}  # job id -> its state when it was marked
        self.empty_text = EMPTY
        self._jobs: LRUCache[str, Job] = LRUCache(CACHE)
        self._bad: dict[str, str] = {}
        self._wanted: set[int] = set()
        self._inflight: set[str] = set()
        self._binding_sig: object = None
        self.runners: dict[str, RunnerState] = {}  # by id, as last loaded (at runners_at)
        self.runners_at = 0.0

    # -- data in -------------------------------------------------------------------

    def set_rows(self, rows: Rows, first: bool = False, keep: str | None = None, hold_screen: bool = True) -> None:
        """Show a new listing; the cursor stays on its job (`keep`, else the one under it)
        and, with `hold_screen`, at its place on screen (the list moves, not the eye)."""
        old = keep or self.current_id
        on_screen = self.cursor - int(self.scroll_y)
        self.rows = rows
        self._bad.clear()
        n = len(rows)
        if first:
            running = len(rows.running) if isinstance(rows, QueueRows) else 0
            self.cursor = running if running < n else 0
        else:
            idx = rows.index_of(old) if old is not None else None
            self.cursor = min(self.cursor if idx is None else idx, max(0, n - 1))
        if self.marked:
            self.marked = {k: v for k, v in self.marked.items() if rows.index_of(k) is not None}
        self.virtual_size = Size(0, n + 1)
        if hold_screen:
            self.scroll_to(y=max(0, self.cursor - max(0, on_screen)), animate=False, immediate=True)
        self._keep_visible()
        self.refresh()
        self._refresh_bindings_if_changed()
        if first or self.current_id != old:
            self.post_message(self.JobHighlighted(self, self.current_id))

    @property
    def current_id(self) -> str | None:
        if self.rows is None or not len(self.rows):
            return None
        return self.rows.job_id(min(self.cursor, len(self.rows) - 1))

    def job(self, i: int) -> Job | None:
        assert self.rows is not None
        return self.rows.known(i) or self._jobs.get(job_key(self.rows.job_id(i), self.rows.state(i)))

    def targets(self) -> tuple[list[str], list[str]]:
        """The marked jobs in row order (or the one under the cursor), with their states."""
        rows = self.rows
        if rows is None or not len(rows):
            return [], []
        if not self.marked:
            return [rows.job_id(self.cursor)], [rows.state(self.cursor)]
        found = sorted((i, k) for k in self.marked if (i := rows.index_of(k)) is not None)
        return [k for _i, k in found], [rows.state(i) for i, _k in found]

    # -- actions -------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self._move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_cursor_to(self, index: int) -> None:
        self._move_cursor(index if index >= 0 else len(self.rows or ()) - 1)

    def action_mark(self) -> None:
        jid = self.current_id
        if jid is None:
            return
        if jid in self.marked:
            del self.marked[jid]
        else:
            self.marked[jid] = self.rows.state(self.cursor)  # type: ignore[union-attr]
        self._move_cursor(self.cursor + 1)
        self.refresh()
        self._refresh_bindings_if_changed()
        self.post_message(self.MarksChanged())

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self.post_message(self.MarksChanged())
        self.refresh()
        self._refresh_bindings_if_changed()

    def action_change(self, action: str) -> None:
        ids, states = self.targets()
        if ids:
            message = self.ChangeRequested(self, action, ids, states)
            if action in DIALOGS:  # keys typed after it belong to the dialog: they wait for it
                self.app.hold_keys(message)  # type: ignore[attr-defined]
            self.post_message(message)

    def action_unmark(self) -> None:
        self.clear_marks()

    def action_refuse(self, what: str) -> None:
        finished_view = isinstance(getattr(self.rows, "base", self.rows), FinishedRows)
        if what == "retry":
            why = "r retries a finished job: f shows the finished jobs"
        elif finished_view:
            why = (f"finished jobs cannot be {REFUSED[what]}: r queues one again, f goes back to the waiting jobs")
        else:
            why = "no job here"
        self.notify(why, severity="warning", timeout=5)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide what this view never offers (retry among waiting jobs; moves, holds, marks and
        cancels among finished ones: the `refuse` bindings then say why). Among waiting and
        running jobs every change is tried: the store's refusal ("already started on HOST")
        is shown, the same line the CLI prints."""
        finished_view = isinstance(getattr(self.rows, "base", self.rows), FinishedRows)
        if action in ("mark", "unmark"):
            return not finished_view
        if action != "change":
            return True
        what = parameters[0]
        if (what == "retry") != finished_view:
            return False
        return True if self.targets()[0] else None

    def _move_cursor(self, index: int) -> None:
        n = len(self.rows or ())
        index = max(0, min(index, n - 1))
        if n == 0 or index == self.cursor:
            return
        self.cursor = index
        self._keep_visible()
        self.refresh()
        self._refresh_bindings_if_changed()
        self.post_message(self.JobHighlighted(self, self.current_id, by_user=True))

    def _refresh_bindings_if_changed(self) -> None:
        """The footer is rebuilt on a bindings refresh: only when what is possible changed."""
        sig = (type(getattr(self.rows, "base", self.rows)), frozenset(self.targets()[1]))
        if sig != self._binding_sig:
            self._binding_sig = sig
            self.refresh_bindings()

    def _keep_visible(self) -> None:
        body = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False, immediate=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(0, len(self.rows or ()) + 1)
        self._keep_visible()

    # -- drawing -------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        rows = self.rows
        cols = Columns.fit(width, isinstance(getattr(rows, "base", rows), FinishedRows))
        if y == 0:
            return self._strip(cols.header(), "job-list--header", width)
        if rows is None:
            return Strip.blank(width, self.rich_style)
        i = int(self.scroll_y) + y - 1
        if not len(rows):
            text = self.empty_text
            if isinstance(rows, FilteredRows):
                text = f"No job matches {rows.text!r} (escape clears the filter)."
            return self._strip(f"  {text}" if y == 2 else "", "job-list--dim", width)
        if i >= len(rows):
            return Strip.blank(width, self.rich_style)
        text, cls = self._row(i, cols)
        classes = [cls] if cls else []
        jid = rows.job_id(i)
        if jid in self.marked:
            classes.append("job-list--marked")
        if i == self.cursor:
            classes.append("job-list--cursor")
        return self._strip(text, classes, width)

    def _row(self, i: int, cols: Columns) -> tuple[str, str]:
        assert self.rows is not None
        rows = self.rows
        jid = rows.job_id(i)
        state = rows.state(i)
        job = self.job(i)
        if job is None:
            if jid in self._bad:
                return cols.line(" ", str(rows.position(i) or ""), short_id(jid), "?", self._bad[jid], "", "", ""), \
                    "job-list--failed"
            self._want(i)
        mark = "*" if jid in self.marked else " "
        sid, jtype, name, pri = job_cells(job, jid)
        now = self.clock()
        if cols.finished:
            res = job.result if job else None
            code = "" if res is None else (str(res.exit_code) if res.exit_code is not None else
                                           (f"sig{res.signal}" if res.signal else "-"))
            ran = "-" if res is None or not res.started_at else duration((res.finished_at or now) - res.started_at)
            when = age(res.finished_at if res else None, now)
            cls = {"failed": "job-list--failed", "cancelled": "job-list--dim"}.get(state, "")
            return cols.line(mark, state, sid, jtype, name, code, when, ran), cls
        if state == "running":
            claim = job.claim if job else None
            since = claim.claimed_at if claim else (job.submitted_at if job else now)
            stats = self.rows.stats.of(job) if job else None  # type: ignore[union-attr]
            info = progress(now - since, stats, cols.info)
            runner = self.runners.get(claim.runner) if claim else None
            if claim and runner is not None and silent(runner):  # lost, or soon to be: not running for sure
                quiet = duration(runner.age + now - self.runners_at)
                info = f"on {claim.host} (runner silent for {quiet})"
                info = info if len(info) <= cols.info else f"silent {quiet} on {claim.host}"
            elif claim and cols.info - len(info) > 8:
                info += f" {claim.host}"
            cancelling = jid in getattr(rows, "cancelling", ())
            cls = "job-list--cancelling" if cancelling else "job-list--running"
            return cols.line(mark, "▶ run", sid, jtype, name, pri, age(job.submitted_at if job else None, now),
                             "stopping (cancel requested)" if cancelling else info), cls
        info = "…"
        if job is not None and isinstance(rows.base if hasattr(rows, "base") else rows, QueueRows):
            w = rows.why(job, state == "held")  # type: ignore[union-attr]
            if w.deps is not None and w.deps.waits_for:
                info = f"{WAITS_ON} {first_fitting(wording.reasons(w, now), cols.info - 2)}"
            else:
                info = first_fitting(wording.reasons(w, now), cols.info)
        if state == "held":
            info = "‖ held"
        return cols.line(mark, str(rows.position(i)), sid, jtype, name, pri,
                         age(job.submitted_at if job else None, now), info), \
            ("job-list--held" if state == "held" else "")

    def _strip(self, text: str, classes: str | list[str], width: int) -> Strip:
        style: Style = self.rich_style
        for cls in [classes] if isinstance(classes, str) else classes:
            style += self.get_component_rich_style(cls)
        # Leading blanks in a segment of their own: SVG renderers (librsvg) drop them at the
        # start of a text element, which shifts the row in screenshots.
        body = text.lstrip(" ")
        lead = len(text) - len(body)
        return Strip([Segment(text[:lead], style + LEAD), Segment(body, style)]).crop_extend(0, width, style)

    # -- lazy decoding ---------------------------------------------------------------
    # Decoded jobs are kept by (id, state): a job's file is immutable within a state,
    # and a new state (claimed, finished) is a new file with more in it.

    def _want(self, i: int) -> None:
        if not self._wanted:
            self.call_after_refresh(self._decode_wanted)
        self._wanted.add(i)

    def _decode_wanted(self) -> None:
        rows = self.rows
        if rows is None or not self._wanted:
            return
        refs = []
        for i in sorted(self._wanted):
            key = job_key(rows.job_id(i), rows.state(i)) if i < len(rows) else ""
            if key and key not in self._inflight and key not in self._jobs:
                refs.append(rows.ref(i))
                self._inflight.add(key)
        self._wanted.clear()
        if refs:
            self.decode(refs)

    @work(thread=True, group="decode", exit_on_error=False)
    def decode(self, refs: list) -> None:
        rows = self.rows
        if rows is not None:
            jobs, failed = decode_jobs(rows.spool, refs)
            self.post_message(self.JobsDecoded([job_key(r.id, r.state) for r in refs], jobs, failed))

    def on_job_list_jobs_decoded(self, message: JobsDecoded) -> None:
        message.stop()
        for k in message.asked:
            self._inflight.discard(k)
        for k, job in message.jobs.items():
            self._jobs.set(k, job)
        for k, why in message.failed.items():
            self._bad[k.partition("/")[0]] = why  # until the next listing, which will have settled it
        self.refresh()
