"""Reading many streams of the index at once, each whole and in total order.

What a projection's refresh and a capability's check need when they re-fold streams: a
few are read with ``IN`` lists, in chunks; many (a rebuild, a projection's new version)
by :func:`raw_streams`: in one pass over the ``events`` table in log order, handed on in
the order in which they end, or, when they are a small share of the table, along the
stream index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from ..events.envelope import Event
    from .projection import Row

    Execute = Callable[[str, Sequence[Any]], list[Row]]
    Iterate = Callable[[str, Sequence[Any]], Iterable[Row]]
    T = TypeVar("T")

CHUNK = 500  # streams per query
SCAN_THRESHOLD = 2_000  # more streams than this are read with one range scan
HELD_ROWS = 100_000  # rows of unfinished streams held at most while reading in log order
#: Wanted rows under this share of the table are read along the stream index instead.
RANGE_SHARE = 0.25


def load_streams(execute: Execute, streams: Iterable[str],
                 iterate: Iterate | None = None,
                 ) -> Iterator[tuple[str, list[Event]]]:
    """``(stream, events in total order)`` for each of ``streams`` (a stream without
    events is handed on with an empty list). Few streams come sorted; many (more than
    :data:`SCAN_THRESHOLD`, given ``iterate``) in the order in which they end in the log."""
    from ..events.envelope import Event
    from ..kernel.jsonload import loads

    ordered = sorted(streams)
    if iterate is not None and len(ordered) > SCAN_THRESHOLD:
        for stream, rows in raw_streams(iterate, set(ordered)):
            yield stream, [Event.from_dict(loads(raw), seq) for seq, raw in rows]
        return
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        marks = ",".join("?" * len(chunk))
        grouped: dict[str, list[Event]] = {s: [] for s in chunk}
        for stream, seq, raw in execute(
            f"SELECT stream, seq, raw FROM events WHERE stream IN ({marks}) "
            "ORDER BY stream, clock, writer, n", chunk):
            grouped[stream].append(Event.from_dict(loads(raw), seq))
        yield from grouped.items()


def raw_streams(iterate: Iterate,
                streams: set[str]) -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """Each wanted stream with its raw rows ``(seq, raw)`` in total order, as it ends.

    One pass over the table in ``seq`` order: it reads pages in file order, where walking
    the ``(stream, clock, writer, n)`` index would fetch each row from wherever it lies
    (a rebuild of 1M events spent most of its time there). Each stream's rows are held
    until its last one (from a count per stream, read off the index) and handed out
    sorted. Streams still open when more than :data:`HELD_ROWS` rows are held (the
    largest first) are dropped from the pass and read by index at the end, so memory
    stays bounded whatever the log's shape.

    When the wanted rows are a small part of the table (under :data:`RANGE_SHARE`: the
    outcomes among a rebuild's missions, 83k rows of 1M), each stream kind's range of the
    stream index is walked instead (1M rows scanned 1.2 s, those 83k read by index 0.3
    s); the streams then come in stream order, those without rows last.
    """
    prefixes = sorted({s.split(":", 1)[0] + ":" for s in streams})
    left: dict[str, int] = {}
    for prefix in prefixes:
        for stream, count in iterate(
                "SELECT stream, COUNT(*) FROM events WHERE stream >= ? AND stream < ? "
                "GROUP BY stream", (prefix, prefix[:-1] + ";")):
            if stream in streams:
                left[stream] = count
    counted = set(left)
    ((top,),) = iterate("SELECT COALESCE(MAX(seq), 0) FROM events", ())  # ~ the rows
    if sum(left.values()) < RANGE_SHARE * top:
        yield from _by_range(iterate, prefixes, counted)
        yield from ((s, []) for s in sorted(streams - counted))
        return
    held: dict[str, list[tuple[int, str, int, int, bytes]]] = {}
    holding = 0
    later: list[str] = []
    for stream, seq, clock, writer, n, raw in iterate(
            "SELECT stream, seq, clock, writer, n, raw FROM events ORDER BY seq", ()):
        need = left.get(stream)
        if need is None:
            continue  # not wanted (or read later)
        rows = held.get(stream)
        if rows is None:
            rows = held[stream] = []
        rows.append((clock, writer, n, seq, raw))
        if need > 1:
            left[stream] = need - 1
            holding += 1
            if holding > HELD_ROWS:
                for big in sorted(held, key=lambda s: len(held[s]), reverse=True):
                    holding -= len(held.pop(big))
                    del left[big]
                    later.append(big)
                    if holding <= HELD_ROWS // 2:
                        break
            continue
        del left[stream], held[stream]
        holding -= len(rows) - 1
        rows.sort()  # total order; (writer, n) is unique, ``seq`` breaks any tie
        yield stream, [(r[3], r[4]) for r in rows]
    # Then the streams dropped from the pass, and those without a row left (their rows in
    # the projection's tables go).
    later += left
    later += streams - counted
    later.sort()
    for i in range(0, len(later), CHUNK):
        chunk = later[i:i + CHUNK]
        grouped: dict[str, list[tuple[int, bytes]]] = {s: [] for s in chunk}
        marks = ",".join("?" * len(chunk))
        for stream, seq, raw in iterate(
                f"SELECT stream, seq, raw FROM events WHERE stream IN ({marks}) "
                "ORDER BY stream, clock, writer, n", chunk):
            grouped[stream].append((seq, raw))
        yield from grouped.items()


def _by_range(iterate: Iterate, prefixes: list[str],
              wanted: set[str]) -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """The ``wanted`` streams of each prefix's range of the stream index, in order."""
    for prefix in prefixes:
        current: str | None = None
        rows: list[tuple[int, bytes]] = []
        for stream, seq, raw in iterate(
                "SELECT stream, seq, raw FROM events WHERE stream >= ? AND stream < ? "
                "ORDER BY stream, clock, writer, n", (prefix, prefix[:-1] + ";")):
            if stream != current:
                if current is not None:
                    yield current, rows
                current, rows = (stream if stream in wanted else None), []
                if current is None:
                    continue
            rows.append((seq, raw))
        if current is not None:
            yield current, rows


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
