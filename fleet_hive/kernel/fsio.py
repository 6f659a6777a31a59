"""Atomic file writes: the only copy of temp file + fsync + rename in fleet-hive.

A reader sees the old file or the new one, never half of one. With ``durable`` (the
default) the data and the directory entry are fsync'ed, so the new file survives a power
loss once this returns. Derived files that are rewritten on every change and rebuilt from
the log when lost (snapshots, manifests) may pass ``durable=False``: a crash leaves the old
version, which the next write repairs.
"""

from __future__ import annotations

import contextlib
import os
import time


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None,
                 durable: bool = True, skip_unchanged: bool = False) -> bool:
    """Replace ``path`` with ``data``; returns False when ``skip_unchanged`` found it equal.

    ``mode`` sets the permission bits (e.g. ``0o755`` for a hook). The temp file lives
    beside the target (same filesystem, so the rename is atomic) and is removed on failure.
    """
    target = os.fspath(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if skip_unchanged:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError), \
                open(target, "rb") as f:
            if f.read() == raw:
                return False
    parent, name = os.path.split(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode is None else mode)
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            if mode is not None:
                os.fchmod(fd, mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(parent or ".")
    return True


def fsync_dir(path: str | os.PathLike[str], *, best_effort: bool = True) -> None:
    """Make a directory's entries (a new or renamed file) durable. The event log passes
    ``best_effort=False``: an append whose directory entry may not be on disk has failed."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        if not best_effort:
            raise


def publish(path: str | os.PathLike[str], data: bytes, *,
            skip_unchanged: bool = False) -> bool:
    """Replace a local, derived, often rewritten file atomically and cheaply.

    ``path`` becomes a symlink to a new data file beside it (``.NAME.<unique>``), switched
    with one rename. On ext4 renaming a regular file over an existing one forces the new
    file's blocks to disk (``auto_da_alloc``): 0.3 to 1.3 ms after the log's own fsync, more
    than the reservation decision it follows. Renaming a symlink does not. Readers see
    the old content or the new, never a mix; the previous data file is kept one more
    generation, so a reader that has just resolved the old link still finds its target.
    Not for files committed to git (they would become symlinks there); not durable.
    """
    target = os.fspath(path)
    if skip_unchanged:
        with contextlib.suppress(OSError), open(target, "rb") as f:
            if f.read() == data:
                return False
    directory, base = os.path.split(target)
    directory = directory or "."
    os.makedirs(directory, exist_ok=True)
    prefix = f".{base}."
    name = f"{prefix}{os.getpid()}.{time.monotonic_ns()}"
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    try:
        previous = os.readlink(target)
    except OSError:
        previous = None
    link = os.path.join(directory, f"{prefix}{os.getpid()}.link")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link)
    try:
        os.symlink(name, link)
        os.replace(link, target)
    except BaseException:
        for leftover in (link, os.path.join(directory, name)):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        raise
    keep = {name, previous}
    with os.scandir(directory) as entries:
        stale = [e.name for e in entries if e.name.startswith(prefix) and e.name not in keep
                 and not e.name.endswith(".link")]
    for old in stale:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, old))
    return True
