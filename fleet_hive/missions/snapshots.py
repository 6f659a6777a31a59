"""Mission snapshots: ``.fleet/missions/<mission-id>.yaml`` (``storage.md`` 10).

A snapshot is derived from the log and regenerated after every write to its mission. It
is git-ignored, never committed: a committed rendering of a mission's whole state would
change on both sides of a merge, and no merge of ``.fleet/`` may conflict (``docs/git.md``,
"Snapshots and merges"); reviewers get the pull-request view from ``fleet-hive history``.
Its bytes are a function of the folded state only: fixed key order, no generation time,
sorties in creation order (the log's total order), multi-line text as literal blocks, no
line wrapping. So a diff shows exactly what changed, and two clones holding the same
events write the same bytes.

Format (one YAML mapping)::

    # header comment
    id, title, description, status, priority, labels, progress, created_at, created_by,
    updated_at, reason, forced, [conflicts], events   <- number of events it reflects
    sorties:
    - id, title, description, status, priority, files, depends_on, specialist,
      claimed_by, progress, progress_note, reason, retries, created_at, created_by,
      updated_at, [conflicts]

Rendering YAML is slow in pure Python (~0.7 ms a sortie), so each sortie's block is
rendered separately and cached in ``.fleet/.cache/snapshots/<mission-id>.json`` keyed by a
digest of the sortie's stored state: rewriting a 1,000-sortie mission after one change
parses and renders one sortie. The cache is disposable; ``verify`` always renders from
scratch (:func:`render`), and the tests hold both ways to the same bytes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from ..formats.yaml import dump
from ..kernel.errors import StorageError
from ..kernel.fsio import write_atomic
from ..kernel.jsondump import dumps
from ..kernel.jsonload import loads
from .model import Mission, Sortie, mission_progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event

    PathLike = str | os.PathLike[str]
    from ..index.projection import ReadView
    from ..kernel.layout import Layout

FORMAT = "2"  # change it when the rendering changes: invalidates the block cache
HEADER = (
    "# fleet-hive mission snapshot: derived from the event log in .fleet/events/.\n"
    "# Do not edit; `fleet-hive verify --repair` regenerates it.\n"
)


def snapshot_file(layout: Layout, mission_id: str) -> str:
    """Where the snapshot of ``mission_id`` lives (a string: the write path that renders
    it never needs pathlib)."""
    return os.path.join(layout.missions_dir, f"{mission_id}.yaml")


def _cache_file(layout: Layout, mission_id: str) -> str:
    return os.path.join(layout.cache_dir, "snapshots", f"{mission_id}.json")


def _mark(path: str) -> None:
    """Create ``path`` (empty) if it is missing: a marker whose existence is the message."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def mission_entry(m: Mission, counts: dict[str, int], events: int) -> dict[str, Any]:
    """The snapshot's mission fields (without sorties), in their fixed order. ``counts``:
    live sorties by status; ``events``: the events of the mission and all its sorties."""
    out: dict[str, Any] = {
        "id": m.id, "title": m.title, "description": m.description, "status": m.status,
        "priority": m.priority, "labels": list(m.labels),
        "progress": mission_progress(m.status, counts), "created_at": m.created_at,
        "created_by": m.created_by, "updated_at": m.updated_at, "reason": m.reason,
        "forced": m.forced,
    }
    if m.conflicts:
        out["conflicts"] = m.conflicts
    out["events"] = events
    return out


def sortie_entry(s: Sortie) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id, "title": s.title, "description": s.description, "status": s.status,
        "priority": s.priority, "files": list(s.files), "depends_on": list(s.depends_on),
        "specialist": s.specialist, "claimed_by": s.claimed_by, "progress": s.progress,
        "progress_note": s.progress_note, "reason": s.reason, "retries": s.retries,
        "created_at": s.created_at, "created_by": s.created_by, "updated_at": s.updated_at,
    }
    if s.conflicts:
        out["conflicts"] = s.conflicts
    return out




