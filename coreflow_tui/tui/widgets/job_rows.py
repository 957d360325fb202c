"""The columns of the jobs list, fitted to a width: formatting only, no widget state."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from store import Job
from store.history import TypeStats

from ...safetext import inert
from ...fmt import duration, short_id

BAR = 8


@dataclass(frozen=True)
class Columns:
    type: int
    name: int
    info: int
    finished: bool

    @classmethod
    def fit(cls, width: int, finished: bool) -> Columns:
        # mark+pos(6) id(8) pri(3) age(5) and six gaps are fixed; the rest is shared.
        fixed = 6 + 8 + 3 + 5 + 6
        type_w = 10 if width >= 100 else 7
        rest = max(12, width - fixed - type_w)
        info = min(44, max(14, rest * 3 // 5))
        return cls(type_w, max(6, rest - info), info, finished)

    def header(self) -> str:
        if self.finished:
            return self.line(" ", "STATE", "ID", "TYPE", "NAME", "EXIT", "AGO", "RAN FOR")
        return self.line(" ", "POS", "ID", "TYPE", "NAME", "PRI", "AGE", "WAITS BECAUSE / RUNNING")

    def line(self, mark: str, pos: str, jid: str, jtype: str, name: str, pri: str, age: str, info: str) -> str:
        if len(age) > 5 and "d" in age:
            age = age[: age.index("d") + 1]  # '184d12h' -> '184d': the hours no longer matter
        if self.finished:
            return (f"{mark}{fit(pos, 9)} {fit(jid, 8)} {fit(jtype, self.type)} {fit(name, self.name - 4)} "
                    f"{fit(pri, 4)} {age:>5} {fit(info, self.info)}")
        return (f"{mark}{pos:>5} {fit(jid, 8)} {fit(jtype, self.type)} {fit(name, self.name)} "
                f"{pri:>3} {age:>5} {fit(info, self.info)}")


def fit(text: str, width: int) -> str:
    """Pad or cut `text` to exactly `width` cells, marking a cut with …."""
    if width <= 0:
        return ""
    text = inert(text)  # names, types, hosts and reasons are other people's text
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def progress(elapsed: float, stats: TypeStats | None, width: int) -> str:
    """'1m05s ███░░░░░ 40%' against the type's typical duration; plain elapsed without one."""
    text = duration(elapsed)
    typical = stats.typical if stats else None
    if not typical or width < 20:
        return f"{text:>6}"  # aligned with the elapsed time of rows that have a bar
    frac = elapsed / typical
    full = min(BAR, int(frac * BAR))
    pct = f"{int(frac * 100)}%" if frac < 10 else ">999%"
    return f"{text:>6} {'█' * full}{'░' * (BAR - full)} {pct}"


def first_fitting(forms: list[str], width: int) -> str:
    """The first of a text's forms (longest first, wording.reasons) that fits `width`;
    else the shortest (the row cuts it)."""
    for text in forms:
        if cell_len(text) <= width:
            return text
    return forms[-1]


def job_cells(job: Job | None, job_id: str) -> tuple[str, str, str, str]:
    """id, type, name, priority of a row; placeholders while the job is being read."""
    if job is None:
        return short_id(job_id), "…", "…", ""
    return short_id(job.id), job.type or "-", job.name, str(job.priority)
