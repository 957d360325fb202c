"""The on-disk layout of a spool (format 1): the operator's manual.

    SPOOL/
      spool.json                    {"format": 1, "created_at": ..., "created_by": ...,
                                     "settings": {...}} (housekeeping: see store/settings.py)
      .spool.lock                   held while spool.json's settings change
      types.toml                    job types, one table each: [build] description=...
      triggers/NAME.toml            trigger definitions
      triggers/.state/NAME.json     when each trigger last fired and its last job, and its
                                    mark of what it has seen: a schedule's last slot, a
                                    watch's files ({path: [mtime_ns, size]}), a git
                                    trigger's refs ({ref: commit}); the waiting job(s) of
                                    each coalescing key; the job(s) a firing is placing
      triggers/.state/NAME.lock     held while the trigger fires (one firing per slot, across hosts)
      triggers/.state/daemon.PID.HOST.beat
                                    a running trigger daemon: empty, its mtime the beat (10 s)
      queues/NAME/
        queue.json                  {"slots": N, "paused": bool, "description": ...,
                                     "on_finish": CMD, "on_finish_timeout": SECONDS}
        .lock                       the queue's lock (flock), held for milliseconds
        .tail                       a hint, not a record: the few pending names that decide
                                    where a new job goes, and the mtime pending/ was given
                                    when it was written (store/tailhint.py); trusted only
                                    while pending/ still has that mtime, on a local filesystem
        audit.jsonl                 who paused/resumed/changed the queue, one JSON a line
        pending/RANK.PRIO.ID.job    a waiting job
        pending/RANK.PRIO.ID.held   a held job: keeps its place, is skipped
        pending/RANK.PRIO.ID.wait   a blocked job: waits on other jobs or its start time, keeps
                                    its place, is skipped by name (its JSON state is "pending")
        running/ID.RUNNER.job       a claimed job; RUNNER is the id of the runner that holds
                                    it (once it has run a moment, the content also names
                                    host, pid, and the place it came from). ID.job (no
                                    RUNNER) is an older runner's claim: still read.
        running/ID.cancel           a request to stop that running job (who, when)
        done/STAMP.ID.STATE         finished; STATE is succeeded, failed or cancelled
      runners/RUNNERID.json         heartbeat of a runner; its mtime is the beat
      runners/RUNNERID.claims       the runner's claims, one JSON line each ([id, attempt,
                                    claim]), appended before each claim's rename
      runners/RUNNERID.results      the runner's results journal, one JSON line each ([id, queue,
                                    attempt, result]): see "Results" below
      runners/RUNNERID.lock         flock-ed by the runner for its whole life: on the same
                                    kernel (any PID namespace) a lock nobody holds is proof
                                    that the runner is dead
      deps/DEPID/QUEUE.ID.dep       job ID (in QUEUE when indexed; it may have moved) waits on
                                    job DEPID: empty, written and made durable before ID is placed
      deps/DEPID/QUEUE.RANK.PRIO.ID.cancelled
                                    job ID was cancelled because DEPID failed, from that place
                                    (what `retry DEPID --with-dependents` puts back)
      due/QUEUE/MS.ID               blocked job ID may start at MS (epoch milliseconds, 13+ digits)
      audit/ID.jsonl                what people did to a job after submitting it
      logs/ID.log                   combined stdout/stderr of a job
      corrupt/WHERE.STAMP.RAND      files that cannot be ours, moved aside (WHERE: their old
                                    path, dots for slashes), with a .why note beside
      tmp/                          staging for atomic writes (same filesystem)

Name grammar (one regex each, pinned by tests):
    RANK   16 lowercase hex digits; sorted names are run order
    RUNNER a runner id, [a-z0-9][a-z0-9._-]{0,80}: host, pid and randomness, unique
    PRIO   the job's priority, signed decimal ("+0", "-10", "+20"), so a submit can
           find "behind every job of the same or higher priority" without decoding
    ID     26 characters of lowercase Crockford base32, time-ordered (ULID-style)
    STAMP  UTC finish time, YYYYmmddTHHMMSSfffZ (no colons: safe on every filesystem)

Protocol:
  * Every state change is one rename(2) inside the spool; that rename is the commit
    point. When two parties race, exactly one rename succeeds; the other gets ENOENT
    and (because NFS may report ENOENT for a retransmitted rename that succeeded)
    looks for the target before reporting that it lost.
  * A change that also needs new content (a claim records its runner, a requeue its
    history) replaces the file's content atomically (write in tmp/, fsync, rename
    over) under the queue's lock, so nobody else can move the file meanwhile. A
    crash in between leaves the job in exactly one state with the older content.
    A runner's results arrive late on purpose (see "Results").
  * A claim is a rename to a name nobody else uses: pending/X -> running/ID.RUNNER.job
    (RUNNER: the claimer's own id). So the NFS recipe above is unambiguous even where
    locks do not exclude other hosts (NFS `nolock`, `local_lock=`): if two runners
    race for X, one rename succeeds, and the loser's "ENOENT, look for the target"
    looks for its *own* target, which does not exist. (With one shared target name,
    the loser found the winner's file and believed it had won: both ran the job.)
    The name is also who runs the job: readers need no content to say so.
  * Taking over a lost runner's job starts with the same kind of rename,
    running/ID.LOST.job -> running/ID.TAKER.job; only then does the taker requeue
    or finish it. Two takers racing: one wins, unambiguously.
  * A claim rewrites nothing, so a short job costs no rewrite. Before its rename
    the runner appends the claim to its runners/RUNNERID.claims (one write, no
    fsync); it writes the claim into the job's file only if the job is still running
    a moment (50 ms) later. For a running file without a claim, that journal says
    where it came from (its place in the queue) and since when; without it (a power
    cut ate the line) a job taken back goes to the top of its queue.
  * Results (group commit). When a job's process ends its slot is free at once; its
    result is appended to the runner's runners/RUNNERID.results (one write, no flush).
    A flusher thread makes every line appended so far durable with one fdatasync
    (a batch: whatever ended while the previous flush ran; a flush starts as soon as
    the previous one returned, so a result is published within two flushes, a few
    milliseconds on a local disk), and only after that flush
    returned does the runner rename the batch's running/ID.RUNNER.job files to
    done/STAMP.ID.STATE, unchanged (mtime set to the finish), under each queue's lock
    (store/jobs/batches.py). Later, off the hot path (when the runner is idle, when
    2,000 wait, or when it exits with at most 500), the results are folded into their
    done files (staged, one syncfs for the batch, renamed over under the lock if the
    job is still there without its result), done/ is fsynced, and only then is the journal emptied. Until
    then every reader gets the result from the journal (Spool.load: a done file of a
    finished state without a result takes its journal's line for (id, attempt)).
    A failure queued again, a give-back and a file turned corrupt still rewrite the
    job's file at once (write the result into the running file, then rename).
    What a crash can lose, and how it is recovered:
      - a result appended but not yet flushed: after a power cut (or a crash of the
        kernel) the line may be gone. The job is still in running/ under the dead
        runner's name, so it is taken over like any lost runner's job: requeued at its
        place as attempt + 1, its history saying "runner-lost" and why. After a crash
        of the runner process alone, the kernel still has the line: see next.
      - a result whose line is in the journal (flushed or not) but whose job is still
        in running/: the taker finishes it with that result (nothing is run again).
      - a published job whose result is not folded: nothing; readers use the
        journal, and a runner folds the journal of a runner that is gone for certain
        (its lock free on this kernel; elsewhere no beat for an hour; or no heartbeat
        and a journal a lease old) once none of its jobs is left in running/. Never
        of one that only looks lost: a frozen runner wakes and appends again.
      - a fold cut short: some done files have their result, all are still in the
        journal; folding again is idempotent. The journal is emptied only after done/
        is flushed.
    Never lost: a job in done/ without its result somewhere durable (the rename
    follows the flush, and the first flush of a journal made anew flushes runners/
    too: its name is as durable as its lines), or a job in two states (each step is
    one rename).
    A job put back (a retry of its own failure, a give-back) gets its next attempt's
    content written over its running file first, and one rename then moves
    it to pending/: a pending file never holds the attempt that already ran, which
    another host whose locks do not exclude could claim and run again. Killed in
    between, the next attempt lies in running/ without a claim and is recovered like
    any lost runner's job.
  * Added after the start, in place (read, staged and fsynced in tmp/ without the lock;
    under the queue's lock, renamed over the same name only if the file is still the
    one read, else read again): labels a running job gives itself
    (`coreflow annotate`, into running/ID.RUNNER.job) and its finish hook's outcome
    (the `hook` field, into done/STAMP.ID.STATE; only if the file is still the attempt
    the hook ran for). A runner about to rewrite its running file finds it is not the
    file it placed: it reads it, keeps its labels (and, before the claim is written,
    still counts a claim-less file under its own running name as its own), and stages
    its result again from that. A fold (see Results) never replaces a done file
    that already has its result: a hook's outcome written meanwhile stays.
  * Leases and the fence. A runner beats (rewrites runners/RUNNERID.json) every
    lease/4. Its watchdog (a separate process, so a frozen or SIGSTOPped runner does
    not stop it) SIGKILLs the runner's jobs when the runner has not beaten for
    lease - margin; another runner takes its jobs over only when the heartbeat is
    older than lease + margin (by the filesystem's clock), margin = lease/4 (at most
    15 s). So the old attempt is dead before the new one starts. A runner starts a
    job only right after a beat. On the same kernel (boot id) a runner is also lost
    as soon as nobody holds its runners/RUNNERID.lock; a bare pid is never trusted
    (the same hostname may be another PID namespace or container).
  * Without locks that exclude other hosts, the slot limit of a queue may be
    exceeded for a moment (two hosts count running/ at once); a job still never
    runs twice at once. `doctor` and the runner say which case a spool is in.
    There a taker may also act while a frozen runner is between its "still mine?"
    check and its rename: a runner whose change took longer than HELD_UP (0.5 s)
    looks for the job elsewhere afterwards, and if it is, removes what it just
    wrote (the job stays the taker's).
    The fence assumes attribute caches (NFS actimeo) shorter than the margin.
  * New files are written in tmp/ (O_EXCL), fsynced, then renamed into place, and the
    directory is fsynced. No reader ever sees a half-written file.
  * Names that do not match the grammar (NFS's .nfsXXXX, editors' droppings) are
    ignored by every listing.
  * A rank with no room left before a new job is made by respacing a window of jobs
    around the spot (doubling until the gaps fit, a few dozen renames), never the
    whole queue; run order holds after every one of those renames.
  * A submit finds its spot without listing pending/ through the queue's .tail hint
    (store/tailhint.py), which it trusts only while pending/'s mtime is the stamp the
    hint names: a moment in the past that the last placement set with utime(2), which
    every later change of pending/ replaces with the real time. Not on shared
    filesystems (attributes are cached there) and not for a user who does not own
    pending/: those list it. One submit is two fsyncs: the staged file, then pending/.

Dependencies and delayed start (store/deps.py). A job's `after` (ids that must
succeed), `after_finished` (ids that must end, whatever the outcome) and `not_before`
(epoch seconds) are in its JSON; the ids are full ids of jobs that existed when it was
submitted, in any queue (so no cycle can be made). A job is *eligible* to be claimed
when its name ends in .job: a runner never reads a .wait or .held file, so 9,999
blocked jobs cost a claim 9,999 string comparisons. The rules that move it:
  * Submit (and retry, release): if some condition does not hold yet, its index entries
    (deps/DEP/..., due/QUEUE/...) are created and the directories fsynced, then it is
    placed as .wait; else as .job. Then it looks at its dependencies again (below).
  * Whoever makes a job final (runner finish, cancel, takeover, supersede) renames it to
    done/ first, then lists deps/ID/ (absent: nothing to do) and re-evaluates each
    dependent from its file and the states of the jobs it names (found by name); then,
    under the dependent's queue lock (re-reading a file renamed meanwhile): all `after`
    succeeded, all `after_finished` ended, not_before passed -> renamed .wait -> .job
    (at its place; jobs behind it may have passed it meanwhile); an `after` job failed,
    was cancelled or is gone -> cancelled (reason "dependency", message "dependency ID
    failed"), a .cancelled note left in deps/ID/, and the same done for its own
    dependents. Its .dep entry is then removed, and deps/ID/ when empty. A held
    dependent stays held (release re-evaluates it).
  * Both sides look after their own commit, so a dependency that ends while a dependent
    is being placed is seen by one of them (or both: the rename .wait -> .job succeeds once).
  * Start times: each runner, before claiming from a queue, stats due/QUEUE (lists it
    when it changed or its earliest time came), and lets the due jobs go as above; it
    wakes at the earliest start time ahead. Start times are compared with the runner
    host's clock (they are wall-clock times a person gave).
  * Crashes: an index entry whose job is gone is harmless (the dependent is looked for
    by id). An entry whose job is nowhere yet is kept for an hour while its queue
    exists: its submit may be placing it, and die before its own re-check. A crash
    between a final rename and its deps/ work is repaired by every runner at start and
    every minute (deps.sweep: each deps/ID/ whose job is final is processed again; one
    whose job is nowhere for an hour is removed). A job whose file went
    from pending/ or done/ to corrupt/ never ends, so nobody calls on_final for it (a
    running job's file moved aside is still run, from its runner's copy, and ends in
    done/ as usual): runners sweep also when
    corrupt/ changes, and its dependents are settled as if it had ended and is gone
    (`after`: cancelled; `after_finished`: released). `queue rm --force` settles the
    dependents of the waiting jobs it removes the same way, at once. A finish's
    directory fsync may be group-committed (SYNC_EVERY): a power cut within that
    window can lose a dependency's done/ rename after its dependent was released; the
    dependency then comes back from running/ and is finished with the result written
    into it (or, if that rename was lost too, run again as a lost runner's job).
  * Old coreflow versions ignore .wait names: they never run a blocked job.

Files are read one way (store/safeio.py): opened without following a symlink and
without blocking (a FIFO is refused at once), checked to be a regular file no larger
than its limit (store/limits.py: job 4 MiB, spool.json/queue.json 64 KiB, TOML 1 MiB
nested at most 8 deep), then read. Anything else is skipped or moved to corrupt/ with
the reason, never waited on; so is a job file this user may not read. Only the top
directory and corrupt/ may be world-writable (and then sticky); every other
directory, runners/ logs/ audit/ tmp/ included, is refused by the runner, the trigger
daemon and `doctor`. An audit trail is shown only if the spool's owner (or root) owns
it and nobody else may write it; otherwise one line says why.

Housekeeping: a runner sweeps tmp/ hourly, removing what writers that died left
there (at once if the writer was on this host and its pid is gone, else after 36 h by
the filesystem's clock). `prune` ages finished jobs by their done files' mtimes
against the filesystem's clock, never by this host's clock or the STAMP in names.
"""

