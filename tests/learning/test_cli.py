"""``learn stats|patterns|advise`` as real processes: JSON shapes, tables, exit codes."""

from __future__ import annotations

import json

from fleet_hive.kernel.ids import new_short_id
from tests.support import run_cli


def _cli(repo, *args):
    result = run_cli("-C", str(repo), *args)
    return result.returncode, result


def _record(hive, strategy, features, success, n=1):
    for _ in range(n):
        hive.learning.record_outcome(mission_id=new_short_id("m-"),
                                     sortie_id=new_short_id("s-"), strategy=strategy,
                                     features=features, success=success,
                                     errors=[] if success else ["lint failed"])


def test_empty_learning(repo, hive):
    code, r = _cli(repo, "learn", "stats", "--json")
    stats = json.loads(r.stdout)
    assert code == 0 and stats["outcomes"] == 0 and stats["half_life_days"] == 90
    code, r = _cli(repo, "--json", "learn", "patterns")
    assert code == 0 and json.loads(r.stdout) == []
    code, r = _cli(repo, "learn", "patterns")
    assert code == 0 and "no patterns learned yet" in r.stdout


def test_stats_patterns_and_advice(repo, hive):
    _record(hive, "file", ["kind:bugfix"], False, 3)
    _record(hive, "feature", ["kind:bugfix"], True, 4)
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    hive.sorties.complete(s.id)
    hive.close()

    code, r = _cli(repo, "learn", "stats", "--json")
    stats = json.loads(r.stdout)
    assert code == 0
    assert (stats["outcomes"], stats["sorties"], stats["succeeded"]) == (8, 8, 5)
    assert stats["anti_patterns"] == 2  # file on kind:bugfix and file overall
    rows = {(x["subject"], x["strategy"]): x for x in stats["by_subject"]}
    assert rows[("sortie", "file")]["succeeded"] == 0
    assert rows[("sortie", "unplanned")]["outcomes"] == 1
    code, r = _cli(repo, "learn", "stats")
    assert code == 0 and "8 outcome(s)" in r.stdout and "STRATEGY" in r.stdout

    code, r = _cli(repo, "learn", "patterns", "--anti", "--json")
    anti = json.loads(r.stdout)
    assert code == 0 and {(p["strategy"], p["feature"]) for p in anti} == {
        ("file", "*"), ("file", "kind:bugfix")}
    assert all(p["anti_pattern"] and p["errors"] == ["lint failed"] for p in anti)
    assert {"strategy", "feature", "weight", "score", "maturity", "sentence"} <= set(anti[0])
    code, r = _cli(repo, "learn", "patterns", "--strategy", "feature", "--json")
    assert {p["strategy"] for p in json.loads(r.stdout)} == {"feature"}
    code, r = _cli(repo, "learn", "patterns")
    header = r.stdout.splitlines()[0]
    assert code == 0 and header.split()[:3] == ["STRATEGY", "FEATURE", "MATURITY"]
    assert "(anti)" in r.stdout

    code, r = _cli(repo, "learn", "advise", "Fix the crash in the parser", "--json")
    advice = json.loads(r.stdout)
    assert code == 0 and "kind:bugfix" in advice["features"]
    assert advice["ranking"][0] == "feature" and advice["ranking"][-1] == "file"
    assert advice["anti_patterns"] and advice["patterns"]
    code, r = _cli(repo, "learn", "advise", "--feature", "kind:bugfix")
    assert code == 0 and r.stdout.startswith("features: kind:bugfix")
    assert "- avoid the file strategy" in r.stdout


def test_usage_errors(repo, hive):
    code, r = _cli(repo, "learn", "patterns", "--strategy", "magic")
    assert code == 2 and "magic" in r.stderr
    code, r = _cli(repo, "learn", "advise")
    assert code == 2 and "TASK" in r.stderr
    code, r = _cli(repo, "learn", "--help")
    assert code == 0 and "stats" in r.stdout and "patterns" in r.stdout


def test_not_initialized_is_an_error_object(tmp_path):
    code, r = _cli(tmp_path, "--json", "learn", "stats")
    assert code == 1 and "error" in json.loads(r.stdout)
