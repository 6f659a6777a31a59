"""The event log: ``events list|append`` and ``/events/stream`` (server-sent events).

The stream sends every event after a position: ``?after=SEQ``, or the ``Last-Event-ID`` a
reconnecting client sends (each event's SSE ``id`` is its ``seq``), else only new events.
It wakes on new events through :class:`..notify.Notifier` (one poller for every stream).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from ...kernel.jsondump import dumps
from ..context import Call, FleetJSON, authorized
from .common import MAX_PAGE, Body, errors, limit_query, offset_query

router = APIRouter(tags=["events"])

#: Events fetched per look while a stream catches up.
PAGE = 500
#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE = 15.0


class NewEvent(Body):
    type: str = Field(min_length=1, description="The event type.")
    stream: str = Field(min_length=1, description="TYPE:ID, e.g. mission:m-01HX...")
    data: dict[str, Any] = Field(default={}, description="Validated against its type's schema.")
    causation_id: str | None = None
    correlation_id: str | None = None
    custom: bool = Field(default=False, description="Allow a type fleet-hive does not define.")


@router.get("/events", response_class=FleetJSON, responses=errors(400),
            summary="List events in local sequence order")
async def list_events(stream: str | None = Query(default=None, description="TYPE:ID"),
                      type: str | None = Query(default=None),
                      after: int | None = Query(default=None, ge=0, le=MAX_PAGE * 1000),
                      limit: int | None = limit_query(), offset: int = offset_query(),
                      causation: str | None = Query(default=None),
                      correlation: str | None = Query(default=None),
                      call: Call = Depends(authorized)) -> Any:
    def run(h: Any) -> list[dict[str, Any]]:
        s = h.resolve_stream(stream) if stream is not None else None
        c = h.resolve_correlation(correlation) if correlation is not None else None
        return [e.to_json() for e in h.events.query(
            stream=s, type=type, after=after, limit=limit, offset=offset, causation_id=causation,
            correlation_id=c)]

    return FleetJSON(await call(run))


@router.post("/events", response_class=FleetJSON, status_code=201, responses=errors(400),
             summary="Append one event (validated against its type's schema)")
async def append_event(body: NewEvent, call: Call = Depends(authorized)) -> Any:
    event = await call(lambda h: h.events.append(
        body.type, stream=body.stream, data=body.data, causation_id=body.causation_id,
        correlation_id=body.correlation_id, custom=body.custom, indexed=True))
    return FleetJSON(event.to_json(), status_code=201)


def _after(seq: int, limit: int, h: Any) -> list[Any]:
    return list(h.events.after_sequence(seq, limit=limit))


def _start(after: int | None, last_event_id: str | None) -> int | None:
    """Where a stream starts: after ``Last-Event-ID`` (a reconnect), else ``after``."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return after


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


@router.get("/events/stream", response_class=EventStream, responses=errors(400),
            response_description="text/event-stream: `id: SEQ`, `event: TYPE`, "
            "`data: <the event as JSON>` per event",
            summary="New events as server-sent events (resumes from Last-Event-ID or ?after)")
async def stream_events(request: Request,
                        after: int | None = Query(default=None, ge=0, le=MAX_PAGE * 1000),
                        last_event_id: str | None = Header(default=None),
                        limit: int | None = Query(default=None, ge=1, le=MAX_PAGE,
                                                  description="Close after this many."),
                        call: Call = Depends(authorized)) -> EventStream:
    notifier = request.app.state.notifier
    start = _start(after, last_event_id)
    if start is None:
        start = await call(lambda h: h.events.latest_sequence())

    async def frames() -> AsyncIterator[bytes]:
        last, sent = start, 0
        yield b": fleet-hive events after " + str(last).encode() + b"\n\n"
        while limit is None or sent < limit:
            page = PAGE if limit is None else min(PAGE, limit - sent)
            batch = await call(partial(_after, last, page))
            for event in batch:
                body = dumps(event.to_json(), indent=False)
                yield b"id: %d\nevent: %s\ndata: %s\n\n" % (
                    event.seq, event.type.encode("utf-8"), body)
                last = event.seq or last
                sent += 1
            if batch:
                continue
            if not await notifier.wait_beyond(last, KEEPALIVE):
                yield b": keep-alive\n\n"

    return EventStream(frames(), headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})
