"""``verify`` for reservations: the index tables and the lock manifest against the log."""

from __future__ import annotations

import json

from fleet_hive.app.verify import verify
from fleet_hive.kernel.problems import Report
from fleet_hive.reservations.checks import check_reservations


def run(hive, repair: bool = False) -> Report:
    report = Report()
    check_reservations(hive, report, repair)
    return report


def kinds(report: Report) -> list[tuple[str, str]]:
    return [(p.kind, p.severity) for p in report.problems]


def setup(hive) -> None:
    res = hive.reservations
    res.acquire(["src/**", "README"], holder="ada", ttl=600)
    res.acquire("docs/a.md", holder="bob", shared=True)
    res.release("README", holder="ada")
    hive.reservations.check("x")  # catch up


def test_a_sound_repository_has_no_problems(hive):
    assert kinds(run(hive)) == []  # nothing reserved, no manifest: fine
    setup(hive)
    assert kinds(run(hive)) == []
    report = verify(hive)  # the check is wired into verify through the capability list
    assert report.ok and report.problems == []


def test_a_wrong_table_row_is_an_error_and_repair_rebuilds(hive):
    setup(hive)
    hive.index.db.execute("UPDATE reservations SET holder = 'mallory' WHERE path = 'src/**'")
    report = run(hive)
    assert kinds(report) == [("projection_mismatch", "error")] and not report.ok
    assert "lease " in report.problems[0].message
    assert kinds(run(hive, repair=True)) == [("projection_mismatch", "repaired")]
    assert kinds(run(hive)) == []


def test_a_missing_row_a_stray_wait_or_a_wrong_digest_is_found(hive):
    setup(hive)
    db = hive.index.db
    db.execute("DELETE FROM reservations WHERE path = 'docs/a.md'")
    assert kinds(run(hive)) == [("projection_mismatch", "error")]
    hive.index.rebuild()
    db.execute("INSERT INTO reservation_waits VALUES ('r1', 'ghost', '[\"a\"]', 'exclusive', "
               "'[]', '2027-01-01T00:00:00.000000Z', 1e12, 1, 'w', 1, NULL, NULL, NULL)")
    assert "wait r1" in run(hive).problems[0].message
    hive.index.rebuild()
    db.execute("UPDATE reservation_digest SET d = d + 1")
    assert "the digest" in run(hive).problems[0].message
    run(hive, repair=True)
    assert kinds(run(hive)) == []


def test_a_stale_manifest_is_a_warning_and_repair_rewrites_it(hive):
    setup(hive)
    path = hive.layout.reservation_manifest
    good = path.read_bytes()
    path.write_text(json.dumps({"reservations": []}))
    report = run(hive)
    assert kinds(report) == [("manifest_mismatch", "warning")] and report.ok
    assert report.problems[0].path == ".fleet/local/reservations.json"
    assert kinds(run(hive, repair=True)) == [("manifest_mismatch", "repaired")]
    assert path.read_bytes() == good
    path.unlink()
    assert "missing" in run(hive).problems[0].message
    run(hive, repair=True)
    assert path.read_bytes() == good and kinds(run(hive)) == []
