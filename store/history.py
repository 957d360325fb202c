"""What history says about a kind of job: typical duration and success rate."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .errors import SpoolError
from .spool import Spool

RECENT = 200  # finished jobs per queue to learn from: enough for a median, cheap to decode


@dataclass(slots=True)
class TypeStats:
    runs: int
    succeeded: int
    typical: float | None  # median duration in seconds of successful runs

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.runs if self.runs else None


def type_stats(spool: Spool) -> dict[str, TypeStats]:
    """Per job type (key "" for untyped jobs), from the most recent finished jobs."""
    durations: dict[str, list[float]] = {}
    runs: dict[str, list[int]] = {}
    for q in spool.queue_names():
        for r in spool.done_refs(q, last=RECENT):
            if r.state == "cancelled":
                continue
            try:
                job = spool.read(r)
            except SpoolError:
                continue
            key = job.type or ""
            ok = r.state == "succeeded"
            runs.setdefault(key, [0, 0])
            runs[key][0] += 1
            runs[key][1] += ok
            res = job.result
            if ok and res and res.started_at and res.finished_at:
                durations.setdefault(key, []).append(res.finished_at - res.started_at)
    return {
        k: TypeStats(n, s, statistics.median(durations[k]) if durations.get(k) else None)
        for k, (n, s) in runs.items()
    }
