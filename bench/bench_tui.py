"""The TUI on big queues: launch to first rows drawn, a move showing, scrolling, memory.

Each size runs in a fresh process (headless Textual at 120x40, the real app from
`make_app`, the live feed off so only the app's own work is timed):
  first rows  from `make_app` to the screen showing the first jobs, decoded;
  move        `J` on the first waiting job until the list shows it one place down;
  scroll      20 page-downs until the last page is drawn, decoded;
  memory      the process's peak RSS after all that.
Baseline: the same figures for a 100-job queue. The issue's target is memory: a
100,000-job queue within 3x of the 100-job one. Times have no target; they are
reported against the 100-job run.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, Row, fmt_time, temp_dir


def _make_spool(root: Path, n: int) -> None:
    from store import JobSpec, Spool, build_job, place

    spool = Spool.init(root)
    now = time.time()
    for start in range(0, n, 5000):
        jobs = [build_job(spool, JobSpec(command=["make", f"t{i}"], name=f"job-{i}", type=None), now=now)
                for i in range(start, min(n, start + 5000))]
        place(spool, jobs)


async def _measure(root: Path) -> dict[str, float]:
    from textual import events

    from coreflow_tui.tui.app import Settings, make_app
    from coreflow_tui.tui.widgets.job_list import JobList

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    app = make_app(root, Settings(follow=False))
    async with app.run_test(size=(120, 40)) as pilot:

        def jobs() -> JobList:
            return app.screen.query_one(JobList)

        def drawn() -> bool:
            jl = jobs()
            if jl.rows is None or not len(jl.rows):
                return False
            top = int(jl.scroll_y)
            return all(jl.job(i) is not None for i in range(top, min(len(jl.rows), top + jl.size.height - 1)))

        async def until(cond) -> None:  # type: ignore[no-untyped-def]
            while not cond():
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)  # the refresh that draws it

        def key(name: str) -> None:
            # What the terminal driver does with a key: no Pilot waiting-for-idle in the timing.
            app.post_message(events.Key(name, None))

        await until(lambda: isinstance(app.screen.focused, JobList) and drawn())
        out["first_rows"] = time.perf_counter() - t0
        moved = jobs().current_id
        t = time.perf_counter()
        key("J")
        await until(lambda: jobs().rows.position(jobs().rows.index_of(moved) or 0) == 2)
        out["move"] = time.perf_counter() - t
        await until(lambda: not [w for w in app.workers if w.group in ("load", "change")])
        await pilot.pause()
        t = time.perf_counter()
        for _ in range(20):
            key("pagedown")
        last = min(len(jobs().rows) - 1, jobs().cursor + 20 * (jobs().size.height - 2))
        await until(lambda: jobs().cursor == last and drawn())
        out["scroll"] = time.perf_counter() - t
    out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def _child(root: str) -> None:
    print(json.dumps(asyncio.run(_measure(Path(root)))))


def _run(root: Path) -> dict[str, float]:
    proc = subprocess.run([PYTHON, "-m", "bench.bench_tui", str(root)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def run(quick: bool) -> list[Row]:
    sizes = [100, 1_000, 10_000] if quick else [100, 10_000, 100_000]
    results: dict[int, dict[str, float]] = {}
    with temp_dir("cfbench-tui-") as d:
        for n in sizes:
            root = d / f"q{n}"
            _make_spool(root, n)
            results[n] = _run(root)
    base = results[sizes[0]]
    rows = []
    for n in sizes:
        r = results[n]
        label = f"{n:,} pending"
        for key, what in (("first_rows", "launch to first rows drawn"), ("move", "J until the move shows"),
                          ("scroll", "20 page-downs, drawn")):
            rows.append(Row("tui", f"{what}, {label}", fmt_time(r[key]), fmt_time(base[key]),
                            r[key] / base[key], "", None))
        last = n == sizes[-1]
        rows.append(Row("tui", f"peak memory, {label}", _mb(r["rss"]), _mb(base["rss"]), r["rss"] / base["rss"],
                        "<= 3x" if last else "", (r["rss"] <= 3 * base["rss"]) if last else None))
    return rows


if __name__ == "__main__":
    _child(sys.argv[1])
