"""`coreflow annotate KEY=VALUE...`: a running job adds labels to itself (store.jobs.annotate)."""

from __future__ import annotations

import argparse
import os

from ..exits import EXIT_OK, EXIT_USAGE
from .commands import open_spool, say_error


def cmd_annotate(args: argparse.Namespace) -> int:
    from store.jobs.annotate import annotate

    own = os.environ.get("COREFLOW_JOB_ID", "")
    job_id = args.job or own
    if not job_id:
        say_error("annotate: no job to annotate: run it inside a job (the runner sets COREFLOW_JOB_ID) "
                  "or pass --job ID")
        return EXIT_USAGE
    queue = attempt = None
    if job_id == own:  # our own job: its queue and attempt are known (a left-over process is refused)
        queue = os.environ.get("COREFLOW_QUEUE") or None
        text = os.environ.get("COREFLOW_ATTEMPT", "")
        attempt = int(text) if text.isdigit() else None
    annotate(open_spool(args), job_id, dict(args.pairs), queue, attempt)
    return EXIT_OK
