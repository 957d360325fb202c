"""Several processes change one queue at once, and processes die by SIGKILL at random
moments: every job stays in exactly one place, the order stays total and stable, and
what a dead writer left is only in tmp/, where clean_tmp removes it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storehelp import check_order, places, stray_files

from store import Spool
from store.atomic import clean_tmp

WORKER = r'''
import os, random, sys, time
from store import *
from store.errors import LockTimeout

spool = Spool.open(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
until = time.monotonic() + float(sys.argv[3])
log = open(sys.argv[4], "a", buffering=1)
spool.lock_timeout = 30
QUEUES = ["default", "other"]
print("ready", flush=True)
mine = []
while time.monotonic() < until:
    op = rng.choice(["submit", "submit", "batch", "move", "move", "move", "hold", "release", "cancel",
                     "requeue", "retry"])
    try:
        if op in ("submit", "batch"):
            n = 1 if op == "submit" else rng.randint(2, 20)
            specs = [JobSpec(command=["true"], queue=rng.choice(QUEUES), priority=rng.choice([-10, 0, 0, 10]))
                     for _ in range(n)]
            ids = submit(spool, specs)
            log.write("".join(i + "\n" for i in ids))  # only once submit returned
            mine += ids
            continue
        q = rng.choice(QUEUES)
        order = spool.pending(q)
        if not order:
            continue
        job = rng.choice(order).id
        if op == "move":
            other = rng.choice(order).id
            where = rng.choice([Where("top"), Where("bottom"), Where("up", rng.randint(1, 5)),
                                Where("down", rng.randint(1, 5)), Where("before", other=other),
                                Where("after", other=other)])
            move(spool, job, where)
        elif op == "requeue":
            move(spool, job, Where("queue", other=[x for x in QUEUES if x != q][0]))
        elif op == "hold":
            hold(spool, job)
        elif op == "release":
            release(spool, job)
        elif op == "cancel":
            cancel(spool, job)
        elif op == "retry":
            done = spool.done_refs(q)
            if done:
                retry(spool, rng.choice(done).id)
    except (JobStateError, JobNotFound, LockTimeout):
        pass  # lost a race to another process: the store says so, which is the point
'''


def _start(spool: Spool, tmp_path: Path, n: int, seconds: float, seed: int) -> list[subprocess.Popen[str]]:
    procs = []
    for i in range(n):
        p = subprocess.Popen([sys.executable, "-c", WORKER, str(spool.root), str(seed * 100 + i), str(seconds),
                              str(tmp_path / f"submitted.{i}")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        procs.append(p)
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n", p.stderr.read() if p.stderr else ""
    return procs


def _submitted(tmp_path: Path) -> set[str]:
    ids: set[str] = set()
    for f in tmp_path.glob("submitted.*"):
        ids |= {line for line in f.read_text().splitlines() if len(line) == 26}
    return ids


def _check(spool: Spool, tmp_path: Path, all_dead: bool) -> set[str]:
    seen = places(spool)
    dup = {i: n for i, n in seen.items() if n != 1}
    assert not dup, f"jobs in more than one place: {dup}"
    submitted = _submitted(tmp_path)
    lost = submitted - set(seen)
    assert not lost, f"submitted jobs that vanished: {sorted(lost)[:5]}"
    for q in spool.queue_names():
        check_order(spool, q)
    views, warnings = spool.jobs(states={"pending", "held", "running", "succeeded", "failed", "cancelled"})
    assert warnings == [], "a half-written job file was visible"
    assert {v.job.id for v in views} == set(seen)
    assert all(v.job.queue == v.queue for v in views), "a job file names another queue"
    assert stray_files(spool.root) == [], "a staged file outside tmp/"
    if all_dead:
        clean_tmp(spool.layout.tmp)
        assert os.listdir(spool.layout.tmp) == [], "clean_tmp left a dead writer's file"
    return submitted


def test_several_processes_change_one_queue_at_once(spool: Spool, tmp_path: Path) -> None:
    spool.add_queue("other")
    procs = _start(spool, tmp_path, 4, 4.0, seed=1)
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    submitted = _check(spool, tmp_path, all_dead=True)
    assert set(places(spool)) == submitted  # nothing but what was submitted
    assert len(submitted) > 50
    assert os.listdir(spool.layout.tmp) == []  # finished writers clean up after themselves


@pytest.mark.slow
def test_processes_killed_at_random_moments(spool: Spool, tmp_path: Path) -> None:
    spool.add_queue("other")
    rng = random.Random(7)
    left_in_tmp = 0
    for round_ in range(10):
        procs = _start(spool, tmp_path, 3, 30.0, seed=round_ + 10)
        # kill them one by one at random moments, the first soon, the last a bit later
        for p in procs:
            time.sleep(rng.uniform(0.0, 0.4))
            p.send_signal(signal.SIGKILL)
        for p in procs:
            _, err = p.communicate(timeout=30)
            assert p.returncode == -signal.SIGKILL, err  # not dead of an error before the kill
        left_in_tmp += len(os.listdir(spool.layout.tmp))
        _check(spool, tmp_path, all_dead=True)
    assert len(_submitted(tmp_path)) > 20
    print(f"dead writers left {left_in_tmp} file(s) in tmp/ over 10 rounds")
