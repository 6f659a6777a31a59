"""The event types of mail (their ``data`` models).

Imported only when something is appended. Stream: ``mail:<message id>`` (a message and
what its recipients did with it); ``correlation_id`` is the message's mission when it has
one, so ``events list --correlation M`` shows a mission's mail with its history.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

MessageId = Annotated[str, Field(pattern=r"^msg-[0-9a-z]{4,32}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Time = Annotated[str, Field(max_length=40)]


@event_type("message_sent")
class MessageSent(EventData):
    """A message was sent (the envelope's ``actor`` is its sender)."""

    message_id: MessageId
    sender: Name
    to: list[Name] = Field(min_length=1, max_length=100)
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    body: Annotated[str, Field(max_length=100_000)] = ""
    thread_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,127}$")]
    mission_id: Annotated[str, Field(pattern=r"^m-[0-9a-z]{4,32}$")] | None = None
    sortie_id: Annotated[str, Field(pattern=r"^s-[0-9a-z]{4,32}$")] | None = Field(
        default=None, description="the sortie the message is about (a blocker)")
    importance: Literal["low", "normal", "high"] = "normal"
    sent_at: Time


@event_type("message_read")
class MessageRead(EventData):
    """A message was read by ``by``."""

    message_id: MessageId
    by: Name
    read_at: Time


@event_type("message_acked")
class MessageAcked(EventData):
    """A message was acknowledged by ``by`` (which counts as read)."""

    message_id: MessageId
    by: Name
    acked_at: Time


recorded_by({
    "message_sent": "`fleet-hive mail send` or hive.mail.send (and the blocker escalation)",
    "message_read": "`fleet-hive mail read` or hive.mail.read",
    "message_acked": "`fleet-hive mail ack` or hive.mail.ack",
})
