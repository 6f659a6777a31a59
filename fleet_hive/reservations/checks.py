"""``verify`` checks for reservations: the index tables and the lock manifest against a
fold of the reservation streams.

Every ``reservation:`` and ``reservation_request:`` stream is folded from its events (the
index's copy of the log, in total order; never from the projection tables) and compared
with

* the projection rows and the table digest (``projection_mismatch``, an error;
  ``--repair`` rebuilds the index, which is disposable), and
* ``.fleet/local/reservations.json`` (``manifest_mismatch``, a warning: the manifest is
  for outside readers, fleet-hive never reads it, and after a merge it stays behind until
  the next reservation write; ``--repair`` rewrites it).

Live leases of two holders that could not both have been granted (acquired concurrently
on two clones) are ``reservation_conflict`` warnings (``storage.md`` 5), naming who keeps
the reservation and who should release it.

Cheap: one indexed range scan per stream kind, and only the reservation events are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson

from ..events.envelope import Event
from ..index.projection import report_mismatch
from ..kernel.clock import now as clock_now
from ..kernel.fsio import write_atomic
from ..kernel.problems import Problem, Report
from . import projection
from .fold import fold_reservation, fold_wait
from .manifest import render
from .model import REQUEST_STREAM, RESERVATION_STREAM, Reservation, Wait, contests

if TYPE_CHECKING:
    from ..index.projection import CheckContext, ReadView


def check_reservations(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    """``verify`` holds the writer lock while it repairs, so no write changes the derived
    files meanwhile."""
    _check(ctx, report, repair)


def folded(reads: ReadView) -> tuple[dict[str, Reservation], dict[str, Wait]]:
    """Every lease and open wait, folded from the events (the caller has caught up)."""
    leases: dict[str, Reservation] = {}
    for events in _streams(reads, RESERVATION_STREAM):
        r = fold_reservation(events)
        if r is not None:
            leases[r.id] = r
    waits: dict[str, Wait] = {}
    for events in _streams(reads, REQUEST_STREAM):
        w = fold_wait(events)
        if w is not None:
            waits[w.request_id] = w
    return leases, waits


def _streams(reads: ReadView, kind: str) -> Iterator[list[Event]]:
    """The events of every ``kind:`` stream, stream by stream, each in total order."""
    rows = reads.read("SELECT stream, seq, raw FROM events WHERE stream >= ? AND stream < ? "
                      "ORDER BY stream, clock, writer, n", (f"{kind}:", f"{kind};"),
                      catch_up=False)
    current: str | None = None
    events: list[Event] = []
    for stream, seq, raw in rows:
        if stream != current:
            if events:
                yield events
            current, events = stream, []
        events.append(Event.from_dict(orjson.loads(raw), seq))
    if events:
        yield events


def _check(ctx: CheckContext, report: Report, repair: bool) -> None:
    index = ctx.index
    index.catch_up()
    leases, waits = folded(index)
    root = ctx.layout.root
    # 1. the projection tables (and the digest) equal the fold
    rows = {r.id: r for r in projection.rows(index, catch_up=False)}
    open_waits = {w.request_id: w for w in projection.waits(index, float("-inf"),
                                                            catch_up=False)}
    wrong = sorted(f"lease {k}" for k in leases.keys() | rows.keys()
                   if leases.get(k) != rows.get(k))
    wrong += sorted(f"wait {k}" for k in waits.keys() | open_waits.keys()
                    if waits.get(k) != open_waits.get(k))
    if not wrong and projection.digest(index, catch_up=False) != \
            projection.digest_of(leases.values()):
        wrong.append("the digest")
    report_mismatch(ctx, report, "reservation", wrong, repair)
    # 2. concurrent grants that could not coexist, as warnings
    now = clock_now()
    for c in contests([r for r in leases.values() if r.expires > now]):
        report.problems.append(Problem(
            "reservation_conflict", f"{c.message} (reservations {c.kept.id} and {c.lost.id})",
            "", None, "warning"))
    # 3. the manifest shows exactly the leases of the fold (no file is fine while none)
    path = ctx.layout.reservation_manifest
    want = render(leases.values())
    try:
        have: bytes | None = path.read_bytes()
    except FileNotFoundError:
        have = None
    if have == want or (have is None and not leases):
        return
    message = ("the lock manifest is missing" if have is None
               else "the lock manifest disagrees with the log")
    if repair:
        write_atomic(path, want, durable=False)
        message += " (rewritten)"
    report.problems.append(Problem("manifest_mismatch", message, str(path.relative_to(root)),
                                   None, "repaired" if repair else "warning"))
