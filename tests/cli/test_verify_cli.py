"""``fleet-hive verify`` as a real process: the report on success, the documented error
object (``docs/verify.md``) with the problems inside on failure, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import run_cli


@pytest.fixture
def committed(repo: Path) -> Path:
    """A repository with three events committed in one segment."""
    assert run_cli("-C", str(repo), "init").returncode == 0
    for text in ("aa", "bb", "cc"):
        done = run_cli("-C", str(repo), "events", "append", "note_added", "--stream", "s:1",
                       "--data", json.dumps({"text": text}))
        assert done.returncode == 0, done.stderr
    assert run_cli("-C", str(repo), "commit").returncode == 0
    return repo


def segment_of(repo: Path) -> Path:
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    return segment


def test_success_prints_the_report(committed: Path):
    done = run_cli("-C", str(committed), "verify", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "events": 3, "segments": 1, "problems": []}


def test_failure_prints_the_error_object_with_the_problems(committed: Path):
    segment = segment_of(committed)
    segment.write_bytes(segment.read_bytes().replace(b'"bb"', b'"BB"') + b"{oops}\n")
    done = run_cli("-C", str(committed), "--json", "verify")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]  # stdout holds exactly this one document
    rel = segment.relative_to(committed).as_posix()
    assert error["code"] == "integrity"
    assert error["message"].startswith("verify found 2 errors in .fleet/, the first: ")
    assert "git checkout -- .fleet/events" in error["hint"]
    assert [(p["code"], p["path"], p["line"], p["severity"]) for p in error["problems"]] == [
        ("invalid_json", rel, 4, "error"), ("not_append_only", rel, 2, "error")]
    assert all(set(p) >= {"code", "message", "path", "line", "severity"}
               for p in error["problems"])
    assert error["events"] == 3 and error["segments"] == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: verify found 2")


def test_failure_for_people_lists_each_problem_then_one_error_line(committed: Path):
    segment = segment_of(committed)
    segment.unlink()
    done = run_cli("-C", str(committed), "verify")
    assert done.returncode == 1
    rel = segment.relative_to(committed).as_posix()
    assert done.stdout.splitlines() == [
        f"error: {rel}: a committed event segment was deleted; the log is append-only (a "
        "deletion is a tombstone event) [segment_deleted]",
        "verify FAILED: 0 events in 0 segments, 1 problem(s)"]
    assert done.stderr.startswith("error: verify found 1 error in .fleet/, the first: ")


def test_warnings_alone_succeed_with_the_report(committed: Path):
    with open(segment_of(committed), "ab") as f:
        f.write(b'{"id": "torn')  # a crash mid-append
    done = run_cli("-C", str(committed), "verify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert [(p["code"], p["kind"], p["severity"], p["line"]) for p in report["problems"]] == [
        ("torn_tail", "torn_tail", "warning", 4)]


def test_a_refused_commit_prints_the_same_error_object(committed: Path):
    segment = segment_of(committed)
    segment.write_bytes(segment.read_bytes().replace(b'"aa"', b'"AA"'))
    done = run_cli("-C", str(committed), "commit", "--json")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "integrity" and error["message"].startswith("refusing to commit")
    assert [(p["code"], p["line"]) for p in error["problems"]] == [("not_append_only", 1)]
