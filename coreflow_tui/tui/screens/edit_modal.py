"""`e`: edit a waiting job — name, priority, labels, required runner labels, timeout — as `coreflow set` does."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Input

from store import Edit, Job, SpoolError
from store.names import parse_duration, parse_priority

from ...fmt import short_id
from ...safetext import inert
from .form_modal import PRIORITY_LABEL, FormModal


class EditModal(FormModal[Edit | None]):
    FIRST = "priority"
    VERB = "save"

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def heading(self) -> str | Text:
        return Text(f"Edit {short_id(self.job.id)} {inert(self.job.name)}")

    def fields(self) -> list[tuple[str, Input]]:
        j = self.job
        return [
            ("Name", Input(j.name, id="name")),
            (PRIORITY_LABEL, Input(str(j.priority), id="priority")),
            ("Labels (KEY=VALUE, space-separated; KEY= removes one)",
             Input(" ".join(f"{k}={v}" for k, v in sorted(j.labels.items())), id="labels")),
            ("Requires (runner labels, comma-separated)", Input(",".join(j.requires), id="requires")),
            ("Timeout (e.g. 30m, 2h; empty: none)", Input(f"{j.timeout:g}s" if j.timeout else "", id="timeout")),
        ]

    def action_submit(self) -> None:
        value = {i.id: i.value.strip() for i in self.query(Input)}
        j = self.job
        try:
            priority = parse_priority(value["priority"] or "normal")
        except SpoolError as exc:
            self.refuse("priority", str(exc))
            return
        labels: dict[str, str] = {}
        for word in value["labels"].split():
            key, eq, val = word.partition("=")
            if not eq or not key:
                self.refuse("labels", f"label {word!r}: write it as KEY=VALUE")
                return
            labels[key] = val
        removed = {k: "" for k in j.labels if k not in labels}
        try:
            timeout = parse_duration(value["timeout"], "timeout") if value["timeout"] else None
        except ValueError as exc:
            self.refuse("timeout", str(exc))
            return
        requires = [r.strip() for r in value["requires"].split(",") if r.strip()]
        self.dismiss(Edit(
            priority=priority if priority != j.priority else None,
            name=value["name"] if value["name"] != j.name else None,
            labels={**removed, **labels} if {**j.labels} != labels else None,
            requires=requires if requires != j.requires else None,
            timeout=timeout if timeout is not None and timeout != j.timeout else None))
