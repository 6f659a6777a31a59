"""The after-write policy that escalates blockers: a stored ``sortie_blocked`` sends the
coordinator a message (importance high, one thread per sortie: ``blocker-<sortie id>``)
naming the sortie, its mission and the reason the agent gave (``sortie block --reason``).

It runs after every write, so the path that finds nothing is one type comparison per
stored event. The message is sent as the agent who blocked the sortie (the event's
actor), caused by the ``sortie_blocked`` event. A message that could not be sent is a
warning of the write (the block stood), never its failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..kernel.errors import StorageError
from .model import BLOCKER_THREAD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events.envelope import Event
    from .service import Mail

BLOCKED = "sortie_blocked"


class BlockerEscalation:
    """``mail`` returns the mail service, ``coordinator`` the recipient's name (read on
    the first blocker only), ``title`` a sortie's title (or None)."""

    def __init__(self, mail: Callable[[], Mail], coordinator: Callable[[], str],
                 title: Callable[[str], str | None] = lambda _sid: None) -> None:
        self._mail = mail
        self._coordinator = coordinator
        self._title = title

    def __call__(self, events: Sequence[Event]) -> None:
        blocked = [e for e in events if e.type == BLOCKED]
        if not blocked:
            return
        failed: StorageError | None = None
        for e in blocked:
            sortie_id = e.stream.partition(":")[2]
            try:
                self._send(e, sortie_id)
            except Exception as err:  # the block stood: say so, do not fail it
                message = getattr(err, "message", None) or str(err) or type(err).__name__
                failed = failed or StorageError(
                    f"sortie {sortie_id} is blocked, but telling the coordinator failed: "
                    f"{message}", hint=f"send it by hand: fleet-hive mail send --to "
                                       f"{self._safe_coordinator()} --subject ...")
                failed.__cause__ = err
        if failed is not None:
            raise failed

    def _safe_coordinator(self) -> str:
        try:
            return self._coordinator()
        except Exception:
            return "coordinator"

    def _send(self, e: Event, sortie_id: str) -> None:
        reason = str(e.data.get("reason") or "").strip()[:10_000] or "no reason given"
        mission_id = e.correlation_id if (e.correlation_id or "").startswith("m-") else None
        title = self._title(sortie_id)
        what = f"{title} ({sortie_id})" if title else sortie_id
        of = f" of mission {mission_id}" if mission_id else ""
        body = (f"Sortie {what}{of} is blocked by {e.actor or 'its claimant'}: {reason}\n\n"
                f"Once it is free: fleet-hive sortie unblock {sortie_id}\n")
        self._mail().send([self._coordinator()], f"Blocked: {what}"[:500], body,
                          thread=BLOCKER_THREAD.format(sortie_id=sortie_id),
                          mission=mission_id, importance="high", sortie_id=sortie_id,
                          sender=e.actor or None, causation_id=e.id)
