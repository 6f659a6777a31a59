"""The mission and sortie rules of ``spec/cli.md`` written out by hand (the tests check
the code against these, not against the code's own tables), and a snapshot of every file
under ``.fleet/`` for "nothing was written" checks."""

from __future__ import annotations

from pathlib import Path

MISSION_KEYS = {"id", "title", "description", "status", "priority", "labels", "progress",
                "created_at", "updated_at"}
SORTIE_KEYS = {"id", "mission_id", "title", "description", "status", "priority", "files",
               "depends_on", "specialist", "progress", "created_at", "updated_at"}

# The transition rules of cli.md, written out by hand: action -> {from: to}.
SORTIE_ALLOWED: dict[str, dict[str, str]] = {
    "claim": {"pending": "assigned"},
    "start": {"assigned": "in_progress"},
    "complete": {"in_progress": "completed"},
    "fail": {"assigned": "failed", "in_progress": "failed"},
    "block": {"in_progress": "blocked"},
    "unblock": {"blocked": "in_progress"},
    "cancel": {s: "cancelled" for s in ("pending", "assigned", "in_progress", "blocked",
                                         "failed")},
    "retry": {"failed": "pending"},
    "progress": {"in_progress": "in_progress", "blocked": "blocked"},
}
#: how to bring a fresh sortie into each status
SORTIE_PATHS: dict[str, list[str]] = {
    "pending": [],
    "assigned": ["claim"],
    "in_progress": ["claim", "start"],
    "blocked": ["claim", "start", "block"],
    "completed": ["claim", "start", "complete"],
    "failed": ["claim", "fail"],
    "cancelled": ["cancel"],
}
MISSION_ALLOWED: dict[str, dict[str, str]] = {
    "start": {"pending": "in_progress"},
    "complete": {"in_progress": "completed"},
    "cancel": {"pending": "cancelled", "in_progress": "cancelled"},
    "reopen": {"completed": "in_progress", "cancelled": "in_progress"},
}
MISSION_PATHS: dict[str, list[str]] = {
    "pending": [],
    "in_progress": ["start"],
    "completed": ["start", "complete"],
    "cancelled": ["cancel"],
}


def fleet_files(repo: Path) -> dict[str, bytes]:
    """Every committed-kind file under .fleet/ (events and snapshots), by path."""
    fleet = repo / ".fleet"
    return {str(p.relative_to(fleet)): p.read_bytes()
            for sub in ("events", "missions") for p in sorted((fleet / sub).rglob("*"))
            if p.is_file()}
