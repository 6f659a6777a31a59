"""``dispatch --isolation worktree``: each try in its own git worktree and branch, its
change verified and merged through one queue; refused changes fail the try and keep their
branch; nothing is left behind (real repositories, real agent and verify processes)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

import fleet_hive
from fleet_hive.git import worktrees as wt
from tests.support import git, run_cli
from tests.support.dispatch import run_dispatch, start_dispatch
from tests.support.worktrees import (
    fleet_branches,
    python_project,
    read_records,
    show,
    verify_command,
    worktree_paths,
    write_plan,
)

pytestmark = pytest.mark.skipif(wt.version(Path("."))[:2] < wt.MIN_GIT,
                                reason="git too old for worktree isolation")


@pytest.fixture
def project(repo: Path, hive) -> Path:
    python_project(repo)
    return repo


def _mission(hive: Any, sorties: list[dict[str, Any]]) -> tuple[str, list[str]]:
    m = hive.missions.create("isolated", sorties=sorties)
    ids = [s.id for s in hive.missions.get(m.id).sorties]
    hive.close()
    return m.id, ids


def _dispatch(repo: Path, mission_id: str, agent: str, env: dict[str, str], *args: str,
              ) -> tuple[Any, list[dict[str, Any]]]:
    return run_dispatch(repo, mission_id, "--isolation", "worktree", "--agent", agent,
                        "--retries", "0", "--backoff", "0", *args, env=env)


def _tries(repo: Path) -> dict[str, dict[str, Any]]:
    with fleet_hive.open(repo) as h:
        return {e.data["sortie_id"]: e.data
                for e in h.events.query(type="sortie_try_ended", limit=100)}


def _first_parents(repo: Path) -> list[str]:
    return git(repo, "rev-list", "--first-parent", "main").stdout.split()


def test_four_sorties_merge_each_verified_and_leave_nothing_behind(project: Path, hive,
                                                                    tmp_path: Path):
    mission_id, ids = _mission(hive, [
        {"title": f"edit {n}", "files": [f"pkg/{n}.py"]} for n in "abcd"])
    plans = {sid: {"write": {f"pkg/{n}.py": f"def {n}():\n    return {n + '-new'!r}\n"},
                   "commit": k % 2 == 0} for k, (sid, n) in enumerate(zip(ids, "abcd",
                                                                         strict=True))}
    agent, env = write_plan(tmp_path, plans)

    result, records = _dispatch(project, mission_id, agent, env, "--verify", verify_command())
    assert result.returncode == 0, result.stderr[-3000:]

    for n in "abcd":  # every change on the base branch
        assert show(project, "main", f"pkg/{n}.py") == f"def {n}():\n    return '{n}-new'\n"
    tries = _tries(project)
    mainline = _first_parents(project)
    with fleet_hive.open(project) as h:
        for sid, n in zip(ids, "abcd", strict=True):
            s = h.sorties.get(sid)
            fact = tries[sid]
            assert s.status == "completed"
            assert fact["merged"] is True and fact["verified"] is True
            assert fact["changed_files"] == [f"pkg/{n}.py"]
            assert fact["merge_commit"] in mainline  # a merge commit on the base branch
            assert fact["merge_commit"] in s.reason
            parents = git(project, "rev-list", "--parents", "-n1",
                          fact["merge_commit"]).stdout.split()
            assert len(parents) == 3  # a real merge of the sortie's branch
        assert h.missions.get(mission_id).status == "completed"
        # learning knows what really happened: verified, merged, the files changed
        learned = {o.sortie_id: o for o in h.learning.outcomes(mission=mission_id,
                                                                subject="sortie")}
        for sid, n in zip(ids, "abcd", strict=True):
            o = learned[sid]
            assert (o.success, o.verified, o.merged, o.changed_files) == (
                True, True, True, [f"pkg/{n}.py"])
    kinds = [r.get("event") for r in records]
    assert kinds.count("verify_passed") >= 4 and kinds.count("merged") == 4
    assert "verify_failed" not in kinds and "merge_conflict" not in kinds
    # the agent's own commit and the one made for it: authored by the worker
    authors = set(git(project, "log", "main", "--format=%an", "--no-merges", "-6").stdout
                  .split("\n"))
    assert any(a.startswith("lead/w") for a in authors)
    # nothing left: no worktree but the repository's, no branch, a clean tree
    assert worktree_paths(project) == [str(project)]
    assert fleet_branches(project) == []
    assert wt.dirty_files(project) == []
    assert git(project, "worktree", "prune", "--dry-run", "-v").stdout == ""

    # history, ready for the pull request: per sortie its merge commit and verify result
    start = mainline[-2]  # the package's commit
    assert run_cli("-C", str(project), "commit", "-m", "fleet: dispatched").returncode == 0
    done = run_cli("-C", str(project), "history", "--since", start, "--format", "json")
    assert done.returncode == 0, done.stderr
    (m,) = json.loads(done.stdout)["missions"]
    merges = {s["id"]: s["merge"] for s in m["sorties"]}
    assert {sid: (x["merge_commit"], x["verified"]) for sid, x in merges.items()} == {
        sid: (tries[sid]["merge_commit"], True) for sid in ids}
    text = run_cli("-C", str(project), "history", "--since", start).stdout
    for sid in ids:
        assert f"merged as `{tries[sid]['merge_commit']}`; verify passed" in text


def test_a_change_that_breaks_a_test_is_not_merged_the_others_are(project: Path, hive,
                                                                    tmp_path: Path):
    mission_id, ids = _mission(hive, [
        {"title": f"edit {n}", "files": [f"pkg/{n}.py"]} for n in "abc"])
    plans = {ids[0]: {"write": {"pkg/a.py": "def a():\n    return 'broken'\n"}},
             ids[1]: {"write": {"pkg/b.py": "def b():\n    return 'b2'\n"}},
             ids[2]: {"write": {"pkg/c.py": "def c():\n    return 'c2'\n"}, "commit": True}}
    agent, env = write_plan(tmp_path, plans)

    result, records = _dispatch(project, mission_id, agent, env, "--verify", verify_command())
    assert result.returncode == 1

    assert show(project, "main", "pkg/a.py") == "def a():\n    return 'a'\n"  # absent
    assert show(project, "main", "pkg/b.py") == "def b():\n    return 'b2'\n"
    assert show(project, "main", "pkg/c.py") == "def c():\n    return 'c2'\n"
    tries = _tries(project)
    assert tries[ids[0]]["verified"] is False and tries[ids[0]]["merged"] is not True
    assert tries[ids[0]]["refusal"] == "verify_failed"
    assert tries[ids[1]]["merged"] is True and tries[ids[2]]["merged"] is True
    with fleet_hive.open(project) as h:
        failed = h.sorties.get(ids[0])
        assert failed.status == "failed"
        assert "verify" in failed.reason and "test_a" in failed.reason  # pytest's report
        learned = {o.sortie_id: o for o in h.learning.outcomes(mission=mission_id,
                                                                subject="sortie")}
        assert (learned[ids[0]].success, learned[ids[0]].verified) == (False, False)
        assert learned[ids[1]].merged is True
    failed_verifies = [r for r in records if r.get("event") == "verify_failed"]
    assert [r["sortie_id"] for r in failed_verifies] == [ids[0]]
    # its branch is kept for inspection, with the change; its worktree is gone
    branch = f"fleet/{mission_id}/{ids[0]}"
    assert fleet_branches(project) == [branch]
    assert show(project, branch, "pkg/a.py") == "def a():\n    return 'broken'\n"
    assert worktree_paths(project) == [str(project)]


def test_a_retry_after_a_failed_verify_gets_the_reason_and_a_fresh_branch(
        project: Path, hive, tmp_path: Path):
    mission_id, ids = _mission(hive, [{"title": "edit a", "files": ["pkg/a.py"]}])
    plans = {ids[0]: {"write": {"pkg/a.py": "def a():\n    return 'broken'\n"},
                      "retry": {"write": {"pkg/a.py": "def a():\n    return 'a fixed'\n"}}}}
    agent, env = write_plan(tmp_path, plans)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    result, _ = run_dispatch(project, mission_id, "--isolation", "worktree", "--agent",
                             agent, "--retries", "1", "--backoff", "0", "--verify",
                             verify_command(), env={**env, "AGENT_PROMPTS": str(prompts)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert show(project, "main", "pkg/a.py") == "def a():\n    return 'a fixed'\n"
    assert "not merged" not in (prompts / f"{ids[0]}-1.md").read_text()
    second = (prompts / f"{ids[0]}-2.md").read_text()
    assert "not merged: verify" in second and "test_a" in second  # why try 1 failed
    assert fleet_branches(project) == [f"fleet/{mission_id}/{ids[0]}"]  # try 1's, kept


def test_conflicting_sorties_one_merges_the_other_fails_and_cleanup_removes_it(
        project: Path, hive, tmp_path: Path):
    # no files declared: nothing keeps them apart, nothing restricts what they change
    mission_id, ids = _mission(hive, [{"title": "one"}, {"title": "two"}])
    plans = {ids[0]: {"write": {"pkg/a.py": "def a():\n    return 'a one'\n"}},
             ids[1]: {"write": {"pkg/a.py": "def a():\n    return 'a two'\n"},
                      "wait_merged": ids[0]}}
    agent, env = write_plan(tmp_path, plans)

    result, records = _dispatch(project, mission_id, agent, env)
    assert result.returncode == 1
    assert show(project, "main", "pkg/a.py") == "def a():\n    return 'a one'\n"
    tries = _tries(project)
    assert tries[ids[0]]["merged"] is True
    assert tries[ids[1]]["refusal"] == "conflict" and tries[ids[1]]["merged"] is False
    with fleet_hive.open(project) as h:
        reason = h.sorties.get(ids[1]).reason
        assert "merge conflict" in reason and "pkg/a.py" in reason
    (conflict,) = [r for r in records if r.get("event") == "merge_conflict"]
    assert conflict["sortie_id"] == ids[1] and conflict["files"] == ["pkg/a.py"]
    kept = f"fleet/{mission_id}/{ids[1]}"
    assert fleet_branches(project) == [kept]

    done = run_cli("-C", str(project), "dispatch", mission_id, "--cleanup", "--json")
    assert done.returncode == 0, done.stderr
    assert kept in done.stdout
    assert fleet_branches(project) == []
    assert worktree_paths(project) == [str(project)]


def test_a_change_outside_the_reservations_is_refused(project: Path, hive, tmp_path: Path):
    mission_id, ids = _mission(hive, [{"title": "edit a", "files": ["pkg/a.py"]}])
    plans = {ids[0]: {"write": {"pkg/a.py": "def a():\n    return 'a2'\n",
                                "pkg/b.py": "def b():\n    return 'b sneaked'\n"}}}
    agent, env = write_plan(tmp_path, plans)
    result, records = _dispatch(project, mission_id, agent, env)
    assert result.returncode == 1
    assert show(project, "main", "pkg/a.py") == "def a():\n    return 'a'\n"
    assert show(project, "main", "pkg/b.py") == "def b():\n    return 'b'\n"
    fact = _tries(project)[ids[0]]
    assert fact["refusal"] == "outside_reservations" and "pkg/b.py" in fact["refused"]
    assert fact["changed_files"] == ["pkg/a.py", "pkg/b.py"] and fact["files"] == ["pkg/a.py"]
    assert "merged" not in [r.get("event") for r in records]


def test_the_base_moved_meanwhile_so_the_merge_is_verified_again(project: Path, hive,
                                                                  tmp_path: Path):
    mission_id, ids = _mission(hive, [
        {"title": "edit a", "files": ["pkg/a.py"]}, {"title": "edit b", "files": ["pkg/b.py"]}])
    plans = {ids[0]: {"write": {"pkg/a.py": "def a():\n    return 'a2'\n"}},
             # waits for the first merge, then the user commits on main meanwhile
             ids[1]: {"wait_merged": ids[0], "base_commit": {"NOTES": "by the user\n"},
                      "write": {"pkg/b.py": "def b():\n    return 'b2'\n"}}}
    agent, env = write_plan(tmp_path, plans)
    result, records = _dispatch(project, mission_id, agent, env, "--verify", verify_command())
    assert result.returncode == 0, result.stderr[-3000:]
    again = [r for r in records if r.get("event") == "verify_started" and r["after_merge"]]
    assert [r["sortie_id"] for r in again] == [ids[1]]
    tries = _tries(project)
    merge = tries[ids[1]]["merge_commit"]
    assert git(project, "rev-parse", "main").stdout.strip() == merge
    first_parent = git(project, "rev-parse", f"{merge}^1").stdout.strip()
    assert git(project, "log", "-1", "--format=%s", first_parent).stdout.strip() == \
        "made by the test meanwhile"
    for rel, text in (("pkg/a.py", "a2"), ("pkg/b.py", "b2"), ("NOTES", None)):
        assert show(project, "main", rel) is not None and (text is None or text in (
            show(project, "main", rel) or ""))
    assert wt.dirty_files(project) == []


def test_dispatch_refuses_to_start_over_uncommitted_changes(project: Path, hive,
                                                             tmp_path: Path):
    mission_id, _ids = _mission(hive, [{"title": "edit a", "files": ["pkg/a.py"]}])
    (project / "pkg" / "b.py").write_text("# the user's edit\n")
    agent, env = write_plan(tmp_path, {})
    result = run_cli("-C", str(project), "dispatch", mission_id, "--isolation", "worktree",
                     "--agent", agent, "--json", env=env)
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    error = json.loads(result.stdout)["error"]
    assert "uncommitted" in error["message"] and "pkg/b.py" in error["message"]
    assert (project / "pkg" / "b.py").read_text() == "# the user's edit\n"
    with fleet_hive.open(project) as h:  # refused before anything started
        assert h.missions.get(mission_id).status == "pending"
    assert worktree_paths(project) == [str(project)]


def test_sigkill_with_worktrees_then_recover_and_dispatch_leave_none(project: Path, hive,
                                                                       tmp_path: Path):
    mission_id, ids = _mission(hive, [
        {"title": f"edit {n}", "files": [f"pkg/{n}.py"]} for n in "ab"])
    plans = {sid: {"write": {f"pkg/{n}.py": f"def {n}():\n    return '{n}2'\n"},
                   "sleep": 60} for sid, n in zip(ids, "ab", strict=True)}
    agent, env = write_plan(tmp_path, plans)
    proc = start_dispatch(project, mission_id, "--isolation", "worktree", "--agent", agent,
                          env=env)
    try:
        records = read_records(proc, lambda rs: sum(
            r.get("event") == "sortie_started" for r in rs) == 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    trees = [r["worktree"] for r in records if r.get("event") == "sortie_started"]
    assert all(Path(t).is_dir() for t in trees) and len(worktree_paths(project)) == 3

    rec = run_cli("-C", str(project), "recover", "--apply", "--json")
    assert rec.returncode == 0, rec.stderr
    assert worktree_paths(project) == [str(project)]
    assert git(project, "worktree", "prune", "--dry-run", "-v").stdout == ""
    assert not any(Path(t).exists() for t in trees)
    assert fleet_branches(project) == []

    # the next dispatch finishes the mission (its agents quick now): nothing stray after it
    for plan in plans.values():
        del plan["sleep"]
    agent, env = write_plan(tmp_path, plans)
    result, _ = _dispatch(project, mission_id, agent, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert show(project, "main", "pkg/a.py") == "def a():\n    return 'a2'\n"
    assert show(project, "main", "pkg/b.py") == "def b():\n    return 'b2'\n"
    assert worktree_paths(project) == [str(project)] and fleet_branches(project) == []


def test_over_the_disk_budget_no_new_worktree_starts_until_one_ends(project: Path, hive,
                                                                     tmp_path: Path):
    config = project / ".fleet" / "config.yaml"
    config.write_text(config.read_text() + "worktree_disk_budget: 1B\n")
    mission_id, ids = _mission(hive, [
        {"title": f"edit {n}", "files": [f"pkg/{n}.py"]} for n in "ab"])
    plans = {sid: {"write": {f"pkg/{n}.py": f"def {n}():\n    return '{n}2'\n"},
                   "sleep": 0.3} for sid, n in zip(ids, "ab", strict=True)}
    agent, env = write_plan(tmp_path, plans)
    result, records = _dispatch(project, mission_id, agent, env, "--workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = [(r["event"], r.get("sortie_id")) for r in records]
    assert ("worktree_budget", None) in kinds
    # one worktree at a time: the second starts only after the first try ended
    started = [k for k, (e, _) in enumerate(kinds) if e == "sortie_started"]
    first_done = kinds.index(("sortie_completed", kinds[started[0]][1]))
    assert len(started) == 2 and started[1] > first_done
    assert show(project, "main", "pkg/b.py") == "def b():\n    return 'b2'\n"


def test_a_user_edit_in_the_way_of_the_fast_forward_fails_the_try_and_keeps_the_branch(
        project: Path, hive, tmp_path: Path):
    mission_id, ids = _mission(hive, [{"title": "edit a", "files": ["pkg/a.py"]}])
    user_edit = str(project / "pkg" / "a.py")
    plans = {ids[0]: {"write": {"pkg/a.py": "def a():\n    return 'a2'\n"}}}
    agent, env = write_plan(tmp_path, plans)
    # the agent's command also edits the user's tree meanwhile (as the user would)
    agent = f"printf '# mine\\n' >> {user_edit} && {agent}"
    result, records = _dispatch(project, mission_id, agent, env)
    assert result.returncode == 1
    assert (project / "pkg" / "a.py").read_text() == "def a():\n    return 'a'\n# mine\n"
    assert show(project, "main", "pkg/a.py") == "def a():\n    return 'a'\n"
    fact = _tries(project)[ids[0]]
    assert fact["refusal"] == "refused" and "commit or stash" in fact["refused"]
    (refused,) = [r for r in records if r.get("event") == "merge_conflict"]
    assert refused["files"] == [] and "pkg/a.py" in refused["reason"]
    assert fleet_branches(project) == [f"fleet/{mission_id}/{ids[0]}"]
    assert worktree_paths(project) == [str(project)]


def test_retention_keeps_only_the_newest_refused_branches(project: Path, hive,
                                                          tmp_path: Path):
    config = project / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("keep_failed_branches: 20",
                                                 "keep_failed_branches: 1"))
    mission_id, ids = _mission(hive, [{"title": f"edit a, {k}", "files": ["pkg/a.py"]}
                                      for k in range(2)])
    plans = {sid: {"write": {"pkg/c.py": f"# {sid} went too far\n"}} for sid in ids}
    agent, env = write_plan(tmp_path, plans)
    result, _records = _dispatch(project, mission_id, agent, env)
    assert result.returncode == 1
    tries = _tries(project)
    assert [tries[sid]["refusal"] for sid in ids] == ["outside_reservations"] * 2
    (kept,) = fleet_branches(project)  # the older kept branch went when the newer came
    assert kept in {tries[sid]["branch"] for sid in ids}


#: Sortie "a" leaves an ignored file behind; sortie "b" (after "a", same worker) records
#: what its worktree holds when it starts: the ignored file must be gone and "a"'s merged
#: change there (the worktree made like new from the base's newest tip).
_LOOKING_AGENT = '''\
import json, os, sys
here, out = os.getcwd(), os.environ["AGENT_SEEN"]
if os.environ["FLEET_SORTIE_ID"] == os.environ["SORTIE_A"]:
    open("scratch.log", "w").write("build output")
    open("pkg/a.py", "w").write("def a():\\n    return 'a-new'\\n")
else:
    json.dump({"cwd": here, "scratch": os.path.exists("scratch.log"),
               "a": open("pkg/a.py").read(), "fleet": os.path.exists(".fleet")},
              open(out, "w"))
    open("pkg/b.py", "w").write("def b():\\n    return 'b-new'\\n")
'''


def test_the_next_try_reuses_the_worktree_made_like_new_from_the_newest_base(
        project: Path, hive, tmp_path: Path):
    (project / ".gitignore").write_text("*.log\n")
    git(project, "add", ".gitignore")
    git(project, "commit", "-q", "-m", "ignore logs")
    m = hive.missions.create("pooled", sorties=[
        {"title": "edit a", "files": ["pkg/a.py"]}])
    a = hive.missions.get(m.id).sorties[0].id
    b = hive.sorties.add(m.id, "edit b", files=["pkg/b.py"], after=[a]).id
    hive.close()
    agent = tmp_path / "looking_agent.py"
    agent.write_text(_LOOKING_AGENT)
    seen = tmp_path / "seen.json"
    result, records = _dispatch(project, m.id, f"{sys.executable} {agent}",
                                {"AGENT_SEEN": str(seen), "SORTIE_A": a,
                                 "FLEET_ACTOR": "lead"}, "--workers", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    trees = {r["sortie_id"]: r["worktree"] for r in records
             if r.get("event") == "sortie_started"}
    assert trees[a] == trees[b]  # one worktree, reused
    got = json.loads(seen.read_text())
    assert got == {"cwd": trees[b], "scratch": False,
                   "a": "def a():\n    return 'a-new'\n", "fleet": False}
    assert show(project, "main", "pkg/b.py") == "def b():\n    return 'b-new'\n"
    assert worktree_paths(project) == [str(project)] and fleet_branches(project) == []
    assert not Path(trees[a]).exists()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_dispatcher_removes_its_worktrees_and_branches(project: Path, hive,
                                                                 tmp_path: Path, how):
    mission_id, ids = _mission(hive, [
        {"title": f"edit {n}", "files": [f"pkg/{n}.py"]} for n in "ab"])
    plans = {sid: {"write": {f"pkg/{n}.py": "x = 1\n"}, "sleep": 60}
             for sid, n in zip(ids, "ab", strict=True)}
    agent, env = write_plan(tmp_path, plans)
    proc = start_dispatch(project, mission_id, "--isolation", "worktree", "--agent", agent,
                          "--workers", "2", env=env)
    try:
        read_records(proc, lambda rs: sum(r.get("event") == "sortie_started"
                                          for r in rs) == 2)
        assert len(worktree_paths(project)) == 3
        proc.send_signal(how)
        assert proc.wait(60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert worktree_paths(project) == [str(project)]
    assert fleet_branches(project) == []
    assert git(project, "worktree", "prune", "--dry-run", "-v").stdout == ""
    assert wt.dirty_files(project) == []
    with fleet_hive.open(project) as h:  # both re-queued, ready for the next dispatch
        assert {h.sorties.get(sid).status for sid in ids} == {"pending"}


def test_an_idle_worktree_of_a_killed_dispatcher_is_removed_by_recover(project: Path, hive,
                                                                       tmp_path: Path):
    m = hive.missions.create("killed", sorties=[
        {"title": f"edit {n}", "files": [f"pkg/{n}.py"]} for n in "ab"])
    a, b = (s.id for s in hive.missions.get(m.id).sorties)
    c = hive.sorties.add(m.id, "edit c", files=["pkg/c.py"], after=[b]).id
    hive.close()
    plans = {a: {"write": {"pkg/a.py": "x = 1\n"}},
             b: {"write": {"pkg/b.py": "x = 2\n"}, "sleep": 60},
             c: {"write": {"pkg/c.py": "x = 3\n"}}}
    agent, env = write_plan(tmp_path, plans)
    proc = start_dispatch(project, m.id, "--isolation", "worktree", "--agent", agent,
                          "--workers", "2", env=env)
    try:  # a merged (its worktree idle in the pool), b running, c waiting for b
        read_records(proc, lambda rs: any(r.get("event") == "sortie_completed"
                                          and r.get("sortie_id") == a for r in rs))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert len(worktree_paths(project)) == 3  # the idle one and b's
    rec = run_cli("-C", str(project), "recover", "--apply", "--json")
    assert rec.returncode == 0, rec.stderr
    assert worktree_paths(project) == [str(project)]
    assert git(project, "worktree", "prune", "--dry-run", "-v").stdout == ""
    assert fleet_branches(project) == []
