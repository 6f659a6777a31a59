"""The learning tables of the index, and the queries on them.

``outcomes`` holds each sortie's and mission's outcome (the fold of its ``outcome:``
stream); ``outcome_days`` the integer counts per (strategy, feature, UTC day) that
patterns are scored from. Decay is applied at query time (:func:`patterns`), so the tables
never depend on when they were built: a rebuild gives exactly the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..index.streams import chunks, load_streams
from ..kernel.clock import epoch
from ..kernel.jsondump import compact_text
from ..kernel.jsonload import loads
from .fold import fold_outcome
from .model import STREAM, Outcome, Pattern, counts, day_of, decay

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ProjectionTables, ReadView, Row

COLUMNS = ("subject_id, subject, mission_id, sortie_id, status, success, succeeded, tries, "
           "duration_s, total_s, finished_at, day, strategy, planner, features, "
           "planned_files, changed_files, verified, merged, specialist, agent, errors, cause, "
           "amendments, ord_clock, ord_writer, ord_n")
_N = COLUMNS.count(",") + 1


class LearningProjection:
    # name, version and streams are declared in the capability list (app/capabilities.py)
    tables = ("outcomes", "outcome_days", "outcome_errors")
    ddl = """
    CREATE TABLE IF NOT EXISTS outcomes (
        subject_id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        mission_id TEXT NOT NULL,
        sortie_id TEXT,
        status TEXT NOT NULL,
        success INTEGER NOT NULL,
        succeeded INTEGER NOT NULL,
        tries INTEGER NOT NULL,
        duration_s REAL,
        total_s REAL,
        finished_at TEXT NOT NULL,
        day INTEGER NOT NULL,
        strategy TEXT NOT NULL,
        planner TEXT,
        features TEXT NOT NULL,
        planned_files TEXT NOT NULL,
        changed_files TEXT,
        verified INTEGER,
        merged INTEGER,
        specialist TEXT,
        agent TEXT,
        errors TEXT NOT NULL,
        cause TEXT,
        amendments INTEGER NOT NULL,
        ord_clock INTEGER NOT NULL,
        ord_writer TEXT NOT NULL,
        ord_n INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outcomes_mission ON outcomes(mission_id);
    CREATE INDEX IF NOT EXISTS outcomes_strategy ON outcomes(strategy, succeeded);
    CREATE TABLE IF NOT EXISTS outcome_days (
        strategy TEXT NOT NULL,
        feature TEXT NOT NULL,
        day INTEGER NOT NULL,
        successes INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        outcomes INTEGER NOT NULL,
        drifted INTEGER NOT NULL,
        known_changes INTEGER NOT NULL,
        PRIMARY KEY (strategy, feature, day)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outcome_errors (
        strategy TEXT NOT NULL,
        feature TEXT NOT NULL,
        error TEXT NOT NULL,
        outcomes INTEGER NOT NULL,
        PRIMARY KEY (strategy, feature, error)
    ) WITHOUT ROWID
    """

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        """Re-fold each ``outcome:`` stream, in chunks: the chunk's old outcomes read in one
        query, their rows replaced in one statement each, and the pattern counts changed
        once per key for the whole refresh (the sum of what each old outcome takes back
        and each new one adds: the same rows as applying them one by one)."""
        days: dict[tuple[str, str, int], list[int]] = {}
        errors: dict[tuple[str, str, str], int] = {}
        wanted = [s for s in streams if s.partition(":")[0] == STREAM]
        for chunk in chunks(load_streams(view.execute, wanted, view.iterate)):
            ids = [stream.partition(":")[2] for stream, _ in chunk]
            marks = ",".join("?" * len(ids))
            old = [outcome_of(r) for r in view.execute(
                f"SELECT {COLUMNS} FROM outcomes WHERE subject_id IN ({marks})", ids)]
            new = [(o, outcome_day(o)) for o in (fold_outcome(events) for _, events in chunk)
                   if o is not None]
            for o, sign, day in [(o, -1, outcome_day(o)) for o in old] + [
                    (o, 1, day) for o, day in new]:
                for key0, key1, key2, *change in contributions(o, sign, day):
                    total = days.get((key0, key1, key2))
                    if total is None:
                        days[(key0, key1, key2)] = change
                    else:
                        for i, c in enumerate(change):
                            total[i] += c
                for key0, key1, key2, c in error_contributions(o, sign):
                    errors[(key0, key1, key2)] = errors.get((key0, key1, key2), 0) + c
            view.execute(f"DELETE FROM outcomes WHERE subject_id IN ({marks})", ids)
            view.executemany(f"INSERT INTO outcomes ({COLUMNS}) VALUES "
                             f"({','.join('?' * _N)})", [row(o, day) for o, day in new])
        view.executemany(
            "INSERT INTO outcome_days VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (strategy, feature, day) DO UPDATE SET "
            "successes = successes + excluded.successes, "
            "failures = failures + excluded.failures, "
            "outcomes = outcomes + excluded.outcomes, "
            "drifted = drifted + excluded.drifted, "
            "known_changes = known_changes + excluded.known_changes",
            [(*key, *change) for key, change in sorted(days.items()) if any(change)])
        view.executemany(
            "INSERT INTO outcome_errors VALUES (?, ?, ?, ?) "
            "ON CONFLICT (strategy, feature, error) DO UPDATE SET "
            "outcomes = outcomes + excluded.outcomes",
            [(*key, c) for key, c in sorted(errors.items()) if c])
        view.executemany("DELETE FROM outcome_days WHERE strategy = ? AND feature = ? "
                         "AND day = ? AND outcomes <= 0", sorted(days))
        view.executemany("DELETE FROM outcome_errors WHERE strategy = ? AND feature = ? "
                         "AND error = ? AND outcomes <= 0", sorted(errors))


PROJECTION = LearningProjection()


def outcome_day(o: Outcome) -> int:
    try:
        return day_of(epoch(o.finished_at))
    except ValueError:
        return 0


def contributions(o: Outcome, sign: int = 1, day: int | None = None,
                  ) -> list[tuple[Any, ...]]:
    """The ``outcome_days`` increments of one outcome (``sign`` -1 takes them back) on
    its ``day`` (:func:`outcome_day`, computed if not given)."""
    successes, failures = counts(o.succeeded, o.tries)
    drifted = o.drifted
    if day is None:
        day = outcome_day(o)
    return [(strategy, feature, day, sign * successes, sign * failures, sign,
             sign * int(bool(drifted)), sign * int(drifted is not None))
            for strategy, feature in o.pattern_keys()]


def error_contributions(o: Outcome, sign: int = 1) -> list[tuple[Any, ...]]:
    """The ``outcome_errors`` increments of one outcome: each distinct reason, once per
    pattern it belongs to."""
    return [(strategy, feature, error, sign) for strategy, feature in o.pattern_keys()
            for error in sorted(set(o.errors))]


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def row(o: Outcome, day: int | None = None) -> tuple[Any, ...]:
    return (o.subject_id, o.subject, o.mission_id, o.sortie_id, o.status, int(o.success),
            int(o.succeeded), o.tries, o.duration_s, o.total_s, o.finished_at,
            outcome_day(o) if day is None else day, o.strategy, o.planner, _text(o.features),
            _text(o.planned_files),
            None if o.changed_files is None else _text(o.changed_files),
            _bool(o.verified), _bool(o.merged), o.specialist, o.agent, _text(o.errors),
            o.cause, o.amendments, *o.order)


def _text(values: list[str]) -> str:
    """A list column as JSON text (no ``json`` package: a write recording an outcome would
    import it, and ``re`` with it, for this alone)."""
    return compact_text(values, ensure_ascii=True)


def _opt_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def outcome_of(r: Sequence[Any]) -> Outcome:
    return Outcome(
        subject_id=r[0], subject=r[1], mission_id=r[2], sortie_id=r[3], status=r[4],
        success=bool(r[5]), tries=r[7], duration_s=r[8], total_s=r[9], finished_at=r[10],
        strategy=r[12], planner=r[13], features=loads(r[14]),
        planned_files=loads(r[15]),
        changed_files=None if r[16] is None else loads(r[16]),
        verified=_opt_bool(r[17]), merged=_opt_bool(r[18]), specialist=r[19], agent=r[20],
        errors=loads(r[21]), cause=r[22], amendments=r[23], order=(r[24], r[25], r[26]))


def _outcomes(rows: list[Row]) -> list[Outcome]:
    return [outcome_of(r) for r in rows]


# -- queries -------------------------------------------------------------------------------
def outcomes(reads: ReadView, *, mission_id: str | None = None, subject: str | None = None,
             strategy: str | None = None, catch_up: bool = True) -> list[Outcome]:
    """Outcomes, oldest first (in the log's total order)."""
    where, args = [], []
    for column, value in (("mission_id", mission_id), ("subject", subject),
                          ("strategy", strategy)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = f"SELECT {COLUMNS} FROM outcomes"
    if where:
        sql += " WHERE " + " AND ".join(where)
    result: list[Outcome] = reads.read(sql + " ORDER BY ord_clock, ord_writer, ord_n", args,
                                       catch_up=catch_up, decode=_outcomes)
    return result


def get(reads: ReadView, subject_id: str, *, catch_up: bool = True) -> Outcome | None:
    found: list[Outcome] = reads.read(f"SELECT {COLUMNS} FROM outcomes WHERE subject_id = ?",
                                      (subject_id,), catch_up=catch_up, decode=_outcomes)
    return found[0] if found else None


def recorded_for(reads: ReadView, subject_id: str, cause: str) -> bool:
    """Whether the outcome of ``subject_id`` was recorded for the event ``cause``."""
    return bool(reads.read("SELECT 1 FROM outcomes WHERE subject_id = ? AND cause = ?",
                           (subject_id, cause), catch_up=False))


def patterns(reads: ReadView, today: int, *, strategy: str | None = None,
             features: Iterable[str] | None = None, catch_up: bool = True,
             ) -> dict[tuple[str, str], Pattern]:
    """Every (strategy, feature) pattern scored as of UTC day ``today``."""
    where, args = [], []
    if strategy is not None:
        where.append("strategy = ?")
        args.append(strategy)
    if features is not None:
        wanted = sorted(set(features))
        where.append(f"feature IN ({','.join('?' * len(wanted))})")
        args.extend(wanted)
    sql = ("SELECT strategy, feature, day, successes, failures, outcomes, drifted, "
           "known_changes FROM outcome_days")
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows: list[Row] = reads.read(sql, args, catch_up=catch_up)
    weights: dict[int, float] = {}
    acc: dict[tuple[str, str], tuple[list[float], list[float], list[int]]] = {}
    for s, f, day, succ, fail, n, drifted, known in rows:
        w = weights.get(day)
        if w is None:
            w = weights[day] = decay(today - day)
        sums = acc.get((s, f))
        if sums is None:
            sums = acc[(s, f)] = ([], [], [0, 0, 0, 0])
        sums[0].append(succ * w)
        sums[1].append(fail * w)
        totals = sums[2]
        totals[0] += n
        totals[1] = max(totals[1], day)
        totals[2] += drifted
        totals[3] += known
    return {key: Pattern(key[0], key[1], math.fsum(s), math.fsum(f), t[0], t[1], t[2], t[3])
            for key, (s, f, t) in sorted(acc.items())}


def frequent_errors(reads: ReadView, keys: Iterable[tuple[str, str]], *, limit: int = 3,
                    catch_up: bool = True) -> dict[tuple[str, str], list[str]]:
    """For each (strategy, feature): the failure reasons most of its outcomes gave, most
    frequent first."""
    out: dict[tuple[str, str], list[str]] = {}
    for strategy, feature in sorted(set(keys)):
        rows: list[Row] = reads.read(
            "SELECT error FROM outcome_errors WHERE strategy = ? AND feature = ? "
            "ORDER BY outcomes DESC, error LIMIT ?", (strategy, feature, limit),
            catch_up=catch_up)
        out[(strategy, feature)] = [r[0] for r in rows]
    return out


def latest_endings(reads: ReadView, types: Iterable[str], *, catch_up: bool = True,
                   ) -> list[tuple[str, bytes, int]]:
    """(stream, raw event, seq) of the latest event of ``types`` on each stream whose
    subject has no outcome recorded for it, in the log's total order. A stream deleted
    after its ending (``sortie_deleted``, ``mission_deleted``) has nothing to learn."""
    wanted = sorted({*types, *DELETIONS})
    marks = ",".join("?" * len(wanted))
    rows: list[Row] = reads.read(
        f"SELECT stream, id, type, raw, seq FROM events WHERE type IN ({marks}) "
        "ORDER BY clock, writer, n", wanted, catch_up=catch_up)
    latest: dict[str, Row] = {}
    for r in rows:
        latest[r[0]] = r
    causes = dict(reads.read("SELECT subject_id, cause FROM outcomes", catch_up=False))
    return [(stream, raw, seq) for stream, eid, kind, raw, seq in latest.values()
            if causes.get(stream.partition(":")[2]) != eid and kind not in DELETIONS]


DELETIONS = ("sortie_deleted", "mission_deleted")


def totals(reads: ReadView, *, catch_up: bool = True) -> list[Row]:
    """Per (subject, strategy): outcomes, succeeded, tries, mean duration, verified,
    failed verification, merged, not merged, outcomes with known changes, drifted."""
    rows: list[Row] = reads.read(
        "SELECT subject, strategy, COUNT(*), SUM(succeeded), SUM(tries), AVG(duration_s), "
        "SUM(verified = 1), SUM(verified = 0), SUM(merged = 1), SUM(merged = 0) "
        "FROM outcomes GROUP BY subject, strategy ORDER BY subject, strategy",
        catch_up=catch_up)
    return rows
