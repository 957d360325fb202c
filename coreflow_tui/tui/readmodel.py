"""What the TUI shows, read from the spool: plain data built in workers, no widgets.

A queue of 100,000 jobs is held as its names-only run order (`Spool.pending`);
jobs are decoded only when a row is drawn (`Spool.read` caches them).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

from store import CorruptJob, Job, JobNotFound, JobRef, JobView, QueueInfo, Spool, SpoolError
from store.chain import chain
from store.history import History, type_stats
from store.jobtypes import load_types
from store.layout import FINAL_STATES, PendingName
from store.runners import RunnerState, runners
from store.waiting import QueueContext, Waiting

from ..present import JobDetail

FINISHED = frozenset(FINAL_STATES)


@dataclass(repr=False)
class QueueRows:
    """A queue's running jobs (decoded), then its pending and held jobs in run order."""

    spool: Spool
    queue: str
    running: list[JobView]
    order: list[PendingName]
    ctx: QueueContext
    stats: History
    cancelling: set[str] = field(default_factory=set)
    _ids: dict[str, int] | None = field(default=None, init=False)

    def __len__(self) -> int:
        return len(self.running) + len(self.order)

    def __repr__(self) -> str:  # short: worker descriptions repr their arguments
        return f"<QueueRows {self.queue}: {len(self)} jobs>"

    def job_id(self, i: int) -> str:
        r = len(self.running)
        return self.running[i].job.id if i < r else self.order[i - r].id

    def state(self, i: int) -> str:
        r = len(self.running)
        return "running" if i < r else self.order[i - r].state

    def position(self, i: int) -> int | None:
        r = len(self.running)
        return None if i < r else i - r + 1

    def ref(self, i: int) -> JobRef:
        r = len(self.running)
        return self.running[i].ref if i < r else self.spool.pending_ref(self.queue, self.order[i - r])

    def known(self, i: int) -> Job | None:
        return self.running[i].job if i < len(self.running) else None

    def index_of(self, job_id: str) -> int | None:
        # Built once per listing: marks look their jobs up at every cursor move.
        if self._ids is None:
            r = len(self.running)
            self._ids = {v.job.id: i for i, v in enumerate(self.running)}
            self._ids.update((p.id, r + i) for i, p in enumerate(self.order))
        return self._ids.get(job_id)

    def why(self, job: Job, held: bool) -> Waiting:
        return self.ctx.why(job, held)

    def moved(self, job_id: str, position: int) -> None:
        """Show a move the store just made before the next listing confirms it."""
        i = self.index_of(job_id)
        if i is not None and i >= len(self.running) and 1 <= position <= len(self.order):
            self.order.insert(position - 1, self.order.pop(i - len(self.running)))
            self._ids = None


@dataclass(repr=False)
class FinishedRows:
    """A queue's finished jobs, newest first."""

    spool: Spool
    queue: str
    done: list[JobRef]
    stats: History
    _ids: dict[str, int] | None = field(default=None, init=False)

    def __len__(self) -> int:
        return len(self.done)

    def __repr__(self) -> str:
        return f"<FinishedRows {self.queue}: {len(self)} jobs>"

    def job_id(self, i: int) -> str:
        return self.done[i].id

    def state(self, i: int) -> str:
        return self.done[i].state

    def position(self, i: int) -> int | None:
        return None

    def ref(self, i: int) -> JobRef:
        return self.done[i]

    def known(self, i: int) -> Job | None:
        return None

    def index_of(self, job_id: str) -> int | None:
        if self._ids is None:
            self._ids = {r.id: i for i, r in enumerate(self.done)}
        return self._ids.get(job_id)


@dataclass(repr=False)
class FilteredRows:
    """The rows of a listing that match a filter, keeping their real positions."""

    base: QueueRows | FinishedRows
    indices: list[int]
    text: str

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"<FilteredRows {self.text!r}: {len(self)} of {len(self.base)}>"

    def __getattr__(self, name: str) -> object:
        return getattr(self.base, name)

    def job_id(self, i: int) -> str:
        return self.base.job_id(self.indices[i])

    def state(self, i: int) -> str:
        return self.base.state(self.indices[i])

    def position(self, i: int) -> int | None:
        return self.base.position(self.indices[i])

    def ref(self, i: int) -> JobRef:
        return self.base.ref(self.indices[i])

    def known(self, i: int) -> Job | None:
        return self.base.known(self.indices[i])

    def index_of(self, job_id: str) -> int | None:
        b = self.base.index_of(job_id)
        i = bisect.bisect_left(self.indices, b) if b is not None else len(self.indices)
        return i if i < len(self.indices) and self.indices[i] == b else None


Rows = QueueRows | FinishedRows | FilteredRows


@dataclass
class Overview:
    queues: list[QueueInfo]
    runners: list[RunnerState]
    corrupt: int
    loaded_at: float
    orphans: dict[str, int] = field(default_factory=dict)  # lost runner id -> its jobs still running


