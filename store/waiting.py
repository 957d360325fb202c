"""Why a pending job has not started, and when it should: the facts the CLI and the TUI show.

The expected start is given only where the job could start as things stand (not held,
queue not paused, a live runner serves the queue and has its labels). It comes from a
small model of the queue: its slots (at most what its live runners offer) free up as the
running jobs reach their typical duration (typical minus elapsed), and the waiting jobs
ahead take them in run order, each for its own typical duration. Where a duration the
model needs has no history, the start is unknown, and `Waiting.unknown` says why.

A job that waits on other jobs (`after`, `after_finished`) or on a time (`not_before`)
takes no slot in that model until it may start; its start is the latest of its queue's
turn, its dependencies' expected ends (a running one: typical minus elapsed; a waiting
one: its own expected start plus typical, in whatever queue) and `not_before`.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from dataclasses import dataclass, field

from .chain import Blocker
from .errors import JobNotFound, SpoolError
from .history import History, kind_of
from .layout import PendingName
from .model import Job, QueueConfig
from .runners import RunnerState
from .spool import Spool
from .refs import JobRef
from .states import FINAL, State

MAX_AHEAD = 1000  # deeper than this the model reads too many jobs, and would not be true anyway
# The model is filled in lazily (a DepBook's placeholders, a timeline walked as far as
# asked) and the TUI asks from its UI thread and its detail worker at once: one at a time.
_MODEL = threading.RLock()


@dataclass(slots=True)
class Deps:
    """What a waiting job waits for besides a slot: jobs that have not ended as it needs,
    and a time (`not_before`, epoch seconds, while still ahead)."""

    waits_for: list[Blocker]
    not_before: float | None
    now: float
    book: DepBook | None = field(default=None, repr=False, compare=False)

    def ready(self) -> tuple[float | None, str]:
        """Seconds until every dependency should have ended and not_before passed."""
        t = max(0.0, self.not_before - self.now) if self.not_before else 0.0
        for b in self.waits_for:
            end = self.book.end(b) if self.book is not None else None
            if end is None:
                return None, f"no expected end for {b.id[-8:]}"
            t = max(t, end)
        return t, ""


@dataclass(slots=True)
class Waiting:
    reason: str
    ahead: int  # waiting, unheld jobs in front of it
    blocked: bool = False  # it cannot start as things stand: `reason` says what stops it
    timeline: _Timeline | None = field(default=None, repr=False)
    note: str = ""  # why there is no timeline although it could start
    deps: Deps | None = None  # it waits on other jobs or a time (the CLI and TUI word it)
    brief: str = ""  # `reason` in fewer words, for a narrow column ("" when it has none)

    # The start is worked out when asked: a listing shows every row's reason, few starts.
    @property
    def eta(self) -> float | None:
        """Seconds until it should start; None when it cannot start or history cannot tell."""
        return self._start()[0]

    @property
    def unknown(self) -> str:
        """Why `eta` is None although it could start."""
        return self._start()[1]

    def _start(self) -> tuple[float | None, str]:
        with _MODEL:
            turn, why = (None, self.note) if self.timeline is None else self.timeline.start(self.ahead)
            if self.deps is None or self.blocked:
                return turn, why
            ready, why_not = self.deps.ready()
        if ready is None:
            return None, why_not
        return (None, why) if turn is None else (max(turn, ready), "")


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
    book: DepBook | None = None  # shared by the contexts of one listing: dependencies in any queue
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

    def deps(self, job: Job) -> Deps | None:
        """What else than a slot this job waits for, None when nothing."""
        if not (job.after or job.after_finished or (job.not_before and job.not_before > self.now)):
            return None
        if self.book is None:
            self.book = DepBook(self.spool, self.live, self.stats, self.now, {self.queue: self})
        need = [(i, True) for i in job.after] + [(i, False) for i in job.after_finished]
        waits = [b for i, ok in need if not self.book.satisfied(b := self.book.get(i), ok)]
        nb = job.not_before if job.not_before and job.not_before > self.now else None
        return Deps(waits, nb, self.now, self.book) if waits or nb else None

    def why(self, job: Job, held: bool) -> Waiting:
        with _MODEL:
            w = self._why(job, held)
            if not held:
                w.deps = self.deps(job)
            return w

    def _why(self, job: Job, held: bool) -> Waiting:
        ahead = self.ahead.get(job.id, 0)
        slots = self.config.slots
        busy = len(self.running) >= slots
        able = [r for r in self.live if set(job.requires) <= set(r.beat.labels)]
        runners_full = bool(able) and all(len(r.beat.busy) >= r.beat.slots for r in able)
        blocked = True
        brief = ""
        if held:
            reason = "held"
        elif self.config.paused:
            reason, brief = "queue paused", "paused"
        elif not self.live:
            reason, brief = f"no live runner serves queue {self.queue}", "no runner serves it"
        elif not able:
            labels = ",".join(job.requires)
            reason = f"no runner has label{'s' if len(job.requires) > 1 else ''} {labels}"
            brief = f"needs runner label {labels}"
        else:
            blocked = False
            if busy:
                reason, brief = f"all {slots} slots busy", "slots busy"
            elif runners_full:
                reason, brief = "its runner{} busy".format("s are all" if len(able) > 1 else " is"), "runner busy"
            else:
                reason = "starting" if not ahead else ""
            behind = f"{ahead} ahead" if ahead else ""
            reason = ", ".join(r for r in (reason, behind) if r)
            brief = ", ".join(r for r in (brief, behind) if r) if brief else ""
        if blocked:
            return Waiting(reason, ahead, blocked=True, brief=brief)
        if ahead > MAX_AHEAD:
            return Waiting(reason, ahead, note=f"more than {MAX_AHEAD} jobs ahead", brief=brief)
        if self._sim is None:
            self._sim = _Timeline(self)
        return Waiting(reason, ahead, timeline=self._sim, brief=brief)


class DepBook:
    """The jobs waited on in one listing, each found and read once (9,999 jobs waiting on
    one build cost one look-up), with the queue contexts their expected ends need."""

    def __init__(self, spool: Spool, runners: list[RunnerState], stats: History, now: float,
                 contexts: dict[str, QueueContext]) -> None:
        self.spool, self.runners, self.stats, self.now = spool, runners, stats, now
        self.contexts = contexts
        self.known: dict[str, Blocker] = {}
        self.ends: dict[str, float | None] = {}
        self._refs: dict[str, JobRef] | None = None  # every job by id, listed once (not a find per dependency)

    @staticmethod
    def satisfied(b: Blocker, success: bool) -> bool:
        if b.state is None:
            return True  # pruned: it ended long ago and can hold nothing back
        return b.state == State.SUCCEEDED if success else b.state in FINAL

    def get(self, job_id: str) -> Blocker:
        b = self.known.get(job_id)
        if b is None:
            self.known[job_id] = b = Blocker(job_id, "", "", None)  # a placeholder stops a loop
            if self._refs is None:
                self._refs = self.spool.every_ref()
            try:
                ref = self._refs.get(job_id) or self.spool.find(job_id)
                try:
                    job = self.spool.read(ref)
                except JobNotFound:  # it moved on since the listing
                    ref = self.spool.find(job_id)
                    job = self.spool.read(ref)
            except SpoolError:
                return b
            b.name, b.queue, b.state, b.job = job.name, ref.queue, ref.state, job
        return b

    def end(self, b: Blocker) -> float | None:
        """Seconds until `b` should end; None when history cannot tell. Worked out only
        when a start is asked for (never while a queue's model is being walked)."""
        if b.id not in self.ends:
            self.ends[b.id] = None  # a placeholder stops a loop
            self.ends[b.id] = None if b.job is None or b.state is None else self._end(b.job, b.state)
        return self.ends[b.id]

    def _end(self, job: Job, state: str) -> float | None:
        held = state == State.HELD
        if state in FINAL:
            return 0.0
        st = self.stats.of(job)
        typical = st.typical if st is not None else None
        if typical is None or state == State.HELD:
            return None
        if state == State.RUNNING:
            return max(0.0, typical - (self.now - job.claim.claimed_at if job.claim else 0.0))
        ctx = self.contexts.get(job.queue)
        if ctx is None:
            ctx = QueueContext.load(self.spool, job.queue, self.runners, self.stats, self.now)
            ctx.book = self
            self.contexts[job.queue] = ctx
        start = ctx.why(job, held).eta
        return None if start is None else start + typical


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
            if ctx.deps(job) is not None:
                self.starts.append(self.t)  # it takes no slot until it may start (Waiting adds when)
                continue
            while len(self.ends) >= self.capacity:
                self.t = max(self.t, heapq.heappop(self.ends))
            self.starts.append(self.t)
            heapq.heappush(self.ends, self.t + self._typical(job))
        t = self.starts[ahead] if ahead < len(self.starts) else math.inf
        if math.isinf(t):
            return None, self.missing or "unknown"
        return t, ""