from __future__ import annotations

import re
import time

from .names import RANK_WIDTH
from .states import FINAL, State, final_alternation

FORMAT = 1
DEFAULT_QUEUE = "default"

# [0-9], not \d: \d would also take other scripts' digits, which int() then accepts.
PENDING_RE = re.compile(
    r"(?P<rank>[0-9a-f]{%d})\.(?P<prio>[+-][0-9]{1,4})\.(?P<id>[0-9a-z]{26})\.(?P<st>job|wait|%s)" % (RANK_WIDTH, State.HELD)
)
QUEUE_NAME = r"[a-z0-9][a-z0-9._-]{0,63}"
# deps/DEPID/ entries: a dependent that waits on DEPID, or one cancelled because DEPID failed (with its old place).
DEP_RE = re.compile(r"(?P<queue>%s)\.(?P<id>[0-9a-z]{26})\.dep" % QUEUE_NAME)
DEP_CANCELLED_RE = re.compile(
    r"(?P<queue>%s)\.(?P<rank>[0-9a-f]{%d})\.(?P<prio>[+-][0-9]{1,4})\.(?P<id>[0-9a-z]{26})\.cancelled"
    % (QUEUE_NAME, RANK_WIDTH))
DUE_RE = re.compile(r"(?P<ms>[0-9]{13,15})\.(?P<id>[0-9a-z]{26})")
RUNNER_ID = r"[a-z0-9][a-z0-9._-]{0,80}"
RUNNING_RE = re.compile(r"(?P<id>[0-9a-z]{26})(?:\.(?P<runner>%s))?\.job" % RUNNER_ID)
CANCEL_RE = re.compile(r"(?P<id>[0-9a-z]{26})\.cancel")
DONE_RE = re.compile(r"(?P<stamp>[0-9]{8}T[0-9]{9}Z)\.(?P<id>[0-9a-z]{26})\.(?P<st>%s)" % final_alternation())
FINAL_STATES = tuple(s for s in State if s in FINAL)
ALL_STATES = tuple(State)


