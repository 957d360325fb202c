"""A sample spool with every state the TUI shows, built through the store, repeatably.

Fixed ids, fixed times (`NOW`), fixed actors: tests, snapshots and screenshots/make.py
all draw the same picture from it. Running and finished jobs are made here the way
the store does it (a rename, then the content replaced), without a runner.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec

from store import (
    Claim,
    Heartbeat,
    JobSpec,
    Result,
    Spool,
    Trigger,
    atomic,
    build_job,
    hold,
    place,
)
from store.layout import done_name, running_name
from store.model import encode_job
from store.runners import beat

NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

TYPES = '''\
[build]
description = "Compile and unit-test a branch"
owner = "ci-team@example.com"
timeout = 1800

[test]
description = "Integration tests against a fresh database"
owner = "qa@example.com"

[deploy]
description = "Roll a build out to staging"
owner = "ops@example.com"
queue = "deploy"

[lint]
description = "Style and type checks"
'''


def job_id(n: int, at: float = NOW) -> str:
    """A valid, time-ordered id that is the same on every run."""
    value = (int(at * 1000) << 80) | ((n * 0x9E3779B97F4A7C15 + 0x5EED) & ((1 << 80) - 1))
    return "".join(ALPHABET[(value >> (5 * (25 - i))) & 31] for i in range(26))


_seq = [0]


def make(spool: Spool, queue: str, command: list[str], name: str, type: str | None = None,
         ago: float = 60.0, priority: int = 0, labels: dict[str, str] | None = None,
         requires: list[str] | None = None, trigger: Trigger | None = None) -> str:
    _seq[0] += 1
    spec = JobSpec(command=command, queue=queue, type=type, name=name, priority=priority,
                   labels=labels or {}, requires=requires or [], trigger=trigger)
    job = build_job(spool, spec, now=NOW - ago, who="alice@laptop")
    job = msgspec.structs.replace(job, id=job_id(_seq[0], NOW - ago))
    place(spool, [job])
    return job.id


def start(spool: Spool, jid: str, host: str = "build-01", runner: str = "build-01-4242-ab12",
          pid: int = 4242, ago: float = 60.0) -> None:
    """pending -> running, as a runner's claim does: a rename, then the content with the claim."""
    r = spool.find(jid)
    dest = spool.layout.running(r.queue) / running_name(jid)
    job = spool.read(r)
    assert atomic.commit_rename(r.path, dest)
    job = msgspec.structs.replace(job, claim=Claim(runner=runner, host=host, pid=pid, claimed_at=NOW - ago))
    atomic.publish(spool.layout.tmp, dest, encode_job(job))


def finish(spool: Spool, jid: str, state: str, exit_code: int | None, ran: float, ago: float,
           reason: str = "exit") -> None:
    """running -> done with a result, as a runner's finish does."""
    r = spool.find(jid)
    job = spool.read(r)
    end = NOW - ago
    dest = spool.layout.done(r.queue) / done_name(jid, state, end)
    assert atomic.commit_rename(r.path, dest)
    job = msgspec.structs.replace(job, claim=None, result=Result(
        state=state, reason=reason, exit_code=exit_code, started_at=end - ran if ran else None, finished_at=end,
        host="build-01" if ran else None, runner="build-01-4242-ab12" if ran else None, attempt=job.attempt,
        by="bob@build-01" if reason == "cancelled" else None))
    atomic.publish(spool.layout.tmp, dest, encode_job(job))


def heartbeat(spool: Spool, host: str, pid: int, queues: list[str], slots: int, busy: list[str],
              ago: float, lease: float = 30.0) -> None:
    hb = Heartbeat(id=f"{host}-{pid}-ab12", host=host, pid=pid, queues=queues, slots=slots, busy=busy,
                   lease=lease, started_at=NOW - 3600)
    beat(spool, hb)
    os.utime(spool.layout.runner(hb.id), (NOW - ago, NOW - ago))


def fix_audit(spool: Spool) -> None:
    """Audit entries carry the real time and user: pin them for repeatable pictures."""
    for path in sorted(spool.layout.audit.glob("*.jsonl")) + sorted(spool.layout.queues.glob("*/audit.jsonl")):
        lines = []
        for n, line in enumerate(path.read_text().splitlines()):
            entry = json.loads(line)
            entry["at"] = NOW - 300 + 30 * n
            entry["actor"] = "bob@build-01"
            lines.append(json.dumps(entry))
        path.write_text("\n".join(lines) + "\n")


