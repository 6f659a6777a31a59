"""The ``.fleet/`` changes a commit would record, as the pre-commit checks see them.

``fleet-hive commit`` (the working tree against HEAD) and the pre-commit hook (the index git
is about to commit, against HEAD) hand the same checks a list of :class:`FleetChange`;
``verify`` hands them HEAD's segments as the working tree has them
(:func:`committed_segments`). The append-only rule needs one fact about a changed segment,
whether the committed content is a prefix of the new one; :func:`compare` proves it without
reading the old blob when the index entry's size allows, and otherwise names the first line
that differs. It is the one comparison of committed and new content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..kernel.errors import StorageError
from .index_file import Entry, IndexFile

if TYPE_CHECKING:
    from .repo import File, Repository

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
    """One ``.fleet/`` file a commit changes, as the checks need it (or, with ``context``,
    an unchanged committed segment that new lines of its writer must follow)."""

    path: str  # repository-relative, '/'-separated
    old_size: int | None  # size of the committed version; None: the file is new
    new: bytes | None  # the content to commit; None: the file is deleted
    prefix_kept: bool  # the committed content is a prefix of the new one
    changed_line: int | None = None  # first committed line (1-based) not kept, if known
    context: bool = False  # not changed: a committed segment the checks compare new ones to

    @property
    def is_segment(self) -> bool:
        return self.path.startswith(SEGMENTS_DIR) and self.path.endswith(".jsonl")

    @property
    def writer(self) -> str:
        """The writer whose directory holds this segment."""
        return self.path[len(SEGMENTS_DIR):].split("/", 1)[0]

    @property
    def new_events(self) -> int:
        """Complete event lines this change adds (segments only)."""
        if not self.is_segment or self.new is None:
            return 0
        start = self.old_size if self.prefix_kept and self.old_size else 0
        return self.new.count(b"\n", start)


def compare(repo: Repository, path: bytes, old_sha: bytes | None, new: bytes | None,
            entry: Entry | None = None) -> FleetChange:
    """How the committed blob ``old_sha`` (None: the file is new) and ``new`` (None: the
    file is deleted) relate, as the checks see it.

    Whether the old blob is a prefix of ``new`` is proved without reading it when the index
    entry vouches for it (the blob id of that many bytes of ``new`` equals the old blob's
    id); otherwise the old blob is read, and when it is not a prefix the first line where
    the two differ is named (``changed_line``).
    """
    text = path_text(path)
    if old_sha is None:
        return FleetChange(text, None, new, False)
    if new is None:
        return FleetChange(text, len(repo.blob_data(old_sha)), None, False)
    if (entry is not None and entry.hexsha == old_sha and 0 < entry.size <= len(new)
            and repo.blob_id(new[:entry.size]) == old_sha):
        return FleetChange(text, entry.size, new, True)
    old = repo.blob_data(old_sha)
    if new.startswith(old):
        return FleetChange(text, len(old), new, True)
    return FleetChange(text, len(old), new, False, first_changed_line(old, new))


def first_changed_line(old: bytes, new: bytes) -> int:
    """The 1-based line of ``old`` where ``new`` first differs from it (``old`` is not a
    prefix of ``new``): an edited line, or the first line removed."""
    end = min(len(old), len(new))
    pos, step = 0, 1 << 16
    while pos < end and old[pos:pos + step] == new[pos:pos + step]:
        pos += step  # whole blocks first, then byte by byte inside the first that differs
    while pos < end and old[pos] == new[pos]:
        pos += 1
    return old.count(b"\n", 0, pos) + 1


def with_predecessors(repo: Repository, changes: list[FleetChange],
                      committed: Mapping[bytes, File]) -> list[FleetChange]:
    """``changes``, plus for each writer that starts a new segment in them the last of its
    committed segments (``committed``: HEAD's files) that they leave unchanged, as a
    ``context`` change with nothing new: the ``n`` of the writer's new lines must follow
    that segment's last. A writer without one has no committed segment: its ``n`` starts at 1.
    """
    starting = {c.writer for c in changes if c.is_segment and c.old_size is None and c.new}
    if not starting:
        return changes
    listed = {c.path for c in changes}
    last: dict[str, bytes] = {}
    for path in sorted(committed):
        text = path_text(path)
        if is_segment(path) and text not in listed:
            writer = text[len(SEGMENTS_DIR):].split("/", 1)[0]
            if writer in starting:
                last[writer] = path
    out = list(changes)
    for _writer, path in sorted(last.items()):
        data = repo.blob_data(committed[path][1])
        out.append(FleetChange(path_text(path), len(data), data, True, context=True))
    return out


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
        old = tree.get(p)
        fleet.append(compare(repo, p, old and old[1], repo.blob_data(staged[p][1])))
    for p in sorted(removed):
        if p.startswith(FLEET):
            fleet.append(compare(repo, p, tree[p][1], None))
        else:
            other.append(path_text(p))
    return with_predecessors(repo, fleet, tree), sorted(other)


def committed_segments(repo: Repository) -> list[FleetChange]:
    """HEAD's event segments whose working-tree copy is not HEAD's content: grown, edited,
    shortened or missing (``verify`` reports all but the grown ones). Empty without a HEAD.

    Every such file is read and compared in full (a same-length edit in place keeps the
    stat git trusts), the index entry only sparing the read of the old blob.
    """
    head = repo.tree_of(repo.head())
    committed = sorted((p, f) for p, f in repo.files_under(head, FLEET.rstrip(b"/")).items()
                       if is_segment(p))
    if not committed:
        return []
    try:
        index = IndexFile.read(repo.index_path)
    except StorageError:  # git's own problem, not the log's: read the committed blobs
        index = IndexFile()
    root = os.fsencode(str(repo.root))
    out: list[FleetChange] = []
    for path, (_mode, sha) in committed:
        try:
            with open(os.path.join(root, path), "rb") as f:
                new: bytes | None = f.read()
        except FileNotFoundError:
            new = None
        except OSError as e:
            raise StorageError(f"cannot read {path_text(path)}: {e.strerror or e}") from e
        change = compare(repo, path, sha, new, index.get(path))
        if not (change.prefix_kept and change.new is not None
                and len(change.new) == change.old_size):
            out.append(change)
    return out
