"""``fleet-hive commit``: only .fleet/ is committed, through dulwich, in real repositories."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.git.index_file import IndexFile
from fleet_hive.kernel.errors import ConflictError, IntegrityError, InvalidInputError
from tests.support import git, run_cli


def note(hive, text: str, stream: str = "s:1") -> None:
    hive.events.append("note_added", stream=stream, data={"text": text})


def porcelain(repo: Path) -> list[str]:
    return git(repo, "status", "--porcelain", "--untracked-files=all").stdout.splitlines()


def outside_fleet(lines: list[str]) -> list[str]:
    return [line for line in lines if ".fleet/" not in line]


def user_work(repo: Path) -> None:
    """An unrelated file staged, another modified, one untracked."""
    (repo / "staged.txt").write_text("staged by the user\n")
    git(repo, "add", "staged.txt")
    (repo / "README").write_text("hello, modified but not staged\n")
    (repo / "scratch.txt").write_text("untracked\n")


def test_commit_takes_only_fleet_and_leaves_user_work_alone(repo: Path, hive):
    user_work(repo)
    note(hive, "first")
    status_before = outside_fleet(porcelain(repo))
    cached_before = git(repo, "diff", "--cached").stdout
    worktree_diff_before = git(repo, "diff", "--", "README").stdout
    head_before = git(repo, "rev-parse", "HEAD").stdout.strip()

    result = hive.git.commit()

    assert result.commit and result.events == 1 and result.branch == "main"
    assert git(repo, "rev-parse", "HEAD").stdout.strip() == result.commit
    assert git(repo, "rev-parse", "HEAD~1").stdout.strip() == head_before
    names = git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert names and all(n.startswith(".fleet/") for n in names), names
    assert any(n.startswith(".fleet/events/") and n.endswith(".jsonl") for n in names)
    assert not any(".cache" in n or "/local/" in n for n in names)
    # the user's work exactly as before; .fleet clean
    assert porcelain(repo) == status_before
    assert git(repo, "diff", "--cached").stdout == cached_before
    assert git(repo, "diff", "--", "README").stdout == worktree_diff_before
    assert [line for line in porcelain(repo) if ".fleet/" in line] == []

    # the user's next commit records their staged file and keeps the fleet commit's tree
    git(repo, "commit", "-q", "-m", "user work")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split() == ["staged.txt"]
    assert git(repo, "diff", "HEAD~1", "HEAD", "--stat", "--", ".fleet").stdout == ""


def test_user_commit_after_fleet_commit_does_not_revert_it_with_a_cache_tree(repo: Path, hive):
    """git's cache-tree (TREE extension) must be invalidated for .fleet/."""
    note(hive, "one")
    hive.git.commit()
    (repo / "staged.txt").write_text("x\n")
    git(repo, "add", "staged.txt")
    git(repo, "write-tree")  # makes git store a full cache-tree in the index
    assert any(sig == b"TREE" for sig, _ in IndexFile.read(repo / ".git" / "index").extensions)
    note(hive, "two")
    fleet_commit = hive.git.commit().commit
    git(repo, "commit", "-q", "-m", "user")
    assert git(repo, "diff", fleet_commit, "HEAD", "--name-only").stdout.split() == ["staged.txt"]
    assert git(repo, "status", "--porcelain").stdout == ""


def test_nothing_to_commit_and_repeated_commits(repo: Path, hive):
    first = hive.git.commit()
    assert first.commit is not None  # config, .gitignore, .gitattributes, .gitkeep files
    again = hive.git.commit()
    assert again.commit is None and again.message.startswith("nothing")
    for i in range(3):
        note(hive, f"n{i}")
        assert hive.git.commit().events == 1
    assert git(repo, "status", "--porcelain").stdout == ""
    assert len(git(repo, "log", "--oneline").stdout.splitlines()) == 5


def test_user_staged_fleet_change_is_committed_and_index_follows(repo: Path, hive):
    note(hive, "a")
    git(repo, "add", ".fleet")  # the user staged .fleet/ already
    note(hive, "b")  # and then more events came
    result = hive.git.commit()
    assert result.events == 2
    assert git(repo, "status", "--porcelain").stdout == ""


