"""The command line, `coreflow`: parses the arguments and dispatches to one handler.

Imports stay light (store only): a command that needs no TUI must start as fast as
plain Python with msgspec. The runner, triggers and the TUI are imported
only when their command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from coreflow_tui.exits import EXIT_FAIL, EXIT_OK

from .parser import HANDLERS, build_parser, default_spool

__all__ = ["HANDLERS", "build_parser", "default_spool", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _tolerant_streams()
    if "_ARGCOMPLETE" in os.environ:  # a shell asks for completions: only then load argcomplete
        from coreflow_tui.ops.completion import autocomplete

        autocomplete(build_parser())
    args = build_parser(argv).parse_args(argv)
    args.spool = args.spool or default_spool()
    command = args.command or "tui"
    if command == "tui" and not hasattr(args, "queue"):
        args.queue = None
    if (command == "tui" or command == "demo" and not args.no_tui) and os.environ.get("TERM") == "dumb":
        print("coreflow: this terminal (TERM=dumb) cannot show the full-screen UI; use `coreflow ls`, "
              "`coreflow show ID` and `coreflow logs ID` instead", file=sys.stderr)
        return EXIT_FAIL
    module, _, func = HANDLERS[command].partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), func)
    from store import SpoolError

    try:
        return handler(args)
    except SpoolError as exc:
        from ..safetext import inert

        print(f"coreflow: {inert(str(exc))}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `coreflow ls | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _tolerant_streams() -> None:
    """On an output that cannot encode Unicode (LC_ALL=C), text other people chose is
    written with backslash escapes instead of failing with UnicodeEncodeError."""
    from ..fmt import unicode_ok

    for stream in (sys.stdout, sys.stderr):
        if not unicode_ok(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    raise SystemExit(main())
