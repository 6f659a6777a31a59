"""A failing agent is retried with backoff, then its sortie failed with the reason and an
error checkpoint; dispatch exits non-zero. A hanging agent's whole process group is
stopped at the timeout. A blocked agent is not failed nor timed out while it waits."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import fleet_hive
from tests.support import run_cli
from tests.support.dispatch import group_alive, group_members, run_dispatch


def _mission(hive, *titles: str, files: bool = True) -> tuple[str, list[str]]:
    m = hive.missions.create("m", sorties=[
        {"title": t, "files": [f"src/{k}.py"] if files else []} for k, t in enumerate(titles)])
    return m.id, [s.id for s in hive.missions.get(m.id).sorties]


def test_a_failing_agent_is_retried_then_failed_with_an_error_checkpoint(repo, hive):
    mission_id, (bad,) = _mission(hive, "always fails")
    hive.close()
    agent = "echo working; echo 'boom: it broke' >&2; exit 3"
    result, records = run_dispatch(repo, mission_id, "--agent", agent, "--retries", "2",
                                   "--backoff", "0.1")
    assert result.returncode == 1, result.stderr
    kinds = [r["event"] for r in records if r.get("sortie_id") == bad]
    assert kinds == ["sortie_started", "sortie_failed", "sortie_retried"] * 2 + [
        "sortie_started", "sortie_failed"]
    final = [r for r in records if r.get("event") == "sortie_failed"][-1]
    assert final["final"] is True and final["exit_code"] == 3 and final["attempt"] == 3
    assert "boom: it broke" in final["stderr_tail"]
    assert records[-1]["error"]["code"] == "sorties_failed"  # the one error mapper
    with fleet_hive.open(repo) as h:
        s = h.sorties.get(bad)
        assert s.status == "failed"
        assert "agent exited 3" in s.reason and "boom: it broke" in s.reason
        assert "try 3 of 3" in s.reason
        m = h.missions.get(mission_id, sorties=False)
        assert m.status == "in_progress"  # not completed: a sortie failed
        errors = [c for c in h.checkpoints.list(mission_id) if c.trigger == "error"]
        assert len(errors) == 3  # one per failed try
        tries = h.events.query(type="sortie_try_ended")
        assert [(e.data["attempt"], e.data["outcome"], e.data["exit_code"]) for e in tries] \
            == [(1, "retried", 3), (2, "retried", 3), (3, "failed", 3)]
        assert h.reservations.list() == []
    log = repo / ".fleet" / "local" / "dispatch" / "logs" / f"{bad}.log"
    text = log.read_text()
    assert text.count("=== try ") == 3 and "boom: it broke" in text and "working" in text


def test_the_error_object_ends_the_stream(repo, hive):
    mission_id, _ = _mission(hive, "fails")
    hive.close()
    result, records = run_dispatch(repo, mission_id, "--agent", "exit 1", "--retries", "0")
    assert result.returncode == 1
    assert records[-1] == {"error": records[-1]["error"]}
    assert records[-1]["error"]["code"] == "sorties_failed"
    assert records[-2]["event"] == "dispatch_finished" and records[-2]["ok"] is False


def test_a_sortie_that_fails_once_then_succeeds(repo, hive, tmp_path):
    mission_id, (sid,) = _mission(hive, "flaky")
    hive.close()
    marker = tmp_path / "tried"
    agent = f"if [ -e {marker} ]; then exit 0; else touch {marker}; exit 5; fi"
    result, records = run_dispatch(repo, mission_id, "--agent", agent, "--backoff", "0")
    assert result.returncode == 0, result.stderr
    assert [r["event"] for r in records if r.get("sortie_id") == sid] == [
        "sortie_started", "sortie_failed", "sortie_retried", "sortie_started",
        "sortie_completed"]
    assert records[-1]["event"] == "dispatch_finished" and records[-1]["ok"] is True
    with fleet_hive.open(repo) as h:
        assert h.sorties.get(sid).status == "completed"
        assert h.missions.get(mission_id, sorties=False).status == "completed"


def test_dependents_of_a_failed_sortie_do_not_run(repo, hive):
    m = hive.missions.create("chain", sorties=[{"title": "first"},
                                                {"title": "second", "after": [0]}])
    first, second = (s.id for s in hive.missions.get(m.id).sorties)
    hive.close()
    result, records = run_dispatch(repo, m.id, "--agent", "exit 2", "--retries", "0")
    assert result.returncode == 1
    finished = records[-2]
    assert finished["failed"] == [first] and finished["waiting"] == [second]
    assert not [r for r in records if r.get("sortie_id") == second]


def test_a_hanging_agent_and_its_children_are_stopped_at_the_timeout(repo, hive, tmp_path):
    mission_id, (sid,) = _mission(hive, "hangs")
    hive.close()
    pids = tmp_path / "pids"
    # grandchildren: two sleeps in the background, one more in a subshell, then wait
    agent = (f"sleep 300 & echo $! >> {pids}; (sleep 300 & echo $! >> {pids}; wait) & "
             "wait")
    started = time.monotonic()
    result, records = run_dispatch(repo, mission_id, "--agent", agent, "--timeout", "2",
                                   "--retries", "0")
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stderr
    (start,) = [r for r in records if r.get("event") == "sortie_started"]
    (failed,) = [r for r in records if r.get("event") == "sortie_failed"]
    assert failed["timed_out"] is True
    pgid = start["pid"]
    assert not group_alive(pgid), group_members(pgid)
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), pid
    with fleet_hive.open(repo) as h:
        assert "timed out" in h.sorties.get(sid).reason


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2:].split()[0] == "Z"


def test_an_agent_that_exits_leaves_no_background_process(repo, hive, tmp_path):
    mission_id, _ = _mission(hive, "leaves a child")
    hive.close()
    pids = tmp_path / "pids"
    result, records = run_dispatch(repo, mission_id, "--agent",
                                   f"sleep 300 & echo $! > {pids}; exit 0")
    assert result.returncode == 0, result.stderr
    (start,) = [r for r in records if r.get("event") == "sortie_started"]
    assert not group_alive(start["pid"])
    pid = int(pids.read_text())
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def test_a_blocked_agent_is_neither_failed_nor_timed_out(repo, hive, tmp_path):
    mission_id, (sid,) = _mission(hive, "needs help")
    hive.close()
    cli = f"{os.sys.executable} -m fleet_hive"
    agent = (f"{cli} sortie block $FLEET_SORTIE_ID --reason 'need a decision' && "
             f"sleep 4 && {cli} sortie unblock $FLEET_SORTIE_ID && "
             f"{cli} sortie progress $FLEET_SORTIE_ID --percent 90 --note nearly")
    result, records = run_dispatch(repo, mission_id, "--agent", agent, "--timeout", "3",
                                   "--retries", "0", timeout=120)
    assert result.returncode == 0, result.stderr + json.dumps(records)
    kinds = [r["event"] for r in records if r.get("sortie_id") == sid]
    assert "sortie_blocked" in kinds and kinds[-1] == "sortie_completed"
    (blocked,) = [r for r in records if r.get("event") == "sortie_blocked"]
    assert blocked["reason"] == "need a decision"
    with fleet_hive.open(repo) as h:
        assert h.sorties.get(sid).status == "completed"


def test_bad_input_is_refused_with_nothing_changed(repo, hive):
    mission_id, (sid,) = _mission(hive, "one")
    hive.close()
    result = run_cli("-C", str(repo), "dispatch", mission_id, "--json",
                     env={"FLEET_AGENT": ""})
    assert result.returncode == 1
    assert "no agent command" in json.loads(result.stdout)["error"]["message"]
    result = run_cli("-C", str(repo), "dispatch", "m-nosuchthing", "--agent", "true", "--json")
    assert result.returncode == 1 and "no mission" in json.loads(result.stdout)["error"][
        "message"]
    result = run_cli("-C", str(repo), "dispatch", mission_id, "--agent", "true",
                     "--workers", "0")
    assert result.returncode == 2
    with fleet_hive.open(repo) as h:
        assert h.sorties.get(sid).status == "pending"
    # a completed mission has nothing to dispatch (exit 3), and nothing is rerun
    assert run_dispatch(repo, mission_id, "--agent", "true")[0].returncode == 0
    again = run_cli("-C", str(repo), "dispatch", mission_id, "--agent", "true", "--json")
    assert again.returncode == 3 and "completed" in json.loads(again.stdout)["error"][
        "message"]
