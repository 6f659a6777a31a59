"""``fleet-hive status``: one JSON-ready object assembled from each capability's part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hive import Hive


def status_report(hive: Hive) -> dict[str, Any]:
    """Missions (progress, active, blocked, conflicts), reservations, index freshness."""
    from ..missions.service import overview

    index_status = hive.index.status().to_json()  # before anything else catches up
    report = overview(hive.missions, hive.sorties)
    report["reservations"] = [r.to_json() for r in hive.reservations.active()]
    report["index"] = index_status
    return report
