"""`coreflow logs ID [--follow] [--raw]`: a job's output, shown safely on a terminal."""

from __future__ import annotations

import argparse
import sys
import time

from store import Spool, SpoolError

from ..safetext import escape_non_sgr
from ..exits import EXIT_OK



def cmd_logs(args: argparse.Namespace) -> int:
    spool = Spool.open(args.spool)
    r = spool.find(args.id)
    # On a terminal the job's output is shown, not obeyed (as journalctl does); a pipe or
    # --raw gets the bytes as written.
    out = _RawLog() if args.raw or not sys.stdout.isatty() else _EscapedLog()
    pos, ended = 0, False
    while True:
        chunk, pos = spool.read_log(r.id, pos)  # a MiB at a time, however long the log
        if chunk:
            out.write(chunk)
            continue
        out.flush(final=not args.follow or ended)
        if not args.follow:
            if pos == 0 and r.state in ("pending", "held") and not spool.layout.log(r.id).exists():
                raise SpoolError(f"job {r.id} has not started yet; no log")
            return EXIT_OK
        if ended:
            return EXIT_OK
        if spool.find(r.id).state in ("succeeded", "failed", "cancelled"):
            ended = True  # one more read: the runner may have written its last lines just before
            continue
        time.sleep(0.2)


class _RawLog:
    def write(self, chunk: bytes) -> None:
        sys.stdout.buffer.write(chunk)

    def flush(self, final: bool) -> None:
        sys.stdout.buffer.flush()


class _EscapedLog:
    """Job output with SGR colours kept and every other control shown escaped. Within a
    burst of reads the last partial line waits for the next chunk, so a sequence cut in
    two by a read is still seen whole."""

    HOLD = 4096  # longest partial line held back

    def __init__(self) -> None:
        import codecs

        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.pending = ""

    def write(self, chunk: bytes) -> None:
        text = self.pending + self.decoder.decode(chunk)
        cut = text.rfind("\n") + 1
        if len(text) - cut > self.HOLD:
            cut = len(text)
        self.pending = text[cut:]
        sys.stdout.write(escape_non_sgr(text[:cut]))

    def flush(self, final: bool) -> None:
        sys.stdout.write(escape_non_sgr(self.pending + self.decoder.decode(b"", final=final)))
        self.pending = ""
        sys.stdout.flush()
