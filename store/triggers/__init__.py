"""Triggers: definitions, schedules, state, and the firing that places a job.

  definition  the file format (TriggerFile) and what loading makes of it (TriggerDef)
  kinds       the table of trigger kinds (schedule, watch, manual): keys, checks, what fires
  spec        loading and validating triggers/NAME.toml, saving a new one
  templates   placeholders and `fire --set` overrides: a trigger's job spec
  schedules   slots of `every` and `cron`, what is due, the next firing
  firing      the state file and the exactly-once firing (coalescing by key)
  changes     firing on changes: watch bursts, what changed while no daemon ran, git refs
  watchmarks  which paths a watch trigger sees; its mark of the watched files
  gitrefs     reading a repository's refs (loose and packed) without git

A trigger is `triggers/NAME.toml` (format below); its state is
`triggers/.state/NAME.json`. This module is headless and starts nothing: the
daemon in `coreflow_tui.triggers` decides *when* to call `fire`; everything a firing
changes in the spool happens here.

    kind = "schedule"          # schedule | watch | git | manual
    every = "30s"              # schedule: `every` (s, m, h, d) or `cron = "*/5 * * * *"`
    timezone = "Europe/Berlin" # schedule: the zone cron times (and {fired_at}) are in; UTC
    catch_up = "once"          # schedule: after a gap, `once` fires one job, `skip` none
    # watch: path = "src" (relative to the spool), patterns = ["*.c"], debounce = "1s"
    # git: repo = "/srv/git/app.git", branches = ["master", "release/*"], tags = ["v*"],
    #      on_delete = false (a deleted ref fires nothing unless true)
    coalesce = false           # true: replace the previous job while it still waits;
                               # "{ref}" (any template): only the waiting job of that key
    description = "..."
    [params]                   # placeholders of your own, overridable by `fire --set`
    branch = "main"
    [job]                      # the job template: the fields of `coreflow submit`
    queue = "default"
    type = "build"
    name = "{trigger} at {fired_at}"
    command = ["make", "-C", "src", "{changed}"]
    # or, for a pipeline, [[jobs]] tables (instead of [job]), each a job template with
    # step = "test" and after = ["build"] (earlier steps; after_finished likewise)

Placeholders in name, command, labels, env and cwd: {trigger}, {fired_at} (the
schedule slot, or the time of firing), {changed} (a watch trigger's changed paths,
relative to its directory; a command argument that is exactly "{changed}" becomes
one argument per path), {changes} (the same as "A path", "M path", "D path": added,
modified, deleted), a git trigger's {ref} (refs/heads/NAME), {old} and {new} (commit
ids, 40 zeros for none) and {deleted} ("true"/"false"), and every key of [params].
`{{` and `}}` are literal braces. The values are stored in the job's `params` (lists
one item a line), which the runner gives the job as COREFLOW_PARAM_<KEY>; a retry
runs the same values again. A job that supersedes another (coalescing) carries its
inputs: the changed paths join, a git build's {old} is the superseded one's.

Pipelines: a firing builds every [[jobs]] template (with the same values) and places
them as one batch, all or nothing (store/jobs/submit.py place); `after` becomes the
batch's "@STEP" links (store/deps.py). Coalescing supersedes the previous pipeline of
the key as a whole, and only while every one of its jobs still waits (supersede_all).

Marks: each trigger's state remembers what it has seen (see changes.py), so a change
made while no daemon ran fires once when one starts; a first look only takes the mark.

Schedules: `every` slots are whole multiples of the interval since the Unix epoch
(every 30s fires at :00 and :30), so every host and every restart agrees on them;
`cron` slots come from croniter in the trigger's time zone. State records the last
slot accounted for (fired or skipped), so a restart neither misses nor repeats one.

Exactly once: a firing takes the trigger's lock (so two daemons on two hosts never
both fire a slot), writes the job it is about to place into the state file, places
it, then clears that note. A crash in between is repaired by the next firing: the
noted job is placed if it is not in the spool yet.
"""

from __future__ import annotations

from .definition import JobTemplate, MAX_COUNT, MAX_DETAIL, MAX_NAME, TriggerDef, TriggerFile, TriggerState
from .kinds import KINDS, Kind
from .spec import Loaded, file_key, load_trigger, load_triggers, parse_trigger, save_trigger, trigger_files
from .templates import job_spec, placeholders, sample_values, split_sets, template_texts
from .schedules import Due, count_slots, fmt_time, next_firing, schedule_due, slot_after, slot_at_or_before
from .firing import Fired, arm_or_fire_schedule, fire_by_hand, forget_state, read_state, recover, write_state
from .changes import catch_up_watch, fire_git, fire_watch

__all__ = [
    "KINDS", "Kind", "catch_up_watch", "fire_git",
    "Due", "Fired", "JobTemplate", "Loaded", "MAX_COUNT", "MAX_DETAIL", "MAX_NAME", "TriggerDef",
    "TriggerFile", "TriggerState", "arm_or_fire_schedule", "count_slots", "file_key",
    "fire_by_hand", "fire_watch", "fmt_time", "forget_state", "job_spec", "load_trigger",
    "load_triggers", "next_firing", "parse_trigger", "placeholders", "read_state", "recover",
    "sample_values", "save_trigger", "schedule_due", "slot_after", "slot_at_or_before",
    "split_sets", "template_texts", "trigger_files", "write_state",
]
