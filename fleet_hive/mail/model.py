"""Messages as plain data, and the rules for what a message may hold.

A message has one sender (the actor who sent it), one or more recipients (names: agents'
``FLEET_ACTOR`` identities, specialists, ``coordinator``), a subject and a body, an
importance (``low``, ``normal``, ``high``), a thread and optionally a mission. Each
recipient reads it (``read_by``) and may acknowledge it (``acked_by``; an ack counts as
read). Nothing here touches storage or imports pydantic: inbox reads build these.

Storage: one stream per message, ``mail:<message id>`` (``message_sent``, then
``message_read`` and ``message_acked``); a thread is the ``thread_id`` its messages
share (the first message's id unless given), so a thread costs no stream of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..kernel.errors import InvalidInputError
from ..kernel.patterns import LazyPattern
from ..kernel.plain import Plain, setfield

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STREAM = "mail"  # mail:<message id>
PREFIX = "msg-"
IMPORTANCE = ("low", "normal", "high")
DEFAULT_IMPORTANCE = "normal"
MAX_SUBJECT = 500
MAX_BODY = 100_000
MAX_NAME = 200
MAX_RECIPIENTS = 100
DEFAULT_LIMIT = 50
#: a thread id: a message id, or a name of the sender's choosing (``blocker-s-...``)
THREAD_RE = LazyPattern(r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,127}$")
ID_RE = LazyPattern(r"^msg-[0-9a-z]{4,32}$")
#: the thread of the escalation of a blocked sortie (one per sortie)
BLOCKER_THREAD = "blocker-{sortie_id}"


class Message(Plain):
    """One message as the projection holds it (``read_by``/``acked_by`` in order)."""

    __slots__ = _fields = ("id", "sender", "to", "subject", "body", "thread_id",
                           "mission_id", "importance", "time", "read_by", "acked_by",
                           "sortie_id", "order")
    id: str
    sender: str
    to: list[str]
    subject: str
    body: str
    thread_id: str
    mission_id: str | None
    importance: str
    time: str
    read_by: list[str]
    acked_by: list[str]
    sortie_id: str | None  # the sortie a message is about (a blocker), if any
    order: tuple[int, str, int]

    def __init__(self, id: str, sender: str, to: list[str], subject: str, body: str,
                 thread_id: str, mission_id: str | None, importance: str, time: str,
                 read_by: list[str] | None = None, acked_by: list[str] | None = None,
                 sortie_id: str | None = None,
                 order: tuple[int, str, int] = (0, "", 0)) -> None:
        for name, value in zip(self._fields, (
                id, sender, list(to), subject, body, thread_id, mission_id, importance, time,
                list(read_by or ()), list(acked_by or ()), sortie_id, tuple(order)),
                strict=True):
            setfield(self, name, value)

    def is_read_by(self, name: str) -> bool:
        return name in self.read_by or name in self.acked_by

    def to_json(self) -> dict[str, Any]:
        """The ``message`` shape of ``cli.md`` (plus ``sortie_id``)."""
        return {"id": self.id, "from": self.sender, "to": list(self.to),
                "subject": self.subject, "body": self.body, "thread_id": self.thread_id,
                "mission_id": self.mission_id, "importance": self.importance,
                "time": self.time, "read_by": list(self.read_by),
                "acked_by": list(self.acked_by), "sortie_id": self.sortie_id}


# -- rules ---------------------------------------------------------------------------------
def check_name(name: object, what: str = "recipient") -> str:
    """A recipient or reader name: non-empty, one line, at most :data:`MAX_NAME` chars."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"a {what} name is required",
                                hint="names are agents' FLEET_ACTOR identities")
    text = name.strip()
    if len(text) > MAX_NAME or any(c in text for c in "\n\r\t\x00"):
        raise InvalidInputError(f"invalid {what} name {name!r}",
                                hint=f"one line, at most {MAX_NAME} characters")
    return text


def check_recipients(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        name = check_name(n)
        if name not in out:
            out.append(name)
    if not out:
        raise InvalidInputError("a message needs at least one recipient",
                                hint="give --to NAME (repeat it for more)")
    if len(out) > MAX_RECIPIENTS:
        raise InvalidInputError(f"at most {MAX_RECIPIENTS} recipients per message")
    return out


def check_importance(importance: object) -> str:
    if importance not in IMPORTANCE:
        raise InvalidInputError(f"unknown importance {importance!r}",
                                hint="low, normal or high")
    assert isinstance(importance, str)
    return importance


def check_subject(subject: object) -> str:
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidInputError("a message needs a subject", hint="give --subject TEXT")
    text = " ".join(subject.split())
    if len(text) > MAX_SUBJECT:
        raise InvalidInputError(f"the subject is longer than {MAX_SUBJECT} characters",
                                hint="put the details in the body")
    return text


def check_body(body: object) -> str:
    if body is None:
        return ""
    if not isinstance(body, str):
        raise InvalidInputError("the body must be text")
    if len(body) > MAX_BODY:
        raise InvalidInputError(f"the body is longer than {MAX_BODY} characters",
                                hint="send a path to a file instead of the file")
    return body


def check_thread(thread: object) -> str:
    if not isinstance(thread, str) or not THREAD_RE.matches(thread):
        raise InvalidInputError(f"invalid thread id {thread!r}",
                                hint="a message id (to reply in its thread) or a name of "
                                     "letters, digits and _.:/+- (up to 128)")
    return thread


def check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInputError(f"--limit must be a whole number, got {limit!r}")
    return limit
