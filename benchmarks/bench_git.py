"""git integration (issue 4): ``fleet-hive commit`` and ``fleet-hive sync`` as processes.

- commit: one new event in a repository with 10,000 tracked files and 100,000 committed
  events (smoke: 500 files, 2,000 events), ``fleet-hive commit`` as a whole process (start,
  imports, commit, index update), next to ``git add .fleet && git commit`` of the same kind
  of change in the same run (alternating, so noise hits both alike); plus the in-process
  ``hive.git.commit()`` for what the library itself costs.
- sync: a bare remote and two clones that each appended 1,000 new events (smoke: 100):
  the first sync pushes (ahead), the second fetches, builds a merge and pushes, the first
  again fast-forwards; next to a copy of the same remote and two more clones that gain
  as many events and are synced by git's own commands (``git add .fleet && git commit &&
  git pull && git push``), step for step in the same run.
"""

from __future__ import annotations

import gc
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import (
    Measurement,
    fmt,
    new_repo,
    percentile,
    progress,
    python_module,
    run_process,
    timed,
)

COMMIT_TARGET_MS = 300.0


@dataclass(frozen=True)
class Sizes:
    files: int
    events: int
    commits: int  # repetitions of each commit variant
    sync_events: int  # new events per clone before each sync round
    sync_rounds: int


FULL = Sizes(files=10_000, events=100_000, commits=15, sync_events=1_000, sync_rounds=5)
SMOKE = Sizes(files=500, events=2_000, commits=3, sync_events=100, sync_rounds=2)


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    out = commit_bench(sizes, workdir / "commit")
    gc.collect()
    out += sync_bench(sizes, workdir / "sync")
    return out


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=bench", "-c",
                           "user.email=bench@example.com", *args], check=True,
                          capture_output=True, text=True).stdout


def _tracked_files(repo: Path, count: int) -> None:
    for i in range(count):
        d = repo / "src" / f"pkg{i % 50:02d}" / f"mod{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i:05d}.py").write_text(f"VALUE = {i}\n")


def _events(hive: object, count: int) -> None:
    """``count`` committed-looking events written straight into segments (fast)."""
    from .datagen import notes_template, write_log

    write_log(hive.layout.events, count, notes_template())  # type: ignore[attr-defined]


# -- commit --------------------------------------------------------------------------------
def commit_bench(sizes: Sizes, base: Path) -> list[Measurement]:
    progress(f"git commit: repository with {sizes.files:,} files and {sizes.events:,} events")
    repo = base / "repo"
    hive = new_repo(repo)
    _tracked_files(repo, sizes.files)
    _events(hive, sizes.events)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    # the user's own work in progress, which neither variant may sweep in
    (repo / "src" / "staged.py").write_text("STAGED = True\n")
    _git(repo, "add", "src/staged.py")
    counter = iter(range(10**9))

    def new_event() -> None:
        hive.events.append("note_added", stream="mission:bench",
                           data={"text": f"benchmark event {next(counter)}"})

    ours: list[float] = []
    git_cli: list[float] = []
    failures: list[str] = []
    argv = python_module("fleet_hive", "-C", repo, "commit", "--json")
    git_argv = ["sh", "-c", "git add .fleet && git -c user.name=bench -c "
                "user.email=bench@example.com commit -q -m fleet-event"]
    new_event()
    run_process(argv).check()  # warm-up: the writer's first segment, page cache
    for _ in range(sizes.commits):
        new_event()
        result = run_process(argv)
        if result.returncode != 0:
            failures.append(result.stderr[-300:])
        ours.append(result.wall_ms)
        # the same change committed by git: stage .fleet/ (only) and commit the index,
        # after un-staging the user's file so that git commits just .fleet/ too
        new_event()
        _git(repo, "reset", "-q", "--", "src/staged.py")
        git_cli.append(run_process(git_argv, cwd=repo).check().wall_ms)
        _git(repo, "add", "src/staged.py")
    staged_still = _git(repo, "diff", "--cached", "--name-only").split()
    in_process: list[float] = []

    def commit_in_process() -> None:
        new_event()
        hive.git.commit()

    in_process = timed(commit_in_process, sizes.commits * 2)
    hive.close()
    p50, git_p50 = percentile(ours, 50), percentile(git_cli, 50)
    size = f"{sizes.files:,} files, {sizes.events:,} events"
    notes = (f"{size}; git add+commit p50 {fmt(git_p50)} ms "
             f"({p50 / git_p50:.2f}x ours); the user's staged file stayed staged: "
             f"{staged_still == ['src/staged.py']}")
    if failures:
        notes += f"; {len(failures)} FAILED: {failures[0]}"
    return [
        Measurement(f"fleet-hive commit of 1 new event ({size}), process wall", "—",
                    f"≤ {COMMIT_TARGET_MS:.0f} ms p50", "", samples=ours,
                    passed=p50 <= COMMIT_TARGET_MS and not failures, notes=notes),
        Measurement(f"fleet-hive commit over git add .fleet && git commit ({size})", "—",
                    "≤ 1.0x", "x", value=p50 / git_p50,
                    passed=p50 <= git_p50 and not failures,
                    notes="p50 over p50, alternating in the same run"),
        Measurement(f"git add .fleet && git commit, same repository ({size})", "—", "—", "",
                    samples=git_cli, notes="for comparison: two git processes, no hooks"),
        Measurement("hive.git.commit() of 1 new event, in-process", "—", "—", "",
                    samples=in_process, notes="blobs, tree, commit, ref CAS, index update"),
    ]


