"""Mail: messages between agents and people, stored as events.

``hive.mail`` (:class:`Mail`) is the API; :class:`Message` the plain data it returns.
Layers, inner first: ``model`` (the message, its rules), ``fold`` and ``decide`` (pure),
``projection`` (index tables and inbox queries), ``escalation`` (the after-write policy
that mails a blocked sortie to the coordinator), ``service`` (the use cases),
``event_types`` (pydantic, imported on write only) and ``checks`` (``verify``).
"""

from __future__ import annotations

from .model import Message

__all__ = ["Mail", "Message"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .service import Mail


def __getattr__(name: str) -> Any:
    if name == "Mail":
        from .service import Mail

        return Mail
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
