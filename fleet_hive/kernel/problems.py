"""What ``verify``, the git hooks and ``fleet-hive commit`` report: problems with a place.

A :class:`Problem` names its kind, what is wrong, and where (a path under the repository
and a 1-based line). A :class:`Report` collects them; it is ``ok`` while no problem is an
error (warnings, and problems ``--repair`` fixed, do not count).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    kind: str  # invalid_json, invalid_envelope, duplicate_id, gap, duplicate_n, torn_tail...
    message: str
    path: str = ""
    line: int | None = None
    severity: str = "error"  # or "warning", or "repaired" (fixed by --repair)

    def where(self) -> str:
        """``path:line: ``, ``path: ``, or nothing: the prefix of a one-line report."""
        if self.path and self.line is not None:
            return f"{self.path}:{self.line}: "
        return f"{self.path}: " if self.path else ""


@dataclass
class Report:
    events: int = 0
    segments: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "segments": self.segments,
                "problems": [asdict(p) for p in self.problems]}
