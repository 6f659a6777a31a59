"""``fleet-hive history``: what the fleet did between two commits, for a pull request.

The events of a range are the lines added to ``.fleet/events/`` between the trees of the
two commits (:func:`fleet_hive.git.history.events_between`: segments are append-only,
so a segment's new lines are its new events). They are summarised per mission (created,
started, finished; its sorties with who claimed them and how they ended), per actor,
and per stream type for everything else, plus conflicts and checkpoints. Event types
are read generically (``<stream type>_<verb>``), so types this module does not know
still show up.

What a mission or sortie *is* at the end of the range is not read off its last event: each
stream the range touched is folded whole, as of ``until``, by the same fold as ``show``
(:mod:`fleet_hive.missions.fold`). So the summary's statuses, claims and progress are
those of the state, events that did not apply are marked (``applied: false``), and the
conflicts are the fold's: the open ones, and those with a fact in the range.

:func:`render_markdown` renders ``templates/history.md.j2``, ready to paste into a pull
request description; :meth:`History.to_json` is the same for tools.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..events.envelope import Event
from ..kernel.errors import InvalidInputError, NotFoundError
from ..missions.fold import MissionFolder, SortieFolder

if TYPE_CHECKING:
    from .hive import Hive

#: verb of ``mission_<verb>`` / ``sortie_<verb>`` -> the status it leads to.
MISSION_VERBS = {"created": "pending", "started": "in_progress", "completed": "completed",
                 "cancelled": "cancelled", "reopened": "in_progress", "deleted": "deleted"}
SORTIE_VERBS = {"added": "pending", "claimed": "assigned", "started": "in_progress",
                "completed": "completed", "failed": "failed", "blocked": "blocked",
                "unblocked": "in_progress", "cancelled": "cancelled", "retried": "pending",
                "deleted": "deleted"}
#: Sortie events that end a try.
OUTCOMES = ("completed", "failed", "cancelled")
#: What a line of "who did what" says for an event type.
PHRASES = {
    "mission_created": "created mission {name}", "mission_started": "started mission {name}",
    "mission_completed": "completed mission {name}",
    "mission_cancelled": "cancelled mission {name}",
    "mission_reopened": "reopened mission {name}", "mission_deleted": "deleted mission {name}",
    "sortie_added": "added sortie {name}", "sortie_claimed": "claimed sortie {name}",
    "sortie_started": "started sortie {name}", "sortie_completed": "completed sortie {name}",
    "sortie_failed": "failed sortie {name}", "sortie_blocked": "blocked sortie {name}",
    "sortie_unblocked": "unblocked sortie {name}", "sortie_cancelled": "cancelled sortie {name}",
    "sortie_retried": "retried sortie {name}", "sortie_progressed": "reported progress on {name}",
    "mission_updated": "updated mission {name}", "sortie_updated": "updated sortie {name}",
    "checkpoint_created": "checkpointed {name}",
    "outcome_recorded": "recorded the outcome of {name}",
}


@dataclass
class SortieSummary:
    id: str
    mission_id: str | None
    title: str = ""
    added: bool = False  # added within the range
    status: str | None = None  # its status as of ``until`` (None: no event in the range)
    claimed_by: str | None = None
    progress: int | None = None
    reason: str = ""  # of the last transition that gave one
    actors: list[str] = field(default_factory=list)
    events: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    #: its last dispatch try under worktree isolation (``sortie_try_ended``): the merge
    #: commit, whether verify passed, the branch, the files it changed
    merge: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "mission_id": self.mission_id, "title": self.title,
                "added": self.added, "status": self.status, "claimed_by": self.claimed_by,
                "progress": self.progress, "reason": self.reason, "actors": self.actors,
                "events": self.events, "outcomes": self.outcomes, "merge": self.merge}


@dataclass
class MissionSummary:
    id: str
    title: str = ""
    created: bool = False
    status: str | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    sorties: list[SortieSummary] = field(default_factory=list)
    events: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "cancelled")

    def counts(self) -> dict[str, int]:
        return dict(Counter(s.status or "unchanged" for s in self.sorties))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "created": self.created,
                "status": self.status, "finished": self.finished,
                "transitions": self.transitions, "sorties": [s.to_json() for s in self.sorties],
                "sortie_counts": self.counts(), "events": self.events}


@dataclass
class History:
    since: str | None  # commit id, None for the root
    until: str
    since_label: str
    until_label: str
    mission: str | None = None
    commits: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    missions: list[MissionSummary] = field(default_factory=list)
    actors: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "since_label": self.since_label,
                "until_label": self.until_label, "mission": self.mission,
                "commits": self.commits, "events": self.events,
                "missions": [m.to_json() for m in self.missions], "actors": self.actors,
                "conflicts": self.conflicts, "checkpoints": self.checkpoints,
                "streams": self.streams}


def history(hive: Hive, *, since: str | None = None, until: str = "HEAD",
            mission: str | None = None) -> History:
    """Summarise the events added between ``since`` and ``until``.

    ``since`` defaults to the merge-base of ``until`` with the default branch (origin's
    HEAD, else ``main``/``master``), or the root when ``until`` is on that branch.
    """
    git = hive.git
    until_id = git.resolve(until)
    since_label = since or ""
    if since is not None:
        since_id: bytes | None = git.resolve(since)
    else:
        since_id = None
        default = git.default_branch()
        if default is not None:
            base = git.merge_base(until_id, git.resolve(default.decode()))
            if base is not None and base != until_id:
                since_id = base
                since_label = default.decode().removeprefix("refs/heads/") \
                    .removeprefix("refs/remotes/")
    if since_id is None:
        since_label = "the root"
    events = git.events_between(since_id, until_id)
    result = History(since_id.decode() if since_id else None, until_id.decode(), since_label,
                     until, mission, commits=git.commits_between(since_id, until_id))
    touched = {ev["stream"] for ev in events if _folded_kind(ev["stream"])}
    summarise(result, events, titles=_title_lookup(hive), mission=mission,
              streams=git.stream_events(until_id, touched))
    return result


def summarise(result: History, events: list[dict[str, Any]], *,
              titles: Any = None, mission: str | None = None,
              streams: dict[str, list[dict[str, Any]]] | None = None) -> History:
    """Fill ``result`` from ``events`` (envelope dicts in total order). Pure.

    ``streams`` holds every event, as of the end of the range, of each mission and sortie
    stream the range touched (in total order); their folds give the states and the
    conflicts. Without it the range's own events are taken as the whole streams."""
    sortie_mission: dict[str, str] = {}
    for ev in events:
        kind, _, sid = ev["stream"].partition(":")
        data = ev.get("data") or {}
        if kind == "sortie" and isinstance(data.get("mission_id"), str):
            sortie_mission[sid] = data["mission_id"]
        elif kind == "sortie" and isinstance(ev.get("correlation_id"), str) \
                and ev["correlation_id"].startswith("m-"):
            sortie_mission.setdefault(sid, ev["correlation_id"])
    if mission is not None:
        mission = _match_mission(mission, events, sortie_mission)
        result.mission = mission
        events = [ev for ev in events if _belongs(ev, mission, sortie_mission)]
    result.events = len(events)
    missions: dict[str, MissionSummary] = {}
    sorties: dict[str, SortieSummary] = {}
    actors: dict[str, dict[str, Any]] = {}
    others: dict[str, Counter[str]] = defaultdict(Counter)

    def mission_of(mid: str) -> MissionSummary:
        if mid not in missions:
            missions[mid] = MissionSummary(mid, title=_lookup(titles, "mission", mid))
        return missions[mid]

    def sortie_of(sid: str) -> SortieSummary:
        if sid not in sorties:
            mid = sortie_mission.get(sid)
            sorties[sid] = SortieSummary(sid, mid, title=_lookup(titles, "sortie", sid))
        return sorties[sid]

    for ev in events:
        etype, stream, actor = ev["type"], ev["stream"], str(ev.get("actor") or "?")
        kind, _, sid = stream.partition(":")
        data = ev.get("data") or {}
        prefix, _, verb = etype.partition("_")
        person = actors.setdefault(actor, {"actor": actor, "events": 0, "did": Counter()})
        person["events"] += 1
        name = sid
        if kind == "mission" and prefix == "mission":
            m = mission_of(sid)
            m.events += 1
            if verb == "created":
                m.created = True
                m.title = str(data.get("title") or m.title)
            if verb in MISSION_VERBS:
                m.status = MISSION_VERBS[verb]
                m.transitions.append({"type": etype, "status": m.status, "actor": actor,
                                      "time": ev.get("time"), "reason": data.get("reason", ""),
                                      "event": ev["id"], "applied": True})
            name = _named(m.title, sid)
        elif kind == "sortie" and prefix == "sortie":
            s = sortie_of(sid)
            s.events += 1
            if actor not in s.actors:
                s.actors.append(actor)
            if verb == "added":
                s.added = True
                s.title = str(data.get("title") or s.title)
                if isinstance(data.get("mission_id"), str):
                    s.mission_id = data["mission_id"]
            if verb == "claimed":
                s.claimed_by = str(data.get("specialist") or actor)
            if verb == "progressed" and isinstance(data.get("percent"), int):
                s.progress = data["percent"]
            if verb in OUTCOMES:
                s.outcomes.append({"outcome": verb, "actor": actor, "event": ev["id"],
                                   "writer": ev.get("writer"), "time": ev.get("time"),
                                   "reason": data.get("reason", ""), "applied": True})
            if verb == "completed":
                s.progress = 100
            if verb in SORTIE_VERBS:
                s.status = SORTIE_VERBS[verb]
            if data.get("reason"):
                s.reason = str(data["reason"])
            name = _named(s.title, sid)
        else:
            others[kind][etype] += 1
            if etype == "sortie_try_ended" and isinstance(data.get("sortie_id"), str) \
                    and data.get("merged") is not None:  # a try in its own worktree
                t = sortie_of(data["sortie_id"])
                if t.mission_id is None and isinstance(data.get("mission_id"), str):
                    t.mission_id = data["mission_id"]
                t.merge = {k: data.get(k) for k in ("merge_commit", "merged", "verified",
                                                    "branch", "changed_files", "refused",
                                                    "attempt")}
            if etype.startswith("checkpoint_"):
                result.checkpoints.append({
                    "type": etype, "stream": stream, "actor": actor, "time": ev.get("time"),
                    "mission_id": data.get("mission_id") or ev.get("correlation_id"),
                    "trigger": data.get("trigger"), "progress": data.get("progress"),
                    "id": data.get("checkpoint_id") or sid})
        if "conflict" in etype and not _folded_kind(stream):  # another capability's
            result.conflicts.append(_conflict(etype, stream, detail=str(data.get("reason", "")),
                                              actor=actor, event=ev["id"],
                                              mission_id=sortie_mission.get(sid)))
        phrase = PHRASES.get(etype)
        person["did"][phrase.format(name=name) if phrase else etype] += 1

    if streams is None:
        streams = defaultdict(list)
        for ev in events:
            streams[ev["stream"]].append(ev)
    in_range = {ev["id"] for ev in events}
    for mid, m in missions.items():
        if m.events:
            _fold_mission(result, m, streams.get(f"mission:{mid}", []), in_range)
    for s in sorties.values():
        if s.events:
            _fold_sortie(result, s, streams.get(f"sortie:{s.id}", []), in_range)
    for s in sorties.values():
        if s.mission_id is not None:
            mission_of(s.mission_id).sorties.append(s)
    orphans = [s for s in sorties.values() if s.mission_id is None]
    if orphans:
        missions["?"] = MissionSummary("?", "sorties of unknown missions", sorties=orphans)
    for m in missions.values():
        if not m.title:
            m.title = m.id
        for s in m.sorties:
            s.title = s.title or s.id
    result.missions = sorted(missions.values(), key=lambda m: (not m.created, m.id))
    result.actors = [{"actor": a["actor"], "events": a["events"],
                      "did": [f"{what} (×{n})" if n > 1 else what  # noqa: RUF001
                              for what, n in a["did"].most_common()]}
                     for a in sorted(actors.values(), key=lambda a: (-a["events"], a["actor"]))]
    result.streams = [{"type": kind, "events": sum(c.values()), "types": dict(c.most_common())}
                      for kind, c in sorted(others.items())]
    return result


