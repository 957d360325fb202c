"""Issue 14 item 6, measured: `ls` of a big queue (text and --json: wall time and peak
RSS of the process) and the worst submit with urgent inserts at one spot.

    python -m bench.scale [--jobs 50000] [--urgent 300]

Run it with PYTHONPATH pointing at another checkout to measure that code (the same
machine, the same run): `PYTHONPATH=/path/to/old python -m bench.scale`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fill(root: Path, count: int) -> None:
    """`count` pending jobs of priority 0 straight into the default queue (set-up only)."""
    from store import Spool
    from store.jobs.submit import JobSpec, build_job
    from store.layout import pending_name
    from store.model import encode_job
    from store.names import RANK_GAP, RANK_START, new_job_id

    spool = Spool.init(root)
    proto = build_job(spool, JobSpec(command=["make", "-C", "src", "test"], name="nightly build"))
    data = encode_job(proto)
    d = spool.layout.pending("default")
    start = RANK_START - count // 2 * RANK_GAP
    for i in range(count):
        job_id = new_job_id()
        (d / pending_name(start + i * RANK_GAP, 0, job_id)).write_bytes(data.replace(proto.id.encode(),
                                                                                    job_id.encode()))


def ls(root: Path, *extra: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system: what a busy machine inflates least)
    and peak RSS (MiB) of one `coreflow ls` process."""
    with tempfile.NamedTemporaryFile("r") as times:
        subprocess.run(["/usr/bin/time", "-o", times.name, "-f", "%e %U %S %M", sys.executable, "-m", "coreflow_tui",
                        "--spool", str(root), "ls", *extra], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "COLUMNS": "120"})
        wall, user, system, kib = times.read().split()[-4:]
    return float(wall), float(user) + float(system), int(kib) // 1024


def urgent_submits(root: Path, count: int) -> list[float]:
    """Seconds of each of `count` urgent submits (each lands behind the last urgent one)."""
    from store import Spool, submit
    from store.jobs.submit import JobSpec

    spool = Spool.open(root)
    took = []
    for _ in range(count):
        t = time.perf_counter()
        submit(spool, [JobSpec(command=["deploy"], priority="urgent")])
        took.append(time.perf_counter() - t)
    return took


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    ap.add_argument("--jobs", type=int, default=50_000)
    ap.add_argument("--urgent", type=int, default=300)
    args = ap.parse_args()
    import store

    print(f"code: {Path(store.__file__).parent.parent}", flush=True)
    with tempfile.TemporaryDirectory(prefix="cf-scale-") as tmp:
        root = Path(tmp) / "spool"
        fill(root, args.jobs)
        for extra in ((), ("--json",)):
            runs = [ls(root, *extra) for _ in range(3)]
            print(f"ls {' '.join(extra) or '(text)'} of {args.jobs} jobs: "
                  f"{statistics.median(r[0] for r in runs):.2f} s wall, {statistics.median(r[1] for r in runs):.2f} s "
                  f"CPU, peak RSS {max(r[2] for r in runs)} MiB", flush=True)
        took = urgent_submits(root, args.urgent)
        print(f"{args.urgent} urgent submits on a {args.jobs}-job queue: worst {max(took):.3f} s, "
              f"median {statistics.median(took) * 1000:.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
