"""``GET /api/v1/health``: the one route that needs no token (what ``services`` polls)."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request

from ..context import FleetJSON

router = APIRouter(tags=["health"])


@router.get("/health", response_class=FleetJSON, summary="Is the server up (no token needed)")
async def health(request: Request) -> Any:
    """``status: ok``, the version, the pid, when it started and for how long."""
    state = request.app.state
    return FleetJSON({"status": "ok", "version": state.version, "pid": os.getpid(),
                      "started_at": state.started_at,
                      "uptime": round(time.time() - state.started_epoch, 3)})
