"""The log pane: each line once, colours kept and every other control sequence inert,
following at the end and not when scrolled back, on its job to the end, a wrap toggle."""

from __future__ import annotations

from store import Spool

from .conftest import settle, started
from .sample import finish
from .test_keys import jobs_of, press

HOSTILE = ("\x1b[2J\x1b[H"  # clear the screen, cursor home
           "\x1b]0;pwned\x07"  # window title
           "\x1b]52;c;ZWNobyBoaQ==\x07"  # clipboard write
           "\x1bP1$qm\x1b\\"  # DCS
           "\x9b31m\x07\x1b[5A"  # C1 CSI, bell, cursor up
           "\x1b[31mred\x1b[0m\nend\n")


def pane(app):  # noqa: ANN001, ANN201
    from coreflow_tui.tui.widgets.log_pane import LogPane
    return app.screen.query_one(LogPane)


def drawn(app) -> str:  # noqa: ANN001
    """Every character the pane hands to the terminal, styles aside."""
    log = pane(app)
    return "".join(seg.text for y in range(log.size.height) for seg in log.render_line(y))


async def open_log_of_running(app, pilot) -> str:  # noqa: ANN001
    await press(pilot, "home", "l")
    await settle(pilot)
    return jobs_of(app).current_id


async def test_escapes_are_dropped_colours_kept_each_line_once(sample: Spool) -> None:
    """A finished job printing escapes: "red" (red) and "end", once each; nothing else reaches the terminal."""
    async with started(sample, size=(120, 40)) as (app, pilot):
        jid = await open_log_of_running(app, pilot)
        sample.layout.log(jid).write_text(HOSTILE)
        pane(app).follow(None)
        finish(sample, jid, "succeeded", 0, 60, 1)
        await press(pilot, "escape", "l")  # reopen: the job is first in the list no more, its log is
        pane(app).follow(jid, "main@9f3c21a")
        app.screen._poll_log()
        await settle(pilot)
        text = pane(app).text
        assert text.splitlines()[:2] == ["red", "end"]
        assert text.count("red") == 1 and text.count("end") == 1
        assert "succeeded (exit 0)" in text
        out = drawn(app)
        for bad in ("\x1b", "\x07", "\x9b", "\x90", "pwned" + "\x07"):
            assert bad not in out
        red = [s for y in range(3) for s in pane(app).render_line(y) if s.text.startswith("red")]
        assert red and red[0].style and red[0].style.color is not None


async def test_a_running_job_shows_each_line_once_however_the_polls_land(sample: Spool) -> None:
    async with started(sample, size=(120, 40)) as (app, pilot):
        jid = await open_log_of_running(app, pilot)
        log = sample.layout.log(jid)
        log.write_text("".join(f"line {n}\n" for n in range(1, 8)))
        pane(app).follow(None)
        await press(pilot, "escape", "home", "l")
        with log.open("a") as f:
            f.write("line 8\nline 9\nhalf")
        for _ in range(3):  # polls overlapping: late ones are dropped
            app.screen._poll_log()
        await settle(pilot)
        lines = pane(app).text.splitlines()
        assert lines == [f"line {n}" for n in range(1, 10)]  # "half" waits for its newline


async def test_follows_at_the_end_stops_when_scrolled_back_resumes_with_G(sample: Spool) -> None:
    async with started(sample, size=(120, 40)) as (app, pilot):
        jid = await open_log_of_running(app, pilot)
        log_file = sample.layout.log(jid)
        p = pane(app)
        assert p.is_vertical_scroll_end  # 41 lines, followed to the end
        await press(pilot, "k", "k", "k")
        assert not p.is_vertical_scroll_end
        top = p.scroll_y
        with log_file.open("a") as f:
            f.write("".join(f"more {n}\n" for n in range(10)))
        app.screen._poll_log()
        await settle(pilot)
        assert p.scroll_y == top and "more 9" in p.text  # read, but the reader stays where they were
        assert "G follows" in p.border_subtitle
        await press(pilot, "G")
        with log_file.open("a") as f:
            f.write("last\n")
        app.screen._poll_log()
        await settle(pilot)
        assert p.is_vertical_scroll_end and p.text.endswith("last")


async def test_the_log_stays_on_its_job_when_it_ends_and_says_how(sample: Spool) -> None:
    """Before, the pane switched silently to the next row's job when the job left the list."""
    async with started(sample, size=(120, 40)) as (app, pilot):
        jid = await open_log_of_running(app, pilot)
        finish(sample, jid, "failed", 2, 100, 1)
        app.screen.request_load("jobs", "overview")
        await settle(pilot)
        assert jobs_of(app).current_id != jid  # the job left the listing
        app.screen._poll_log()
        await settle(pilot)
        p = pane(app)
        assert p.job_id == jid
        assert "linking build/app" in p.text and "failed (exit 2)" in p.text
        assert "failed (exit 2)" in p.border_title


async def test_wrap_toggle(sample: Spool) -> None:
    async with started(sample, size=(80, 24)) as (app, pilot):
        jid = await open_log_of_running(app, pilot)
        long = "x" * 200
        with sample.layout.log(jid).open("a") as f:
            f.write(long + "\n")
        app.screen._poll_log()
        await settle(pilot)
        p = pane(app)
        wrapped = len(p.lines)
        await press(pilot, "w")
        assert not p.wrap and len(p.lines) < wrapped
        await press(pilot, "w")
        assert p.wrap and len(p.lines) == wrapped


async def test_names_labels_and_hosts_reach_no_widget_as_control(tmp_path) -> None:  # noqa: ANN001
    """A job named with escapes, a runner host with a bell: rows, detail, runners, header show them escaped."""
    from .sample import build, heartbeat, make, start

    spool = build(tmp_path / "spool")
    jid = make(spool, "docs", ["echo", "\x1b]52;c;eA==\x07"], "evil\x1b[2J[bold]name", labels={"k": "v\x9b1m"})
    heartbeat(spool, "host\x07\x1b[H", 7, ["docs"], 1, [jid], ago=1)
    start(spool, jid, host="host\x07\x1b[H")
    async with started(spool, size=(120, 40), queue="docs") as (app, pilot):
        await press(pilot, "home", "enter")
        await settle(pilot)
        shown = []
        for w in app.screen.walk_children(with_self=False):
            if not w.display or not w.size.area:
                continue
            for y in range(w.size.height):
                shown.extend(seg.text for seg in w.render_line(y))
        out = "".join(shown)
        assert "evil" in out and "host" in out
        for bad in ("\x1b", "\x07", "\x9b"):
            assert bad not in out
