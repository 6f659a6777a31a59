"""``GET /api/v1/status``: ``fleet-hive status --json``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ..context import Call, FleetJSON, authorized

router = APIRouter(tags=["status"])


@router.get("/status", response_class=FleetJSON, summary="Missions, active and blocked "
            "sorties, conflicts, reservations, stale work, index freshness")
async def status(call: Call = Depends(authorized)) -> Any:
    from ...app.status import status_report

    return FleetJSON(await call(status_report))
