"""Learning ("tech orders"): what actually happened to sorties and missions, scored per
strategy and task feature with decay, and the advice planning takes from it.

``hive.learning`` (:class:`Learning`) is the API; :class:`Advice`, :class:`Pattern` and
:class:`Outcome` the plain data it returns; :func:`task_features` the feature tags of a
task. Layers, inner first: ``model`` (features, scoring, plain data), ``fold`` and
``decide`` (pure), ``projection`` (index tables and queries), ``policy`` (the after-write
policy that records outcomes), ``service`` (the use cases), ``event_types`` (pydantic,
imported on write only) and ``checks`` (``verify``).
"""

from __future__ import annotations

from .model import STRATEGIES, Advice, Outcome, Pattern, task_features

__all__ = ["STRATEGIES", "Advice", "Learning", "Outcome", "Pattern", "task_features"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .service import Learning


def __getattr__(name: str) -> Any:
    if name == "Learning":
        from .service import Learning

        return Learning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