def test_commit_message_and_author_from_git_config(repo: Path, hive, monkeypatch):
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    git(repo, "config", "user.name", "Config Person")
    git(repo, "config", "user.email", "config@example.com")
    note(hive, "x")
    hive.git.commit("my message")
    shown = git(repo, "log", "-1", "--format=%an <%ae>|%cn|%s").stdout.strip()
    assert shown == "Config Person <config@example.com>|Config Person|my message"
    reflog = git(repo, "reflog", "-1", "main").stdout
    assert "fleet-hive" in reflog


def test_unborn_branch_gets_a_first_commit_with_only_fleet(tmp_path: Path):
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "trunk")
    (repo / "mine.txt").write_text("staged before any commit\n")
    git(repo, "add", "mine.txt")
    hive = fleet_hive.init(repo)
    note(hive, "hello")
    result = hive.git.commit()
    assert result.root and result.branch == "trunk"
    names = git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert all(n.startswith(".fleet/") for n in names)
    assert porcelain(repo) == ["A  mine.txt"]


def test_detached_head_is_refused_with_a_clear_message(repo: Path, hive):
    git(repo, "checkout", "-q", "--detach")
    note(hive, "x")
    head = git(repo, "rev-parse", "HEAD").stdout
    with pytest.raises(InvalidInputError, match="detached") as info:
        hive.git.commit()
    assert "git switch" in info.value.hint
    assert git(repo, "rev-parse", "HEAD").stdout == head
    result = run_cli("-C", str(repo), "--json", "commit")
    assert result.returncode == 1
    assert "detached" in json.loads(result.stdout)["error"]["message"]


def test_refused_while_a_merge_is_in_progress(repo: Path, hive):
    hive.git.commit()
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "README").write_text("other\n")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "README").write_text("main\n")
    git(repo, "commit", "-q", "-am", "main")
    assert git(repo, "merge", "other", check=False).returncode != 0
    assert (repo / ".git" / "MERGE_HEAD").exists()
    note(hive, "during merge")
    head = git(repo, "rev-parse", "HEAD").stdout
    with pytest.raises(ConflictError, match="a merge is in progress"):
        hive.git.commit()
    result = run_cli("-C", str(repo), "--json", "commit")
    assert result.returncode == 3
    assert git(repo, "rev-parse", "HEAD").stdout == head


@pytest.mark.parametrize("marker", ["rebase-merge", "CHERRY_PICK_HEAD", "REVERT_HEAD",
                                    "BISECT_LOG", "rebase-apply"])
def test_refused_during_other_operations(repo: Path, hive, marker: str):
    path = repo / ".git" / marker
    path.mkdir() if marker.startswith("rebase") else path.write_text("x\n")
    note(hive, "x")
    with pytest.raises(ConflictError, match="in progress"):
        hive.git.commit()


def test_edited_event_line_is_refused_before_anything_is_written(repo: Path, hive):
    note(hive, "original")
    hive.git.commit()
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    segment.write_text(segment.read_text().replace("original", "tampered"))
    head = git(repo, "rev-parse", "HEAD").stdout
    objects_before = sorted(p.name for p in (repo / ".git" / "objects").rglob("*"))
    with pytest.raises(IntegrityError, match="append-only"):
        hive.git.commit()
    assert git(repo, "rev-parse", "HEAD").stdout == head
    assert sorted(p.name for p in (repo / ".git" / "objects").rglob("*")) == objects_before


def test_refusal_names_the_first_changed_line(repo: Path, hive):
    for text in ("one", "two", "three"):
        note(hive, text)
    hive.git.commit()
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    segment.write_bytes(segment.read_bytes().replace(b'"two"', b'"TWO"'))  # same length
    rel = segment.relative_to(repo).as_posix()
    with pytest.raises(IntegrityError, match=f"{rel}:2: committed event lines were edited"):
        hive.git.commit()


def test_invalid_new_line_and_deleted_segment_are_refused(repo: Path, hive):
    note(hive, "ok")
    hive.git.commit()
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    with open(segment, "ab") as f:
        f.write(b'{"not": "an envelope"}\n')
    with pytest.raises(IntegrityError, match=r"invalid_envelope|missing"):
        hive.git.commit()
    segment.unlink()
    with pytest.raises(IntegrityError, match="deleted"):
        hive.git.commit()


