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


HEAVY = ("textual", "rich", "watchfiles", "prometheus_client", "argcomplete")


def test_cli_does_not_import_the_tui() -> None:
    """The CLI's command modules pull in no TUI, runner or trigger daemon."""
    mods = _modules_after("import coreflow_tui.cli, coreflow_tui.cli.commands, coreflow_tui.cli.listing, "
                          "coreflow_tui.present")
    assert not {m for m in mods if m.split(".")[0] in ("textual", "rich")}
    assert not {m for m in mods if m.startswith(("coreflow_tui.tui", "coreflow_tui.runner", "coreflow_tui.triggers"))}


def test_submit_loads_only_what_it_uses(tmp_path: Path) -> None:
    """A real `coreflow submit` (and cancel) loads no UI, watcher, metrics or completion
    library and none of the listings' modules: its start-up is Python + msgspec + the store."""
    spool = tmp_path / "spool"
    code = (f"from coreflow_tui.cli import main\nmain(['--spool', {str(spool)!r}, 'init'])\n"
            f"main(['--spool', {str(spool)!r}, 'submit', '--', 'true'])\n"
            f"main(['--spool', {str(spool)!r}, 'cancel', '0000'])")
    mods = _modules_after(code)
    assert "store.jobs.submit" in mods  # it did submit
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    listing = ("coreflow_tui.cli.listing", "coreflow_tui.present", "store.views", "store.history", "store.waiting",
               "store.doctor", "importlib.metadata")
    assert not mods & set(listing)


# What a short command may load of ours: pinned, so that a new top-level import shows up here.
SUBMIT_MODULES = {
    "coreflow_tui", "coreflow_tui.cli", "coreflow_tui.cli.checks", "coreflow_tui.cli.commands",
    "coreflow_tui.cli.parser", "coreflow_tui.exits", "coreflow_tui.fmt", "coreflow_tui.safetext",
    "store", "store.atomic", "store.errors", "store.jobs", "store.jobs.submit", "store.layout", "store.limits",
    "store.listing", "store.locks", "store.model", "store.mounts", "store.names", "store.ordering", "store.paths",
    "store.refs", "store.safeio", "store.spool", "store.states", "store.tailhint",
}
# Standard modules a submit does not need, each a millisecond or more of a short command's
# start-up (issue 15: one submit at most 1.3x `python -c "import msgspec"`).
NOT_FOR_A_SUBMIT = ("tomllib", "dataclasses", "socket", "shutil", "getpass", "ctypes", "threading", "statistics",
                    "json", "subprocess", "asyncio", "importlib.metadata", "zlib", "lzma", "bz2", "locale")


def test_a_submit_loads_exactly_its_own_modules(tmp_path: Path) -> None:
    """`coreflow submit` in a fresh interpreter (the spool made beforehand, as a user's
    is): of ours exactly SUBMIT_MODULES, and none of the heavy libraries or standard
    modules it has no use for. Times are the bench's (python -m bench store)."""
    spool = tmp_path / "spool"
    subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool), "init"], check=True,
                   capture_output=True, cwd=ROOT)
    before = _modules_after("import msgspec")
    mods = _modules_after(f"from coreflow_tui.cli import main\nmain(['--spool', {str(spool)!r}, 'submit', '--', 'true'])")
    assert {m for m in mods if m.split(".")[0] in ("store", "coreflow_tui")} == SUBMIT_MODULES
    assert not {m for m in mods - before if m.split(".")[0] in HEAVY or m in NOT_FOR_A_SUBMIT}
    assert len(list((spool / "queues" / "default" / "pending").iterdir())) == 1  # it did submit


def test_move_and_cancel_load_no_submit_and_no_listing(tmp_path: Path) -> None:
    """`move` and `cancel` load their own family, not submit's, and nothing heavy."""
    spool = tmp_path / "spool"
    run = [sys.executable, "-m", "coreflow_tui", "--spool", str(spool)]
    subprocess.run([*run, "init"], check=True, capture_output=True, cwd=ROOT)
    ids = [subprocess.run([*run, "submit", "--", "true"], check=True, capture_output=True, text=True,
                          cwd=ROOT).stdout.strip() for _ in range(2)]
    for argv in (["move", ids[0], "--bottom"], ["cancel", ids[1]]):
        mods = _modules_after(f"from coreflow_tui.cli import main\nmain(['--spool', {str(spool)!r}, *{argv!r}])")
        assert f"store.jobs.{argv[0]}" in mods
        assert "store.jobs.submit" not in mods and "store.tailhint" not in mods
        assert not {m for m in mods if m.split(".")[0] in HEAVY or m in NOT_FOR_A_SUBMIT}


