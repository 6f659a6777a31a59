"""Dispatch (issue 14): the overhead per sortie of ``dispatch`` with an agent that exits at
once (``true`` through the shell), 100 sorties on 16 workers, durable (fsync) writes.

Each repetition dispatches a fresh 100-sortie mission (a file per sortie, no dependencies)
in-process; a sample is the run's wall time divided by its sorties. The agent's own run
time (``/bin/sh -c true`` started and waited for, alone, serially) is measured in the same
run and subtracted once per sortie, as if agents ran one after another: the overhead left
is what dispatch itself adds (claim with reservations, start, prompt and brief, spawn,
complete, the try event, leases, the loop). The dispatcher's CPU time per sortie and the
events written per sortie are reported next to it; and ``fleet-hive dispatch`` as a
process, start-up included.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

from .harness import Measurement, child_env, new_repo, percentile, progress, python_module


def _mission(hive: object, n: int, tag: str) -> str:
    m = hive.missions.create(f"bench {tag}", sorties=[  # type: ignore[attr-defined]
        {"title": f"sortie {k}", "files": [f"src/{tag}/{k}.py"]} for k in range(n)])
    return str(m.id)


def _agent_alone(reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter_ns()
        subprocess.run(["/bin/sh", "-c", "true"], check=True)
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    from fleet_hive.dispatch import Options

    n, workers, reps = (20, 4, 1) if smoke else (100, 16, 5)
    progress(f"dispatch: {reps} x {n} sorties on {workers} workers, agent `true`")
    results = []
    for durability in ("fsync", "none"):
        hive = new_repo(workdir / f"dispatch-{durability}", durability=durability)
        hive.missions.create("warm-up", sorties=[{"title": "w"}])
        per_sortie: list[float] = []
        cpu: list[float] = []
        events: list[float] = []
        for rep in range(reps + 1):  # the first run warms imports and caches up
            mission = _mission(hive, n, f"r{rep}")
            before = hive.index.latest_seq()
            c0, t0 = time.process_time(), time.perf_counter()
            summary = hive.dispatch.run(mission, Options(agent="true", workers=workers),
                                        environ=dict(os.environ))
            wall, used = time.perf_counter() - t0, time.process_time() - c0
            assert summary.ok and len(summary.completed) == n, summary.to_json()
            if rep:
                per_sortie.append(wall * 1000 / n)
                cpu.append(used * 1000 / n)
                events.append((hive.index.latest_seq() - before) / n)
        hive.close()
        results.append((durability, per_sortie, cpu, events))
    agent = _agent_alone(10 if smoke else 40)
    agent_p50 = percentile(agent, 50)

    progress("dispatch as a process")
    proc_hive = new_repo(workdir / "dispatch-process")
    mission = _mission(proc_hive, n, "p")
    proc_hive.close()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([*python_module("fleet_hive", "-C", workdir / "dispatch-process",
                                   "dispatch", mission, "--agent", "true", "--workers",
                                   workers, "--json")], check=True, capture_output=True,
                   env=child_env())
    process_wall = (time.perf_counter() - t0) * 1000
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (children1.ru_utime + children1.ru_stime - children0.ru_utime
                 - children0.ru_stime) * 1000

    out = []
    for durability, per_sortie, cpu, events in results:
        p50 = percentile(per_sortie, 50)
        overhead = p50 - agent_p50
        label = "durable (fsync)" if durability == "fsync" else "durability: none"
        out.append(Measurement(
            f"dispatch wall per sortie, {n} sorties x {workers} workers, agent `true`, "
            f"{label}", "—", "≤ 20 ms beyond the agent", "", samples=per_sortie,
            passed=(overhead <= 20) if durability == "fsync" else None,
            notes=f"overhead beyond the agent's own run (p50 {agent_p50:.2f} ms alone): "
                  f"{overhead:.1f} ms per sortie; dispatcher CPU p50 "
                  f"{percentile(cpu, 50):.1f} ms per sortie; {percentile(events, 50):.1f} "
                  "events per sortie (claim + reservation, start, complete + release, "
                  "try event)"))
    out.append(Measurement(
        "agent alone: `/bin/sh -c true` started and waited for", "—", "—", "",
        samples=agent, notes="serially, from the benchmark process"))
    out.append(Measurement(
        f"`fleet-hive dispatch` as a process, {n} sorties x {workers} workers, agent `true`",
        "—", "—", "ms", value=process_wall,
        notes=f"{process_wall / n:.1f} ms per sortie, start-up included; the process and "
              f"its agents used {child_cpu:.0f} ms CPU"))
    out.extend(_isolation(smoke, workdir))
    return out


#: The agent of the isolation figures: changes one file of its own and exits.
_ONE_FILE_AGENT = 'mkdir -p out && echo "$FLEET_SORTIE_ID" > "out/$FLEET_SORTIE_ID.txt"'


def _isolation(smoke: bool, workdir: Path) -> list[Measurement]:
    """Per-sortie overhead of ``--isolation worktree`` (a pooled worktree made like new,
    commit, reservation check, merge; no verify) on a repository of many files, next to
    ``shared`` in the same run: one worker, so a sortie's wall time is its whole path; and
    a one-sortie run, which pays for a new worktree and its removal."""
    from fleet_hive.dispatch import Options

    files, n, reps = (300, 5, 1) if smoke else (10_000, 20, 1)
    progress(f"dispatch isolation: {reps} x {n} sorties, one worker, {files} files")
    hive = new_repo(workdir / "dispatch-isolation", durability="fsync")
    root = Path(hive.root)
    for k in range(files):
        d = root / "src" / f"d{k % 100}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{k}.py").write_text(f"x = {k}\n")
    env = child_env({"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x",
                     "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x"})
    for argv in (["add", "-A"], ["commit", "-q", "-m", "files"]):
        subprocess.run(["git", "-C", str(root), *argv], check=True, env=env,
                       capture_output=True)
    per: dict[str, list[float]] = {"shared": [], "worktree": []}
    for rep in range(reps + 1):  # the first round (two sorties) warms up
        for isolation in ("shared", "worktree"):
            m = hive.missions.create(f"{isolation} {rep}", sorties=[
                {"title": f"s{k}", "files": ["out/**"]} for k in range(n if rep else 2)])
            t0 = time.perf_counter()
            summary = hive.dispatch.run(m.id, Options(agent=_ONE_FILE_AGENT, workers=1,
                                                      isolation=isolation), environ=env)
            wall = time.perf_counter() - t0
            assert summary.ok, summary.to_json()
            if isolation == "shared":  # its files left in the tree: committed
                for argv in (["add", "out"], ["commit", "-q", "-m", "shared"]):
                    subprocess.run(["git", "-C", str(root), *argv], check=True, env=env,
                                   capture_output=True)
            if rep:
                per[isolation].append(wall * 1000 / n)
    single: list[float] = []  # a run of one sortie: its worktree is new, then removed
    for _ in range(reps):
        m = hive.missions.create("one sortie", sorties=[{"title": "s", "files": ["out/**"]}])
        t0 = time.perf_counter()
        summary = hive.dispatch.run(m.id, Options(agent=_ONE_FILE_AGENT, workers=1,
                                                  isolation="worktree"), environ=env)
        single.append((time.perf_counter() - t0) * 1000)
        assert summary.ok, summary.to_json()
    hive.close()
    shared, tree = percentile(per["shared"], 50), percentile(per["worktree"], 50)
    return [
        Measurement(f"dispatch wall per sortie, --isolation shared, {n} sorties x 1 worker, "
                    f"{files}-file repository, agent changes one file", "—", "—", "",
                    samples=per["shared"], notes="the reference for the next line"),
        Measurement(f"dispatch wall per sortie, --isolation worktree (pooled worktree made "
                    f"like new, commit, merge), {n} sorties x 1 worker, {files}-file "
                    "repository", "—",
                    "≤ 300 ms beyond the agent", "", samples=per["worktree"],
                    passed=None if smoke else (tree - shared) <= 300,
                    notes=f"worktree isolation adds {tree - shared:.0f} ms per sortie over "
                          "shared isolation in the same run (no verify command); the "
                          "worker's worktree is made once and reused by each next try"),
        Measurement(f"dispatch wall of a one-sortie run, --isolation worktree, {files}-file "
                    "repository", "—", "—", "", samples=single,
                    notes="what the first try of each worker pays: a new worktree (every "
                          "file written), removed when the run ends"),
    ]