def test_cas_lost_to_another_writer_is_retried(repo: Path, hive, monkeypatch):
    note(hive, "x")
    ops = hive.git
    real = ops.repo.move_branch
    calls = []

    def racing(ref, old, new, message):
        calls.append(old)
        if len(calls) == 1:  # someone else moves the branch first (without the index)
            tree = git(repo, "rev-parse", "HEAD^{tree}").stdout.strip()
            other = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "concurrent").stdout
            git(repo, "update-ref", "refs/heads/main", other.strip())
        return real(ref, old, new, message)

    monkeypatch.setattr(ops.repo, "move_branch", racing)
    result = ops.commit()
    assert len(calls) == 2 and calls[0] != calls[1]
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == result.message
    assert git(repo, "log", "-2", "--format=%s").stdout.splitlines()[1] == "concurrent"
    assert git(repo, "status", "--porcelain").stdout == ""


def test_index_lock_held_by_git_is_waited_for_then_reported(repo: Path, hive, monkeypatch):
    from fleet_hive.git import index_file as gitindex

    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    note(hive, "x")
    original = gitindex.locked_index

    def impatient(path, timeout=5.0, owner=None):
        return original(path, timeout=0.05, owner=owner)

    monkeypatch.setattr("fleet_hive.git.commit.locked_index", impatient)
    with pytest.raises(gitindex.IndexLockedError, match=r"index\.lock"):
        hive.git.commit()
    lock.unlink()
    assert hive.git.commit().events == 1


def test_auto_commit_follows_the_setting(repo: Path, hive):
    note(hive, "x")
    assert hive.git.auto_commit("mission created") is None
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("auto_commit: false", "auto_commit: true"))
    on = fleet_hive.open(repo)
    result = on.git.auto_commit("mission m-1 created")
    assert result is not None and result.commit
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "fleet-hive: mission m-1 created"
    git(repo, "checkout", "-q", "--detach")
    note(on, "y")
    skipped = on.git.auto_commit("mission m-1 completed")
    assert skipped is not None and skipped.commit is None and "detached" in skipped.skipped


def test_cli_commit_json_and_human(repo: Path, hive):
    note(hive, "x")
    result = run_cli("-C", str(repo), "commit", "--json", "-m", "via cli")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["commit"] and out["message"] == "via cli" and out["events"] == 1
    note(hive, "y")
    human = run_cli("-C", str(repo), "commit")
    assert human.returncode == 0 and "[main " in human.stderr
    again = run_cli("-C", str(repo), "commit")
    assert again.returncode == 0 and "Nothing to commit" in again.stderr


def test_index_version_4_and_a_linked_worktree(repo: Path, hive, tmp_path: Path):
    git(repo, "update-index", "--index-version", "4")
    (repo / "staged.txt").write_text("s\n")
    git(repo, "add", "staged.txt")
    note(hive, "v4")
    hive.git.commit()
    assert porcelain(repo) == ["A  staged.txt"]
    assert IndexFile.read(repo / ".git" / "index").version == 4
    git(repo, "commit", "-q", "-m", "staged")
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(wt))
    side = fleet_hive.open(wt)
    note(side, "in the worktree")
    result = side.git.commit()
    assert result.branch == "side"
    assert git(wt, "status", "--porcelain").stdout == ""
    assert git(repo, "status", "--porcelain").stdout == ""


def test_mission_milestones_auto_commit_when_configured(repo: Path, hive):
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("auto_commit: false", "auto_commit: true"))
    on = fleet_hive.open(repo, actor="auto")
    (repo / "mine.txt").write_text("the user's staged work\n")
    git(repo, "add", "mine.txt")
    m = on.missions.create("Auto-committed mission")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == \
        f"fleet-hive: mission {m.id} created"
    on.missions.start(m.id)
    on.missions.complete(m.id)
    subjects = git(repo, "log", "--format=%s").stdout.splitlines()
    assert subjects[0] == f"fleet-hive: mission {m.id} completed"
    assert not any("started" in s for s in subjects)
    assert porcelain(repo) == ["A  mine.txt"]


