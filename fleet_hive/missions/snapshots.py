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

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..formats.yaml import dump
from ..kernel.errors import StorageError
from ..kernel.fsio import write_atomic
from ..kernel.jsondump import dumps
from ..kernel.jsonload import JSONDecodeError, loads
from .model import Mission, Sortie, mission_progress

if TYPE_CHECKING:
    from ..events.envelope import Event
    from ..index.projection import ReadView
    from ..kernel.layout import Layout

FORMAT = "2"  # change it when the rendering changes: invalidates the block cache
HEADER = (
    "# fleet-hive mission snapshot: derived from the event log in .fleet/events/.\n"
    "# Do not edit; `fleet-hive verify --repair` regenerates it.\n"
)


def snapshot_path(layout: Layout, mission_id: str) -> Path:
    return layout.missions / f"{mission_id}.yaml"


def _cache_path(layout: Layout, mission_id: str) -> Path:
    return layout.cache / "snapshots" / f"{mission_id}.json"


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
    for path in (snapshot_path(layout, mission_id), _cache_path(layout, mission_id)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed = True
    return removed


class Snapshots:
    """The after-write policy that keeps ``.fleet/missions/<id>.yaml`` equal to the log.

    Called by the unit of work (under the writer lock, index caught up) with the events
    just stored. With ``snapshots: every_write`` (the default) it regenerates the snapshot
    of every mission they touched, at once. With ``snapshots: deferred`` it only
    notes those missions in ``.fleet/local/snapshots.pending``, and :meth:`flush`
    regenerates the pending ones when ``commit``, ``sync`` or ``verify`` asks
    (``hive.settle()``): rendering YAML costs a write command more than the write itself
    (ruamel's import alone ~30 ms), and the snapshots are local files for people to read
    (never committed), wanted when the work is looked at, not after each step of it. A
    deleted mission's snapshot is removed. A snapshot that could not be written (a full
    disk) leaves the empty marker ``.fleet/local/snapshots.stale``; the next write
    regenerates every snapshot and removes it.
    """

    def __init__(self, layout: Layout, reads: ReadView,
                 deferred: Callable[[], bool] | None = None) -> None:
        self.layout = layout
        self.reads = reads
        self._deferred = deferred or (lambda: False)

    def __call__(self, events: Sequence[Event]) -> None:
        marker = self.layout.snapshots_stale
        if marker.exists():  # an earlier write could not regenerate some snapshot
            self.refresh_all()
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
            return
        missions = self._missions_of(events)
        if not missions:
            return
        if self._deferred():
            self._note_pending(missions)
            return
        for mission_id in self.pending():
            missions.setdefault(mission_id, None)  # noted before the setting changed
        for mission_id in missions:
            self.write(mission_id)
        self._forget_pending()

    def pending(self) -> list[str]:
        """The missions whose snapshot lags the log, in the order they changed."""
        try:
            lines = self.layout.snapshots_pending.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return []
        return list(dict.fromkeys(line for line in lines if line.startswith("m-")))

    def flush(self) -> int:
        """Regenerate every pending snapshot (the caller holds the writer lock with the
        index caught up); returns how many."""
        pending = self.pending()
        for mission_id in pending:
            self.write(mission_id)
        self._forget_pending()
        return len(pending)

    def _note_pending(self, missions: dict[str, None]) -> None:
        lines = "".join(f"{m}\n" for m in missions).encode("utf-8")
        path = self.layout.snapshots_pending
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:  # cannot even note it: regenerate everything on the next write
            with contextlib.suppress(OSError):
                self.layout.snapshots_stale.touch()
            return
        try:
            os.write(fd, lines)
        except OSError:
            with contextlib.suppress(OSError):
                self.layout.snapshots_stale.touch()
        finally:
            os.close(fd)

    def _forget_pending(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.layout.snapshots_pending.unlink()

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
        ids = [r[0] for r in (reads or self.reads).read("SELECT id FROM missions",
                                                         catch_up=False)]
        for mission_id in ids:
            self.write(mission_id)
        self._forget_pending()
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
            cache_file = _cache_path(layout, mission_id)
            cache: dict[str, str] = {}
            with contextlib.suppress(FileNotFoundError, JSONDecodeError):  # no cache yet
                raw = loads(cache_file.read_bytes())
                if isinstance(raw, dict) and raw.get("format") == FORMAT:
                    cache = raw.get("blocks") or {}
            data = render_from_index(mission, counts, mission.events + sortie_events, docs, cache)
            write_derived(snapshot_path(layout, mission_id), data)
            write_derived(cache_file, dumps({"format": FORMAT, "blocks": cache}, indent=False))
        except OSError as e:
            with contextlib.suppress(OSError):  # an empty file: fits on a full disk
                layout.snapshots_stale.touch()
            raise StorageError(
                f"the change was recorded, but writing the snapshot of {mission_id} failed: "
                f"{e.strerror or e}",
                hint="the next write regenerates it once the problem is fixed "
                     "(or run `fleet-hive verify --repair`)") from e


def write_derived(path: Path, data: bytes) -> bool:
    """A snapshot is derived and rewritten on every change: atomic, not fsync'ed (a crash
    leaves the previous version, which ``verify`` reports and the next write repairs)."""
    return write_atomic(path, data, durable=False, skip_unchanged=True)
