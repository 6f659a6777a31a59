"""Sorties and ``ready``: ``sortie add|list|show|update|claim|claim --next|start|...``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import PRIORITY, REASON, Body, errors, limit_query, offset_query

router = APIRouter(tags=["sorties"])

SortieStatus = Literal["pending", "assigned", "in_progress", "blocked", "completed", "failed",
                       "cancelled"]
SortieAction = Literal["start", "complete", "fail", "block", "unblock", "cancel", "retry",
                       "resolve"]
#: Transitions only the claimant may make (or anyone with ``force``).
OWNED = {"start", "complete", "fail", "block", "unblock"}


class NewSortie(Body):
    mission_id: str = Field(min_length=1, description="The mission (any unique prefix).")
    title: str = Field(min_length=1)
    description: str = ""
    files: list[str] = Field(default=[], description="Paths or globs it touches.")
    after: list[str] = Field(default=[], description="Sorties of the mission it waits for.")
    specialist: str | None = Field(default=None, description="The kind of specialist needed.")
    priority: int = Field(default=2, ge=0, le=4, description=PRIORITY)


class SortieChange(Body):
    title: str | None = None
    description: str | None = None
    files: list[str] | None = Field(default=None, description="Replace the files.")
    after: list[str] | None = Field(default=None, description="Replace the dependencies.")
    priority: int | None = Field(default=None, ge=0, le=4, description=PRIORITY)
    specialist: str | None = None


class Claim(Body):
    specialist: str | None = Field(default=None, description="Who claims (default: the actor).")


class ClaimNext(Claim):
    mission_id: str | None = Field(default=None, description="Only this mission's sorties.")


class Transition(Body):
    reason: str = Field(default="", description=REASON)
    force: bool = Field(default=False, description="Act on a sortie someone else claimed.")


class Progress(Body):
    percent: int = Field(ge=0, le=100)
    note: str = ""
    force: bool = False


def _sorties(items: list[Any]) -> FleetJSON:
    return FleetJSON([s.to_json() for s in items])


@router.get("/sorties", response_class=FleetJSON, responses=errors(400, 404),
            summary="List sorties, most urgent first")
async def list_sorties(mission: str | None = Query(default=None),
                       status: list[SortieStatus] | None = Query(default=None),
                       ready: bool = False, limit: int | None = limit_query(),
                       offset: int = offset_query(), call: Call = Depends(authorized)) -> Any:
    return _sorties(await call(lambda h: h.sorties.list(
        mission=mission, status=status or None, ready=ready, limit=limit, offset=offset)))


@router.get("/ready", response_class=FleetJSON, responses=errors(400, 404),
            summary="Sorties that can start now: pending, unclaimed, dependencies completed")
async def ready(mission: str | None = Query(default=None), limit: int | None = limit_query(),
                call: Call = Depends(authorized)) -> Any:
    return _sorties(await call(lambda h: h.sorties.ready(mission=mission, limit=limit)))


@router.post("/sorties", response_class=FleetJSON, status_code=201,
             responses=errors(400, 404, 409), summary="Add a sortie to a mission")
async def add_sortie(body: NewSortie, call: Call = Depends(authorized)) -> Any:
    s = await call(lambda h: h.sorties.add(
        body.mission_id, body.title, description=body.description, files=body.files,
        after=body.after, specialist=body.specialist, priority=body.priority))
    return FleetJSON(s.to_json(), status_code=201)


@router.post("/sorties/claim-next", response_class=FleetJSON, responses=errors(400, 404, 409),
             summary="Claim the most urgent ready sortie (409 if none is)")
async def claim_next(body: ClaimNext | None = None, call: Call = Depends(authorized)) -> Any:
    body = body or ClaimNext()
    s = await call(lambda h: h.sorties.claim_next(mission=body.mission_id,
                                                  specialist=body.specialist))
    return FleetJSON(s.to_json())


@router.get("/sorties/{sortie_id}", response_class=FleetJSON, responses=errors(400, 404),
            summary="A sortie (ID: any unique prefix)")
async def show_sortie(sortie_id: str, call: Call = Depends(authorized)) -> Any:
    return FleetJSON((await call(lambda h: h.sorties.get(sortie_id))).to_json())


@router.patch("/sorties/{sortie_id}", response_class=FleetJSON,
              responses=errors(400, 404, 409), summary="Change a sortie's fields")
async def update_sortie(sortie_id: str, body: SortieChange,
                        call: Call = Depends(authorized)) -> Any:
    s = await call(lambda h: h.sorties.update(
        sortie_id, title=body.title, description=body.description, files=body.files,
        after=body.after, priority=body.priority, specialist=body.specialist))
    return FleetJSON(s.to_json())


@router.post("/sorties/{sortie_id}/claim", response_class=FleetJSON,
             responses=errors(400, 404, 409), summary="Claim a sortie and reserve its files "
             "(409 if claimed or reserved by someone else)")
async def claim(sortie_id: str, body: Claim | None = None,
                call: Call = Depends(authorized)) -> Any:
    body = body or Claim()
    s = await call(lambda h: h.sorties.claim(sortie_id, specialist=body.specialist))
    return FleetJSON(s.to_json())


@router.post("/sorties/{sortie_id}/progress", response_class=FleetJSON,
             responses=errors(400, 404, 409), summary="Report progress (the claimant)")
async def progress(sortie_id: str, body: Progress, call: Call = Depends(authorized)) -> Any:
    s = await call(lambda h: h.sorties.progress(sortie_id, body.percent, note=body.note,
                                                force=body.force))
    return FleetJSON(s.to_json())


@router.post("/sorties/{sortie_id}/{action}", response_class=FleetJSON,
             responses=errors(400, 404, 409), summary="A transition: start, complete, fail, "
             "block, unblock, cancel, retry, resolve")
async def transition(sortie_id: str, action: SortieAction, body: Transition | None = None,
                     call: Call = Depends(authorized)) -> Any:
    body = body or Transition()

    def run(h: Any) -> Any:
        method = getattr(h.sorties, action)
        if action in OWNED:
            return method(sortie_id, reason=body.reason, force=body.force)
        return method(sortie_id, reason=body.reason)

    return FleetJSON((await call(run)).to_json())


@router.delete("/sorties/{sortie_id}", response_class=FleetJSON,
               responses=errors(400, 404, 409), summary="Delete (a tombstone)")
async def delete_sortie(sortie_id: str, reason: str = Query(default="", description=REASON),
                        call: Call = Depends(authorized)) -> Any:
    return FleetJSON((await call(lambda h: h.sorties.delete(sortie_id,
                                                            reason=reason))).to_json())
