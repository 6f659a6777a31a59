"""``learn ...``: thin commands over hive.learning (``docs/learning.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from . import Ctx, json_option, pass_ctx
from .output import short, table, write_json

if TYPE_CHECKING:
    from ..learning import Pattern

_STRATEGY_CHOICES = ("file", "feature", "risk", "hybrid", "unplanned")


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _patterns(found: Sequence[Pattern]) -> str:
    return table([(p.strategy, p.feature, p.maturity + (" (anti)" if p.anti_pattern else ""),
                   f"{p.score:+.2f}", _num(p.weight, 1), _num(p.successes, 1),
                   _num(p.failures, 1), p.outcomes, short(p.sentence(), 70))
                  for p in found],
                 ("strategy", "feature", "maturity", "score", "weight", "ok", "failed",
                  "outcomes", "pattern"))


@click.group("learn")
def learn() -> None:
    """What was learned from real outcomes ("tech orders"): every finished sortie and
    mission records what happened; patterns per strategy and task feature are scored with
    decay (half-life 90 days) and drive `decompose --strategy auto` and the planner
    prompt."""


@learn.command("stats")
@json_option
@pass_ctx
def learn_stats(ctx: Ctx) -> None:
    """Outcomes recorded, per subject and strategy, and each strategy's decayed record."""
    stats = ctx.hive().learning.stats()
    if ctx.json:
        write_json(stats)
        return
    if stats["unrecorded"]:
        click.echo(f"{stats['unrecorded']} ending(s) without an outcome: record them with "
                   "`fleet-hive learn backfill`", err=True)
    if not stats["outcomes"]:
        click.echo("no outcomes recorded yet (they are recorded when sorties and missions "
                   "end)")
        return
    rate = stats["success_rate"]
    click.echo(f"{stats['outcomes']} outcome(s): {stats['sorties']} sortie(s), "
               f"{stats['missions']} mission(s); {stats['succeeded']} succeeded "
               f"({rate * 100:.0f} %); {stats['patterns']} pattern(s), "
               f"{stats['anti_patterns']} anti-pattern(s), {stats['proven']} proven "
               f"(half-life {stats['half_life_days']} days, as of {stats['as_of']})")
    click.echo("")
    click.echo(table([(r["subject"], r["strategy"], r["outcomes"], r["succeeded"],
                       f"{r['success_rate'] * 100:.0f} %", _num(r["mean_tries"]),
                       _num(r["mean_duration_s"], 1),
                       f"{r['verified']}/{r['verification_failed']}",
                       f"{r['merged']}/{r['not_merged']}")
                      for r in stats["by_subject"]],
                     ("subject", "strategy", "outcomes", "ok", "rate", "tries", "mean s",
                      "verified/failed", "merged/not")))
    click.echo("")
    click.echo(table([(s["strategy"], f"{s['score']:+.2f}", _num(s["weight"], 1),
                       s["maturity"] + (" (anti)" if s["anti_pattern"] else ""),
                       s["last_seen"]) for s in stats["strategies"]],
                     ("strategy", "score", "weight", "maturity", "last seen")))


@learn.command("patterns")
@click.option("--anti", is_flag=True, help="Only anti-patterns (established and mostly "
              "failing).")
@click.option("--strategy", type=click.Choice(_STRATEGY_CHOICES), default=None,
              help="Only this strategy's patterns.")
@click.option("--feature", default=None, metavar="TAG",
              help="Only patterns of this task feature, e.g. kind:bugfix (* = overall).")
@json_option
@pass_ctx
def learn_patterns(ctx: Ctx, anti: bool, strategy: str | None, feature: str | None) -> None:
    """Learned patterns per (strategy, task feature), most evidence first."""
    found = ctx.hive().learning.patterns(strategy=strategy, anti=True if anti else None,
                                         feature=feature)
    if ctx.json:
        write_json([p.to_json() for p in found])
    elif not found:
        click.echo("no anti-patterns" if anti else "no patterns learned yet")
    else:
        click.echo(_patterns(found))


@learn.command("backfill")
@click.option("--dry-run", is_flag=True, help="Only list the endings without an outcome.")
@json_option
@pass_ctx
def learn_backfill(ctx: Ctx, dry_run: bool) -> None:
    """Record the outcomes of sorties and missions that ended without one (a crash
    between the ending and its outcome, or work from before learning existed)."""
    service = ctx.hive().learning
    if dry_run:
        missing = service.unrecorded()
        if ctx.json:
            write_json([{"stream": e.stream, "type": e.type, "event_id": e.id,
                         "time": e.time} for e in missing])
        elif not missing:
            click.echo("every ending has its outcome")
        else:
            click.echo(table([(e.stream, e.type, e.time) for e in missing],
                             ("stream", "ending", "time")))
        return
    recorded = service.backfill()
    if ctx.json:
        write_json([o.to_json() for o in recorded])
    else:
        click.echo(f"Recorded {len(recorded)} outcome(s)")


@learn.command("advise")
@click.argument("task", required=False)
@click.option("--feature", "features", multiple=True, metavar="TAG",
              help="A task feature tag (instead of, or besides, TASK's).")
@json_option
@pass_ctx
def learn_advise(ctx: Ctx, task: str | None, features: tuple[str, ...]) -> None:
    """What learning says about a task: each strategy's score, best first, with the
    patterns and anti-patterns a planner prompt gets."""
    from ..learning import task_features

    if not task and not features:
        raise click.UsageError("give a TASK or at least one --feature")
    tags = sorted({*(task_features(task) if task else ()), *features})
    advice = ctx.hive().learning.advise(tags)
    if ctx.json:
        write_json(advice.to_json())
        return
    click.echo(f"features: {', '.join(advice.features)}")
    click.echo(table([(s, f"{advice.scores[s]:+.2f}", _num(advice.evidence[s], 1),
                       short("; ".join(advice.reasons[s]), 80)) for s in advice.ranking],
                     ("strategy", "score", "evidence", "why")))
    for sentence in advice.patterns:
        click.echo(f"+ {sentence}")
    for sentence in advice.anti_patterns:
        click.echo(f"- {sentence}")
