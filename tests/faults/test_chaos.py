"""A short chaos run in CI: two hosts, SIGKILLs, corrupt files, a full log folder; the
invariants of bench/chaos.py must all hold (the long run is `python -m bench.chaos`)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, fuse_usable


@pytest.mark.slow
def test_short_chaos_run_keeps_every_invariant() -> None:
    why = fuse_usable()
    if why:
        pytest.skip(why)
    out = subprocess.run([sys.executable, "-m", "bench.chaos", "--seconds", "15", "--drain", "30"],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    print(out.stdout, out.stderr)
    assert "BROKEN" not in out.stdout
    assert out.returncode == 0
    figures = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.stdout.splitlines()
                   if re.search(r"\S\s{2,}\S", line))
    assert int(figures["jobs submitted (seen by submitters)"]) > 50
    assert int(figures["succeeded"]) > 0
    assert int(figures["SIGKILLs: runner"]) + int(figures["SIGKILLs: submit"]) > 0
