"""Two runners on the two NFS-like views of ../shared/tools/two-hosts: one is killed with
SIGKILL mid-job; the other takes its job over after the lease. None lost, none run
twice at the same time, the slot limit held across hosts."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from store import JobSpec, Spool, submit
from tests.conftest import TWO_HOSTS
from tests.runner.conftest import job_of, state_of, wait_for

TICKS = ('f="$REC/$COREFLOW_JOB_ID.$COREFLOW_ATTEMPT.$(hostname)"; i=0; '
         'while [ $i -lt 8 ]; do date +%s%N >> "$f"; sleep 0.1; i=$((i+1)); done; date +%s%N >> "$f"')


@pytest.mark.slow
def test_a_killed_runners_job_is_taken_over_by_the_other_host(two_hosts: tuple[Path, Path], start_runner) -> None:
    host_a, host_b = two_hosts
    base = host_a.parent
    rec = base / "backing" / "rec"
    rec.mkdir()
    spool_a = Spool.init(host_a / "spool")
    spool_a.update_queue("default", "set", slots=2)
    ids = submit(spool_a, [JobSpec(command=["sh", "-c", TICKS], env={"REC": str(rec)}) for _ in range(4)])

    def on(host: str) -> list[str]:
        return ["bash", str(TWO_HOSTS), "run", str(base), host, "--"]

    a = start_runner(host_a / "spool", "--lease", "2", "--slots", "1", prefix=on("hostA"))
    wait_for("a job on hostA", lambda: any(f.name.endswith(".hostA") for f in rec.iterdir()))
    b = start_runner(host_b / "spool", "--lease", "2", "--slots", "2", prefix=on("hostB"))
    a.signal(signal.SIGKILL)
    a.wait()
    spool = Spool.open(base / "backing" / "spool")
    wait_for("every job finished", lambda: all(state_of(spool, i) == "succeeded" for i in ids), timeout=40,
             every=0.2)
    b.signal(signal.SIGTERM)
    assert b.wait(15) == 0

    taken = [i for i in ids if job_of(spool, i).attempt > 1]
    assert len(taken) == 1  # the one hostA was running
    job = job_of(spool, taken[0])
    assert job.history[0].reason == "runner-lost" and job.result.host == "hostB"  # type: ignore[union-attr]
    spans: dict[str, list[tuple[int, int]]] = {}
    every: list[tuple[int, int]] = []
    for f in rec.iterdir():
        t = [int(x) for x in f.read_text().split()]
        spans.setdefault(f.name.split(".")[0], []).append((t[0], t[-1]))
        every.append((t[0], t[-1]))
    for job_id, ss in spans.items():
        ss.sort()
        assert all(b0 > a1 for (_, a1), (b0, _) in zip(ss, ss[1:])), f"{job_id} ran twice at once"
    events = sorted([(s, 1) for s, _ in every] + [(e, -1) for _, e in every], key=lambda x: (x[0], x[1]))
    cur = peak = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    assert peak <= 2
