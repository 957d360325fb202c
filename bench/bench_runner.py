"""The runner: dispatch rate against bare process spawning, and start latency.

  dispatch   2,000 queued `true` jobs, 2 slots: from `coreflow runner --drain` starting
             to its exit, against a bare Python loop spawning `true` two at a time
             (the limit for process jobs on this machine). Rounds alternate, best of each.
  floor      the same bare loop, writing one small file per job the way the store
             must (tmp/, fsync, rename): what any runner that keeps a durable result
             per job can reach here, at best. No target; it says where 0.6x stands.
  dispatch   also against the peer kit's floor (two threads each spawning `true` and
             waiting: ../shared/peers, phys-2thr-subprocess), and with 8 slots and
             20,000 jobs (the rate is reported; the journal is folded later)
  latency    an idle runner; jobs submitted one by one at random gaps; from the submit
             call to the job's process start (the job runs `date +%s%N`, its log holds
             the time), p50 and p99, on local disk (inotify) and in polling mode
             (COREFLOW_WATCH=poll, gaps spread over a poll period: target p50 <= half
             the period + 10 ms). Baseline: starting the same process with Popen.
  idle CPU   an idle runner (and its watchdog) over 30 s, from /proc/PID/stat: on
             local disk serving one queue (target <= 0.5% of a core) and polling 10
             queues (<= 1%).
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

from bench.common import COREFLOW, ROOT, Row, fmt_time, temp_dir


def _bare_rate(n: int, durable_in: Path | None = None) -> float:
    """Jobs per second of a plain loop that keeps two `true` processes running; with
    `durable_in`, it also writes one fsynced file per finished job there."""
    t = time.perf_counter()
    running: list[subprocess.Popen[bytes]] = []
    for i in range(n):
        if len(running) >= 2:
            running.pop(0).wait()
            if durable_in is not None:
                _durable_write(durable_in, i)
        running.append(subprocess.Popen(["true"]))
    for p in running:
        p.wait()
    return n / (time.perf_counter() - t)


def _two_thread_rate(n: int) -> float:
    """The peer kit's floor: two threads, each running `true` and waiting for it."""
    left = [n]
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            subprocess.run(["/bin/true"], check=True)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return n / (time.perf_counter() - t)


def _durable_write(d: Path, i: int) -> None:
    staged = f"{d}/{i}.tmp"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, b"x" * 400)  # about a finished job's size
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(staged, f"{d}/{i}.job")


def _runner_rate(base: Path, n: int, slots: int = 2) -> float:
    from store import JobSpec, Spool, build_job, place

    spool = Spool.init(base / f"spool-{time.time_ns()}")
    now = time.time()
    for i in range(0, n, 5000):
        place(spool, [build_job(spool, JobSpec(command=["true"]), now=now) for _ in range(min(5000, n - i))])
    t = time.perf_counter()
    subprocess.run([*COREFLOW, "--spool", str(spool.root), "runner", "--slots", str(slots), "--drain"], check=True,
                   stderr=subprocess.DEVNULL, cwd=ROOT)
    took = time.perf_counter() - t
    done = len(spool.done_refs("default"))
    if done != n:
        raise RuntimeError(f"runner finished {done} of {n} jobs")
    return n / took


def _dispatch(quick: bool) -> list[Row]:
    n, rounds = (300, 1) if quick else (2000, 3)
    bare, floor, ours, two = [], [], [], []
    with temp_dir() as base:
        for k in range(rounds):
            bare.append(_bare_rate(n))
            two.append(_two_thread_rate(n))
            (base / f"floor{k}").mkdir()
            floor.append(_bare_rate(n, base / f"floor{k}"))
            ours.append(_runner_rate(base, n))
        big, wide = (2000, 0.0) if quick else (20000, 0.0)
        wide = _runner_rate(base, big, slots=8)
        bare8 = _two_thread_rate(2000)
    b, f, r, t2 = max(bare), max(floor), max(ours), max(two)
    return [Row("runner", f"dispatch {n} `true` jobs, 2 slots (start to drained exit)", f"{r:.0f} jobs/s",
                f"{b:.0f} jobs/s bare loop", r / b, ">= 0.6x", r / b >= 0.6),
            Row("runner", "  the same against two threads spawning `true` (the peer kit's floor)", f"{r:.0f} jobs/s",
                f"{t2:.0f} jobs/s 2 threads", r / t2, ">= 0.6x", r / t2 >= 0.6),
            Row("runner", "  floor: the bare loop + one fsynced file per job", f"{f:.0f} jobs/s",
                f"{b:.0f} jobs/s bare loop", f / b, "", None),
            Row("runner", f"dispatch {big} `true` jobs, 8 slots (start to drained exit)", f"{wide:.0f} jobs/s",
                f"{bare8:.0f} jobs/s 2 threads", wide / bare8, "", None)]


def _spawn_latency(n: int = 50) -> float:
    times = []
    for _ in range(n):
        t = time.time()
        out = subprocess.run(["date", "+%s%N"], capture_output=True, check=True).stdout
        times.append(int(out) / 1e9 - t)
    return statistics.median(times)


def _latency(mode: str, jobs: int, gaps: tuple[float, float] = (0.03, 0.09)) -> tuple[float, float]:
    from store import JobSpec, Spool, submit

    with temp_dir() as base:
        spool = Spool.init(base / "spool")
        env = {**os.environ, "COREFLOW_WATCH": "poll" if mode == "poll" else "inotify"}
        proc = subprocess.Popen([*COREFLOW, "--spool", str(spool.root), "runner", "--slots", "2"], env=env,
                                stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            deadline = time.monotonic() + 10
            while not list(spool.layout.runners.iterdir()):
                if time.monotonic() > deadline:
                    raise RuntimeError("the runner did not start")
                time.sleep(0.05)
            time.sleep(0.3)  # let the change feed settle
            rng = random.Random(7)
            sent: dict[str, float] = {}
            for _ in range(jobs):
                time.sleep(rng.uniform(*gaps))
                t = time.time()
                (job_id,) = submit(spool, [JobSpec(command=["date", "+%s%N"])])
                sent[job_id] = t
            deadline = time.monotonic() + 60
            while len(spool.done_refs("default")) < jobs:
                if time.monotonic() > deadline:
                    raise RuntimeError("jobs did not finish")
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        lat = sorted(int(spool.layout.log(i).read_text().split()[0]) / 1e9 - t for i, t in sent.items())
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    return statistics.median(lat), p99


POLL = 0.5  # the runner's poll period (Options.poll_interval)


def run(quick: bool) -> list[Row]:
    from bench.runner_idle import idle_rows

    rows = _dispatch(quick)
    spawn = _spawn_latency(20 if quick else 50)
    p50, p99 = _latency("inotify", 40 if quick else 200)
    rows.append(Row("runner", f"start latency, idle runner, local disk (p50; p99 {fmt_time(p99)})",
                    fmt_time(p50), f"{fmt_time(spawn)} spawn", p50 / spawn, "", None))
    p50, p99 = _latency("poll", 20 if quick else 200, gaps=(0.02, 0.02 + POLL))  # a p50 of 100 varies +-25 ms
    target = POLL / 2 + 0.010
    rows.append(Row("runner", f"start latency, polling every {POLL:g} s (p50; p99 {fmt_time(p99)})",
                    fmt_time(p50), f"{fmt_time(target)} = period/2 + 10 ms", p50 / target, "<= 1x",
                    p50 <= target))
    return rows + idle_rows(5.0 if quick else 30.0)
