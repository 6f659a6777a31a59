"""Checkpoints: immutable snapshots of a mission's state to resume from.

``hive.checkpoints`` (:class:`Checkpoints`) is the API; :class:`CheckpointInfo` and
:class:`ResumeReport` the plain data it returns. Layers, inner first: ``model`` (state,
thresholds, rules), ``files`` (the YAML file: render, hash, read, upcast), ``fold`` and
``decide`` (pure), ``projection`` (index tables and queries), ``triggers`` (the after-write
policy), ``service`` (the use cases), ``event_types`` and ``body`` (pydantic, imported on
write only) and ``checks`` (``verify``).
"""

from __future__ import annotations

__all__ = ["CheckpointInfo", "Checkpoints", "ResumeReport"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .model import CheckpointInfo, ResumeReport
    from .service import Checkpoints


def __getattr__(name: str) -> Any:
    # imported on first use: ``ready`` and ``status`` read stale work (``.stale``) only
    if name == "Checkpoints":
        from .service import Checkpoints

        return Checkpoints
    if name in ("CheckpointInfo", "ResumeReport"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
