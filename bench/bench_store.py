"""The spool store and the CLI against same-run baselines (issue 2's targets).

  start-up      `coreflow --version`, `coreflow ls` vs bare `python -c "import msgspec"`
  one submit    `coreflow submit -- true` (the installed script, p50) vs bare `python -c "import msgspec"`
  bulk submit   `coreflow submit --jsonl` of 20,000 jobs vs a bare loop of write+fsync+rename
  api submit    in-process submit() of one job at a time with 10,000 waiting vs the bare loop,
                and vs the same with 10 waiting (issue 15 item 2)
  move --top    in a 100,000-job queue vs in a 10-job queue (both through the CLI)
  listing       Spool.pending of 100,000 jobs (names only) vs a bare os.scandir + sort

Commands run as real processes, alternated with their baseline and compared by median,
so a busy machine slows both alike. Python's bytecode cache is on for both sides
(PYTHONDONTWRITEBYTECODE would make every start compile the store from source, which
an installed coreflow never does).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import COREFLOW, PYTHON, Row, best_of, fmt_time, temp_dir

AREA = "store"


def _env(spool: Path, pyc: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "COLUMNS")}
    return {**env, "COREFLOW_SPOOL": str(spool), "PYTHONPYCACHEPREFIX": str(pyc)}


def _timed(cmd: list[str], env: dict[str, str], input: bytes | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, input=input, capture_output=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-300:]}")
    return took


def _alternate(a: Callable[[], float], b: Callable[[], float], rounds: int) -> tuple[float, float]:
    """Medians of a() and b(), run in turns so that load on the machine hits both alike."""
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(a())
        tb.append(b())
    return statistics.median(ta), statistics.median(tb)


def _fill(spool_root: Path, queue: str, count: int) -> list[str]:
    """`count` valid pending jobs written straight into a queue (set-up, not measured)."""
    from store import Spool
    from store.jobs.submit import JobSpec, build_job
    from store.layout import pending_name
    from store.model import encode_job
    from store.names import RANK_GAP, RANK_START, new_job_id

    spool = Spool.open(spool_root)
    proto = build_job(spool, JobSpec(command=["true"], queue=queue))
    data = encode_job(proto)
    d = spool.layout.pending(queue)
    ids = []
    for i in range(count):
        job_id = new_job_id()
        (d / pending_name(RANK_START + i * RANK_GAP, 0, job_id)).write_bytes(
            data.replace(proto.id.encode(), job_id.encode()))
        ids.append(job_id)
    return ids


def _ratio_row(what: str, value: float, baseline: float, limit: float) -> Row:
    ratio = value / baseline
    return Row(AREA, what, fmt_time(value), fmt_time(baseline), ratio, f"<= {limit:g}x", ratio <= limit)


def bench_startup(work: Path, pyc: Path, rounds: int) -> list[Row]:
    from store import Spool, submit
    from store.jobs.submit import JobSpec

    spool = Spool.init(work / "startup")
    submit(spool, [JobSpec(command=["true"], name=f"j{i}") for i in range(5)])
    env = _env(spool.root, pyc)
    bare = [PYTHON, "-c", "import msgspec"]
    for cmd in (bare, [*COREFLOW, "--version"], [*COREFLOW, "ls"]):
        _timed(cmd, env)  # warm the bytecode cache and the page cache
    rows = []
    for what, args in (("start-up: coreflow --version", ["--version"]), ("start-up: coreflow ls (5 jobs)", ["ls"])):
        value, base = _alternate(lambda a=args: _timed([*COREFLOW, *a], env), lambda: _timed(bare, env),
                                 rounds)
        rows.append(_ratio_row(what, value, base, 1.5))
    return rows


def bench_cli_submit(work: Path, pyc: Path, rounds: int) -> list[Row]:
    """Issue 15 item 1: one `coreflow submit -- true`, started the way a user starts it (the
    venv's `coreflow` script, falling back to `python -m coreflow_tui`), against bare Python
    importing msgspec; both run by the same interpreter, alternated, compared by p50."""
    from store import Spool

    spool = Spool.init(work / "one-submit")
    env = _env(spool.root, pyc)
    script = Path(PYTHON).with_name("coreflow")
    cli = [str(script)] if script.exists() else COREFLOW
    bare = [PYTHON, "-c", "import msgspec"]
    for cmd in (bare, [*cli, "submit", "--", "true"]):
        _timed(cmd, env)  # warm the bytecode cache and the page cache
    value, base = _alternate(lambda: _timed([*cli, "submit", "--", "true"], env), lambda: _timed(bare, env), rounds)
    return [_ratio_row(f"one `coreflow submit -- true` (p50 of {rounds}) vs import msgspec", value, base, 1.3)]


def bench_bulk_submit(work: Path, pyc: Path, count: int) -> list[Row]:
    """The whole `submit --jsonl` command against the bare loop writing the same bytes,
    half of the loop before the command and half after (a disk that is still flushing
    the previous run's files slows whatever runs next)."""
    from store import Spool
    from store.jobs.submit import JobSpec, build_job
    from store.model import encode_job

    spool = Spool.init(work / "bulk")
    env = _env(spool.root, pyc)
    lines = b"".join(b'{"command": ["make", "test-%d"], "name": "matrix-%d"}\n' % (i, i) for i in range(count))
    data = encode_job(build_job(spool, JobSpec(command=["make", "test-0"], name="matrix-0")))
    _timed([*COREFLOW, "--version"], env)
    bare = _bare_loop(work / "bare", data, count // 2)
    took = _timed([*COREFLOW, "submit", "--jsonl", "-"], env, input=lines)
    bare += _bare_loop(work / "bare", data, count - count // 2)
    assert len(spool.pending("default")) == count
    rate, bare_rate = count / took, count / bare
    ratio = rate / bare_rate
    return [Row(AREA, f"bulk submit --jsonl, {count:,} jobs (whole command)", f"{rate:,.0f} jobs/s",
                f"{bare_rate:,.0f} jobs/s", ratio, ">= 0.5x", ratio >= 0.5)]


def _bare_loop(d: Path, data: bytes, n: int, sync_dir_each: bool = False) -> float:
    """Seconds for n files written the way the store must (tmp/, fsync, rename), with one
    directory fsync at the end, or (`sync_dir_each`) after each rename as a one-at-a-time
    submit must before it returns."""
    tmp, dest = d / "tmp", d / "pending"
    tmp.mkdir(parents=True, exist_ok=True)
    dest.mkdir(exist_ok=True)
    start = len(os.listdir(dest))
    t = time.perf_counter()
    for i in range(start, start + n):
        path = tmp / f"{i}.w"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(path, dest / f"{i:016x}.job")
        if sync_dir_each or i == start + n - 1:
            fd = os.open(dest, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    return time.perf_counter() - t


def bench_api_submit(work: Path, big: int, chunk: int, rounds: int) -> list[Row]:
    """Issue 15 item 2: submit() of one job at a time from one process, in chunks taken in
    turns with 10 waiting, with `big` waiting and with the bare loops, compared by the
    median chunk (rates)."""
    from store import Spool, submit
    from store.jobs.submit import JobSpec

    spools = {}
    for n in (10, big):
        spools[n] = Spool.init(work / f"api{n}")
        _fill(spools[n].root, "default", n)
    spec = JobSpec(command=["true"])
    data = next(spools[10].layout.pending("default").iterdir()).read_bytes()

    def api(n: int) -> float:
        t = time.perf_counter()
        for _ in range(chunk):
            submit(spools[n], [spec])
        return time.perf_counter() - t

    times: dict[str, list[float]] = {"small": [], "big": [], "bare": [], "floor": []}
    api(10), api(big)  # the first submit of each lists its queue once and leaves the hint
    for _ in range(rounds):
        times["small"].append(api(10))
        times["big"].append(api(big))
        times["bare"].append(_bare_loop(work / "api-bare", data, chunk))
        times["floor"].append(_bare_loop(work / "api-floor", data, chunk, sync_dir_each=True))
    rate = {k: chunk / statistics.median(v) for k, v in times.items()}
    what = f"api submit() one at a time, {big:,} waiting"
    return [
        Row(AREA, f"{what}, vs bare write+fsync+rename", f"{rate['big']:,.0f} jobs/s", f"{rate['bare']:,.0f} files/s",
            rate["big"] / rate["bare"], ">= 0.5x", rate["big"] / rate["bare"] >= 0.5),
        Row(AREA, f"{what}, vs 10 waiting (time per submit)", fmt_time(1 / rate["big"]), fmt_time(1 / rate["small"]),
            rate["small"] / rate["big"], "<= 1.5x", rate["small"] / rate["big"] <= 1.5),
        Row(AREA, f"{what}, vs bare with a dir fsync per file (2 flushes)", f"{rate['big']:,.0f} jobs/s",
            f"{rate['floor']:,.0f} files/s", rate["big"] / rate["floor"], "-", None),
    ]


def bench_move_top(work: Path, pyc: Path, big: int, rounds: int) -> list[Row]:
    from store import Spool, Where, move

    spools = {}
    for n in (big, 10):
        s = Spool.init(work / f"move{n}")
        ids = _fill(s.root, "default", n)
        spools[n] = (s, ids)

    def cli_move(n: int) -> float:
        s, ids = spools[n]
        job = s.pending("default")[-1].id  # set-up: the job now last; not measured
        return _timed([*COREFLOW, "move", job, "--top"], _env(s.root, pyc))

    _timed([*COREFLOW, "--version"], _env(spools[10][0].root, pyc))
    value, base = _alternate(lambda: cli_move(big), lambda: cli_move(10), rounds)
    rows = [_ratio_row(f"move --top, {big:,}-job queue vs 10 (CLI)", value, base, 2.0)]

    def api_move(n: int) -> float:
        s, _ = spools[n]
        job = s.pending("default")[-1].id
        t = time.perf_counter()
        move(s, job, Where("top"))
        return time.perf_counter() - t

    value, base = _alternate(lambda: api_move(big), lambda: api_move(10), rounds)
    rows.append(Row(AREA, f"move --top, {big:,} vs 10 (in-process, no target)", fmt_time(value), fmt_time(base),
                    value / base, "-", None))
    return rows


def bench_listing(work: Path, count: int) -> list[Row]:
    from store import Spool

    s = Spool.init(work / "list")
    _fill(s.root, "default", count)
    d = s.layout.pending("default")
    assert len(s.pending("default")) == count
    value = best_of(lambda: s.pending("default"), 5)
    base = best_of(lambda: sorted(e.name for e in os.scandir(d)), 5)
    return [_ratio_row(f"order of {count:,} pending (Spool.pending) vs scandir+sort", value, base, 3.0)]


def run(quick: bool) -> list[Row]:
    big = 10_000 if quick else 100_000
    rows: list[Row] = []
    with temp_dir("cfbench-store-") as work:
        pyc = Path(tempfile.gettempdir()) / "cfbench-pycache"
        for step in (lambda: bench_startup(work, pyc, 5 if quick else 15),
                     lambda: bench_cli_submit(work, pyc, 30 if quick else 200),
                     lambda: bench_bulk_submit(work, pyc, 2_000 if quick else 20_000),
                     lambda: bench_api_submit(work, 10_000, 25, 6 if quick else 20),
                     lambda: bench_move_top(work, pyc, big, 5 if quick else 11),
                     lambda: bench_listing(work, big)):
            rows += step()
            print(f"  {rows[-1].what}: {rows[-1].value} vs {rows[-1].baseline}", file=sys.stderr, flush=True)
    return rows
