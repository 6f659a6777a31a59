"""Run the server: uvicorn on one address, until SIGTERM or SIGINT (``fleet-hive serve``)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..kernel.errors import InvalidInputError

LOOPBACK_DEFAULT = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InvalidInputError(f"cannot resolve --host {host}: {e}") from e
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise InvalidInputError(f"cannot listen on {host}:{port}: {e.strerror or e}",
                                hint="pick another --port (0: any free one)") from e
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


def serve(root: Path, *, host: str = LOOPBACK_DEFAULT, port: int = DEFAULT_PORT,
          rate: float | None = None, on_ready: Callable[[dict[str, Any]], None] | None = None,
          ) -> None:
    """Serve the repository at ``root`` until stopped; ``on_ready(info)`` is called once
    the socket listens (url, dashboard URL with the token in its fragment, pid)."""
    import os

    import uvicorn

    from .app import create_app
    from .security import DEFAULT_BURST, DEFAULT_RATE

    sock = bind(host, port)
    app = create_app(root, rate=DEFAULT_RATE if rate is None else rate,
                     burst=DEFAULT_BURST if rate is None else max(1, int(rate * 2)))
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{real_port}"
    token = app.app.state.token
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready({"url": url, "api": f"{url}/api/v1", "dashboard": f"{url}/#token={token}",
                  "host": host, "port": real_port, "pid": os.getpid(), "root": str(root)})
    server.run(sockets=[sock])
