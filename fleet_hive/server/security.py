"""What guards the API: the bearer token, per-client rate limits and a body size limit.

* Every route but ``GET /api/v1/health`` and the dashboard's static shell requires
  ``Authorization: Bearer <token>`` with the token of ``.fleet/local/token``, compared in
  constant time (:func:`hmac.compare_digest`).
* :class:`RateLimiter` is a token bucket per client (address and actor): a client that
  exceeds it gets 429 with ``Retry-After``.
* :class:`BodyLimit` refuses a request body larger than the limit with 413, counting what
  arrives even when ``Content-Length`` is absent or lies.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import ApiError, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_BODY_LIMIT = 1 << 20  # 1 MiB
DEFAULT_RATE = 200.0  # requests per second per client, sustained
DEFAULT_BURST = 400  # requests a client may send at once
ACTOR_HEADER = "x-fleet-actor"
DEFAULT_ACTOR = "api"
#: Longest accepted actor name (it goes on every event the request writes).
MAX_ACTOR = 200


def check_token(expected: str, authorization: str | None) -> None:
    """Raise 401 unless ``authorization`` is ``Bearer <expected>`` (constant-time compare)."""
    hint = "send Authorization: Bearer <the token in .fleet/local/token>"
    if not authorization:
        raise ApiError(401, "unauthorized", "a bearer token is required", hint,
                       {"WWW-Authenticate": "Bearer"})
    scheme, _, given = authorization.partition(" ")
    ok = hmac.compare_digest(given.strip().encode("utf-8", "replace"),
                             expected.encode("utf-8"))
    if scheme.lower() != "bearer" or not ok:
        raise ApiError(401, "unauthorized", "the bearer token is wrong", hint,
                       {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def actor_of(header: str | None) -> str:
    """The actor a request acts as: its ``X-Fleet-Actor`` header, else ``api``."""
    if header is None:
        return DEFAULT_ACTOR
    actor = header.strip()
    if not actor or len(actor) > MAX_ACTOR or not actor.isprintable():
        raise ApiError(400, "invalid_input",
                       f"X-Fleet-Actor must be 1 to {MAX_ACTOR} printable characters",
                       "name yourself, e.g. X-Fleet-Actor: agent-1")
    return actor


class RateLimiter:
    """A token bucket per client key: ``rate`` requests per second, bursts of ``burst``.
    ``rate`` 0 turns limiting off. At most ``max_clients`` buckets are kept (the least
    recently seen are forgotten: a full bucket)."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST,
                 max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may go on, else the seconds until one may."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, seen = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - seen) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


async def send_error(send: Send, status: int, body: dict[str, Any],
                     headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """ASGI middleware: the rate limit, then the body size limit, for every HTTP request."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, body_limit: int) -> None:
        self.app = app
        self.limiter = limiter
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("?", 0)
        key = f"{client[0]}|{headers.get(ACTOR_HEADER, '')}"
        wait = self.limiter.take(key)
        if wait:
            await send_error(send, 429, error_body(
                "rate_limited", "too many requests from this client",
                f"retry after {math.ceil(wait)} s"), {"Retry-After": str(math.ceil(wait))})
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.body_limit):
            await _drain_and_refuse(send, self.body_limit)
            return
        # read the whole body first (it is small, or refused): the app sees it replayed
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.body_limit:
                await _drain_and_refuse(send, self.body_limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: list[bytes] | None = [b"".join(chunks)]

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                data, body = body[0], None
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _drain_and_refuse(send: Send, limit: int) -> None:
    await send_error(send, 413, error_body(
        "too_large", f"the request body is larger than {limit} bytes",
        "send less at once (e.g. fewer events per request)"))
