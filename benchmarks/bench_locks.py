"""File reservations (issue 5): uncontended acquire and release, ``lock check`` as a process,
and acquire among 1,000 live reservations.

Each reservation write is "writer lock, catch the index up, read the reservations that can
matter, decide, durable append"; so next to it we time the same steps with the decision
left out (lock + catch-up + one durable append of the same event) — the floor this design
can reach — and quote the ratio.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from .harness import (
    Measurement,
    child_env,
    new_repo,
    percentile,
    progress,
    python_module,
    run_process,
)

SPEC_ACQUIRE = "< 10 ms p95"


@dataclass(frozen=True)
class Sizes:
    ops: int  # timed acquires (and releases, pairs) per metric
    rounds: int  # the measured variants alternate in this many blocks, so noise hits all
    check_runs: int  # `lock check` processes
    active: int  # live reservations in the crowded repository
    globs_in_active: int  # how many of them are globs


FULL = Sizes(ops=2_000, rounds=10, check_runs=40, active=1_000, globs_in_active=100)
SMOKE = Sizes(ops=100, rounds=2, check_runs=4, active=1_000, globs_in_active=100)


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    out: list[Measurement] = []
    for step in (uncontended, check_process, crowded):
        gc.collect()
        out += step(sizes, workdir)
    return out


def _p95(samples: list[float]) -> float:
    return percentile(samples, 95)


def _alternate(variants: dict[str, Callable[[], object]], sizes: Sizes) -> dict[str, list[float]]:
    """Time each variant ``sizes.ops`` times, in alternating blocks; ms per call."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    block = max(1, sizes.ops // sizes.rounds)
    clock = time.perf_counter_ns
    for _ in range(sizes.rounds):
        for name, fn in variants.items():
            out = samples[name]
            for _ in range(block):
                t = clock()
                fn()
                out.append((clock() - t) / 1e6)
    return samples


def _floor_step(hive: object, n: count) -> Callable[[], object]:
    """Lock, catch up, one durable append of a reservation event: no decision at all."""
    from fleet_hive.kernel.clock import iso
    from fleet_hive.kernel.ids import new_ulid

    h = hive  # type: ignore[assignment]

    def step() -> None:
        rid = new_ulid()
        now = time.time()
        with h.log.exclusive():  # type: ignore[attr-defined]
            h.index.catch_up()  # type: ignore[attr-defined]
            h.events.append_pending([h.events.prepare(  # type: ignore[attr-defined]
                "reservation_released", stream=f"reservation:{rid}",
                data={"reservation_id": rid, "path": f"floor/{next(n)}.py", "holder": "f",
                      "released_at": iso(now)})])

    return step


