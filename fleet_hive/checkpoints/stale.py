"""Stale work: claimed sorties whose claimant has shown no sign of life for a while.

A sortie is *stale* when it is claimed and not waiting (``assigned`` or ``in_progress``; a
``blocked`` sortie waits by definition), its mission is open, and for ``stale_after``
seconds nothing happened that says its claimant is still at work:

* no event on the sortie's own stream (start, progress, a note anyone appended to it);
* no event on another claimed sortie of the same claimant (it is busy elsewhere);
* no event recorded by the claimant as actor anywhere in the log (heartbeats, notes,
  reservations, work on other missions, ...).

This runs on every ``status`` and ``ready``, so it is built to be cheap: one indexed query
on the ``sorties`` table (``sorties_status``) for the claimed sorties, their last activity
compared as ISO 8601 text (every time in the log has one format); only for those that
look stale, the newest event of each one's stream (one query per ``_IN_CHUNK`` sorties) and
one look through the events appended since their last event for one by the claimant
(``instr`` on the stored line, so nothing is decoded unless the name appears).
Reads only: nothing here writes, and nothing loads pydantic, ruamel or the write path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..kernel import jsonload
from ..kernel.clock import epoch, iso
from ..kernel.plain import Plain
from ..missions.model import Sortie

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ReadView, Row

#: The default of ``stale_after`` in ``.fleet/config.yaml``.
DEFAULT_STALE_AFTER = "30m"
#: Claimed sorties that can go stale (a blocked one waits by definition).
CLAIMED = ("assigned", "in_progress")
#: How many of the claimant's events since the sortie's last one are looked at, newest
#: first, before concluding it is idle (events with the name only inside their data).
_ACTOR_PROBE = 20
#: Ids per ``IN (...)`` query (SQLite's parameter limit is 999 on old builds).
_IN_CHUNK = 500



def format_duration(seconds: float) -> str:
    """``seconds`` as people say it: ``45s``, ``12m``, ``2h 5m``, ``3d 4h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d {h}h" if h else f"{d}d"


class StaleSortie(Plain):
    """A claimed sortie nobody has worked on for ``idle`` seconds."""

    __slots__ = _fields = ("sortie", "claimant", "last_activity", "idle", "why")
    sortie: Sortie
    claimant: str | None
    last_activity: str  # ISO time of the newest sign of life found
    idle: float  # seconds since then
    why: str  # what the last sign of life was

    def __init__(self, sortie: Sortie, claimant: str | None, last_activity: str, idle: float,
                 why: str) -> None:
        self.sortie, self.claimant, self.last_activity = sortie, claimant, last_activity
        self.idle, self.why = idle, why

    @property
    def id(self) -> str:
        return self.sortie.id

    @property
    def mission_id(self) -> str:
        return self.sortie.mission_id

    def to_json(self) -> dict[str, Any]:
        s = self.sortie
        return {"id": s.id, "mission_id": s.mission_id, "title": s.title, "status": s.status,
                "claimed_by": self.claimant, "progress": s.progress,
                "progress_note": s.progress_note, "files": list(s.files),
                "last_activity": self.last_activity, "idle_seconds": int(self.idle),
                "idle": format_duration(self.idle), "why": self.why}


#: Live claimed sorties (``CLAIMED``, two parameters) of open missions.
_CLAIMED_WHERE = ("s.status IN (?, ?) AND s.deleted = 0 AND EXISTS (SELECT 1 FROM missions m "
                  "WHERE m.id = s.mission_id AND m.deleted = 0 AND "
                  "m.status IN ('pending', 'in_progress'))")


def _docs(rows: list[Row]) -> list[Row]:
    return [(jsonload.loads(r[0]), *r[1:]) for r in rows]


def _docs_by_id(rows: list[Row]) -> list[Row]:
    docs = jsonload.loads_many([r[1] for r in rows])  # one parse for the lot
    return [(r[0], doc) for r, doc in zip(rows, docs, strict=True)]


