"""`coreflow wait ID...`: block until jobs have ended, woken by the spool's change feed
(inotify on local disk, directory-mtime polling on a shared one), never by re-reading
the jobs in a loop.

Exit 0 when every job succeeded; 1 when one did not (one line names the first, in the
order given) or when --timeout expired; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from store import FINAL, JobRef, JobView, Spool, SpoolError
from store.feed import Feed
from store.views import job_json

from .. import wording
from ..exits import EXIT_FAIL, EXIT_OK
from ..fmt import duration, short_id
from .commands import open_spool, print_json, say_error

# A wake-up the feed may have missed (a change between the first look and the watch
# being set up) is caught by looking again this often; the feed's own events come first.
RECHECK = 10.0


class Waiter:
    """The jobs being waited for, and where each was last seen."""

    def __init__(self, spool: Spool, refs: list[JobRef]) -> None:
        self.spool = spool
        self.refs = refs

    def look(self) -> bool:
        """Follow the jobs whose file moved; True when all have ended."""
        for i, r in enumerate(self.refs):
            if os.path.exists(r.file):
                continue  # still where it was: nothing happened to it (one stat, not a listing)
            try:
                self.refs[i] = self.spool.find(r.id)
            except SpoolError:
                continue  # between two renames, or pruned: look again at the next change
        return all(r.state in FINAL for r in self.refs)

    def views(self) -> list[JobView]:
        out = []
        for r in self.refs:
            try:
                out.append(self.spool.view(r))
            except SpoolError:
                out.append(self.spool.view(self.spool.find(r.id)))
        return out


def follow(spool: Spool, wake: threading.Event, stop: threading.Event) -> threading.Thread:
    """A thread that sets `wake` on every change the spool's feed reports, until `stop`."""

    def run() -> None:
        try:
            for _change in Feed(spool, rescan=RECHECK).iterate(stop):
                wake.set()
        except Exception:  # noqa: BLE001 - a feed that cannot watch leaves the RECHECK looks
            return

    t = threading.Thread(target=run, name="coreflow-wait-feed", daemon=True)
    t.start()
    return t


def block(waiter: Waiter, timeout: float | None) -> bool:
    """Wait until every job has ended (True) or `timeout` passed (False)."""
    wake, stop = threading.Event(), threading.Event()
    follow(waiter.spool, wake, stop)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not waiter.look():
            left = RECHECK if deadline is None else min(RECHECK, deadline - time.monotonic())
            if left <= 0:
                return False
            wake.wait(left)
            wake.clear()
        return True
    finally:
        stop.set()


def cmd_wait(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    refs = [spool.find(ref) for ref in args.ids]
    waiter = Waiter(spool, list({r.id: r for r in refs}.values()))
    done = block(waiter, args.timeout)
    views = waiter.views()
    if args.json:
        print_json([job_json(v) for v in views])
    if not done:
        left = [v for v in views if v.state not in FINAL]
        names = ", ".join(f"{short_id(v.job.id)} ({v.state})" for v in left[:3]) + (", ..." if len(left) > 3 else "")
        say_error(f"wait: timed out after {duration(args.timeout)}; still waiting for {names}")
        return EXIT_FAIL
    for v in views:
        if v.state != "succeeded":
            say_error(f"wait: job {short_id(v.job.id)} ({v.job.name}) {wording.ended(v)}")
            return EXIT_FAIL
    return EXIT_OK
