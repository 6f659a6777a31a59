"""Missions and sorties (issue 3): read commands as whole processes on a 100,000-event
repository with a warm index, ``ready`` in-process on a 1,000-sortie mission, and the cost
of a write (decide + append + projection + YAML snapshot) on that mission.

The data is real mission and sortie events (valid ``prev`` chains, dependencies), appended
validated but without the use cases (``prepare`` + ``append_pending``: a raw
``append_batch`` refuses domain types) in a few phases so that generating 100,000 events takes
seconds, not minutes.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import (
    Measurement,
    child_env,
    interleaved,
    new_repo,
    percentile,
    progress,
    python_module,
    timed,
)

PER_MISSION = 20  # sorties per mission in the big repository
CHUNK = 5_000  # events per append


@dataclass(frozen=True)
class Sizes:
    events: int  # target size of the big repository
    process_runs: int  # runs of each read command as a process
    big_mission: int  # sorties in the big mission
    ready_runs: int  # in-process ready calls
    write_runs: int  # in-process writes on the big mission


FULL = Sizes(events=100_000, process_runs=30, big_mission=1_000, ready_runs=300, write_runs=40)
SMOKE = Sizes(events=2_000, process_runs=3, big_mission=200, ready_runs=20, write_runs=5)


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    out: list[Measurement] = []
    for step in (read_processes, big_mission):
        gc.collect()
        out += step(sizes, workdir)
    return out


# -- data ----------------------------------------------------------------------------------
def _append(hive: Any, items: list[dict[str, Any]]) -> list[Any]:
    stored = []
    for i in range(0, len(items), CHUNK):
        stored += hive.events.append_pending([hive.events.prepare(**item)
                                              for item in items[i:i + CHUNK]])
    return stored


def _step(type_: str, stream: str, prev: str, mission: str, **data: Any) -> dict[str, Any]:
    return {"type": type_, "stream": stream, "correlation_id": mission,
            "data": {"prev": prev, "merged": [], **data}}


def populate(hive: Any, missions: int, per_mission: int, active_every: int = 10) -> list[str]:
    """``missions`` missions of ``per_mission`` sorties each, like a long-lived repository:
    all but one in ``active_every`` are completed (every sortie done). In an active one the
    sorties come in runs of ten: six completed, two in progress, two pending; each depends
    on its predecessor except the first of a run and the first pending one, which is thus
    ready. Returns the mission ids."""
    from fleet_hive.missions.model import new_id

    mission_ids = [new_id("m-") for _ in range(missions)]
    items = [{"type": "mission_created", "stream": f"mission:{m}", "correlation_id": m,
              "data": {"title": f"mission {k}", "description": "generated", "priority": k % 5,
                       "labels": ["bench", f"l{k % 7}"]}}
             for k, m in enumerate(mission_ids)]
    sorties: list[tuple[str, str, int, bool]] = []
    for j, m in enumerate(mission_ids):
        active = j % active_every == 0
        ids = [new_id("s-") for _ in range(per_mission)]
        for k, s in enumerate(ids):
            after = [ids[k - 1]] if k % 10 not in (0, 8) else []
            items.append({"type": "sortie_added", "stream": f"sortie:{s}", "correlation_id": m,
                          "data": {"mission_id": m, "title": f"sortie {k}", "priority": k % 5,
                                   "files": [f"src/{m}/{k}/**"], "depends_on": after,
                                   "specialist": "python"}})
            sorties.append((m, s, k, active))
    head = {e.stream: e.id for e in _append(hive, items)}
    phase = [_step("mission_started", f"mission:{m}", head[f"mission:{m}"], m, reason="")
             for m in mission_ids]
    steps = [("sortie_claimed", {"specialist": "bench"}), ("sortie_started", {}),
             ("sortie_completed", {})]
    for depth, (type_, extra) in enumerate(steps):
        for m, s, k, active in sorties:
            goes = 3 if not active or k % 10 < 6 else 2 if k % 10 < 8 else 0
            if depth < goes:
                phase.append(_step(type_, f"sortie:{s}", head[f"sortie:{s}"], m, reason="",
                                   **extra))
        for e in _append(hive, phase):
            head[e.stream] = e.id
        phase = []
    _append(hive, [_step("mission_completed", f"mission:{m}", head[f"mission:{m}"], m,
                         reason="", forced=False)
                   for j, m in enumerate(mission_ids) if j % active_every])
    return mission_ids


def build_big_repo(path: Path, events: int, active_every: int = 10) -> tuple[Any, int]:
    """A repository with about ``events`` mission events, one mission in ``active_every``
    still open (see :func:`populate`); returns (hive, events written)."""
    active = 2 + PER_MISSION + PER_MISSION * 6 // 10 * 3 + PER_MISSION * 2 // 10 * 2
    done = 3 + PER_MISSION * 4
    per_mission = (active + (active_every - 1) * done) / active_every
    hive = new_repo(path, durability="none")
    populate(hive, max(1, int(events // per_mission)), PER_MISSION, active_every)
    return hive, hive.events.latest_sequence()


# -- read commands as processes --------------------------------------------------------------
def read_processes(sizes: Sizes, workdir: Path) -> list[Measurement]:
    progress(f"generating a {sizes.events:,}-event mission repository")
    root = workdir / "big"
    started = time.perf_counter()
    hive, written = build_big_repo(root, sizes.events)
    generate_s = time.perf_counter() - started
    hive.index.close()
    started = time.perf_counter()
    hive.index.rebuild()  # events + mission projection from scratch
    rebuild_s = time.perf_counter() - started
    n_missions = len(hive.missions.list())
    n_ready = len(hive.ready())
    hive.close()
    progress(f"{written:,} events, {n_missions:,} missions, {n_ready:,} ready sorties; "
             f"timing read commands as processes ({sizes.process_runs} runs each)")
    cached = child_env({"PYTHONPYCACHEPREFIX": str(workdir / "pycache")})
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {
        "`fleet-hive ready --json`": ["ready", "--json"],
        "`fleet-hive mission list --json`": ["mission", "list", "--json"],
        "`fleet-hive ready --limit 10 --json`": ["ready", "--limit", "10", "--json"],
        "`fleet-hive mission list --limit 50 --json`": ["mission", "list", "--limit", "50",
                                                        "--json"],
    }
    argvs = {k: python_module("fleet_hive", "-C", root, *v) for k, v in commands.items()}
    bare = [python_module("fleet_hive")[0], "-c", "pass"]
    samples, bare_samples = interleaved(argvs, bare, sizes.process_runs, env=cached)
    floor = percentile(bare_samples, 50)
    out = []
    for k in argvs:
        full = "--limit" not in k
        out.append(Measurement(
            f"{k} as a process, {written:,} events, warm index", "—",
            "≤ 100 ms wall" if full else "—", "", samples=samples[k],
            passed=percentile(samples[k], 50) <= 100 if full else None,
            notes=(f"{n_ready:,} ready sorties" if "ready" in k else f"{n_missions:,} missions")
            + f"; bare `python -c pass` p50 {floor:.1f} ms; bytecode cached, as installed"))
    out.append(Measurement(
        f"generate {written:,} mission events (append_batch, durability none)", "—", "—", "s",
        value=generate_s))
    out.append(Measurement(
        f"full index rebuild with the mission projection, {written:,} events", "—", "—", "s",
        value=rebuild_s, notes="every mission and sortie stream re-folded"))
    return out


# -- one big mission, in-process -------------------------------------------------------------
def big_mission(sizes: Sizes, workdir: Path) -> list[Measurement]:
    n = sizes.big_mission
    progress(f"a {n:,}-sortie mission: ready and writes in-process")
    hive = new_repo(workdir / "mission", durability="fsync")
    m = hive.missions.create("big", priority=0)
    hive.missions.start(m.id)
    half = n // 2
    first = hive.sorties.add_many(m.id, [{"title": f"root {k}", "files": [f"src/{k}/**"]}
                                         for k in range(half)])
    hive.sorties.add_many(m.id, [{"title": f"leaf {k}", "after": [first[k].id]}
                                 for k in range(n - half)])
    hive.index.catch_up()
    ready = hive.sorties.ready(mission=m.id)
    assert len(ready) == half, len(ready)
    samples_ready = timed(lambda: hive.sorties.ready(mission=m.id), sizes.ready_runs, warmup=5)
    samples_top = timed(lambda: hive.sorties.ready(mission=m.id, limit=10), sizes.ready_runs,
                        warmup=5)
    samples_all = timed(lambda: hive.ready(limit=10), sizes.ready_runs, warmup=5)

    targets = iter(s.id for s in ready)

    def claim() -> None:
        hive.sorties.claim(next(targets), specialist="bench")

    samples_claim = timed(claim, sizes.write_runs, warmup=2)
    from fleet_hive.missions.service import load_mission_state
    from fleet_hive.missions.snapshots import render

    mission, sorties = load_mission_state(hive.index, m.id)  # type: ignore[misc]
    samples_render = timed(lambda: render(mission, sorties), max(2, sizes.write_runs // 10))
    hive.close()
    return [
        Measurement(f"`ready` in-process, {n:,}-sortie mission ({half:,} ready)", "< 50 ms",
                    "≤ 20 ms p95", "", samples=samples_ready,
                    passed=percentile(samples_ready, 95) <= 20,
                    notes="index query + building every Sortie; catch-up check included"),
        Measurement(f"`ready --limit 10` in-process, {n:,}-sortie mission", "—", "—", "",
                    samples=samples_top),
        Measurement("`ready --limit 10` in-process, whole repository", "—", "—", "",
                    samples=samples_all),
        Measurement(f"`sortie claim` in-process, {n:,}-sortie mission", "—", "—", "",
                    samples=samples_claim,
                    notes="lock, catch-up, decide, durable append, projection, snapshot "
                          "rewrite (cached YAML blocks)"),
        Measurement(f"snapshot YAML rendered from scratch, {n:,} sorties", "—", "—", "",
                    samples=samples_render, notes="ruamel.yaml, pure Python: what the block "
                                                  "cache saves on every write"),
    ]
