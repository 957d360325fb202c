"""README's pipelines section works as printed, after the tour's `init` and `queue add
build`, with a runner serving the spool."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from store import Spool
from tests.runner.conftest import RunnerProc

ROOT = Path(__file__).resolve().parents[2]


def test_the_pipelines_section_works_as_printed(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Pipelines"):readme.index("The full contract")]
    (script,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    spool = Spool.init(tmp_path / "spool")
    spool.add_queue("build", slots=2)
    runner = RunnerProc(spool.root, [], {"COREFLOW_STOP_GRACE": "0.5"}, tmp_path / "runner.stderr", [])
    bin_dir = Path(sys.executable).parent
    try:
        out = subprocess.run(["bash", "-c", f"set -e\n{script}"], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "COREFLOW_SPOOL": str(spool.root), "COLUMNS": "160",
                                  "PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=120)
    finally:
        runner.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "tests passed" in out.stdout
    assert re.search(r"waits for \w{8} \(build, (pending|running)\)", out.stdout), out.stdout
    assert "starts at " in out.stdout and "(in 1h30m)" in out.stdout
    assert re.search(r"\nafter +\w{8} \(build, (pending|running)\): must succeed", out.stdout), out.stdout
