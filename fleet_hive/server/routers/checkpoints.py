"""Checkpoints: ``checkpoint create|list|show|resume|delete|prune``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import Body, errors

router = APIRouter(tags=["checkpoints"])


class NewCheckpoint(Body):
    note: str | None = Field(default=None, description="Why this checkpoint.")


class Prune(Body):
    keep: int | None = Field(default=None, ge=0, le=1_000_000,
                             description="Per mission, keep the newest N.")
    older_than: str | None = Field(default=None, description="A duration: 30d, 12h.")
    mission_id: str | None = None


@router.get("/missions/{mission_id}/checkpoints", response_class=FleetJSON,
            responses=errors(400, 404), summary="A mission's checkpoints, newest first")
async def list_checkpoints(mission_id: str, call: Call = Depends(authorized)) -> Any:
    found = await call(lambda h: h.checkpoints.list(mission_id))
    return FleetJSON([c.to_json() for c in found])


@router.post("/missions/{mission_id}/checkpoints", response_class=FleetJSON, status_code=201,
             responses=errors(400, 404), summary="Take a manual checkpoint now")
async def create_checkpoint(mission_id: str, body: NewCheckpoint | None = None,
                            call: Call = Depends(authorized)) -> Any:
    note = body.note if body else None
    c = await call(lambda h: h.checkpoints.create(mission_id, note=note))
    return FleetJSON(c.to_json(), status_code=201)


@router.post("/checkpoints/prune", response_class=FleetJSON, responses=errors(400, 404),
             summary="Delete old checkpoints by the retention rules")
async def prune(body: Prune | None = None, call: Call = Depends(authorized)) -> Any:
    body = body or Prune()
    pruned = await call(lambda h: h.checkpoints.prune(keep=body.keep, older_than=body.older_than,
                                                      mission=body.mission_id))
    return FleetJSON([{**c.to_json(), "deleted": True} for c in pruned])


@router.get("/checkpoints/{checkpoint_id}", response_class=FleetJSON,
            responses=errors(400, 404), summary="A checkpoint with its body")
async def show_checkpoint(checkpoint_id: str, call: Call = Depends(authorized)) -> Any:
    info, body = await call(lambda h: h.checkpoints.show(checkpoint_id))
    return FleetJSON({**info.to_json(), "body": body})


@router.post("/checkpoints/{checkpoint_id}/resume", response_class=FleetJSON,
             responses=errors(400, 404, 409), summary="Restore sortie states and reservations")
async def resume(checkpoint_id: str, call: Call = Depends(authorized)) -> Any:
    def run(h: Any) -> dict[str, Any]:
        report = h.checkpoints.resume(checkpoint_id)
        return {**report.to_json(), "context": h.checkpoints.recovery_context(report)}

    return FleetJSON(await call(run))


@router.delete("/checkpoints/{checkpoint_id}", response_class=FleetJSON,
               responses=errors(400, 404), summary="Delete a checkpoint (recorded)")
async def delete_checkpoint(checkpoint_id: str, call: Call = Depends(authorized)) -> Any:
    c = await call(lambda h: h.checkpoints.delete(checkpoint_id))
    return FleetJSON({**c.to_json(), "deleted": True})
