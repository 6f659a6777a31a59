"""Event types of the log itself (domain modules declare their own)."""

from __future__ import annotations

from pydantic import Field

from .registry import EventData, event_type


@event_type("note_added")
class NoteAdded(EventData):
    """A free-text note attached to any stream."""

    text: str = Field(min_length=1, max_length=100_000)
