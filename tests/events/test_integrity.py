"""One line checker: verify (a file on disk) and a commit (bytes) report a segment alike."""

from __future__ import annotations

from pathlib import Path

from fleet_hive.app.verify import Report, check_log
from fleet_hive.events.integrity import check_segment


def line(n: int, writer: str = "w1", batch: str = "") -> bytes:
    return (b'{"id":"01A%d","type":"note_added","stream":"s:1","clock":%d,"writer":"%s","n":%d,'
            b'"time":"2026-01-01T00:00:00Z"%s,"data":{}}\n'
            % (n, n, writer.encode(), n, batch.encode()))


def test_verify_and_the_commit_check_report_the_same_problems(hive, repo: Path):
    data = (line(1) + b"{oops}\n" + b'{"id": 1}\n' + line(3, writer="w2") + line(4)
            + line(5, batch=',"batch":[0,2]') + b'{"id":"torn')
    rel = ".fleet/events/w1/0001.jsonl"
    (repo / rel).parent.mkdir(parents=True)
    (repo / rel).write_bytes(data)
    report = Report()
    check_log(hive, report)
    from_disk = [p for p in report.problems if p.path == rel
                 and p.kind not in ("gap", "duplicate_n")]  # across lines: verify's own
    from_bytes = list(check_segment(data, rel, "w1"))
    assert from_bytes == from_disk
    assert [(p.kind, p.line) for p in from_bytes] == [
        ("invalid_json", 2), ("invalid_envelope", 3), ("wrong_writer", 4), ("torn_tail", 6)]
    assert from_bytes[-1].severity == "warning"  # the batch cut short and the torn line


def test_only_the_lines_after_start_are_checked_with_their_own_numbers():
    committed = b"{oops}\n" + line(2)
    problems = list(check_segment(committed + b"[1]\n", ".fleet/events/w1/s.jsonl", "w1",
                                  start=len(committed)))
    assert [(p.kind, p.line, p.message) for p in problems] == [
        ("invalid_envelope", 3, "line is not a JSON object")]