def _assemble(mission: dict[str, Any], blocks: Sequence[str]) -> bytes:
    parts = [HEADER, dump(mission), "sorties:\n" if blocks else "sorties: []\n",
             *blocks]
    return "".join(parts).encode("utf-8")


def render(m: Mission, sorties: Sequence[Sortie]) -> bytes:
    """The snapshot's bytes, from scratch. ``sorties``: all of the mission's (deleted ones
    are left out, but their events count)."""
    live = sorted((s for s in sorties if not s.deleted), key=lambda s: (s.order, s.id))
    counts: dict[str, int] = {}
    for s in live:
        counts[s.status] = counts.get(s.status, 0) + 1
    events = m.events + sum(s.events for s in sorties)
    return _assemble(mission_entry(m, counts, events),
                     [dump([sortie_entry(s)]) for s in live])


def render_from_index(m: Mission, counts: dict[str, int], events: int, docs: Sequence[bytes],
                      cache: dict[str, str]) -> bytes:
    """The same bytes as :func:`render`, from the index's rows: ``docs`` are the live
    sorties' stored states in creation order. A sortie's block depends on its state alone,
    so it is looked up by a digest of the stored bytes and rendered only when missing;
    ``cache`` (digest → block) is updated to hold exactly the blocks used."""
    from ..kernel.digest import blake2b  # here, not at the top: reads never render

    used: dict[str, str] = {}
    blocks = []
    for doc in docs:
        digest = blake2b(doc, digest_size=16).hexdigest()
        block = cache.get(digest)
        if not isinstance(block, str):
            block = dump([sortie_entry(Sortie.from_doc(loads(doc)))])
        used[digest] = block
        blocks.append(block)
    cache.clear()
    cache.update(used)
    return _assemble(mission_entry(m, counts, events), blocks)