def reuse_n_after_rotation(repo: Path) -> tuple[str, str]:
    """What a kill right after a segment rotation left: the old segment took one more line
    with n=4 after the new segment had begun with n=4. Returns both repository paths."""
    (old,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    last = json.loads(old.read_bytes().splitlines()[-1])

    def line(n: int, eid: str) -> bytes:
        return json.dumps({**last, "id": eid, "n": n, "clock": last["clock"] + n}).encode() + b"\n"

    new = old.with_name("zzzzzzzzzzzzzzzzzzzzzzzzzz.jsonl")  # sorts after the old one
    new.write_bytes(line(4, "01KZROTATEDNEWSEGMENT00001") + line(5, "01KZROTATEDNEWSEGMENT00002"))
    with open(old, "ab") as f:
        f.write(line(4, "01KZAPPENDEDTOOLDSEGMENT01"))
    return old.relative_to(repo).as_posix(), new.relative_to(repo).as_posix()


def test_commit_refuses_a_reused_n_naming_the_path_and_line(repo: Path, hive):
    for text in ("a", "b", "c"):
        note(hive, text)
    hive.git.commit()
    head = git(repo, "rev-parse", "HEAD").stdout
    old, new = reuse_n_after_rotation(repo)
    done = run_cli("-C", str(repo), "--json", "commit")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert [(p["code"], p["path"], p["line"]) for p in error["problems"]] == [
        ("duplicate_n", new, 1)]
    assert f"{new}:1: writer " in error["message"] and f"reuses n=4 (also at {old}:4)" in \
        error["message"]
    assert git(repo, "rev-parse", "HEAD").stdout == head


def test_commit_refuses_a_gap_in_n(repo: Path, hive):
    note(hive, "a")
    hive.git.commit()
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    last = json.loads(segment.read_bytes().splitlines()[-1])
    with open(segment, "ab") as f:
        f.write(json.dumps({**last, "id": "01KZGAPGAPGAPGAPGAPGAPGAP1", "n": 3}).encode() + b"\n")
    with pytest.raises(IntegrityError, match=r":2: writer \w+ is missing n=2 \(before n=3\)"):
        hive.git.commit()


def test_rotated_segments_commit_and_a_new_one_reusing_a_committed_n_is_refused(repo: Path):
    cfg = repo / ".fleet" / "config.yaml"
    with fleet_hive.init(repo, actor="t") as hive:
        cfg.write_text(cfg.read_text().replace("segment_max_bytes: 8388608",
                                               "segment_max_bytes: 4096"))
    with fleet_hive.open(repo, actor="t") as hive:
        for i in range(40):  # several rotations, committed as they come
            note(hive, "x" * 200 + str(i))
            if i % 15 == 0:
                hive.git.commit()
        assert hive.git.commit().commit  # new segments follow the unchanged committed ones
        segments = sorted((repo / ".fleet" / "events").glob("*/*.jsonl"))
        assert len(segments) > 2
        # a new segment whose first line reuses the last committed n of the one before
        last = json.loads(segments[-1].read_bytes().splitlines()[-1])
        again = segments[-1].with_name("zzzzzzzzzzzzzzzzzzzzzzzzzz.jsonl")
        again.write_text(json.dumps({**last, "id": "01KZSAMENSAMENSAMEN0000001"}) + "\n")
        rel = again.relative_to(repo).as_posix()
        with pytest.raises(IntegrityError, match=f"{rel}:1: writer .* reuses n={last['n']}"):
            hive.git.commit()


def test_an_index_lock_left_by_a_killed_fleet_hive_is_removed(repo: Path):
    """A commit SIGKILLed while it holds .git/index.lock must not block every later one."""
    import signal
    import subprocess
    import sys

    from fleet_hive.git.index_file import _remove_if_orphaned

    assert run_cli("init", cwd=repo).returncode == 0
    assert run_cli("mission", "create", "M", cwd=repo).returncode == 0
    owner = repo / ".fleet" / "local" / "index.lock.owner"
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from fleet_hive.git.index_file import locked_index\n"
        "with locked_index(Path(sys.argv[1]), owner=Path(sys.argv[2])):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"),
        str(repo / ".git" / "index"), str(owner)], capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert (repo / ".git" / "index.lock").exists() and owner.exists()
    done = run_cli("commit", "-m", "after the kill", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert not (repo / ".git" / "index.lock").exists() and not owner.exists()
    assert git(repo, "status", "--porcelain", "--", ".fleet").stdout == ""
    # a lock whose recorded holder is alive (here: this process's parent) stays
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"")
    owner.write_text(f"{os.getppid()} {lock.stat().st_ino}\n")
    assert _remove_if_orphaned(lock, owner) is False and lock.exists()
    owner.write_text(f"{killed_pid_placeholder()} {lock.stat().st_ino + 1}\n")
    assert _remove_if_orphaned(lock, owner) is False and lock.exists(), "another file"


def killed_pid_placeholder() -> int:
    """A pid that is surely not running: a child that has exited and been reaped."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True)
    return int(child.stdout)
