"""``hive.missions`` and ``hive.sorties``: the use cases, over the log and the index.

Reads query the index's projection tables (:mod:`.projection`) and never fold the log.
Every write runs under the clone's writer lock (``hive.log.exclusive()``): catch the index
up, load the current state, decide (:mod:`.decide`, pure), append the events, catch up
again and regenerate the mission's snapshot. No other process can append in between, so a
decision is made on the latest state; that is what makes ``sortie claim`` atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..kernel.errors import InvalidInputError, NotFoundError
from . import decide as d
from .model import (
    MISSION_PREFIX,
    MISSION_STATUSES,
    SORTIE_PREFIX,
    SORTIE_STATUSES,
    Mission,
    Sortie,
    mission_progress,
    new_id,
)

if TYPE_CHECKING:
    from ..app.hive import Hive
    from ..events.envelope import Event

_ORDER = "priority, ord_clock, ord_writer, ord_n, id"
_CREATED = "ord_clock, ord_writer, ord_n, id"
_LIVE_SORTIE = ("s.deleted = 0 AND EXISTS (SELECT 1 FROM missions m WHERE m.id = s.mission_id "
                "AND m.deleted = 0)")
_UNMET = ("EXISTS (SELECT 1 FROM sortie_deps d LEFT JOIN sorties t ON t.id = d.depends_on "
          "WHERE d.sortie_id = s.id AND (t.id IS NULL OR (t.deleted = 0 "
          "AND t.status != 'completed')))")
_READY = (f"s.status = 'pending' AND s.claimed_by IS NULL AND s.deleted = 0 AND EXISTS "
          "(SELECT 1 FROM missions m WHERE m.id = s.mission_id AND m.deleted = 0 "
          f"AND m.status IN ('pending', 'in_progress')) AND NOT {_UNMET}")


def _page(limit: int | None, offset: int | None) -> tuple[str, list[int]]:
    if (limit is not None and limit < 0) or (offset is not None and offset < 0):
        raise InvalidInputError("--limit and --offset must not be negative")
    if limit is None and not offset:
        return "", []
    return " LIMIT ? OFFSET ?", [-1 if limit is None else limit, offset or 0]


class _Part:
    def __init__(self, hive: Hive) -> None:
        self.hive = hive

    def _read(self, sql: str, args: Sequence[Any] = (), *, catch_up: bool = True,
              ) -> list[tuple]:
        return self.hive.index.read(sql, args, catch_up=catch_up)

    # -- ids -----------------------------------------------------------------------------
    def _resolve(self, kind: str, ref: str, *, catch_up: bool = True) -> str:
        """The full id for ``ref`` (an id or a unique prefix, with or without ``m-``/``s-``)."""
        table, prefix = ("missions", MISSION_PREFIX) if kind == "mission" else \
            ("sorties", SORTIE_PREFIX)
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInputError(f"a {kind} id is required")
        text = ref.strip().lower()
        if not text.startswith(prefix):
            text = prefix + text
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in text):
            raise NotFoundError(f"no {kind} matches {ref!r}", hint=f"list them: fleet-hive "
                                f"{kind} list")
        live = "deleted = 0" if kind == "mission" else \
            ("deleted = 0 AND EXISTS (SELECT 1 FROM missions m WHERE m.id = sorties.mission_id"
             " AND m.deleted = 0)")
        rows = self._read(
            f"SELECT id, {live} FROM {table} WHERE id >= ? AND id < ? ORDER BY id LIMIT 21",
            (text, text + "~"), catch_up=catch_up)
        matches = [r[0] for r in rows if r[1]]
        exact = [r for r in rows if r[0] == text]
        if exact and not exact[0][1]:
            raise NotFoundError(f"{kind} {text} was deleted", hint="deletion is permanent; "
                                "its events stay in the log")
        if len(matches) == 1:
            return matches[0]
        if not matches:
            if rows:
                raise NotFoundError(f"{kind} {rows[0][0]} was deleted")
            raise NotFoundError(f"no {kind} matches {ref!r}",
                                hint=f"list them: fleet-hive {kind} list")
        if text in matches:
            return text
        shown = ", ".join(matches[:10]) + (", ..." if len(matches) > 10 else "")
        raise InvalidInputError(f"ambiguous {kind} id {ref!r}: matches {shown}",
                                code="ambiguous_id", hint="give more characters of the id")

    # -- writing -------------------------------------------------------------------------
    def _write(self, decision: Callable[[], list[d.Change]]) -> list[Event]:
        """Under the writer lock: catch up, decide, append, regenerate the snapshots."""
        from .snapshots import write_snapshot

        hive = self.hive
        with hive.log.exclusive():
            hive.index.catch_up()
            changes = decision()
            if not changes:
                return []
            pending = [hive.events.prepare(c.type, stream=c.stream, data=c.data,
                                           correlation_id=c.mission_id) for c in changes]
            stored = hive.events.append_pending(pending)
            hive.index.catch_up()
            for mission_id in dict.fromkeys(c.mission_id for c in changes):
                write_snapshot(hive, mission_id)
            return stored

    # -- loading (no catch-up: callers have caught up) -----------------------------------
    def _mission(self, mission_id: str) -> Mission:
        rows = self._read("SELECT doc FROM missions WHERE id = ?", (mission_id,),
                          catch_up=False)
        if not rows:
            raise NotFoundError(f"no mission {mission_id}")
        return Mission.from_doc(orjson.loads(rows[0][0]))

    def _sortie(self, sortie_id: str) -> Sortie:
        rows = self._read("SELECT doc FROM sorties WHERE id = ?", (sortie_id,), catch_up=False)
        if not rows:
            raise NotFoundError(f"no sortie {sortie_id}")
        return Sortie.from_doc(orjson.loads(rows[0][0]))

    def _siblings(self, mission_id: str) -> dict[str, Sortie]:
        """The live sorties of a mission, by id, in creation order."""
        rows = self._read(f"SELECT doc FROM sorties WHERE mission_id = ? AND deleted = 0 "
                          f"ORDER BY {_CREATED}", (mission_id,), catch_up=False)
        return {s.id: s for s in (Sortie.from_doc(orjson.loads(r[0])) for r in rows)}

    def _live(self, ids: Iterable[str]) -> dict[str, Sortie]:
        """The live sorties among ``ids`` (of any mission: the deciders refuse a
        dependency on another mission's sortie with a clear message)."""
        wanted = sorted(set(ids))
        out: dict[str, Sortie] = {}
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for (doc,) in self._read(f"SELECT doc FROM sorties WHERE deleted = 0 AND id IN "
                                     f"({marks})", chunk, catch_up=False):
                s = Sortie.from_doc(orjson.loads(doc))
                out[s.id] = s
        return out

    def _known(self, mission_id: str, refs: Iterable[str]) -> dict[str, Sortie]:
        """The mission's live sorties, plus the other live sorties named in ``refs``."""
        return {**self._live(refs), **self._siblings(mission_id)}

    def _missions_where(self, where: str, args: Sequence[Any], page: str = "",
                        page_args: Sequence[Any] = (), catch_up: bool = True,
                        ) -> list[Mission]:
        """Missions matching ``where``, most urgent first, with their progress."""
        rows = self._read(
            "SELECT doc, (SELECT group_concat(status || '=' || n) FROM mission_counts c "
            f"WHERE c.mission_id = missions.id) FROM missions WHERE {where} "
            f"ORDER BY {_ORDER}{page}", [*args, *page_args], catch_up=catch_up)
        out = []
        for doc, counts in rows:
            m = Mission.from_doc(orjson.loads(doc))
            if counts:
                pairs = (c.split("=") for c in counts.split(","))
                m.sortie_counts = dict(sorted((k, int(v)) for k, v in pairs))
            m.progress = mission_progress(m.status, m.sortie_counts)
            out.append(m)
        return out

    def _with_blockers(self, sorties: list[Sortie]) -> list[Sortie]:
        """Fill ``blocked_by``: dependencies not completed (or unknown to this clone)."""
        if not sorties:
            return sorties
        by_id = {s.id: s for s in sorties}
        for s in sorties:
            s.blocked_by = []
        for chunk in _chunks(list(by_id)):
            marks = ",".join("?" * len(chunk))
            for sortie_id, dep in self._read(
                "SELECT d.sortie_id, d.depends_on FROM sortie_deps d LEFT JOIN sorties t "
                f"ON t.id = d.depends_on WHERE d.sortie_id IN ({marks}) AND (t.id IS NULL OR "
                "(t.deleted = 0 AND t.status != 'completed'))", chunk, catch_up=False):
                by_id[sortie_id].blocked_by.append(dep)
        for s in sorties:
            order = {dep: i for i, dep in enumerate(s.depends_on)}
            s.blocked_by.sort(key=lambda dep, o=order: o.get(dep, len(o)))
        return sorties

    def _sorties_where(self, where: str, args: Sequence[Any], order: str = _ORDER,
                       limit: int | None = None, offset: int | None = None,
                       catch_up: bool = True, blockers: bool = True) -> list[Sortie]:
        page, page_args = _page(limit, offset)
        order_s = ", ".join(f"s.{c.strip()}" for c in order.split(","))
        rows = self._read(f"SELECT s.doc FROM sorties s WHERE {where} ORDER BY {order_s}{page}",
                          [*args, *page_args], catch_up=catch_up)
        sorties = [Sortie.from_doc(orjson.loads(r[0])) for r in rows]
        return self._with_blockers(sorties) if blockers else sorties


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def load_mission_state(hive: Hive, mission_id: str) -> tuple[Mission, list[Sortie]] | None:
    """A mission and all its sorties (deleted ones too), from the index without catching up."""
    rows = hive.index.read("SELECT doc FROM missions WHERE id = ?", (mission_id,),
                           catch_up=False)
    if not rows:
        return None
    mission = Mission.from_doc(orjson.loads(rows[0][0]))
    sorties = [Sortie.from_doc(orjson.loads(r[0])) for r in hive.index.read(
        f"SELECT doc FROM sorties WHERE mission_id = ? ORDER BY {_CREATED}", (mission_id,),
        catch_up=False)]
    return mission, sorties


class Missions(_Part):
    """``hive.missions``: create, list, show and change missions."""

    def resolve_id(self, ref: str) -> str:
        return self._resolve("mission", ref)

    def create(self, title: str, *, description: str | None = "", priority: int = 2,
               labels: Sequence[str] | None = ()) -> Mission:
        mission_id = new_id(MISSION_PREFIX)
        changes = d.create_mission(mission_id, title, description=description,
                                   priority=priority, labels=labels)  # validate first
        self._write(lambda: changes)
        if self.hive.config.auto_commit:  # a milestone: commit .fleet/ (storage.md 13)
            self.hive.git.auto_commit(f"mission {mission_id} created")
        return self.get(mission_id)

    def get(self, ref: str, *, sorties: bool = True) -> Mission:
        """One mission (by id or unique prefix) with its progress and, by default, its
        live sorties in creation order."""
        mission_id = self._resolve("mission", ref)
        (m,) = self._missions_where("id = ?", (mission_id,), catch_up=False)
        if sorties:
            m.sorties = self._with_blockers(list(self._siblings(mission_id).values()))
        return m

    def list(self, *, status: str | Sequence[str] | None = None,
             label: str | Sequence[str] | None = None, limit: int | None = None,
             offset: int | None = None) -> list[Mission]:
        """Live missions, most urgent first (priority 0 first), then oldest first.
        Several labels: missions having all of them. Several statuses: any of them."""
        where, args = ["deleted = 0"], []
        statuses = _as_list(status)
        if statuses:
            for s in statuses:
                if s not in MISSION_STATUSES:
                    raise InvalidInputError(f"unknown mission status {s!r}",
                                            hint="one of: " + ", ".join(MISSION_STATUSES))
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        labels = _as_list(label)
        if labels:
            where.append(f"id IN (SELECT mission_id FROM mission_labels WHERE label IN "
                         f"({','.join('?' * len(labels))}) GROUP BY mission_id "
                         "HAVING COUNT(*) = ?)")
            args += [*labels, len(set(labels))]
        page, page_args = _page(limit, offset)
        return self._missions_where(" AND ".join(where), args, page, page_args)

    def update(self, ref: str, *, title: str | None = None, description: str | None = None,
               priority: int | None = None, labels: Sequence[str] | None = None) -> Mission:
        mission_id = self._resolve("mission", ref)
        self._write(lambda: d.update_mission(self._mission(mission_id), title=title,
                                             description=description, priority=priority,
                                             labels=labels))
        return self.get(mission_id)

    def _transition(self, ref: str, action: str, reason: str | None, force: bool = False,
                    ) -> Mission:
        mission_id = self._resolve("mission", ref)

        def decision() -> list[d.Change]:
            m = self._mission(mission_id)
            open_ = d.open_sorties(list(self._siblings(mission_id).values())) \
                if action == "complete" else []
            return d.transition_mission(m, action, reason=reason, open_sorties=open_,
                                        force=force)

        self._write(decision)
        if action == "complete" and self.hive.config.auto_commit:  # a milestone
            self.hive.git.auto_commit(f"mission {mission_id} completed")
        return self.get(mission_id)

    def start(self, ref: str, *, reason: str | None = "") -> Mission:
        return self._transition(ref, "start", reason)

    def complete(self, ref: str, *, reason: str | None = "", force: bool = False) -> Mission:
        """Refused (TransitionError) while sorties are open, unless ``force``."""
        return self._transition(ref, "complete", reason, force)

    def cancel(self, ref: str, *, reason: str | None = "") -> Mission:
        return self._transition(ref, "cancel", reason)

    def reopen(self, ref: str, *, reason: str | None = "") -> Mission:
        return self._transition(ref, "reopen", reason)

    def delete(self, ref: str, *, reason: str | None = "") -> Mission:
        """Tombstone: the mission and its sorties leave every list; the log keeps them."""
        mission_id = self._resolve("mission", ref)
        self._write(lambda: d.delete_mission(self._mission(mission_id), reason=reason))
        (m,) = self._missions_where("id = ?", (mission_id,), catch_up=False)
        return m

    def resolve(self, ref: str, *, reason: str | None = "") -> Mission:
        """Acknowledge the mission's open conflicts (its status stays as it is)."""
        mission_id = self._resolve("mission", ref)
        self._write(lambda: d.resolve_mission(self._mission(mission_id), reason=reason))
        return self.get(mission_id)

    def refresh_snapshots(self) -> int:
        """Regenerate every live mission's snapshot (after a merge); returns how many."""
        from .snapshots import write_snapshot

        with self.hive.log.exclusive():
            self.hive.index.catch_up()
            ids = [r[0] for r in self._read("SELECT id FROM missions", catch_up=False)]
            for mission_id in ids:
                write_snapshot(self.hive, mission_id)
        return len(ids)


class Sorties(_Part):
    """``hive.sorties``: add, list, show, claim and move sorties through their states."""

    def resolve_id(self, ref: str) -> str:
        return self._resolve("sortie", ref)

    def add(self, mission: str, title: str, *, description: str | None = "",
            files: Sequence[str] = (), after: Sequence[str] = (),
            specialist: str | None = None, priority: int = 2) -> Sortie:
        """Add one sortie; ``after``: ids (or unique prefixes) of sorties of the same
        mission that must complete first."""
        (sortie,) = self.add_many(mission, [{
            "title": title, "description": description, "files": files, "after": after,
            "specialist": specialist, "priority": priority}])
        return sortie

    def add_many(self, mission: str, items: Sequence[Mapping[str, Any] | d.NewSortie],
                 ) -> list[Sortie]:
        """Add several sorties all-or-nothing (one batch). In an item's ``after``, an int
        is the index of an earlier item of the same call (a plan's ``depends_on``)."""
        mission_id = self._resolve("mission", mission)
        new = []
        for item in items:
            spec = item if isinstance(item, d.NewSortie) else d.NewSortie(**dict(item))
            after = [a if isinstance(a, int) and not isinstance(a, bool)
                     else self._resolve("sortie", a) for a in spec.after]
            new.append(d.NewSortie(spec.title, spec.description or "", list(spec.files or ()),
                                   after, spec.specialist, spec.priority,
                                   spec.id or new_id(SORTIE_PREFIX)))
        refs = [a for n in new for a in n.after if isinstance(a, str)]
        self._write(lambda: d.add_sorties(self._mission(mission_id), self._live(refs), new))
        return [self.get(n.id) for n in new]

    def get(self, ref: str) -> Sortie:
        sortie_id = self._resolve("sortie", ref)
        return self._with_blockers([self._sortie(sortie_id)])[0]

    def list(self, *, mission: str | None = None, status: str | Sequence[str] | None = None,
             ready: bool = False, limit: int | None = None, offset: int | None = None,
             ) -> list[Sortie]:
        """Live sorties, most urgent first then oldest; ``ready``: only those that can
        start now (see :meth:`ready`)."""
        where, args = [_READY if ready else _LIVE_SORTIE], []
        if mission is not None:
            where.append("s.mission_id = ?")
            args.append(self._resolve("mission", mission))
        statuses = _as_list(status)
        if statuses:
            for s in statuses:
                if s not in SORTIE_STATUSES:
                    raise InvalidInputError(f"unknown sortie status {s!r}",
                                            hint="one of: " + ", ".join(SORTIE_STATUSES))
            where.append(f"s.status IN ({','.join('?' * len(statuses))})")
            args += statuses
        # a ready sortie waits for nothing: no need to look its blockers up
        return self._sorties_where(" AND ".join(where), args, limit=limit, offset=offset,
                                   blockers=not ready)

    def ready(self, mission: str | None = None, limit: int | None = None) -> list[Sortie]:
        """Sorties that can start now: pending, unclaimed, every dependency completed (a
        deleted dependency no longer counts), in a pending or in-progress mission. Most
        urgent first (priority 0 first), then oldest."""
        return self.list(mission=mission, ready=True, limit=limit)

    def update(self, ref: str, *, title: str | None = None, description: str | None = None,
               files: Sequence[str] | None = None, after: Sequence[str] | None = None,
               priority: int | None = None, specialist: str | None = None) -> Sortie:
        """Change fields; ``files`` and ``after`` replace the lists (``[]`` clears them)."""
        sortie_id = self._resolve("sortie", ref)
        deps = None if after is None else [self._resolve("sortie", a) for a in after]

        def decision() -> list[d.Change]:
            s = self._sortie(sortie_id)
            return d.update_sortie(s, self._known(s.mission_id, deps or ()), title=title,
                                   description=description, files=files, after=deps,
                                   priority=priority, specialist=specialist)

        self._write(decision)
        return self.get(sortie_id)

    def claim(self, ref: str, *, specialist: str) -> Sortie:
        """Atomic across processes: of two racing claims one wins, the other gets a
        ConflictError (or TransitionError), both exit code 3."""
        sortie_id = self._resolve("sortie", ref)

        def decision() -> list[d.Change]:
            s = self._sortie(sortie_id)
            return d.claim_sortie(s, self._mission(s.mission_id), specialist,
                                  self._live(s.depends_on))

        self._write(decision)
        return self.get(sortie_id)

    def _transition(self, ref: str, action: str, reason: str | None) -> Sortie:
        sortie_id = self._resolve("sortie", ref)
        self._write(lambda: d.transition_sortie(self._sortie(sortie_id), action,
                                                reason=reason))
        return self.get(sortie_id)

    def start(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "start", reason)

    def complete(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "complete", reason)

    def fail(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "fail", reason)

    def block(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "block", reason)

    def unblock(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "unblock", reason)

    def cancel(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "cancel", reason)

    def retry(self, ref: str, *, reason: str | None = "") -> Sortie:
        return self._transition(ref, "retry", reason)

    def progress(self, ref: str, percent: int, *, note: str | None = "") -> Sortie:
        sortie_id = self._resolve("sortie", ref)
        self._write(lambda: d.progress_sortie(self._sortie(sortie_id), percent, note=note))
        return self.get(sortie_id)

    def delete(self, ref: str, *, reason: str | None = "") -> Sortie:
        """Tombstone: gone from lists and ``ready``; no longer blocks its dependents."""
        sortie_id = self._resolve("sortie", ref)
        self._write(lambda: d.delete_sortie(self._sortie(sortie_id), reason=reason))
        return self._sortie(sortie_id)

    def resolve(self, ref: str, *, reason: str | None = "") -> Sortie:
        """Acknowledge the sortie's open conflicts (its status stays as it is)."""
        sortie_id = self._resolve("sortie", ref)
        self._write(lambda: d.resolve_sortie(self._sortie(sortie_id), reason=reason))
        return self.get(sortie_id)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def status_report(hive: Hive) -> dict[str, Any]:
    """What ``fleet-hive status`` shows, as one JSON-ready object."""
    index_status = hive.index.status().to_json()  # before anything else catches up
    missions = Missions(hive)
    sorties = Sorties(hive)
    open_missions = missions.list(status=["pending", "in_progress"])
    counts = dict(missions._read("SELECT status, COUNT(*) FROM missions WHERE deleted = 0 "
                                 "GROUP BY status ORDER BY status", catch_up=False))
    active = sorties._sorties_where(
        f"{_LIVE_SORTIE} AND s.status IN ('assigned', 'in_progress')", (), catch_up=False)
    blocked = sorties._sorties_where(
        f"{_LIVE_SORTIE} AND (s.status = 'blocked' OR (s.status = 'pending' AND {_UNMET}))",
        (), catch_up=False)
    conflicts: list[dict[str, Any]] = []
    for m in missions._read("SELECT doc FROM missions WHERE deleted = 0 AND open_conflicts > 0 "
                            f"ORDER BY {_CREATED}", catch_up=False):
        mission = Mission.from_doc(orjson.loads(m[0]))
        conflicts += [{"mission_id": mission.id, "sortie_id": None, "title": mission.title,
                       **c} for c in mission.open_conflicts]
    for s in sorties._sorties_where(f"{_LIVE_SORTIE} AND s.open_conflicts > 0", (),
                                    order=_CREATED, catch_up=False):
        conflicts += [{"mission_id": s.mission_id, "sortie_id": s.id, "title": s.title, **c}
                      for c in s.open_conflicts]
    return {
        "missions": [m.to_json() for m in open_missions],
        "mission_counts": {s: counts.get(s, 0) for s in MISSION_STATUSES},
        "active_sorties": [s.to_json() for s in active],
        "blocked": [s.to_json() for s in blocked],
        "conflicts": conflicts,
        "reservations": _reservations(hive),
        "index": index_status,
    }


def _reservations(hive: Hive) -> list[dict[str, Any]]:
    try:
        active = hive.reservations.active()
    except (ImportError, AttributeError):
        return []  # reservations are not available in this build
    return [r.to_json() for r in active]