def _folded_kind(stream: str) -> bool:
    return stream.startswith(("mission:", "sortie:"))


def _events(dicts: list[dict[str, Any]]) -> list[Event]:
    out = []
    for d in dicts:
        try:
            out.append(Event.from_dict(d))
        except (KeyError, TypeError, ValueError):
            continue  # not an envelope this version can read: the index skips it too
    return out


def _fold_mission(result: History, m: MissionSummary, dicts: list[dict[str, Any]],
                  in_range: set[str]) -> None:
    folder = MissionFolder()
    state = folder.fold(_events(dicts))
    if state is None:
        return
    m.title = state.title or m.title
    m.status = "deleted" if state.deleted else state.status
    for t in m.transitions:
        t["applied"] = t["event"] in folder.history.applied
    _fold_conflicts(result, f"mission:{m.id}", m.title, m.id, state.conflicts, in_range)


def _fold_sortie(result: History, s: SortieSummary, dicts: list[dict[str, Any]],
                 in_range: set[str]) -> None:
    folder = SortieFolder()
    state = folder.fold(_events(dicts))
    if state is None:
        return
    s.title = state.title or s.title
    s.mission_id = state.mission_id or s.mission_id
    s.status = "deleted" if state.deleted else state.status
    s.claimed_by, s.progress, s.reason = state.claimed_by, state.progress, state.reason
    for o in s.outcomes:
        o["applied"] = o["event"] in folder.history.applied
    _fold_conflicts(result, f"sortie:{s.id}", s.title, s.mission_id, state.conflicts, in_range)


