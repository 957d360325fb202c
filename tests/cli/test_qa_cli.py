"""Field tries of issue 10's contract by an adversarial user (the qa round): bad option
values are usage errors (exit 2, one line naming the option), and nothing the CLI accepts
is written in a form a reader later refuses."""

from __future__ import annotations

import pytest

from store import Spool, SpoolError, submit
from store import JobSpec
from store.limits import MAX_SLOTS
from tests.conftest import run_cf

LONG = "a" * 201


@pytest.mark.parametrize("args, option", [
    (["queue", "add", "big", "--slots", "10001"], "--slots"),
    (["queue", "set", "default", "--slots", "99999999999"], "--slots"),
    (["queue", "add", "wordy", "--description", "d" * 1001], "--description"),
    (["queue", "set", "default", "--description", "d" * 1001], "--description"),
    (["submit", "--name", LONG, "--", "true"], "--name"),
    (["submit", "--name", "two\nlines", "--", "true"], "--name"),
])
def test_an_out_of_range_value_is_a_usage_error_naming_the_option(spool: Spool, args: list[str], option: str) -> None:
    out = run_cf(spool, *args)
    assert out.returncode == 2, out.stderr
    assert option in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("name", [LONG, "", "two\nlines"])
def test_set_refuses_a_bad_name_as_a_usage_error(spool: Spool, name: str) -> None:
    [job_id] = submit(spool, [JobSpec(command=["true"])])
    out = run_cf(spool, "set", job_id, "--name", name)
    assert out.returncode == 2 and "--name" in out.stderr, out.stderr


def test_the_cli_slot_limit_is_the_stores() -> None:
    from coreflow_tui.cli import checks

    assert checks.queue_slots(str(MAX_SLOTS)) == MAX_SLOTS


def test_a_long_description_never_unpauses_a_queue(spool: Spool) -> None:
    """queue.json with a description a reader refuses reads as defaults (4 slots, not paused):
    writing one turned a paused 1-slot queue into a running 4-slot one."""
    spool.add_queue("deploy", slots=1)
    spool.update_queue("deploy", "pause", paused=True)
    with pytest.raises(SpoolError, match="description"):
        spool.update_queue("deploy", "set", description="d" * 1001)
    with pytest.raises(SpoolError, match="description"):
        spool.add_queue("wordy", description="d" * 1001)
    cfg = spool.queue_config("deploy")
    assert cfg.paused and cfg.slots == 1
    assert "wordy" not in spool.queue_names()


@pytest.mark.parametrize("env", [{}, {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}])
def test_ls_columns_align_with_wide_and_escaped_names(spool: Spool, env: dict[str, str]) -> None:
    """名 takes two cells (and prints as \\u540d on an ASCII stdout): columns were counted in
    characters before the escape, so the rows after such a name were pushed right."""
    from rich.cells import cell_len

    for name in ("plain", "名名名名名名名名名名名名", "abc名def", "x\u202ey"):
        submit(spool, [JobSpec(command=["true"], name=name)])
    out = run_cf(spool, "ls", env={"COLUMNS": "80", **env})
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()[1:]
    starts = {cell_len(r[: r.index("no live")]) for r in rows}
    assert len(rows) == 4 and len(starts) == 1, out.stdout
    assert all(cell_len(r) <= 80 for r in rows), out.stdout
