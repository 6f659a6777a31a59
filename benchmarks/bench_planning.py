"""Planning (issue 13): heuristic ``decompose`` of a task over a 5,000-file repository as
a process, and ``plan validate`` on 500 sorties with globs.

The repository: 50 Python packages of 100 modules each (every module imports two others,
so the import graph has 10,000 edges), committed once, then 40 commits that keep touching
a few modules (churn for the risk strategy). ``decompose --json`` runs as a real process
(start-up, the git index read, ``git log`` for churn, import parsing of the files in scope,
the strategy, validation, JSON out), for ``auto`` (the task names files in a few packages)
and for ``risk`` and ``file`` over the whole repository (``--file 'pkg*/**'``: every file).

``plan validate``: a 500-sortie plan whose sorties each hold two globs (``pkgK/modJ*/**``
and a literal file), ordered in chains of 5, with a few overlapping pairs: the validation
in-process (pure), and ``fleet-hive plan validate MISSION`` as a process on a mission made
from that plan.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from .harness import (
    Measurement,
    new_repo,
    percentile,
    progress,
    python_module,
    run_process,
    timed,
)

PACKAGES, MODULES = 50, 100
SMOKE_PACKAGES, SMOKE_MODULES = 5, 10


def make_repository(root: Path, packages: int, modules: int) -> None:
    for k in range(packages):
        package = root / f"pkg{k}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        for j in range(modules - 1):
            a, b = (j + 1) % (modules - 1), (k + 1) % packages
            (package / f"mod{j}.py").write_text(
                f"from pkg{k} import mod{a}\nimport pkg{b}.mod{j % (modules - 1)}\n\n\n"
                f"def f{j}(x):\n    return x + {j}\n")
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=b@x"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "repository"], check=True)
    for c in range(40):
        hot = root / f"pkg{c % 3}" / "mod1.py"
        hot.write_text(hot.read_text() + f"\n\ndef churn{c}():\n    return {c}\n")
        subprocess.run([*git, "commit", "-q", "-am", f"churn {c}"], check=True)


def validation_plan(sorties: int) -> dict:
    out = []
    for i in range(sorties):
        k, j = i % 50, i // 50
        files = [f"pkg{k}/mod{j}*/**", f"pkg{k}/mod{j}_extra.py"]
        if i % 97 == 0 and i:
            files.append(f"pkg{(k + 1) % 50}/mod{j}*/**")  # overlaps a neighbour's glob
        out.append({"title": f"sortie {i}", "description": "", "files": files,
                    "depends_on": [i - 1] if i % 5 else [], "specialist": "python",
                    "priority": 2})
    return {"title": "validation bench", "strategy": "file", "sorties": out}


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    from fleet_hive.planning.validate import validate_plan

    packages, modules = (SMOKE_PACKAGES, SMOKE_MODULES) if smoke else (PACKAGES, MODULES)
    reps = 3 if smoke else 10
    n_files = packages * modules
    progress(f"planning: a {n_files}-file repository with history")
    repo = workdir / "repo"
    hive = new_repo(repo)
    make_repository(repo, packages, modules)
    hive.close()
    results: list[Measurement] = []
    tasks = {
        "auto": ["decompose", "Refactor pkg1 and pkg2, and add caching to pkg3", "--json"],
        "risk": ["decompose", "Refactor everything", "--strategy", "risk", "--file",
                 "pkg*/**", "--json"],
        "file": ["decompose", "Reorganize the packages", "--strategy", "file", "--file",
                 "pkg*/**", "--json"],
    }
    for name, args in tasks.items():
        samples, out = [], {}
        for _ in range(reps + 1):
            done = run_process(python_module("fleet_hive", "-C", repo, *args)).check()
            samples.append(done.wall_ms)
            out = json.loads(done.stdout)
        samples = samples[1:]  # the first warms the page cache
        scope = out["scope"]["files"]
        results.append(Measurement(
            f"`decompose` ({name}, heuristic) as a process, {n_files}-file repository",
            "—", "≤ 1 s", "", samples=samples, passed=percentile(samples, 95) <= 1000,
            notes=f"{scope} files in scope, {len(out['plan']['sorties'])} sorties, strategy "
                  f"{out['strategy']['chosen']}; start-up, git index, git log, imports, "
                  "validation, JSON"))
    progress("planning: validate 500 sorties")
    sorties = 50 if smoke else 500
    plan = validation_plan(sorties)
    found = validate_plan(plan)
    validate = timed(lambda: validate_plan(plan), reps * 3, warmup=1)
    results.append(Measurement(
        f"plan validation in-process, {sorties} sorties x 2-3 globs", "—", "≤ 200 ms", "",
        samples=validate, passed=percentile(validate, 95) <= 200,
        notes=f"{len(found['conflicts'])} conflicts found, {len(found['waves'])} waves; "
              "pure (glob overlap answers cached after the first run)"))
    cold = []
    for _ in range(reps):
        from fleet_hive.kernel import globs

        globs._compile.cache_clear()
        globs._glob_overlap.cache_clear()
        t = time.perf_counter_ns()
        validate_plan(plan)
        cold.append((time.perf_counter_ns() - t) / 1e6)
    results.append(Measurement(
        f"plan validation in-process, {sorties} sorties, glob caches cleared", "—",
        "≤ 200 ms", "", samples=cold, passed=percentile(cold, 95) <= 200,
        notes="every pattern compiled and every candidate pair decided anew"))
    hive = new_repo(workdir / "missions")
    mission = hive.planning.create(plan, task="bench").id
    hive.close()
    process = []
    for _ in range(reps + 1):
        done = run_process(python_module("fleet_hive", "-C", workdir / "missions", "plan",
                                         "validate", mission, "--json"))
        assert done.returncode in (0, 3), done.stderr
        code = done.returncode
        process.append(done.wall_ms)
    process = process[1:]
    results.append(Measurement(
        f"`plan validate MISSION` as a process, {sorties} sorties", "—", "—", "",
        samples=process, notes="start-up, mission and sorties from the index, validation, "
                               f"JSON; exit {code}"))
    return results
