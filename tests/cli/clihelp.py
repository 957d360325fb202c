"""Running the real `coreflow` command in the CLI tests (imported as `clihelp`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Compiled once for every test process: PYTHONDONTWRITEBYTECODE would compile each run.
_PYC = Path(tempfile.gettempdir()) / "coreflow-test-pycache"


def run(root: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`coreflow --spool ROOT ARGS...` as a real process, output not a terminal (80 columns)."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")}
    proc = subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(root), *args], input=input,
                          capture_output=True, timeout=timeout,
                          env={**base, "PYTHONPYCACHEPREFIX": str(_PYC), **(env or {})})
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 1 with exactly one line on stderr, naming each of `words`."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("coreflow: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
