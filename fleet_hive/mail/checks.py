"""``verify`` check for mail: the index tables against a fold of the ``mail:`` streams
(``projection_mismatch``, an error; ``--repair`` rebuilds the index)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..index.projection import report_mismatch, streams_of
from . import projection as q
from .fold import fold_message
from .model import STREAM

if TYPE_CHECKING:
    from ..index.projection import CheckContext
    from ..kernel.problems import Report


def check_mail(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    index = ctx.index  # verify holds the writer lock when it repairs
    index.catch_up()
    streams = streams_of(index, STREAM)
    folded = {}
    for stream, events in streams.items():
        m = fold_message(events)
        if m is not None and stream == f"{STREAM}:{m.id}":
            folded[m.id] = m
    stored = {m.id: m for m in q.every(index, catch_up=False)}
    recipients = {tuple(r) for r in index.read(
        "SELECT name, message_id, read, acked FROM mail_recipients", catch_up=False)}
    expected = {(n, m.id, int(m.is_read_by(n)), int(n in m.acked_by))
                for m in folded.values() for n in m.to}
    wrong = sorted(f"message {k}" for k in folded.keys() | stored.keys()
                   if folded.get(k) != stored.get(k))
    wrong += sorted({f"recipient {r[0]} of {r[1]}" for r in recipients ^ expected})
    report_mismatch(ctx, report, "mail", wrong, repair)
