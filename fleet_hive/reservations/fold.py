"""Pure folds: the events of one stream, in total order -> the lease or wait it describes.

The index's projection (:mod:`.projection`) stores what these return, and ``verify``
(:mod:`.checks`) compares the tables with them. Events with data this version cannot read
(a missing field, an invalid pattern) are skipped rather than failing the whole index:
other clones may run newer versions.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..kernel import globs
from ..kernel.clock import epoch
from .model import Reservation, Wait

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event


def fold_reservation(events: Iterable[Event]) -> Reservation | None:
    """The lease of one ``reservation:<id>`` stream; None once released or expired.

    The first ``reservation_acquired`` opens the lease, ``reservation_renewed`` moves its
    expiry (and mode), ``reservation_released`` / ``reservation_expired`` end it for good.
    """
    row: dict[str, Any] | None = None
    for e in events:
        d = e.data
        try:
            if e.type == "reservation_acquired":
                if row is None and globs.normalize(d["path"]) == d["path"]:
                    row = {"id": d["reservation_id"], "path": d["path"], "holder": d["holder"],
                           "mode": d["mode"], "acquired_at": d["acquired_at"],
                           "expires_at": d["expires_at"], "reason": d.get("reason"),
                           "ttl": float(d["ttl"]), "request_id": d["request_id"],
                           "event_id": e.id, "expires": epoch(d["expires_at"]),
                           "clock": e.clock, "writer": e.writer, "n": e.n}
            elif row is None:
                continue
            elif e.type == "reservation_renewed":
                expires = epoch(d["expires_at"])
                row.update(mode=d.get("mode", row["mode"]), ttl=float(d.get("ttl", row["ttl"])),
                           expires_at=d["expires_at"], expires=expires)
                if d.get("reason") is not None:
                    row["reason"] = d["reason"]
            elif e.type in ("reservation_released", "reservation_expired"):
                return None
        except (KeyError, TypeError, ValueError):
            continue
    return None if row is None else Reservation(**row)


def fold_wait(events: Iterable[Event]) -> Wait | None:
    """The open wait of one ``reservation_request:<id>`` stream; None when the request
    never waited or its wait ended (``reservation_wait_ended`` or ``reservation_refused``)."""
    wait: Wait | None = None
    for e in events:
        d = e.data
        try:
            if e.type == "reservation_waiting":
                wait = Wait(d["request_id"], d["holder"], tuple(d["paths"]), d["mode"],
                            tuple(d.get("waits_for", [])), d["started_at"], epoch(d["until"]),
                            (e.clock, e.writer, e.n), _int(d.get("pid")),
                            d.get("host") if isinstance(d.get("host"), str) else None,
                            _int(d.get("pid_start")))
            elif e.type in ("reservation_wait_ended", "reservation_refused"):
                wait = None
        except (KeyError, TypeError, ValueError):
            continue
    return wait


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
