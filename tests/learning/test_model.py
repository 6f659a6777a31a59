"""The pure parts: decay, maturity, scores, ranking, the fold of an outcome stream."""

from __future__ import annotations

import pytest

from fleet_hive.events.envelope import Event
from fleet_hive.learning.fold import fold_outcome
from fleet_hive.learning.model import (
    ANY,
    STRATEGIES,
    Outcome,
    Pattern,
    advise,
    counts,
    decay,
    rank,
)


def test_decay_is_half_every_90_days():
    assert decay(0) == 1.0
    assert decay(90) == 0.5
    assert decay(180) == 0.25
    assert decay(45) == pytest.approx(2 ** -0.5)
    assert decay(-3) == 1.0  # a clock behind the outcome: no boost


@pytest.mark.parametrize(("successes", "failures", "maturity", "anti"), [
    (1, 1, "candidate", False),
    (0, 2.9, "candidate", False),
    (2, 1, "established", False),
    (1, 2, "established", True),
    (9, 1, "proven", False),
    (7, 3, "established", False),  # enough evidence, not consistent enough
    (1, 9, "proven", True),
])
def test_maturity_and_anti_patterns(successes, failures, maturity, anti):
    p = Pattern("file", "kind:bugfix", successes, failures, outcomes=3)
    assert (p.maturity, p.anti_pattern) == (maturity, anti)
    assert -1 < p.score < 1
    assert (p.score < 0) == (failures > successes)
    assert ("avoid" in p.sentence()) == anti


def test_counts_charge_each_failed_try():
    assert counts(True, 1) == (1, 0)
    assert counts(True, 3) == (1, 2)
    assert counts(False, 2) == (0, 2)


def test_rank_breaks_ties_in_strategy_order():
    assert rank(dict.fromkeys(STRATEGIES, 0.0)) == list(STRATEGIES)
    assert rank({"file": -0.2, "feature": 0.0, "risk": 0.4, "hybrid": 0.0}) == [
        "risk", "feature", "hybrid", "file"]


def test_advise_prefers_matching_features_over_the_overall_record():
    patterns = {
        ("file", ANY): Pattern("file", ANY, 10, 0, 10),
        ("file", "kind:docs"): Pattern("file", "kind:docs", 0, 4, 4),
        ("risk", ANY): Pattern("risk", ANY, 3, 0, 3),
    }
    advice = advise(["kind:docs"], patterns)
    assert advice.scores["file"] == pytest.approx(-0.8)
    assert advice.scores["risk"] == pytest.approx(0.5 * 0.75)
    assert advice.ranking[0] == "risk" and advice.ranking[-1] == "file"
    assert advice.anti_patterns and advice.anti_patterns[0].startswith(
        "avoid the file strategy for kind:docs tasks")
    empty = advise(["kind:docs"], {})
    assert not empty.known and set(empty.scores.values()) == {0.0}


def _event(n, type, data, causation=None):
    return Event(f"e{n}", type, "outcome:s-abcd1234", n, "w", n, "2026-01-01T00:00:00Z",
                 "t", causation, "m-abcd1234", 1, data)


def test_the_fold_takes_the_latest_outcome_and_its_amendments():
    base = {"subject": "sortie", "mission_id": "m-abcd1234", "sortie_id": "s-abcd1234",
            "status": "completed", "success": True, "tries": 1, "strategy": "file"}
    events = [
        _event(1, "outcome_amended", {"verified": True}),  # nothing to amend yet
        _event(2, "outcome_recorded", {**base, "success": False, "status": "failed"}),
        _event(3, "outcome_recorded", {"subject": "sortie"}),  # unreadable: skipped
        _event(4, "outcome_recorded", {**base, "tries": 2}, causation="e-end"),
        _event(5, "outcome_amended", {"verified": True, "merged": None,
                                      "changed_files": ["a.py"], "errors": []}),
        _event(6, "outcome_amended", {"merged": False, "errors": ["conflict"]}),
    ]
    o = fold_outcome(events)
    assert isinstance(o, Outcome)
    assert (o.success, o.tries, o.verified, o.merged, o.changed_files, o.errors) == (
        True, 2, True, False, ["a.py"], ["conflict"])
    assert (o.succeeded, o.amendments, o.cause) == (False, 2, "e-end")
    assert fold_outcome(events[:1]) is None
