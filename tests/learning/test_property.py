"""The learning tables kept up write by write equal a fold of the log, whatever sequence
of outcomes (superseding ones included) and amendments was written."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleet_hive
from fleet_hive.kernel.clock import iso
from fleet_hive.kernel.problems import Report
from fleet_hive.learning.checks import check_learning
from tests.support.clones import new_clone

SUBJECTS = list(range(4))  # each example gets fresh ids for these
_examples = itertools.count()
FEATURES = ["kind:bugfix", "area:api", "size:small"]
DAY = 86_400

step = st.one_of(
    st.tuples(st.just("record"), st.sampled_from(SUBJECTS),
              st.sampled_from(("file", "feature", "risk", "hybrid")),
              st.lists(st.sampled_from(FEATURES), max_size=3, unique=True), st.booleans(),
              st.integers(1, 3), st.integers(0, 400),
              st.lists(st.sampled_from(("a", "b", "c")), max_size=2),
              st.one_of(st.none(), st.lists(st.sampled_from(("x.py", "src/y.py")),
                                            max_size=2))),
    st.tuples(st.just("amend"), st.sampled_from(SUBJECTS),
              st.one_of(st.none(), st.booleans()), st.one_of(st.none(), st.booleans()),
              st.lists(st.sampled_from(("verify failed", "conflict")), max_size=1)),
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One repository for every example (each uses fresh ids): the property holds for the
    whole log, and a repository per example would cost most of the test's time."""
    path = Path(tmp_path_factory.mktemp("learning-property")) / "c"
    new_clone(path)
    with fleet_hive.init(path, actor="p") as hive:
        yield hive


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_incremental_tables_equal_the_fold(shared, steps):
    hive = shared
    run = next(_examples)
    ids = {k: f"s-p{run:04d}x{k}" for k in SUBJECTS}
    for s in steps:
        if s[0] == "record":
            _, k, strategy, features, ok, tries, days_ago, errors, changed = s
            hive.learning.record_outcome(
                mission_id="m-prop0000", sortie_id=ids[k], strategy=strategy,
                features=features, success=ok, tries=tries, errors=errors,
                planned_files=["src/**"], changed_files=changed,
                finished_at=iso(1_790_000_000 - days_ago * DAY))
        elif hive.learning.outcome(ids[s[1]]) is not None:
            _, k, verified, merged, errors = s
            if verified is None and merged is None and not errors:
                continue
            hive.learning.amend(ids[k], verified=verified, merged=merged, errors=errors)
    report = Report()
    check_learning(hive, report)
    assert report.problems == [], [p.message for p in report.problems]
    stored = hive.index.read("SELECT COUNT(*) FROM outcome_days WHERE outcomes <= 0")
    assert stored == [(0,)]
