"""`coreflow spool show` and `coreflow spool set`: the spool's housekeeping settings."""

from __future__ import annotations

import argparse
import sys

from store import ConfigError, Spool
from store.layout import FORMAT
from store.settings import Settings, check_keep_finished, check_max_log_size, format_size, load_settings, \
    update_settings

from ..fmt import duration


def cmd_spool(args: argparse.Namespace) -> int:
    spool = Spool.open(args.spool)
    changes: dict[str, object] = {}
    if getattr(args, "spool_command", None) == "set":
        try:
            if args.keep_finished is not None:
                changes["keep_finished"] = check_keep_finished(args.keep_finished)
            if args.max_log_size is not None:
                changes["max_log_size"] = check_max_log_size(args.max_log_size)
        except ConfigError as exc:  # a value that cannot be a setting: a usage error
            print(f"coreflow: spool set: {exc}", file=sys.stderr)
            return 2
    settings = update_settings(spool, **changes) if changes else load_settings(spool)
    print(describe(spool, settings))
    return 0


def describe(spool: Spool, s: Settings) -> str:
    keep = (f"{_days(s.keep_finished)}: `serve` prunes finished jobs and their logs older than this, hourly"
            if s.keep_finished else "off: finished jobs are kept until `coreflow prune`")
    size = (f"{format_size(s.max_log_size)}: a job's log stops growing here (runners started after the change)"
            if s.max_log_size else "off: the runner's default (100MiB, or COREFLOW_LOG_LIMIT)")
    return "\n".join([f"spool          {spool.root} (format {FORMAT})",
                      f"keep-finished  {keep}",
                      f"max-log-size   {size}"])


def _days(seconds: float) -> str:
    """14d, 36h, or the usual short form: as a person would type it back."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return duration(seconds)
