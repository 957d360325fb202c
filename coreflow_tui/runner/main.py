"""`coreflow runner`: options, the checks before the first claim, then the loop.

Environment knobs (no option, rarely changed):
  COREFLOW_STOP_GRACE   seconds between TERM and KILL when a job is stopped (default 10;
                        a cancel uses at most 1 s of it, so it ends within 2 s)
  COREFLOW_LOG_LIMIT    bytes of output kept per job log, e.g. 100M, 2G (default: the spool's
                        max-log-size setting, `coreflow spool set`, else 100M)
  COREFLOW_WATCH        poll | inotify | auto: how the change feed watches the spool
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from store import Spool
from store.errors import ConfigError, InvalidValue
from store.jobs import claims as cl
from store.names import check_name
from store.settings import load_settings, parse_size

from .common import Options
from .loop import Runner
from .workdir import default_work_root


def cmd_runner(args: argparse.Namespace) -> int:
    spool = Spool.open(args.spool)
    queues: list[str] = []
    every = args.queues is None  # every queue, and each queue added while we run
    for q in (part.strip() for part in (args.queues or "").split(",")):
        if q and q not in queues:
            queues.append(spool.check_queue(check_name(q, "queue name")))
    if every:
        queues = spool.queue_names()
    elif not queues:
        raise ConfigError("--queues is empty: name at least one queue to serve, or leave it out to serve every queue")
    labels = cl.check_labels([part.strip() for part in args.labels.split(",") if part.strip()])
    slots = args.slots or len(os.sched_getaffinity(0)) or 1
    cl.check_safe(spool, queues)
    work_root = (args.work_root or default_work_root()).absolute()  # a symlink is refused at the job's start
    if Path(os.path.realpath(work_root)).is_relative_to(os.path.realpath(spool.root)):
        raise ConfigError(f"--work-root {work_root} is inside the spool: jobs' scratch files do not belong on it "
                          "(it may be shared by every host); give a directory on this host's own disk")
    opts = Options(queues=queues, every_queue=every, slots=slots, labels=labels, lease=args.lease, drain=args.drain,
                   requeue_on_stop=args.requeue_on_stop, stop_grace=_env_seconds("COREFLOW_STOP_GRACE", 10.0),
                   work_root=work_root, keep_workdir=args.keep_workdir,
                   log_limit=_env_size("COREFLOW_LOG_LIMIT", load_settings(spool).max_log_size or 100 << 20))
    return Runner(spool, opts).run()


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{name}={text!r} is not a number of seconds: unset it or give e.g. {name}=5")
    return value


def _env_size(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return max(1, parse_size(text, name))
    except InvalidValue:
        raise ConfigError(f"{name}={text!r} is not a size: unset it or give e.g. {name}=100M") from None
