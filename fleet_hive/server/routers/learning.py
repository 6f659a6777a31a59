"""Learning: ``learn stats|patterns``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from ..context import Call, FleetJSON, authorized
from .common import errors

router = APIRouter(tags=["learning"])


@router.get("/learn/stats", response_class=FleetJSON, responses=errors(400),
            summary="Outcomes per subject and strategy, with each strategy's decayed record")
async def stats(call: Call = Depends(authorized)) -> Any:
    return FleetJSON(await call(lambda h: h.learning.stats()))


@router.get("/learn/patterns", response_class=FleetJSON, responses=errors(400),
            summary="Scored patterns per strategy and task feature, best evidence first")
async def patterns(anti: bool = Query(False, description="only anti-patterns"),
                   strategy: str | None = Query(None), feature: str | None = Query(None),
                   call: Call = Depends(authorized)) -> Any:
    found = await call(lambda h: h.learning.patterns(
        strategy=strategy, anti=True if anti else None, feature=feature))
    return FleetJSON([p.to_json() for p in found])
