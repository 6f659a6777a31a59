"""What happened between two commits: the commits, and the event lines they added.

Segments are append-only, so the events a range added are the new lines of each segment
between the two trees; no commit needs to be read one by one. The summary and its Markdown
are :mod:`fleet_hive.app.history`'s; this is the plumbing under them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .changes import is_segment

if TYPE_CHECKING:
    from .repo import ObjectID, Repository


def commits_between(repo: Repository, since: bytes | None, until: bytes,
                    ) -> list[dict[str, Any]]:
    """The commits reachable from ``until`` but not from ``since``, newest first."""
    return [{"id": sha.decode(),
             "summary": message.decode("utf-8", "replace").splitlines()[0] if message else "",
             "author": author.decode("utf-8", "replace").split(" <")[0],
             "time": when}
            for sha, message, author, when in repo.walk(until, since)]


def events_between(repo: Repository, since: bytes | None, until: bytes,
                   ) -> list[dict[str, Any]]:
    """Events added to ``.fleet/events/`` from ``since``'s tree to ``until``'s, in the
    total order (clock, writer, n). A segment's new lines are its new events."""
    import orjson

    events = []
    for line in new_event_lines(repo, repo.tree_of(since), repo.tree_of(until)):
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(ev, dict) and isinstance(ev.get("type"), str) \
                and isinstance(ev.get("stream"), str):
            events.append(ev)
    events.sort(key=_order)
    return events


def stream_events(repo: Repository, until: bytes, streams: set[str],
                  ) -> dict[str, list[dict[str, Any]]]:
    """Every event of ``streams`` in ``until``'s tree (whole streams, not only a range's
    lines), each stream in total order: what folding a stream as of that commit needs."""
    import orjson

    out: dict[str, list[dict[str, Any]]] = {s: [] for s in streams}
    if not streams:
        return out
    keys = {s.partition(":")[2].encode() for s in streams}  # a cheap filter before parsing
    tree = repo.tree_of(until)
    for path, (_mode, sha) in sorted(repo.files_under(tree, b".fleet").items()):
        if not is_segment(path):
            continue
        for line in repo.blob_data(sha).split(b"\n"):
            if not line.strip() or not any(k in line for k in keys):
                continue
            try:
                ev = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(ev, dict) and ev.get("stream") in out \
                    and isinstance(ev.get("type"), str):
                out[ev["stream"]].append(ev)
    for events in out.values():
        events.sort(key=_order)
    return out


def _order(e: dict[str, Any]) -> tuple[Any, str, Any]:
    return (e.get("clock", 0), str(e.get("writer", "")), e.get("n", 0))


def new_event_lines(repo: Repository, old_tree: ObjectID | None, new_tree: ObjectID | None,
                    ) -> Iterator[bytes]:
    """The non-empty lines each segment gained from ``old_tree`` to ``new_tree``."""
    if old_tree == new_tree:
        return
    old_files = repo.files_under(old_tree, b".fleet")
    for path, (_mode, sha) in sorted(repo.files_under(new_tree, b".fleet").items()):
        if not is_segment(path):
            continue
        before = old_files.get(path)
        if before is not None and before[1] == sha:
            continue
        new = repo.blob_data(sha)
        if before is None:
            fresh = new
        else:
            old = repo.blob_data(before[1])
            if new.startswith(old):
                fresh = new[len(old):]
            else:  # not append-only (refused by the hooks); take lines not seen before
                seen = set(old.split(b"\n"))
                fresh = b"\n".join(x for x in new.split(b"\n") if x not in seen)
        for line in fresh.split(b"\n"):
            if line.strip():
                yield line
