"""Where each file of a spool lives: the paths of one spool, built in one place. What
the files hold and the rules that move them are store/layout.py's manual."""

from __future__ import annotations

from pathlib import Path

from .states import DONE_DIR, PENDING_DIR, RUNNING_DIR


class Layout:
    """Paths of one spool: the store builds every file and directory name from here
    (and the job states from store/states.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = root / "spool.json"
        self.meta_lock = root / ".spool.lock"
        self.types = root / "types.toml"
        self.queues = root / "queues"
        self.triggers = root / "triggers"
        self.trigger_state = root / "triggers" / ".state"
        self.runners = root / "runners"
        self.audit = root / "audit"
        self.logs = root / "logs"
        self.corrupt = root / "corrupt"
        self.tmp = root / "tmp"
        self.deps_root = root / "deps"
        self.due_root = root / "due"

    def top_dirs(self) -> list[Path]:
        """The spool's own directories: the machinery every watcher of files ignores."""
        return [self.queues, self.triggers, self.trigger_state, self.runners, self.audit,
                self.logs, self.corrupt, self.tmp, self.deps_root, self.due_root]

    def churn_dirs(self) -> list[Path]:
        """Of those, the ones whose changes say nothing about jobs, queues or runners
        (staging, output, audit trails, the dependency index): the change feed does not report them."""
        return [self.tmp, self.logs, self.audit, self.deps_root, self.due_root]

    def queue(self, name: str) -> Path:
        return self.queues / name

    def queue_meta(self, name: str) -> Path:
        return self.queues / name / "queue.json"

    def queue_lock(self, name: str) -> Path:
        return self.queues / name / ".lock"

    def tail_hint(self, name: str) -> Path:
        return self.queues / name / ".tail"

    def queue_audit(self, name: str) -> Path:
        return self.queues / name / "audit.jsonl"

    def pending(self, queue: str) -> Path:
        return self.queues / queue / PENDING_DIR

    def running(self, queue: str) -> Path:
        return self.queues / queue / RUNNING_DIR

    def done(self, queue: str) -> Path:
        return self.queues / queue / DONE_DIR

    def state_dirs(self, queue: str) -> list[Path]:
        return [self.pending(queue), self.running(queue), self.done(queue)]

    def deps(self, job_id: str) -> Path:
        """deps/ID/: the jobs that wait on job ID (see store/deps.py)."""
        return self.deps_root / job_id

    def due(self, queue: str) -> Path:
        """due/QUEUE/: the queue's blocked jobs with a start time, by that time."""
        return self.due_root / queue

    def job_audit(self, job_id: str) -> Path:
        return self.audit / f"{job_id}.jsonl"

    def log(self, job_id: str) -> Path:
        return self.logs / f"{job_id}.log"

    def runner(self, runner_id: str) -> Path:
        return self.runners / f"{runner_id}.json"

    def runner_claims(self, runner_id: str) -> Path:
        return self.runners / f"{runner_id}.claims"

    def runner_results(self, runner_id: str) -> Path:
        return self.runners / f"{runner_id}.results"

    def runner_lock(self, runner_id: str) -> Path:
        return self.runners / f"{runner_id}.lock"

    def trigger(self, name: str) -> Path:
        return self.triggers / f"{name}.toml"

    def trigger_state_file(self, name: str) -> Path:
        return self.trigger_state / f"{name}.json"

    def trigger_lock(self, name: str) -> Path:
        return self.trigger_state / f"{name}.lock"
