"""Stale work, recovery and the context brief (issue 12).

* ``recover`` in-process on a 100-sortie mission: the plan (what ``recover`` lists) and
  ``--apply`` re-queueing 1 and 5 stale sorties (fail + release + retry each, through the
  services), with a clock an hour ahead so that claimed sorties are stale.
* The stale-work check that ``status`` and ``ready`` run on every call.
* ``fleet-hive context`` as a whole process on a 200-sortie mission (its Markdown with no
  brief remembered, as after any change, and remembered, as when asked again), against
  ``python -c pass`` and ``fleet-hive ready --json`` measured in the same run (bytecode
  cached, ``PYTHONDONTWRITEBYTECODE`` unset, as installed).
"""

from __future__ import annotations

import gc
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import (
    Measurement,
    child_env,
    new_repo,
    percentile,
    progress,
    python_module,
    run_process,
    timed,
)


@dataclass(frozen=True)
class Sizes:
    recover_mission: int  # sorties in the recover mission
    recover_runs: int
    context_mission: int  # sorties in the context mission
    process_runs: int


FULL = Sizes(recover_mission=100, recover_runs=60, context_mission=200, process_runs=30)
SMOKE = Sizes(recover_mission=20, recover_runs=3, context_mission=30, process_runs=2)
STALE = 5  # sorties made stale before each timed apply


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    out: list[Measurement] = []
    for step in (recover_in_process, context_processes):
        gc.collect()
        out += step(sizes, workdir)
    return out


def _recovery(hive: Any, now: Any) -> Any:
    from fleet_hive.checkpoints.recovery import Recovery

    return Recovery(lambda: hive.uow, hive.index, sorties=lambda: hive.sorties,
                    missions=lambda: hive.missions, leases=lambda: hive.reservations,
                    now=now)


