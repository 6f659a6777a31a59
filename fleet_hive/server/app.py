"""``create_app(root)``: the ASGI application of one repository.

One :class:`.library.Library` per process (the ``Hive`` objects, on one library thread),
the routers of :data:`.routers.ROUTERS` under ``/api/v1``, the CLI's error object for every
failure, the guard (rate limit, body size) around everything, and the dashboard at ``/``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..kernel.errors import FleetHiveError
from ..kernel.tokens import ensure_token
from .context import FleetJSON
from .errors import ApiError, error_body, status_of
from .library import Library
from .notify import Notifier
from .routers import ROUTERS
from .security import DEFAULT_BODY_LIMIT, DEFAULT_BURST, DEFAULT_RATE, Guard, RateLimiter

API = "/api/v1"
TITLE = "fleet-hive"
DESCRIPTION = (
    "The HTTP API of fleet-hive: the same operations and JSON shapes as the command line "
    "(`fleet-hive ... --json`). Every route but `GET /api/v1/health` needs "
    "`Authorization: Bearer <.fleet/local/token>`. Errors are "
    '`{"error": {"code", "message", "hint"}}`. `X-Fleet-Actor` names who acts.')


def create_app(root: Path, *, token: str | None = None, rate: float = DEFAULT_RATE,
               burst: int = DEFAULT_BURST, body_limit: int = DEFAULT_BODY_LIMIT) -> Any:
    """The application for the repository at ``root`` (which holds ``.fleet/``). The token
    is ``.fleet/local/token`` (made now if missing) unless given."""
    from .. import __version__
    from ..kernel.layout import Layout

    layout = Layout(Path(root).resolve())
    library = Library(layout.root)
    notifier = Notifier(library)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await notifier.close()
        library.close()

    app = FastAPI(title=TITLE, version=__version__, description=DESCRIPTION,
                  openapi_url=f"{API}/openapi.json", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.library = library
    app.state.notifier = notifier
    app.state.token = token if token is not None else ensure_token(layout.token)
    app.state.version = __version__
    app.state.started_epoch = time.time()
    app.state.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                         time.gmtime(app.state.started_epoch))
    app.state.root = str(layout.root)
    for name in ROUTERS:
        module = importlib.import_module(f"{__package__}.routers.{name}")
        app.include_router(module.router, prefix=API)
    _errors(app)
    _dashboard(app)
    _security_scheme(app)
    return Guard(app, RateLimiter(rate, burst), body_limit)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(FleetHiveError)
    async def library_error(request: Request, e: FleetHiveError) -> Response:
        return FleetJSON(e.to_json(), status_code=status_of(e))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> Response:
        return FleetJSON(e.to_json(), status_code=e.status, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> Response:
        problems = []
        for err in e.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return FleetJSON(error_body("invalid_input", "; ".join(problems) or "invalid request",
                                    "see /api/v1/openapi.json for what this route takes"),
                         status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return FleetJSON(error_body(code, str(e.detail)), status_code=e.status_code,
                         headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def crash(request: Request, e: Exception) -> Response:
        import logging

        logging.getLogger("fleet_hive.server").exception("internal error on %s", request.url)
        return FleetJSON(error_body("internal", f"internal error: {type(e).__name__}: {e}",
                                    "the server's log has the traceback"), status_code=500)


def _security_scheme(app: FastAPI) -> None:
    """Declare the bearer token in the document: required everywhere but health."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version,
                              description=app.description, routes=app.routes)
            doc.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "The token in .fleet/local/token"}}
            doc["security"] = [{"bearer": []}]
            doc["paths"][f"{API}/health"]["get"]["security"] = []
            _response_shapes(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


#: Routes that answer a JSON array (as the CLI's list commands do); the others an object.
LIST_ROUTES = {("get", "/missions"), ("get", "/sorties"), ("get", "/ready"), ("get", "/events"),
               ("get", "/reservations"), ("post", "/reservations"),
               ("post", "/reservations/release"), ("post", "/reservations/renew"),
               ("get", "/missions/{mission_id}/checkpoints"), ("post", "/checkpoints/prune"),
               ("get", "/mail/inbox/{name}"), ("get", "/mail/threads/{thread_id}"),
               ("get", "/specialists")}


def _response_shapes(doc: dict[str, Any]) -> None:
    """Success responses as an array or an object of the CLI's shape (``docs/server.md``),
    where the routes (which answer with the CLI's own serializer) declare no model."""
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for status, response in op.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if not status.startswith("2") or media is None:
                    continue
                if media.get("schema") in ({}, {"type": "string"}):
                    listed = (method, path.removeprefix(API)) in LIST_ROUTES
                    media["schema"] = ({"type": "array", "items": {"type": "object"}}
                                       if listed else {"type": "object"})


def static(name: str) -> bytes:
    """A file of the dashboard, shipped in the package (``server/static/``)."""
    return resources.files(__package__).joinpath("static", name).read_bytes()


_STATIC = {"dashboard.js": "text/javascript; charset=utf-8",
           "dashboard.css": "text/css; charset=utf-8"}


def _dashboard(app: FastAPI) -> None:
    """The page at ``/`` and its script: no token needed (they hold no data; the page asks
    the API for everything with the token from its URL fragment)."""
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'self'; style-src 'self' "
               "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
               "Referrer-Policy": "no-referrer"}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(static("index.html"), media_type="text/html; charset=utf-8",
                        headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in _STATIC:
            return FleetJSON(error_body("not_found", f"no such file: {name}"), status_code=404)
        return Response(static(name), media_type=_STATIC[name], headers=headers)
