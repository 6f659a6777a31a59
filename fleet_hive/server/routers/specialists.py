"""Specialists: ``specialist register|list|heartbeat``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import Body, errors

router = APIRouter(tags=["specialists"])


class Register(Body):
    name: str = Field(min_length=1)
    capabilities: list[str] = []


@router.get("/specialists", response_class=FleetJSON, responses=errors(400),
            summary="Specialists: capabilities, active or silent, last seen, load")
async def list_specialists(call: Call = Depends(authorized)) -> Any:
    return FleetJSON([s.to_dict() for s in await call(lambda h: h.specialists.list())])


@router.post("/specialists", response_class=FleetJSON, status_code=201, responses=errors(400),
             summary="Register a specialist (or update its capabilities)")
async def register(body: Register, call: Call = Depends(authorized)) -> Any:
    s = await call(lambda h: h.specialists.register(body.name, body.capabilities))
    return FleetJSON(s.to_dict(), status_code=201)


@router.post("/specialists/{name}/heartbeat", response_class=FleetJSON,
             responses=errors(400, 404), summary="Record a sign of life")
async def heartbeat(name: str, call: Call = Depends(authorized)) -> Any:
    return FleetJSON((await call(lambda h: h.specialists.heartbeat(name))).to_dict())
