"""Dependencies (issue 11's Speed rows): blocked jobs must not slow a claim or a listing.

  start      an idle runner (2 slots) whose queue holds 9,999 jobs waiting on one
             running job (`sleep`), and one more job submitted that may run: from the
             return of its submit (it is placed) to its process start (p50 of N), against
             the same runner with an empty queue. Target <= 2x. (The submit's own time
             into a 10,000-job queue is bench_store's row, not a runner's.)
  claim      Claims.claim_next of that eligible 10,000th job by a fresh runner's claims
             (no cached listing), against claiming the only job of a queue. No target: it
             says what the skip costs by itself.
  ls         `coreflow ls --queue Q` of 10,000 waiting jobs, 9,999 of them blocked, against
             `ls` of 10,000 jobs without dependencies. Target <= 1.5x.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

from bench.common import COREFLOW, ROOT, Row, best_of, fmt_time, temp_dir

AREA = "deps"


def _fill_blocked(spool_root: Path, queue: str, count: int, after: str | None) -> None:
    """`count` waiting jobs written straight into a queue, each waiting on `after` (set-up)."""
    from store import Spool, deps
    from store.jobs.submit import JobSpec, build_job
    from store.layout import pending_name
    from store.model import encode_job
    from store.names import RANK_GAP, RANK_START, new_job_id

    spool = Spool.open(spool_root)
    proto = build_job(spool, JobSpec(command=["true"], queue=queue))
    if after:
        import msgspec
        proto = msgspec.structs.replace(proto, after=[after])
    data = encode_job(proto)
    d = spool.layout.pending(queue)
    index = spool.layout.deps(after) if after else None
    if index is not None:
        index.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        job_id = new_job_id()
        (d / pending_name(RANK_START + i * RANK_GAP, 0, job_id, kind="wait" if after else None)).write_bytes(
            data.replace(proto.id.encode(), job_id.encode()))
        if index is not None:
            (index / f"{queue}.{job_id}.dep").touch()
    assert deps  # the module that reads what was written here


def _wait_until(what: str, check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _start_latency(base: Path, blocked: int, jobs: int) -> float:
    """p50 from submit to process start of jobs submitted one by one to an idle runner
    whose queue holds `blocked` jobs waiting on a running one."""
    from store import JobSpec, Spool, submit

    spool = Spool.init(base / f"spool-{blocked}")
    proc = subprocess.Popen([*COREFLOW, "--spool", str(spool.root), "runner", "--slots", "2"],
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        if blocked:
            (holder,) = submit(spool, [JobSpec(command=["sleep", "600"])])
            _wait_until("the blocking job to start", lambda: spool.running_ids("default"))
            _fill_blocked(spool.root, "default", blocked, holder)
        else:
            _wait_until("the runner", lambda: list(spool.layout.runners.iterdir()))
        time.sleep(0.5)  # let the change feed settle
        lat = []
        for _ in range(jobs):
            (job_id,) = submit(spool, [JobSpec(command=["date", "+%s%N"])])
            t = time.time()  # placed: from here on it is the runner's time (a submit's own is bench_store's)
            log = spool.layout.log(job_id)
            _wait_until("a job to start", lambda: log.exists() and log.stat().st_size > 0)
            lat.append(int(log.read_text().split()[0]) / 1e9 - t)
            _wait_until("it to finish", lambda: spool.find(job_id).state == "succeeded")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return statistics.median(lat)


def _claim_time(base: Path, blocked: int) -> float:
    from store import JobSpec, Spool, submit
    from store.jobs.claims import Claimant, Claims

    spool = Spool.init(base / f"claim-{blocked}")
    spool.add_queue("q", slots=100)  # room for every claim of the bench
    if blocked:
        (holder,) = submit(spool, [JobSpec(command=["true"], queue="q")])
        Claims(spool, Claimant("holder", "h", os.getpid())).claim_next("q")
        _fill_blocked(spool.root, "q", blocked, holder)
    seq = [0]

    def once() -> None:
        submit(spool, [JobSpec(command=["true"], queue="q")])
        seq[0] += 1
        c = Claims(spool, Claimant(f"r{seq[0]}", "h", os.getpid()))
        t = time.perf_counter()
        got = c.claim_next("q")
        once.took.append(time.perf_counter() - t)  # type: ignore[attr-defined]
        assert got.job is not None, got.status
        c.close()

    once.took = []  # type: ignore[attr-defined]
    best_of(once, 15)
    return min(once.took)  # type: ignore[attr-defined]


def _ls_time(base: Path, blocked: bool, count: int, rounds: int) -> float:
    from store import JobSpec, Spool, submit

    spool = Spool.init(base / f"ls-{blocked}")
    if blocked:
        (holder,) = submit(spool, [JobSpec(command=["sleep", "600"])])
        _fill_blocked(spool.root, "default", count - 1, holder)
        submit(spool, [JobSpec(command=["true"])])
    else:
        _fill_blocked(spool.root, "default", count, None)
    env = {**os.environ, "COREFLOW_SPOOL": str(spool.root)}
    return best_of(lambda: subprocess.run([*COREFLOW, "ls", "--queue", "default"], env=env, check=True,
                                          capture_output=True, cwd=ROOT), rounds)


def run(quick: bool) -> list[Row]:
    n = 2_000 if quick else 10_000
    jobs = 10 if quick else 30
    rows = []
    with temp_dir() as base:
        empty, full = _start_latency(base, 0, jobs), _start_latency(base, n - 1, jobs)
        rows.append(Row(AREA, f"start the eligible job behind {n - 1:,} blocked ones (idle runner, p50)",
                        fmt_time(full), f"{fmt_time(empty)} empty queue", full / empty, "<= 2x", full / empty <= 2))
        c0, c1 = _claim_time(base, 0), _claim_time(base, n - 1)
        rows.append(Row(AREA, f"  claim_next past {n - 1:,} blocked jobs (fresh listing)", fmt_time(c1),
                        f"{fmt_time(c0)} one-job queue", c1 / c0, "", None))
        rounds = 3 if quick else 5
        plain, blocked = _ls_time(base, False, n, rounds), _ls_time(base, True, n, rounds)
        rows.append(Row(AREA, f"ls of {n:,} waiting jobs, {n - 1:,} blocked", fmt_time(blocked),
                        f"{fmt_time(plain)} without dependencies", blocked / plain, "<= 1.5x", blocked / plain <= 1.5))
    return rows
