"""``hive.mail``: send, list an inbox (waiting for mail if asked), read, acknowledge.

The service gets its ports in the constructor: the unit of work (a function, so reads
never build it), the index (reads), the actor, a clock, a way to resolve a mission id
prefix, and ``watch`` (the directories whose change means a new event: the log). It calls
no other capability for a side effect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from ..index.unit_of_work import built
from ..kernel import clock
from ..kernel.actors import Actor, actor_name
from ..kernel.errors import InvalidInputError, NotFoundError, TimeoutExpiredError
from ..kernel.ids import new_short_id
from . import decide as d
from . import projection as q
from .model import (
    DEFAULT_IMPORTANCE,
    PREFIX,
    Message,
    check_body,
    check_importance,
    check_limit,
    check_name,
    check_recipients,
    check_subject,
    check_thread,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ReadView
    from ..index.unit_of_work import UnitOfWork

#: ``watch()`` arms a watcher (see :class:`fleet_hive.kernel.watch.Watcher`)
Watch = Callable[[], AbstractContextManager["Any"]]


class Mail:
    def __init__(self, uow: UnitOfWork | Callable[[], UnitOfWork], index: ReadView, *,
                 actor: Actor,
                 resolve_mission: Callable[[str], str] | None = None,
                 watch: Watch | None = None, now: clock.Clock = clock.now) -> None:
        self._uow = uow
        self._index = index
        self._actor_of = actor  # a callable: asked only when a write needs it
        self._resolve_mission = resolve_mission
        self._watch = watch
        self._now = now

    # -- ids -----------------------------------------------------------------------------
    def resolve_id(self, ref: object, *, catch_up: bool = True) -> str:
        """The full message id for ``ref`` (an id or unique prefix, ``msg-`` optional)."""
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInputError("a message id is required")
        text = ref.strip().lower()
        if not text.startswith(PREFIX):
            text = PREFIX + text
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in text):
            raise NotFoundError(f"no message matches {ref!r}",
                                hint="list them: fleet-hive mail inbox NAME")
        found = q.by_prefix(self._index, text, catch_up=catch_up)
        if text in found:
            return text
        if len(found) == 1:
            return found[0]
        if not found:
            raise NotFoundError(f"no message matches {ref!r}",
                                hint="list them: fleet-hive mail inbox NAME")
        shown = ", ".join(found[:10]) + (", ..." if len(found) > 10 else "")
        raise InvalidInputError(f"ambiguous message id {ref!r}: matches {shown}",
                                code="ambiguous_id", hint="give more characters of the id")

    # -- writing -------------------------------------------------------------------------
    @property
    def _actor(self) -> str:
        return actor_name(self._actor_of)

    def send(self, to: Sequence[str], subject: str, body: str | None = "", *,
             thread: str | None = None, mission: str | None = None,
             importance: str = DEFAULT_IMPORTANCE, sortie_id: str | None = None,
             sender: str | None = None, causation_id: str | None = None) -> Message:
        """Send a message from the actor (or ``sender``). ``thread`` is a thread id, or a
        message id (or prefix) to reply in that message's thread; ``mission`` an id or
        unique prefix."""
        recipients = check_recipients(list(to))
        subject = check_subject(subject)
        body = check_body(body)
        importance = check_importance(importance)
        who = check_name(sender or self._actor, "sender")
        mission_id = None
        if mission is not None and str(mission).strip():
            if self._resolve_mission is None:
                raise InvalidInputError("missions are not available here")
            mission_id = self._resolve_mission(mission)
        message_id = new_short_id(PREFIX)
        thread_id = message_id
        if thread is not None and str(thread).strip():
            thread_id = self._thread_of(str(thread).strip())
        at = clock.iso(self._now())
        event = d.sent(message_id, sender=who, to=recipients, subject=subject, body=body,
                       thread_id=thread_id, mission_id=mission_id, importance=importance,
                       at=at, sortie_id=sortie_id, causation_id=causation_id)
        stored = built(self._uow).run(lambda _view: [event])
        return Message(message_id, who, recipients, subject, body, thread_id, mission_id,
                       importance, at, sortie_id=sortie_id,
                       order=stored[0].order_key if stored else (0, "", 0))

    def _thread_of(self, ref: str) -> str:
        """A reply's thread: the thread of the message ``ref`` names, else ``ref``."""
        if ref.lower().startswith(PREFIX):
            try:
                found = q.get(self._index, self.resolve_id(ref))
            except NotFoundError:
                found = None
            if found is not None:
                return found.thread_id
        return check_thread(ref)

    def read(self, ref: str, *, by: str | None = None) -> Message:
        """The message, marked read by ``by`` (default: the actor)."""
        reader = check_name(by or self._actor, "reader")
        return self._mark(ref, lambda m, at: d.read(m, reader, at))

    def ack(self, ref: str, *, by: str) -> Message:
        """Acknowledge the message as ``by`` (which marks it read by ``by`` too)."""
        name = check_name(by, "acknowledging")
        return self._mark(ref, lambda m, at: d.acked(m, name, at))

    def _mark(self, ref: str, decide: Callable[[Message, str], list[Any]]) -> Message:
        message_id = self.resolve_id(ref)

        def decision(view: ReadView) -> list[Any]:
            m = q.get(view, message_id, catch_up=False)
            if m is None:
                raise NotFoundError(f"no message {message_id}")
            return decide(m, clock.iso(self._now()))

        built(self._uow).run(decision)
        return self.get(message_id)

    # -- reading -------------------------------------------------------------------------
    def get(self, ref: str) -> Message:
        message_id = self.resolve_id(ref)
        found = q.get(self._index, message_id)
        if found is None:
            raise NotFoundError(f"no message {message_id}")
        return found

    def inbox(self, name: str, *, unread: bool = False, limit: int | None = None,
              wait: float | None = None) -> list[Message]:
        """``name``'s messages, newest first. With ``wait`` (seconds): if ``name`` has no
        unread message, block until one arrives (woken by the log changing, not by
        polling), then answer; TimeoutExpiredError (exit 4) when none came in time."""
        name = check_name(name)
        limit = check_limit(limit)
        if wait is None:
            return q.inbox(self._index, name, unread=unread, limit=limit)
        if wait < 0:
            raise InvalidInputError(f"--wait must not be negative, got {wait!r}")
        deadline = time.monotonic() + wait
        if self._watch is None:
            raise InvalidInputError("waiting for mail is not available here")
        with self._watch() as watcher:  # armed before the look: no arrival is missed
            while True:
                if q.unread_count(self._index, name):
                    return q.inbox(self._index, name, unread=unread, limit=limit)
                left = deadline - time.monotonic()
                if left <= 0 or not watcher.wait(left):
                    if q.unread_count(self._index, name):
                        continue
                    raise TimeoutExpiredError(
                        f"no unread mail for {name} after {wait:g} s",
                        hint="wait longer with --wait SECONDS")

    def thread(self, thread_id: str) -> list[Message]:
        """A thread's messages, oldest first (``thread_id`` or a message of it)."""
        tid = self._thread_of(thread_id.strip())
        return q.thread(self._index, tid)

    def of_mission(self, mission_id: str, *, limit: int | None = None) -> list[Message]:
        """A mission's messages (full id), newest first: the brief's and checkpoints'
        "recent mail"."""
        return q.of_mission(self._index, mission_id, limit=limit)

    def unread_count(self, name: str) -> int:
        return q.unread_count(self._index, check_name(name))
