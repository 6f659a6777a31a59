"""The context brief of a mission: what an agent (an LLM) needs to pick the work up.

:func:`build_brief` turns a mission, its sorties, the reservations and the stale work into
plain data (pure: no storage, no clock); :func:`render_brief` renders it as Markdown from
``templates/checkpoints/context.md.j2``, or as JSON, within a **hard byte cap**.

The cap counts UTF-8 bytes of the whole output, pointer lines included. The template
renders every section in full; the brief is then cut by whole lines, never inside one:
sections are ranked (:data:`RANK`: the mission itself first, then the specialist's own
sortie, the work in flight, what is next, the last error, blockers, the goal, ...): in
rank order every section first gets one item, then up to three, then the rest of the
budget goes to the sections in rank order. Each section cut ends with a pointer to the full form
(``- … 180 more ready sorties: fleet-hive context M --max-bytes 0``); a section with no
room at all is named on the last line. The same brief is what ``recover`` and a resumed
checkpoint print, and what a dispatcher hands an agent restarted on a sortie.

The mail section lists the mission's recent messages (newest first, bodies on one line),
given by the caller (the mail capability, through a port); it is always there, saying so
when there is none, so a prompt built on the brief keeps its shape.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence

from ..kernel.errors import InvalidInputError
from ..kernel.jsondump import dumps
from ..kernel.patterns import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..missions.model import Mission, Sortie
    from .stale import StaleSortie

DEFAULT_MAX_BYTES = 8192
#: The smallest cap that still names the mission (``--max-bytes 0`` means no cap).
MIN_MAX_BYTES = 256
TEMPLATE = "checkpoints/context.md.j2"
#: Sections in the order the template renders them, with their ``## `` headings (the
#: specialist's is ``## You: NAME``).
HEADINGS = {"goal": "Goal", "specialist": "You", "in_flight": "In flight",
            "next": "Next: ready to claim", "last_error": "Last error", "blockers": "Blockers",
            "reservations": "Reservations", "mail": "Recent mail",
            "waiting": "Waiting on dependencies", "done": "Done"}
SECTIONS = tuple(HEADINGS)
#: Sections from the most to the least important: the first to get room.
RANK = ("specialist", "in_flight", "next", "last_error", "blockers", "goal", "reservations",
        "mail", "waiting", "done")
#: What a pointer line counts, per section.
NOUNS = {"specialist": "items about you", "in_flight": "sorties in flight",
         "next": "ready sorties", "last_error": "failed sorties", "blockers": "blockers",
         "goal": "lines of the goal", "reservations": "reservations", "mail": "messages",
         "waiting": "waiting sorties", "done": "completed sorties"}
#: Items each shown section gets (after one each) before any section gets more.
FIRST_PASS = 3
TITLE_MAX = 120  # characters of a title shown in an item (the full form shows it all)
TEXT_MAX = 300  # characters of a reason or note shown in an item


def _cut(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def build_brief(mission: Mission, sorties: Sequence[Sortie], *,
                reservations: Sequence[Mapping[str, Any]] = (),
                stale: Sequence[StaleSortie] = (), notes: Mapping[str, str] | None = None,
                specialist: str | None = None, mail: Sequence[Mapping[str, Any]] = (),
                ) -> dict[str, Any]:
    """The brief as plain data (the JSON form before any cut).

    ``sorties`` are the mission's live sorties with ``blocked_by`` filled; ``stale`` the
    stale ones among them; ``notes`` the last progress note of sorties whose retry
    cleared it (by id); ``specialist`` adds what that specialist holds and should do."""
    notes = notes or {}
    stale_by_id = {s.id: s for s in stale}
    live = [s for s in sorties if not s.deleted]
    counts: dict[str, int] = {}
    for s in live:
        counts[s.status] = counts.get(s.status, 0) + 1

    def item(s: Sortie, **more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"id": s.id, "title": s.title, "status": s.status,
                               "priority": s.priority}
        out.update(more)
        return out

    in_flight = []
    for s in live:
        if s.status in ("assigned", "in_progress"):
            st = stale_by_id.get(s.id)
            in_flight.append(item(
                s, claimed_by=s.claimed_by, progress=s.progress, note=s.progress_note,
                files=list(s.files), stale=st is not None,
                idle=None if st is None else st.to_json()["idle"],
                last_activity=None if st is None else st.last_activity))
    ready_open = mission.status in ("pending", "in_progress") and not mission.deleted
    ready = [s for s in live if s.status == "pending" and not s.claimed_by
             and not s.blocked_by and ready_open]
    ready.sort(key=lambda s: (s.priority, s.order, s.id))
    nxt = [item(s, files=list(s.files), specialist=s.specialist, retries=s.retries,
                previous=notes.get(s.id, ""), reason=s.reason if s.retries else "")
           for s in ready]
    failed = sorted((s for s in live if s.status == "failed"),
                    key=lambda s: s.updated_at, reverse=True)
    last_error = [item(s, claimed_by=s.claimed_by, reason=s.reason, at=s.updated_at)
                  for s in failed]
    blockers = [item(s, claimed_by=s.claimed_by, reason=s.reason)
                for s in live if s.status == "blocked"]
    waiting = [item(s, blocked_by=list(s.blocked_by)) for s in live
               if s.status == "pending" and s.blocked_by]
    done = [item(s) for s in live if s.status == "completed"]
    you = None if specialist is None else _specialist(specialist, live, ready, notes)
    return {
        "mission": {"id": mission.id, "title": mission.title, "status": mission.status,
                    "priority": mission.priority, "labels": list(mission.labels),
                    "progress": mission.progress, "sorties": len(live),
                    "counts": dict(sorted(counts.items())), "stale": len(stale)},
        "goal": mission.description.strip(),
        "specialist": you,
        "in_flight": in_flight,
        "next": nxt,
        "last_error": last_error,
        "blockers": blockers,
        "reservations": [dict(r) for r in reservations],
        "mail": [dict(m) for m in mail],
        "waiting": waiting,
        "done": done,
    }


def _specialist(name: str, live: Sequence[Sortie], ready: Sequence[Sortie],
                notes: Mapping[str, str]) -> dict[str, Any]:
    """Its open sorties of this mission, and what it should do next."""
    mine = [s for s in live if s.claimed_by == name
            and s.status in ("assigned", "in_progress", "blocked")]
    held = [{"id": s.id, "title": s.title, "status": s.status, "progress": s.progress,
             "files": list(s.files), "note": s.progress_note or notes.get(s.id, ""),
             "reason": s.reason if s.status == "blocked" else ""} for s in mine]
    quoted = shell_quote(name)
    command: str | None = None
    if mine:
        s = mine[0]
        if s.status == "assigned":
            todo, command = f"start {s.id}", f"fleet-hive sortie start {s.id}"
        elif s.status == "blocked":
            todo = f"{s.id} is blocked ({_cut(s.reason, TEXT_MAX) or 'no reason given'}); " \
                "once it is free, unblock it"
            command = f"fleet-hive sortie unblock {s.id}"
        else:
            todo = (f"carry on with {s.id}, report progress as you go (fleet-hive sortie "
                    f"progress {s.id} --percent N --note TEXT) and finish it")
            command = f"fleet-hive sortie complete {s.id}"
    else:
        suited = [s for s in ready if s.specialist in (None, name)] or list(ready)
        if suited:
            s = suited[0]
            todo = f"claim {s.id} ({_cut(s.title, TITLE_MAX)})"
            command = f"fleet-hive sortie claim {s.id} --specialist {quoted}"
        else:
            todo = "nothing is ready for you in this mission: wait, or ask for work"
    return {"name": name, "sorties": held, "todo": todo, "command": command}


# -- rendering -------------------------------------------------------------------------------
def check_max_bytes(max_bytes: Any) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise InvalidInputError(f"--max-bytes must be a whole number of bytes, got "
                                f"{max_bytes!r}", hint="0 means no cap; the default is 8192")
    if 0 < max_bytes < MIN_MAX_BYTES:
        raise InvalidInputError(f"--max-bytes {max_bytes} is too small to name the mission",
                                hint=f"give at least {MIN_MAX_BYTES}, or 0 for no cap")
    return max_bytes


def full_command(data: Mapping[str, Any], fmt: str = "md") -> str:
    """The command that prints this brief in full."""
    you = data.get("specialist")
    who = f" --specialist {shell_quote(you['name'])}" if you else ""
    form = " --format json" if fmt == "json" else ""
    return f"fleet-hive context {data['mission']['id']}{who} --max-bytes 0{form}"


def render_brief(data: Mapping[str, Any], max_bytes: int = DEFAULT_MAX_BYTES,
                 fmt: str = "md") -> str:
    """The brief as Markdown (``md``) or JSON (``json``), at most ``max_bytes`` UTF-8
    bytes (0: everything)."""
    max_bytes = check_max_bytes(max_bytes)
    if fmt == "json":
        return _render_json(shortened(data, max_bytes), max_bytes)
    if fmt != "md":
        raise InvalidInputError(f"unknown format {fmt!r}", hint="md or json")
    text = render_markdown(data, max_bytes)
    if max_bytes == 0 or len(text.encode("utf-8")) <= max_bytes:
        return text
    return _cut_markdown(text, max_bytes, full_command(data))


#: Fields of the brief's data the Markdown template does not show, per section: left out
#: of a Markdown brief's memo key (``expires_in`` changes with the clock, every call).
MD_UNSHOWN = {"reservations": ("expires_in",)}
#: Rendered briefs kept (newest by modification time) in a memo directory.
MEMO_KEEP = 32
_MEMO_SEP = b"\n\0\n"


def render_brief_memo(data: Mapping[str, Any], max_bytes: int, fmt: str,
                      directory: str | os.PathLike[str]) -> str:
    """:func:`render_brief`, remembered in ``directory`` (``.fleet/.cache/briefs/``): the
    brief is a pure function of its data, its format and cap, the template and this code,
    so a process asked for a brief of unchanged data prints the one rendered before (for
    Markdown, without importing jinja2). Each file holds its whole key (compared byte for
    byte, so a key hash that collides is only a miss) and the brief; a missing, partial
    or unreadable file is a miss; at most :data:`MEMO_KEEP` are kept."""
    import zlib

    max_bytes = check_max_bytes(max_bytes)
    try:
        key = _memo_key(data, max_bytes, fmt)
    except OSError:  # a zipped install: its files have no paths to check
        return render_brief(data, max_bytes, fmt)
    path = os.path.join(directory, f"{zlib.crc32(key):08x}-{len(key)}")
    with contextlib.suppress(OSError, UnicodeDecodeError):  # unreadable: rendered again
        with open(path, "rb") as f:
            held = f.read()
        if held.startswith(key + _MEMO_SEP):
            return held[len(key) + len(_MEMO_SEP):].decode("utf-8")
    text = render_brief(data, max_bytes, fmt)
    with contextlib.suppress(OSError):  # a memo that cannot be written is no memo
        from ..kernel.fsio import write_atomic

        os.makedirs(directory, exist_ok=True)
        write_atomic(path, key + _MEMO_SEP + text.encode("utf-8"), durable=False)
        _trim_memo(directory)
    return text


def _memo_key(data: Mapping[str, Any], max_bytes: int, fmt: str) -> bytes:
    """Everything a rendered brief depends on: this code (its version and the files of
    the renderer and the template), the format and cap, the data (in a canonical JSON:
    the standard library's encoder, which is all a key needs)."""
    from .. import __version__
    from ..kernel.jsondump import compact_text

    parts = [f"brief-memo 1 {__version__} {fmt} {max_bytes}"]
    for source in _memo_sources(fmt):
        st = os.stat(source)
        parts.append(f"{source} {st.st_size} {st.st_mtime_ns}")
    shown = dict(data)
    if fmt == "md":  # what the template does not show is no part of the key
        for section, fields in MD_UNSHOWN.items():
            if isinstance(shown.get(section), list):
                shown[section] = [{k: v for k, v in item.items() if k not in fields}
                                  for item in shown[section]]
    parts.append(compact_text(shown, sort_keys=True, default=str))
    return "\n".join(parts).encode("utf-8")


def _memo_sources(fmt: str) -> list[str]:
    """The files a brief's rendering comes from: this module, the template renderer and,
    for Markdown, the template (OSError where it is no plain file: no memo then)."""
    from ..kernel.resources import resource_path

    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, "brief.py"),
           os.path.join(os.path.dirname(here), "formats", "templates.py")]
    if fmt == "md":
        out.append(os.path.join(resource_path("templates"), *TEMPLATE.split("/")))
    return out


