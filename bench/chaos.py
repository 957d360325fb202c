"""Soak and chaos run: two hosts, many parties, SIGKILLs, then the invariants.

    python -m bench.chaos [--seconds 60] [--nolock] [--keep DIR]

On two NFS-like views of one spool (../shared/tools/two-hosts) it runs, at once: two
runners per host, a submitter per host, a mover, a canceller, a holder and the
trigger daemon, while a fault injector SIGKILLs random runners, submitters and the
trigger daemon (and restarts them), freezes a runner (SIGSTOP for longer than its
lease, then SIGCONT), plants corrupt job files, and fills the log folder for a
moment (a small tmpfs, when we are root). With --nolock the two views' locks do not
exclude each other (NFS `nolock`). Then it stops everything, lets the runners drain,
and checks:

  * no job lost: every id a submitter saw queued is in exactly one state;
  * no job in two places;
  * no job ran twice at the same time (each attempt records ticks; they must not overlap);
  * no attempt of a job started twice (two runs with the same attempt number);
  * no queue ever ran more jobs at once than its slots (from the same ticks); with
    --nolock this is not promised (hosts may exceed it for a moment): reported only;
  * every finished job records its result (exit code, reason, times);
  * no temp file left once dead writers' files are cleaned;
  * every planted corrupt file quarantined;
  * dependencies and start times held (bench/chaos_deps.py: a third of the submits are
    pipelines, jobs after others' jobs, delayed jobs).

It prints the counts and the invariants and exits 1 if any invariant broke.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TWO_HOSTS = ROOT.parent / "shared" / "tools" / "two-hosts"
HOSTS = ("hostA", "hostB")
QUEUES = {"default": 3, "build": 2}
LEASE = 3.0
FREEZE = 5.0  # seconds a runner stays SIGSTOPped: longer than LEASE and its margin

# The job: tick every 0.1 s into a file named for the job, its attempt, queue and host.
JOB_SCRIPT = (
    'f="$REC/ticks/$COREFLOW_JOB_ID.$COREFLOW_ATTEMPT.$COREFLOW_QUEUE.$(hostname).$$"; '
    'i=0; while [ $i -lt "$1" ]; do date +%s%N >> "$f"; sleep 0.1; i=$((i+1)); done; '
    'date +%s%N >> "$f"; [ "$2" = fail ] && exit 3; exit 0'
)


def job_command(ticks: int, fail: bool) -> list[str]:
    return ["sh", "-c", JOB_SCRIPT, "job", str(ticks), "fail" if fail else "ok"]


# -- the parties that run as their own processes (so they can be SIGKILLed) ---------


def role_main(role: str, view: Path, rec: Path, seed: int) -> int:
    sys.path.insert(0, str(ROOT))
    import store
    from store import JobSpec, Spool, SpoolError, Where
    from store.states import State

    from bench import chaos_deps

    rng = random.Random(seed)
    spool = Spool.open(view / "spool")
    out = open(rec / f"{role}.{os.getpid()}.ids", "a")

    def spec() -> JobSpec:
        return JobSpec(command=job_command(rng.randint(1, 5), rng.random() < 0.15),
                       queue=rng.choice(list(QUEUES)), priority=rng.choice([0, 0, 0, 10, -10]),
                       env={"REC": str(rec)}, name=f"chaos-{role}", retries=rng.choice([0, 0, 1]))

    def some(states: set[str]) -> str | None:
        q = rng.choice(list(QUEUES))
        refs = [r for r in spool.refs(q, states)]
        return rng.choice(refs).id if refs else None

    try:
        while True:
            try:
                if role == "submit":
                    batch = ([spec() for _ in range(rng.choice([1, 1, 1, 5]))] if rng.random() < 0.7
                             else chaos_deps.pipeline(rng, spec, lambda: some({State.PENDING, State.RUNNING})))
                    ids = store.submit(spool, batch)
                    out.write("".join(i + "\n" for i in ids))
                    out.flush()
                    time.sleep(rng.uniform(0.05, 0.3))
                elif role == "move":
                    job = some({State.PENDING, State.HELD})
                    if job:
                        kind = rng.choice(["top", "bottom", "up", "down", "queue"])
                        other = rng.choice(list(QUEUES)) if kind == "queue" else ""
                        store.move(spool, job, Where(kind, rng.randint(1, 3), other))
                    time.sleep(rng.uniform(0.05, 0.2))
                elif role == "cancel":
                    job = some({State.PENDING, State.RUNNING} if rng.random() < 0.5 else {State.PENDING})
                    if job:
                        store.cancel(spool, job)
                    time.sleep(rng.uniform(0.3, 0.8))
                elif role == "hold":
                    job = some({State.PENDING}) if rng.random() < 0.5 else some({State.HELD})
                    if job:
                        (store.hold if rng.random() < 0.5 else store.release)(spool, job)
                    time.sleep(rng.uniform(0.1, 0.4))
            except SpoolError:
                continue  # refused (already started, changed meanwhile): what a person would see
    except Exception:
        (rec / "errors").open("a").write(f"{role} {os.getpid()}:\n{traceback.format_exc()}\n")
        return 3


# -- the orchestra ---------------------------------------------------------------


@dataclass
class Party:
    role: str
    host: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0
    restarts: int = 0


@dataclass
class Run:
    base: Path
    seconds: float
    rng: random.Random
    parties: list[Party] = field(default_factory=list)
    planted: list[str] = field(default_factory=list)
    log_mount: Path | None = None
    fills: int = 0
    nolock: bool = False
    freezes: int = 0

    @property
    def backing(self) -> Path:
        return self.base / "backing"

    def view(self, host: str) -> Path:
        return self.base / host

    def as_host(self, host: str, *argv: str) -> list[str]:
        return ["bash", str(TWO_HOSTS), "run", str(self.base), host, "--", *argv]

    def cf(self, host: str, *args: str) -> list[str]:
        return self.as_host(host, sys.executable, "-m", "coreflow_tui", "--spool", str(self.view(host) / "spool"),
                            *args)

    def start(self, p: Party) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        p.proc = subprocess.Popen(p.argv, stdout=subprocess.DEVNULL, stderr=self._log(p), env=env,
                                  start_new_session=True)

    def _log(self, p: Party):
        return open(self.backing / "rec" / f"{p.role}.{p.host}.stderr", "ab")


def setup(run: Run) -> None:
    sys.path.insert(0, str(ROOT))
    up = subprocess.run(["bash", str(TWO_HOSTS), "up", str(run.base), *(["--nolock"] if run.nolock else [])],
                        capture_output=True, text=True)
    if up.returncode != 0:
        raise SystemExit(f"chaos: two-hosts could not start: {up.stderr.strip()}")
    rec = run.backing / "rec"
    (rec / "ticks").mkdir(parents=True)
    sp = run.view("hostA") / "spool"
    subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(sp), "init"], check=True,
                   capture_output=True, cwd=ROOT)
    for q, slots in QUEUES.items():
        args = ["queue", "set" if q == "default" else "add", q, "--slots", str(slots)]
        subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(sp), *args], check=True,
                       capture_output=True, cwd=ROOT)
    from store import Spool

    trig = Spool.open(sp).layout.trigger("tick")
    cmd = json.dumps(job_command(2, False))
    trig.write_text(f'kind = "schedule"\nevery = "2s"\ncatch_up = "skip"\n[job]\nqueue = "default"\n'
                    f'name = "{{trigger}} at {{fired_at}}"\ncommand = {cmd}\nenv = {{ REC = "{rec}" }}\n')
    if os.geteuid() == 0:
        logs = run.backing / "spool" / "logs"
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "chaos-logs", str(logs)],
                          capture_output=True).returncode == 0:
            run.log_mount = logs
    seed = run.rng.randrange(1 << 30)
    for host in HOSTS:
        for n in range(2):
            run.parties.append(Party("runner", host, run.cf(host, "runner", "--queues", ",".join(QUEUES),
                                                            "--slots", "2", "--lease", str(LEASE),
                                                            "--work-root", str(run.base / "work" / host))))
        run.parties.append(Party("submit", host, run.as_host(host, *role_argv(run, host, "submit", seed + len(run.parties)))))
    for role, host in (("move", "hostA"), ("cancel", "hostB"), ("hold", "hostA")):
        run.parties.append(Party(role, host, run.as_host(host, *role_argv(run, host, role, seed + len(run.parties)))))
    run.parties.append(Party("triggers", "hostB", run.cf("hostB", "triggers", "run")))
    for p in run.parties:
        run.start(p)


def role_argv(run: Run, host: str, role: str, seed: int) -> list[str]:
    return [sys.executable, "-m", "bench.chaos", "--role", role, "--view", str(run.view(host)),
            "--rec", str(run.view(host) / "rec"), "--seed", str(seed)]


def inject(run: Run) -> None:
    """Until time is up: kill and restart parties, plant corrupt files, fill the logs."""
    deadline = time.monotonic() + run.seconds
    victims = [p for p in run.parties if p.role in ("runner", "submit", "triggers")]
    down: list[tuple[float, Party]] = []
    frozen: list[tuple[float, Party]] = []
    next_freeze = time.monotonic() + 4
    next_kill = time.monotonic() + 2
    next_plant = time.monotonic() + 3
    next_fill = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = time.monotonic()
        for t, p in list(down):
            if now >= t:
                down.remove((t, p))
                p.restarts += 1
                run.start(p)
        for t, p in list(frozen):
            if now >= t:
                frozen.remove((t, p))
                if p.proc and p.proc.poll() is None:
                    p.proc.send_signal(signal.SIGCONT)
        if now >= next_freeze and not frozen:
            up = [p for p in victims if p.role == "runner" and p.proc and p.proc.poll() is None
                  and all(p is not q for _, q in down)]
            if up:
                p = run.rng.choice(up)
                p.proc.send_signal(signal.SIGSTOP)  # a debugger, a VM pause, a stuck syscall
                frozen.append((now + FREEZE, p))
                run.freezes += 1
            next_freeze = now + run.rng.uniform(8, 14)
        if now >= next_kill:
            up = [p for p in victims if p.proc and p.proc.poll() is None and all(p is not q for _, q in down)
                  and all(p is not q for _, q in frozen)]
            if up:
                p = run.rng.choice(up)
                os.killpg(p.proc.pid, signal.SIGKILL) if p.role != "runner" else p.proc.send_signal(signal.SIGKILL)
                p.proc.wait()
                p.kills += 1
                down.append((now + run.rng.uniform(0.5, 2.0), p))
            next_kill = now + run.rng.uniform(1.0, 3.0)
        if now >= next_plant:
            plant_corrupt(run)
            next_plant = now + run.rng.uniform(3, 6)
        if now >= next_fill and run.log_mount:
            fill_logs(run)
            next_fill = now + run.rng.uniform(8, 15)
        for p in run.parties:  # a party that died by itself is restarted too (and counted)
            if p.proc and p.proc.poll() is not None and all(p is not q for _, q in down):
                down.append((now + 0.5, p))
        time.sleep(0.1)
    for _, p in frozen:
        if p.proc and p.proc.poll() is None:
            p.proc.send_signal(signal.SIGCONT)
    for _, p in down:
        run.start(p)


def plant_corrupt(run: Run) -> None:
    sys.path.insert(0, str(ROOT))
    from store.layout import pending_name
    from store.names import RANK_START, new_job_id

    job_id = new_job_id()
    q = run.rng.choice(list(QUEUES))
    data = run.rng.choice([b'{"id": "trunc', os.urandom(64), b"[1, 2, 3]"])
    from store import Spool

    pending = Spool(run.view(run.rng.choice(HOSTS)) / "spool").layout.pending(q)
    path = pending / pending_name(RANK_START, 0, job_id)
    path.write_bytes(data)
    run.planted.append(job_id)


def fill_logs(run: Run) -> None:
    """Fill the log tmpfs for a moment: runners must carry on and jobs end truthfully."""
    assert run.log_mount is not None
    filler = run.log_mount / "zz-filler"
    try:
        with open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
    except OSError:
        pass
    run.fills += 1
    time.sleep(1.0)
    filler.unlink(missing_ok=True)


def wind_down(run: Run, drain_seconds: float) -> None:
    """Stop the disturbers, release what is held, let runners drain, then stop them."""
    for p in run.parties:
        if p.role != "runner" and p.proc and p.proc.poll() is None:
            os.killpg(p.proc.pid, signal.SIGTERM)
    for p in run.parties:
        if p.role != "runner" and p.proc:
            try:
                p.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.proc.pid, signal.SIGKILL)
    sys.path.insert(0, str(ROOT))
    from store import Spool, SpoolError, release

    spool = Spool.open(run.backing / "spool")
    for q in QUEUES:
        for p in spool.pending(q):
            if p.held:
                try:
                    release(spool, p.id)
                except SpoolError:
                    pass  # a planted corrupt file that was held: moved to corrupt/ now
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        if not any(spool.pending(q) or spool.running_ids(q) for q in QUEUES):
            break
        time.sleep(0.5)
    for p in run.parties:
        if p.role == "runner" and p.proc and p.proc.poll() is None:
            p.proc.send_signal(signal.SIGTERM)
    for p in run.parties:
        if p.role == "runner" and p.proc:
            try:
                p.proc.wait(15)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()
    # Dead writers' staging files are cleaned by their own host (pids are per host).
    for host in HOSTS:
        subprocess.run(run.as_host(host, sys.executable, "-c",
                                   "import sys; from store.atomic import clean_tmp; "
                                   "clean_tmp(__import__('pathlib').Path(sys.argv[1]))",
                                   str(run.view(host) / "spool" / "tmp")),
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)


# -- the verdict -----------------------------------------------------------------


def check(run: Run) -> tuple[dict[str, object], dict[str, str | None]]:
    sys.path.insert(0, str(ROOT))
    from store import Spool, SpoolError
    from store.states import State

    spool = Spool.open(run.backing / "spool")
    places: dict[str, list[str]] = defaultdict(list)
    states: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    requeued_lost = triggered = 0
    no_result: list[str] = []
    for q in spool.queue_names():
        for r in spool.refs(q, {State.PENDING, State.HELD, State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED}):
            places[r.id].append(f"{q}/{r.state}")
            try:
                job = spool.read(r)
            except SpoolError:
                continue
            states[r.state] += 1
            if r.state in (State.SUCCEEDED, State.FAILED, State.CANCELLED) and job.result is None:
                no_result.append(r.id)
            if r.state == State.FAILED and job.result:
                reasons[job.result.reason] += 1
            requeued_lost += job.lost + sum(1 for h in job.history if h.reason == "runner-lost")
            triggered += job.trigger is not None
    submitted = set()
    for f in (run.backing / "rec").glob("submit.*.ids"):
        submitted |= {line.strip() for line in f.read_text().splitlines() if line.strip()}
    lost = sorted(i for i in submitted if i not in places)
    doubled = sorted(i for i, where in places.items() if len(where) > 1)

    # ticks: one file per attempt; intervals of one job must not overlap; a queue's
    # concurrent intervals must not exceed its slots.
    spans: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    by_queue: dict[str, list[tuple[int, int]]] = defaultdict(list)
    attempts: Counter[tuple[str, str]] = Counter()
    for f in (run.backing / "rec" / "ticks").iterdir():
        ticks = [int(t) for t in f.read_text().split() if t.isdigit()]
        if not ticks:
            continue
        job_id, attempt, queue = f.name.split(".")[:3]
        spans[job_id].append((min(ticks), max(ticks), f.name))
        by_queue[queue].append((min(ticks), max(ticks)))
        attempts[(job_id, attempt)] += 1
    started_twice = sorted(f"{j}.{a}" for (j, a), n in attempts.items() if n > 1)
    overlapping = []
    for job_id, ss in spans.items():
        ss.sort()
        for a, b in zip(ss, ss[1:]):
            if b[0] <= a[1]:
                overlapping.append(job_id)
    over_slots = {}
    peaks = {}
    for queue, ss in by_queue.items():
        events = sorted([(s, 1) for s, _ in ss] + [(e, -1) for _, e in ss], key=lambda x: (x[0], x[1]))
        cur = peak = 0
        for _, d in events:
            cur += d
            peak = max(peak, cur)
        peaks[queue] = peak
        if peak > QUEUES.get(queue, 0):
            over_slots[queue] = peak
    tmp_left = [p.name for p in (run.backing / "spool" / "tmp").iterdir()]
    corrupt_names = " ".join(p.name for p in spool.corrupt_files())
    not_quarantined = [i for i in run.planted if i not in corrupt_names]
    errors = (run.backing / "rec" / "errors")
    counts: dict[str, object] = {
        "seconds": run.seconds,
        "jobs submitted (seen by submitters)": len(submitted),
        "jobs in the spool": len(places),
        "fired by the trigger": triggered,
        State.SUCCEEDED: states[State.SUCCEEDED],
        State.FAILED: states[State.FAILED],
        **{f"  failed: {k}": v for k, v in sorted(reasons.items())},
        State.CANCELLED: states[State.CANCELLED],
        "still pending/held/running": states[State.PENDING] + states[State.HELD] + states[State.RUNNING],
        "requeued after a lost runner": requeued_lost,
        "attempts recorded by jobs": sum(len(v) for v in spans.values()),
        "locks across hosts": "none (--nolock)" if run.nolock else "working",
        **{f"most at once: {q} ({QUEUES.get(q, 0)} slots)": peaks.get(q, 0) for q in QUEUES},
        "attempts started twice": len(started_twice),
        "runner freezes (SIGSTOP)": run.freezes,
        "corrupt files planted": len(run.planted),
        "log folder filled": run.fills,
        **{f"SIGKILLs: {role}": sum(p.kills for p in run.parties if p.role == role)
           for role in ("runner", "submit", "triggers")},
    }
    verdict: dict[str, str | None] = {
        "no job lost": f"{len(lost)} lost, e.g. {lost[:3]}" if lost else None,
        "no job in two places": f"{len(doubled)}: {[places[d] for d in doubled[:3]]}" if doubled else None,
        "no job ran twice at the same time": f"{overlapping[:5]}" if overlapping else None,
        "no attempt started twice": f"{started_twice[:5]}" if started_twice else None,
        **({} if run.nolock else {"no queue over its slot limit": f"{over_slots}" if over_slots else None}),
        "every finished job records its result": f"{len(no_result)}: {no_result[:3]}" if no_result else None,
        "no temp file left": f"{len(tmp_left)}: {tmp_left[:3]}" if tmp_left else None,
        "every corrupt file quarantined": f"{not_quarantined[:3]}" if not_quarantined else None,
        "no party crashed with a traceback": errors.read_text()[:500] if errors.exists() else None,
    }
    from bench.chaos_deps import check_deps, ticks_by_job

    more, deps_verdict = check_deps(spool, *ticks_by_job(run.backing / "rec" / "ticks"))
    return {**counts, **more}, {**verdict, **deps_verdict}


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to disturb (default 60)")
    ap.add_argument("--drain", type=float, default=60.0, help="how long runners may take to drain at the end")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the spool and records for a look")
    ap.add_argument("--nolock", action="store_true",
                    help="hosts whose locks do not exclude each other (NFS nolock): the slot limit is not checked")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--view", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--rec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        return role_main(args.role, args.view, args.rec, args.seed)
    if not TWO_HOSTS.exists():
        print(f"chaos: {TWO_HOSTS} not found", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    base = Path(tempfile.mkdtemp(prefix="coreflow-chaos-"))
    run = Run(base, args.seconds, random.Random(seed), nolock=args.nolock)
    print(f"chaos: seed {seed}, {args.seconds:g}s, in {base}", file=sys.stderr)
    try:
        setup(run)
        inject(run)
        wind_down(run, args.drain)
        counts, verdict = check(run)
    finally:
        for p in run.parties:
            if p.proc and p.proc.poll() is None:
                p.proc.kill()
        if run.log_mount:
            subprocess.run(["umount", "-l", str(run.log_mount)], capture_output=True)
        if not args.keep:
            subprocess.run(["bash", str(TWO_HOSTS), "down", str(base)], capture_output=True)
            shutil.rmtree(base, ignore_errors=True)
    width = max(len(k) for k in [*counts, *verdict])
    for k, v in counts.items():
        print(f"{k.ljust(width)}  {v}")
    print()
    for k, problem in verdict.items():
        print(f"{k.ljust(width)}  {'ok' if problem is None else 'BROKEN: ' + problem}")
    return 0 if all(v is None for v in verdict.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
