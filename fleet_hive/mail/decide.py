"""Pure decisions of mail: the events a send, a read or an ack records."""

from __future__ import annotations

from collections.abc import Sequence

from ..index.unit_of_work import NewEvent
from .model import STREAM, Message


def stream_of(message_id: str) -> str:
    return f"{STREAM}:{message_id}"


def sent(message_id: str, *, sender: str, to: Sequence[str], subject: str, body: str,
         thread_id: str, mission_id: str | None, importance: str, at: str,
         sortie_id: str | None = None, causation_id: str | None = None) -> NewEvent:
    return NewEvent("message_sent", stream_of(message_id), {
        "message_id": message_id, "sender": sender, "to": list(to), "subject": subject,
        "body": body, "thread_id": thread_id, "mission_id": mission_id,
        "sortie_id": sortie_id, "importance": importance, "sent_at": at,
    }, causation_id=causation_id, correlation_id=mission_id)


def read(message: Message, by: str, at: str) -> list[NewEvent]:
    """Nothing when ``by`` has read it already (reading twice records nothing)."""
    if message.is_read_by(by):
        return []
    return [NewEvent("message_read", stream_of(message.id),
                     {"message_id": message.id, "by": by, "read_at": at},
                     correlation_id=message.mission_id)]


def acked(message: Message, by: str, at: str) -> list[NewEvent]:
    """Nothing when ``by`` has acknowledged it already."""
    if by in message.acked_by:
        return []
    return [NewEvent("message_acked", stream_of(message.id),
                     {"message_id": message.id, "by": by, "acked_at": at},
                     correlation_id=message.mission_id)]
