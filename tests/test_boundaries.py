"""The house rules that keep parts apart, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_store_is_headless() -> None:
    """Importing every store module pulls in no Textual and no Rich."""
    names = sorted(".".join(p.relative_to(ROOT / "store").with_suffix("").parts) for p in (ROOT / "store").rglob("*.py")
                   if p.stem != "__init__")
    mods = _modules_after("import store\n" + "\n".join(f"import store.{n}" for n in names))
    assert not {m for m in mods if m.split(".")[0] in ("textual", "rich")}


def test_store_starts_no_process() -> None:
    """The store never starts a process: that is the runner's and the daemons' job."""
    calls = ("import subprocess", "Popen(", "os.fork", "os.exec", "os.spawn", "os.system(", "create_subprocess")
    offenders = [f"{p.name}: {c}" for p in (ROOT / "store").rglob("*.py") for c in calls if c in p.read_text()]
    assert not offenders


def test_cli_does_not_import_the_tui() -> None:
    """`coreflow submit` must start like plain Python with msgspec and filelock."""
    mods = _modules_after("import coreflow_tui.cli, coreflow_tui.commands")
    assert not {m for m in mods if m.split(".")[0] in ("textual", "rich")}


def test_only_store_builds_spool_paths() -> None:
    """Spool file names (pending/, running/, done/, .job) appear only in store/."""
    offenders = []
    for path in (ROOT / "coreflow_tui").rglob("*.py"):
        text = path.read_text()
        for needle in ('"pending"', '"running"', '"done"', '".job"', '"queue.json"'):
            if f"/ {needle}" in text or f"/{needle}" in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not offenders
