"""Each strategy on a small real repository (with git history for risk-based), and
``auto``'s choice from the task and from learned scores."""

from __future__ import annotations

from pathlib import Path

from fleet_hive.kernel.globs import matches
from fleet_hive.planning.model import Advice, default_features
from fleet_hive.planning.repository import Repository
from fleet_hive.planning.strategies import (
    feature_based,
    features_of,
    file_based,
    hybrid,
    named_paths,
    risk_based,
    risk_scores,
    select,
    title_of,
)
from fleet_hive.planning.validate import validate_plan
from tests.support.planning import PROJECT_FILES, python_project


def _covered(plan: dict, path: str) -> list[int]:
    return [i for i, s in enumerate(plan["sorties"]) if any(matches(g, path) for g in s["files"])]


def _valid(plan: dict) -> dict:
    check = validate_plan(plan)
    assert check["ok"], check["errors"]
    assert check["conflicts"] == [], check["conflicts"]
    return check


def test_repository_reads_tracked_files_and_python_imports(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    assert set(PROJECT_FILES) <= set(r.files) and "README" in r.files
    imports = r.imports(["src/app/api/routes.py", "src/app/auth/sessions.py",
                         "tests/test_auth.py"])
    assert imports["src/app/api/routes.py"] == {"src/app/auth/tokens.py",
                                                "src/app/billing/invoices.py"}
    assert imports["src/app/auth/sessions.py"] == {"src/app/auth/tokens.py"}  # relative
    assert imports["tests/test_auth.py"] == {"src/app/auth/tokens.py"}
    fan_in = r.fan_in([f for f in r.files if f.endswith(".py")])
    # sessions (relative), routes, invoices and the auth test import tokens
    assert fan_in["src/app/auth/tokens.py"] == 4


def test_file_based_groups_by_directory_and_orders_by_imports(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    draft = file_based("Reorganize the code", r, [f for f in r.files if f != "README"])
    plan = draft.plan
    _valid(plan)
    assert plan["strategy"] == "file"
    labels = [s["title"].split(":")[0] for s in plan["sorties"]]
    assert labels == ["docs", "src", "tests"]
    by = dict(zip(labels, range(3), strict=True))
    # tests import src: they wait for it; docs import nothing
    assert plan["sorties"][by["tests"]]["depends_on"] == [by["src"]]
    assert plan["sorties"][by["docs"]]["depends_on"] == []
    assert plan["sorties"][by["src"]]["specialist"] == "python"
    assert plan["sorties"][by["tests"]]["specialist"] == "tests"
    for path in PROJECT_FILES:
        assert len(_covered(plan, path)) == 1, path
    assert any("Python imports" in r for r in draft.reasons)


def test_file_based_goes_deeper_when_one_directory_holds_everything(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    scope = [f for f in r.files if f.startswith("src/app/") and f.count("/") == 3]
    plan = file_based("Reorganize the app", r, scope).plan
    _valid(plan)
    assert [s["title"].split(":")[0] for s in plan["sorties"]] == [
        "src/app/api", "src/app/auth", "src/app/billing"]
    api = plan["sorties"][0]
    assert api["depends_on"] == [1, 2]  # routes imports auth and billing
    assert plan["sorties"][2]["depends_on"] == [1]  # invoices imports tokens


def test_feature_based_gives_each_named_feature_its_files(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    task = "Add token refresh to auth, invoice export to billing"
    assert features_of(task) == ["Add token refresh to auth", "Add invoice export to billing"]
    draft = feature_based(task, r, r.files)
    plan = draft.plan
    _valid(plan)
    titles = [s["title"] for s in plan["sorties"]]
    assert titles[:2] == ["Add token refresh to auth", "Add invoice export to billing"]
    assert titles[2].startswith("Integrate and test")
    assert plan["sorties"][2]["depends_on"] == [0, 1]
    auth, billing = plan["sorties"][0], plan["sorties"][1]
    assert all(matches_any(auth["files"], p) for p in
               ("src/app/auth/tokens.py", "docs/auth.md", "tests/test_auth.py"))
    assert not matches_any(auth["files"], "src/app/billing/invoices.py")
    assert matches_any(billing["files"], "src/app/billing/invoices.py")


def test_feature_based_puts_shared_files_in_groundwork_first(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    plan = feature_based("- auth tokens for the api\n- billing for the api", r, r.files).plan
    _valid(plan)
    ground = plan["sorties"][0]
    assert ground["title"].startswith("Groundwork shared by 2 features")
    assert matches_any(ground["files"], "src/app/api/routes.py")
    assert plan["sorties"][1]["depends_on"] == [0] and plan["sorties"][2]["depends_on"] == [0]


def test_a_feature_that_names_its_files_owns_them(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    task = ("- auth tokens in src/app/auth/tokens.py and docs/auth.md\n"
            "- billing for the api in src/app/billing/new_rates.py\n- billing for the api")
    plan = feature_based(task, r, r.files).plan
    _valid(plan)
    auth, rates, billing = plan["sorties"][:3]
    assert auth["files"] == ["docs/auth.md", "src/app/auth/tokens.py"]
    assert rates["files"] == ["src/app/billing/new_rates.py"]  # new: named, not yet there
    assert not any(g.startswith("src/app/auth") for g in billing["files"])
    assert matches_any(billing["files"], "src/app/billing/invoices.py")
    assert named_paths("see e.g. CHANGELOG.md, ./a/b.txt and v1.2 or x.py.") == [
        "CHANGELOG.md", "a/b.txt", "x.py"]


def test_a_task_with_a_list_is_titled_by_its_first_line():
    assert title_of("Add discounts:\n- rules\n- docs") == "Add discounts"
    assert title_of("fix the\nflaky test") == "fix the flaky test"


def test_feature_list_items_are_features():
    assert features_of("Do these:\n- login page\n- logout button\n* password reset") == [
        "login page", "logout button", "password reset"]
    assert features_of("fix the flaky test") == ["fix the flaky test"]


def test_risk_based_isolates_the_churned_large_imported_file_first(repo: Path):
    python_project(repo, history=True)
    r = Repository(repo)
    scores = risk_scores(r, r.files)
    tokens = scores["src/app/auth/tokens.py"]
    assert tokens["churn"] == 9 and tokens["fan_in"] == 4
    assert tokens["risk"] == max(s["risk"] for s in scores.values())
    draft = risk_based("Refactor the auth tokens", r, [f for f in r.files if f != "README"])
    plan = draft.plan
    _valid(plan)
    first = plan["sorties"][0]
    assert first["title"] == "High-risk: src/app/auth/tokens.py"
    assert first["files"] == ["src/app/auth/tokens.py"] and first["priority"] == 0
    assert first["depends_on"] == []
    # every group that imports tokens.py waits for it; the risky work is alone
    for i, s in enumerate(plan["sorties"][1:], start=1):
        if any(matches(g, "tests/test_auth.py") or matches(g, "src/app/api/routes.py")
               for g in s["files"]):
            assert 0 in s["depends_on"], s
        assert not matches_any(s["files"], "src/app/auth/tokens.py"), i
    assert "riskiest first and isolated" in draft.reasons[0]


def test_risk_based_without_history_still_plans(repo: Path):
    python_project(repo, history=False)
    r = Repository(repo)
    r.churn.clear()  # as if git had no history to offer
    draft = risk_based("Refactor", r, r.files)
    _valid(draft.plan)
    assert any("no git history" in reason for reason in draft.reasons)


def test_hybrid_isolates_risk_then_splits_by_feature(repo: Path):
    python_project(repo, history=True)
    r = Repository(repo)
    task = "Refactor auth tokens, then add invoice export to billing"
    plan = hybrid(task, r, [f for f in r.files if f != "README"]).plan
    _valid(plan)
    assert plan["strategy"] == "hybrid"
    assert plan["sorties"][0]["title"] == "High-risk: src/app/auth/tokens.py"
    titles = [s["title"] for s in plan["sorties"]]
    assert "add invoice export to billing" in titles
    billing = plan["sorties"][titles.index("add invoice export to billing")]
    assert 0 in billing["depends_on"]  # invoices.py imports tokens.py


def matches_any(globs: list[str], path: str) -> bool:
    return any(matches(g, path) for g in globs)


def test_auto_reads_the_task():
    scope = list(PROJECT_FILES)
    pick = lambda task: select(task, default_features(task), Advice(), scope)[0]  # noqa: E731
    assert pick("Add login and add logout") == "feature"
    assert pick("Refactor the session handling") == "risk"
    assert pick("Refactor sessions and add token refresh") == "hybrid"
    assert pick("Update the docs and the README") == "file"


def test_auto_follows_learned_scores_and_says_why():
    task = "Add token refresh"
    features = default_features(task)
    chosen, _reasons, scores = select(task, features, Advice(), list(PROJECT_FILES))
    assert chosen == "feature" and scores["feature"] > scores["file"]
    learned = Advice({"feature": -1.0, "file": 0.5})
    chosen, reasons, scores = select(task, features, learned, list(PROJECT_FILES))
    assert chosen == "file" and scores["file"] > scores["feature"]
    assert reasons[0].startswith("chose file")
    assert any(r.startswith("feature -0.60: learned from past outcomes") for r in reasons)