# -- sync ----------------------------------------------------------------------------------
def sync_bench(sizes: Sizes, base: Path) -> list[Measurement]:
    progress(f"sync: two clones x {sizes.sync_events:,} new events, {sizes.sync_rounds} rounds")
    base.mkdir(parents=True, exist_ok=True)
    remote = base / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = new_repo(base / "seed")
    (seed.root / "README").write_text("sync benchmark\n")
    _git(seed.root, "add", ".")
    _git(seed.root, "commit", "-q", "-m", "base")
    _git(seed.root, "push", "-q", str(remote), "HEAD:main")
    seed.close()
    # the baseline's remote: a copy of the same one, for two more clones that gain the
    # same number of events and are synced by git's own commands
    plain_remote = base / "plain-remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(remote), str(plain_remote)],
                   check=True)
    clones = []
    for name in ("a", "b"):
        subprocess.run(["git", "clone", "-q", str(remote), str(base / name)], check=True)
        clones.append(new_repo(base / name, actor=name))
    plain = []
    for name in ("c", "d"):
        subprocess.run(["git", "clone", "-q", str(plain_remote), str(base / name)], check=True)
        plain.append(new_repo(base / name, actor=name))
    pushes: list[float] = []
    merges: list[float] = []
    forwards: list[float] = []
    git_syncs: dict[str, list[float]] = {"ahead": [], "diverged": [], "behind": []}
    failures: list[str] = []

    def sync(hive: object) -> float:
        result = run_process(python_module("fleet_hive", "-C", hive.root,  # type: ignore
                                           "sync", "--json"))
        if result.returncode != 0:
            failures.append(result.stderr[-300:])
        return result.wall_ms

    def git_sync(hive: Any, kind: str) -> None:
        # what a person would type: stage .fleet/, commit if anything is staged, pull
        # (merging), push; two clones' segments are different files, so merges are clean
        git_syncs[kind].append(run_process(["sh", "-c", GIT_SYNC], cwd=hive.root).check().wall_ms)

    def new_events(hive: Any, r: int) -> None:
        for start in range(0, sizes.sync_events, 100):
            hive.events.append_batch([
                {"type": "note_added", "stream": f"sortie:s{(start + k) % 37}",
                 "data": {"text": f"round {r} event {start + k} from {hive.actor}"}}
                for k in range(min(100, sizes.sync_events - start))])

    for r in range(sizes.sync_rounds):
        for hive in (*clones, *plain):
            new_events(hive, r)
        pushes.append(sync(clones[0]))  # ahead of the remote: commit + push
        git_sync(plain[0], "ahead")
        merges.append(sync(clones[1]))  # diverged: commit, fetch, merge, push
        git_sync(plain[1], "diverged")
        forwards.append(sync(clones[0]))  # behind: fetch, fast-forward
        git_sync(plain[0], "behind")
    same = len({tuple(sorted(e.id for e in h.events.iter_all())) for h in clones}) == 1
    plain_same = _git(plain[0].root, "rev-parse", "HEAD") == _git(plain[1].root, "rev-parse",
                                                                    "HEAD")
    for hive in (*clones, *plain):
        hive.close()
    what = f"{sizes.sync_events:,} new events per clone"
    note = f"both clones hold the same events afterwards: {same}"
    if failures:
        note += f"; {len(failures)} FAILED: {failures[0]}"
    ok = not failures and same
    rows = []
    for kind, ours, label in (("ahead", pushes, "ahead: commit + push"),
                              ("diverged", merges, "diverged: commit + fetch + merge + push"),
                              ("behind", forwards, "behind: fetch + fast-forward")):
        ratio = percentile(ours, 50) / percentile(git_syncs[kind], 50)
        rows.append(Measurement(
            f"fleet-hive sync, {label} ({what})", "—", "≤ 1.0x git's commands", "",
            samples=ours, passed=ok and ratio <= 1.0,
            notes=f"{ratio:.2f}x `{GIT_SYNC_SHORT}` (p50, same run); {note}"))
        rows.append(Measurement(
            f"`{GIT_SYNC_SHORT}`, {kind} ({what})", "—", "—", "", samples=git_syncs[kind],
            notes=("the baseline: the same kind of clone and change, synced by git's own "
                   f"commands (its two clones agree afterwards: {plain_same})")))
    return rows


#: The baseline of ``fleet-hive sync``: git's own commands for the same job.
GIT_SYNC = ("git add .fleet && { git diff --cached --quiet || git -c user.name=bench "
            "-c user.email=bench@example.com commit -q -m fleet-sync; } && git -c "
            "user.name=bench -c user.email=bench@example.com pull -q --no-rebase --no-edit "
            "&& git push -q")
GIT_SYNC_SHORT = "git add && git commit && git pull && git push"
