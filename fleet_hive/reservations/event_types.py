"""The event types of file reservations (the audit trail of :mod:`fleet_hive.reservations.service`).

Imported only on write paths: the registry validates every ``data`` with these pydantic
models before it is appended. Read paths (``lock check``, ``lock list``) fold the stored
JSON directly and never import this module.

Two kinds of streams:

- ``reservation:<id>`` — one lease on one path or glob: ``reservation_acquired``, then any
  ``reservation_renewed``, then at most one of ``reservation_released`` /
  ``reservation_expired``;
- ``reservation_request:<id>`` — one ``acquire`` call that had to wait or was refused:
  ``reservation_waiting``, ``reservation_wait_ended``, ``reservation_refused``.

Every event of one ``acquire`` call carries the request id as its ``correlation_id``.
Times in ``data`` are ISO 8601 UTC (``...Z``) from the reserving process's clock; they,
not the envelope's ``time``, decide expiry.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ..events.registry import EventData, event_type, recorded_by
from ..kernel import globs

Mode = Literal["exclusive", "shared"]
Time = Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$",
                             max_length=40, description="ISO 8601 UTC")]


def _pattern(value: str) -> str:
    """Only normalized patterns are stored (``./a`` must be written ``a``)."""
    if globs.normalize(value) != value:
        raise ValueError(f"pattern {value!r} is not normalized")
    return value


# ``x-fleet-check`` names the AfterValidator for the write path's schema validator
# (fleet_hive.events.validation.CHECKS), which has no pydantic.
Path = Annotated[str, Field(min_length=1, max_length=4096,
                            description="repository-relative path or glob (docs/globs.md)",
                            json_schema_extra={"x-fleet-check": "normalized-glob"}),
                 AfterValidator(_pattern)]
Holder = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class Conflict(EventData):
    """One reservation that stood in the way of a request."""

    requested: Path
    path: Path
    holder: Holder
    mode: Mode
    expires_at: Time
    reservation_id: Id


@event_type("reservation_acquired")
class ReservationAcquired(EventData):
    """A holder was granted a reservation of a path or glob until ``expires_at``."""

    reservation_id: Id
    request_id: Id
    path: Path
    holder: Holder
    mode: Mode
    ttl: float = Field(gt=0)
    acquired_at: Time
    expires_at: Time
    reason: str | None = Field(default=None, max_length=2000)


@event_type("reservation_renewed")
class ReservationRenewed(EventData):
    """A live reservation got a later expiry (and, on re-acquire, possibly a stronger mode)."""

    reservation_id: Id
    path: Path
    holder: Holder
    mode: Mode
    ttl: float = Field(gt=0)
    renewed_at: Time
    expires_at: Time
    reason: str | None = Field(default=None, max_length=2000)


@event_type("reservation_released")
class ReservationReleased(EventData):
    """The holder gave a reservation up."""

    reservation_id: Id
    path: Path
    holder: Holder
    released_at: Time


@event_type("reservation_expired")
class ReservationExpired(EventData):
    """A reservation was observed past its expiry; recorded once, for the audit trail.

    The reservation stopped counting at ``expires_at`` whether or not this event exists.
    """

    reservation_id: Id
    path: Path
    holder: Holder
    expires_at: Time
    observed_at: Time


@event_type("reservation_refused")
class ReservationRefused(EventData):
    """An acquire was refused: a conflict, a wait that timed out, or a wait cycle."""

    request_id: Id
    holder: Holder
    paths: list[Path] = Field(min_length=1)
    mode: Mode
    why: Literal["conflict", "timeout", "deadlock"]
    conflicts: list[Conflict] = Field(default_factory=list)
    cycle: list[Holder] = Field(default_factory=list, description="holders, A waits for B ...")
    refused_at: Time


@event_type("reservation_waiting")
class ReservationWaiting(EventData):
    """A holder started waiting for reservations held by others (used to detect deadlocks).

    The wait counts only until ``until`` (or an earlier ``reservation_wait_ended``), and
    only while its process runs: ``pid``/``host``/``pid_start`` name the waiting process,
    so another process on that host can tell it died (and ends the wait for it, outcome
    ``died``); on other hosts it lapses at ``until``.
    """

    request_id: Id
    holder: Holder
    paths: list[Path] = Field(min_length=1)
    mode: Mode
    waits_for: list[Holder] = Field(description="holders of the conflicting reservations")
    started_at: Time
    until: Time
    pid: int | None = Field(default=None, description="the waiting process")
    host: str | None = Field(default=None, max_length=500,
                             description="its host: host name and boot id")
    pid_start: int | None = Field(default=None,
                                  description="its start time (clock ticks since boot), "
                                              "so a reused pid is not taken for it")


@event_type("reservation_wait_ended")
class ReservationWaitEnded(EventData):
    """A wait is over."""

    request_id: Id
    holder: Holder
    outcome: Literal["acquired", "timeout", "deadlock", "interrupted", "failed", "died"]
    ended_at: Time


_ACQUIRE = "`fleet-hive lock acquire` or hive.reservations.acquire"

# Every type above is recorded only by its use case, which checks the rules (conflicts,
# holders, waits) under the writer lock.
recorded_by({
    "reservation_acquired": _ACQUIRE,
    "reservation_renewed": "`fleet-hive lock renew` or hive.reservations.renew",
    "reservation_released": "`fleet-hive lock release` or hive.reservations.release",
    "reservation_expired": "any `fleet-hive lock` command or hive.reservations.sweep",
    "reservation_refused": _ACQUIRE,
    "reservation_waiting": _ACQUIRE,
    "reservation_wait_ended": _ACQUIRE,
})
