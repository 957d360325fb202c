"""What history says about a kind of job: typical duration and success rate.

A kind is a job type; a job without a type is its own kind only with the same command
in the same queue (`sleep 30` in `build` learns nothing from `true` in `default`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from .errors import SpoolError
from .model import Job
from .spool import Spool
from .states import State

RECENT = 200  # finished jobs per queue to learn from: enough for a median, cheap to decode


@dataclass(slots=True)
class TypeStats:
    runs: int
    succeeded: int
    typical: float | None  # median duration in seconds of successful runs

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.runs if self.runs else None


def kind_of(job: Job, queue: str | None = None) -> str:
    """The key a job's history is kept under, readable as it is: "type build", or
    "`make -j8` in queue default" for a job without a type."""
    if job.type:
        return f"type {job.type}"
    command = job.command[0] if job.shell and job.command else shlex.join(job.command)
    return f"`{'sh -c ' if job.shell else ''}{command}` in queue {queue or job.queue}"


@dataclass(slots=True)
class History:
    by_kind: dict[str, TypeStats] = field(default_factory=dict)

    def of(self, job: Job) -> TypeStats | None:
        return self.by_kind.get(kind_of(job))


def type_stats(spool: Spool) -> History:
    """Per kind of job (see `kind_of`), from the most recent finished jobs of each queue."""
    durations: dict[str, list[float]] = {}
    runs: dict[str, list[int]] = {}
    for q in spool.queue_names():
        for r in spool.done_refs(q, last=RECENT):
            if r.state == State.CANCELLED:
                continue
            try:
                job = spool.read(r)
            except SpoolError:
                continue
            key = kind_of(job, q)
            ok = r.state == State.SUCCEEDED
            runs.setdefault(key, [0, 0])
            runs[key][0] += 1
            runs[key][1] += ok
            res = job.result
            if ok and res and res.started_at and res.finished_at:
                durations.setdefault(key, []).append(res.finished_at - res.started_at)
    import statistics  # here: it imports fractions, decimal and random, which `ls` does not need otherwise

    return History({
        k: TypeStats(n, s, statistics.median(durations[k]) if durations.get(k) else None)
        for k, (n, s) in runs.items()
    })
