"""The after-write policy that records outcomes when a write ends a sortie or a mission.

The unit of work calls it (under the writer lock, the index caught up) with the events it
has just stored, after EVERY write: a write that ends nothing costs one set lookup per
event. For a ``sortie_completed``, ``sortie_failed``, ``mission_completed`` or
``mission_cancelled`` it asks the service to record the outcome, in a write of its own
(whose ``outcome_recorded`` events this policy then sees and skips: no recursion). A
dispatch try's end (``sortie_try_ended``, written by dispatch after it verified and merged
a change in a worktree) that says whether the change passed verification, whether it
merged and which files it changed amends the sortie's outcome with those facts (read from
the event's data: nothing of dispatch is imported). An outcome that could not be recorded
is a warning of the write (it stood), never its failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from ..kernel.errors import StorageError
from .decide import ENDINGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event
    from .service import Learning


class OutcomeRecorder:
    """``service`` returns the learning service (built on the first ending)."""

    def __init__(self, service: Callable[[], Learning]) -> None:
        self._service = service

    def __call__(self, events: Sequence[Event]) -> None:
        endings = [e for e in events if e.type in ENDINGS]
        found = [e for e in events if e.type == TRY_ENDED and _found_out(e.data)]
        if not endings and not found:
            return
        try:
            if endings:
                self._service().record_endings(endings)
            for e in found:  # after the endings of the same write: their outcomes exist
                self._amend(e.data)
        except Exception as e:  # the write stood: say so, do not fail it
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            failed = StorageError(
                f"the change was recorded, but its outcome (for learning) was not: "
                f"{message}", hint="the outcome is missing from `fleet-hive learn stats`")
            raise failed from e

    def _amend(self, data: Mapping[str, Any]) -> None:
        from ..kernel.errors import NotFoundError

        files = data.get("changed_files")
        errors = [data["error"]] if data.get("verified") is False and data.get("error") else []
        with contextlib.suppress(NotFoundError):  # a try that ended nothing (re-queued)
            self._service().amend(str(data["sortie_id"]), verified=data.get("verified"),
                                  merged=data.get("merged"),
                                  changed_files=None if files is None else list(files),
                                  errors=errors)


#: dispatch's record of one try (its data carries what verify and the merge found)
TRY_ENDED = "sortie_try_ended"


def _found_out(data: Mapping[str, Any]) -> bool:
    """A try whose end says something learning keeps: verified, merged, files changed."""
    return bool(data.get("sortie_id")) and data.get("outcome") in (
        "completed", "failed", "retried") and any(
        data.get(k) is not None for k in ("verified", "merged", "changed_files"))
