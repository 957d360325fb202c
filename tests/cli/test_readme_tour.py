"""Issue 10 item 13: README's tour works as printed, run as one shell script in a fresh
HOME (the line that opens the terminal UI left out)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_tour_works_as_printed(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("## A short tour"):readme.index("Scripts use `--json`")]
    assert "source .venv/bin/activate" in tour and "pipx install ." in tour
    lines = "\n".join(re.findall(r"```sh\n(.*?)```", tour, re.S)).splitlines()
    script = "\n".join(line for line in lines if not re.match(r"coreflow\s+# the terminal UI", line))
    assert 'kind = "watch"' in script and "path = " in script and "command = " in script
    # The venv running the tests stands in for `source .venv/bin/activate`.
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "coreflow").exists()
    out = subprocess.run(["bash", "-c", f"set -e\n{script}\nwait\n"], cwd=ROOT,
                         env={"HOME": str(tmp_path), "PATH": f"{bin_dir}:/usr/bin:/bin", "TERM": "dumb"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert re.search(r"rebuild main\.c\s+\S+\s+exit 0", out.stdout), out.stdout[-3000:]
    assert "compiling" in out.stdout  # `logs --follow` of a build job: serve ran the build queue
