"""An agent's output, kept per sortie and capped: ``.fleet/local/dispatch/logs/<id>.log``.

The dispatcher reads the agent's stdout and stderr from pipes and writes them here as
they come (each try under a header). Past ``max_bytes`` a file keeps growing no more: what
follows is counted, and its last bytes are written when the try ends, so the head and the
tail of a long run are both there. The tail of stderr is kept apart for the failed try's
reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from .model import TAIL_BYTES


class CappedLog:
    def __init__(self, path: Path, header: str, *, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._size = self._file.tell()
        self._max = max_bytes
        self._dropped = 0
        self._tail = bytearray()  # the last bytes past the cap
        self._err = bytearray()  # the last bytes of stderr
        self._write(f"=== {header} ===\n".encode())

    def _write(self, data: bytes) -> None:
        room = self._max - self._size
        if room > 0:
            chunk = data[:room]
            self._file.write(chunk)
            self._size += len(chunk)
            data = data[len(chunk):]
        if data:
            self._dropped += len(data)
            self._tail += data
            del self._tail[:-TAIL_BYTES]

    def feed(self, data: bytes, *, stderr: bool) -> None:
        self._write(data)
        if stderr:
            self._err += data
            del self._err[:-TAIL_BYTES]

    def stderr_tail(self) -> str:
        return bytes(self._err).decode("utf-8", "replace")

    def close(self, footer: str) -> None:
        if self._dropped:
            kept = len(self._tail)
            self._file.write(f"\n[... {self._dropped - kept} bytes not kept (log cap "
                             f"{self._max} bytes) ...]\n".encode())
            self._file.write(bytes(self._tail))
        self._file.write(f"\n=== {footer} ===\n".encode())
        self._file.close()


def read_tail(path: Path, size: int = TAIL_BYTES) -> str:
    """The last ``size`` bytes of a log ("" when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
