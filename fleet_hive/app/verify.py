"""``fleet-hive verify``: check the log itself (not the cache) for integrity problems.

Log checks (``storage.md`` 2, 4, 6, 7): every complete line is a JSON object with a valid
envelope; no id appears twice; each writer's ``n`` runs 1, 2, 3... without gaps or repeats;
a torn tail (bytes a crash left without a newline, or a batch cut short) is reported as a
warning: readers skip it and nothing acknowledged was lost; no committed line was changed
or removed and no committed segment is missing (the working tree against git's HEAD, by
the same rule the pre-commit checks apply). Later capabilities add their own checks
(snapshots, checkpoints) through their entry in :mod:`.capabilities`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from ..events.segments import ReadResult, iter_lines
from ..git.changes import MISSIONS, FleetChange
from ..index.projection import CheckContext
from ..kernel.errors import NotARepositoryError
from ..kernel.problems import Problem, ProblemsError, Report
from ..kernel.typenames import Protocol

if TYPE_CHECKING:
    from ..git import Git
    from ..index.projection import Check

#: Where mission snapshots live (never committed: ``docs/git.md``).
SNAPSHOTS_DIR = MISSIONS.decode()


class VerifyContext(CheckContext, Protocol):
    """What ``verify`` uses: a check's context and the git repository (``hive.git``)."""

    @property
    def git(self) -> Git: ...

    def settle(self) -> int: ...


def check_log(hive: CheckContext, report: Report, repair: bool = False) -> None:
    from ..events.integrity import check_lines

    seen_ids: dict[str, str] = {}
    ns: dict[str, list[tuple[int, str, int]]] = {}  # writer -> (n, path, line) of each event
    root = hive.layout.root
    for writer, _name, path in hive.layout.segments():
        report.segments += 1
        rel = str(path.relative_to(root))

        def seen(lineno: int, ev: dict[str, Any], rel: str = rel) -> None:
            report.events += 1
            first = seen_ids.setdefault(ev["id"], f"{rel}:{lineno}")
            if first != f"{rel}:{lineno}":
                report.problems.append(Problem(
                    "duplicate_id", f"event id {ev['id']} also at {first}", rel, lineno))
            ns.setdefault(ev["writer"], []).append((ev["n"], rel, lineno))

        result = ReadResult()
        for problem in check_lines(iter_lines(path, 0, result), result, rel, writer,
                                   on_event=seen):
            report.problems.append(problem)
    for writer, values in sorted(ns.items()):
        _check_n(writer, values, report)


def _check_n(writer: str, values: list[tuple[int, str, int]], report: Report) -> None:
    """A writer's ``n`` runs 1, 2, 3...: each repeat is reported where it occurs again, each
    gap at the event that follows it (whatever the order of the lines in the files)."""
    values.sort()
    expected, first = 1, ""  # the next n due; where the last new n was first seen
    for n, path, line in values:
        if n < expected:  # sorted: a repeat of the n just before
            report.problems.append(Problem(
                "duplicate_n", f"writer {writer} has n={n} more than once (also at {first})",
                path, line))
            continue
        if n > expected:
            report.problems.append(Problem("gap", _missing(writer, expected, n), path, line))
        expected, first = n + 1, f"{path}:{line}"


def check_head(hive: VerifyContext, report: Report) -> None:
    """Committed event lines changed or removed, committed segments missing: the working
    tree against HEAD, by the rule a commit must pass. Skipped without a HEAD (no git
    repository, or no commit yet)."""
    try:
        changes = hive.git.committed_segments()
    except NotARepositoryError:
        return
    for change in changes:
        problem = append_only_problem(change)
        if problem is not None:
            report.problems.append(problem)


def derived_checks() -> list[Check]:
    """Every capability's check of its derived data (from the capability list)."""
    from .capabilities import checks

    return checks()


def verify(hive: VerifyContext, *, repair: bool = False) -> Report:
    """The log's own integrity (and against HEAD), then every capability's check."""
    report = Report()
    check_log(hive, report)
    check_head(hive, report)
    check_own_events(hive, report, repair)
    check_cache(hive, report)
    hive.settle()  # derived files that lag the log on purpose are brought up to date first
    with hive.exclusive() if repair else contextlib.nullcontext():
        for check in derived_checks():  # a repair holds the writer lock: no write meanwhile
            check(hive, report, repair)
    return report