def _trim_memo(directory: str | os.PathLike[str]) -> None:
    entries = []
    for entry in os.scandir(directory):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime_ns, entry.path))
    entries.sort(reverse=True)
    for _, old in entries[MEMO_KEEP:]:
        with contextlib.suppress(OSError):
            os.unlink(old)


def render_markdown(data: Mapping[str, Any], max_bytes: int = 0) -> str:
    """The whole brief as the template renders it, before any cut (texts shortened as
    for ``max_bytes``): the lines a capped brief is made of."""
    from ..formats.templates import render

    return _CONTROL.sub("\ufffd", render(TEMPLATE, b=shortened(data, max_bytes)))


#: What ``shlex.quote`` leaves unquoted (its ``[^\w@%+=:,./-]`` with ``re.ASCII``).
_SHELL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "_@%+=:,./-")


def shell_quote(text: str) -> str:
    """``shlex.quote(text)``, without importing ``shlex`` (which imports ``re``: ~3 ms of
    a remembered brief's process)."""
    if not text:
        return "''"
    if all(c in _SHELL_SAFE for c in text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


_CONTROL = LazyPattern("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def shortened(data: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """``data`` with long titles, notes and reasons shortened for a cap of ``max_bytes``
    (the smaller the cap, the shorter; 0: untouched), so that one item stays short enough
    to leave room for others."""
    if max_bytes == 0:
        return dict(data)
    title_max = max(24, min(TITLE_MAX, max_bytes // 40))
    text_max = max(32, min(TEXT_MAX, max_bytes // 30))

    def short(item: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(item)
        for key, limit in (("title", title_max), ("note", text_max), ("reason", text_max),
                           ("previous", text_max), ("subject", title_max),
                           ("body", text_max)):
            if isinstance(out.get(key), str):
                out[key] = _cut(out[key], limit)
        return out

    out = {k: [short(x) for x in v] if isinstance(v, list) else v for k, v in data.items()}
    out["mission"] = short(data["mission"])
    if data.get("specialist"):
        you = short(data["specialist"])
        you["sorties"] = [short(s) for s in data["specialist"]["sorties"]]
        out["specialist"] = you
    return out


def _size(lines: Sequence[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def _units(body: list[str]) -> tuple[list[str], list[list[str]], list[str]]:
    """A section's body: its fixed lines (before the first item), its items (a line
    starting with ``- `` or ``>``, with the indented lines that follow it) and the lines
    after them."""
    fixed: list[str] = []
    units: list[list[str]] = []
    tail: list[str] = []
    for line in body:
        if line.startswith(("- ", "> ")) or line == ">":
            units.append([line])
            tail = []
        elif units and line.startswith("  ") and not tail:
            units[-1].append(line)
        else:
            (tail if units else fixed).append(line)
    return fixed, units, tail


def _section_key(heading: str) -> str | None:
    for key, title in HEADINGS.items():
        if heading == f"## {title}" or heading.startswith(f"## {title}:"):
            return key
    return None


def _cut_markdown(text: str, max_bytes: int, command: str) -> str:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    head: list[str] = []
    bodies: list[list[str]] = []
    for line in lines:
        if line.startswith("## ") and _section_key(line) is not None:
            bodies.append([line])
        elif bodies:
            bodies[-1].append(line)
        else:
            head.append(line)
    sections: list[tuple[str, list[str], list[list[str]], list[str]]] = []
    for body in bodies:
        fixed, units, tail = _units(body[1:])
        sections.append((_section_key(body[0]) or "", [body[0], *fixed], units, tail))
    by_key = {s[0]: s[2] for s in sections}
    shown: dict[str, int] = {}  # section -> items shown (absent: section left out)

    def pointer(key: str, hidden: int) -> str:
        return f"- … {hidden} more {NOUNS[key]}: {command}"

    def render(state: Mapping[str, int]) -> list[str]:
        out = list(head)
        for key, fixed, units, tail in sections:
            if key not in state:
                continue
            out += fixed
            for unit in units[:state[key]]:
                out += unit
            if state[key] < len(units):
                out.append(pointer(key, len(units) - state[key]))
            out += tail
        left = sum(s[0] not in state for s in sections)
        if left:
            out.append(f"- … {left} more section{'s' if left > 1 else ''}: {command}")
        return out

    def fits(state: Mapping[str, int]) -> bool:
        return _size(render(state)) <= max_bytes

    if not fits(shown):  # not even the mission's lines with the last line: keep what fits
        while head and not fits(shown):
            head.pop()
        return "\n".join(render(shown)) + "\n" if head else ""
    keys = [key for key in RANK if key in by_key]
    for key in keys:  # first every section with one item (or its pointer alone)
        first = FIRST_PASS if key == "specialist" else 1  # the reader's own: a few
        for n in range(min(first, len(by_key[key])), -1, -1):
            if fits({**shown, key: n}):
                shown[key] = n
                break
    _grow(shown, [key for key in keys if key in shown],
          {key: len(by_key[key]) for key in keys}, fits)
    return "\n".join(render(shown)) + "\n"


def _grow(state: dict[str, int], keys: Sequence[str], lengths: Mapping[str, int],
          fits: Callable[[Mapping[str, int]], bool]) -> None:
    """Give each section (in rank order) a few more items, then all that still fit: the
    most for each by a binary search (``fits`` is monotonic in the count)."""
    for target in (FIRST_PASS, None):
        for key in keys:
            lo = state.get(key, 0)
            hi = lengths[key] if target is None else max(lo, min(target, lengths[key]))
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if fits({**state, key: mid}):
                    lo = mid
                else:
                    hi = mid - 1
            state[key] = lo


def _render_json(data: Mapping[str, Any], max_bytes: int) -> str:
    """The brief as one JSON document (``truncated``: items left out per section)."""
    doc: dict[str, Any] = {**data, "truncated": {}, "full": full_command(data, "json")}

    def dump(d: Mapping[str, Any]) -> bytes:
        return dumps(d, indent=False)

    if max_bytes == 0 or len(dump(doc)) <= max_bytes:
        return dump(doc).decode("utf-8")
    lists = {k: list(data[k]) for k in SECTIONS if isinstance(data.get(k), list)}
    goal_lines = (data.get("goal") or "").split("\n")
    lengths = {**{k: len(v) for k, v in lists.items()}, "goal": len(goal_lines)}

    def build(state: Mapping[str, int]) -> dict[str, Any]:
        out = dict(doc)
        truncated: dict[str, int] = {}
        for key, total in lengths.items():
            n = state.get(key, 0)
            if key == "goal":
                out["goal"] = "\n".join(goal_lines[:n]) if n else ""
            else:
                out[key] = lists[key][:n]
            if n < total and (key != "goal" or goal_lines != [""]):
                truncated[key] = total - n
        if data.get("specialist") and "specialist" not in state:
            out["specialist"] = None
            truncated["specialist"] = 1
        out["truncated"] = truncated
        return out

    def fits(state: Mapping[str, int]) -> bool:
        return len(dump(build(state))) <= max_bytes

    state: dict[str, int] = {}
    if data.get("specialist") and fits({"specialist": 1}):
        state["specialist"] = 1
    if not fits(state):
        raise InvalidInputError(f"--max-bytes {max_bytes} is too small for the JSON brief",
                                hint="give more bytes, or use --format md")
    keys = [k for k in RANK if k in lengths]
    for key in keys:
        if lengths[key] and fits({**state, key: 1}):
            state[key] = 1
    _grow(state, keys, lengths, fits)
    return dump(build(state)).decode("utf-8")
