"""systemd's notify protocol (sd_notify(3)): datagrams of `KEY=VALUE` lines to the
AF_UNIX socket named in NOTIFY_SOCKET (a path, or an abstract name given as `@name`).

Our own few lines: the maintained Python bindings (systemd-python) need a C compiler
and libsystemd's headers, and the protocol is one sendto() per message.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends notifications to systemd; does nothing where NOTIFY_SOCKET is not set."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self.sock: socket.socket | None = None
        if address:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str] = os.environ) -> Notifier:
        address = environ.get("NOTIFY_SOCKET") or None
        if address and address[0] not in "/@":
            address = None  # vsock: and other forms are not ours to speak
        return cls(address, _watchdog_usec(environ))

    @property
    def enabled(self) -> bool:
        return self.sock is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half the timeout systemd gave), or None."""
        return self.watchdog_usec / 2e6 if self.enabled and self.watchdog_usec else None

    def send(self, *lines: str) -> bool:
        """Send one notification; False if systemd could not be told (it is not fatal)."""
        if self.sock is None or self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self.sock.sendto("\n".join(lines).encode(), target)
        except OSError:
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _watchdog_usec(environ: dict[str, str] | os._Environ[str]) -> int | None:
    """WATCHDOG_USEC if it is meant for this process (WATCHDOG_PID unset or ours)."""
    pid = environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None
