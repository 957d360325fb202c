"""The runner's watchdog: kills the runner's jobs if the runner dies or stops beating.

Jobs run in sessions of their own, so they would outlive a runner killed with
SIGKILL and run on while another runner, after the lease, runs them again. This
small process (started once per runner, in a session of its own, deaf to SIGINT,
SIGTERM and SIGHUP, so `kill -STOP` of the runner or its group does not stop it)
reads lines on stdin: "+PGID" and "-PGID" as jobs start and end, "b" after each
heartbeat the runner wrote. It SIGKILLs every listed group
  * at end of input (the runner's death or its orderly exit), and
  * whenever no beat came for FENCE seconds (argv[1]; the runner is frozen, stopped
    or stuck): other runners take its jobs over only at lease + margin, and FENCE is
    lease - margin, so the old attempt is dead before a new one starts.
Run as a plain script (`python -I -S reaper.py FENCE`): it imports nothing of
coreflow, so it starts in milliseconds.
"""

import os
import select
import signal
import sys
import time


def kill_all(groups: set[int]) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    fence = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    # CLOCK_BOOTTIME counts a suspend too (other hosts' clocks ran on meanwhile); waits are
    # kept short because a select() timeout does not.
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    groups: set[int] = set()
    fenced: set[int] = set()  # groups killed for a missed beat (the runner reaps them later)
    pending = b""
    last_beat = time.clock_gettime(clock)
    while True:
        alive = groups - fenced
        wait = None if not fence or not alive else min(0.5, max(0.0, last_beat + fence - time.clock_gettime(clock)))
        try:
            ready, _, _ = select.select([0], [], [], wait)
        except InterruptedError:
            continue
        if ready:
            data = os.read(0, 4096)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line == b"b":
                    last_beat = time.clock_gettime(clock)
                elif line[:1] == b"+" and line[1:].isdigit():
                    groups.add(int(line[1:]))
                elif line[:1] == b"-" and line[1:].isdigit():
                    groups.discard(int(line[1:]))
                    fenced.discard(int(line[1:]))
        if fence and time.clock_gettime(clock) - last_beat > fence and groups - fenced:
            kill_all(groups - fenced)  # the runner has not beaten for too long
            fenced |= groups
    kill_all(groups)


if __name__ == "__main__":
    main()
