"""The pure parts of worktree isolation: the reservation check, sizes, options, and the
lines the new progress records print."""

from __future__ import annotations

import pytest

from fleet_hive.cli.progress import plain_line
from fleet_hive.dispatch.isolation import outside
from fleet_hive.dispatch.model import Options, TryResult, parse_size
from fleet_hive.kernel.errors import InvalidInputError


def test_changed_files_outside_the_reservations_globs_included():
    assert outside(["pkg/a.py", "pkg/sub/b.py", "docs/x.md"], ["pkg/*.py"]) == [
        "pkg/sub/b.py", "docs/x.md"]
    assert outside(["pkg/a.py", "pkg/sub/b.py"], ["pkg/**"]) == []
    assert outside(["anything"], []) == []  # no files declared: no restriction


def test_sizes():
    assert parse_size("2GB") == 2 << 30 and parse_size("500m") == 500 << 20
    assert parse_size("1048576") == 1 << 20 and parse_size("1.5k") == 1536
    assert parse_size(None) is None and parse_size("none") is None and parse_size("0") is None
    with pytest.raises(InvalidInputError, match="worktree_disk_budget"):
        parse_size("lots")


def test_options_of_worktree_isolation():
    o = Options(agent="true", isolation="worktree", verify="pytest", base="main")
    assert o.verify_after_merge and o.worktree_dir == ".fleet/local/worktrees"
    with pytest.raises(InvalidInputError, match="--isolation"):
        Options(agent="true", isolation="container")
    with pytest.raises(InvalidInputError, match="need --isolation worktree"):
        Options(agent="true", verify="pytest")
    with pytest.raises(InvalidInputError, match="--verify needs a command"):
        Options(agent="true", isolation="worktree", verify="  ")


def test_a_refused_change_fails_the_try_and_says_why():
    r = TryResult("s-abcd", 1, "lead/w1", 0, 1.0, stderr_tail="noise",
                  refused="merge conflict: pkg/a.py", refusal="conflict")
    assert not r.ok
    assert r.describe().endswith("not merged: merge conflict: pkg/a.py")
    assert "noise" not in r.reason(2)  # the refusal is the reason, not the agent's stderr
    merged = TryResult("s-abcd", 1, "lead/w1", 0, 1.0, merged=True, verified=True,
                       merge_commit="ab" * 20)
    assert merged.ok and f"merged as {'ab' * 20} (verified)" in merged.reason(1)
    facts = merged.facts(mission_id="m-abcd", agent="a", tries=1, specialist=None,
                         files=["pkg/a.py"], outcome="completed")
    assert facts["merge_commit"] == "ab" * 20 and facts["verified"] is True


def test_progress_lines_of_verify_and_merge():
    base = {"mission_id": "m-1", "elapsed_ms": 1500, "sortie_id": "s-1"}
    assert "verify    s-1 after merge: pytest" in plain_line(
        {**base, "event": "verify_started", "command": "pytest", "after_merge": True})
    failed = plain_line({**base, "event": "verify_failed", "exit_code": 1,
                         "tail": "E assert 1 == 2"})
    assert failed is not None and "FAILED (exit 1)" in failed and "E assert 1 == 2" in failed
    assert "merged    s-1 into main as abc" in plain_line(
        {**base, "event": "merged", "commit": "abc", "base": "main"})
    assert "conflict  s-1: pkg/a.py" in plain_line(
        {**base, "event": "merge_conflict", "files": ["pkg/a.py"], "branch": "b"})
    assert "over the budget" in plain_line(
        {**base, "event": "worktree_budget", "used": 10, "budget": 1})
