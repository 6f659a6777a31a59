"""``verify`` against git's HEAD: committed event lines changed or removed, committed
segments missing, each named with its file and line; real repositories, real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fleet_hive
from fleet_hive.app.verify import verify
from fleet_hive.kernel.problems import Problem
from tests.support import git


def note(hive, text: str) -> None:
    hive.events.append("note_added", stream="s:1", data={"text": text})


def committed_segment(repo: Path, hive, texts: list[str]) -> Path:
    for text in texts:
        note(hive, text)
    hive.git.commit()
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    return segment


def head_problems(hive) -> list[tuple[str, str, int | None]]:
    kinds = ("not_append_only", "segment_deleted")
    return [(p.kind, p.path, p.line) for p in verify(hive).problems if p.kind in kinds]


def rel(repo: Path, path: Path) -> str:
    return path.relative_to(repo).as_posix()


def test_a_same_length_edit_of_an_earlier_line_is_reported_with_its_line(repo: Path, hive):
    segment = committed_segment(repo, hive, ["first", "second", "third"])
    before = os.stat(segment)
    segment.write_bytes(segment.read_bytes().replace(b'"second"', b'"SECOND"'))
    # even with the stat git trusts put back: verify compares the content
    os.utime(segment, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert head_problems(hive) == [("not_append_only", rel(repo, segment), 2)]
    assert not verify(hive).ok


def test_two_swapped_lines_are_reported_at_the_first_of_them(repo: Path, hive):
    segment = committed_segment(repo, hive, ["a", "b", "c", "d"])
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    segment.write_bytes(b"".join(lines))
    assert head_problems(hive) == [("not_append_only", rel(repo, segment), 2)]


def test_removed_lines_and_a_missing_segment_are_reported(repo: Path, hive):
    segment = committed_segment(repo, hive, ["a", "b", "c"])
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(b"".join(lines[:2]))  # the last committed line dropped
    assert head_problems(hive) == [("not_append_only", rel(repo, segment), 3)]
    segment.unlink()
    assert head_problems(hive) == [("segment_deleted", rel(repo, segment), None)]


def test_appending_after_the_commit_is_fine_and_a_restore_clears_the_problem(repo: Path, hive):
    segment = committed_segment(repo, hive, ["a", "b"])
    note(hive, "c")  # a grown segment keeps every committed line
    report = verify(hive)
    assert report.ok and report.events == 3 and head_problems(hive) == []
    segment.write_bytes(segment.read_bytes().replace(b'"a"', b'"z"'))
    assert head_problems(hive) == [("not_append_only", rel(repo, segment), 1)]
    git(repo, "checkout", "--", ".fleet/events")
    assert head_problems(hive) == []


def test_without_a_head_the_check_is_skipped(tmp_path: Path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "main")
    with fleet_hive.init(fresh, actor="t") as hive:  # a repository without any commit
        note(hive, "x")
        assert verify(hive).ok and verify(hive).problems == []
    shutil.rmtree(fresh / ".git")  # .fleet/ without a git repository at all
    with fleet_hive.open(fresh) as hive:
        report = verify(hive)
        assert report.ok and report.events == 1 and report.problems == []


def test_a_new_segment_is_not_a_head_problem_but_its_lines_are_still_checked(repo: Path, hive):
    committed_segment(repo, hive, ["a"])
    writer = next((repo / ".fleet" / "events").iterdir())
    extra = writer / "zzzz.jsonl"
    extra.write_bytes(b"{oops}\n")
    problems = verify(hive).problems
    assert problems == [Problem("invalid_json", problems[0].message, rel(repo, extra), 1)]


def line(n: int, writer: str) -> bytes:
    return (b'{"id":"01B%03d","type":"note_added","stream":"s:1","clock":%d,"writer":"%s",'
            b'"n":%d,"time":"2026-01-01T00:00:00Z","data":{}}\n' % (n, n, writer.encode(), n))


def test_repeated_and_missing_n_are_reported_where_they_occur(repo: Path, hive):
    writer = "wdupgap00000"
    wdir = repo / ".fleet" / "events" / writer
    wdir.mkdir()
    (wdir / "a.jsonl").write_bytes(line(1, writer) + line(2, writer))
    # a rotation that reused n=2, then lost n=4
    (wdir / "b.jsonl").write_bytes(line(2, writer).replace(b"01B", b"01C") + line(3, writer)
                                   + line(5, writer))
    problems = [(p.kind, p.path, p.line, p.message) for p in verify(hive).problems]
    a, b = (f".fleet/events/{writer}/{name}.jsonl" for name in "ab")
    assert problems == [
        ("duplicate_n", b, 1, f"writer {writer} has n=2 more than once (also at {a}:2)"),
        ("gap", b, 3, f"writer {writer} is missing n=4 (before n=5)")]
