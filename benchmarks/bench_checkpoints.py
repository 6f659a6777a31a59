"""Checkpoints (issue 12): ``checkpoint create`` and ``checkpoint resume`` in-process on a
100-sortie mission, durable (fsync), next to a same-run baseline: one ordinary durable
write on the same mission (``sortie progress``: lock, catch-up, decide, append, snapshot).

The mission: 100 sorties with a file each, 40 completed, 50 in progress (claimed by five
agents, who hold the reservations of their files), 10 pending. Each resume repetition
first (untimed) fails two in-progress sorties, so the resume has real work: for each,
retry, claim for the recorded claimant (re-reserving its file), start and progress, plus
re-acquiring the released reservations; a resume with nothing to restore is shown too.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Measurement, new_repo, percentile, progress, timed


@dataclass(frozen=True)
class Sizes:
    sorties: int
    creates: int
    resumes: int
    crossings: int


FULL = Sizes(sorties=100, creates=60, resumes=40, crossings=30)
SMOKE = Sizes(sorties=20, creates=3, resumes=2, crossings=2)


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    n = sizes.sorties
    progress(f"a {n}-sortie mission: checkpoint create and resume in-process")
    hive = new_repo(workdir / "checkpoints", durability="fsync")
    m = hive.missions.create("checkpointed", priority=0)
    hive.missions.start(m.id)
    sorties = [s.id for s in hive.sorties.add_many(
        m.id, [{"title": f"sortie {k}", "files": [f"src/{k}.py"]} for k in range(n)])]
    done, working = sorties[: n * 4 // 10], sorties[n * 4 // 10: n * 9 // 10]
    for k, sid in enumerate(done + working):
        hive.sorties.claim(sid, specialist=f"agent-{k % 5}")
        hive.sorties.start(sid, force=True)
    for sid in done:
        hive.sorties.complete(sid, force=True)
    for sid in working:
        hive.sorties.progress(sid, 30, note="halfway", force=True)

    percents = iter(range(31, 100))
    baseline = timed(lambda: hive.sorties.progress(working[0], next(percents), force=True),
                     min(sizes.creates, 60), warmup=2)
    create = timed(lambda: hive.checkpoints.create(m.id, note="bench"), sizes.creates,
                   warmup=2)
    checkpoint = hive.checkpoints.create(m.id, note="resume point")

    resume_work: list[float] = []
    victims = itertools.cycle(working[1:])  # a resume puts them back in progress
    for _ in range(sizes.resumes):
        for _ in range(2):
            hive.sorties.fail(next(victims), reason="bench crash", force=True)
        t = time.perf_counter_ns()
        report = hive.checkpoints.resume(checkpoint.id)
        resume_work.append((time.perf_counter_ns() - t) / 1e6)
        assert len(report.restored) == 2 and report.complete, report.to_json()
    resume_noop = timed(lambda: hive.checkpoints.resume(checkpoint.id), sizes.resumes,
                        warmup=1)
    crossing, ordinary = crossing_writes(hive, n, sizes.crossings)
    hive.close()
    base50 = percentile(baseline, 50)
    return [
        Measurement(f"`checkpoint create` in-process, {n}-sortie mission", "< 100 ms",
                    "≤ 25 ms p95", "", samples=create,
                    passed=percentile(create, 95) <= 25,
                    notes=f"load state, render + hash, atomic file write, durable event "
                          f"append; {percentile(create, 50) / base50:.1f}x the baseline "
                          "write's p50"),
        Measurement(f"`checkpoint resume`, 2 sorties to restore, {n}-sortie mission",
                    "< 500 ms", "≤ 50 ms p95", "", samples=resume_work,
                    passed=percentile(resume_work, 95) <= 50,
                    notes="read + verify the file; per sortie retry, claim, start, "
                          "progress (each a durable write, in one batch: lock held once, "
                          "snapshot and triggers once); re-acquire reservations; "
                          "the checkpoint_resumed event"),
        Measurement(f"`checkpoint resume`, nothing to restore, {n}-sortie mission", "—",
                    "—", "", samples=resume_noop,
                    notes="read + verify + compare; one durable write (checkpoint_resumed)"),
        Measurement("`sortie complete` that crosses 25 % (takes the checkpoint), "
                    f"{n}-sortie mission", "—", "—", "", samples=crossing,
                    notes=f"the write plus its checkpoint; "
                          f"{percentile(crossing, 50) / percentile(ordinary, 50):.1f}x the "
                          "p50 of a `sortie complete` that crosses nothing (next row)"),
        Measurement(f"`sortie complete` that crosses nothing, {n}-sortie mission", "—", "—", "",
                    samples=ordinary, notes="same mission, same run"),
        Measurement(f"baseline: one durable `sortie progress` write, {n}-sortie mission", "—",
                    "—", "", samples=baseline,
                    notes="same run: lock, catch-up, decide, fsync'ed append, snapshot"),
    ]


def crossing_writes(hive: Any, n: int, reps: int) -> tuple[list[float], list[float]]:
    """``sortie complete`` writes that cross 25 % and ones that cross nothing, timed, on
    ``n``-sortie missions. Each repetition (untimed) builds a fresh mission with
    a quarter of its sorties in progress, all but two of them completed; then one `complete` that
    crosses nothing (below 25 %) and the one that crosses 25 % are timed."""
    crossing: list[float] = []
    ordinary: list[float] = []
    for rep in range(reps):
        m = hive.missions.create(f"crossing {rep}")
        hive.missions.start(m.id)
        ids = [s.id for s in hive.sorties.add_many(
            m.id, [{"title": f"s{k}", "files": [f"c{rep}/{k}.py"]} for k in range(n)])]
        quarter = -(-n // 4)  # completions that reach 25 %
        for sid in ids[:quarter]:
            hive.sorties.claim(sid, specialist="bench")
            hive.sorties.start(sid, force=True)
        for sid in ids[:quarter - 2]:
            hive.sorties.complete(sid, force=True)
        for sid, into in ((ids[quarter - 2], ordinary), (ids[quarter - 1], crossing)):
            before = len(hive.checkpoints.list(m.id))
            t = time.perf_counter_ns()
            hive.sorties.complete(sid, force=True)
            into.append((time.perf_counter_ns() - t) / 1e6)
            took = len(hive.checkpoints.list(m.id)) - before
            assert took == (1 if into is crossing else 0), (rep, took)
    return crossing, ordinary