def _fold_conflicts(result: History, stream: str, title: str, mission_id: str | None,
                    conflicts: list[dict[str, Any]], in_range: set[str]) -> None:
    """The fold's conflicts that concern the range: open ones, and any with a fact in it."""
    for c in conflicts:
        is_open = not c.get("resolved_by")
        if not is_open and not any(f["event_id"] in in_range for f in c["facts"]):
            continue
        state = "open" if is_open else f"resolved by {c['resolved_by']}"
        kept = f"; the state kept {c['kept']}" if c.get("kept") else ""
        entry = _conflict(c["kind"], stream, title=title, mission_id=mission_id,
                          detail=f"{c['message']}{kept} ({state})", facts=c["facts"])
        entry.update(open=is_open, kept=c.get("kept"), resolved_by=c.get("resolved_by"))
        result.conflicts.append(entry)


def render_markdown(h: History) -> str:
    from ..formats.templates import render

    return render("history.md.j2", h=h, missions=h.missions, icon=_ICONS)


_ICONS = {"completed": "✅", "failed": "❌", "cancelled": "🚫", "blocked": "⛔",
          "in_progress": "🔄", "assigned": "👤", "pending": "⏳", "deleted": "🗑"}


def _conflict(kind: str, stream: str, *, title: str = "", mission_id: str | None = None,
              detail: str = "", actor: str | None = None, event: str | None = None,
              facts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"kind": kind, "stream": stream, "title": title, "mission_id": mission_id,
            "detail": detail, "actor": actor, "event": event, "facts": facts or []}


