"""The planner contract: whatever a planner is, given a request it returns a plan that
fits the decomposition schema, whose dependencies point at sorties of the plan and form no
cycle; and the same request gives the same plan.

Each planner's test case subclasses :class:`PlannerContract` and provides
:meth:`make_planner` (a planner answering for the repository ``repo``, with a small real
project committed in it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleet_hive.kernel.resources import read_text
from fleet_hive.planning.model import Advice
from fleet_hive.planning.planners import PlanRequest
from fleet_hive.planning.repository import Repository
from fleet_hive.planning.validate import validate_plan
from tests.support.planning import python_project

TASK = "Add token refresh to auth and invoice export to billing"


class PlannerContract:
    def make_planner(self, repo: Path, tmp_path: Path) -> Any:
        raise AssertionError("each planner's test case builds its planner")

    @pytest.fixture
    def project(self, repo: Path) -> Path:
        python_project(repo)
        return repo

    def request(self, repo: Path, strategy: str = "feature") -> PlanRequest:
        r = Repository(repo)
        return PlanRequest(TASK, strategy, ["asked"], r.files, r, Advice(), ["feature"])

    def test_the_plan_fits_the_model_and_its_graph_is_valid(self, project: Path,
                                                             tmp_path: Path):
        from fleet_hive.planning.plan import parse

        planner = self.make_planner(project, tmp_path)
        result = planner.plan(self.request(project))
        plan = result.plan
        again, problems = parse(json.loads(json.dumps(plan)))
        assert problems == [] and again == plan
        assert plan["strategy"] in ("file", "feature", "risk", "hybrid")
        assert plan["sorties"], "at least one sortie"
        check = validate_plan(plan)
        assert check["ok"], check["errors"]
        assert result.attempts >= 1
        assert isinstance(planner.name, str) and planner.name

    def test_the_same_request_gives_the_same_plan(self, project: Path, tmp_path: Path):
        planner = self.make_planner(project, tmp_path)
        first = planner.plan(self.request(project)).plan
        second = planner.plan(self.request(project)).plan
        assert first == second

    def test_the_schema_file_describes_the_model(self):
        schema = json.loads(read_text("schemas", "decomposition.schema.json"))
        assert set(schema["required"]) == {"title", "strategy", "sorties"}
        item = schema["$defs"]["PlannedSortie"]
        assert {"title", "files", "depends_on", "specialist", "priority"} <= \
            set(item["properties"])
