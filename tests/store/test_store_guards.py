"""Guards that keep store/ in shape: no private name imported across its modules, no
import circle among them (module-level imports), and one exception family."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "store"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    pkg = _module_name(path).split(".")
    if path.name != "__init__.py":
        pkg = pkg[:-1]
    base = pkg[: len(pkg) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in STORE.rglob("*.py")}


def _top_level_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The store modules `path` imports when it is imported (not those imported inside
    functions: that is how a module says "only when needed")."""
    out: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            mod = _resolve(path, node)
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                out.add(sub if sub in known else mod)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m in known}


def test_no_private_name_is_imported_across_store_modules() -> None:
    offenders = []
    for path in [*STORE.rglob("*.py"), *(ROOT / "coreflow_tui" / "runner").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and _resolve(path, node).startswith("store"):
                offenders += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders, "make these public where they are defined (or move them): " + ", ".join(offenders)


def test_store_has_no_import_circle() -> None:
    known = _modules()
    graph = {m: _top_level_imports(p, known) - {m} for m, p in known.items()}
    # A package's __init__ re-exports its modules; the arrows that count run between modules.
    graph = {m: {d for d in deps if known[d].name != "__init__.py"} for m, deps in graph.items()}
    circles = []
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                circles.append(" -> ".join(stack[stack.index(d):] + [m, d]) if d in stack else f"{m} -> {d}")
            elif d not in state:
                visit(d, stack + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not circles, circles


def test_every_store_error_is_a_spool_error() -> None:
    """One exception family: every exception class store/ defines derives from SpoolError."""
    from store.errors import SpoolError

    offenders = []
    for name, path in _modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in ("ValueError",))
                    for b in node.bases):
                mod = __import__(name, fromlist=["_"])
                if not issubclass(getattr(mod, node.name), SpoolError):
                    offenders.append(f"{name}.{node.name}")
    assert not offenders


def test_a_bad_duration_or_size_is_in_the_family_and_still_a_value_error() -> None:
    import pytest

    from store.errors import ConfigError, InvalidValue
    from store.names import parse_duration
    from store.settings import parse_size

    for bad in (lambda: parse_duration("soon", "timeout"), lambda: parse_size("lots", "--max-log-size")):
        with pytest.raises(InvalidValue) as err:
            bad()
        assert isinstance(err.value, ConfigError) and isinstance(err.value, ValueError)


def test_a_template_error_says_its_field_by_type_not_by_its_words(spool) -> None:  # type: ignore[no-untyped-def]
    """The trigger check used to look for "job type" / "queue" in the message."""
    import pytest

    from store import JobSpec, build_job
    from store.errors import SpoolError

    with pytest.raises(SpoolError) as err:
        build_job(spool, JobSpec(command=["x"], queue="nosuchqueue"))
    assert err.value.field == "queue"
    with pytest.raises(SpoolError) as err:
        build_job(spool, JobSpec(command=["x"], type="Bad Type"))
    assert err.value.field == "type"
    with pytest.raises(SpoolError) as err:  # mentions "queue" in no field of its own
        build_job(spool, JobSpec(command=[""]))
    assert err.value.field is None


def test_one_duration_grammar_everywhere() -> None:
    """`--in`, `--timeout`, trigger intervals and the TUI's edit read durations alike:
    units ms s m h d w, combined, or a bare number of seconds."""
    import pytest

    from store.errors import InvalidValue
    from store.names import parse_duration

    assert [parse_duration(v, "x") for v in ("30s", "5m", "1h30m", " 1h 30m ", "250ms", "2w", "10", "1.5h")] == [
        30, 300, 5400, 5400, 0.25, 1209600, 10, 5400]
    for bad in ("", "h", "1x", "1h30", "-1s", "1h-30m", "0"):
        with pytest.raises(InvalidValue):
            parse_duration(bad, "x")
