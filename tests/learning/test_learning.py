"""What is learned: with an injectable clock, failures change the advice, decay halves a
pattern's weight every 90 days, a mostly failing pattern becomes an anti-pattern, and the
learned state is a fold of the log (identical after ``index rebuild``)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from fleet_hive.app.verify import verify
from fleet_hive.kernel.clock import iso
from fleet_hive.kernel.ids import new_short_id
from fleet_hive.learning.service import Learning
from tests.support import run_cli

DAY = 86_400
T0 = 1_790_000_000.0  # a fixed "now" (2026-09-21): every test sets its own clock


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def learning(hive, clock):
    return Learning(lambda: hive.uow, hive.index, clock=clock)


def record(learning, strategy, features, success, *, at=T0, tries=1, errors=(), mission=None):
    return learning.record_outcome(
        mission_id=mission or new_short_id("m-"), sortie_id=new_short_id("s-"),
        strategy=strategy, features=features, success=success, tries=tries,
        errors=errors or ([] if success else ["tests failed"]), finished_at=iso(at))


def test_failures_of_one_strategy_change_what_advise_ranks_first(learning):
    bugfix = ["kind:bugfix", "size:small"]
    for _ in range(3):
        record(learning, "file", bugfix, True)
    record(learning, "risk", bugfix, True)
    before = learning.advise(bugfix)
    assert before.ranking[0] == "file"
    assert before.scores["file"] > before.scores["risk"] > 0
    assert before.scores["feature"] == before.scores["hybrid"] == 0.0  # nothing known

    for _ in range(6):
        record(learning, "file", bugfix, False, errors=["merge conflict in setup.py"])
    after = learning.advise(bugfix)
    assert after.ranking[0] == "risk"
    assert after.scores["file"] < 0 < after.scores["risk"]  # the scores flipped
    assert after.ranking[-1] == "file"
    # another task type is not judged by the bugfix record alone: overall, counted half
    docs = learning.advise(["kind:docs"])
    assert docs.scores["file"] == pytest.approx(0.5 * learning.patterns(
        strategy="file", feature="*")[0].score)


def test_outcomes_of_real_sorties_drive_the_advice(hive, monkeypatch):
    """Through the policy: planned sorties that fail teach ``file`` is bad for bugfixes."""
    plans = {}
    monkeypatch.setattr(hive, "_plan_of", lambda m: plans.get(m))
    features = ["area:auth", "kind:bugfix", "size:small"]

    def run_mission(strategy, outcomes):
        m = hive.missions.create(f"fix the login crash ({strategy})")
        hive.missions.start(m.id)
        plans[m.id] = {"strategy": strategy, "planner": "heuristic", "features": features,
                       "sorties": {}}
        for ok in outcomes:
            s = hive.sorties.add(m.id, "part")
            hive.sorties.claim(s.id, specialist="ada")
            hive.sorties.start(s.id)
            if ok:
                hive.sorties.complete(s.id)
            else:
                hive.sorties.fail(s.id, reason="login tests failed")

    run_mission("file", [True, True])
    assert hive.learning.advise(features).ranking[0] == "file"
    run_mission("file", [False, False, False, False])
    run_mission("feature", [True])
    advice = hive.learning.advise(features)
    assert advice.ranking[0] == "feature"
    assert advice.scores["file"] < 0
    assert any(s.startswith("avoid the file strategy") and "login tests failed" in s
               for s in advice.anti_patterns), advice.anti_patterns


def test_decay_halves_a_patterns_weight_every_90_days(learning, clock):
    for k in range(4):
        record(learning, "feature", ["kind:feature"], k != 3, at=T0 - 3600 * k)
    (fresh,) = learning.patterns(strategy="feature", feature="kind:feature")
    assert (fresh.weight, fresh.successes, fresh.failures) == (4.0, 3.0, 1.0)
    assert fresh.maturity == "established"

    clock.now = T0 + 90 * DAY
    (older,) = learning.patterns(strategy="feature", feature="kind:feature")
    assert older.weight == fresh.weight / 2
    assert (older.successes, older.failures) == (1.5, 0.5)
    assert older.maturity == "candidate"  # 2 recent tries' worth of evidence
    assert older.score < fresh.score  # less evidence, less confidence
    assert older.outcomes == 4

    clock.now = T0 + 180 * DAY
    (oldest,) = learning.patterns(strategy="feature", feature="kind:feature")
    assert oldest.weight == fresh.weight / 4
    advice = learning.advise(["kind:feature"])
    assert advice.evidence["feature"] == pytest.approx(1.0)


def test_a_mostly_failing_pattern_becomes_an_anti_pattern_in_the_advice(learning):
    features = ["area:database", "kind:refactor"]
    record(learning, "hybrid", features, True)
    record(learning, "hybrid", features, False, errors=["migration left old columns"])
    (candidate,) = learning.patterns(strategy="hybrid", feature="kind:refactor")
    assert not candidate.anti_pattern and candidate.maturity == "candidate"
    assert learning.advise(features).anti_patterns == []

    record(learning, "hybrid", features, False, tries=2,
           errors=["migration left old columns", "timeout"])
    (p,) = learning.patterns(strategy="hybrid", feature="kind:refactor")
    assert p.anti_pattern and (p.successes, p.failures) == (1.0, 3.0)
    assert p.errors[0] == "migration left old columns"
    assert [x.feature for x in learning.patterns(anti=True)] == [
        "*", "area:database", "kind:refactor"]
    advice = learning.advise(features)
    assert any("avoid the hybrid strategy for kind:refactor tasks" in s
               and "migration left old columns" in s for s in advice.anti_patterns)
    assert advice.scores["hybrid"] < 0

    # successes turn it back into a pattern (the latest outcome of a subject counts)
    for _ in range(5):
        record(learning, "hybrid", features, True)
    (p,) = learning.patterns(strategy="hybrid", feature="kind:refactor")
    assert not p.anti_pattern and p.maturity == "established"
    assert any("the hybrid strategy works for kind:refactor tasks" in s
               for s in learning.advise(features).patterns)


def test_a_proven_pattern(learning):
    for _ in range(10):
        record(learning, "risk", ["kind:security"], True)
    (p,) = learning.patterns(strategy="risk", feature="kind:security")
    assert p.maturity == "proven" and p.success_rate == 1.0


def _state(learning):
    return (json.dumps(learning.stats(), sort_keys=True),
            json.dumps([p.to_json() for p in learning.patterns()], sort_keys=True),
            json.dumps(learning.advise(["kind:bugfix", "area:api"]).to_json(),
                       sort_keys=True),
            [o.to_json() for o in learning.outcomes()])


def _tables(repo):
    db = sqlite3.connect(repo / ".fleet" / ".cache" / "index.sqlite")
    try:
        return (db.execute("SELECT * FROM outcomes ORDER BY subject_id").fetchall(),
                db.execute("SELECT * FROM outcome_days ORDER BY strategy, feature, day")
                .fetchall(),
                db.execute("SELECT * FROM outcome_errors ORDER BY strategy, feature, error")
                .fetchall())
    finally:
        db.close()


def test_the_learned_state_is_identical_after_index_rebuild(hive, repo, learning, clock):
    for k in range(30):
        record(learning, ("file", "feature", "risk")[k % 3],
               ["kind:bugfix", "area:api"][: 1 + k % 2], k % 4 != 0,
               at=T0 - k * 7 * DAY - k * 1234.5, tries=1 + k % 3)
    m = hive.missions.create("ship")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    hive.sorties.complete(s.id)
    learning.amend(s.id, verified=False, errors=["verify: 2 tests failed"])
    hive.missions.cancel(m.id, reason="abandoned")
    clock.now = T0 + 45.5 * DAY
    before = _state(learning)
    tables = _tables(repo)
    assert tables[0] and tables[1] and tables[2]
    assert not [p for p in verify(hive).problems if p.kind == "projection_mismatch"]

    hive.close()
    result = run_cli("-C", str(repo), "index", "rebuild")
    assert result.returncode == 0, result.stderr
    assert _tables(repo) == tables
    import fleet_hive

    with fleet_hive.open(repo) as again:
        assert _state(Learning(lambda: again.uow, again.index, clock=clock)) == before


def test_verify_finds_learning_tables_that_disagree_with_the_log(hive, repo, learning):
    record(learning, "file", ["kind:bugfix"], True)
    hive.index.catch_up()
    db = sqlite3.connect(repo / ".fleet" / ".cache" / "index.sqlite")
    db.execute("UPDATE outcome_days SET successes = successes + 5")
    db.commit()
    db.close()
    problems = [p for p in verify(hive).problems if p.kind == "projection_mismatch"]
    assert problems and "learning" in problems[0].message
    verify(hive, repair=True)
    assert not [p for p in verify(hive).problems if p.kind == "projection_mismatch"]
    (p,) = learning.patterns(feature="kind:bugfix")
    assert p.successes == 1.0


def test_bad_input_is_refused_and_records_nothing(hive, learning):
    from fleet_hive.kernel.errors import InvalidInputError, NotFoundError

    with pytest.raises(InvalidInputError):
        learning.record_outcome(mission_id="m-abcd1234", success=True, strategy="magic")
    with pytest.raises(InvalidInputError):
        learning.record_outcome(mission_id="m-abcd1234", success=True, tries=0)
    with pytest.raises(NotFoundError):
        learning.amend("s-nothing0000", verified=True)
    record(learning, "file", [], True)
    (o,) = learning.outcomes()
    with pytest.raises(InvalidInputError):
        learning.amend(o.subject_id)  # nothing to amend
    assert len(learning.outcomes()) == 1
    assert hive.events.query(type="outcome_amended") == []
