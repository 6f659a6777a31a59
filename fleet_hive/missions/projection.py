"""Missions and sorties in the index: tables re-folded from the log after each catch-up.

Reads (``ready``, lists, ``show``) query these tables and never fold the log. Each row
keeps the whole folded state as JSON (``doc``) next to the columns queries filter and
sort on. The index calls :meth:`MissionProjection.refresh` with the streams that gained or
lost events; each is re-folded from its events in total order, so the tables always equal
a fold of the log, even after a merge brought events older than ones already applied.

Folding on. Re-folding a long stream for each new event would cost time in proportion to
its length, so the usual case folds only the new events onto the stored state: when the
stream's history so far was linear with no open conflict (``_Folder.resumable``), the
``folds`` table remembers how far the fold went (how many events, the last one's order
key, the highest ``seq`` among them). A refresh folds on from there only if those events
are still exactly the ones up to that key (see :meth:`MissionProjection._resume`) and
every new event continues the history linearly (else ``NotLinear``); otherwise, as
always, the whole stream is re-folded. Either way the rows are those of a full fold.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from ..events.envelope import Event
from ..index import streams as index_streams
from ..index.streams import chunks, load_streams
from ..kernel.jsondump import dumps
from ..kernel.jsonload import loads
from .fold import MissionFolder, NotLinear, SortieFolder
from .model import Mission, Sortie

TYPE_CHECKING = False
if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from typing import Any, Literal

    from ..index.projection import ProjectionTables, Row

    Iterate = Callable[[str, Sequence[Any]], Iterable[Row]]

TABLES = ("missions", "mission_labels", "mission_counts", "sorties", "sortie_deps")
#: Where each stream's fold may go on from. Not part of the folded state: ``seq`` is local
#: to this index (a rebuild renumbers events).
FOLDS = "folds"

DDL = """
CREATE TABLE IF NOT EXISTS missions (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    ord_clock INTEGER NOT NULL,
    ord_writer TEXT NOT NULL,
    ord_n INTEGER NOT NULL,
    open_conflicts INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS missions_order ON missions(priority, ord_clock, ord_writer, ord_n);
-- `status` lists the open missions and counts all by status on every run: a long-lived
-- repository's missions are mostly finished (12,300 missions, 123 open: 19 ms -> 0.8 ms)
CREATE INDEX IF NOT EXISTS missions_status ON missions(status, deleted);
-- `status` asks for open conflicts on every run, and almost no row has one
CREATE INDEX IF NOT EXISTS missions_conflicted ON missions(open_conflicts) WHERE open_conflicts > 0;
CREATE TABLE IF NOT EXISTS mission_labels (
    label TEXT NOT NULL,
    mission_id TEXT NOT NULL,
    PRIMARY KEY (label, mission_id)
);
CREATE INDEX IF NOT EXISTS mission_labels_mission ON mission_labels(mission_id);
CREATE TABLE IF NOT EXISTS mission_counts (
    mission_id TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (mission_id, status)
);
CREATE TABLE IF NOT EXISTS sorties (
    id TEXT PRIMARY KEY,
    mission_id TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    claimed_by TEXT,
    deleted INTEGER NOT NULL,
    ord_clock INTEGER NOT NULL,
    ord_writer TEXT NOT NULL,
    ord_n INTEGER NOT NULL,
    open_conflicts INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sorties_mission ON sorties(mission_id, ord_clock, ord_writer, ord_n);
CREATE INDEX IF NOT EXISTS sorties_status ON sorties(status, priority, ord_clock, ord_writer,
                                                      ord_n);
CREATE INDEX IF NOT EXISTS sorties_conflicted ON sorties(open_conflicts) WHERE open_conflicts > 0;
-- the recount after every sortie write reads only this index (1,000 sorties: 0.15 ms, not 0.6)
CREATE INDEX IF NOT EXISTS sorties_counts ON sorties(mission_id, deleted, status);
CREATE TABLE IF NOT EXISTS sortie_deps (
    sortie_id TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    PRIMARY KEY (sortie_id, depends_on)
);
CREATE INDEX IF NOT EXISTS sortie_deps_target ON sortie_deps(depends_on);
CREATE TABLE IF NOT EXISTS folds (
    stream TEXT PRIMARY KEY,
    events INTEGER NOT NULL,  -- events of the stream folded (all, from its first)
    seq INTEGER NOT NULL,     -- the highest seq among them
    clock INTEGER NOT NULL,   -- the order key of the last of them
    writer TEXT NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID
"""

CHUNK = 500  # streams per query while re-folding
PARALLEL_MIN = 20_000  # more streams than this (a rebuild) are folded on two cores
PARALLEL_CHUNK = 300  # streams per chunk this process folds while the child folds its own
CHILD_CHUNK = 900  # streams per chunk handed to the folding child (measured best at 1M)
RECOUNT_ALL = 2_000  # more missions to recount than this: recount every mission at once


def wants(stream: str) -> bool:
    """Streams of missions and sorties (ids ``m-...``, ``s-...``); others, such as a
    hand-made ``mission:x`` stream of notes, are not folded."""
    return stream.startswith(("mission:m-", "sortie:s-"))



def mission_row(m: Mission) -> Row:
    return (m.id, m.status, m.priority, int(m.deleted), *m.order, len(m.open_conflicts),
            dumps(m.to_doc(), indent=False))


def sortie_row(s: Sortie) -> Row:
    return (s.id, s.mission_id, s.status, s.priority, s.claimed_by, int(s.deleted), *s.order,
            len(s.open_conflicts), dumps(s.to_doc(), indent=False))


Tail = tuple[str, int, int, int, str, int]  # a row of ``folds``

if TYPE_CHECKING:
    #: ``(id, row or None, labels, folds row or None)``
    MissionResult = tuple[str, Row | None, list[str], Tail | None]
    #: ``(id, row or None, deps, mission id, folds row or None)``
    SortieResult = tuple[str, Row | None, list[str], str | None, Tail | None]
    #: a result of the parallel fold: ``(kind, *result)``
    Folded = (tuple[Literal["mission"], str, Row | None, list[str], Tail | None]
              | tuple[Literal["sortie"], str, Row | None, list[str], str | None, Tail | None])


def _tail(stream: str, folder: MissionFolder | SortieFolder, events: list[Event],
          before: Tail | None = None) -> Tail | None:
    """The ``folds`` row of ``stream`` folded up to ``events`` (after ``before``'s events,
    if the fold went on from there), or None if the next fold must start over."""
    if not folder.resumable:
        return None
    if not events:
        assert before is not None  # a resumable fold has folded some event
        return before
    count = len(events) + (before[1] if before else 0)
    seq = max(max(ev.seq or 0 for ev in events), before[2] if before else 0)
    return (stream, count, seq, *events[-1].order_key)


def _mission_result(stream: str, events: list[Event], folder: MissionFolder | None = None,
                    before: Tail | None = None, *, tail: bool = True) -> MissionResult:
    """``(id, row or None, labels, folds row or None)`` of ``events`` (folded by ``folder``)."""
    folder = folder or MissionFolder()
    m = folder.fold(events)
    mission_id = stream.split(":", 1)[1]
    if m is None:
        return (mission_id, None, [], None)
    return (mission_id, mission_row(m), list(m.labels),
            _tail(stream, folder, events, before) if tail else None)


def _sortie_result(stream: str, events: list[Event], folder: SortieFolder | None = None,
                   before: Tail | None = None, *, tail: bool = True) -> SortieResult:
    """``(id, row or None, deps, mission id, folds row or None)``, as above."""
    folder = folder or SortieFolder()
    s = folder.fold(events)
    sortie_id = stream.split(":", 1)[1]
    if s is None:
        return (sortie_id, None, [], None, None)
    return (sortie_id, sortie_row(s), list(s.depends_on), s.mission_id,
            _tail(stream, folder, events, before) if tail else None)


def _fold_raw(stream: str, rows: list[tuple[int, bytes]]) -> Folded:
    """Fold one stream from its raw index rows: ``(kind, *result)``, without a ``folds`` row
    (the parallel rebuild records none; each stream's first refresh does)."""
    events = [Event.from_dict(loads(raw), seq) for seq, raw in rows]
    if stream.startswith("mission:"):
        return ("mission", *_mission_result(stream, events, tail=False))
    return ("sortie", *_sortie_result(stream, events, tail=False))


def _fold_worker(conn: Connection) -> None:
    """In a forked child: fold each chunk of raw streams it is sent, answer with the results."""
    while (chunk := conn.recv()) is not None:
        conn.send([_fold_raw(stream, rows) for stream, rows in chunk])
    conn.close()


def fold_in_parallel(iterate: Iterate, streams: set[str],
                     write: Callable[[list[Folded]], None]) -> bool:
    """Fold many streams on two cores, handing each chunk's results to ``write``.

    This process reads the index and folds every other chunk of streams; a forked child
    folds the others from the raw rows it is sent (it never touches SQLite). At most one
    chunk is at the child at a time, so memory stays flat and neither side can block the
    other. Used when a rebuild re-folds tens of thousands of streams, where folding in
    Python is most of the time. Returns False if the child could not be started or died:
    the caller then folds everything sequentially, rewriting whatever was written here.
    """
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=_fold_worker, args=(theirs,), daemon=True)
        child.start()
    except (ValueError, OSError):
        return False
    theirs.close()
    try:
        outstanding = False
        chunk: list[tuple[str, list[tuple[int, bytes]]]] = []
        turn = 0
        for item in index_streams.raw_streams(iterate, streams):
            chunk.append(item)
            # the child's chunks are larger: this process also reads and writes the index
            if len(chunk) < (CHILD_CHUNK if turn % 2 else PARALLEL_CHUNK):
                continue
            if turn % 2:
                if outstanding:
                    write(mine.recv())
                mine.send(chunk)
                outstanding = True
            else:
                write([_fold_raw(s, rows) for s, rows in chunk])
            turn += 1
            chunk = []
        write([_fold_raw(s, rows) for s, rows in chunk])
        if outstanding:
            write(mine.recv())
        mine.send(None)
        child.join()
        return child.exitcode == 0
    except (EOFError, OSError):
        # The child died: whatever was written is rewritten by the sequential fold.
        child.kill()
        child.join()
        return False
    except BaseException:
        child.kill()
        child.join()
        raise
    finally:
        mine.close()


class MissionProjection:
    """The :class:`fleet_hive.index.projection.Projection` of missions and sorties."""

    # name, version and streams are declared in the capability list (app/capabilities.py)
    ddl = DDL
    tables = (*TABLES, FOLDS)

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        # The missions whose sorties changed, recounted once at the end (not per chunk of
        # sorties written: a rebuild writes hundreds of chunks).
        touched = Recount()
        self._fold_and_write(view, streams, touched)
        self._count(view, touched)

    def _fold_and_write(self, view: ProjectionTables, streams: set[str],
                        touched: Recount) -> None:
        if len(streams) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:

            # The parallel fold records no ``folds`` rows; stale ones must go, but in a
            # rebuild there are none, and deleting nothing 140k times costs ~3% of it.
            folds = bool(view.execute(f"SELECT 1 FROM {FOLDS} LIMIT 1"))

            def write(folded: list[Folded]) -> None:
                missions = [r[1:] for r in folded if r[0] == "mission"]
                sorties = [r[1:] for r in folded if r[0] == "sortie"]
                if missions:
                    self._write_missions(view, missions, folds=folds)
                if sorties:
                    self._write_sorties(view, sorties, touched, folds=folds)

            if fold_in_parallel(view.iterate, streams, write):
                return
        rest = self._fold_on_all(view, streams, touched)
        missions = [s for s in rest if s.startswith("mission:")]
        sorties = [s for s in rest if s.startswith("sortie:")]
        self._refresh_missions(view, missions)
        self._refresh_sorties(view, sorties, touched)

    def _fold_on_all(self, view: ProjectionTables, streams: set[str],
                     touched: Recount) -> list[str]:
        """Fold on the streams whose fold may go on; returns the others (to fold in full)."""
        ordered = sorted(streams)
        tails: dict[str, Tail] = {}
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i:i + CHUNK]
            marks = ",".join("?" * len(chunk))
            tails.update((r[0], r) for r in view.execute(
                f"SELECT * FROM {FOLDS} WHERE stream IN ({marks})", chunk))
        if not tails:
            return ordered
        rest: list[str] = []
        missions: list[MissionResult] = []
        sorties: list[SortieResult] = []
        for stream in ordered:
            tail = tails.get(stream)
            if tail is None or (resumed := self._resume(view, tail)) is None:
                rest.append(stream)
                continue
            doc, events = resumed
            try:
                if stream.startswith("mission:"):
                    missions.append(_mission_result(
                        stream, events, MissionFolder.resume(Mission.from_doc(doc)), tail))
                else:
                    sorties.append(_sortie_result(
                        stream, events, SortieFolder.resume(Sortie.from_doc(doc)), tail))
            except NotLinear:
                rest.append(stream)  # fold it in full
        for i in range(0, len(missions), CHUNK):
            self._write_missions(view, missions[i:i + CHUNK])
        for i in range(0, len(sorties), CHUNK):
            self._write_sorties(view, sorties[i:i + CHUNK], touched)
        return rest

    @staticmethod
    def _resume(view: ProjectionTables, tail: Tail) -> tuple[dict[str, Any], list[Event]] | None:
        """The stored state (its doc) and the events after ``tail``'s, to fold only those
        onto it; or None when that would not equal a full fold.

        The events folded before must be exactly the stream's events up to the last one's
        key now. Rows are only ever inserted or deleted, and an inserted row gets a ``seq``
        higher than any before it, even re-read ones. So if the rows up to that key are as
        many as were folded and none has a higher seq than the highest folded, none is new,
        and none is gone: they are the same rows. New events then all sort after the last
        one folded; ``resume`` raises ``NotLinear`` if one does not continue linearly.
        """
        stream, count, seq, clock, writer, n = tail
        (have, top), = view.execute(
            "SELECT COUNT(*), MAX(seq) FROM events WHERE stream = ? "
            "AND (clock, writer, n) <= (?, ?, ?)", (stream, clock, writer, n))
        if have != count or top != seq:
            return None  # events were deleted, or a merge brought older ones
        kind, item_id = stream.split(":", 1)
        docs = view.execute(f"SELECT doc FROM {kind}s WHERE id = ?", (item_id,))
        if not docs:
            return None
        events = [Event.from_dict(loads(raw), s) for s, raw in view.execute(
            "SELECT seq, raw FROM events WHERE stream = ? AND (clock, writer, n) > (?, ?, ?) "
            "ORDER BY clock, writer, n", (stream, clock, writer, n))]
        doc: dict[str, Any] = loads(docs[0][0])
        return doc, events

    @staticmethod
    def _replace(view: ProjectionTables, table: str, key: str, ids: list[str]) -> None:
        marks = ",".join("?" * len(ids))
        view.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", ids)

    def _refresh_missions(self, view: ProjectionTables, streams: Iterable[str]) -> None:
        for chunk in chunks(load_streams(view.execute, list(streams), view.iterate)):
            self._write_missions(view, [_mission_result(stream, events)
                                        for stream, events in chunk])

    def _refresh_sorties(self, view: ProjectionTables, streams: Iterable[str],
                         touched: Recount) -> None:
        """Re-fold and write these sorties, noting what that changes in ``touched``."""
        for chunk in chunks(load_streams(view.execute, list(streams), view.iterate)):
            self._write_sorties(view, [_sortie_result(stream, events)
                                       for stream, events in chunk], touched)

    def _write_missions(self, view: ProjectionTables, results: list[MissionResult], *,
                        folds: bool = True) -> None:
        """Replace the rows of these missions with ``(id, row or None, labels, tail)``."""
        self._replace(view, "missions", "id", [r[0] for r in results])
        self._replace(view, "mission_labels", "mission_id", [r[0] for r in results])
        if folds:
            self._write_folds(view, [f"mission:{r[0]}" for r in results],
                              [r[3] for r in results])
        view.executemany("INSERT INTO missions VALUES (?,?,?,?,?,?,?,?,?)",
                         [r[1] for r in results if r[1] is not None])
        view.executemany("INSERT OR IGNORE INTO mission_labels VALUES (?,?)",
                         [(label, r[0]) for r in results for label in r[2]])

    def _write_sorties(self, view: ProjectionTables, results: list[SortieResult],
                       touched: Recount, *, folds: bool = True) -> None:
        """Replace the rows of these sorties with ``(id, row or None, deps, mission_id,
        tail)``, noting in ``touched`` how the live ones change their missions' counts."""
        ids = [r[0] for r in results]
        marks = ",".join("?" * len(ids))
        for mission_id, status, deleted in view.execute(
                f"SELECT mission_id, status, deleted FROM sorties WHERE id IN ({marks})", ids):
            touched.note(mission_id, status, -1 if deleted == 0 else 0)
        for r in results:
            if r[1] is not None:  # (id, mission_id, status, priority, claimed_by, deleted, …)
                touched.note(r[1][1], r[1][2], 1 if r[1][5] == 0 else 0)
        self._replace(view, "sorties", "id", ids)
        self._replace(view, "sortie_deps", "sortie_id", ids)
        if folds:
            self._write_folds(view, [f"sortie:{i}" for i in ids], [r[4] for r in results])
        view.executemany("INSERT INTO sorties VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         [r[1] for r in results if r[1] is not None])
        view.executemany("INSERT OR IGNORE INTO sortie_deps VALUES (?,?)",
                         [(r[0], d) for r in results for d in r[2]])

    def _write_folds(self, view: ProjectionTables, streams: list[str],
                     tails: list[Tail | None]) -> None:
        self._replace(view, FOLDS, "stream", streams)
        view.executemany(f"INSERT INTO {FOLDS} VALUES (?,?,?,?,?,?)",
                         [t for t in tails if t is not None])

    def _count(self, view: ProjectionTables, touched: Recount) -> None:
        """Bring ``mission_counts`` (live sorties of each mission by status, for progress)
        up to date with the sorties just written. A few missions (a write): by the changes
        noted, so a write on a mission of thousands of sorties reads none of the others.
        Many (a rebuild): every mission recounted in one grouped scan, which gives the same
        rows (``mission_counts`` is a function of ``sorties`` alone; a test holds the two
        to each other)."""
        if len(touched.missions) > RECOUNT_ALL:
            view.execute("DELETE FROM mission_counts")
            view.execute("INSERT INTO mission_counts SELECT mission_id, status, COUNT(*) "
                         "FROM sorties WHERE deleted = 0 GROUP BY mission_id, status")
            return
        changes = sorted((m, s, d) for (m, s), d in touched.deltas.items() if d)
        if not changes:
            return
        view.executemany("INSERT INTO mission_counts VALUES (?, ?, ?) ON CONFLICT "
                         "(mission_id, status) DO UPDATE SET n = n + excluded.n", changes)
        view.executemany("DELETE FROM mission_counts WHERE mission_id = ? AND status = ? "
                         "AND n <= 0", [(m, s) for m, s, d in changes if d < 0])


class Recount:
    """What a refresh changed in the missions' counts: the missions its sorties belong to
    (before or after) and, per mission and status, how many live sorties came or went."""

    __slots__ = ("deltas", "missions")

    def __init__(self) -> None:
        self.missions: set[str] = set()
        self.deltas: dict[tuple[str, str], int] = {}

    def note(self, mission_id: str, status: str, change: int) -> None:
        self.missions.add(mission_id)
        key = (mission_id, status)
        self.deltas[key] = self.deltas.get(key, 0) + change


PROJECTION = MissionProjection()
