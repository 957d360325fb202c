"""Why a pending job has not started, and when it should: the facts the CLI and the TUI show.

The expected start is given only where the job could start as things stand (not held,
queue not paused, a live runner serves the queue and has its labels). It comes from a
small model of the queue: its slots (at most what its live runners offer) free up as the
running jobs reach their typical duration (typical minus elapsed), and the waiting jobs
ahead take them in run order, each for its own typical duration. Where a duration the
model needs has no history, the start is unknown, and `Waiting.unknown` says why.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

from .errors import SpoolError
from .history import History, kind_of
from .layout import PendingName
from .model import Job, QueueConfig
from .runners import RunnerState
from .spool import Spool
from .states import State

MAX_AHEAD = 1000  # deeper than this the model reads too many jobs, and would not be true anyway


@dataclass(slots=True)
class Waiting:
    reason: str
    ahead: int  # waiting, unheld jobs in front of it
    blocked: bool = False  # it cannot start as things stand: `reason` says what stops it
    timeline: _Timeline | None = field(default=None, repr=False)
    note: str = ""  # why there is no timeline although it could start

    # The start is worked out when asked: a listing shows every row's reason, few starts.
    @property
    def eta(self) -> float | None:
        """Seconds until it should start; None when it cannot start or history cannot tell."""
        return None if self.timeline is None else self.timeline.start(self.ahead)[0]

    @property
    def unknown(self) -> str:
        """Why `eta` is None although it could start."""
        return self.note if self.timeline is None else self.timeline.start(self.ahead)[1]


@dataclass(slots=True)
class QueueContext:
    """What the reasons of one queue's jobs depend on, gathered once per listing."""

    spool: Spool
    queue: str
    config: QueueConfig
    running: list[Job]
    live: list[RunnerState]  # live runners that serve this queue
    order: list[PendingName]
    ahead: dict[str, int]
    stats: History
    now: float
    _sim: _Timeline | None = field(default=None, init=False)

    @classmethod
    def load(cls, spool: Spool, queue: str, runners: list[RunnerState], stats: History | None = None,
             now: float | None = None) -> QueueContext:
        running = []
        for r in spool.refs(queue, {State.RUNNING}):
            try:
                running.append(spool.read(r))
            except SpoolError:
                continue  # it finished meanwhile
        return cls.of(spool, queue, spool.pending(queue), running, runners, stats, now)

    @classmethod
    def of(cls, spool: Spool, queue: str, order: list[PendingName], running: list[Job],
           runners: list[RunnerState], stats: History | None = None, now: float | None = None) -> QueueContext:
        """From a listing the caller already has (`order`: run order, held included)."""
        ahead: dict[str, int] = {}
        n = 0
        for p in order:
            ahead[p.id] = n
            n += not p.held
        # A draining runner claims nothing more: it no longer counts as serving.
        live = [r for r in runners if not r.lost and not r.beat.stopping and r.serves(queue)]
        return cls(spool, queue, spool.queue_config(queue), running, live, order, ahead, stats or History(),
                   time.time() if now is None else now)

    def can_run(self, job: Job) -> bool:
        """Some live runner of this queue has every label the job requires."""
        need = set(job.requires)
        return any(need <= set(r.beat.labels) for r in self.live)

    def why(self, job: Job, held: bool) -> Waiting:
        ahead = self.ahead.get(job.id, 0)
        slots = self.config.slots
        busy = len(self.running) >= slots
        able = [r for r in self.live if set(job.requires) <= set(r.beat.labels)]
        runners_full = bool(able) and all(len(r.beat.busy) >= r.beat.slots for r in able)
        blocked = True
        if held:
            reason = "held"
        elif self.config.paused:
            reason = "queue paused"
        elif not self.live:
            reason = f"no live runner serves queue {self.queue}"
        elif not able:
            reason = f"no runner has label{'s' if len(job.requires) > 1 else ''} {','.join(job.requires)}"
        else:
            blocked = False
            if busy:
                reason = f"all {slots} slots busy"
            elif runners_full:
                reason = "its runner{} busy".format("s are all" if len(able) > 1 else " is")
            else:
                reason = "starting" if not ahead else ""
            reason = ", ".join(r for r in (reason, f"{ahead} ahead" if ahead else "") if r)
        if blocked:
            return Waiting(reason, ahead, blocked=True)
        if ahead > MAX_AHEAD:
            return Waiting(reason, ahead, note=f"more than {MAX_AHEAD} jobs ahead")
        if self._sim is None:
            self._sim = _Timeline(self)
        return Waiting(reason, ahead, timeline=self._sim)


class _Timeline:
    """Start times of a queue's unheld waiting jobs in run order, simulated as far as asked."""

    def __init__(self, ctx: QueueContext) -> None:
        self.ctx = ctx
        self.capacity = min(ctx.config.slots, sum(r.beat.slots for r in ctx.live))
        self.missing = ""  # the first kind of job without history the model needed
        self.ends: list[float] = []  # when each occupied slot frees up, as a heap
        for job in ctx.running:
            elapsed = ctx.now - job.claim.claimed_at if job.claim else 0.0
            typical = self._typical(job)
            self.ends.append(max(0.0, typical - elapsed))
        heapq.heapify(self.ends)
        self.t = 0.0
        self.starts: list[float] = []
        self.next = 0

    def _typical(self, job: Job) -> float:
        st = self.ctx.stats.of(job)
        if st is None or st.typical is None:
            self.missing = self.missing or f"no history for {kind_of(job)}"
            return math.inf
        return st.typical

    def start(self, ahead: int) -> tuple[float | None, str]:
        order, ctx = self.ctx.order, self.ctx
        while len(self.starts) <= ahead and self.next < len(order):
            p = order[self.next]
            self.next += 1
            if p.held:
                continue
            try:
                job = ctx.spool.read(ctx.spool.pending_ref(ctx.queue, p))
            except SpoolError:
                job = None
            if job is None or not ctx.can_run(job):
                self.starts.append(math.inf)  # runners skip it: it takes no slot
                continue
            while len(self.ends) >= self.capacity:
                self.t = max(self.t, heapq.heappop(self.ends))
            self.starts.append(self.t)
            heapq.heappush(self.ends, self.t + self._typical(job))
        t = self.starts[ahead] if ahead < len(self.starts) else math.inf
        if math.isinf(t):
            return None, self.missing or "unknown"
        return t, ""
