"""``services``: the background server as a managed service, through a provider.

A :class:`Provider` starts, stops, reports on and shows the logs of the server (``fleet-hive
serve``); :func:`provider` picks one by the name in ``.fleet/config.yaml``
(``services: {provider: local}``). The local-process provider (:mod:`.local`) runs it as
a detached process of this machine; another (a container, a system service manager) is
one more class and one entry in :data:`PROVIDERS`. This package never imports the server:
it talks to it over HTTP (``GET /api/v1/health``) like any client.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..kernel.errors import InvalidInputError

if TYPE_CHECKING:
    from ..kernel.layout import Layout

#: provider name -> "module:class" (relative to this package), imported on use
PROVIDERS: dict[str, str] = {
    "local": "local:LocalProcessProvider",
}


@dataclass(frozen=True)
class ServiceStatus:
    """What ``services status`` reports. ``state`` is ``running`` or ``stopped``; a
    stopped service whose pid file was left behind is ``stale`` (``reason`` says why:
    it crashed, or its pid now belongs to another program)."""

    state: str
    provider: str
    pid: int | None = None
    url: str | None = None
    port: int | None = None
    version: str | None = None
    started_at: str | None = None
    uptime: float | None = None
    healthy: bool | None = None
    stale: bool = False
    reason: str | None = None
    log: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "running": self.running, "provider": self.provider,
                "pid": self.pid, "url": self.url, "port": self.port, "version": self.version,
                "started_at": self.started_at, "uptime": self.uptime, "healthy": self.healthy,
                "stale": self.stale, "reason": self.reason, "log": self.log, **self.extra}


@dataclass(frozen=True)
class Outcome:
    """What ``up`` or ``down`` did: ``action`` (``started``, ``already_running``,
    ``stopped``, ``not_running``), how (``detail``), and the status after it."""

    action: str
    status: ServiceStatus
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "detail": self.detail, **self.status.to_json()}


@dataclass(frozen=True)
class LogLine:
    time: str | None  # None: a line without a timestamp (written by something else)
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "text": self.text}


class Provider(Protocol):
    """Runs the fleet-hive server somewhere. Every method is idempotent."""

    name: str

    def start(self, *, port: int | None = None, timeout: float | None = None) -> Outcome:
        """Start the server unless it runs; return once it answers (or raise
        :class:`~fleet_hive.kernel.errors.TimeoutExpiredError` with the log's tail)."""
        ...

    def stop(self, *, grace: float | None = None) -> Outcome:
        """Stop the server gracefully (SIGTERM, then SIGKILL after ``grace``), clean up."""
        ...

    def status(self) -> ServiceStatus:
        ...

    def logs(self, tail: int | None = None) -> list[LogLine]:
        """The server's output, the last ``tail`` lines (all when None)."""
        ...


def provider(name: str, layout: Layout, *, settings: dict[str, Any] | None = None,
             ) -> Provider:
    """The provider called ``name``, for the repository of ``layout``; an unknown name is
    an :class:`InvalidInputError` listing the known ones."""
    target = PROVIDERS.get(name)
    if target is None:
        known = ", ".join(sorted(PROVIDERS))
        raise InvalidInputError(f"unknown services provider {name!r} (known: {known})",
                                hint="set services.provider in .fleet/config.yaml")
    module, attr = target.split(":")
    cls = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    made: Provider = cls(layout, **(settings or {}))
    return made
