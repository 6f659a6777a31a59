"""Learning (issue 13): ``advise`` over 10k recorded outcomes, in-process, and what the
outcome policy adds to a ``sortie complete`` (in-process p50, durable), next to the same
write with the policy taken out, in the same run.

The outcomes: 10,000 sortie outcomes over the past year (4 strategies succeeding 85, 75,
60 and 40 % of the time, 1-4 of 24 feature tags each), appended in batches through the
unit of work as the policy would record them. ``advise`` reads the per-day counts of the
task's features and of each strategy overall, and applies the decay at query time.
``learn stats --json`` and ``learn patterns --json`` are timed as processes too.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Measurement, new_repo, percentile, progress, run_process, timed


@dataclass(frozen=True)
class Sizes:
    outcomes: int
    advises: int
    completes: int
    processes: int


FULL = Sizes(outcomes=10_000, advises=200, completes=150, processes=15)
SMOKE = Sizes(outcomes=300, advises=10, completes=6, processes=2)

FEATURES = [f"kind:{k}" for k in ("bugfix", "feature", "refactor", "test", "docs", "perf",
                                  "security", "migration")] + \
    [f"area:{a}" for a in ("api", "auth", "cli", "database", "ui", "config", "build", "ci",
                           "storage", "network", "logging", "git", "billing")] + \
    ["size:small", "size:medium", "size:large"]
STRATEGIES = ("file", "feature", "risk", "hybrid")
#: how often each strategy's sorties succeed in the generated history (some patterns,
#: some anti-patterns)
SUCCESS = {"file": 0.85, "feature": 0.75, "risk": 0.6, "hybrid": 0.4}


def record_history(hive: Any, n: int, seed: int = 13) -> None:
    """``n`` sortie outcomes over the past 365 days, appended in batches of 500."""
    from fleet_hive.index.unit_of_work import NewEvent
    from fleet_hive.kernel.clock import iso
    from fleet_hive.kernel.ids import new_short_id

    rng = random.Random(seed)
    now = time.time()
    batch: list[NewEvent] = []
    for k in range(n):
        mission = f"m-bench{k // 20:07d}"
        sortie = new_short_id("s-")
        strategy = rng.choice(STRATEGIES)
        ok = rng.random() < SUCCESS[strategy]
        batch.append(NewEvent("outcome_recorded", f"outcome:{sortie}", {
            "subject": "sortie", "mission_id": mission, "sortie_id": sortie,
            "status": "completed" if ok else "failed", "success": ok,
            "finished_at": iso(now - rng.random() * 365 * 86_400),
            "duration_s": round(rng.uniform(5, 900), 3), "tries": rng.choice((1, 1, 1, 1, 2)),
            "errors": [] if ok else [rng.choice(("tests failed", "lint failed", "timeout"))],
            "strategy": strategy, "planner": "heuristic",
            "features": sorted(rng.sample(FEATURES, rng.randint(1, 4))),
            "planned_files": [f"src/pkg{k % 50}/**"], "changed_files": None,
            "verified": None, "merged": None, "specialist": None, "agent": "bench",
        }, correlation_id=mission))
        if len(batch) == 500:
            hive.uow.run(lambda _v, b=batch: b)
            batch = []
    if batch:
        hive.uow.run(lambda _v, b=batch: b)


def completes(hive: Any, reps: int) -> tuple[list[float], list[float]]:
    """``sortie complete`` with the outcome policy and without it, alternating, each on a
    fresh claimed and started sortie of one 100+-sortie mission (durable writes)."""
    m = hive.missions.create("completing", priority=0)
    hive.missions.start(m.id)
    hive.sorties.add_many(m.id, [{"title": f"filler {k}"} for k in range(100)])
    recorder = hive._outcomes
    with_policy: list[float] = []
    without: list[float] = []
    for rep in range(reps * 2 + 4):
        s = hive.sorties.add(m.id, f"timed {rep}", files=[f"src/t{rep}.py"])
        hive.sorties.claim(s.id, specialist="bench")
        hive.sorties.start(s.id)
        on = rep % 2 == 0
        if not on:
            at = hive.uow.policy_index(recorder)
            removed = hive.uow.policies.pop(at)
        t = time.perf_counter_ns()
        hive.sorties.complete(s.id)
        ms = (time.perf_counter_ns() - t) / 1e6
        if not on:
            hive.uow.policies.insert(at, removed)
        if rep >= 4:  # warm-up
            (with_policy if on else without).append(ms)
    return with_policy, without


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    n = sizes.outcomes
    progress(f"learning: {n:,} outcomes, advise and the outcome policy's cost")
    hive = new_repo(workdir / "learning", durability="fsync")
    t = time.perf_counter()
    record_history(hive, n)
    hive.index.catch_up()
    load_s = time.perf_counter() - t
    tasks = [sorted(random.Random(k).sample(FEATURES, 3)) for k in range(sizes.advises)]
    it = iter(tasks * 2)
    advise = timed(lambda: hive.learning.advise(next(it)), sizes.advises, warmup=2)
    patterns = timed(lambda: hive.learning.patterns(), max(sizes.advises // 4, 2), warmup=1)
    stats = timed(lambda: hive.learning.stats(), max(sizes.advises // 4, 2), warmup=1)
    with_policy, without = completes(hive, sizes.completes)
    root = hive.root
    hive.close()
    argv = [sys.executable, "-m", "fleet_hive", "-C", str(root), "--json"]
    stats_proc = [run_process([*argv, "learn", "stats"]).check().wall_ms
                  for _ in range(sizes.processes)]
    patterns_proc = [run_process([*argv, "learn", "patterns"]).check().wall_ms
                     for _ in range(sizes.processes)]
    extra = percentile(with_policy, 50) - percentile(without, 50)
    return [
        Measurement(f"`advise` (3 features) over {n:,} outcomes, in-process", "—",
                    "≤ 20 ms p95", "", samples=advise, passed=percentile(advise, 95) <= 20,
                    notes="per-day counts of 3 features + overall for 4 strategies, decay "
                          f"at query time; {n:,} outcomes loaded in {load_s:.1f} s "
                          "(batches of 500, fsync)"),
        Measurement(f"`learn patterns` (every pattern) over {n:,} outcomes, in-process",
                    "—", "—", "", samples=patterns,
                    notes="every (strategy, feature) pattern scored, frequent errors of "
                          "the anti-patterns"),
        Measurement(f"`learn stats` over {n:,} outcomes, in-process", "—", "—", "",
                    samples=stats, notes="totals per subject and strategy, every pattern, "
                                         "the endings without outcome"),
        Measurement("`sortie complete` with the outcome policy, in-process", "—",
                    "≤ +15 ms p50 over the same write without it", "", samples=with_policy,
                    passed=extra <= 15,
                    notes=f"+{extra:.1f} ms p50 over the next row: one more durable write "
                          "(the outcome_recorded event), the sortie's history read"),
        Measurement("`sortie complete` without the outcome policy, in-process (baseline)",
                    "—", "—", "", samples=without,
                    notes="same mission, same run, alternating with the row above"),
        Measurement(f"`fleet-hive learn stats --json` as a process, {n:,} outcomes", "—",
                    "—", "", samples=stats_proc, notes="start-up included"),
        Measurement(f"`fleet-hive learn patterns --json` as a process, {n:,} outcomes",
                    "—", "—", "", samples=patterns_proc, notes="start-up included"),
    ]
