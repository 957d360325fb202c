"""What the main screen's parts (changes, panes, filter) share: its state and the calls they
make on one another. Each part is typed against this base, never the concrete screen, so no
import runs back up from a part to `main_screen`."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual.reactive import var
from textual.screen import Screen

import store
from store import Spool
from store.feed import Feed

from ..readmodel import FinishedRows, Overview, QueueRows
from ..settings import Settings
from ..widgets.job_list import JobList
from ..widgets.spool_changes import SpoolChanges

if TYPE_CHECKING:
    from textual.timer import Timer


class MainBase(Screen[None]):
    # The view's modes: setting one runs its watcher (watch_finished, watch_filter_text).
    finished: var[bool] = var(False, init=False)  # the finished view (f) instead of the waiting one
    filter_text: var[str] = var("", init=False)  # the filter (/), lower case; "" shows every job

    def __init__(self, spool: Spool, settings: Settings) -> None:
        super().__init__()
        self.spool = spool
        self.settings = settings
        self.queue = settings.queue or store.DEFAULT_QUEUE
        self.base: QueueRows | FinishedRows | None = None
        self.overview: Overview | None = None
        self.feed = Feed(spool, mode=settings.watch)
        self._stop = threading.Event()
        self._dirty: set[str] = set()
        self._loading = False
        self._serving: tuple[object, ...] = ()  # serving() of the runners last loaded (load thread)
        self._first = True

    @property
    def jobs(self) -> JobList:
        return self.query_one(JobList)

    @property
    def changes(self) -> SpoolChanges:
        return self.query_one(SpoolChanges)

    if TYPE_CHECKING:  # defined by MainScreen, called across the parts
        _log_timer: Timer

        def request_load(self, *what: str) -> None: ...

        def _title(self) -> None: ...


# The parts (changes, panes, filter) derive from Part: typed as MainBase, a plain mixin at run time.
if TYPE_CHECKING:
    Part = MainBase
else:
    Part = object
