"""How much CPU an idle runner uses: its process and its watchdog's, from /proc/PID/stat
(utime + stime) over a stretch of seconds, as a share of one core."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench.common import COREFLOW, ROOT, Row, temp_dir

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def idle_share(queues: int, mode: str, seconds: float) -> tuple[float, float]:
    """Share of a core used by an idle runner serving `queues` queues, and by its watchdog."""
    from store import Spool

    with temp_dir() as base:
        spool = Spool.init(base / "spool")
        for i in range(1, queues):
            spool.add_queue(f"q{i}")
        env = {**os.environ, "COREFLOW_WATCH": mode}
        proc = subprocess.Popen([*COREFLOW, "--spool", str(spool.root), "runner", "--slots", "2"], env=env,
                                stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            deadline = time.monotonic() + 20
            while not list(spool.layout.runners.glob("*.json")):
                if time.monotonic() > deadline:
                    raise RuntimeError("the runner did not start")
                time.sleep(0.05)
            time.sleep(1.0)  # past its start-up
            kids = _children(proc.pid)
            a, w = cpu_seconds(proc.pid), sum(map(cpu_seconds, kids))
            t = time.monotonic()
            time.sleep(seconds)
            took = time.monotonic() - t
            a2, w2 = cpu_seconds(proc.pid), sum(map(cpu_seconds, kids))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return (a2 - a) / took, (w2 - w) / took


def idle_rows(seconds: float) -> list[Row]:
    rows = []
    for queues, mode, label, target in ((1, "inotify", "local disk, 1 queue", 0.005),
                                        (10, "poll", "polling, 10 queues", 0.01)):
        runner, watchdog = idle_share(queues, mode, seconds)
        rows.append(Row("runner", f"idle runner CPU, {label}, over {seconds:g} s (watchdog {watchdog:.2%})",
                        f"{runner:.2%} of a core", f"{target:.1%} target", runner / target, "<= 1x",
                        runner + watchdog <= target))
    return rows
