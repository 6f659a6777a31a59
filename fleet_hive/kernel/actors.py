"""Who acts: a name, or a way to find it that is asked only when a write needs it.

Finding the default actor reads git's config (:func:`fleet_hive.app.hive.default_actor`,
``configparser``); the capabilities take :data:`Actor` so that a read never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Actor: TypeAlias = "str | Callable[[], str]"


def actor_name(actor: Actor) -> str:
    """The name ``actor`` gives (calling it when it is a way to find one)."""
    return actor() if callable(actor) else actor
