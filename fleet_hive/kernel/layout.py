"""Where things live under ``.fleet/``: the only module that knows the layout.

```
.fleet/
  config.yaml                         settings
  events/<writer>/<segment>.jsonl     the event log: the only source of truth
  missions/<mission-id>.yaml          derived snapshots
  checkpoints/<mission-id>/<id>.yaml  immutable checkpoints
  local/                              git-ignored: writer id and state, logs, tokens, and
                                      reservations.json (the lock manifest, derived)
  .cache/                             git-ignored: index.sqlite, lock files
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import NotARepositoryError, NotInitializedError

FLEET_DIR = ".fleet"
SEGMENT_SUFFIX = ".jsonl"

GITIGNORE = """\
# fleet-hive: this clone's own files, never committed
local/
.cache/
"""

GITATTRIBUTES = """\
# fleet-hive: event segments are append-only JSONL written by one writer each;
# mission snapshots are derived from them and regenerated after a merge.
events/**/*.jsonl -text
# `fleet-hive hooks install` defines this driver: keep ours, regenerate after the merge
missions/*.yaml merge=fleet-hive-snapshot
"""


@dataclass(frozen=True)
class Layout:
    """Paths of one repository's ``.fleet/`` directory."""

    root: Path  # the repository's working-tree root (holds .fleet/)

    @cached_property
    def fleet(self) -> Path:
        return self.root / FLEET_DIR

    @cached_property
    def config(self) -> Path:
        return self.fleet / "config.yaml"

    @cached_property
    def events(self) -> Path:
        return self.fleet / "events"

    def writer_dir(self, writer: str) -> Path:
        return self.events / writer

    def segment(self, writer: str, name: str) -> Path:
        return self.events / writer / f"{name}{SEGMENT_SUFFIX}"

    @cached_property
    def missions(self) -> Path:
        return self.fleet / "missions"

    @cached_property
    def checkpoints(self) -> Path:
        return self.fleet / "checkpoints"

    @cached_property
    def local(self) -> Path:
        return self.fleet / "local"

    @cached_property
    def writer_id_file(self) -> Path:
        """This clone's current writer id (changes only when the writer forks)."""
        return self.local / "writer"

    @cached_property
    def writer_state(self) -> Path:
        """The writer's fixed-size state record (segment, size, n, clock)."""
        return self.local / "writer.state"

    @cached_property
    def reservation_manifest(self) -> Path:
        """The live reservations as JSON for editors, tools and hooks: derived after every
        reservation change and never read back by fleet-hive."""
        return self.local / "reservations.json"

    @cached_property
    def logs(self) -> Path:
        return self.local / "logs"

    @cached_property
    def cache(self) -> Path:
        return self.fleet / ".cache"

    @cached_property
    def index(self) -> Path:
        return self.cache / "index.sqlite"

    @cached_property
    def writer_lock(self) -> Path:
        """In ``local/``, not ``.cache/``: deleting the cache while processes write must not
        give two of them "the" lock through two different files (``storage.md`` 1)."""
        return self.local / "writer.lock"

    @cached_property
    def git_index_owner(self) -> Path:
        """Which fleet-hive process holds ``.git/index.lock``, while one does."""
        return self.local / "index.lock.owner"

    @cached_property
    def snapshots_stale(self) -> Path:
        """Present while a snapshot could not be written: the next write regenerates all."""
        return self.local / "snapshots.stale"

    @cached_property
    def seq_ledger(self) -> Path:
        """Which ``seq`` numbers the index handed out (kept when the cache is deleted)."""
        return self.local / "seq.ledger"

    @cached_property
    def seq_lock(self) -> Path:
        return self.local / "seq.lock"

    @cached_property
    def git_lock(self) -> Path:
        """Serializes fleet-hive's own git writers; in ``local/`` for the same reason."""
        return self.local / "git.lock"

    @cached_property
    def gitignore(self) -> Path:
        return self.fleet / ".gitignore"

    @cached_property
    def gitattributes(self) -> Path:
        return self.fleet / ".gitattributes"

    @cached_property
    def git_dir(self) -> Path:
        """The repository's git directory (follows a ``.git`` file of a worktree)."""
        dot_git = self.root / ".git"
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return target if target.is_absolute() else (self.root / target).resolve()
        return dot_git

    def segments(self) -> list[tuple[str, str, Path]]:
        """Every segment as ``(writer, name, path)``, in (writer, name) order."""
        return [(w, n, Path(p)) for w, n, p in self.segment_files()]

    def segment_files(self) -> list[tuple[str, str, str]]:
        """Like :meth:`segments` with plain string paths: every read and write lists the
        segments, and building ``Path`` objects was a tenth of a reservation's cost."""
        out: list[tuple[str, str, str]] = []
        events = os.fspath(self.events)
        try:
            writers = sorted(e.name for e in _scandir(events) if e.is_dir())
        except FileNotFoundError:
            return out
        cut = len(SEGMENT_SUFFIX)
        for writer in writers:
            for entry in sorted(_scandir(os.path.join(events, writer)), key=lambda e: e.name):
                if entry.name.endswith(SEGMENT_SUFFIX) and entry.is_file():
                    out.append((writer, entry.name[:-cut], entry.path))
        return out


def _scandir(path: str | Path) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return list(it)


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``.fleet/``."""
    start = start.resolve()
    if not start.exists():
        raise NotARepositoryError(
            f"directory does not exist: {start}", hint="check the path given with -C"
        )
    for candidate in (start, *start.parents):
        if (candidate / FLEET_DIR).is_dir():
            return candidate
    hint = "run `fleet-hive init` in the repository first"
    if find_git_root(start, required=False) is None:
        hint = "run `git init` and then `fleet-hive init`, or pass -C PATH to a repository"
    raise NotInitializedError(f"no .fleet/ directory in {start} or any parent", hint=hint)


def find_git_root(start: Path, *, required: bool = True) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory or a file)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    if required:
        raise NotARepositoryError(
            f"not a git repository: {start}",
            hint="run `git init` first, or pass -C PATH to a repository",
        )
    return None