def _mission(hive: Any, n: int, title: str = "recover") -> tuple[str, list[str]]:
    """A started mission of ``n`` sorties, each with a file: the first half completed,
    the rest pending (returned: their ids)."""
    m = hive.missions.create(title)
    hive.missions.start(m.id)
    sorties = hive.sorties.add_many(m.id, [{"title": f"sortie {k}", "files": [f"src/{k}/**"]}
                                           for k in range(n)])
    for s in sorties[:n // 2]:
        hive.sorties.claim(s.id)
        hive.sorties.start(s.id)
        hive.sorties.complete(s.id)
    return m.id, [s.id for s in sorties[n // 2:]]


def recover_in_process(sizes: Sizes, workdir: Path) -> list[Measurement]:
    n = sizes.recover_mission
    progress(f"recover on a {n}-sortie mission, in-process")
    hive = new_repo(workdir / "recover", durability="fsync")
    _mission_id, pending = _mission(hive, n)
    later = time.time() + 3600  # every claimed sortie has been idle for an hour
    recovery = _recovery(hive, lambda: later)
    fresh = _recovery(hive, time.time)  # the real clock: nothing is stale

    def make_stale(k: int) -> None:
        for i, sortie in enumerate(pending[:k]):
            hive.sorties.claim(sortie, specialist=f"agent-{i}")
            hive.sorties.start(sortie, force=True)
            hive.sorties.progress(sortie, 40, note="half way", force=True)

    make_stale(STALE)
    plan = timed(lambda: recovery.plan("30m"), sizes.recover_runs, warmup=3)
    assert len(recovery.plan("30m").actions) == STALE
    check = timed(lambda: fresh.summary("30m"), sizes.recover_runs, warmup=3)
    stale_check = timed(lambda: recovery.summary("30m"), sizes.recover_runs, warmup=3)
    applies: dict[int, list[float]] = {1: [], STALE: []}
    recovery.recover("30m", apply=True)
    for k in applies:
        for _ in range(sizes.recover_runs):
            make_stale(k)  # untimed: claim, start and report progress again
            t = time.perf_counter_ns()
            report = recovery.recover("30m", apply=True)
            applies[k].append((time.perf_counter_ns() - t) / 1e6)
            assert report.to_json()["done"] == k, report.to_json()
    # the same-run floor: one ordinary write on the same mission (progress on a sortie)
    make_stale(1)
    percents = iter(range(10**6))
    write = timed(lambda: hive.sorties.progress(pending[0], next(percents) % 100, force=True),
                  sizes.recover_runs, warmup=3)
    hive.close()
    one, five = applies[1], applies[STALE]
    return [
        Measurement(f"`recover` plan in-process, {n}-sortie mission, {STALE} stale sorties",
                    "< 500 ms p95", "≤ 50 ms p95", "", samples=plan,
                    passed=percentile(plan, 95) <= 50, notes="what `recover` lists (reads)"),
        Measurement(f"`recover --apply` in-process, {n}-sortie mission, 1 stale sortie "
                    "re-queued", "< 500 ms p95", "≤ 50 ms p95", "", samples=one,
                    passed=percentile(one, 95) <= 50,
                    notes="fail (releasing its files) + retry through the missions service, "
                          "fsync; each write regenerates the mission's YAML snapshot"),
        Measurement(f"`recover --apply` in-process, {n}-sortie mission, {STALE} stale sorties "
                    "re-queued", "—", "—", "", samples=five,
                    notes=f"p50 per sortie {percentile(five, 50) / STALE:.1f} ms: two writes "
                          "(and two snapshots) per sortie"),
        Measurement("one ordinary write in-process (`sortie progress`), same mission",
                    "—", "—", "", samples=write,
                    notes="the floor: a re-queue is two such writes"),
        Measurement(f"stale-work check (`status`/`ready`), {STALE} claimed, none stale",
                    "—", "—", "", samples=check),
        Measurement(f"stale-work check (`status`/`ready`), {STALE} claimed, all stale",
                    "—", "—", "", samples=stale_check,
                    notes="plus the look for the claimants' events since"),
    ]


def context_processes(sizes: Sizes, workdir: Path) -> list[Measurement]:
    n = sizes.context_mission
    progress(f"`context` as a process on a {n}-sortie mission ({sizes.process_runs} runs)")
    root = workdir / "context"
    hive = new_repo(root, durability="none")
    mission, pending = _mission(hive, n, "context")
    for k, sortie in enumerate(pending[:4]):
        hive.sorties.claim(sortie, specialist=f"agent-{k}")
        hive.sorties.start(sortie, force=True)
        hive.sorties.progress(sortie, 30, note="going", force=True)
    hive.index.catch_up()
    hive.close()
    env = child_env({"PYTHONPYCACHEPREFIX": str(workdir / "pycache")})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    memo = root / ".fleet" / ".cache" / "briefs"
    argvs = {
        "context": python_module("fleet_hive", "-C", root, "context", mission),
        "context_miss": python_module("fleet_hive", "-C", root, "context", mission),
        "context_json": python_module("fleet_hive", "-C", root, "context", mission,
                                      "--format", "json"),
        "ready": python_module("fleet_hive", "-C", root, "ready", "--json"),
        "bare": [python_module("fleet_hive")[0], "-c", "pass"],
    }
    sizes_out = {}
    for key, argv in argvs.items():  # warm bytecode, page cache and the index
        sizes_out[key] = len(run_process(argv, env=env).check().stdout.encode("utf-8"))
    samples: dict[str, list[float]] = {k: [] for k in argvs}
    for _ in range(sizes.process_runs):  # interleaved: noise hits every command alike
        for key, argv in argvs.items():
            if key == "context_miss":  # no brief remembered: rendered by jinja2
                shutil.rmtree(memo, ignore_errors=True)
            samples[key].append(run_process(argv, env=env).check().wall_ms)
    bare = percentile(samples["bare"], 50)
    ready = percentile(samples["ready"], 50)
    out = []
    for key, label, note in (
            ("context_miss", "md, nothing remembered",
             "the data changed since the last brief (or a first call): jinja2 renders; "),
            ("context", "md, remembered",
             "the same data asked again: the brief rendered before, no jinja2; "),
            ("context_json", "--format json",
             "no jinja2; reservations' expires_in changes every call, so never "
             "remembered; ")):
        over = percentile(samples[key], 50) - bare
        out.append(Measurement(
            f"`fleet-hive context` ({label}) as a process, {n}-sortie mission", "—",
            "≤ +30 ms over `python -c pass`", "", samples=samples[key],
            passed=over <= 30 if key == "context_miss" else None,
            notes=f"{note}p50 +{over:.0f} ms over `python -c pass` (p50 {bare:.1f} ms), "
                  f"+{percentile(samples[key], 50) - ready:.0f} ms over `ready --json` "
                  f"(p50 {ready:.1f} ms) in the same run; {sizes_out[key]:,} bytes out"))
    out.append(Measurement("`fleet-hive ready --json` as a process (same repository)",
                           "—", "—", "", samples=samples["ready"],
                           notes="any command's start-up: the floor under `context`"))
    out.append(Measurement("`python -c pass`", "—", "—", "", samples=samples["bare"]))
    return out
