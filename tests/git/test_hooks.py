"""git hooks, end to end: real commits, merges and checkouts fire the installed shims."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.app import hooks
from fleet_hive.app.hooks import reserved_by_others
from fleet_hive.app.verify import check_fleet_changes
from fleet_hive.git import shims
from fleet_hive.git.changes import FleetChange
from tests.support import git, run_cli


def note(hive, text: str, stream: str = "s:1") -> None:
    hive.events.append("note_added", stream=stream, data={"text": text})


def install(repo: Path) -> dict:
    result = run_cli("-C", str(repo), "--json", "hooks", "install")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def commit(repo: Path, message: str = "work", env: dict[str, str] | None = None):
    return git_env(repo, env, "commit", "-q", "-m", message)


def git_env(repo: Path, env: dict[str, str] | None, *args: str):
    import subprocess

    from tests.support import GIT_ENV

    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})})


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def write_hook(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_install_writes_shims_that_exec_this_python(repo: Path, hive):
    out = install(repo)
    hooks_dir = repo / ".git" / "hooks"
    assert out["hooks_dir"] == str(hooks_dir)
    for name in hooks.HOOKS:
        text = (hooks_dir / name).read_text()
        assert text.startswith("#!/bin/sh") and shims.MARKER in text
        assert sys.executable in text and f"hooks run {name}" in text
        assert os.access(hooks_dir / name, os.X_OK)
    # snapshots are not committed: no merge driver (one an older version set is removed)
    assert git(repo, "config", "merge.fleet-hive-snapshot.driver", check=False).returncode
    assert "merge=" not in (repo / ".fleet" / ".gitattributes").read_text()
    assert install(repo)["hooks"]["pre-commit"] == "updated"  # idempotent


def test_pre_commit_passes_ordinary_commits_and_refuses_an_edited_event_line(repo: Path, hive):
    install(repo)
    note(hive, "original")
    git(repo, "add", ".fleet")
    done = commit(repo, "fleet")
    assert done.returncode == 0, done.stderr
    (repo / "code.py").write_text("print('hi')\n")
    git(repo, "add", "code.py")
    assert commit(repo, "code").returncode == 0
    note(hive, "appended")  # appending is fine
    git(repo, "add", ".fleet")
    assert commit(repo, "more events").returncode == 0

    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    segment.write_text(segment.read_text().replace("original", "rewritten"))
    git(repo, "add", ".fleet")
    before = head(repo)
    refused = commit(repo, "tamper")
    assert refused.returncode != 0
    assert "append-only" in refused.stderr and segment.name in refused.stderr
    assert head(repo) == before


def test_pre_commit_refuses_a_deleted_segment_and_broken_yaml(repo: Path, hive):
    install(repo)
    note(hive, "x")
    git(repo, "add", ".fleet")
    assert commit(repo).returncode == 0
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    git(repo, "rm", "-q", str(segment))
    refused = commit(repo, "drop")
    assert refused.returncode != 0 and "segment_deleted" in refused.stderr
    git(repo, "reset", "-q", "HEAD", "--", ".fleet")
    git(repo, "checkout", "--", ".fleet")
    (repo / ".fleet" / "config.yaml").write_text("durability: [unclosed\n")
    git(repo, "add", ".fleet/config.yaml")
    refused = commit(repo, "yaml")
    assert refused.returncode != 0 and "invalid_yaml" in refused.stderr


def test_existing_hook_is_chained_and_restored_by_uninstall(repo: Path, hive, tmp_path: Path):
    marker = tmp_path / "ran"
    own = repo / ".git" / "hooks" / "pre-commit"
    write_hook(own, f'echo "$0" >> "{marker}"\nexit 0\n')
    original = own.read_text()
    out = install(repo)
    assert out["hooks"]["pre-commit"].startswith("installed, chaining")
    assert (repo / ".git" / "hooks" / "pre-commit.fleet-hive-chained").read_text() == original
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    assert commit(repo).returncode == 0
    assert marker.read_text().count("pre-commit.fleet-hive-chained") == 1

    # the chained hook's failure stops the commit
    write_hook(repo / ".git" / "hooks" / "pre-commit.fleet-hive-chained",
               "echo 'own hook says no' >&2\nexit 7\n")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    refused = commit(repo)
    assert refused.returncode != 0 and "own hook says no" in refused.stderr
    write_hook(repo / ".git" / "hooks" / "pre-commit.fleet-hive-chained", original[10:])

    result = run_cli("-C", str(repo), "--json", "hooks", "uninstall")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hooks"]["pre-commit"] == "restored the chained hook"
    assert own.read_text() == original
    assert not (repo / ".git" / "hooks" / "pre-commit.fleet-hive-chained").exists()
    assert not (repo / ".git" / "hooks" / "post-merge").exists()
    assert git(repo, "config", "--get", "merge.fleet-hive-snapshot.driver",
               check=False).returncode != 0


def test_core_hooks_path_is_respected(repo: Path, hive):
    git(repo, "config", "core.hooksPath", "githooks")
    out = install(repo)
    assert out["hooks_dir"] == str(repo / "githooks")
    assert (repo / "githooks" / "pre-commit").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    note(hive, "x")
    git(repo, "add", ".fleet")
    assert commit(repo).returncode == 0
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    segment.write_text("")
    git(repo, "add", ".fleet")
    assert commit(repo, "emptied").returncode != 0


def test_reservation_guard_blocks_with_the_holders_name(repo: Path, hive):
    install(repo)
    hive.reservations.acquire(["src/engine.py"], holder="alice", ttl=3600)
    (repo / "src").mkdir()
    (repo / "src" / "engine.py").write_text("x = 1\n")
    git(repo, "add", "src/engine.py")
    before = head(repo)
    refused = commit(repo, "touch engine", env={"FLEET_HOLDER": "bob"})
    assert refused.returncode != 0
    assert "src/engine.py is reserved exclusively by alice" in refused.stderr
    assert head(repo) == before
    anonymous = commit(repo, "touch engine")
    assert anonymous.returncode != 0 and "alice" in anonymous.stderr
    assert commit(repo, "as alice", env={"FLEET_HOLDER": "alice"}).returncode == 0
    (repo / "src" / "engine.py").write_text("x = 2\n")
    git(repo, "add", "src/engine.py")
    assert commit(repo, "override", env={"FLEET_SKIP_RESERVATIONS": "1"}).returncode == 0


def test_reservation_guard_with_an_injected_check(repo: Path, hive):
    """The guard's logic through a fake ``check``: only others' exclusive holds block."""
    seen = []

    def check(paths, holder):
        seen.append((list(paths), holder))
        return [{"requested": "a.txt", "path": "*.txt", "holder": "carol", "mode": "exclusive"},
                {"requested": "b.txt", "path": "b.txt", "holder": "dave", "mode": "shared"},
                {"requested": "c.txt", "path": "c.txt", "holder": "me", "mode": "exclusive"}]

    assert reserved_by_others(check, ["a.txt", "b.txt", "c.txt"], "me") == [("a.txt", "carol")]
    for name in ("a.txt", "b.txt"):
        (repo / name).write_text(name)
        git(repo, "add", name)
    outcome = hooks.run(hive, "pre-commit", [], {"FLEET_HOLDER": "me"}, reservation_check=check)
    assert outcome.exit_code == 3 and seen[-1] == (["a.txt", "b.txt"], "me")
    assert any("reserved exclusively by carol" in m for m in outcome.messages)
    skipped = hooks.run(hive, "pre-commit", [], {"FLEET_SKIP_RESERVATIONS": "1"},
                        reservation_check=check)
    assert skipped.exit_code == 0


def test_check_fleet_changes_rules():
    seg = ".fleet/events/w1/s1.jsonl"
    good = (b'{"id":"01A","type":"note_added","stream":"s:1","clock":1,"writer":"w1","n":1,'
            b'"time":"2026-01-01T00:00:00Z","data":{}}\n')
    assert check_fleet_changes([FleetChange(seg, None, good, False)]) == []
    second = good.replace(b'"01A"', b'"01B"').replace(b'"n":1', b'"n":2')
    assert check_fleet_changes([FleetChange(seg, len(good), good + second, True)]) == []
    kinds = lambda ch: [p.kind for p in check_fleet_changes([ch])]  # noqa: E731
    assert kinds(FleetChange(seg, len(good), b"x" + good, False)) == ["not_append_only"]
    assert kinds(FleetChange(seg, 10, None, False)) == ["segment_deleted"]
    assert kinds(FleetChange(seg, None, b"{oops}\n", False)) == ["invalid_json"]
    assert kinds(FleetChange(seg, None, good.replace(b'"w1"', b'"w2"'), False)) == [
        "wrong_writer"]
    torn = check_fleet_changes([FleetChange(seg, None, good + b'{"id"', False)])
    assert [(p.kind, p.severity, p.line) for p in torn] == [("torn_tail", "warning", 2)]
    assert kinds(FleetChange(".fleet/checkpoints/m-1/c.yaml", None, b"a: [", False)) == [
        "invalid_yaml"]
    assert kinds(FleetChange(".fleet/missions/m-1.yaml", None, b"a: 1", False)) == [
        "snapshot_committed"]  # derived: never committed
    assert kinds(FleetChange(".fleet/missions/m-1.yaml", 4, None, False)) == []  # removed
    assert kinds(FleetChange(".fleet/notes.txt", None, b"anything", False)) == []


def test_post_checkout_and_post_merge_refresh_and_never_block(repo: Path, hive):
    install(repo)
    mission = hive.missions.create("Ship it")
    git(repo, "add", ".fleet")
    assert commit(repo, "mission").returncode == 0
    git(repo, "checkout", "-q", "-b", "feature")
    hive.missions.start(mission.id)
    git(repo, "add", ".fleet")
    assert commit(repo, "started").returncode == 0
    snapshot = next((repo / ".fleet" / "missions").glob("*.yaml"))
    snapshot.write_text("stale: true\n")
    git(repo, "add", "-f", str(snapshot))
    refused = commit(repo, "stale snapshot")  # pre-commit: snapshots are never committed
    assert refused.returncode != 0 and "snapshot_committed" in refused.stderr
    git(repo, "rm", "-q", "--cached", str(snapshot))
    git(repo, "checkout", "-q", "main")
    assert "pending" in snapshot.read_text()  # post-checkout regenerated it for main
    git(repo, "checkout", "-q", "feature")
    assert "in_progress" in snapshot.read_text() and "stale" not in snapshot.read_text()
    # a broken environment still lets git proceed (the hook reports and exits 0)
    (repo / ".fleet" / "config.yaml").write_text("segment_max_bytes: -5\n")
    moved = git(repo, "checkout", "-q", "main", check=False)
    assert moved.returncode == 0
    assert "segment_max_bytes" in moved.stderr and "(ignored)" in moved.stderr


def test_merges_never_conflict_and_post_merge_regenerates(repo: Path, hive):
    install(repo)
    git(repo, "add", ".fleet")
    assert commit(repo, "init fleet").returncode == 0
    m = hive.missions.create("Merge me")
    git(repo, "add", ".fleet")
    assert commit(repo, "created").returncode == 0
    git(repo, "checkout", "-q", "-b", "side")
    hive.missions.update(m.id, title="Merged title")
    git(repo, "add", ".fleet")
    assert commit(repo, "renamed").returncode == 0
    git(repo, "checkout", "-q", "main")
    hive.missions.start(m.id)
    git(repo, "add", ".fleet")
    assert commit(repo, "started").returncode == 0
    merged = git(repo, "merge", "--no-edit", "side", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "CONFLICT" not in merged.stdout
    text = next((repo / ".fleet" / "missions").glob("*.yaml")).read_text()
    assert "Merged title" in text and "in_progress" in text  # regenerated by post-merge
    from fleet_hive.app.verify import verify

    assert verify(fleet_hive.open(repo)).ok


def test_hooks_run_cli_outside_fleet_and_unknown_hook(repo: Path, tmp_path: Path):
    result = run_cli("-C", str(repo), "hooks", "run", "post-checkout", "a", "b", "1")
    assert result.returncode == 0
    fleet_hive.init(repo)
    result = run_cli("-C", str(repo), "--json", "hooks", "run", "no-such-hook")
    assert result.returncode == 1 and "unknown hook" in json.loads(result.stdout)["error"][
        "message"]
    ours = tmp_path / "ours"
    ours.write_text("ours\n")
    result = run_cli("-C", str(repo), "hooks", "run", "merge-snapshot", "o", str(ours), "t",
                     "p")
    assert result.returncode == 0 and ours.read_text() == "ours\n"


@pytest.mark.parametrize("existing", [False, True])
def test_uninstall_leaves_foreign_hooks_alone(repo: Path, hive, existing: bool):
    install(repo)
    target = repo / ".git" / "hooks" / "post-merge"
    if existing:
        write_hook(target, "exit 0\n")  # someone replaced our shim with their own
    result = run_cli("-C", str(repo), "--json", "hooks", "uninstall")
    assert result.returncode == 0
    out = json.loads(result.stdout)["hooks"]
    assert out["post-merge"] == ("not fleet-hive's: left alone" if existing else "removed")
    assert target.exists() == existing


def test_one_template_for_every_hook(repo: Path, hive):
    from fleet_hive.kernel.resources import resource_dir

    assert sorted(p.name for p in resource_dir("hooks").iterdir()) == ["README.md", "hook-tmpl"]
    install(repo)
    installed = {name: (repo / ".git" / "hooks" / name).read_text() for name in hooks.HOOKS}
    common = [line for line in installed["pre-commit"].splitlines() if "pre-commit" not in line]
    for name, text in installed.items():
        assert [line for line in text.splitlines() if name not in line] == common
        code = [line for line in text.splitlines() if not line.startswith("#")]
        assert not any("chained" in line for line in code), "chaining is Python's job"


def test_chained_post_hooks_get_args_and_stdin_and_never_block(repo: Path, hive, tmp_path):
    seen = tmp_path / "seen"
    write_hook(repo / ".git" / "hooks" / "post-rewrite",
               f'echo "args: $*" >> "{seen}"\ncat >> "{seen}"\nexit 4\n')
    write_hook(repo / ".git" / "hooks" / "post-checkout", f'echo "checkout: $3" >> "{seen}"\n'
               "exit 9\n")
    install(repo)
    git(repo, "add", ".fleet")
    assert commit(repo, "fleet").returncode == 0
    before = head(repo)
    amended = git_env(repo, None, "commit", "-q", "--amend", "-m", "amended")
    assert amended.returncode == 0
    assert "post-rewrite.fleet-hive-chained failed with exit status 4 (ignored)" in amended.stderr
    moved = git(repo, "checkout", "-q", "-b", "side", check=False)
    assert moved.returncode == 0, "a failing chained post-checkout is reported, not passed on"
    assert "exit status 9 (ignored)" in moved.stderr
    assert seen.read_text().splitlines() == ["args: amend", f"{before} {head(repo)}",
                                             "checkout: 1"]


def test_pre_commit_refuses_a_reused_n(repo: Path, hive):
    install(repo)
    note(hive, "a")
    git(repo, "add", ".fleet")
    assert commit(repo, "fleet").returncode == 0
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    last = json.loads(segment.read_bytes().splitlines()[-1])
    again = segment.with_name("zzzzzzzzzzzzzzzzzzzzzzzzzz.jsonl")
    again.write_text(json.dumps({**last, "id": "01KZREUSEDREUSEDREUSED0001"}) + "\n")
    git(repo, "add", ".fleet")
    before = head(repo)
    refused = commit(repo, "reused n")
    assert refused.returncode == 1
    rel = again.relative_to(repo).as_posix()
    assert f"{rel}:1: writer {last['writer']} reuses n=1" in refused.stderr
    assert "[duplicate_n]" in refused.stderr and head(repo) == before
