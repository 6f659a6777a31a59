"""The ports between the index and the capabilities built on it.

A capability never receives the ``Hive``: its projection implements :class:`Projection`
(the index calls it inside its write transaction), its services read through a
:class:`ReadView`, and its ``verify`` checks get a :class:`CheckContext`. These are
protocols, so the index, the composition root and test doubles satisfy them structurally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager

from ..kernel.plain import tuple_fields
from ..kernel.typenames import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event
    from ..kernel.layout import Layout
    from ..kernel.problems import Report


Row = tuple["Any", ...]  # one SQLite result row


class ProjectionTables(Protocol):
    """What a projection may do inside the index's write transaction."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def iterate(self, sql: str, args: Sequence[Any] = ()) -> Iterator[Row]: ...

    def events(self, stream: str) -> list[Event]: ...

    def iter_events(self, stream: str) -> Iterator[Event]:
        """The events of ``stream``, like :meth:`events`, read as they are consumed."""


@tuple_fields
class ProjectionSpec(tuple["Any", ...]):
    """A projection as the capability list declares it, so that the index can tell whether
    it is stale or fed by a stream without importing its code: a read command whose
    catch-up touches no stream of a capability never loads that capability. (A tuple with
    named fields, see :mod:`fleet_hive.kernel.plain`.)"""

    __slots__ = ()
    _fields = ("name", "version", "streams", "target")
    if TYPE_CHECKING:
        name: str
        version: str  # change it to have the projection's tables dropped and rebuilt
        streams: tuple[str, ...]  # stream prefixes it folds, e.g. ("mission:m-",)
        target: str  # "module:attr" of the Projection object

    def __new__(cls, name: str, version: str, streams: tuple[str, ...],
                target: str) -> ProjectionSpec:
        return tuple.__new__(cls, (name, version, streams, target))

    def __repr__(self) -> str:
        return "ProjectionSpec(name={!r}, version={!r}, streams={!r}, target={!r})".format(
            *self)

    def wants(self, stream: str) -> bool:
        return stream.startswith(self.streams)


class Projection(Protocol):
    """A table (or several) in the index derived from the events of some streams.

    After every catch-up the index calls ``refresh`` with the streams that gained or lost
    events; the projection re-folds each of them (in total order) and rewrites its rows.
    Re-folding whole streams keeps the result equal to a fold of the log in total order
    even when a merge brings events older (by clock) than ones already applied.
    """

    ddl: str  # ";"-separated CREATE statements (IF NOT EXISTS)
    tables: tuple[str, ...]

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None: ...


class ReadView(Protocol):
    """Queries on the projection tables. ``catch_up=False`` inside a unit of work, whose
    caller has caught the index up under the writer lock."""

    def read(self, sql: str, args: Sequence[Any] = (), *, catch_up: bool = True,
             decode: Callable[[list[Row]], Any] | None = None) -> Any:
        """The rows (or ``decode(rows)``: a row that does not decode is damage in the
        cache, which is then rebuilt and asked again)."""

    def catch_up(self) -> int: ...

    def catch_up_appended(self) -> int:
        """:meth:`catch_up` by the write path right after it appended, under the lock."""

    def consistent(self) -> AbstractContextManager[None]:
        """Caught up, then one state for every read inside (``catch_up=False``)."""


class RebuildableView(ReadView, Protocol):
    def rebuild(self) -> int: ...

    def quick_check(self) -> str | None:
        """What the database's own check of the cache file found, or None."""

    def discard(self) -> None:
        """Delete the cache file (it is rebuilt from the log on the next read)."""


class CheckContext(Protocol):
    """What a capability's ``verify`` check may use: paths, the index, the writer lock."""

    @property
    def layout(self) -> Layout: ...

    @property
    def index(self) -> RebuildableView: ...

    def exclusive(self) -> AbstractContextManager[Any]: ...


class Check(Protocol):
    """Appends problems to the report; with ``repair`` it may also fix derived files
    (never the log) and then reports what it fixed as ``severity="repaired"``."""

    def __call__(self, ctx: CheckContext, report: Report, repair: bool = False) -> None: ...


def report_mismatch(ctx: CheckContext, report: Report, tables: str, wrong: list[str],
                    repair: bool) -> None:
    """What every capability's check says when its tables disagree with a fold of the log
    (``wrong``: the rows, named): an error, or with ``repair`` the index rebuilt (it is
    disposable)."""
    from ..kernel.problems import Problem

    if not wrong:
        return
    listed = ", ".join(wrong[:5]) + (", ..." if len(wrong) > 5 else "")
    report.problems.append(Problem(
        "projection_mismatch",
        f"the index's {tables} tables disagree with the log for {len(wrong)} row(s): "
        f"{listed}" + (" (index rebuilt)" if repair else ""),
        str(ctx.layout.index.relative_to(ctx.layout.root)), None,
        "repaired" if repair else "error"))
    if repair:
        ctx.index.rebuild()


def streams_of(reads: ReadView, kind: str) -> dict[str, list[Event]]:
    """Every ``kind:`` stream's events, in total order, by stream: what a capability's
    check folds to compare with its tables (the caller has caught up)."""
    from ..events.envelope import Event
    from ..kernel.jsonload import loads

    rows = reads.read("SELECT stream, seq, raw FROM events WHERE stream >= ? AND stream < ? "
                      "ORDER BY stream, clock, writer, n", (f"{kind}:", f"{kind};"),
                      catch_up=False)
    streams: dict[str, list[Event]] = {}
    for stream, seq, raw in rows:
        streams.setdefault(stream, []).append(Event.from_dict(loads(raw), seq))
    return streams
