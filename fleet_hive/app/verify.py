"""``fleet-hive verify``: check the log itself (not the cache) for integrity problems.

Log checks (``storage.md`` 4, 6, 7): every complete line is a JSON object with a valid
envelope; no id appears twice; each writer's ``n`` runs 1, 2, 3... without gaps or repeats;
a torn tail (bytes a crash left without a newline, or a batch cut short) is reported as a
warning: readers skip it and nothing acknowledged was lost. Later capabilities add their
own checks (snapshots, checkpoints) through their entry in :mod:`.capabilities`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events.segments import ReadResult, iter_lines
from ..kernel.problems import Problem, Report

if TYPE_CHECKING:
    from ..index.projection import Check
    from .hive import Hive






def check_log(hive: Hive, report: Report, repair: bool = False) -> None:
    from ..events.integrity import check_lines

    seen_ids: dict[str, str] = {}
    ns: dict[str, list[int]] = {}
    root = hive.layout.root
    for writer, _name, path in hive.layout.segments():
        report.segments += 1
        rel = str(path.relative_to(root))

        def seen(lineno: int, ev: dict, rel: str = rel) -> None:
            report.events += 1
            first = seen_ids.setdefault(ev["id"], f"{rel}:{lineno}")
            if first != f"{rel}:{lineno}":
                report.problems.append(Problem(
                    "duplicate_id", f"event id {ev['id']} also at {first}", rel, lineno))
            ns.setdefault(ev["writer"], []).append(ev["n"])

        result = ReadResult()
        for problem in check_lines(iter_lines(path, 0, result), result, rel, writer,
                                   on_event=seen):
            report.problems.append(problem)
    for writer, values in sorted(ns.items()):
        values.sort()
        expected = 1
        for n in values:
            if n < expected:
                report.problems.append(Problem(
                    "duplicate_n", f"writer {writer} has n={n} more than once"))
            elif n > expected:
                missing = f"{expected}" if n == expected + 1 else f"{expected}..{n - 1}"
                report.problems.append(Problem(
                    "gap", f"writer {writer} is missing n={missing}"))
            expected = max(expected, n + 1)


def derived_checks() -> list[Check]:
    """Every capability's check of its derived data (from the capability list)."""
    from .capabilities import checks

    return checks()


def verify(hive: Hive, *, repair: bool = False) -> Report:
    """The log's own integrity, then every capability's check."""
    report = Report()
    for check in [check_log, *derived_checks()]:
        check(hive, report, repair)
    return report
