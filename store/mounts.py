"""Which mount holds a path, its filesystem type and options (from /proc/self/mountinfo)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Mount:
    point: str = ""
    fstype: str = ""
    options: list[str] = field(default_factory=list)  # per-mount and superblock options


def mount_of(path: Path | str) -> Mount:
    """The longest mount point that contains `path` (an empty Mount if unknown)."""
    real = os.path.realpath(path)
    best = Mount()
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, rfields = left.split(), right.split()
                point = fields[4].replace("\\040", " ")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best.point) and rfields:
                    extra = rfields[2].split(",") if len(rfields) > 2 else []
                    best = Mount(point, rfields[0], fields[5].split(",") + extra)
    except OSError:
        pass
    return best
