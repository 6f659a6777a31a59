"""Mail: ``mail send|inbox|read|ack|thread``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from ..context import Call, FleetJSON, authorized
from .common import MAX_PAGE, Body, errors

router = APIRouter(tags=["mail"])

#: Longest ``wait`` the API accepts: a waiting inbox holds the library thread.
MAX_WAIT = 10.0


class Send(Body):
    to: list[str] = Field(min_length=1, description="Recipients.")
    subject: str = Field(min_length=1)
    body: str = ""
    thread: str | None = Field(default=None, description="Reply in this thread.")
    mission_id: str | None = None
    importance: Literal["low", "normal", "high"] = "normal"


class As(Body):
    as_: str | None = Field(default=None, alias="as",
                            description="Who (default: the actor; required for ack).")


@router.post("/mail", response_class=FleetJSON, status_code=201, responses=errors(400, 404),
             summary="Send a message from the actor")
async def send(body: Send, call: Call = Depends(authorized)) -> Any:
    m = await call(lambda h: h.mail.send(body.to, body.subject, body.body, thread=body.thread,
                                         mission=body.mission_id, importance=body.importance))
    return FleetJSON(m.to_json(), status_code=201)


@router.get("/mail/inbox/{name}", response_class=FleetJSON, responses=errors(400, 408),
            summary="NAME's messages, newest first (wait: for an unread one, 408 if none)")
async def inbox(name: str, unread: bool = False,
                limit: int = Query(default=50, ge=0, le=MAX_PAGE),
                wait: float | None = Query(default=None, ge=0, le=MAX_WAIT),
                call: Call = Depends(authorized)) -> Any:
    found = await call(lambda h: h.mail.inbox(name, unread=unread, limit=limit, wait=wait))
    return FleetJSON([m.to_json() for m in found])


@router.post("/mail/{message_id}/read", response_class=FleetJSON,
             responses=errors(400, 404), summary="A message, marked read by the actor")
async def read(message_id: str, body: As | None = None, call: Call = Depends(authorized)) -> Any:
    by = body.as_ if body else None
    return FleetJSON((await call(lambda h: h.mail.read(message_id, by=by))).to_json())


@router.post("/mail/{message_id}/ack", response_class=FleetJSON,
             responses=errors(400, 404), summary="Acknowledge a message")
async def ack(message_id: str, body: As | None = None, call: Call = Depends(authorized)) -> Any:
    def run(h: Any) -> Any:
        return h.mail.ack(message_id, by=(body.as_ if body and body.as_ else h.actor))

    return FleetJSON((await call(run)).to_json())


@router.get("/mail/threads/{thread_id}", response_class=FleetJSON,
            responses=errors(400, 404), summary="A thread's messages, oldest first")
async def thread(thread_id: str, call: Call = Depends(authorized)) -> Any:
    found = await call(lambda h: h.mail.thread(thread_id))
    return FleetJSON([m.to_json() for m in found])
