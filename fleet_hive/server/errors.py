"""The CLI's error object over HTTP: ``{"error": {"code", "message", "hint"}}`` with a
status code for each kind of failure (``docs/server.md``)."""

from __future__ import annotations

from typing import Any

from ..kernel.errors import (
    ConflictError,
    FleetHiveError,
    IntegrityError,
    InvalidInputError,
    NotARepositoryError,
    NotFoundError,
    NotInitializedError,
    StorageError,
    TimeoutExpiredError,
)

#: (error class, HTTP status), most specific first.
STATUS: tuple[tuple[type[FleetHiveError], int], ...] = (
    (NotFoundError, 404),
    (InvalidInputError, 400),
    (ConflictError, 409),  # TransitionError too
    (TimeoutExpiredError, 408),
    (NotInitializedError, 503),
    (NotARepositoryError, 503),
    (StorageError, 503),
    (IntegrityError, 500),
)


def status_of(err: FleetHiveError) -> int:
    for cls, status in STATUS:
        if isinstance(err, cls):
            return status
    return 400  # any other refusal of what was asked


class ApiError(Exception):
    """A failure of the HTTP layer itself (auth, limits), in the same error object."""

    def __init__(self, status: int, code: str, message: str, hint: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


def error_body(code: str, message: str, hint: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "hint": hint}}
