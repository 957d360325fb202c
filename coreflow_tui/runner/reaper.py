"""The runner's watchdog: kills the runner's jobs if the runner dies.

Jobs run in process groups of their own, so they would outlive a runner killed with
SIGKILL and run on while another runner, after the lease, runs them again. This
small process (started once per runner, in a session of its own, deaf to SIGINT,
SIGTERM and SIGHUP) reads "+PGID" and "-PGID" lines on stdin as jobs start and end;
at end of input, which is the runner's death or its orderly exit, it SIGKILLs every
group still listed. Run as a plain script (`python -I -S reaper.py`): it imports
nothing of coreflow, so it starts in milliseconds.
"""

import os
import signal


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    pending = b""
    while True:
        try:
            data = os.read(0, 4096)
        except InterruptedError:
            continue
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line[:1] == b"+" and line[1:].isdigit():
                groups.add(int(line[1:]))
            elif line[:1] == b"-" and line[1:].isdigit():
                groups.discard(int(line[1:]))
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    main()
