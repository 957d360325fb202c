"""The claims journal: runners/RUNNERID.claims, where a runner appends each claim before
its rename, and what every runner's journal says (for taking a lost runner's jobs back)."""

from __future__ import annotations

import os
import re

import msgspec

from .. import atomic, safeio
from ..errors import StorageError, UnsafeFile
from ..layout import RUNNER_ID
from ..listing import scan_dir
from ..model import Claim, Job, Result, encode
from ..results import read_journal
from ..spool import Spool

CLAIMS_FILE_RE = re.compile(r"(?P<id>%s)\.claims" % RUNNER_ID)
JOURNAL_MAX = 256 << 10  # bytes; past this the journal is rewritten with its live claims only
JOURNAL_READ_MAX = 4 * JOURNAL_MAX  # a journal is rotated at JOURNAL_MAX: anything far larger is not one

_Entry = tuple[str, int, Claim]  # job id, attempt, claim


class ClaimsJournal:
    """A runner's claims, appended to runners/RUNNERID.claims before each claim's rename.

    The claim is written into the job's own file only once the job has run a moment
    (see store.jobs.claims); until then the running file's name says whose it is, and this
    says where it came from (its place in the queue) and since when. One write per
    claim, no fsync: after a power cut a job taken back goes to the top of its queue.
    """

    def __init__(self, spool: Spool, runner_id: str) -> None:
        self.spool = spool
        self.path = spool.layout.runner_claims(runner_id)
        self.fd = -1
        self.size = 0
        self.live: dict[str, bytes] = {}  # job id -> its line, while the job is ours

    def add(self, job_id: str, attempt: int, claim: Claim) -> None:
        line = encode((job_id, attempt, claim)) + b"\n"
        try:
            if self.fd < 0 or self.size + len(line) > JOURNAL_MAX:
                self._rotate()
            os.write(self.fd, line)
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot write the runner's claims journal {self.path}") from exc
        self.size += len(line)
        self.live[job_id] = line

    def drop(self, job_id: str) -> None:
        """The job is no longer ours (finished, given back, or the claim's rename failed)."""
        self.live.pop(job_id, None)

    def _rotate(self) -> None:
        """Start a fresh journal holding only the live claims (atomically replaced)."""
        data = b"".join(self.live.values())
        atomic.publish(self.spool.layout.tmp, self.path, data, sync_dir=False)
        self.close()
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.size = len(data)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def journaled_claims(spool: Spool) -> dict[tuple[str, int], Claim]:
    """Every runner's journaled claims, by (job id, attempt). Torn lines are skipped."""
    d = spool.layout.runners
    out: dict[tuple[str, int], Claim] = {}
    for e in scan_dir(d):
        if not CLAIMS_FILE_RE.fullmatch(e.name):
            continue
        try:
            lines = safeio.read_file(d / e.name, JOURNAL_READ_MAX, f"claims journal {e.name}").splitlines()
        except (OSError, UnsafeFile, StorageError):
            continue  # a FIFO, a link to /dev/zero, a huge file: not a journal we wrote
        for line in lines:
            try:
                job_id, attempt, claim = msgspec.json.decode(line, type=_Entry)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            out[(job_id, attempt)] = claim
    return out


def journaled_result(spool: Spool, runner_id: str, job: Job) -> Result | None:
    """The result of this attempt of `job` in runner `runner_id`'s results journal, if any."""
    for e in read_journal(spool.layout.runner_results(runner_id)):
        if e.job_id == job.id and e.attempt == job.attempt:
            return e.result
    return None
