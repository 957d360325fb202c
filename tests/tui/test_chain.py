"""The TUI shows the chain: a marker on jobs that wait on others, their dependencies and
dependents in the detail, a cancel that says how many go with it, a retry that asks
whether to put back what a failure cancelled. Keys in, spool state out; two pictures."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from textual.widgets import Static

from coreflow_tui.tui.screens.cancel_modal import CancelModal
from coreflow_tui.tui.screens.main_screen import MainScreen
from coreflow_tui.tui.screens.retry_modal import RetryModal
from coreflow_tui.tui.widgets.detail_pane import DetailPane
from coreflow_tui.tui.widgets.job_list import JobList
from coreflow_tui.tui.widgets.job_rows import first_fitting
from coreflow_tui.present import facts
from store import JobSpec, Spool, build_job, place

from .conftest import app_on, settle, started
from .sample import NOW, build, fix_audit, job_id
from .test_keys import press
from .test_typeahead import burst

NAMES = ["build", "tests", "deploy", "notify", "nightly docs"]


def add(spool: Spool, n: int, name: str, jtype: str, ago: float, params: dict[str, str] | None = None,
        **links: object) -> str:
    spec = JobSpec(command=["make", jtype], queue="docs", type=jtype, name=name, **links)  # type: ignore[arg-type]
    job = build_job(spool, spec, now=NOW - ago, who="alice@laptop")
    job = msgspec.structs.replace(job, id=job_id(100 + n, NOW - ago), params=params or {})
    place(spool, [job])
    return job.id


@pytest.fixture
def chain(tmp_path: Path) -> Spool:
    """The sample spool, and in its docs queue: build; tests --after build (a pipeline's
    step "test", with a commit among its inputs); deploy --after tests; notify
    --after-finished build; nightly docs not before 9 minutes from NOW."""
    spool = build(tmp_path / "spool")
    b = add(spool, 1, NAMES[0], "build", 200)
    t = add(spool, 2, NAMES[1], "test", 190, after=[b], step="test",
            params={"ref": "refs/heads/main", "new": "7197382e64d8a1c0ffee5ba1dbeef00d15ea5e01"})
    add(spool, 3, NAMES[2], "deploy", 180, after=[t])
    add(spool, 4, NAMES[3], "lint", 170, after_finished=[b])
    add(spool, 5, NAMES[4], "lint", 160, not_before=NOW + 540)
    fix_audit(spool)
    return spool


def ids(spool: Spool) -> dict[str, str]:
    views, _ = spool.jobs("docs", {"pending", "held", "running", "succeeded", "failed", "cancelled"})
    return {v.job.name: v.job.id for v in views}


def states(spool: Spool) -> dict[str, str]:
    views, _ = spool.jobs("docs", {"pending", "held", "running", "succeeded", "failed", "cancelled"})
    return {v.job.name: v.state for v in views}


def row_text(app: object, name: str) -> str:
    jl = app.screen.query_one(JobList)  # type: ignore[attr-defined]
    for y in range(1, len(jl.rows) + 1):
        text = "".join(s.text for s in jl.render_line(y))
        if name in text:
            return text
    raise AssertionError(f"no row for {name}")


def detail(app: object) -> dict[str, list[str]]:
    d = app.screen.query_one(DetailPane).detail  # type: ignore[attr-defined]
    out: dict[str, list[str]] = {}
    for f in facts(d):
        out.setdefault(f.key, []).append(f.value)
    return out


async def test_marker_and_reasons_in_the_list(chain: Spool) -> None:
    i = ids(chain)
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        assert f"↳ {i[NAMES[0]][-8:]} (pending)" in row_text(app, NAMES[1])  # the short form: 120 columns
        assert f"↳ {i[NAMES[1]][-8:]} (pending)" in row_text(app, NAMES[2])
        assert "↳" not in row_text(app, NAMES[0])
        assert "starts at 20:35 (in 9m)" in row_text(app, NAMES[4]) and "↳" not in row_text(app, NAMES[4])


def test_a_long_name_gives_way_in_the_list() -> None:
    """The short forms come from the facts (wording.reasons), not from parsing the long one."""
    from coreflow_tui import wording
    from store.chain import Blocker
    from store.waiting import Deps, Waiting

    dep = Blocker(id="01m8qw0000000000005ww66msp", name="feature/login@77ab0e1 build", queue="build", state="pending")
    w = Waiting("", 0, deps=Deps([dep], None, NOW, None))
    forms = wording.reasons(w, NOW)
    assert forms[0] == "waits for 5ww66msp (feature/login@77ab0e1 build, pending)"
    assert first_fitting(forms, 30) == "waits for 5ww66msp (pending)"
    assert first_fitting(forms, 20) == "5ww66msp (pending)"
    assert first_fitting(forms, 80) == forms[0]
    queue = Waiting("all 2 slots busy, 3 ahead", 3, brief="slots busy, 3 ahead")
    assert first_fitting(wording.reasons(queue, NOW), 20) == "slots busy, 3 ahead"


async def test_detail_names_dependencies_and_dependents_with_their_states(chain: Spool) -> None:
    i = ids(chain)
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        facts_ = detail(app)  # the cursor starts on build
        assert sorted(facts_["blocks"]) == sorted([f"{i[NAMES[1]][-8:]} (tests, pending)",
                                                   f"{i[NAMES[3]][-8:]} (notify, pending)"])
        await press(pilot, "down")
        facts_ = detail(app)
        assert facts_["after"] == [f"{i[NAMES[0]][-8:]} (build, pending): must succeed"]
        assert facts_["waiting"] == [f"waits for {i[NAMES[0]][-8:]} (build, pending)"]
        assert facts_["blocks"] == [f"{i[NAMES[2]][-8:]} (deploy, pending)"]
        # its expected start: after build's start plus build's typical run (240s in the sample)
        assert facts_["expected"][0].startswith("to start in ~4m")


async def test_cancel_says_how_many_go_with_it_and_asks_once(chain: Spool) -> None:
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        await press(pilot, "c")
        assert isinstance(app.screen, CancelModal)
        assert app.screen.with_them == 2
        text = str(app.screen.query_one("Static").render())
        assert "2 waiting jobs depend on it and will be cancelled with it." in text
        await press(pilot, "y")
        assert isinstance(app.screen, MainScreen)
    s = states(chain)
    assert [s[n] for n in NAMES] == ["cancelled", "cancelled", "cancelled", "pending", "pending"]


async def test_cancel_and_confirm_in_one_burst(chain: Spool) -> None:
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        burst(app, "cy")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert states(chain)[NAMES[2]] == "cancelled"


async def test_cancel_of_a_job_without_dependents_says_nothing_more(chain: Spool) -> None:
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        await press(pilot, "down", "down", "c")
        assert app.screen.with_them == 0
        await press(pilot, "n")
    assert states(chain)[NAMES[2]] == "pending"


async def _on_the_cancelled_build(app, pilot, chain: Spool) -> None:  # type: ignore[no-untyped-def]
    """Cancel the chain's first job (its dependents go with it), then put the cursor on it
    in the finished jobs."""
    burst(app, "cy")
    await settle(pilot)
    await press(pilot, "f")
    jl = app.screen.query_one(JobList)
    jl.cursor = jl.rows.index_of(ids(chain)[NAMES[0]])


@pytest.mark.parametrize("answer, back", [("y", "pending"), ("enter", "pending"), ("n", "cancelled")])
async def test_retry_asks_whether_to_put_the_dependents_back(chain: Spool, answer: str, back: str) -> None:
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        await _on_the_cancelled_build(app, pilot, chain)
        await press(pilot, "r")
        assert isinstance(app.screen, RetryModal)
        assert app.screen.back == 2  # tests, and deploy that waited for tests
        shown = str(app.screen.query_one(Static).content)
        assert shown.startswith("Retry this job?\n\n") and f"  {NAMES[0]}\n" in shown, shown
        assert "Its failure cancelled 2 waiting jobs. Put them back too, at their old places" in shown
        assert shown.endswith(" y / enter  with them     n  alone     escape  retry nothing"), shown
        await press(pilot, answer)
        assert isinstance(app.screen, MainScreen)
    s = states(chain)
    assert s[NAMES[0]] == "pending"
    assert s[NAMES[1]] == back and s[NAMES[2]] == back


async def test_retry_escape_retries_nothing(chain: Spool) -> None:
    async with started(chain, size=(120, 40), queue="docs") as (app, pilot):
        await _on_the_cancelled_build(app, pilot, chain)
        burst(app, ["r", "escape"])  # in one write: the escape reaches the question
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert [states(chain)[n] for n in NAMES[:3]] == ["cancelled"] * 3


def shoot(snap_compare, spool: Spool, keys: tuple[str, ...], size: tuple[int, int] = (120, 40)) -> bool:
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return snap_compare(app_on(spool, queue="docs"), terminal_size=size, run_before=run_before)


def test_chain_detail_picture(snap_compare, chain: Spool) -> None:
    """docs queue: tests, deploy and notify marked ↳ with the job each waits for and its state
    (the short form: the detail names it), nightly docs "starts at 20:35 (in 9m)"; enter on
    tests: "waits for 5ww66msp (build, pending)", expected in ~4m00s (build's turn plus its
    typical run), step test, its inputs new=7197… and ref=refs/heads/main, after: build,
    must succeed; blocks: deploy."""
    assert shoot(snap_compare, chain, ("down", "enter"), size=(120, 50))


def test_chain_cancel_picture(snap_compare, chain: Spool) -> None:
    """c on build: the dialog names it and says 2 waiting jobs depend on it and go with it."""
    assert shoot(snap_compare, chain, ("c",), size=(80, 24))


def test_chain_retry_picture(snap_compare, chain: Spool) -> None:
    """build cancelled (tests and deploy with it), f, end (build, the oldest), r: the retry
    dialog asks whether to put back the jobs its failure cancelled: y/enter, n, escape."""
    assert shoot(snap_compare, chain, ("c", "y", "f", "end", "r"), size=(80, 24))
