"""Reading segment files: complete lines only, batches whole, torn tails reported.

A segment is append-only JSONL written by one writer. A crash can leave a torn last line
(bytes with no final newline) or the first lines of a multi-event batch without the rest.
Readers stop before either, so a torn tail never hides the complete events before it and
is never mistaken for an event; :mod:`fleet_hive.app.verify` reports it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator

from ..kernel.jsonload import ORJSON_FROM, loads_line
from ..kernel.plain import Plain
from .envelope import envelope_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

CHUNK = 1 << 20


class Line(Plain):
    __slots__ = _fields = ("offset", "raw", "event", "problem")
    offset: int
    raw: bytes  # without the trailing newline
    event: dict[str, Any] | None  # None when the line is not a valid envelope
    problem: str | None

    def __init__(self, offset: int, raw: bytes, event: dict[str, Any] | None,
                 problem: str | None = None) -> None:
        self.offset = offset
        self.raw = raw
        self.event = event
        self.problem = problem


class ReadResult(Plain):
    __slots__ = _fields = ("end", "torn")
    end: int  # offset just past the last complete line (or complete batch) consumed
    torn: bytes  # bytes past ``end`` that do not (yet) form a complete line or batch

    def __init__(self, end: int = 0, torn: bytes = b"") -> None:
        self.end = end
        self.torn = torn


def iter_lines(path: str | os.PathLike[str], start: int = 0, result: ReadResult | None = None,
               ) -> Iterator[Line]:
    """Yield the complete lines of a segment from byte ``start`` on, in chunks.

    Lines of a multi-event batch (envelope key ``batch: [i, k]``) are held back until the
    whole batch has been read; a batch cut short by end of file is left unconsumed.
    ``result`` (if given) receives the end offset consumed and any torn tail.
    """
    return _scan(lambda: open(path, "rb"), start, result)


def iter_data_lines(data: bytes, start: int = 0, result: ReadResult | None = None,
                    ) -> Iterator[Line]:
    """:func:`iter_lines` over a segment's content in memory (a blob a commit would record),
    so that the pre-commit checks read it exactly as a reader of the file would."""
    return _scan(lambda: io.BytesIO(data), start, result)


def _scan(opener: Callable[[], BinaryIO], start: int, result: ReadResult | None,
          ) -> Iterator[Line]:
    res = result if result is not None else ReadResult(start)
    res.end = start
    pending: list[Line] = []  # lines of an open batch
    pending_start = start
    with opener() as f:
        f.seek(start)
        offset = start
        buf = b""
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            if len(chunk) >= ORJSON_FROM:  # a large catch-up or a rebuild: worth its import
                import orjson  # noqa: F401  (loads_line then uses it)
            buf += chunk
            pos = 0
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    break
                raw = buf[pos:nl]
                line = _parse(offset + pos, raw)
                pos = nl + 1
                batch = line.event.get("batch") if line.event is not None else None
                if batch is None:
                    if pending:  # a batch interrupted by a non-batch line: yield what we have
                        yield from pending
                        pending = []
                    yield line
                    res.end = offset + pos
                    continue
                try:
                    i, k = int(batch[0]), int(batch[1])
                except (TypeError, ValueError, IndexError):
                    line.problem, line.event = "malformed batch marker", None
                    yield line
                    res.end = offset + pos
                    continue
                if i == 0:
                    if pending:
                        yield from pending
                    pending = []
                    pending_start = line.offset
                pending.append(line)
                if i == k - 1:
                    yield from pending
                    pending = []
                    res.end = offset + pos
            offset += pos
            buf = buf[pos:]
        if pending:
            res.end = pending_start
        size = f.seek(0, os.SEEK_END)
        if size > res.end:
            f.seek(res.end)
            res.torn = f.read(size - res.end)
        else:
            res.torn = b""


def _parse(offset: int, raw: bytes) -> Line:
    try:
        obj = loads_line(raw)
    except ValueError as e:
        return Line(offset, raw, None, f"invalid JSON: {e}")
    problem = envelope_problem(obj)
    if problem is not None:
        return Line(offset, raw, None, problem)
    return Line(offset, raw, obj)


def last_event(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last complete, valid event line of a segment, reading only its tail."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return None
    window = 8192
    with open(path, "rb") as f:
        while True:
            start = max(0, size - window)
            f.seek(start)
            data = f.read(size - start)
            end = data.rfind(b"\n")
            while end >= 0:
                begin = data.rfind(b"\n", 0, end) + 1
                if begin == 0 and start > 0:
                    break  # line may start before the window: widen it
                line = _parse(start + begin, data[begin:end])
                if line.event is not None:
                    return line.event
                end = begin - 1
            if start == 0:
                return None
            window *= 4


def last_consumed_event(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Like :func:`last_event`, but ignores the lines of a batch that a crash cut short."""
    event = last_event(path)
    batch = event.get("batch") if event else None
    if not batch or batch[0] == batch[1] - 1:
        return event
    last = None
    for line in iter_lines(path):
        if line.event is not None:
            last = line.event
    return last
