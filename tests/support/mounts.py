"""Real small or read-only filesystems for fault tests: a tmpfs mounted for one test.

Mounting needs root (CI runs as root); elsewhere the test is skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PAGE = 4096  # tmpfs hands out space in pages


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"3m"``) at ``path`` for the block's duration;
    always unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def remount_read_write(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,rw", str(path)], check=True, capture_output=True)


def free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int = 0) -> Path:
    """A filler file on the filesystem holding ``path`` that leaves ``leave`` bytes free
    (none by default: then it writes until the filesystem refuses even one byte)."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if leave:
            os.write(fd, b"\0" * max(0, free(path) - leave))
        else:
            for chunk in (1 << 16, 1 << 10, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    assert free(path) <= leave
    return filler
