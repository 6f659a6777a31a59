"""What ``verify``, the git hooks and ``fleet-hive commit`` report: problems with a place.

A :class:`Problem` names its kind, what is wrong, and where (a path under the repository
and a 1-based line). A :class:`Report` collects them; it is ``ok`` while no problem is an
error (warnings, and problems ``--repair`` fixed, do not count). A failed check raises
:class:`ProblemsError`, whose JSON error object carries the problems (``docs/verify.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import IntegrityError


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

    def text(self) -> str:
        """``path:line: message``: the problem on one line."""
        return f"{self.where()}{self.message}"

    def to_json(self) -> dict[str, Any]:
        """``code`` is the kind, as in an error object; ``kind`` is kept for older readers."""
        return {"code": self.kind, "kind": self.kind, "message": self.message,
                "path": self.path, "line": self.line, "severity": self.severity}


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
                "problems": [p.to_json() for p in self.problems]}

    def error(self, hint: str = "") -> ProblemsError:
        """The error a failed ``verify`` ends with: every problem inside (warnings too)."""
        errors = [p for p in self.problems if p.severity == "error"]
        first = f", the first: {errors[0].text()}" if errors else ""
        return ProblemsError(f"verify found {_count(len(errors), 'error')} in .fleet/{first}",
                             hint=hint, problems=self.problems, events=self.events,
                             segments=self.segments)


class ProblemsError(IntegrityError):
    """Integrity problems were found (``verify``) or a change breaks them (a commit).

    The JSON error object adds ``problems`` (each with ``code``, ``message``, ``path``,
    ``line``, ``severity``) and, from ``verify``, the ``events`` and ``segments`` read.
    """

    def __init__(self, message: str, *, hint: str = "", problems: Sequence[Problem] = (),
                 events: int | None = None, segments: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems)
        self.events = events
        self.segments = segments

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_json()
        out["error"]["problems"] = [p.to_json() for p in self.problems]
        if self.events is not None:
            out["error"]["events"] = self.events
            out["error"]["segments"] = self.segments
        return out


def summary(problems: Sequence[Problem], shown: int = 3) -> str:
    """The first few problems on one line, then how many more."""
    text = "; ".join(p.text() for p in problems[:shown])
    more = len(problems) - shown
    return text + (f" (and {more} more)" if more > 0 else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
