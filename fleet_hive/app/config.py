"""``.fleet/config.yaml``: the repository's fleet-hive settings.

Loaded lazily (only write paths need it) with ruamel.yaml's safe loader and validated
with pydantic; a malformed file is a one-line error naming the key, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ..kernel.errors import InvalidInputError

DEFAULT_CONFIG_TEXT = """\
# fleet-hive settings (see README, "Configuration")
# durability: fsync = every append is on disk before it returns; none = left to the OS
durability: fsync
# a writer starts a new segment file once its current one reaches this size
segment_max_bytes: 8388608
# commit .fleet/ automatically at mission milestones (created, completed, checkpoint)
auto_commit: false
# mission snapshots (.fleet/missions/): every_write = rewritten after every write (once the
# writer lock is free; a long-running process at most every 0.25 s and when it closes);
# deferred = a write only notes which changed, and commit, sync and verify bring them up
# to date (writes are faster as processes: no YAML rendering)
snapshots: every_write
# a claimed sortie with no activity for this long is stale (status, ready, recover)
stale_after: 30m
# checkpoint retention (`fleet-hive checkpoint prune`): per mission keep the newest N and
# delete older than the age; the newest checkpoint of an open mission always stays
checkpoint_keep: 20
checkpoint_max_age: 30d
# who receives the mail of a blocked sortie (`sortie block --reason`): an actor name
coordinator: coordinator
# a specialist with no heartbeat for this long is silent (status, recover, dispatch)
specialist_silent_after: 5m
# dispatch: shared = agents work in the repository itself; worktree = one git worktree and
# branch per try, merged through a queue once `verify` passes (docs/dispatch.md)
isolation: shared
verify_after_merge: true
worktree_dir: .fleet/local/worktrees
keep_failed_branches: 20
"""


class ServicesSettings(BaseModel):
    """``services:``: the provider that runs the background server, and its settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = "local"
    port: int = Field(default=8765, ge=0, le=65535)


class Config(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    durability: Literal["fsync", "none"] = "fsync"
    segment_max_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)
    auto_commit: bool = False
    snapshots: Literal["every_write", "deferred"] = "every_write"
    stale_after: str = "30m"  # a duration: 90s, 30m, 2h, 1d
    checkpoint_keep: int = Field(default=20, ge=0)
    checkpoint_max_age: str = "30d"  # a duration (0: every checkpoint is old enough)
    coordinator: str = Field(default="coordinator", min_length=1, max_length=200)
    specialist_silent_after: str = "5m"  # a duration, like stale_after
    services: ServicesSettings = ServicesSettings()

    @field_validator("stale_after", "specialist_silent_after", "checkpoint_max_age",
                     mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> str:
        from ..kernel.clock import parse_duration

        # refused with the same message as the flag
        parse_duration(value, info.field_name or "duration",
                       zero=info.field_name == "checkpoint_max_age")
        return str(value).strip()

    # dispatch (docs/dispatch.md): where agents work, the verify gate, the merge queue
    isolation: Literal["shared", "worktree"] = "shared"
    verify: str | None = None  # a command run in the sortie's worktree before its merge
    verify_after_merge: bool = True
    worktree_dir: str = ".fleet/local/worktrees"
    worktree_disk_budget: str | None = None  # per mission, e.g. 2GB; none: no limit
    keep_failed_branches: int = Field(default=20, ge=0)

    @field_validator("worktree_disk_budget", mode="before")
    @classmethod
    def _size(cls, value: object) -> str | None:
        from ..dispatch.model import parse_size

        parse_size(value)  # refused with the same message everywhere
        return None if value is None else str(value).strip()


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as e:
        raise InvalidInputError(f"cannot read {path}: {e.strerror}") from e
    from ..formats.yaml import YAMLProblem, load

    try:
        raw = load(text)
    except YAMLProblem as e:
        where = f" (line {e.line})" if e.line is not None else ""
        raise InvalidInputError(
            f"{path} is not valid YAML{where}", hint="fix the file or delete it to use defaults"
        ) from e
    if raw is None:
        return Config()
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path} must hold a mapping of settings")
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(
            f"{path}: {key}: {first['msg']}", hint="see the README's Configuration section"
        ) from e