class PendingName:
    """A pending (held, blocked) job's file name and what it says: rank, priority, id, kind.

    A listing makes one per waiting job, so it keeps only the name (already checked
    against PENDING_RE) and reads each field from it when asked.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def rank(self) -> int:
        return int(self.name[:RANK_WIDTH], 16)

    @property
    def priority(self) -> int:
        return int(self.name[RANK_WIDTH + 1:self.name.index(".", RANK_WIDTH + 2)])

    @property
    def id(self) -> str:
        return self.name[-30:-4] if self.name[-4:] == ".job" else self.name[-31:-5]

    @property
    def held(self) -> bool:
        return self.name.endswith(".held")

    @property
    def blocked(self) -> bool:
        """Waits on other jobs or on its start time (pending/X.wait): skipped by claims, by name."""
        return self.name.endswith(".wait")

    @property
    def kind(self) -> str:
        """The last word of the name: job (claimable), wait (blocked) or held."""
        return self.name[self.name.rindex(".") + 1:]

    @property
    def state(self) -> State:
        return State.HELD if self.held else State.PENDING

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PendingName) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return (f"PendingName(rank={self.rank}, priority={self.priority}, id={self.id!r}, kind={self.kind}, "
                f"name={self.name!r})")


def pending_name(rank: int, priority: int, job_id: str, held: bool = False, kind: str | None = None) -> str:
    """pending/RANK.PRIO.ID.KIND; `kind` (job, wait, held: a PendingName's) wins over `held`."""
    return f"{rank:0{RANK_WIDTH}x}.{priority:+d}.{job_id}.{kind or (State.HELD if held else 'job')}"


def parse_pending(name: str) -> PendingName | None:
    return PendingName(name) if PENDING_RE.fullmatch(name) else None


def sorted_pending(names: list[str]) -> list[PendingName]:
    """The pending names among a directory listing, in run order (sorts `names` in place)."""
    names.sort()
    return list(map(PendingName, filter(PENDING_RE.fullmatch, names)))


def done_name(job_id: str, state: str, finished_at: float | None = None) -> str:
    t = time.time() if finished_at is None else finished_at
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"{int(t * 1000) % 1000:03d}Z"
    return f"{stamp}.{job_id}.{state}"


def running_name(job_id: str, runner: str | None = None) -> str:
    """running/ID.RUNNER.job, the claim of `runner`; without one, an older runner's ID.job."""
    return f"{job_id}.{runner}.job" if runner else f"{job_id}.job"


def is_machinery_name(name: str) -> bool:
    """A file of the machinery in any directory: a lock, a queue's tail hint, or a file
    FUSE or NFS renamed aside while it was open (.fuse_hiddenXXXX, .nfsXXXX)."""
    return name in (".lock", ".tail") or name.startswith((".fuse_hidden", ".nfs"))


def cancel_name(job_id: str) -> str:
    return f"{job_id}.cancel"
