"""Bad trigger files: one clear line naming file, line and key; the others go on."""

from __future__ import annotations

import pytest

from store import ConfigError, Spool
from store.triggers import load_trigger, load_triggers, parse_trigger

from .helpers import T0, FakeClock, daemon, run_daemon, trigger_jobs

GOOD = 'kind = "schedule"\nevery = "10s"\n[job]\ncommand = ["true"]\n'


@pytest.mark.parametrize(("text", "expected"), [
    ('kind = "schedule"\nevry = "30s"\n[job]\ncommand = ["x"]\n', "bad.toml:2: evry: unknown key"),
    ('kind = "schedule"\nevery = "30s"\n[job]\ncommand = ["x"]\nqeue = "a"\n',
     "bad.toml:5: job.qeue: unknown key"),
    ('kind = "schedule"\ncron = "61 * * * *"\n[job]\ncommand = ["x"]\n',
     "bad.toml:2: cron: '61 * * * *' is not a cron"),
    ('kind = "schedule"\n\ncron = "* *"\n[job]\ncommand = ["x"]\n', "bad.toml:3: cron:"),
    ('kind = "schedule"\nevery = "soon"\n[job]\ncommand = ["x"]\n',
     "bad.toml:2: every: every 'soon' is not a duration"),
    ('kind = "schedule"\nevery = "1m"\ntimezone = "Mars/Olympus"\n[job]\ncommand = ["x"]\n',
     "bad.toml:3: timezone: unknown time zone 'Mars/Olympus'"),
    ('kind = "manual"\n[job]\nqueue = "nope"\ncommand = ["x"]\n', "bad.toml:3: job.queue: no queue 'nope'"),
    ('kind = "manual"\n[job]\ntype = "nope"\ncommand = ["x"]\n', None),  # no types.toml: any type goes
    ('kind = "watch"\npath = "missing"\n[job]\ncommand = ["x"]\n', "bad.toml:2: path: directory"),
    ('kind = "manual"\nevery = "1m"\n[job]\ncommand = ["x"]\n',
     "bad.toml:2: every: applies to kind = \"schedule\" only"),
    ('kind = "cron"\n[job]\ncommand = ["x"]\n', "bad.toml:1: kind: Invalid enum value 'cron'"),
    ('every = "1m"\n[job]\ncommand = ["x"]\n', "bad.toml:1: kind: missing"),
    ('kind = "manual"\n', "bad.toml:1: job: missing"),
    ('kind = "manual"\n[job]\ncommand = ["x", "{changed}"]\n',
     "bad.toml:3: job.command: unknown placeholder {changed}"),
    ('kind = "manual"\n[job]\nname = "{branch}"\ncommand = ["x"]\n',
     "bad.toml:3: job.name: unknown placeholder {branch}"),
    ('kind = "manual"\n[job]\ncommand = ["x"]\n[job.labels]\nbranch = 1\n', "bad.toml:4: job.labels: Expected `str`"),
    ('kind = "manual"\n[job]\ncommand = []\n', "bad.toml:2: job: command is empty"),
    ('kind = manual\n', "bad.toml: not valid TOML: Invalid value (at line 1, column 8)"),
])
def test_one_line_naming_file_line_and_key(spool: Spool, text: str, expected: str | None) -> None:
    if expected is None:
        parse_trigger(spool, "bad", text)
        return
    with pytest.raises(ConfigError) as info:
        parse_trigger(spool, "bad", text)
    msg = str(info.value)
    assert "\n" not in msg
    assert expected in msg, msg
    assert str(spool.layout.trigger("bad")) in msg


def test_unknown_type_when_types_exist(spool: Spool) -> None:
    spool.layout.types.write_text('[build]\ndescription = "b"\n')
    with pytest.raises(ConfigError, match=r"bad.toml:3: job.type: unknown job type 'nope'"):
        parse_trigger(spool, "bad", 'kind = "manual"\n[job]\ntype = "nope"\ncommand = ["x"]\n')


def test_a_bad_file_is_reported_once_and_the_others_fire(spool: Spool) -> None:
    spool.layout.trigger("good").write_text(GOOD)
    spool.layout.trigger("bad").write_text("kind = \n")
    spool.layout.trigger("Bad Name").write_text(GOOD)
    (spool.layout.triggers / "notes.txt").write_text("not a trigger")
    loaded = load_triggers(spool)
    assert sorted(loaded.triggers) == ["good"]
    assert sorted(loaded.errors) == ["Bad Name", "bad"]
    logs: list[str] = []
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock, logs)
    run_daemon(d, clock, 5)
    assert len(trigger_jobs(spool, "good")) == 5
    assert sum("bad.toml: not valid TOML" in m for m in logs) == 1
    assert sum("the file name must be NAME.toml" in m for m in logs) == 1


def test_files_added_changed_and_removed_without_a_restart(spool: Spool) -> None:
    logs: list[str] = []
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock, logs)
    spool.layout.trigger("t").write_text(GOOD)
    d.refresh()
    d.tick()
    clock.advance(10)
    assert len(d.tick()) == 1
    spool.layout.trigger("t").write_text(GOOD.replace('"true"', '"false"') + "description = 'x'\n")
    spool.layout.trigger("t").write_text('kind = "schedule"\nevery = "10s"\n[job]\ncommand = ["false"]\n')
    d.refresh()
    clock.advance(10)
    (fired,) = d.tick()
    assert spool.show(fired.job_id).job.command == ["false"]
    spool.layout.trigger("t").write_text("broken =")
    d.refresh()
    clock.advance(10)
    assert d.tick() == []
    spool.layout.trigger("t").unlink()
    d.refresh()
    assert "t" not in d.entries
    assert any("t: removed" in m for m in logs)
    with pytest.raises(ConfigError, match="no trigger 't'"):
        load_trigger(spool, "t")


def test_a_queue_added_later_heals_the_trigger(spool: Spool) -> None:
    spool.layout.trigger("t").write_text(GOOD.replace("[job]\n", '[job]\nqueue = "late"\n'))
    logs: list[str] = []
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock, logs)
    assert d.entries["t"].d is None
    spool.add_queue("late")
    clock.advance(10)  # past the retry delay
    d.refresh()
    d.tick()
    clock.advance(10)
    assert len(d.tick()) == 1
