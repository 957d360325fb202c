"""What every job finds in its environment: the runner's own (less what is ours), the
job's `env`, its inputs as COREFLOW_PARAM_*, and the COREFLOW_* variables that say
which job it is and where."""

from __future__ import annotations

import re
from collections.abc import Mapping

from store import Job

# Variables the runner sets for every job: neither the job's own `env` nor the runner's
# environment can change them, and a runner started inside a job passes on no parameters.
OURS = ("COREFLOW_SPOOL", "COREFLOW_JOB_ID", "COREFLOW_QUEUE", "COREFLOW_ATTEMPT", "COREFLOW_WORKDIR")
PARAM_PREFIX = "COREFLOW_PARAM_"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def param_var(key: str) -> str:
    """COREFLOW_PARAM_<KEY>: upper-cased, every character but A-Z 0-9 as _ ("ref" -> ..._REF)."""
    return PARAM_PREFIX + _NOT_ALNUM.sub("_", key).upper()


def runner_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of the runner's environment every job gets: not ours (filtered once, not per job)."""
    return {k: v for k, v in environ.items() if not k.startswith(PARAM_PREFIX) and k not in OURS}


def job_env(base: dict[str, str], job: Job, spool_root: str, workdir: str | None,
            own_env: bool = True) -> dict[str, str]:
    """The job's environment: `base` (from runner_env), then the job's `env` (unless not
    `own_env`), then ours on top."""
    env = dict(base)
    if own_env:
        env.update((k, v) for k, v in job.env.items() if not k.startswith(PARAM_PREFIX) and k not in OURS)
    for key, value in sorted(job.params.items()):
        env[param_var(key)] = value
    env.update(COREFLOW_SPOOL=spool_root, COREFLOW_JOB_ID=job.id, COREFLOW_QUEUE=job.queue,
               COREFLOW_ATTEMPT=str(job.attempt))
    if workdir is not None:
        env["COREFLOW_WORKDIR"] = workdir
    return env