def claimed_sorties(reads: ReadView, *, mission_id: str | None = None,
                    catch_up: bool = True) -> list[Sortie]:
    """The live claimed (assigned, in-progress) sorties of open missions, oldest first."""
    where = ""
    args: list[Any] = list(CLAIMED)
    if mission_id is not None:
        where = " AND s.mission_id = ?"
        args.append(mission_id)
    rows = reads.read(
        f"SELECT s.doc FROM sorties s WHERE {_CLAIMED_WHERE}{where} "
        "ORDER BY s.ord_clock, s.ord_writer, s.ord_n, s.id", args, catch_up=catch_up,
        decode=_docs)
    return [Sortie.from_doc(r[0]) for r in rows]


def find_stale(reads: ReadView, *, now: float, stale_after: float,
               mission_id: str | None = None, catch_up: bool = True,
               only: Iterable[str] | None = None) -> list[StaleSortie]:
    """The stale sorties (of ``mission_id``, or of every open mission; of ``only``, when
    given), oldest first. ``now`` is epoch seconds; activity at or after
    ``now - stale_after`` keeps a sortie fresh."""
    # (id, mission, claimant, updated_at) of every claimed sortie: SQLite takes the time out
    # of the stored document, so the common answer (nothing stale) decodes nothing here
    claimed = reads.read(
        "SELECT s.id, s.mission_id, s.claimed_by, json_extract(CAST(s.doc AS TEXT), "
        f"'$.updated_at') FROM sorties s WHERE {_CLAIMED_WHERE} "
        "ORDER BY s.ord_clock, s.ord_writer, s.ord_n, s.id", CLAIMED, catch_up=catch_up)
    # the claimant's newest work on any claimed sortie, across missions
    busy: dict[str, tuple[str, str]] = {}
    for sid, _m, claimant, updated in claimed:
        if claimant is not None and (updated or "") > busy.get(claimant, ("", ""))[0]:
            busy[claimant] = (updated, sid)
    wanted = None if only is None else set(only)
    cutoff = iso(now - stale_after)
    looking: dict[str, tuple[str, str]] = {}
    for sid, mission, claimant, updated in claimed:
        if (mission_id is not None and mission != mission_id) or \
                (wanted is not None and sid not in wanted):
            continue
        last, why = updated or "", f"last event on sortie {sid}"
        if claimant in busy and busy[claimant][0] > last:
            last, other = busy[claimant]
            why = f"last event on its other sortie {other}"
        if last < cutoff:
            looking[sid] = (last, why)
    if not looking:
        return []
    ids = list(looking)
    docs: dict[str, Any] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        part = ids[i:i + _IN_CHUNK]
        docs.update(reads.read(f"SELECT id, doc FROM sorties WHERE id IN "
                               f"({','.join('?' * len(part))})", part, catch_up=False,
                               decode=_docs_by_id))
    candidates = [(Sortie.from_doc(docs[sid]), *looking[sid]) for sid in ids if sid in docs]
    candidates, last_seq = _stream_activity(reads, candidates, catch_up=False)
    seen = _actor_activity(reads, candidates, cutoff, last_seq)
    out = []
    for s, last, why in candidates:
        found = seen.get(s.claimed_by or "")
        if last >= cutoff or (found is not None and found[0] >= cutoff):
            continue
        if found is not None and found[0] > last:
            last, why = found
        try:
            idle = now - epoch(last)
        except ValueError:
            idle = stale_after
        out.append(StaleSortie(s, s.claimed_by, last, idle, why))
    return out


