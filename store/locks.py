"""The queue lock: short, always with a timeout, released by the kernel if its holder dies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .errors import LockTimeout, StorageError

DEFAULT_TIMEOUT = 10.0


@contextmanager
def locked(path: Path, what: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    # Imported here: commands that only read (ls, show) never lock, and filelock's import
    # is a sixth of their start-up.
    from filelock import FileLock, Timeout

    # thread_local=False: a TUI worker thread may take the lock and another release it.
    lock = FileLock(str(path), timeout=timeout, thread_local=False, mode=0o644)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(
            f"{what} is locked by another process for more than {timeout:g}s ({path}); "
            "retry, and if it persists look for a stuck coreflow process (`coreflow doctor`)"
        ) from None
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot take the lock of {what}") from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def locked_all(paths: list[tuple[Path, str]], timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Take several locks in name order, so two movers between the same queues never deadlock."""
    with ExitStack() as stack:
        for path, what in sorted(set(paths)):
            stack.enter_context(locked(path, what, timeout))
        yield