FORGET_AFTER = 3  # leases: a lost runner whose jobs were taken over leaves the panes after this long


def silent(r: RunnerState) -> bool:
    """Its heartbeat is late, lost or not yet: a runner beats every lease/3 (at most 10 s)."""
    return r.age > max(2.0, min(r.beat.lease / 3, 10.0) + 1.0)


def shown_runners(ov: Overview) -> list[RunnerState]:
    """The runners worth a line: live ones, and lost ones until their jobs are taken over and
    they have been silent for several leases (`coreflow doctor` still reports those)."""
    return [r for r in ov.runners
            if not r.lost or ov.orphans.get(r.beat.id) or r.age < FORGET_AFTER * r.beat.lease]


def load_queue(spool: Spool, queue: str, now: float | None) -> QueueRows:
    order = spool.pending(queue)
    running: list[JobView] = []
    for r in spool.refs(queue, {"running"}):
        try:
            running.append(spool.view(r))
        except SpoolError:
            continue  # it finished or was quarantined meanwhile; the next listing settles it
    stats = type_stats(spool)
    ctx = QueueContext.of(spool, queue, order, [v.job for v in running], runners(spool, now), stats, now)
    return QueueRows(spool, queue, running, order, ctx, stats, spool.cancel_requests(queue))


def load_finished(spool: Spool, queue: str) -> FinishedRows:
    return FinishedRows(spool, queue, spool.done_refs(queue)[::-1], type_stats(spool))


def load_overview(spool: Spool, now: float | None, known: QueueRows | None = None) -> Overview:
    infos = []
    for name in spool.queue_names():
        if known is not None and known.queue == name:
            held = sum(1 for p in known.order if p.held)
            infos.append(QueueInfo(name, known.ctx.config, len(known.order) - held, held, len(known.running)))
            continue
        try:
            infos.append(spool.queue_info(name))
        except SpoolError:
            continue  # removed while we looked
    states = runners(spool, now)
    return Overview(infos, states, len(spool.corrupt_files()), time.time() if now is None else now,
                    _orphans(spool, [r.beat.id for r in states if r.lost]))


def _orphans(spool: Spool, lost: list[str]) -> dict[str, int]:
    """How many running jobs each lost runner still holds (read only when one is lost)."""
    out: dict[str, int] = {}
    if not lost:
        return out
    for name in spool.queue_names():
        for r in spool.refs(name, {"running"}):
            try:
                claim = spool.read(r).claim
            except SpoolError:
                continue
            if claim is not None and claim.runner in lost:
                out[claim.runner] = out.get(claim.runner, 0) + 1
    return out


def serving(live: list[RunnerState]) -> tuple[object, ...]:
    """What of the runners decides why jobs wait (not when each last beat)."""
    return tuple(sorted((r.beat.id, r.lost, r.beat.stopping, tuple(r.beat.busy), r.beat.slots,
                         tuple(r.beat.queues), tuple(r.beat.labels)) for r in live))


def load_detail(spool: Spool, ref: JobRef, position: int | None, rows: QueueRows | FinishedRows | None,
                now: float) -> JobDetail:
    view = spool.view(ref, position)
    job = view.job
    waiting = rows.why(job, view.state == "held") if isinstance(rows, QueueRows) and position else None
    try:
        jobtype = load_types(spool.layout.types).get(job.type or "")
    except SpoolError:
        jobtype = None
    stats = rows.stats.of(job) if rows is not None else None
    cancel = view.state == "running" and spool.cancel_requested(view.queue, job.id)
    return JobDetail(view, waiting, jobtype, stats, spool.audit(job.id), cancel, now, *chain(spool, job))


def matches(job: Job, needle: str) -> bool:
    """The filter: name, type, labels, trigger and id, case-insensitive."""
    hay = [job.id, job.name, job.type or "", *job.labels, *job.labels.values()]
    if job.trigger is not None:
        hay += [job.trigger.name, job.trigger.kind, job.trigger.detail]
    return any(needle in h.lower() for h in hay)


def job_key(job_id: str, state: str) -> str:
    """A decoded job's cache key: a job's file is immutable within a state, and a new state
    (claimed, finished) is a new file with more in it."""
    return f"{job_id}/{state}"


def decode_jobs(spool: Spool, refs: list[JobRef]) -> tuple[dict[str, Job], dict[str, str]]:
    """The jobs of these rows by `job_key`, and why each unreadable one is not shown. A running
    job not settled yet (read between its claim's rename and rewrite) is in neither: ask again."""
    jobs: dict[str, Job] = {}
    failed: dict[str, str] = {}
    for r in refs:
        key = job_key(r.id, r.state)
        try:
            job = spool.read(r, cache=False)  # the caller's LRU bounds memory
        except CorruptJob:
            failed[key] = "(unreadable: moved to corrupt/)"
        except JobNotFound:
            failed[key] = "(changed; reloading)"
        except SpoolError as exc:
            failed[key] = str(exc)
        else:
            if r.state != "running" or job.claim is not None:
                jobs[key] = job
    return jobs, failed
