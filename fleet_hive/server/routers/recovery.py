"""Stale work and the context brief: ``recover [--apply]`` and ``context``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import Body, errors

router = APIRouter(tags=["recovery"])


class Recover(Body):
    stale_after: str | None = Field(default=None, description="A duration: 90s, 30m, 2h.")
    mission_id: str | None = None


@router.get("/recovery", response_class=FleetJSON, responses=errors(400, 404),
            summary="Stale sorties with a proposed action each")
async def recovery(stale_after: str | None = Query(default=None),
                   mission: str | None = Query(default=None),
                   call: Call = Depends(authorized)) -> Any:
    report = await call(lambda h: h.recovery.recover(stale_after, mission=mission, apply=False))
    return FleetJSON(report.to_json())


@router.post("/recovery/apply", response_class=FleetJSON, responses=errors(400, 404),
             summary="Perform the proposed recovery actions")
async def recover_apply(body: Recover | None = None, call: Call = Depends(authorized)) -> Any:
    body = body or Recover()
    report = await call(lambda h: h.recovery.recover(body.stale_after, mission=body.mission_id,
                                                     apply=True))
    return FleetJSON(report.to_json())


@router.get("/missions/{mission_id}/context", response_class=PlainTextResponse,
            responses={**errors(400, 404), 200: {"content": {
                "text/markdown": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}}}}},
            response_description="The brief: Markdown (format=md) or a JSON document",
            summary="An LLM-ready brief of a mission, at most max_bytes bytes")
async def context(mission_id: str, specialist: str | None = Query(default=None),
                  max_bytes: int = Query(default=8192, ge=0, le=1 << 30),
                  format: Literal["md", "json"] = Query(default="json"),
                  call: Call = Depends(authorized)) -> Any:
    from ...checkpoints.brief import check_max_bytes, render_brief

    check_max_bytes(max_bytes)
    text = await call(lambda h: render_brief(h.recovery.brief(mission_id, specialist=specialist),
                                             max_bytes, format))
    if format == "json":
        return PlainTextResponse(text, media_type="application/json")
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
