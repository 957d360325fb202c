"""`coreflow metrics`: the spool as Prometheus metrics, for node_exporter's textfile collector.

A custom prometheus_client Collector reads a snapshot of the spool each time it is
collected, into a registry of its own (no global registry state). Waiting and running
jobs are counted from file names alone; finished jobs' files are decoded for their
durations, and a long-lived collector (the one `serve` keeps) remembers each done file
it has read, since done files never change.

Finished jobs are those still kept in the spool: `prune` lowers the counts, which
Prometheus' rate() reads as a counter reset.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from store import JobRef, QueueNotFound, Spool, SpoolError
from store.layout import FINAL_STATES
from store.names import id_time
from store.runners import runners

TEXTFILE_NAME = "coreflow.prom"
# Seconds; CI jobs run from seconds to hours.
BUCKETS = (0.0, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0)


@dataclass
class QueueStats:
    name: str
    slots: int
    paused: bool
    states: dict[str, int]  # pending, held, running and each final state -> jobs
    oldest_waiting: float | None  # seconds the first-submitted pending job has waited
    durations: dict[str, list[float]] = field(default_factory=dict)  # job type ("" if none) -> seconds


@dataclass
class Snapshot:
    queues: list[QueueStats]
    runners_live: int
    runners_lost: int


# done file name -> (job type, seconds it ran, or None if it never started)
DoneCache = dict[str, tuple[str, float | None]]


def take_snapshot(spool: Spool, cache: DoneCache | None = None, now: float | None = None) -> Snapshot:
    now = time.time() if now is None else now
    cache = {} if cache is None else cache
    seen: set[str] = set()
    queues = []
    for q in spool.queue_names():
        try:
            queues.append(_queue_stats(spool, q, cache, seen, now))
        except QueueNotFound:
            continue  # the queue was removed while we looked
    for name in set(cache) - seen:
        del cache[name]  # pruned since the last look
    states = runners(spool)
    lost = sum(1 for r in states if r.lost)
    return Snapshot(queues, len(states) - lost, lost)


def _queue_stats(spool: Spool, q: str, cache: DoneCache, seen: set[str], now: float) -> QueueStats:
    cfg = spool.queue_config(q)
    pend = spool.pending(q)
    held = sum(1 for p in pend if p.held)
    states = {"pending": len(pend) - held, "held": held, "running": len(spool.running_ids(q))}
    states.update({s: 0 for s in FINAL_STATES})
    durations: dict[str, list[float]] = {}
    for ref in spool.done_refs(q):
        states[ref.state] += 1
        key = f"{q}/{ref.path.name}"
        seen.add(key)
        if key not in cache:
            cache[key] = _ran(spool, ref)
        jtype, took = cache[key]
        if took is not None:
            durations.setdefault(jtype, []).append(took)
    waiting = [p for p in pend if not p.held]
    first = min(waiting, key=lambda p: p.id) if waiting else None  # ids are time-ordered
    oldest = now - _submitted_at(spool, spool.pending_ref(q, first)) if first else None
    return QueueStats(q, cfg.slots, cfg.paused, states, oldest, durations)


def _ran(spool: Spool, ref: JobRef) -> tuple[str, float | None]:
    try:
        job = spool.read(ref, cache=False)
    except SpoolError:
        return "", None  # gone or corrupt (moved aside): not counted as run
    r = job.result
    if r is None or r.started_at is None or r.finished_at is None:
        return job.type or "", None
    return job.type or "", max(0.0, r.finished_at - r.started_at)


def _submitted_at(spool: Spool, ref: JobRef) -> float:
    """When a waiting job was submitted (its file says; its id, if the file just went)."""
    try:
        return spool.read(ref).submitted_at or id_time(ref.id)
    except SpoolError:
        return id_time(ref.id)


class SpoolCollector(Collector):
    """Collects a fresh snapshot of one spool each time the registry is read."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.cache: DoneCache = {}

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        snap = take_snapshot(self.spool, self.cache)
        yield from families(snap)


def families(snap: Snapshot) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
    jobs = GaugeMetricFamily("coreflow_jobs", "Jobs in the spool by queue and state (finished: those kept)",
                             labels=["queue", "state"])
    oldest = GaugeMetricFamily("coreflow_oldest_waiting_seconds",
                               "Age of the first-submitted pending (not held) job of each queue; 0 when none waits",
                               labels=["queue"])
    slots = GaugeMetricFamily("coreflow_queue_slots", "Jobs a queue may run at once across all hosts",
                              labels=["queue"])
    busy = GaugeMetricFamily("coreflow_queue_busy_slots", "Running jobs of each queue", labels=["queue"])
    paused = GaugeMetricFamily("coreflow_queue_paused", "1 if the queue is paused", labels=["queue"])
    finished = GaugeMetricFamily("coreflow_finished_jobs", "Finished jobs kept in the spool, by outcome",
                                 labels=["queue", "outcome"])
    took = HistogramMetricFamily("coreflow_job_duration_seconds",
                                 "How long finished jobs kept in the spool ran, by queue and type",
                                 labels=["queue", "type"])
    for qs in snap.queues:
        for state, n in qs.states.items():
            jobs.add_metric([qs.name, state], n)
            if state in FINAL_STATES:
                finished.add_metric([qs.name, state], n)
        oldest.add_metric([qs.name], qs.oldest_waiting or 0.0)
        slots.add_metric([qs.name], qs.slots)
        busy.add_metric([qs.name], qs.states["running"])
        paused.add_metric([qs.name], int(qs.paused))
        for jtype, values in sorted(qs.durations.items()):
            took.add_metric([qs.name, jtype], *histogram(values))
    run = GaugeMetricFamily("coreflow_runners", "Runners with a heartbeat file, live or lost", labels=["state"])
    run.add_metric(["live"], snap.runners_live)
    run.add_metric(["lost"], snap.runners_lost)
    yield from (jobs, oldest, slots, busy, paused, finished, took, run)


def histogram(values: list[float]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets (with +Inf) and the sum, as HistogramMetricFamily takes them."""
    values = sorted(values)
    buckets, i = [], 0
    for bound in BUCKETS:
        while i < len(values) and values[i] <= bound:
            i += 1
        buckets.append((floatToGoString(bound), float(i)))
    buckets.append(("+Inf", float(len(values))))
    return buckets, sum(values)


def registry_for(spool: Spool) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SpoolCollector(spool))
    return registry


def write_textfile(registry: CollectorRegistry, directory: Path) -> Path:
    """Write the metrics as DIR/coreflow.prom, atomically (a temporary file renamed over it)."""
    path = directory / TEXTFILE_NAME
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise SpoolError(f"cannot write the metrics file {path}: {exc.strerror}; "
                         "check that the directory exists and is writable") from None
    return path


def cmd_metrics(args: argparse.Namespace) -> int:
    registry = registry_for(Spool.open(args.spool))
    if args.textfile is not None:
        write_textfile(registry, args.textfile)
    else:
        sys.stdout.buffer.write(generate_latest(registry))
    return 0
