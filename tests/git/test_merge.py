"""The log in real git repositories: merges never conflict; the cache follows checkouts."""

from __future__ import annotations

from pathlib import Path

import fleet_hive
from fleet_hive.app.verify import verify
from tests.support import git


def texts(hive, stream="s:1"):
    return sorted(e.data["text"] for e in hive.events.by_stream(stream))


def append(hive, *texts_, stream="s:1"):
    for t in texts_:
        hive.events.append("note_added", stream=stream, data={"text": t})


def commit_fleet(repo: Path, message: str) -> None:
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", message)


def test_two_branches_append_then_merge_without_conflict(repo: Path):
    hive = fleet_hive.init(repo, actor="a")
    append(hive, "base")
    commit_fleet(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    append(hive, "feature-1", "feature-2")
    commit_fleet(repo, "feature work")
    git(repo, "checkout", "-q", "main")
    append(hive, "main-1")
    commit_fleet(repo, "main work")
    merged = git(repo, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "CONFLICT" not in merged.stdout
    assert git(repo, "status", "--porcelain").stdout.strip() == ""
    assert texts(hive) == ["base", "feature-1", "feature-2", "main-1"]
    assert hive.index.status().events == 4
    report = verify(hive)
    assert report.ok, report.problems
    # appending after the merge: clock above everything seen, no conflict on the next merge
    append(hive, "after-merge")
    last = hive.events.by_stream("s:1")[-1]
    assert last.data["text"] == "after-merge"
    assert last.clock > max(e.clock for e in hive.events.by_stream("s:1")[:-1])


def test_two_clones_append_and_merge(tmp_path: Path, repo: Path):
    hive = fleet_hive.init(repo, actor="a")
    append(hive, "base")
    commit_fleet(repo, "base")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    other = fleet_hive.init(clone, actor="b")
    assert other.events.writer_id() != hive.events.writer_id()
    append(other, "from-clone")
    commit_fleet(clone, "clone work")
    append(hive, "from-origin")
    commit_fleet(repo, "origin work")
    pulled = git(clone, "pull", "--no-rebase", "--no-edit", "-q", "origin", "main", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert texts(other) == ["base", "from-clone", "from-origin"]
    assert verify(other).ok


def test_checkout_of_older_commit_shrinks_the_cache(repo: Path):
    hive = fleet_hive.init(repo, actor="a")
    append(hive, "one")
    commit_fleet(repo, "one")
    old = git(repo, "rev-parse", "HEAD").stdout.strip()
    append(hive, "two", "three")
    append(hive, "elsewhere", stream="t:1")
    commit_fleet(repo, "more")
    seen = hive.events.latest_sequence()
    assert texts(hive) == ["one", "three", "two"]
    git(repo, "checkout", "-q", old)
    assert texts(hive) == ["one"]
    assert texts(hive, "t:1") == []
    assert hive.index.status().events == 1
    git(repo, "checkout", "-q", "main")
    assert texts(hive) == ["one", "three", "two"]
    # seq only grows: events that came back are new to a consumer that stopped at `seen`
    back = hive.events.after_sequence(seen)
    assert {e.data["text"] for e in back} == {"two", "three", "elsewhere"}


def test_repository_made_with_dulwich(tmp_path: Path):
    from dulwich import porcelain

    path = tmp_path / "dul"
    porcelain.init(str(path))
    hive = fleet_hive.init(path, actor="d")
    append(hive, "x", "y")
    porcelain.add(str(path), paths=[str(p) for p in (path / ".fleet").rglob("*")
                                    if p.is_file() and ".cache" not in p.parts
                                    and "local" not in p.parts])
    porcelain.commit(str(path), message=b"fleet", author=b"A <a@example.com>",
                     committer=b"A <a@example.com>")
    listed = git(path, "ls-files").stdout.split()
    assert any(name.endswith(".jsonl") for name in listed)
    assert not any(".cache" in name or "/local/" in name for name in listed)
    assert texts(hive) == ["x", "y"]


def test_fleet_gitignore_keeps_cache_and_local_out(repo: Path):
    hive = fleet_hive.init(repo)
    append(hive, "x")
    git(repo, "add", ".fleet")
    staged = git(repo, "diff", "--cached", "--name-only").stdout.split()
    assert ".fleet/config.yaml" in staged
    assert any(s.startswith(".fleet/events/") for s in staged)
    assert not any(s.startswith((".fleet/.cache", ".fleet/local")) for s in staged)
