"""``verify`` for planning: the ``plans`` table against a fold of the ``plan:`` streams
(``projection_mismatch``; ``--repair`` rebuilds the index)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..index.projection import report_mismatch, streams_of
from . import projection as q
from .fold import fold_plan
from .model import STREAM

if TYPE_CHECKING:
    from ..index.projection import CheckContext, ReadView
    from ..kernel.problems import Report


def folded(reads: ReadView) -> dict[str, dict[str, Any]]:
    streams = streams_of(reads, STREAM)
    out = {}
    for stream, events in streams.items():
        record = fold_plan(events)
        if record is not None and record["mission_id"] == stream.partition(":")[2]:
            out[record["mission_id"]] = record
    return out


def check_plans(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    ctx.index.catch_up()
    want = folded(ctx.index)
    have = q.every(ctx.index, catch_up=False)
    wrong = sorted(f"plan of {m}" for m in want.keys() | have.keys()
                   if want.get(m) != have.get(m))
    report_mismatch(ctx, report, "plan", wrong, repair)
