"""Planning: ``decompose``, ``plan validate`` and ``plan apply``.

Only the built-in ``heuristic`` planner is offered over HTTP: a ``cmd:`` planner runs a
shell command, and the API does not run commands for whoever holds the token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import Body, errors

router = APIRouter(tags=["planning"])


class Decompose(Body):
    task: str = Field(min_length=1, description="What to do, in words.")
    strategy: Literal["auto", "file", "feature", "risk", "hybrid"] = "auto"
    planner: Literal["heuristic"] = Field(
        default="heuristic", description="Only the built-in planner: the API runs no commands.")
    files: list[str] = Field(default=[], description="Globs the task is about.")
    create: bool = Field(default=False, description="Create the mission and its sorties.")


class ApplyPlan(Body):
    plan: dict[str, Any] = Field(description="A plan as `decompose` returns it "
                                 "(schemas/decomposition.schema.json).")


@router.post("/plans/decompose", response_class=FleetJSON, responses=errors(400),
             summary="Decompose a task into sorties, validated; create them with create=true")
async def decompose(body: Decompose, call: Call = Depends(authorized)) -> Any:
    result = await call(lambda h: h.planning.decompose(
        body.task, strategy=body.strategy, planner=body.planner, files=body.files,
        create=body.create))
    return FleetJSON(result, status_code=201 if body.create else 200)


@router.post("/plans", response_class=FleetJSON, status_code=201, responses=errors(400),
             summary="Create a mission from a plan (validated first; nothing on refusal)")
async def apply_plan(body: ApplyPlan, call: Call = Depends(authorized)) -> Any:
    import json

    def run(h: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="fleet-hive-plan-") as tmp:
            path = Path(tmp) / "api-plan.json"
            path.write_text(json.dumps(body.plan), encoding="utf-8")
            return h.planning.apply(path)

    return FleetJSON(await call(run), status_code=201)


@router.get("/missions/{mission_id}/plan", response_class=FleetJSON,
            responses=errors(400, 404), summary="Validate a mission's sorties: conflicts, "
            "cycles, waves, critical path (ok=false says what is wrong)")
async def validate(mission_id: str, call: Call = Depends(authorized)) -> Any:
    return FleetJSON(await call(lambda h: h.planning.validate_mission(mission_id)))