def remove(layout: Layout, mission_id: str) -> bool:
    removed = False
    for path in (snapshot_file(layout, mission_id), _cache_file(layout, mission_id)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            removed = True
    return removed


#: How long a process may owe snapshots while it goes on writing: a command writes them
#: as it ends (``Hive.close``); a long-running process (a coordinator claiming sortie after
#: sortie) rewrites them at most this often, and at its end.
SETTLE_EVERY = 0.25


class Snapshots:
    """The after-write policy that keeps ``.fleet/missions/<id>.yaml`` equal to the log.

    Called by the unit of work (under the writer lock, index caught up) with the events
    just stored, it only notes the missions they touched: in memory, and once per mission
    in ``.fleet/local/snapshots.pending`` (a crash before the rewrite leaves the note for
    whoever writes next). The rewrite is :meth:`settle`, after the writer lock is released,
    under a lock of its own, reading one consistent state of the index: other writers go on
    appending while a large mission is rendered. The unit of work settles after each write,
    at most every ``SETTLE_EVERY`` seconds; ``Hive.close`` settles what is still owed, so a
    command leaves every snapshot it touched up to date.

    With ``snapshots: deferred`` a write only notes the missions, and :meth:`flush`
    regenerates the pending ones when ``commit``, ``sync`` or ``verify`` asks
    (``hive.settle()``). A deleted mission's snapshot is removed. A snapshot that could not
    be written (a full disk) leaves the empty marker ``.fleet/local/snapshots.stale``; the
    next write regenerates every snapshot and removes it.
    """

    def __init__(self, layout: Layout, reads: ReadView,
                 deferred: Callable[[], bool] | None = None,
                 lock: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.layout = layout
        self.reads = reads
        self._deferred = deferred or (lambda: False)
        self._lock = lock or contextlib.nullcontext
        self._owed: dict[str, None] = {}  # this process's writes not rendered yet
        self._settled = float("-inf")  # monotonic time of the last settle (none yet)
        self._at_exit = False  # settle() registered to run at interpreter exit

    def __call__(self, events: Sequence[Event]) -> None:
        marker = self.layout.snapshots_stale_file
        if os.path.exists(marker):  # an earlier write could not regenerate some snapshot
            self.refresh_all()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(marker)
            return
        missions = self._missions_of(events)
        if not missions:
            return
        if self._deferred():
            self._note_pending(missions)
            return
        new = {m: None for m in missions if m not in self._owed}
        if new:
            self._note_pending(new)
            if not self._owed and not self._at_exit:  # a script that never closes its hive
                atexit.register(_settle_at_exit, weakref.ref(self))
                self._at_exit = True
            self._owed.update(new)

    @property
    def owed(self) -> bool:
        """Whether this process wrote events whose snapshots it has not rewritten yet."""
        return bool(self._owed)

    def settle(self, *, force: bool = False) -> int:
        """Rewrite the snapshots this process owes (and any other pending ones), unless
        the last settle was less than ``SETTLE_EVERY`` ago (``force``: now). Called without
        the writer lock; returns how many were rewritten."""
        if not self._owed or (not force and
                              time.monotonic() - self._settled < SETTLE_EVERY):
            return 0
        return self.flush()

    def pending(self) -> list[str]:
        """The missions whose snapshot lags the log, in the order they changed."""
        try:
            with open(self.layout.snapshots_pending_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return []
        return list(dict.fromkeys(line for line in lines if line.startswith("m-")))

    def flush(self) -> int:
        """Regenerate every pending snapshot (this process's and the others' notes), under
        the snapshot lock, from one state of the index; returns how many."""
        owed, self._owed = self._owed, {}
        self._settled = time.monotonic()
        with self._lock():
            taken = self._take_pending()
            try:
                missions = dict.fromkeys([*owed, *self._read_pending(taken)])
                with self.reads.consistent():
                    for mission_id in missions:
                        self.write(mission_id)
            except BaseException:
                self._give_back(taken)  # (a write that failed also left the stale marker:
                raise  # the next write regenerates every snapshot; said once, not retried)
            for path in taken:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return len(missions)

    def _take_pending(self) -> list[str]:
        """The pending notes moved aside (a note made meanwhile starts a new file, for the
        next settle), with any a flush left behind: under the snapshot lock no other flush
        is running, so a ``snapshots.pending.<pid>`` here is ours (a flush that failed) or
        a flusher's that was killed before it finished; its missions are rendered too."""
        pending = self.layout.snapshots_pending_file
        directory = os.path.dirname(pending)
        with contextlib.suppress(FileNotFoundError):
            os.replace(pending, os.path.join(directory, f"snapshots.pending.{os.getpid()}"))
        try:
            return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                          if name.startswith("snapshots.pending."))
        except OSError:
            return []

    @staticmethod
    def _read_pending(taken: Sequence[str]) -> list[str]:
        out: list[str] = []
        for path in taken:
            try:
                with open(path, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            out += [line for line in lines if line.startswith("m-")]
        return out

    def _give_back(self, taken: Sequence[str]) -> None:
        """A flush that failed: its notes go back to the pending file."""
        missions = self._read_pending(taken)
        if missions:
            self._note_pending(dict.fromkeys(missions))
        for path in taken:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _note_pending(self, missions: dict[str, None]) -> None:
        lines = "".join(f"{m}\n" for m in missions).encode("utf-8")
        path = self.layout.snapshots_pending_file
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:  # cannot even note it: regenerate everything on the next write
            with contextlib.suppress(OSError):
                _mark(self.layout.snapshots_stale_file)
            return
        try:
            os.write(fd, lines)
        except OSError:
            with contextlib.suppress(OSError):
                _mark(self.layout.snapshots_stale_file)
        finally:
            os.close(fd)

    def _forget_pending(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.layout.snapshots_pending_file)

    def _missions_of(self, events: Sequence[Event]) -> dict[str, None]:
        """The missions whose snapshots ``events`` change, by stream: ``mission:<id>`` itself,
        ``sortie:<id>`` its sortie's mission. Not by ``correlation_id``: a use case sets it
        to the mission, but on a raw note (``events append``) it is whatever the user gave."""
        out: dict[str, None] = {}
        sorties: dict[str, None] = {}
        for e in events:
            kind, _, ident = e.stream.partition(":")
            if kind == "mission":
                out[ident] = None
            elif kind == "sortie":
                sorties[ident] = None
        ids = list(sorties)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(dict.fromkeys(r[0] for r in self.reads.read(
                f"SELECT DISTINCT mission_id FROM sorties WHERE id IN ({marks})", chunk,
                catch_up=False)))
        return out

    def refresh_all(self, reads: ReadView | None = None) -> int:
        """Regenerate every mission's snapshot (after a merge); the caller holds the writer
        lock with the index caught up. Returns how many missions there are."""
        with self._lock():
            ids = [r[0] for r in (reads or self.reads).read("SELECT id FROM missions",
                                                             catch_up=False)]
            for mission_id in ids:
                self.write(mission_id)
            self._forget_pending()
        self._owed.clear()
        return len(ids)

    def write(self, mission_id: str) -> None:
        """Regenerate one mission's snapshot from the index."""
        layout = self.layout
        read = self.reads.read
        try:
            rows = read("SELECT doc FROM missions WHERE id = ?", (mission_id,), catch_up=False)
            mission = Mission.from_doc(loads(rows[0][0])) if rows else None
            if mission is None or mission.deleted:
                remove(layout, mission_id)
                return
            counts: dict[str, int] = dict(read(
                "SELECT status, n FROM mission_counts WHERE mission_id = ?", (mission_id,),
                catch_up=False))
            (sortie_events,) = read("SELECT COALESCE(SUM(json_extract(doc, '$.events')), 0) "
                                    "FROM sorties WHERE mission_id = ?", (mission_id,),
                                    catch_up=False)[0]
            docs = [r[0] for r in read(
                "SELECT doc FROM sorties WHERE mission_id = ? AND deleted = 0 "
                "ORDER BY ord_clock, ord_writer, ord_n, id", (mission_id,), catch_up=False)]
            cache_file = _cache_file(layout, mission_id)
            cache: dict[str, str] = {}
            # no cache yet, or a damaged one (a JSONDecodeError is a ValueError)
            with contextlib.suppress(FileNotFoundError, ValueError), open(cache_file, "rb") as f:
                raw = loads(f.read())
                if isinstance(raw, dict) and raw.get("format") == FORMAT:
                    cache = raw.get("blocks") or {}
            data = render_from_index(mission, counts, mission.events + sortie_events, docs, cache)
            write_derived(snapshot_file(layout, mission_id), data)
            write_derived(cache_file, dumps({"format": FORMAT, "blocks": cache}, indent=False))
        except OSError as e:
            with contextlib.suppress(OSError):  # an empty file: fits on a full disk
                _mark(layout.snapshots_stale_file)
            raise StorageError(
                f"the change was recorded, but writing the snapshot of {mission_id} failed: "
                f"{e.strerror or e}",
                hint="the next write regenerates it once the problem is fixed "
                     "(or run `fleet-hive verify --repair`)") from e


def write_derived(path: PathLike, data: bytes) -> bool:
    """A snapshot is derived and rewritten on every change: atomic, not fsync'ed (a crash
    leaves the previous version, which ``verify`` reports and the next write repairs)."""
    return write_atomic(path, data, durable=False, skip_unchanged=True)


def _settle_at_exit(ref: weakref.ReferenceType[Snapshots]) -> None:
    """What a process still owes when the interpreter exits (a library script that never
    closed its hive); SIGKILL and ``os._exit`` skip it, and the pending note stays for the
    next writer."""
    snapshots = ref()
    if snapshots is not None and snapshots.owed:
        with contextlib.suppress(Exception):  # at exit: nowhere left to report it
            snapshots.settle(force=True)
