"""The hook shims ``fleet-hive hooks install`` writes, and the hooks they chain.

One template (``hooks/hook-tmpl``, shipped as ``fleet_hive/_resources/hooks``) serves every
hook: a few lines of ``sh`` that exec the Python that installed it (``PYTHON -P -m
fleet_hive hooks run NAME``), else ``fleet-hive`` on the PATH. A hook that was already
there is kept as ``NAME.fleet-hive-chained`` and run first by ``hooks run`` through
:func:`run_chained`, so the chaining rules live in Python once, not in a copy of shell per
hook; ``uninstall`` puts it back. ``core.hooksPath`` is respected. The snapshot merge
driver an older version configured is removed here: snapshots are no longer committed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..kernel.errors import ConflictError, StorageError
from ..kernel.fsio import write_atomic
from ..kernel.layout import OLD_ATTRIBUTES_LINES

if TYPE_CHECKING:
    from .repo import Repository

HOOKS = ("pre-commit", "post-merge", "post-checkout", "post-rewrite")
TEMPLATE = "hook-tmpl"
MARKER = "# fleet-hive hook shim"
CHAINED_SUFFIX = ".fleet-hive-chained"
MERGE_DRIVER = "fleet-hive-snapshot"


@dataclass
class InstallResult:
    hooks_dir: str
    hooks: dict[str, str] = field(default_factory=dict)  # name -> what happened
    merge_driver: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"hooks_dir": self.hooks_dir, "hooks": self.hooks,
                "merge_driver": self.merge_driver}


def shim_text(name: str, python: str) -> str:
    """The shim for hook ``name`` that runs fleet-hive with ``python``."""
    from ..kernel.resources import read_text

    quoted = python.replace("'", "'\\''")  # the template quotes it in '...'
    return read_text("hooks", TEMPLATE).replace("@HOOK@", name).replace("@PYTHON@", quoted)


def is_shim(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return False


def install(repo: Repository, python: str, gitattributes: Path) -> InstallResult:
    """Install the shims (chaining existing hooks); remove the snapshot merge driver an
    older version defined, and the line of ``gitattributes`` that named it."""
    hooks_dir = repo.hooks_dir()
    result = InstallResult(str(hooks_dir))
    try:
        hooks_dir.mkdir(parents=True, exist_ok=True)
        for name in HOOKS:
            target = hooks_dir / name
            chained = hooks_dir / f"{name}{CHAINED_SUFFIX}"
            if is_shim(target):
                action = "updated"
            elif target.exists() or target.is_symlink():
                if chained.exists() or chained.is_symlink():
                    raise ConflictError(
                        f"{target} is not fleet-hive's and {chained.name} already exists",
                        hint="move one of them away, then run `fleet-hive hooks install` again")
                os.replace(target, chained)
                action = "installed, chaining the existing hook"
            else:
                action = "installed"
            write_atomic(target, shim_text(name, python), mode=0o755)
            result.hooks[name] = action
        # Snapshots are no longer committed, so nothing needs a merge driver: the one an
        # older version defined is removed, and so is the attribute naming it.
        repo.set_config(("merge", MERGE_DRIVER), None)
        result.merge_driver = "none (snapshots are not committed)"
        _drop_attributes(gitattributes)
    except OSError as e:
        raise StorageError(f"cannot install hooks in {hooks_dir}: {e.strerror or e}") from e
    return result


def uninstall(repo: Repository) -> InstallResult:
    """Remove the shims, restore chained hooks, remove the merge driver's config."""
    hooks_dir = repo.hooks_dir()
    result = InstallResult(str(hooks_dir))
    try:
        for name in HOOKS:
            target = hooks_dir / name
            chained = hooks_dir / f"{name}{CHAINED_SUFFIX}"
            if is_shim(target):
                target.unlink()
                action = "removed"
            elif target.exists():
                result.hooks[name] = "not fleet-hive's: left alone"
                continue
            else:
                action = "not installed"
            if chained.exists() or chained.is_symlink():
                os.replace(chained, target)
                action = "restored the chained hook"
            result.hooks[name] = action
        repo.set_config(("merge", MERGE_DRIVER), None)
        result.merge_driver = "removed"
    except OSError as e:
        raise StorageError(f"cannot uninstall hooks in {hooks_dir}: {e.strerror or e}") from e
    return result


def run_chained(hooks_dir: Path, name: str, args: Sequence[str]) -> int | None:
    """Run the hook ours replaced (``NAME.fleet-hive-chained`` in ``hooks_dir``) as git
    would: git's arguments, our stdin, stdout and stderr. Its exit status; None when there
    is none to run (absent or not executable: git would skip it too)."""
    path = hooks_dir / f"{name}{CHAINED_SUFFIX}"
    if not (path.is_file() and os.access(path, os.X_OK)):
        return None
    from ..kernel import processes

    argv = [str(path), *args]
    try:
        try:
            return processes.run(argv).status
        except OSError as e:
            if e.errno != errno.ENOEXEC:
                raise
            return processes.run(["/bin/sh", *argv]).status  # no #! line: a shell script
    except OSError as e:
        raise StorageError(f"cannot run {path}: {e.strerror or e}",
                           hint="fix its #! line, or move it away and run `fleet-hive hooks "
                                "install` again") from e


def _drop_attributes(path: Path) -> None:
    """``.fleet/.gitattributes`` no longer names the old snapshot merge driver."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    kept = [line for line in text.splitlines() if line.strip() not in OLD_ATTRIBUTES_LINES]
    if len(kept) != len(text.splitlines()):
        write_atomic(path, "\n".join(kept) + "\n" if kept else "")
