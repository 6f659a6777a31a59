"""``verify`` against git's HEAD: committed event lines changed or removed, committed
segments missing, each named with its file and line; real repositories, real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fleet_hive
from fleet_hive.app.verify import check_fleet_changes, verify
from fleet_hive.git.changes import FleetChange
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
    writer = next(p for p in (repo / ".fleet" / "events").iterdir() if p.is_dir())
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


# -- n in a change set (what `fleet-hive commit` and the pre-commit hook check) -------------
def ev(n: int, writer: str = "w1", eid: str = "") -> bytes:
    return (b'{"id":"%s","type":"note_added","stream":"s:1","clock":%d,"writer":"%s","n":%d,'
            b'"time":"2026-01-01T00:00:00Z","data":{}}\n'
            % ((eid or f"01E{n:04d}").encode(), n, writer.encode(), n))


def n_problems(*changes: FleetChange) -> list[tuple[str, str, int | None, str]]:
    return [(p.kind, p.path, p.line, p.message) for p in check_fleet_changes(list(changes))
            if p.kind in ("duplicate_n", "gap")]


A, B = ".fleet/events/w1/01a.jsonl", ".fleet/events/w1/01b.jsonl"


def test_new_lines_continue_the_committed_prefix():
    prefix = ev(1) + ev(2)
    assert n_problems(FleetChange(A, len(prefix), prefix + ev(3) + ev(4), True)) == []
    assert n_problems(FleetChange(A, len(prefix), prefix + ev(2, eid="01X"), True)) == [
        ("duplicate_n", A, 3, f"writer w1 reuses n=2 (also at {A})")]
    assert n_problems(FleetChange(A, len(prefix), prefix + ev(5), True)) == [
        ("gap", A, 3, "writer w1 is missing n=3..4 (before n=5)")]


def test_a_rotation_that_reused_n_is_caught_across_segments():
    """The old segment took more lines after the new one began (a kill right after the
    rotation, before the writer state was saved): n=3 twice."""
    old = ev(1) + ev(2)
    assert n_problems(FleetChange(A, len(old), old + ev(3), True),
                      FleetChange(B, None, ev(3, eid="01Y") + ev(4), False)) == [
        ("duplicate_n", B, 1, f"writer w1 reuses n=3 (also at {A}:3)")]
    # the same, when the new segment was committed first and the old one grew after
    assert n_problems(FleetChange(A, len(old), old + ev(3, eid="01Y"), True),
                      FleetChange(B, len(ev(3)), ev(3) + ev(4), True)) == [
        ("duplicate_n", A, 3, f"writer w1 reuses n=3 (also at {B})")]
    # a later segment that goes back, or skips
    assert n_problems(FleetChange(A, None, ev(1) + ev(2), False),
                      FleetChange(B, None, ev(1, eid="01Z"), False)) == [
        ("duplicate_n", B, 1, f"writer w1 reuses n=1 (also at {A}:1)")]
    assert n_problems(FleetChange(A, None, ev(1) + ev(2), False),
                      FleetChange(B, None, ev(4), False)) == [
        ("gap", B, 1, "writer w1 is missing n=3 (before n=4)")]
    # each writer on its own; a fine rotation passes
    other = ".fleet/events/w2/01a.jsonl"
    assert n_problems(FleetChange(A, None, ev(1) + ev(2), False),
                      FleetChange(B, None, ev(3) + ev(4), False),
                      FleetChange(other, None, ev(1, "w2"), False)) == []


def test_a_new_segment_follows_the_last_committed_one_or_starts_at_one():
    """The git side adds the writer's last unchanged committed segment (``context``);
    without one the writer has no committed segment, so its n starts at 1."""
    committed = FleetChange(A, len(ev(1) + ev(2)), ev(1) + ev(2), True, context=True)
    assert n_problems(committed, FleetChange(B, None, ev(3), False)) == []
    assert n_problems(committed, FleetChange(B, None, ev(2, eid="01Q"), False)) == [
        ("duplicate_n", B, 1, f"writer w1 reuses n=2 (also at {A})")]
    assert n_problems(FleetChange(B, None, ev(3), False)) == [
        ("gap", B, 1, "writer w1 is missing n=1..2 (before n=3)")]


def test_a_broken_git_index_does_not_stop_the_comparison(repo: Path, hive):
    segment = committed_segment(repo, hive, ["a", "b"])
    (repo / ".git" / "index").write_bytes(b"not an index")
    assert verify(hive).ok
    segment.write_bytes(segment.read_bytes().replace(b'"b"', b'"B"'))
    assert head_problems(hive) == [("not_append_only", rel(repo, segment), 2)]


def test_verify_finds_a_damaged_cache_file_and_deletes_it(repo: Path):
    import sqlite3

    hive = fleet_hive.init(repo, actor="t")
    hive.events.append_batch([{"type": "note_added", "stream": "s:1",
                               "data": {"text": "x" * 200}} for _ in range(500)])
    assert hive.events.latest_sequence() == 500
    hive.close()
    index = repo / ".fleet" / ".cache" / "index.sqlite"
    db = sqlite3.connect(index)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(index, "r+b") as f:  # zero a page in the middle of the events table
        f.seek(4096 * 8)
        f.write(bytes(4096))
    hive = fleet_hive.open(repo)
    report = verify(hive)
    assert [(p.kind, p.severity) for p in report.problems] == [("cache_corrupt", "repaired")]
    assert report.ok
    assert hive.events.latest_sequence() == 500
    assert verify(hive).problems == []
    hive.close()
