"""Integers too large for SQLite get a one-line error and exit 1, never exit 70: from the
command line (real processes) and from the Python API alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_hive.kernel.errors import InvalidInputError
from fleet_hive.kernel.limits import MAX_INT64
from tests.support import run_cli

HUGE = "99999999999999999999"


@pytest.fixture
def initialized(repo: Path) -> Path:
    assert run_cli("-C", str(repo), "init").returncode == 0
    assert run_cli("-C", str(repo), "mission", "create", "m").returncode == 0
    return repo


@pytest.mark.parametrize("args", [
    ("mission", "list", "--offset", HUGE),
    ("mission", "list", "--limit", HUGE),
    ("sortie", "list", "--offset", HUGE),
    ("sortie", "list", "--limit", HUGE),
    ("ready", "--limit", HUGE),
    ("events", "list", "--after", HUGE),
    ("events", "list", "--limit", HUGE),
    ("events", "list", "--offset", HUGE),
    ("events", "follow", "--after", HUGE, "--timeout", "0"),
    ("events", "follow", "--limit", HUGE, "--timeout", "0"),
], ids=" ".join)
def test_a_huge_integer_is_a_one_line_error_with_exit_1(initialized: Path, args):
    option = args[args.index(HUGE) - 1].lstrip("-")
    done = run_cli("-C", str(initialized), *args)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"error: {option} must be an integer from 0 to {MAX_INT64}, got {HUGE}"]
    done = run_cli("-C", str(initialized), "--json", *args)
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "invalid_input" and HUGE in error["message"]


def test_the_largest_allowed_value_answers(initialized: Path):
    for args in (("mission", "list", "--offset", str(MAX_INT64)),
                 ("events", "list", "--after", str(MAX_INT64), "--limit", str(MAX_INT64))):
        done = run_cli("-C", str(initialized), "--json", *args)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == []


def test_the_python_api_refuses_them_too(hive):
    calls = [lambda: hive.missions.list(offset=MAX_INT64 + 1),
             lambda: hive.sorties.list(limit=MAX_INT64 + 1),
             lambda: hive.ready(limit=MAX_INT64 + 1),
             lambda: hive.events.after_sequence(MAX_INT64 + 1),
             lambda: hive.events.query(after=MAX_INT64 + 1),
             lambda: hive.events.query(offset=-1),
             lambda: hive.events.by_stream("s:1", after=MAX_INT64 + 1),
             lambda: hive.events.by_type("note_added", limit=MAX_INT64 + 1)]
    for call in calls:
        with pytest.raises(InvalidInputError, match="must be an integer from 0 to"):
            call()
    assert hive.events.after_sequence(MAX_INT64) == []
