"""The seq ledger: which ``seq`` numbers this clone's index handed out (``storage.md`` 8).

``seq`` is a local position, given in the order events reached this clone. It cannot be
derived from the log (an event merged from another clone later gets a higher ``seq`` than
older events already here), so the index cache alone cannot keep it stable: deleting
``.fleet/.cache/`` or ``index rebuild`` would renumber everything. The ledger, in
``.fleet/local/seq.ledger`` (this clone's state, never deleted with the cache), records each
ingestion as a *chunk*: a byte range of one segment and the first ``seq`` it received. The
``i``-th complete line of the chunk has ``first_seq + i`` (invalid lines and duplicate ids
burn their number), so a chunk is a few dozen bytes however many events it holds. An index
that reads the segment again (a rebuild, a new cache) gives the same lines the same
numbers, after checking the chunk's bytes still hash the same.

Records are JSON arrays, one per line, appended in the order they happened:

- ``["i", rel, start, end, first_seq, count, hash]``: bytes ``[start, end)`` of segment
  ``rel`` (relative to ``.fleet/events``) hold ``count`` lines numbered from ``first_seq``;
  it replaces an earlier chunk of ``rel`` at the same ``start``;
- ``["d", rel, offset]``: the chunks of ``rel`` starting at or after ``offset`` are gone (a
  checkout or reset removed those bytes: if they come back, they are new to consumers);
- ``["h", high]``: every ``seq`` below ``high`` was handed out (first record after a rewrite).

The ledger is only appended to (and rewritten compacted) under its own lock,
``.fleet/local/seq.lock``, taken inside the index's write transaction. Each record is one
``write`` of a few dozen bytes; a torn last line is ignored and never glued onto. It is not
fsync'ed: like the index, it survives a killed process (the page cache does), not a power
loss.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property

from ..kernel import jsonload
from ..kernel.fsio import write_atomic
from ..kernel.jsondump import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..kernel.locking import FileMutex

Record = list["Any"]


def chunk_hash(data: bytes) -> str:
    """The fingerprint of a chunk's bytes."""
    from ..kernel.digest import blake2b  # here: reads never hash

    return blake2b(data, digest_size=12).hexdigest()


class Hasher:
    """A chunk's fingerprint built line by line while it is ingested."""

    __slots__ = ("_h",)

    def __init__(self) -> None:
        from ..kernel.digest import blake2b

        self._h = blake2b(digest_size=12)

    def line(self, raw: bytes) -> None:
        self._h.update(raw)
        self._h.update(b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


class SeqLedger:
    """The ledger file and its lock."""

    def __init__(self, path: os.PathLike[str] | str, lock_path: os.PathLike[str] | str) -> None:
        self.path = os.fspath(path)
        self._lock_path = lock_path

    @cached_property
    def lock(self) -> FileMutex:
        from ..kernel.locking import FileMutex

        return FileMutex(self._lock_path)

    def identity(self) -> tuple[int, int] | None:
        """(inode, size) of the ledger file, or None if there is none."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size

    def read(self, start: int = 0) -> tuple[list[Record], int]:
        """Complete records from byte ``start`` on, and the offset just past the last one."""
        try:
            with open(self.path, "rb") as f:
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            return [], 0
        end = data.rfind(b"\n") + 1
        parse = jsonload.loads_for(end)
        records = []
        for raw in data[:end].split(b"\n"):
            if not raw:
                continue
            try:
                record = parse(raw)
            except jsonload.JSONDecodeError:
                continue  # a line torn by a crash in the middle of the file: skip it
            if isinstance(record, list) and record and record[0] in ("i", "d", "h"):
                records.append(record)
        return records, start + end

    def append(self, records: Iterable[Record]) -> int:
        """Append records in one write; returns the file size after it."""
        payload = _lines(records)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                payload = b"\n" + payload  # never glue onto a line a crash tore
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def rewrite(self, records: Iterable[Record]) -> int:
        """Replace the ledger with ``records`` (compaction); returns its new size."""
        payload = _lines(records)
        write_atomic(self.path, payload)
        return len(payload)


def _lines(records: Iterable[Record]) -> bytes:
    """The records as ledger lines; a rebuild writes a million, worth orjson's import."""
    items = records if isinstance(records, list) else list(records)
    if len(items) >= _ORJSON_RECORDS:
        import orjson  # noqa: F401  (dumps then uses it)
    return b"".join(dumps(r, indent=False) + b"\n" for r in items)


_ORJSON_RECORDS = 1_000
