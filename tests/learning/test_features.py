"""``task_features``: the key outcomes are learned under (planning imports it)."""

from __future__ import annotations

import pytest

from fleet_hive.learning import task_features


@pytest.mark.parametrize(("task", "expected"), [
    ("Fix the login crash", {"kind:bugfix", "area:auth", "size:small"}),
    ("Add a REST endpoint for exporting invoices", {"kind:feature", "area:api"}),
    ("Refactor the database layer and rename the query helpers",
     {"kind:refactor", "area:database"}),
    ("Speed up the slow CLI start-up", {"kind:perf", "area:cli"}),
    ("Write documentation for the config file", {"kind:docs", "area:config"}),
    ("Sanitize user input against XSS in forms", {"kind:security", "area:ui"}),
    ("Raise coverage of tests for the parser", {"kind:test"}),
    ("Upgrade to the new major version of the ORM", {"kind:migration", "area:database"}),
    ("Tidy things up", {"kind:other", "size:small"}),
])
def test_kinds_and_areas(task, expected):
    found = task_features(task)
    assert expected <= set(found), found
    assert found == sorted(found)
    assert sum(1 for f in found if f.startswith("size:")) == 1


def test_paths_name_their_area():
    found = task_features("Fix the rounding bug in src/billing/invoice.py and docs/api.md")
    assert {"area:billing", "area:docs", "kind:bugfix"} <= set(found)


def test_size_grows_with_what_the_task_lists():
    small = task_features("Fix a typo")
    listing = "\n".join(f"- implement feature number {k} for the exporter" for k in range(8))
    large = task_features("Build the exporter:\n" + listing)
    medium = task_features("Add an exporter for invoices, with a CSV writer, a JSON writer "
                           "and tests for both")
    assert "size:small" in small
    assert "size:large" in large
    assert "size:medium" in medium


def test_deterministic_and_total():
    task = "Implement OAuth login for the API, with tests"
    assert task_features(task) == task_features(task)
    assert task_features("") == ["kind:other", "size:small"]
    assert task_features(None) == ["kind:other", "size:small"]  # type: ignore[arg-type]
