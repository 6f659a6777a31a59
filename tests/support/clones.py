"""Clones without a remote, for convergence properties: each clone a bare ``git init``
with a ``.fleet/``, events exchanged by copying segments the way a merge would (a segment
is only ever appended by its own writer, so a merge keeps the longer copy), and one random
command of a mission's vocabulary at a time."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from fleet_hive.kernel.errors import FleetHiveError


def new_clone(path: Path) -> None:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / ".fleet").mkdir()
    (path / ".fleet" / "config.yaml").write_text("durability: none\n")


def sync(src: Path, dst: Path) -> None:
    """Bring ``src``'s events (and checkpoint files) into ``dst`` the way a git merge
    would."""
    base = src / ".fleet" / "events"
    changed = False
    for seg in base.glob("*/*.jsonl"):
        target = dst / ".fleet" / "events" / seg.relative_to(base)
        if not target.exists() or target.stat().st_size < seg.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(seg, target)
            changed = True
    # checkpoint files are committed and immutable: a merge brings the ones dst lacks
    checkpoints = src / ".fleet" / "checkpoints"
    for path in checkpoints.glob("*/*.yaml"):
        target = dst / ".fleet" / "checkpoints" / path.relative_to(checkpoints)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    if changed:  # a merge rewrites .git/index: writers then raise their Lamport clocks
        (dst / ".git" / "index").write_bytes(b"merged")


def run_step(hive: Any, kind: str, action: str, pick: int, arg: Any, sorties: list[str],
             mission_id: str) -> None:
    try:
        if kind == "mission":
            if action == "update":
                hive.missions.update(mission_id, title=f"title {pick}")
            elif action == "complete":
                hive.missions.complete(mission_id, force=arg)
            else:
                getattr(hive.missions, action)(mission_id)
            return
        if action == "add":
            after = [sorties[pick % len(sorties)]] if pick % 3 == 0 else []
            sorties.append(hive.sorties.add(mission_id, f"s{len(sorties)}", after=after).id)
            return
        target = sorties[pick % len(sorties)]
        if action == "go":  # claim and start in one step: makes outcomes (and clashes) common
            hive.sorties.claim(target, specialist=arg)
            hive.sorties.start(target)
        elif action == "claim":
            hive.sorties.claim(target, specialist=arg)
        elif action == "progress":
            hive.sorties.progress(target, pick * 25, note=arg)
        elif action == "update":
            hive.sorties.update(target, title=f"t{pick}", priority=pick % 5)
        else:
            getattr(hive.sorties, action)(target)
    except FleetHiveError:
        return  # refused (or unknown on this clone yet): nothing written
