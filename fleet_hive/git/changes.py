"""The ``.fleet/`` changes a commit would record, as the pre-commit checks see them.

``fleet-hive commit`` (the working tree against HEAD) and the pre-commit hook (the index git
is about to commit, against HEAD) hand the same checks a list of :class:`FleetChange`. The
append-only rule needs one fact about a changed segment, whether the committed content is
a prefix of the new one; :func:`prefix_of` proves it without reading the old blob when the
index entry's size allows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .index_file import Entry, IndexFile

if TYPE_CHECKING:
    from .repo import Repository

FLEET = b".fleet/"
EVENTS = b".fleet/events/"
MISSIONS = b".fleet/missions/"
SEGMENT_SUFFIX = b".jsonl"
SEGMENTS_DIR = ".fleet/events/"


def path_text(path: bytes) -> str:
    """A repository path as fleet-hive shows and checks it."""
    return os.fsdecode(path)


def is_segment(path: bytes) -> bool:
    return path.startswith(EVENTS) and path.endswith(SEGMENT_SUFFIX)


@dataclass(frozen=True)
class FleetChange:
    """One ``.fleet/`` file a commit changes, as the checks need it."""

    path: str  # repository-relative, '/'-separated
    old_size: int | None  # size of the committed version; None: the file is new
    new: bytes | None  # the content to commit; None: the file is deleted
    prefix_kept: bool  # the committed content is a prefix of the new one

    @property
    def is_segment(self) -> bool:
        return self.path.startswith(SEGMENTS_DIR) and self.path.endswith(".jsonl")

    @property
    def new_events(self) -> int:
        """Complete event lines this change adds (segments only)."""
        if not self.is_segment or self.new is None:
            return 0
        start = self.old_size if self.prefix_kept and self.old_size else 0
        return self.new.count(b"\n", start)


def prefix_of(repo: Repository, old_sha: bytes, new: bytes, entry: Entry | None,
              ) -> tuple[int, bool]:
    """(size of the old blob, whether it is a prefix of ``new``), without reading the old
    blob when the index entry's size proves it: the blob id of that many bytes of ``new``
    equals the old blob's id."""
    if (entry is not None and entry.hexsha == old_sha and 0 < entry.size <= len(new)
            and repo.blob_id(new[:entry.size]) == old_sha):
        return entry.size, True
    old = repo.blob_data(old_sha)
    return len(old), new.startswith(old)


def staged_changes(repo: Repository, index_file: Path | None = None,
                   ) -> tuple[list[FleetChange], list[str]]:
    """What the next ``git commit`` would record, against HEAD: the ``.fleet/`` files
    (with contents, for the pre-commit checks) and every other changed path."""
    path = index_file or repo.index_path
    if not path.is_absolute():
        path = repo.root / path
    index = IndexFile.read(path)
    tree = repo.files(repo.tree_of(repo.head()))
    staged: dict[bytes, tuple[int, bytes]] = {}
    present: set[bytes] = set()  # every path in the index, conflicted ones too
    for e in index.entries():
        present.add(e.name)
        if e.stage == 0:
            staged[e.name] = (e.mode, e.hexsha)
    changed = [p for p, v in staged.items() if tree.get(p) != v]
    removed = [p for p in tree if p not in present]
    fleet: list[FleetChange] = []
    other: list[str] = []
    for p in sorted(changed):
        if not p.startswith(FLEET):
            other.append(path_text(p))
            continue
        new = repo.blob_data(staged[p][1])
        old = tree.get(p)
        if old is None:
            fleet.append(FleetChange(path_text(p), None, new, False))
        else:
            size, prefix = prefix_of(repo, old[1], new, None)
            fleet.append(FleetChange(path_text(p), size, new, prefix))
    for p in sorted(removed):
        if p.startswith(FLEET):
            fleet.append(FleetChange(path_text(p), len(repo.blob_data(tree[p][1])), None, False))
        else:
            other.append(path_text(p))
    return fleet, sorted(other)
