"""`coreflow set ID... [--priority P] [--name N] [--label K=V] [--requires L] [--timeout D]`."""

from __future__ import annotations

import argparse
import sys

import store
from store import Edit, Spool, SpoolError

from ..safetext import inert
from ..exits import EXIT_FAIL, EXIT_OK, EXIT_USAGE



def cmd_set(args: argparse.Namespace) -> int:
    change = Edit(priority=args.priority, name=args.name, labels=dict(args.label) if args.label else None,
                  requires=args.requires, timeout=args.timeout)
    if change == Edit():
        print("coreflow: set: give what to change (--priority, --name, --label, --requires, --timeout)",
              file=sys.stderr)
        return EXIT_USAGE
    spool = Spool.open(args.spool)
    rc = EXIT_OK
    for ref in args.ids:
        try:
            position = store.edit(spool, ref, change)
        except SpoolError as exc:
            print(f"coreflow: {inert(str(exc))}", file=sys.stderr)
            rc = EXIT_FAIL
            continue
        print(f"{inert(ref)}: changed; position {position}", file=sys.stderr)
    return rc
