"""Shared bits of the trigger tests: a clock the test moves, and a daemon on it."""

from __future__ import annotations

from store import Spool
from store.triggers import save_trigger

from coreflow_tui.triggers.daemon import TriggerDaemon

T0 = 1_699_999_200.0  # 2023-11-14T22:00:00Z, a whole hour: every slot of a minute or less lines up with it


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


def daemon(spool: Spool, clock: FakeClock, logs: list[str] | None = None, **kw) -> TriggerDaemon:
    d = TriggerDaemon(spool, clock=clock, log=(logs.append if logs is not None else lambda _m: None),
                      start_watchers=False, **kw)
    d.refresh()
    return d


def run_daemon(d: TriggerDaemon, clock: FakeClock, turns: int, step: float = 10) -> None:
    """A first tick, then `turns` times: time passes by `step`, trigger files are read again, a tick."""
    d.tick()
    for _ in range(turns):
        clock.advance(step)
        d.refresh()
        d.tick()


def schedule(spool: Spool, name: str = "tick", every: str = "30s", catch_up: str = "once",
             coalesce: bool = False, queue: str = "default") -> None:
    save_trigger(spool, name, f'kind = "schedule"\nevery = "{every}"\ncatch_up = "{catch_up}"\n'
                              f'coalesce = {str(coalesce).lower()}\n[job]\nqueue = "{queue}"\n'
                              'name = "{trigger} at {fired_at}"\ncommand = ["make", "-C", "src"]\n')


def trigger_jobs(spool: Spool, name: str, states: set[str] | None = None) -> list:
    views, _ = spool.jobs(states=states or {"pending", "held", "running", "succeeded", "failed", "cancelled"})
    return [v for v in views if v.job.trigger is not None and v.job.trigger.name == name]
