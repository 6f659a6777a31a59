"""``verify`` checks for missions: snapshots and index tables against a fold of the log.

Every mission and sortie stream is folded from its events (in total order, from the
index's copy of the log, never from the projection tables) and compared with

* its snapshot file, byte for byte (missing, different or stale files are
  ``snapshot_mismatch`` errors; ``--repair`` rewrites or removes them), and
* the projection rows in the index (``projection_mismatch``; ``--repair`` rebuilds the
  index, which is disposable).

Conflicting concurrent facts that nobody has resolved yet are reported as ``conflict``
warnings (``storage.md`` 5: surfaced in ``status``, ``show`` and ``verify``); they are not
errors: the log is sound, people have a decision to make (``sortie resolve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..index.projection import report_mismatch
from ..index.streams import load_streams
from ..kernel.problems import Problem, Report
from .fold import fold_mission, fold_sortie
from .model import Mission, Sortie
from .snapshots import remove, render, snapshot_file, write_derived

if TYPE_CHECKING:
    from ..index.projection import CheckContext, Row


def folded_state(hive: CheckContext) -> tuple[dict[str, Mission], dict[str, list[Sortie]]]:
    """Every mission and sortie folded from the log (the index's copy of it)."""
    index = hive.index
    index.catch_up()

    def execute(sql: str, args: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = index.read(sql, args, catch_up=False)
        return rows

    streams = [r[0] for r in execute(
        "SELECT DISTINCT stream FROM events WHERE (stream >= 'mission:' AND stream < 'mission;')"
        " OR (stream >= 'sortie:' AND stream < 'sortie;')")]
    missions: dict[str, Mission] = {}
    sorties: dict[str, list[Sortie]] = {}
    for stream, events in load_streams(execute, streams):
        if stream.startswith("mission:"):
            m = fold_mission(events)
            if m is not None:
                missions[m.id] = m
        else:
            s = fold_sortie(events)
            if s is not None:
                sorties.setdefault(s.mission_id, []).append(s)
    return missions, sorties


def check_missions(hive: CheckContext, report: Report, repair: bool = False) -> None:
    """``verify`` holds the writer lock while it repairs, so no write changes the derived
    files meanwhile."""
    _check(hive, report, repair)


def _check(hive: CheckContext, report: Report, repair: bool) -> None:
    missions, sorties = folded_state(hive)
    root = hive.layout.root
    # 1. the projection tables equal the fold
    expected = {("missions", m.id): m.to_doc() for m in missions.values()}
    for group in sorties.values():
        expected.update({("sorties", s.id): s.to_doc() for s in group})
    actual = {}
    for table in ("missions", "sorties"):
        for row_id, doc in hive.index.read(f"SELECT id, doc FROM {table}", catch_up=False):
            actual[(table, row_id)] = orjson.loads(doc)
    wrong = sorted(k for k in expected.keys() | actual.keys()
                   if expected.get(k) != actual.get(k))
    report_mismatch(hive, report, "mission", [
        f"{'sortie' if t == 'sorties' else 'mission'} {i}" for t, i in wrong], repair)
    # 2. open conflicts, as warnings
    for m in sorted(missions.values(), key=lambda m: m.order):
        if m.deleted:
            continue
        found = [(f"mission {m.id}", c) for c in m.open_conflicts]
        for s in sorted(sorties.get(m.id, []), key=lambda s: s.order):
            if not s.deleted:
                found += [(f"sortie {s.id}", c) for c in s.open_conflicts]
        for what, c in found:
            facts = " vs ".join(f"{f['type']} by {f['actor']} ({f['event_id']})"
                                for f in c["facts"])
            kind = f"{c['kind']} ({c['field']})" if c.get("field") else c["kind"]
            report.problems.append(Problem(
                "conflict", f"{what}: {kind} conflict: {facts}; resolve it with "
                "`fleet-hive " + what.split()[0] + " resolve`", "", None, "warning"))
    # 3. every live mission has its snapshot, byte for byte; no other snapshot exists
    want: dict[str, bytes] = {}
    for m in missions.values():
        if not m.deleted:
            want[m.id] = render(m, sorties.get(m.id, []))
    present = {p.stem: p for p in hive.layout.missions.glob("*.yaml")} \
        if hive.layout.missions.is_dir() else {}
    for mission_id in sorted(want.keys() | present.keys()):
        path = Path(snapshot_file(hive.layout, mission_id))
        rel = str(path.relative_to(root))
        if mission_id not in want:
            why = "was deleted" if mission_id in missions else "is not in the log"
            message = f"stale snapshot: mission {mission_id} {why}"
        else:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                data = None
            if data == want[mission_id]:
                continue
            message = (f"snapshot of mission {mission_id} is missing" if data is None
                       else f"snapshot of mission {mission_id} disagrees with the log")
        if repair:
            if mission_id in want:
                write_derived(path, want[mission_id])
            else:
                remove(hive.layout, mission_id)
            message += " (regenerated)" if mission_id in want else " (removed)"
        report.problems.append(Problem("snapshot_mismatch", message, rel, None,
                                       "repaired" if repair else "error"))
