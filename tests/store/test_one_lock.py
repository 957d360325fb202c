"""One queue lock: a runner's kept descriptors (QueueLocks) and a command's `locked`
are the same flock, exclude each other in both directions, and say the same thing
when they time out."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from store import Spool
from store.errors import LockTimeout
from store.queuelock import QueueLocks

HOLD = r'''
import sys, time
from store import Spool
from store.queuelock import QueueLocks
spool = Spool.open(sys.argv[1])
ctx = QueueLocks(spool).lock("default") if sys.argv[2] == "runner" else spool.lock("default")
with ctx:
    print("held", flush=True)
    time.sleep(30)
'''


def _hold(spool: Spool, how: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(spool.root), how], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


@pytest.mark.parametrize("holder,waiter", [("runner", "command"), ("command", "runner")])
def test_runner_lock_and_command_lock_exclude_each_other(spool: Spool, holder: str, waiter: str) -> None:
    p = _hold(spool, holder)
    try:
        spool.lock_timeout = 0.2
        t0 = time.monotonic()
        with pytest.raises(LockTimeout) as err:
            with QueueLocks(spool).lock("default") if waiter == "runner" else spool.lock("default"):
                pass
        assert time.monotonic() - t0 < 5
        msg = str(err.value)
        assert msg.startswith("queue default is locked by another process for more than 0.2s (")
        assert "`coreflow doctor`" in msg
    finally:
        p.kill()
        p.wait()
    with spool.lock("default"):  # the kernel dropped the dead holder's lock
        pass
