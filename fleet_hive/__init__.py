"""fleet-hive: a git-backed, file-based tracker for coordinating coding agents.

``fleet_hive.open(path)`` / ``fleet_hive.init(path)`` return a :class:`~fleet_hive.app.hive.Hive`.
Imports are lazy so that ``import fleet_hive`` costs next to nothing on read paths.
"""

from __future__ import annotations

from .kernel.errors import FleetHiveError

__version__ = "0.1.0"
__all__ = ["FleetHiveError", "Hive", "__version__", "init", "open"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .app.hive import Hive, init, open


def __getattr__(name: str) -> Any:
    if name in ("Hive", "init", "open"):
        from .app import hive

        return getattr(hive, name)
    raise AttributeError(f"module 'fleet_hive' has no attribute {name!r}")
