"""The dependency part of the chaos run (bench/chaos.py): pipelines and delayed jobs
submitted among the rest, and what must hold of them afterwards.

  * no dependent started before every one of its `after` jobs succeeded, nor before its
    `after_finished` jobs ended (from the jobs' own ticks: a start tick of each attempt
    of the dependent after the last tick of the job it waits on);
  * no delayed job started before its start time;
  * none is left waiting on a job that ended (a blocked job whose conditions hold, or
    whose `after` job failed, at the end);
  * no dependent cancelled "for a dependency" whose `after` jobs all succeeded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def pipeline(rng: random.Random, spec: Callable[[], Any], some_live: Callable[[], str | None]) -> list[Any]:
    """A batch for a submitter: a build -> test -> deploy chain (steps), sometimes one
    job after a live job of anyone's, sometimes a job delayed by up to 3 s."""
    import msgspec

    kind = rng.random()
    if kind < 0.5:
        build = msgspec.structs.replace(spec(), step="build")
        test = msgspec.structs.replace(spec(), step="test", after=["@build"])
        last = msgspec.structs.replace(spec(), **{"after" if rng.random() < 0.7 else "after_finished": ["@test"]})
        return [build, test, last]
    if kind < 0.8:
        other = some_live()
        if other:
            return [msgspec.structs.replace(spec(), after=[other]) if rng.random() < 0.7
                    else msgspec.structs.replace(spec(), after_finished=[other])]
    return [msgspec.structs.replace(spec(), not_before=time.time() + rng.uniform(0.2, 3.0))]


def check_deps(spool: Any, starts: dict[str, list[int]], ends: dict[str, int]) -> tuple[dict[str, object],
                                                                                      dict[str, str | None]]:
    """`starts`: job id -> first tick (ns) of each attempt; `ends`: job id -> its last tick."""
    from store import SpoolError, deps
    from store.states import State

    early: list[str] = []
    too_soon: list[str] = []
    stuck: list[str] = []
    wrongly: list[str] = []
    chained = delayed = by_dependency = 0
    known: dict[str, Any] = {}
    for q in spool.queue_names():
        for r in spool.refs(q, frozenset(State)):
            try:
                job = spool.read(r, cache=False)
            except SpoolError:
                continue
            if job.after or job.after_finished:
                chained += 1
            delayed += job.not_before is not None
            for dep in [*job.after, *job.after_finished]:
                if any(s <= ends.get(dep, 0) for s in starts.get(job.id, [])):
                    early.append(f"{job.id} before {dep}")
            for dep in job.after:
                if starts.get(job.id) and deps.state_of(spool, dep, known) != State.SUCCEEDED:
                    early.append(f"{job.id} ran though {dep} did not succeed")
            if job.not_before is not None and any(s < job.not_before * 1e9 for s in starts.get(job.id, [])):
                too_soon.append(job.id)
            if r.pending is not None and r.pending.blocked and deps.verdict(spool, job, known=known)[0] != deps.WAIT:
                stuck.append(job.id)
            if r.state == State.CANCELLED and job.result and job.result.reason == "dependency":
                by_dependency += 1
                if all(deps.state_of(spool, d, known) == State.SUCCEEDED for d in job.after):
                    wrongly.append(job.id)
    counts: dict[str, object] = {"jobs with dependencies": chained, "delayed jobs": delayed,
                                 "cancelled for a dependency": by_dependency}
    verdict: dict[str, str | None] = {
        "no dependent started before its dependencies": f"{len(early)}: {early[:3]}" if early else None,
        "no delayed job started before its time": f"{too_soon[:3]}" if too_soon else None,
        "none left waiting on a job that ended": f"{stuck[:3]}" if stuck else None,
        "no dependent cancelled though its dependencies succeeded": f"{wrongly[:3]}" if wrongly else None,
    }
    return counts, verdict


def ticks_by_job(ticks_dir: Path) -> tuple[dict[str, list[int]], dict[str, int]]:
    """From the chaos jobs' tick files: each job's attempt start ticks and its last tick."""
    starts: dict[str, list[int]] = {}
    ends: dict[str, int] = {}
    for f in ticks_dir.iterdir():
        ticks = [int(t) for t in f.read_text().split() if t.isdigit()]
        if not ticks:
            continue
        job_id = f.name.split(".")[0]
        starts.setdefault(job_id, []).append(min(ticks))
        ends[job_id] = max(ends.get(job_id, 0), max(ticks))
    return starts, ends
