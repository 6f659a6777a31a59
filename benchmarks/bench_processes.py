"""Every hot command as a whole process (issue 11), next to ``python -c pass`` in the same run.

Agents run ``fleet-hive`` once per action, so what they pay is interpreter start, imports,
the work and teardown. On a repository of about 100,000 mission events (warm index, bytecode
cached as an installed package has it) this times, interleaved so that noise hits all alike:

* read commands: ``ready --json``, ``status --json``, ``lock check``, ``events list --limit 10``
  (target: within +15 ms of ``python -c pass``; ``status`` +25 ms), and ``ready`` and
  ``status`` again while every claimed sortie is stale (``stale_after: 1s``: they then look
  up each one's last activity and list them all, ~500 at full size);
* write commands with fsync on: ``sortie claim``, ``start``, ``progress``, ``complete``,
  ``lock acquire``, ``events append`` (target: within +30 ms), once with the default
  ``snapshots: every_write`` and once with ``snapshots: deferred`` (no YAML rendering);
* ``ready`` and ``status`` on a repository of about 1,000,000 events with the same open work
  (a long-lived repository: most missions finished; target: within +40 ms).

Each row shows the p50 difference to the same run's ``python -c pass``. Commands run as
agents start them: the installed ``fleet-hive`` script.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .harness import (
    Measurement,
    child_env,
    fleet_hive_command,
    interleaved,
    percentile,
    progress,
    python_module,
    run_process,
)


@dataclass(frozen=True)
class Sizes:
    events: int
    runs: int
    history: int  # events of the long-lived repository (the same open work, more history)


FULL = Sizes(events=100_000, runs=30, history=1_000_000)
SMOKE = Sizes(events=2_000, runs=3, history=4_000)

READS = {
    "`ready --json`": (["ready", "--json"], 15),
    "`status --json`": (["status", "--json"], 25),
    "`lock check src/x.py --json`": (["lock", "check", "src/x.py", "--json"], 15),
    "`events list --limit 10 --json`": (["events", "list", "--limit", "10", "--json"], 15),
}
WRITES = ("sortie claim", "sortie start", "sortie progress", "sortie complete",
          "lock acquire", "events append")


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    from .bench_missions import build_big_repo

    sizes = SMOKE if smoke else FULL
    progress(f"generating a {sizes.events:,}-event mission repository")
    root = workdir / "processes"
    hive, written = build_big_repo(root, sizes.events)
    mission = hive.missions.create("process benchmark")
    sortie_ids = [hive.sorties.add(mission.id, f"p{i}", files=[f"src/proc/{i}.py"]).id
                  for i in range(2 * (sizes.runs + 1))]
    hive.missions.start(mission.id)
    hive.close()
    env = child_env({"PYTHONPYCACHEPREFIX": str(workdir / "pycache"), "FLEET_ACTOR": "bench"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    bare = [python_module("fleet_hive")[0], "-c", "pass"]

    def fleet(*args: object) -> list[str]:
        return fleet_hive_command("-C", root, *args)

    config = root / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("durability: none", "durability: fsync"))
    # (warmed first: the bytecode, the page cache, the index and the remembered settings)
    progress(f"{written:,} events: read commands as processes ({sizes.runs} runs each)")
    samples, bare_samples = interleaved({k: fleet(*argv) for k, (argv, _) in READS.items()},
                                        bare, sizes.runs, env=env)
    floor = percentile(bare_samples, 50)
    out = [Measurement("`python -c pass` (the floor, same run)", "—", "—", "",
                       samples=bare_samples)]
    for key, (_, budget) in READS.items():
        out.append(_row(f"{key} as a process, {written:,} events", samples[key], floor,
                        budget))

    plain = config.read_text()
    config.write_text(plain + "stale_after: 1s\n")
    time.sleep(1.5)  # every claimed sortie is now idle for longer than that
    stale_reads = {k: READS[k] for k in ("`ready --json`", "`status --json`")}
    stale = run_process(fleet("status", "--json"), env=env).check()
    count = json.loads(stale.stdout)["stale"]["count"]
    progress(f"{count:,} stale sorties: ready and status as processes ({sizes.runs} runs each)")
    stale_samples, stale_bare = interleaved(
        {k: fleet(*argv) for k, (argv, _) in stale_reads.items()}, bare, sizes.runs, env=env)
    stale_floor = percentile(stale_bare, 50)
    for key, (_, budget) in stale_reads.items():
        out.append(_row(f"{key} as a process, {written:,} events, {count:,} stale sorties",
                        stale_samples[key], stale_floor, budget))
    config.write_text(plain)

    pool = iter(sortie_ids)
    counter = itertools.count()
    for mode in ("every_write", "deferred"):
        text = config.read_text()
        config.write_text(text.replace("snapshots: every_write", f"snapshots: {mode}")
                          .replace("snapshots: deferred", f"snapshots: {mode}"))
        run_process(fleet("ready", "--json"), env=env).check()  # remember the settings
        progress(f"write commands as processes, fsync on, snapshots: {mode}")
        writes: dict[str, list[float]] = {k: [] for k in [*WRITES, "bare"]}
        for _ in range(sizes.runs):
            s = next(pool)
            n = next(counter)
            steps = {
                "sortie claim": fleet("sortie", "claim", s, "--json"),
                "sortie start": fleet("sortie", "start", s, "--json"),
                "sortie progress": fleet("sortie", "progress", s, "--percent", "50", "--json"),
                "sortie complete": fleet("sortie", "complete", s, "--json"),
                "lock acquire": fleet("lock", "acquire", f"docs/bench/{mode}/{n}.md",
                                      "--json"),
                "events append": fleet("events", "append", "note_added", "--stream",
                                       f"note:bench{n}", "--data", '{"text": "hello"}',
                                       "--json"),
            }
            for key, argv in steps.items():
                writes[key].append(run_process(argv, env=env).check().wall_ms)
            writes["bare"].append(run_process(bare, env=env).check().wall_ms)
        wfloor = percentile(writes["bare"], 50)
        for key in WRITES:
            out.append(_row(f"`{key}` as a process, fsync on, snapshots: {mode}",
                            writes[key], wfloor, 30))
    out += _history_reads(sizes, workdir, env, bare)
    shutil.rmtree(workdir / "pycache", ignore_errors=True)
    return out


def _history_reads(sizes: Sizes, workdir: Path, env: dict[str, str], bare: list[str],
                   ) -> list[Measurement]:
    """``ready`` and ``status`` on a repository ten times as old: about as much open work
    as the one above (one mission in 100 still open instead of one in 10) and ten times
    the history (target: within +40 ms of ``python -c pass``), next to the same commands
    on the repository above, in the same run."""
    from .bench_missions import build_big_repo

    progress(f"generating a {sizes.history:,}-event repository (same open work, more history)")
    root = workdir / "history"
    hive, written = build_big_repo(root, sizes.history, active_every=100)
    hive.close()
    young = workdir / "processes"
    commands = {"`ready --json`": ["ready", "--json"], "`status --json`": ["status", "--json"]}
    runs = {(key, where): fleet_hive_command("-C", where, *argv)
            for key, argv in commands.items() for where in (root, young)}
    progress(f"{written:,} events: ready and status as processes ({sizes.runs} runs each)")
    samples, floor_samples = interleaved(runs, bare, sizes.runs, env=env)
    floor = percentile(floor_samples, 50)
    out = []
    for key in commands:
        row = _row(f"{key} as a process, {written:,} events (same open work as above)",
                   samples[(key, root)], floor, 40)
        young_p50 = percentile(samples[(key, young)], 50)
        row.notes += (f"; the {sizes.events:,}-event repository in the same run: "
                      f"+{young_p50 - floor:.1f} ms")
        out.append(row)
    return out


def _row(metric: str, samples: list[float], floor: float, budget: float) -> Measurement:
    p50 = percentile(samples, 50)
    return Measurement(metric, "—", f"≤ +{budget:g} ms over `python -c pass`", "",
                       samples=samples, passed=p50 - floor <= budget,
                       notes=f"+{p50 - floor:.1f} ms over `python -c pass` "
                             f"(p50 {floor:.1f} ms, same run)")