def check_own_events(hive: VerifyContext, report: Report, repair: bool) -> None:
    """Events this clone wrote that left the working tree and every branch (a ``git
    stash``): a warning while they are away; ``--repair`` forgets them."""
    from ..events.missing import forget_missing_events, missing_text, own_events_missing

    missing = own_events_missing(hive.layout, lambda: hive.git)
    if missing and repair:
        forget_missing_events(hive.layout, missing)
    for m in missing:
        report.problems.append(Problem(
            "own_events_missing", missing_text(m)
            + (" — forgotten" if repair else ""), str(hive.layout.writer_dir(m.writer)
                                                      .relative_to(hive.layout.root)),
            severity="repaired" if repair else "warning"))


def check_cache(hive: CheckContext, report: Report) -> None:
    """The index cache file itself (SQLite's own check): a damaged one is deleted, to be
    rebuilt from the log by the next read (it is disposable, so this is always a repair)."""
    problem = hive.index.quick_check()
    if problem is not None:
        hive.index.discard()
        report.problems.append(Problem(
            "cache_corrupt", f"the index cache was damaged ({problem}); deleted, it is "
            "rebuilt from the log", str(hive.layout.index.relative_to(hive.layout.root)),
            severity="repaired"))


#: What the log's own checks report (:func:`check_log`, :func:`check_head`); every other
#: kind comes from a capability's check of derived data, which ``--repair`` regenerates.
LOG_KINDS = frozenset({"invalid_json", "invalid_envelope", "wrong_writer", "torn_tail",
                       "duplicate_id", "duplicate_n", "gap", "not_append_only",
                       "segment_deleted"})


def failure(report: Report) -> ProblemsError:
    """The error a failed ``verify`` ends with (``docs/verify.md``), with a hint for the
    kinds of problem found."""
    kinds = {p.kind for p in report.problems if p.severity == "error"}
    hints = []
    if kinds & {"not_append_only", "segment_deleted"}:
        hints.append("restore committed event lines with `git checkout -- .fleet/events` "
                     "(a correction is a new event)")
    if kinds & (LOG_KINDS - {"not_append_only", "segment_deleted"}):
        hints.append("every problem is listed with its file and line")
    if kinds - LOG_KINDS:
        hints.append("`fleet-hive verify --repair` regenerates derived files from the log")
    return report.error("; ".join(hints))


def repair_derived(hive: CheckContext) -> Report:
    """After a merge, checkout or rewrite: catch the index up and regenerate every derived
    file from the log (every capability's check with ``repair=True``; the log's own line
    check, which reads every line, is left to ``verify``)."""
    report = Report()
    with hive.exclusive():
        hive.index.catch_up()
        for check in derived_checks():
            check(hive, report, True)
    return report


# -- a staged or committed change set of .fleet/ ------------------------------------------
def commit_problems(hive: CheckContext, changes: Iterable[FleetChange]) -> list[Problem]:
    """Everything that refuses (errors) or annotates (warnings) a ``.fleet/`` commit: the
    one set of checks ``fleet-hive commit`` (``check_changes``) and the pre-commit hook run.

    :func:`check_fleet_changes` on the change set; then, when the change commits a file
    that is not an event segment, the capabilities' derived-data checks, of which the
    errors about a file the commit holds refuse it. A derived file outside the commit (a
    stale snapshot in the working tree: snapshots are never committed) is ``verify``'s
    business, not a reason to refuse a commit.
    """
    changes = list(changes)
    problems = check_fleet_changes(changes)
    committed = {c.path for c in changes if c.new is not None and not c.context
                 and not c.is_segment}
    if committed and hive.layout.fleet.is_dir():  # not on a commit that removes .fleet/
        report = Report()
        for derived in derived_checks():
            derived(hive, report, False)
        problems.extend(p for p in report.problems
                        if p.severity == "error" and p.path in committed)
    return problems