def _stream_activity(reads: ReadView, candidates: list[tuple[Sortie, str, str]], *,
                     catch_up: bool,
                     ) -> tuple[list[tuple[Sortie, str, str]], dict[str, int]]:
    """``candidates`` with their last activity moved to the newest event on the sortie's
    stream when that is newer: a note appended to ``sortie:<id>`` (which the sortie's own
    state does not record) counts, whoever appended it. One query per ``_IN_CHUNK``
    sorties: the newest line of each stream, found on the ``events_stream`` index. Also
    returns that line's ``seq`` by stream (streams with no event have none)."""
    streams = [f"sortie:{s.id}" for s, _last, _why in candidates]
    newest: dict[str, tuple[Any, Any, Any]] = {}
    last_seq: dict[str, int] = {}
    for i in range(0, len(streams), _IN_CHUNK):
        part = streams[i:i + _IN_CHUNK]
        # SQLite takes time, type and actor out of the stored line (a line that is not
        # JSON, which only damage to the cache could make, gives none)
        rows = reads.read(
            f"SELECT stream, seq, {_FIELD.format('time')}, {_FIELD.format('type')}, "
            f"{_FIELD.format('actor')} FROM events WHERE seq IN (SELECT MAX(seq) FROM events "
            f"WHERE stream IN ({','.join('?' * len(part))}) GROUP BY stream)", part,
            catch_up=catch_up and i == 0)
        newest.update((r[0], r[2:]) for r in rows)
        last_seq.update((r[0], r[1]) for r in rows)
    out = []
    for (s, last, why), stream in zip(candidates, streams, strict=True):
        when, type_, actor = newest.get(stream, (None, None, None))
        if isinstance(when, str) and when > last:
            last, why = when, f"{type_} by {actor} on sortie {s.id}"
        out.append((s, last, why))
    return out, last_seq


#: One field of an event's stored line, or NULL where the line is no JSON object.
_FIELD = ("CASE WHEN json_valid(CAST(raw AS TEXT)) THEN "
          "json_extract(CAST(raw AS TEXT), '$.{}') END")


def _actor_activity(reads: ReadView, candidates: Sequence[tuple[Sortie, str, str]],
                    cutoff: str, last_seq: dict[str, int]) -> dict[str, tuple[str, str]]:
    """For each claimant of ``candidates``: the time and type of its newest event since
    the last event of its stale-looking sorties (if any, and newer than those).
    ``last_seq``: the ``seq`` of each sortie stream's newest event."""
    by_claimant: dict[str, list[str]] = {}
    for s, _last, _why in candidates:
        if s.claimed_by is not None:
            by_claimant.setdefault(s.claimed_by, []).append(f"sortie:{s.id}")
    out: dict[str, tuple[str, str]] = {}
    for name, streams in by_claimant.items():
        after = min((last_seq[st] for st in streams if st in last_seq), default=0)
        needle = b'"actor":' + _json_string(name)
        rows = reads.read("SELECT raw FROM events WHERE seq > ? AND instr(raw, ?) > 0 "
                          "ORDER BY seq DESC LIMIT ?", (after, needle, _ACTOR_PROBE),
                          catch_up=False)
        for (raw,) in rows:
            try:
                ev = jsonload.loads(raw)
            except jsonload.JSONDecodeError:
                continue
            when = ev.get("time")
            if ev.get("actor") != name or not isinstance(when, str):
                continue
            if when > out.get(name, ("", ""))[0]:
                out[name] = (when, f"{ev.get('type')} by {name} on {ev.get('stream')}")
            if when >= cutoff:
                break
    return out


def _json_string(text: str) -> bytes:
    """``text`` as orjson writes a JSON string (what the log holds), without orjson."""
    from ..kernel.jsondump import compact_text

    return compact_text(text).encode("utf-8")


def summary(reads: ReadView, *, now: float, stale_after: float) -> dict[str, Any]:
    """The ``stale`` part of ``status`` and ``ready``: how many, which, and the command
    that recovers them (``ready`` and ``status`` read it on every run, without loading
    recovery or the checkpoints themselves)."""
    found = find_stale(reads, now=now, stale_after=stale_after)
    return {"count": len(found), "stale_after": format_duration(stale_after),
            "stale_after_seconds": stale_after, "sorties": [s.to_json() for s in found],
            "hint": hint(len(found)) or None}


def hint(count: int) -> str:
    """What ``status`` and ``ready`` say when work is stale ("" when none is)."""
    if not count:
        return ""
    return f"{count} sortie{'' if count == 1 else 's'} stale: fleet-hive recover"
