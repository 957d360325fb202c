"""Why a pending job has not started, in the words the CLI and the TUI both show."""

from __future__ import annotations

from dataclasses import dataclass

from .history import TypeStats
from .layout import PendingName
from .model import Job, QueueConfig
from .runners import RunnerState
from .spool import Spool


@dataclass(slots=True)
class Waiting:
    reason: str
    ahead: int  # waiting, unheld jobs in front of it
    eta: float | None  # seconds until it should start, from history; None if unknown


@dataclass(slots=True)
class QueueContext:
    """What the reasons of one queue's jobs depend on, gathered once per listing."""

    queue: str
    config: QueueConfig
    running: int
    live: list[RunnerState]  # live runners that serve this queue
    ahead: dict[str, int]
    stats: dict[str, TypeStats]

    @classmethod
    def load(cls, spool: Spool, queue: str, runners: list[RunnerState],
             stats: dict[str, TypeStats] | None = None) -> QueueContext:
        return cls.of(spool, queue, spool.pending(queue), len(spool.running_ids(queue)), runners, stats)

    @classmethod
    def of(cls, spool: Spool, queue: str, order: list[PendingName], running: int, runners: list[RunnerState],
           stats: dict[str, TypeStats] | None = None) -> QueueContext:
        """From a listing the caller already has (`order`: run order, held included)."""
        ahead: dict[str, int] = {}
        n = 0
        for p in order:
            ahead[p.id] = n
            n += not p.held
        # A draining runner claims nothing more: it no longer counts as serving.
        live = [r for r in runners if not r.lost and not r.beat.stopping and r.serves(queue)]
        return cls(queue, spool.queue_config(queue), running, live, ahead, stats or {})

    def why(self, job: Job, held: bool) -> Waiting:
        ahead = self.ahead.get(job.id, 0)
        slots = self.config.slots
        busy = self.running >= slots
        able = [r for r in self.live if set(job.requires) <= set(r.beat.labels)]
        runners_full = bool(able) and all(len(r.beat.busy) >= r.beat.slots for r in able)
        if held:
            reason = "held"
        elif self.config.paused:
            reason = "queue paused"
        elif not self.live:
            reason = f"no live runner serves queue {self.queue}"
        elif not able:
            reason = f"no runner has label{'s' if len(job.requires) > 1 else ''} {','.join(job.requires)}"
        else:
            if busy:
                reason = f"all {slots} slots busy"
            elif runners_full:
                reason = "its runner{} busy".format("s are all" if len(able) > 1 else " is")
            else:
                reason = "starting" if not ahead else ""
            reason = ", ".join(r for r in (reason, f"{ahead} ahead" if ahead else "") if r)
        return Waiting(reason, ahead, self._eta(job, ahead, busy))

    def _eta(self, job: Job, ahead: int, busy: bool) -> float | None:
        st = self.stats.get(job.type or "") or self.stats.get("")
        if st is None or st.typical is None:
            return None
        slots = self.config.slots
        rounds = ahead // slots + (1 if busy else 0)
        return rounds * st.typical
