"""One exception family for everything the spool can refuse or fail at.

Every message is one line a person can act on: what, which job/queue, why, and
(where there is one) what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class SpoolError(Exception):
    """Base of every error the store raises; the CLI maps it to exit 1.

    `field` names what the error is about where a caller needs it (a trigger's template
    reports "job.type" or "job.queue"): set by `about`, never read out of the message.
    """

    field: str | None = None


class SpoolNotFound(SpoolError):
    pass


class FormatError(SpoolError):
    """The spool was written by a newer (or unknown) format version."""


class InvalidName(SpoolError):
    pass


class QueueNotFound(SpoolError):
    pass


class QueueExists(SpoolError):
    pass


class QueueNotEmpty(SpoolError):
    pass


class JobNotFound(SpoolError):
    pass


class AmbiguousJob(SpoolError):
    pass


class JobStateError(SpoolError):
    """The job is not in a state the operation applies to (e.g. already started)."""


class JobAlreadyStarted(JobStateError):
    pass


class LockTimeout(SpoolError):
    pass


class CorruptJob(SpoolError):
    pass


class ConfigError(SpoolError):
    """A types.toml / trigger file / queue.json that cannot be used."""


class InvalidValue(ConfigError, ValueError):
    """A value a person gave (a duration, a size) that cannot be one. Also a ValueError,
    for callers that parse a value among other things."""


@contextmanager
def about(field: str) -> Iterator[None]:
    """Mark the SpoolErrors raised inside as being about `field` (unless already marked)."""
    try:
        yield
    except SpoolError as exc:
        if exc.field is None:
            exc.field = field
        raise


class StorageError(SpoolError):
    """An OSError from the filesystem (disk full, read-only, permission), with the path."""

    @classmethod
    def wrap(cls, exc: OSError, what: str) -> StorageError:
        reason = exc.strerror or str(exc)
        path = exc.filename or ""
        return cls(f"{what}: {reason}" + (f" ({path})" if path else ""))


class UnsafeFile(SpoolError):
    """A spool file that is not what the store expects there (store/safeio.py): a FIFO,
    a symlink, a device, a directory, or one larger than its limit. `path` names it."""

    def __init__(self, what: str, path: object = None, fix: str = "remove it") -> None:
        super().__init__(f"{what}: {fix}" if fix else what)
        self.what = what  # the finding without the fix, for callers that apply their own
        self.path = path


class NotRegularFile(UnsafeFile):
    pass


class FileTooLarge(UnsafeFile):
    pass


class FileUnreadable(StorageError):
    """A spool file this user may not read (another user's 0600 file, say)."""