def uncontended(sizes: Sizes, workdir: Path) -> list[Measurement]:
    progress(f"uncontended reservations: {sizes.ops:,} acquires, releases and pairs")
    hive = new_repo(workdir / "uncontended")
    res = hive.reservations
    n = count()
    for i in range(50):  # imports, first segment, the projection's tables
        res.acquire(f"warm/{i}.py", holder="w", ttl=600)
        res.release(f"warm/{i}.py", holder="w")
    pending: list[str] = []

    def acquire() -> None:
        path = f"src/a{next(n)}.py"
        res.acquire(path, holder="h1", ttl=600)
        pending.append(path)

    def release() -> None:
        res.release(pending.pop(), holder="h1")

    def pair() -> None:
        path = f"src/p{next(n)}.py"
        res.acquire(path, holder="h1", ttl=600)
        res.release(path, holder="h1")

    # Acquire and release alternate one by one (the live set stays empty); the pair and
    # the floor run in blocks between them, so machine noise hits all of them alike.
    samples: dict[str, list[float]] = {"acquire": [], "release": [], "pair": [], "floor": []}
    floor = _floor_step(hive, n)
    clock = time.perf_counter_ns
    block = max(1, sizes.ops // sizes.rounds)
    for _ in range(sizes.rounds):
        for _ in range(block):
            t = clock()
            acquire()
            t2 = clock()
            release()
            samples["acquire"].append((t2 - t) / 1e6)
            samples["release"].append((clock() - t2) / 1e6)
        for name, fn in (("pair", pair), ("floor", floor)):
            for _ in range(block):
                t = clock()
                fn()
                samples[name].append((clock() - t) / 1e6)
    acq, rel = samples["acquire"], samples["release"]
    hive.close()
    fl = samples["floor"]
    ratio = f"{percentile(acq, 50) / percentile(fl, 50):.2f}x the floor at p50"
    return [
        Measurement("reservation acquire, uncontended, in-process", SPEC_ACQUIRE, "≤ 1 ms p95",
                    "", samples=acq, passed=_p95(acq) <= 1.0, notes=ratio),
        Measurement("reservation release, uncontended, in-process", "—", "≤ 1 ms p95", "",
                    samples=rel, passed=_p95(rel) <= 1.0),
        Measurement("reservation acquire + release pair, in-process", "—", "≤ 1 ms p95", "",
                    samples=samples["pair"], passed=_p95(samples["pair"]) <= 1.0,
                    notes="two decisions, two durable appends"),
        Measurement("floor: writer lock + index catch-up + 1 durable append", "—", "—", "",
                    samples=fl, notes="what every reservation write costs before deciding"),
    ]


def check_process(sizes: Sizes, workdir: Path) -> list[Measurement]:
    progress(f"`lock check` as a process: {sizes.check_runs} runs")
    hive = new_repo(workdir / "check")
    hive.reservations.acquire([f"src/m{i}/**" for i in range(50)], holder="h1", ttl=3600)
    hive.reservations.acquire([f"lib/f{i}.py" for i in range(200)], holder="h2", ttl=3600)
    hive.close()
    root = workdir / "check"
    argv = python_module("fleet_hive", "-C", root, "lock", "check", "src/new.py", "lib/x.py",
                         "--json")
    bare = [argv[0], "-c", "pass"]
    # As installed (pip writes .pyc files): a bytecode cache of our own, warmed once. And as
    # this environment runs it when PYTHONDONTWRITEBYTECODE=1 (every module compiled anew).
    cached = child_env({"PYTHONPYCACHEPREFIX": str(workdir / "pycache")})
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    uncached = child_env({"PYTHONDONTWRITEBYTECODE": "1"})
    run_process(argv, env=cached).check()  # warm the index, the page and bytecode caches
    runs: dict[str, list[float]] = {"cached": [], "uncached": [], "bare": []}
    for _ in range(sizes.check_runs):
        runs["cached"].append(run_process(argv, env=cached).check().wall_ms)
        runs["uncached"].append(run_process(argv, env=uncached).check().wall_ms)
        runs["bare"].append(run_process(bare, env=cached).check().wall_ms)
    bare_note = f"bare `python -c pass`: p50 {percentile(runs['bare'], 50):.1f} ms"
    what = "`lock check` (2 paths, 250 live reservations) as a process"
    return [
        Measurement(what, "—", "≤ 100 ms wall", "", samples=runs["cached"],
                    passed=_p95(runs["cached"]) <= 100,
                    notes=f"bytecode cached, as installed; {bare_note}; imports no pydantic, "
                          "filelock, ruamel, dulwich or jinja2"),
        Measurement(f"{what}, no bytecode cache", "—", "—", "", samples=runs["uncached"],
                    notes="PYTHONDONTWRITEBYTECODE=1: every module compiled on each start"),
    ]


def crowded(sizes: Sizes, workdir: Path) -> list[Measurement]:
    progress(f"acquire among {sizes.active:,} live reservations")
    hive = new_repo(workdir / "crowded")
    res = hive.reservations
    n_globs = sizes.globs_in_active
    res.acquire([f"pkg{i}/**" for i in range(n_globs)], holder="globber", ttl=3600)
    literal = sizes.active - n_globs
    per_holder = 50
    for h in range(0, literal, per_holder):
        res.acquire([f"src/d{h}/f{i}.py" for i in range(per_holder)], holder=f"agent{h}",
                    ttl=3600)
    assert len(res.active()) == sizes.active
    n = count()

    def literal_acquire() -> None:
        path = f"new/f{next(n)}.py"
        t = time.perf_counter_ns()
        res.acquire(path, holder="me", ttl=600)
        samples_lit.append((time.perf_counter_ns() - t) / 1e6)
        res.release(path, holder="me")

    def glob_acquire() -> None:
        path = f"new/g{next(n)}/**"
        t = time.perf_counter_ns()
        res.acquire(path, holder="me", ttl=600)
        samples_glob.append((time.perf_counter_ns() - t) / 1e6)
        res.release(path, holder="me")

    def conflict() -> None:
        t = time.perf_counter_ns()
        with contextlib.suppress(Exception):
            res.acquire("src/d0/f1.py", holder="me", ttl=600)
        samples_conflict.append((time.perf_counter_ns() - t) / 1e6)

    samples_lit: list[float] = []
    samples_glob: list[float] = []
    samples_conflict: list[float] = []
    for _ in range(20):  # warm-up
        literal_acquire()
        glob_acquire()
    samples_lit.clear()
    samples_glob.clear()
    _alternate({"literal": literal_acquire, "glob": glob_acquire, "conflict": conflict}, sizes)
    hive.close()
    what = f"{sizes.active:,} live ({n_globs} globs)"
    return [
        Measurement(f"acquire a path among {what}", "—", "≤ 5 ms p95", "",
                    samples=samples_lit, passed=_p95(samples_lit) <= 5.0),
        Measurement(f"acquire a glob among {what}", "—", "≤ 5 ms p95", "",
                    samples=samples_glob, passed=_p95(samples_glob) <= 5.0,
                    notes="only rows whose literal prefix is an ancestor or descendant of "
                          "the request's are read and compared"),
        Measurement(f"refused acquire (conflict) among {what}", "—", "—", "",
                    samples=samples_conflict, notes="includes the reservation_refused event"),
    ]
