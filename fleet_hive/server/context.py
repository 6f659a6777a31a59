"""What every route receives: the library thread, the actor the request acts as, and the
JSON response class (the CLI's own serializer, so the bytes match ``--json``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Header, Request
from fastapi.responses import Response

from ..kernel.jsondump import dumps
from .security import actor_of, check_token

if TYPE_CHECKING:
    from ..app.hive import Hive
    from .library import Library

T = TypeVar("T")


class FleetJSON(Response):
    """JSON as the CLI writes it (``kernel/jsondump``), on one line."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content, indent=False)


class Call:
    """One request's way into the library: ``await call(lambda hive: ...)`` runs on the
    library thread with the ``Hive`` of the request's actor."""

    def __init__(self, library: Library, actor: str) -> None:
        self.library = library
        self.actor = actor

    async def __call__(self, fn: Callable[[Hive], T]) -> T:
        return await self.library.call(self.actor, fn)


async def authorized(request: Request,
                     authorization: str | None = Header(default=None,
                                                        include_in_schema=False),
                     x_fleet_actor: str | None = Header(
                         default=None, description="Who acts (recorded on every event "
                         "written; the default holder and claimant). Default: api.")) -> Call:
    """The dependency of every protected route: the bearer token, then the actor."""
    state = request.app.state
    check_token(state.token, authorization)
    return Call(state.library, actor_of(x_fleet_actor))
