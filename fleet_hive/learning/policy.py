"""The after-write policy that records outcomes when a write ends a sortie or a mission.

The unit of work calls it (under the writer lock, the index caught up) with the events it
has just stored, after EVERY write: a write that ends nothing costs one set lookup per
event. For a ``sortie_completed``, ``sortie_failed``, ``mission_completed`` or
``mission_cancelled`` it asks the service to record the outcome, in a write of its own
(whose ``outcome_recorded`` events this policy then sees and skips: no recursion). An
outcome that could not be recorded is a warning of the write (it stood), never its
failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..kernel.errors import StorageError
from .decide import ENDINGS

if TYPE_CHECKING:
    from ..events.envelope import Event
    from .service import Learning


class OutcomeRecorder:
    """``service`` returns the learning service (built on the first ending)."""

    def __init__(self, service: Callable[[], Learning]) -> None:
        self._service = service

    def __call__(self, events: Sequence[Event]) -> None:
        endings = [e for e in events if e.type in ENDINGS]
        if not endings:
            return
        try:
            self._service().record_endings(endings)
        except Exception as e:  # the write stood: say so, do not fail it
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            failed = StorageError(
                f"the change was recorded, but its outcome (for learning) was not: "
                f"{message}", hint="the outcome is missing from `fleet-hive learn stats`")
            raise failed from e
