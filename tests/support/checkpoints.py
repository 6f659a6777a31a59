"""Missions driven to a given progress, for the checkpoint tests: each step is ONE write
(several sorties completed in one unit of work), so a jump from 20 to 60 % is one write,
as it is when a batch of results lands at once."""

from __future__ import annotations

from typing import Any


def started_mission(hive: Any, n: int, *, files: bool = True,
                    who: str = "tester") -> tuple[str, list[str]]:
    """A mission in progress with ``n`` sorties, each claimed by ``who`` and started."""
    m = hive.missions.create("checkpointed")
    sorties = hive.sorties.add_many(m.id, [
        {"title": f"sortie {i}", "files": [f"src/{i}.py"] if files else []}
        for i in range(n)])
    hive.missions.start(m.id)
    for s in sorties:
        hive.sorties.claim(s.id, specialist=who)
        hive.sorties.start(s.id, force=True)
    return m.id, [s.id for s in sorties]


def complete_at_once(hive: Any, sortie_ids: list[str]) -> None:
    """Complete every sortie of ``sortie_ids`` (in progress) in one unit of work."""
    from fleet_hive.missions import decide

    if not sortie_ids:
        return
    hive.uow.run(lambda _view: [e for sid in sortie_ids for e in decide.transition_sortie(
        hive.sorties.get(sid), "complete", actor=None)])


def drive(hive: Any, sortie_ids: list[str], percents: list[int]) -> None:
    """Complete sorties so progress goes through ``percents``, one write per step."""
    done = 0
    for p in percents:
        want = p * len(sortie_ids) // 100
        complete_at_once(hive, sortie_ids[done:want])
        done = max(done, want)


def fired(hive: Any, mission_id: str) -> list[int]:
    """Thresholds of the mission's progress checkpoints, oldest first."""
    return [c.threshold for c in reversed(hive.checkpoints.list(mission_id))
            if c.trigger == "progress"]