def build(root: Path, *, corrupt: bool = False, lost_runner: bool = False) -> Spool:
    """default: 2 running, 6 waiting (one held, one needing a label); deploy: paused; docs: empty."""
    _seq[0] = 0
    spool = Spool.init(root)
    spool.layout.types.write_text(TYPES)
    spool.update_queue("default", "set", slots=2, description="Builds and tests of every branch")
    spool.add_queue("deploy", slots=1, description="Roll-outs, one at a time")
    spool.add_queue("docs", slots=2)
    # history, so types have a typical duration and a success rate
    for n, (jtype, state, code, ran) in enumerate([
            ("build", "succeeded", 0, 250), ("build", "succeeded", 0, 230), ("build", "failed", 2, 90),
            ("build", "succeeded", 0, 240), ("test", "succeeded", 0, 600), ("test", "succeeded", 0, 560),
            ("lint", "succeeded", 0, 40)]):
        jid = make(spool, "default", ["make", jtype], f"main@{1000 + n:x}", jtype, ago=7200 - n * 600)
        start(spool, jid, ago=7000 - n * 600)
        finish(spool, jid, state, code, ran, ago=6000 - n * 600)
    gone = make(spool, "default", ["make", "docs"], "docs@old", "lint", ago=5000)
    finish(spool, gone, "cancelled", None, 0, ago=4000, reason="cancelled")
    cron = Trigger(name="nightly", kind="schedule", detail="0 2 * * *", fired_at=NOW - 900)
    watch = Trigger(name="src-watch", kind="watch", detail="src/app.py changed", fired_at=NOW - 400)
    r1 = make(spool, "default", ["make", "-j8", "all"], "main@9f3c21a", "build", ago=420,
              labels={"branch": "main"}, trigger=watch)
    r2 = make(spool, "default", ["./run-tests", "--db"], "main@9f3c21a tests", "test", ago=400)
    make(spool, "default", ["make", "-j8", "all"], "feature/login@77ab0e1", "build", ago=380,
         labels={"branch": "feature/login"})
    make(spool, "default", ["./hotfix.sh"], "hotfix CVE-2026-1234", "build", ago=60, priority=20)
    held = make(spool, "default", ["./run-tests", "--slow"], "release/2.4 slow tests", "test", ago=360)
    make(spool, "default", ["make", "lint"], "feature/login lint", "lint", ago=300, trigger=cron)
    make(spool, "default", ["./bench.sh"], "perf run on gpu", "test", ago=240, requires=["gpu"])
    make(spool, "default", ["make", "-j8", "all"], "fix/typo@0c1d2e3", "build", ago=120)
    hold(spool, held)
    start(spool, r1, ago=120)
    start(spool, r2, ago=300)
    log = spool.layout.log(r1)
    log.write_text("".join(f"[{n:03d}] cc -O2 -c src/module{n}.c -o build/module{n}.o\n" for n in range(40))
                   + "linking build/app\n")
    make(spool, "deploy", ["./deploy.sh", "staging"], "staging 2.4.0-rc1", "deploy", ago=900)
    make(spool, "deploy", ["./deploy.sh", "staging"], "staging 2.4.0-rc2", "deploy", ago=200)
    spool.update_queue("deploy", "pause", paused=True)
    heartbeat(spool, "build-01", 4242, ["default", "docs"], 2, [r1, r2], ago=3)
    if lost_runner:
        heartbeat(spool, "build-02", 5151, ["deploy"], 1, [], ago=60)  # lost, not yet forgotten
    if corrupt:
        bad = spool.layout.pending("default") / "8000000000000001.+0.01jzzzzzzzzzzzzzzzzzzzzzzz.job"
        bad.write_bytes(b'{"id": "01jzzzzzzzzzzzzzzzzzzzzzzz", "queue": "default", "comm')
        spool.jobs("default")  # the reader finds it and moves it aside, as any reader would
    fix_audit(spool)
    return spool
