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


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"3m"``) at ``path`` for the block's duration."""
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
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def remount_read_write(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,rw", str(path)], check=True, capture_output=True)


def fill(path: Path) -> Path:
    """Write a filler file until the filesystem holding ``path`` is full; returns it."""
    filler = path / "filler"
    with open(filler, "wb") as f:
        block = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                f.write(block)
                f.flush()
    with open(filler, "ab") as f, contextlib.suppress(OSError):  # the last partial block
        for _ in range(65536):
            f.write(b"\0")
            f.flush()
    return filler
