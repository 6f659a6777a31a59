"""``verify`` checks for learning: the index tables against a fold of the log.

* ``projection_mismatch`` (error; ``--repair`` rebuilds the index): the ``outcomes``,
  ``outcome_days`` or ``outcome_errors`` rows disagree with a fold of the ``outcome:`` streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..index.projection import report_mismatch, streams_of
from . import projection as q
from .fold import fold_outcome
from .model import STREAM, Outcome

if TYPE_CHECKING:
    from ..index.projection import CheckContext, ReadView
    from ..kernel.problems import Report


def folded(reads: ReadView) -> tuple[dict[str, Outcome], dict[tuple[str, str, int], list[int]],
                                     dict[tuple[str, str, str], int]]:
    """Every outcome and the day counts, folded from the log (the caller caught up)."""
    streams = streams_of(reads, STREAM)
    outcomes: dict[str, Outcome] = {}
    days: dict[tuple[str, str, int], list[int]] = {}
    errors: dict[tuple[str, str, str], int] = {}
    for events in streams.values():
        found = fold_outcome(events)
        if found is None:
            continue
        outcomes[found.subject_id] = found
        for s, f, day, *values in q.contributions(found):
            acc = days.setdefault((s, f, day), [0] * 5)
            for k, v in enumerate(values):
                acc[k] += v
        for s, f, error, n in q.error_contributions(found):
            errors[(s, f, error)] = errors.get((s, f, error), 0) + n
    return outcomes, days, errors


def check_learning(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    index = ctx.index
    index.catch_up()
    outcomes, days, errors = folded(index)
    stored = {o.subject_id: o for o in q.outcomes(index, catch_up=False)}
    wrong = sorted(f"outcome {k}" for k in outcomes.keys() | stored.keys()
                   if _row(outcomes.get(k)) != _row(stored.get(k)))
    have: dict[tuple[str, str, int], list[int]] = {
        (r[0], r[1], r[2]): list(r[3:]) for r in index.read(
            "SELECT strategy, feature, day, successes, failures, outcomes, drifted, "
            "known_changes FROM outcome_days", catch_up=False)}
    wrong += sorted(f"day counts of {s}/{f}" for s, f, _ in
                    {k for k in days.keys() | have.keys() if days.get(k) != have.get(k)})
    have_errors = {(r[0], r[1], r[2]): r[3] for r in index.read(
        "SELECT strategy, feature, error, outcomes FROM outcome_errors", catch_up=False)}
    wrong += sorted(f"failure reasons of {s}/{f}" for s, f, _ in
                    {k for k in errors.keys() | have_errors.keys()
                     if errors.get(k) != have_errors.get(k)})
    report_mismatch(ctx, report, "learning", sorted(set(wrong)), repair)


def _row(o: Outcome | None) -> tuple[Any, ...] | None:
    return None if o is None else q.row(o)
