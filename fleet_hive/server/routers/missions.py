"""Missions: ``mission create|list|show|update|start|complete|cancel|reopen|resolve|delete``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import PRIORITY, REASON, Body, errors, limit_query, offset_query

router = APIRouter(tags=["missions"])

MissionStatus = Literal["pending", "in_progress", "completed", "cancelled"]
MissionAction = Literal["start", "complete", "cancel", "reopen", "resolve"]


class NewMission(Body):
    title: str = Field(min_length=1)
    description: str = ""
    priority: int = Field(default=2, ge=0, le=4, description=PRIORITY)
    labels: list[str] = []


class MissionChange(Body):
    title: str | None = None
    description: str | None = None
    priority: int | None = Field(default=None, ge=0, le=4, description=PRIORITY)
    labels: list[str] | None = Field(default=None, description="Replace the labels.")


class Transition(Body):
    reason: str = Field(default="", description=REASON)
    force: bool = Field(default=False, description="complete: even with open sorties.")


@router.get("/missions", response_class=FleetJSON, responses=errors(400),
            summary="List missions, most urgent first")
async def list_missions(status: list[MissionStatus] | None = Query(default=None),
                        label: list[str] | None = Query(default=None),
                        limit: int | None = limit_query(), offset: int = offset_query(),
                        call: Call = Depends(authorized)) -> Any:
    missions = await call(lambda h: h.missions.list(status=status or None, label=label or None,
                                                    limit=limit, offset=offset))
    return FleetJSON([m.to_json() for m in missions])


@router.post("/missions", response_class=FleetJSON, status_code=201, responses=errors(400),
             summary="Create a mission (pending)")
async def create_mission(body: NewMission, call: Call = Depends(authorized)) -> Any:
    m = await call(lambda h: h.missions.create(body.title, description=body.description,
                                               priority=body.priority, labels=body.labels))
    return FleetJSON(m.to_json(), status_code=201)


@router.get("/missions/{mission_id}", response_class=FleetJSON, responses=errors(400, 404),
            summary="A mission with its progress and sorties (ID: any unique prefix)")
async def show_mission(mission_id: str, call: Call = Depends(authorized)) -> Any:
    return FleetJSON((await call(lambda h: h.missions.get(mission_id))).to_json())


@router.patch("/missions/{mission_id}", response_class=FleetJSON,
              responses=errors(400, 404, 409), summary="Change title, description, "
              "priority or labels")
async def update_mission(mission_id: str, body: MissionChange,
                         call: Call = Depends(authorized)) -> Any:
    m = await call(lambda h: h.missions.update(
        mission_id, title=body.title, description=body.description, priority=body.priority,
        labels=body.labels))
    return FleetJSON(m.to_json())


@router.post("/missions/{mission_id}/{action}", response_class=FleetJSON,
             responses=errors(400, 404, 409), summary="A transition: start, complete, "
             "cancel, reopen, resolve")
async def transition_mission(mission_id: str, action: MissionAction,
                             body: Transition | None = None,
                             call: Call = Depends(authorized)) -> Any:
    body = body or Transition()

    def run(h: Any) -> Any:
        if action == "complete":
            return h.missions.complete(mission_id, reason=body.reason, force=body.force)
        return getattr(h.missions, action)(mission_id, reason=body.reason)

    return FleetJSON((await call(run)).to_json())


@router.delete("/missions/{mission_id}", response_class=FleetJSON,
               responses=errors(400, 404, 409), summary="Delete (a tombstone)")
async def delete_mission(mission_id: str, reason: str = Query(default="", description=REASON),
                         call: Call = Depends(authorized)) -> Any:
    return FleetJSON((await call(lambda h: h.missions.delete(mission_id,
                                                             reason=reason))).to_json())