def check_fleet_changes(changes: Iterable[FleetChange]) -> list[Problem]:
    """Problems that make a ``.fleet/`` commit invalid (errors) or worth a note (warnings).

    Segments: append-only (no committed line edited or dropped, no segment deleted), every
    new complete line a JSON object with a valid envelope written by the segment's writer;
    a torn last line (a crash mid-append) is a warning; each writer's new lines continue its
    ``n`` (no repeat, no gap) after the committed prefix and the earlier segments of that
    writer in the change set. YAML files must parse. Mission snapshots are derived and
    never committed (``docs/git.md``): adding or changing one is refused, removing one
    (as an older version committed them) is fine.
    """
    problems: list[Problem] = []
    runs: dict[str, list[_Known]] = {}
    for change in changes:
        if change.is_segment:
            _check_segment(change, problems, runs)
        elif change.new is not None and change.path.startswith(SNAPSHOTS_DIR):
            problems.append(Problem(
                "snapshot_committed", "mission snapshots are derived from the log and kept "
                "out of git (so no merge can conflict); unstage it with `git rm -r --cached "
                ".fleet/missions`", change.path))
        elif change.new is not None and change.path.endswith((".yaml", ".yml")):
            _check_yaml(change, problems)
    for writer, known in sorted(runs.items()):
        _check_new_n(writer, known, problems)
    return problems


def append_only_problem(change: FleetChange) -> Problem | None:
    """The problem of a segment whose committed lines are not all kept, or None."""
    if change.new is None:
        return Problem("segment_deleted", "a committed event segment was deleted; the log is "
                       "append-only (a deletion is a tombstone event)", change.path)
    if change.old_size is not None and not change.prefix_kept:
        where = "" if change.changed_line is None else " (from this line on)"
        return Problem("not_append_only", f"committed event lines were edited or removed{where};"
                       " the log is append-only (a correction is a new event)", change.path,
                       change.changed_line)
    return None


class _Known(NamedTuple):
    """What a change set says about a writer's ``n``: a committed prefix's range
    (``line`` None) or one new event (``first == last``), at its path."""

    path: str
    first: int
    last: int
    line: int | None


def _check_segment(change: FleetChange, problems: list[Problem],
                   runs: dict[str, list[_Known]]) -> None:
    from ..events.integrity import check_segment, n_range

    path = change.path
    problem = append_only_problem(change)
    if problem is not None:
        problems.append(problem)
        return
    assert change.new is not None  # a deleted segment is an append-only problem
    writer = change.writer
    known = runs.setdefault(writer, [])
    start = change.old_size or 0
    committed = n_range(change.new, start) if start else None
    if committed is not None:
        known.append(_Known(path, *committed, None))

    def new_event(line: int, ev: dict[str, Any]) -> None:
        if ev["writer"] == writer:
            known.append(_Known(path, ev["n"], ev["n"], line))

    problems.extend(check_segment(change.new, path, writer, start=start, on_event=new_event))


def _check_new_n(writer: str, known: list[_Known], problems: list[Problem]) -> None:
    """Each new event's ``n`` follows the writer's previous one (in path, then line order)
    and repeats none known: neither a committed one of the change set nor a new one. A
    writer that starts a segment comes with its last committed one (``context``); without
    one, and without a grown one, it has none, so its ``n`` starts at 1."""
    known.sort(key=lambda k: k.path)  # stable: lines stay in order within a segment
    committed = [k for k in known if k.line is None]
    seen: dict[int, str] = {}
    last = 0
    for k in known:
        if k.line is None:
            last = max(last, k.last)
            continue
        n, where = k.first, f"{k.path}:{k.line}"
        other = seen.get(n) or next((c.path for c in committed if c.first <= n <= c.last), None)
        if other is not None:
            problems.append(Problem("duplicate_n", f"writer {writer} reuses n={n} (also at "
                                    f"{other})", k.path, k.line))
        elif n <= last:
            problems.append(Problem("duplicate_n", f"writer {writer} goes back to n={n} after "
                                    f"n={last} (a writer's n only grows)", k.path, k.line))
        elif n > last + 1:
            problems.append(Problem("gap", _missing(writer, last + 1, n), k.path, k.line))
        seen.setdefault(n, where)
        last = max(last, n)


def _missing(writer: str, expected: int, n: int) -> str:
    missing = f"{expected}" if n == expected + 1 else f"{expected}..{n - 1}"
    return f"writer {writer} is missing n={missing} (before n={n})"


def _check_yaml(change: FleetChange, problems: list[Problem]) -> None:
    from ..formats.yaml import YAMLProblem, load

    try:
        load(change.new or b"")
    except YAMLProblem as e:
        problems.append(Problem("invalid_yaml", f"not valid YAML: {e.message}", change.path,
                                e.line))
