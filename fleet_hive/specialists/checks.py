"""``verify`` check for specialists: the index table against a fold of the
``specialist:`` streams (``projection_mismatch``; ``--repair`` rebuilds the index)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..events.envelope import Event
from ..index.projection import report_mismatch
from . import projection as q
from .fold import fold_specialist
from .model import STREAM

if TYPE_CHECKING:
    from ..index.projection import CheckContext
    from ..kernel.problems import Report


def check_specialists(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    index = ctx.index  # verify holds the writer lock when it repairs
    index.catch_up()
    rows = index.read("SELECT stream, seq, raw FROM events WHERE stream >= ? AND "
                      "stream < ? ORDER BY stream, clock, writer, n",
                      (f"{STREAM}:", f"{STREAM};"), catch_up=False)
    streams: dict[str, list[Event]] = {}
    for stream, seq, raw in rows:
        streams.setdefault(stream, []).append(Event.from_dict(orjson.loads(raw), seq))
    folded = {}
    for stream, events in streams.items():
        r = fold_specialist(events)
        if r is not None and stream == q.stream_of(r[0]):
            folded[r[0]] = r
    stored = {r[0]: r for r in q.every(index, catch_up=False)}
    wrong = sorted(f"specialist {k}" for k in folded.keys() | stored.keys()
                   if folded.get(k) != stored.get(k))
    report_mismatch(ctx, report, "specialists", wrong, repair)
