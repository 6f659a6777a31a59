"""Many real agents over a 100-sortie mission with dependencies and overlapping files:
each sortie runs exactly once, after its dependencies, never alongside a sortie whose files
overlap its own, and the agents really run in parallel."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from fleet_hive.kernel.globs import overlaps
from tests.support.dispatch import intervals, layered_mission, run_dispatch, write_agent


def test_a_hundred_sorties_on_twelve_workers(repo: Path, hive, tmp_path: Path):
    mission_id, sorties = layered_mission(hive, 100)
    by_id = {s.id: s for s in sorties}
    hive.close()
    log = tmp_path / "agents.log"
    agent = write_agent(tmp_path)

    result, records = run_dispatch(repo, mission_id, "--workers", "12", "--agent", agent,
                                   env={"AGENT_LOG": str(log), "AGENT_SLEEP": "0.3",
                                        "FLEET_ACTOR": "lead"})
    assert result.returncode == 0, result.stderr[-3000:]

    runs = intervals(log)
    # every sortie exactly once, each run ended
    assert sorted(r.sortie for r in runs) == sorted(by_id)
    assert all(r.end is not None for r in runs)
    span = {r.sortie: r for r in runs}
    # dependency order: a sortie starts only after each of its dependencies ended
    for s in sorties:
        for dep in s.depends_on:
            assert span[dep].end is not None and span[dep].end < span[s.id].start, (s.id, dep)
    # never two agents at once inside overlapping reservations (every pair checked)
    overlapping_pairs = 0
    for a, b in combinations(runs, 2):
        fa, fb = by_id[a.sortie].files, by_id[b.sortie].files
        if any(overlaps(x, y) for x in fa for y in fb):
            overlapping_pairs += 1
            assert a.end is not None and b.end is not None
            assert a.end < b.start or b.end < a.start, (a.sortie, b.sortie, fa, fb)
    assert overlapping_pairs > 100  # the check had pairs to check
    # real parallelism: the largest number of agents running at one time
    points = sorted([(r.start, 1) for r in runs] + [(r.end or 0, -1) for r in runs])
    level = peak = 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    assert peak >= 3, peak
    # each worker is one of ours, and each agent acted under its own identity
    assert {r.actor for r in runs} <= {f"lead/w{k}" for k in range(1, 13)}
    assert len({r.actor for r in runs}) >= 3

    kinds = [r["event"] for r in records]
    assert kinds[0] == "dispatch_started" and kinds[-1] == "dispatch_finished"
    assert kinds.count("sortie_started") == kinds.count("sortie_completed") == 100
    assert "mission_completed" in kinds
    assert records[-1]["ok"] is True and records[-1]["mission_status"] == "completed"

    import fleet_hive

    with fleet_hive.open(repo) as h:
        m = h.missions.get(mission_id)
        assert m.status == "completed" and m.progress == 100
        assert {s.status for s in m.sorties} == {"completed"}
        assert h.reservations.list() == []  # every reservation released
        tries = h.events.query(type="sortie_try_ended", limit=1000)
        assert len(tries) == 100
        assert {e.data["outcome"] for e in tries} == {"completed"}
        assert all(e.data["exit_code"] == 0 and e.data["attempt"] == 1 for e in tries)
    local = repo / ".fleet" / "local" / "dispatch"
    assert not list((local / "leases").glob("*.json"))
    assert not list((local / "prompts").glob("*.md"))  # the prompts of completed sorties go
    assert len(list((local / "logs").glob("*.log"))) == 100  # their logs stay
