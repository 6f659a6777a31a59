"""The event log: envelope, types, segments, stores."""

from .envelope import Event

__all__ = ["Event"]