def _named(title: str, ident: str) -> str:
    return f"“{title}”" if title else ident


def _lookup(titles: Any, kind: str, ident: str) -> str:
    if titles is None:
        return ""
    try:
        return titles(kind, ident) or ""
    except Exception:  # the index is a convenience here: the range's own events suffice
        return ""


def _title_lookup(hive: Hive) -> Any:
    """Titles of missions/sorties created before the range, from the index cache."""

    def lookup(kind: str, ident: str) -> str:
        for ev in hive.events.by_stream(f"{kind}:{ident}"):
            title = ev.data.get("title")
            if isinstance(title, str) and title:
                return title
        return ""

    return lookup


def _belongs(ev: dict[str, Any], mission: str, sortie_mission: dict[str, str]) -> bool:
    kind, _, ident = ev["stream"].partition(":")
    data = ev.get("data") or {}
    return ((kind == "mission" and ident == mission) or ev.get("correlation_id") == mission
            or data.get("mission_id") == mission
            or (kind == "sortie" and sortie_mission.get(ident) == mission))


def _match_mission(prefix: str, events: list[dict[str, Any]],
                   sortie_mission: dict[str, str]) -> str:
    """The one mission of the range whose id starts with ``prefix`` (``m-`` optional)."""
    prefix = prefix.strip().lower()
    if not prefix:
        raise InvalidInputError("empty mission id")
    if not prefix.startswith("m-"):
        prefix = "m-" + prefix
    known: set[str] = {ev["stream"].partition(":")[2] for ev in events
                       if ev["stream"].startswith("mission:")}
    known |= set(sortie_mission.values())
    known |= {ev["correlation_id"] for ev in events
              if isinstance(ev.get("correlation_id"), str)
              and ev["correlation_id"].startswith("m-")}
    if prefix in known:
        return prefix
    matches = sorted(m for m in known if m.startswith(prefix))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidInputError(f"mission id prefix {prefix!r} is ambiguous: "
                                f"{', '.join(matches[:10])}", code="ambiguous_id",
                                hint="give more characters of the id")
    raise NotFoundError(f"no mission {prefix!r} has events in this range",
                        hint="check the id, or widen the range with --since")
