"""Run the benchmarks and print one table: `python -m bench [AREA...] [--quick]`."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from bench.common import Row


def main() -> int:
    areas = sorted(p.stem[len("bench_"):] for p in Path(__file__).parent.glob("bench_*.py"))
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("areas", nargs="*", choices=[*areas, []], help=f"default: all of {', '.join(areas)}")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = ap.parse_args()
    rows: list[Row] = []
    for area in args.areas or areas:
        print(f"running {area}...", file=sys.stderr, flush=True)
        rows += importlib.import_module(f"bench.bench_{area}").run(args.quick)
    headers = ["area", "what", "value", "baseline", "ratio", "target", ""]
    table = [[r.area, r.what, r.value, r.baseline, f"{r.ratio:.2f}x", r.target,
              "" if r.ok is None else ("ok" if r.ok else "MISS")] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(headers)]
    for line in [headers, *table]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
