"""File reservations: ``lock acquire|release|renew|list|check``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import Body, errors

router = APIRouter(tags=["reservations"])

#: Longest ``wait`` the API accepts: a waiting acquire holds the library thread.
MAX_WAIT = 10.0
HOLDER = "Who holds (default: the actor, X-Fleet-Actor)."


class Acquire(Body):
    paths: list[str] = Field(min_length=1, description="Paths or globs, all or nothing.")
    holder: str | None = Field(default=None, description=HOLDER)
    ttl: float | None = Field(default=None, gt=0, le=10 * 365 * 86400,
                              description="Seconds until it lapses unless renewed.")
    wait: float = Field(default=0.0, ge=0, le=MAX_WAIT,
                        description="Wait up to this many seconds for conflicts to go (408).")
    shared: bool = False
    reason: str | None = None


class Release(Body):
    paths: list[str] = Field(default=[], description="Exactly these (or all=true).")
    holder: str | None = Field(default=None, description=HOLDER)
    all: bool = False


class Renew(Body):
    holder: str | None = Field(default=None, description=HOLDER)
    ttl: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)
    paths: list[str] | None = None


class Check(Body):
    paths: list[str] = Field(min_length=1)
    holder: str | None = Field(default=None, description="Ask for this holder (default: the "
                               "actor): its own reservations do not count.")
    shared: bool = False
    glob: bool = Field(default=False, description="Treat each path as a glob.")


def _rows(rows: list[Any], marks: dict[str, dict[str, Any]] | None = None) -> list[Any]:
    now, marks = time.time(), marks or {}
    return [{**r.to_json(now), **({"conflict": marks[r.id]} if r.id in marks else {})}
            for r in rows]


@router.get("/reservations", response_class=FleetJSON, responses=errors(400),
            summary="Live reservations (contested ones carry a conflict)")
async def list_reservations(holder: str | None = Query(default=None),
                            path: str | None = Query(default=None),
                            call: Call = Depends(authorized)) -> Any:
    from ...cli.locks import _marks

    def run(h: Any) -> list[Any]:
        rows = h.reservations.list(holder=holder, path=path)
        return _rows(rows, _marks(h.reservations.contests()))

    return FleetJSON(await call(run))


@router.post("/reservations", response_class=FleetJSON, status_code=201,
             responses=errors(400, 408, 409), summary="Reserve paths or globs, all or nothing")
async def acquire(body: Acquire, call: Call = Depends(authorized)) -> Any:
    rows = await call(lambda h: h.reservations.acquire(
        body.paths, holder=body.holder if body.holder is not None else h.actor, ttl=body.ttl,
        wait=body.wait, shared=body.shared, reason=body.reason))
    return FleetJSON(_rows(rows), status_code=201)


@router.post("/reservations/release", response_class=FleetJSON, responses=errors(400, 409),
             summary="Release a holder's reservations of these paths (or all)")
async def release(body: Release, call: Call = Depends(authorized)) -> Any:
    from ...kernel.errors import InvalidInputError

    if body.all == bool(body.paths):
        raise InvalidInputError("give the paths to release, or all=true (not both)")

    def run(h: Any) -> list[Any]:
        holder = body.holder if body.holder is not None else h.actor
        res = h.reservations
        rows: list[Any] = (res.release_all(holder) if body.all
                           else res.release(body.paths, holder=holder))
        return rows

    return FleetJSON(_rows(await call(run)))


@router.post("/reservations/renew", response_class=FleetJSON, responses=errors(400, 404),
             summary="Extend a holder's live reservations")
async def renew(body: Renew, call: Call = Depends(authorized)) -> Any:
    rows = await call(lambda h: h.reservations.renew(
        body.holder if body.holder is not None else h.actor, ttl=body.ttl,
        paths=body.paths or None))
    return FleetJSON(_rows(rows))


@router.post("/reservations/check", response_class=FleetJSON, responses=errors(400, 409),
             summary="409 if a path is reserved by someone else (read only)")
async def check(body: Check, call: Call = Depends(authorized)) -> Any:
    def run(h: Any) -> Any:
        holder = body.holder if body.holder is not None else h.actor
        result = h.reservations.check(body.paths, holder=holder, shared=body.shared,
                                      patterns=body.glob)
        result.raise_if_held()
        return result.to_json()

    return FleetJSON(await call(run))
