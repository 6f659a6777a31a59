"""Pure: the events of one ``mail:<message id>`` stream, in total order -> the message.

Events this version cannot read (a missing field) are skipped, not fatal: other clones may
run newer versions. A read or ack before the message (clones merged out of order cannot
do that: the sender's event is always first on its stream) is kept for when it comes.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import ID_RE, Message

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events.envelope import Event


def fold_message(events: Iterable[Event]) -> Message | None:
    message: Message | None = None
    read_by: list[str] = []
    acked_by: list[str] = []
    for e in events:
        d = e.data
        try:
            if e.type == "message_sent" and message is None:
                if not ID_RE.matches(d["message_id"]):
                    continue
                message = Message(
                    id=d["message_id"], sender=d["sender"], to=list(d["to"]),
                    subject=d["subject"], body=d.get("body", ""), thread_id=d["thread_id"],
                    mission_id=d.get("mission_id"), importance=d.get("importance", "normal"),
                    time=d["sent_at"], sortie_id=d.get("sortie_id"), order=e.order_key)
            elif e.type == "message_read":
                if d["by"] not in read_by:
                    read_by.append(d["by"])
            elif e.type == "message_acked":
                if d["by"] not in acked_by:
                    acked_by.append(d["by"])
                if d["by"] not in read_by:
                    read_by.append(d["by"])
        except (KeyError, TypeError, ValueError):
            continue
    if message is None:
        return None
    return message.replace(read_by=read_by, acked_by=acked_by)
