"""Validation of plans: conflicts between sorties that could run together (the
reservations' two-way glob matcher), cycles, dangling dependencies, empty sorties,
waves, the critical path, the estimate; and the dependency order plans are created in."""

from __future__ import annotations

from fleet_hive.planning.validate import (
    BASE_MINUTES,
    FILE_MINUTES,
    GLOB_MINUTES,
    topological,
    validate_plan,
)
from tests.support.planning import plan, sortie


def test_overlapping_globs_conflict_in_both_directions():
    found = validate_plan(plan(sortie("a", ["src/*.py"]), sortie("b", ["src/**/test_*.py"]),
                               sortie("c", ["docs/**"])))
    assert found["ok"] and [c["sorties"] for c in found["conflicts"]] == [[0, 1]]
    assert found["conflicts"][0]["files"] == [["src/*.py", "src/**/test_*.py"]]
    flipped = validate_plan(plan(sortie("b", ["src/**/test_*.py"]), sortie("a", ["src/*.py"])))
    assert [c["sorties"] for c in flipped["conflicts"]] == [[0, 1]]


def test_globs_that_only_look_alike_do_not_conflict():
    found = validate_plan(plan(sortie("a", ["src/a/*.py"]), sortie("b", ["src/b/*.py"]),
                               sortie("c", ["src/*.md"]), sortie("d", ["**/*.txt"])))
    assert found["conflicts"] == []


def test_a_dependency_path_orders_sorties_so_they_do_not_conflict():
    found = validate_plan(plan(sortie("a", ["src/**"]), sortie("b", ["docs/**"], [0]),
                               sortie("c", ["src/x.py"], [1])))
    assert found["conflicts"] == [], "c runs after a, through b"
    parallel = validate_plan(plan(sortie("a", ["src/**"]), sortie("b", ["docs/**"]),
                                  sortie("c", ["src/x.py"], [1])))
    (conflict,) = parallel["conflicts"]
    assert conflict["sorties"] == [0, 2]
    assert conflict["fix"]["serialize"] == {"sortie": 2, "add_depends_on": 0}
    assert "merge the two sorties" in conflict["hint"]


def test_cycles_dangling_and_empty_sorties_are_errors():
    found = validate_plan(plan(sortie("a", ["x"], [2]), sortie("b", ["y"], [0]),
                               sortie("c", ["z"], [1]), sortie("d", ["w"], [7]),
                               {"title": " ", "description": "", "files": ["v"],
                                "depends_on": []}))
    assert not found["ok"]
    codes = [e["code"] for e in found["errors"]]
    assert codes.count("dependency_cycle") == 1
    assert "dangling_dependency" in codes and "empty_sortie" in codes
    (cycle,) = [e for e in found["errors"] if e["code"] == "dependency_cycle"]
    assert sorted(cycle["sorties"]) == [0, 1, 2]
    self_loop = validate_plan(plan(sortie("a", ["x"], [0])))
    assert [e["code"] for e in self_loop["errors"]] == ["dependency_cycle"]
    assert validate_plan(plan())["errors"][0]["code"] == "no_sorties"


def test_waves_critical_path_and_estimate():
    found = validate_plan(plan(sortie("a", ["src/**"]), sortie("b", ["docs/a.md"]),
                               sortie("c", ["tests/**", "tests/x.py"], [0]),
                               sortie("d", ["README"], [1, 2])))
    assert found["waves"] == [[0, 1], [2], [3]]
    a, b = BASE_MINUTES + GLOB_MINUTES, BASE_MINUTES + FILE_MINUTES
    c, d = BASE_MINUTES + GLOB_MINUTES + FILE_MINUTES, BASE_MINUTES + FILE_MINUTES
    assert found["critical_path"] == [0, 2, 3]
    assert found["estimate"] == {"sorties": 4, "waves": 3, "total_minutes": a + b + c + d,
                                 "critical_path_minutes": a + c + d,
                                 "parallelism": round((a + b + c + d) / (a + c + d), 2)}


def test_a_sortie_without_files_is_a_warning():
    found = validate_plan(plan(sortie("a")))
    assert found["ok"] and found["warnings"][0]["code"] == "no_files"


def test_topological_order_points_every_dependency_backwards():
    p = plan(sortie("last", ["c"], [1, 2]), sortie("first", ["a"]), sortie("mid", ["b"], [1]))
    ordered = topological(p)
    assert [s["title"] for s in ordered["sorties"]] == ["first", "mid", "last"]
    assert [s["depends_on"] for s in ordered["sorties"]] == [[], [0], [0, 1]]
    assert topological(ordered) == ordered
    cyclic = plan(sortie("a", [], [1]), sortie("b", [], [0]))
    assert topological(cyclic) is cyclic


def test_the_pruned_conflict_search_finds_what_every_pair_would():
    """Candidate pairs come from literal prefixes: compare with testing every pair."""
    import random

    from fleet_hive.kernel.globs import overlaps

    rng = random.Random(13)
    parts = ["src", "docs", "a", "b", "*", "**", "x.py", "*.py", "[ab]", "te?t"]
    for _ in range(60):
        sorties = []
        for i in range(rng.randint(2, 14)):
            files = []
            for _ in range(rng.randint(0, 3)):
                segs = [rng.choice(parts) for _ in range(rng.randint(1, 4))]
                pattern = "/".join(segs)
                if "**" in pattern.split("/")[-1:] and len(segs) == 1:
                    pattern = "**"
                files.append(pattern)
            deps = [j for j in range(i) if rng.random() < 0.2]
            sorties.append(sortie(f"s{i}", files, deps))
        p = plan(*sorties)
        found = {tuple(c["sorties"]) for c in validate_plan(p)["conflicts"]}
        ancestors: list[set[int]] = []
        for s in p["sorties"]:
            mine: set[int] = set()
            for d in s["depends_on"]:
                mine |= ancestors[d] | {d}
            ancestors.append(mine)
        expected = {(i, j) for i in range(len(sorties)) for j in range(i + 1, len(sorties))
                    if i not in ancestors[j]
                    and any(overlaps(a, b) for a in sorties[i]["files"]
                            for b in sorties[j]["files"])}
        assert found == expected, p