def test_store_names_resolve_lazily() -> None:
    """`import store` loads no submodule; every name in store.__all__
    still resolves (to the function, not the module of the same name)."""
    mods = _modules_after("import store")
    assert not {m for m in mods if m.startswith("store.")}
    mods = _modules_after("import store, types\nfor n in store.__all__: getattr(store, n)\nfrom store import *\n"
                          "assert not isinstance(store.submit, types.ModuleType)")
    assert {"store.jobs.submit", "store.jobs.cancel", "store.states"} <= mods


def test_only_store_builds_spool_paths() -> None:
    """Spool file names (pending/, running/, done/, .job) appear only in store/."""
    offenders = []
    for path in (ROOT / "coreflow_tui").rglob("*.py"):
        text = path.read_text()
        for needle in ('"pending"', '"running"', '"done"', '".job"', '"queue.json"'):
            if f"/ {needle}" in text or f"/{needle}" in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not offenders


def _imports(package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports at import time (TYPE_CHECKING blocks
    count: a type-only circle is still a knot; imports inside functions are lazy and do not)."""
    import ast

    graph: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        base = name.split(".") if is_pkg else name.split(".")[:-1]
        found: set[str] = set()
        tree = ast.parse(path.read_text())
        body = list(tree.body)
        while body:
            node = body.pop(0)
            if isinstance(node, ast.If | ast.Try):
                body += node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", [])
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
                found |= {mod} | {f"{mod}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m.split(".")[0] == package}
    # A module's own parent packages are initialised before it anyway: not an edge.
    return {k: {m for m in v if m in graph and m != k and not k.startswith(m + ".")} for k, v in graph.items()}


def test_no_import_circle_in_the_ui() -> None:
    """No module of coreflow_tui imports, through any chain, a module that imports it back."""
    graph = _imports("coreflow_tui")
    circles = []
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                circles.append(start)
                break
            if m not in seen:
                seen.add(m)
                todo += graph[m]
    assert not sorted(circles)


def test_widgets_import_no_screen_and_the_read_model_no_widget() -> None:
    """Arrows run down: screens use widgets, widgets use the read model, never back up."""
    graph = _imports("coreflow_tui")
    up = [f"{m} -> {d}" for m, deps in graph.items() for d in deps
          if (".widgets." in m and (".screens" in d or d.endswith(".app")))
          or (m.endswith(".readmodel") and (".widgets" in d or ".screens" in d))]
    assert not up


def test_no_private_name_imported_across_ui_modules() -> None:
    """`from x import _name` between coreflow_tui modules: a private name is that module's own."""
    import ast

    offenders = []
    for path in (ROOT / "coreflow_tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("coreflow_tui")):
                offenders += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders


def test_store_imports_no_ui() -> None:
    """The store is headless: no module of store/ imports coreflow_tui, textual or rich."""
    import ast

    offenders = []
    for path in (ROOT / "store").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("coreflow_tui", "textual", "rich")]
    assert not offenders


def test_ls_loads_no_textual_and_no_shutil(tmp_path: Path) -> None:
    """`ls` prints a table sized to the terminal without shutil (its import pulls in
    zlib, bz2 and lzma: 2.4 ms of a short command), and never loads the TUI."""
    spool = tmp_path / "spool"
    for argv in (["init"], ["submit", "--", "true"]):
        subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool), *argv], check=True,
                       capture_output=True, cwd=ROOT)
    mods = _modules_after(f"from coreflow_tui.cli import main\nmain(['--spool', {str(spool)!r}, 'ls'])")
    assert "store.views" in mods
    assert not {m for m in mods if m.split(".")[0] == "textual" or m in ("shutil", "zlib", "lzma", "bz2")}
