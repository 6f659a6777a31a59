"""The one checker of a segment's lines, shared by ``verify`` and the pre-commit checks.

Every complete line must be a JSON object with a valid envelope (a batch marker included)
written by the segment's own writer; bytes after the last complete line or batch are a torn
tail (a crash mid-append), a warning, since readers skip them and nothing acknowledged was
lost. The lines come from :mod:`fleet_hive.events.segments`, so a check sees a segment
exactly as a reader does. Checks across lines and segments (duplicate ids, gaps in ``n``)
belong to ``verify``, which is handed each valid event through ``on_event``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..kernel.problems import Problem
from .segments import Line, ReadResult, iter_data_lines

#: ``on_event(line, event)``: called for each valid event, after its own problems.
OnEvent = Callable[[int, dict[str, Any]], None]


def check_lines(lines: Iterable[Line], result: ReadResult, path: str, writer: str, *,
                first_line: int = 1, on_event: OnEvent | None = None) -> Iterator[Problem]:
    """The problems of ``lines`` (read into ``result``) of the segment ``path`` of ``writer``.

    ``path`` is repository-relative; problems carry it and their 1-based line, counted from
    ``first_line`` (the number of the first line in ``lines``).
    """
    lineno = first_line - 1
    for lineno, line in enumerate(lines, first_line):
        event = line.event
        if event is None:
            text = line.problem or "invalid line"
            kind = "invalid_json" if text.startswith("invalid JSON") else "invalid_envelope"
            yield Problem(kind, text, path, lineno)
            continue
        if event["writer"] != writer:
            yield Problem("wrong_writer", f"event {event['id']} names writer "
                          f"{event['writer']!r} but lies in the directory of writer "
                          f"{writer!r}", path, lineno)
        if on_event is not None:
            on_event(lineno, event)
    if result.torn:
        yield Problem("torn_tail", f"{len(result.torn)} bytes at offset {result.end} are not a "
                      "complete line or batch (a crash mid-append); they are ignored, earlier "
                      "events are intact", path, lineno + 1, "warning")


def check_segment(data: bytes, path: str, writer: str, *, start: int = 0,
                  on_event: OnEvent | None = None) -> Iterator[Problem]:
    """The problems of a segment's content from byte ``start`` on (a commit checks only the
    lines it adds: the committed prefix was checked when it was committed)."""
    result = ReadResult(start)
    return check_lines(iter_data_lines(data, start, result), result, path, writer,
                       first_line=data.count(b"\n", 0, start) + 1, on_event=on_event)


def n_range(data: bytes, end: int, window: int = 1 << 14) -> tuple[int, int] | None:
    """(first, last) ``n`` of the valid events in ``data[:end]`` (a segment's committed
    prefix), reading only its first events and its last lines; None if it holds none."""
    first = next((line.event["n"] for line in iter_data_lines(data)
                  if line.event is not None and line.offset < end), None)
    if first is None:
        return None
    while True:
        start = data.rfind(b"\n", 0, max(0, end - window)) + 1
        ns = [line.event["n"] for line in iter_data_lines(data[start:end])
              if line.event is not None]
        if ns or start == 0:
            return first, max(ns, default=first)
        window *= 4
