"""Pieces the routers share: query parameters with the CLI's names and bounds, the error
responses documented on every route, and the base of the request bodies."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict

#: Largest limit/offset accepted (sqlite's integers are 64-bit; nobody pages that far).
MAX_PAGE = 1_000_000_000


class Body(BaseModel):
    """A request body: unknown fields are refused (422), as the CLI refuses unknown flags."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str


class ErrorObject(BaseModel):
    """The CLI's error object: ``{"error": {"code", "message", "hint"}}``."""

    error: ErrorDetail


def limit_query(description: str = "At most this many.") -> Any:
    return Query(default=None, ge=0, le=MAX_PAGE, description=description)


def offset_query() -> Any:
    return Query(default=0, ge=0, le=MAX_PAGE, description="Skip this many first.")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, plus 401 and 429 (every protected
    route), each with the CLI's error object."""
    what = {400: "Invalid input", 401: "Missing or wrong bearer token", 404: "Not found",
            408: "Timed out waiting", 409: "Conflict: held, claimed or not allowed now",
            413: "Request body too large", 422: "Request does not match the schema",
            429: "Too many requests (see Retry-After)"}
    return {s: {"description": what[s], "model": ErrorObject}
            for s in sorted({*statuses, 401, 422, 429})}


REASON = "Why (recorded on the event)."
PRIORITY = "0 (most urgent) to 4 (least)."
