"""``verify`` check for specialists: the index table against a fold of the
``specialist:`` streams (``projection_mismatch``; ``--repair`` rebuilds the index)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..index.projection import report_mismatch, streams_of
from . import projection as q
from .fold import fold_specialist
from .model import STREAM

if TYPE_CHECKING:
    from ..index.projection import CheckContext
    from ..kernel.problems import Report


def check_specialists(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    index = ctx.index  # verify holds the writer lock when it repairs
    index.catch_up()
    streams = streams_of(index, STREAM)
    folded = {}
    for stream, events in streams.items():
        r = fold_specialist(events)
        if r is not None and stream == q.stream_of(r[0]):
            folded[r[0]] = r
    stored = {r[0]: r for r in q.every(index, catch_up=False)}
    wrong = sorted(f"specialist {k}" for k in folded.keys() | stored.keys()
                   if folded.get(k) != stored.get(k))
    report_mismatch(ctx, report, "specialists", wrong, repair)
