"""The JSONL segment log: how events are appended (``storage.md`` 3, 4, 6, 7).

Every clone appends under its own random writer id to ``.fleet/events/<writer>/<segment>.jsonl``.
Appends from all processes of a clone are serialized by one file lock
(:class:`fleet_hive.kernel.locking.FileMutex`); under it the writer:

1. reads its state (``.fleet/local/writer.state``: writer id, current segment and the size
   it last left it at, last ``n``, last ``clock``, a fingerprint of the working tree; the
   writer id alone is also kept in ``.fleet/local/writer``);
2. keeps appending to the current segment only if that file is exactly as it left it (same
   size). Otherwise (branch switch, reset, pull, a crash mid-write) it starts a new segment;
   and if the working tree has lost events this writer wrote (a checkout of an older
   commit), it continues as a *new writer id*, so each writer's ``n`` stays gapless and
   unique on every branch and two branches never append to one file: merges cannot conflict;
3. raises its Lamport clock above every clock in the working tree whenever git or anyone
   else may have brought new events (the fingerprint of ``.git/index`` and the event
   directories changed), so an event always sorts after the events its writer had seen;
4. writes the lines with one ``write`` and ``fdatasync`` (``durability: fsync``), then saves
   its state. A new segment is named in the state (at size 0) *before* anything is written
   into it, so a kill at any moment leaves either the state's segment at its recorded size
   or a segment longer than recorded, never an older segment that looks intact. A
   multi-event batch carries ``batch: [i, k]`` so readers take it whole or not at all,
   even after a crash;
5. on a failed write or sync (a full disk, an I/O error) cuts the segment back to its size
   before the write and raises :class:`StorageError` ("no space left on device (path)"):
   no partial line is left behind, and the next append, once there is space, just goes on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from ..kernel import jsonload
from ..kernel.clock import utc_now
from ..kernel.digest import blake2b  # the write path's only: reads never import this module
from ..kernel.errors import storage_error
from ..kernel.fsio import fsync_dir, write_atomic
from ..kernel.ids import new_segment_name, new_ulid, new_ulids, new_writer_id
from ..kernel.jsondump import dumps
from ..kernel.layout import SEGMENT_SUFFIX, Layout
from ..kernel.plain import Plain, tuple_fields
from .envelope import Event
from .segments import last_consumed_event, last_event

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..kernel.locking import FileMutex

#: Bytes of the fixed-size writer state record.
STATE_SIZE = 512
#: Events in one append from which lines are written by orjson (see :func:`_lines`).
BATCH_ORJSON = 64


class WriterState(Plain):
    """The writer state record (no ``__slots__``: it is written as its ``__dict__``)."""

    _fields = ("writer", "segment", "size", "n", "clock", "fingerprint")

    def __init__(self, writer: str = "", segment: str = "", size: int = 0, n: int = 0,
                 clock: int = 0, fingerprint: str = "") -> None:
        self.writer = writer
        self.segment = segment
        self.size = size
        self.n = n
        self.clock = clock
        #: digest of stats that change when git may have brought events
        self.fingerprint = fingerprint


@tuple_fields
class PendingEvent(tuple["Any", ...]):
    """An event the caller wants appended; the log assigns the rest of the envelope.
    Immutable: a tuple with named fields (see :mod:`fleet_hive.kernel.plain`)."""

    __slots__ = ()
    _fields = ("type", "stream", "data", "actor", "schema_version", "causation_id",
               "correlation_id")

    if TYPE_CHECKING:
        type: str
        stream: str
        data: dict[str, Any]
        actor: str
        schema_version: int
        causation_id: str | None
        correlation_id: str | None

    def __new__(cls, type: str, stream: str, data: dict[str, Any], actor: str,
                schema_version: int = 1, causation_id: str | None = None,
                correlation_id: str | None = None) -> PendingEvent:
        return tuple.__new__(cls, (type, stream, data, actor, schema_version, causation_id,
                                   correlation_id))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"PendingEvent({fields})"


class SegmentLog:
    """Appends events to this clone's segments. Safe across threads and processes."""

    def __init__(self, layout: Layout, *, durability: str = "fsync",
                 segment_max_bytes: int = 8 * 1024 * 1024) -> None:
        from ..kernel.locking import FileMutex

        self.layout = layout
        self.durability = durability
        self.segment_max_bytes = segment_max_bytes
        os.makedirs(layout.cache_dir, exist_ok=True)
        os.makedirs(layout.local_dir, exist_ok=True)
        self._lock = FileMutex(layout.writer_lock_file)
        self._state_fd: int | None = None
        self._state_pid = 0
        #: the state record this process last wrote or read, and its fields: a record read
        #: back unchanged (no other process appended since) is not parsed again
        self._state_seen: tuple[bytes, tuple[Any, ...]] = (b"", ())
        #: the open segment: (path, descriptor, (device, inode), pid), kept between appends
        self._segment_fd: tuple[str, int, tuple[int, int], int] | None = None
        #: the current segment's (device, inode), as _check_segment saw it
        self._segment_id = (-1, -1)
        self._events_dir = layout.events_dir
        self._git_index = layout.git_index_file
        #: the writer directories as last listed, and the events directory's stats then
        self._writer_dirs: tuple[tuple[int, ...] | None, list[str]] = (None, [])

    # -- state ---------------------------------------------------------------------------
    # The state is one fixed-size record rewritten in place (pwrite), not a file replaced
    # on every append: a rename costs more than the fdatasync of the event itself. It is
    # only ever read and written under the writer lock, and it is a cache: a torn or lost
    # record just makes the next append re-derive everything from the working tree.
    def _state_file(self) -> int:
        if self._state_fd is None or self._state_pid != os.getpid():
            self._state_fd = os.open(self.layout.writer_state_file, os.O_RDWR | os.O_CREAT, 0o644)
            self._state_pid = os.getpid()
        return self._state_fd

    def _read_state(self) -> WriterState:
        raw = os.pread(self._state_file(), STATE_SIZE, 0).rstrip(b" \n\x00")
        seen, fields = self._state_seen
        if raw == seen and raw:
            return WriterState(*fields)
        try:
            state = WriterState(**jsonload.loads(raw))
        except (jsonload.JSONDecodeError, TypeError):
            # Torn, lost or never written: keep the writer id, re-derive the rest.
            return WriterState(writer=self._stored_writer_id())
        self._state_seen = (raw, tuple(state.__dict__.values()))
        return state

    def _write_state(self, state: WriterState, *, new_writer: bool = False,
                     sync: bool = False) -> None:
        record = dumps(state.__dict__, indent=False)
        if len(record) >= STATE_SIZE:
            raise AssertionError("writer state record too large")
        if new_writer:
            self._store_writer_id(state.writer)
        fd = self._state_file()
        self._state_seen = (b"", ())  # until the record is on disk
        os.pwrite(fd, record.ljust(STATE_SIZE - 1) + b"\n", 0)
        if sync:
            os.fdatasync(fd)
        self._state_seen = (record, tuple(state.__dict__.values()))

    def _stored_writer_id(self) -> str:
        try:
            return self.layout.writer_id_file.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return ""

    def _store_writer_id(self, writer: str) -> None:
        write_atomic(self.layout.writer_id_file, writer + "\n")

    def writer_id(self) -> str:
        """This clone's current writer id (created on first use)."""
        with self._lock:
            state = self._read_state()
            if not state.writer:
                state.writer = new_writer_id()
                self._write_state(state, new_writer=True)
            return state.writer

    def close(self) -> None:
        if self._state_fd is not None and self._state_pid == os.getpid():
            os.close(self._state_fd)
        self._state_fd = None
        self._drop_segment_fd()

    def _fingerprint(self) -> str:
        """A digest of cheap stats that change when git or another clone may have brought
        events: ``.git/index``, the events directory and each writer directory.

        The writer directories are listed again only when the events directory changed
        (its inode, mtime, size or link count: a directory added or removed changes its
        parent's link count even within one tick of the clock); each is stat-ed every time.
        """
        parts: list[Any] = []
        try:
            st = os.stat(self._git_index)
            parts.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            parts.append(None)
        try:
            ev = os.stat(self._events_dir)
        except FileNotFoundError:
            parts.append(None)
        else:
            parts.append((ev.st_mtime_ns, ev.st_size))
            key = (ev.st_ino, ev.st_mtime_ns, ev.st_size, ev.st_nlink)
            if self._writer_dirs[0] != key:
                with contextlib.suppress(FileNotFoundError), os.scandir(self._events_dir) as it:
                    self._writer_dirs = (key, sorted(e.name for e in it if e.is_dir()))
            join, events = os.path.join, self._events_dir
            for name in self._writer_dirs[1]:
                try:
                    parts.append((name, os.stat(join(events, name)).st_mtime_ns))
                except FileNotFoundError:  # gone since it was listed: list them again
                    self._writer_dirs = (None, [])
                    parts.append((name, None))
        return blake2b(repr(parts).encode(), digest_size=12).hexdigest()

    def _max_clock_in_tree(self) -> int:
        best = 0
        for _writer, _name, path in self.layout.segment_files():
            event = last_event(path)
            if event is not None and event["clock"] > best:
                best = event["clock"]
        return best

    def _last_n_of(self, writer: str) -> tuple[int, str]:
        """The last ``n`` of ``writer`` in the working tree, and its newest segment's name.

        Segment names sort by creation (:func:`new_segment_name` with ``after``), so the
        last segment holding an event holds the highest ``n``.
        """
        wdir = self.layout.writer_dir(writer)
        try:
            names = sorted(
                (e.name for e in os.scandir(wdir) if e.name.endswith(SEGMENT_SUFFIX)), reverse=True
            )
        except FileNotFoundError:
            return 0, ""
        newest = names[0][: -len(SEGMENT_SUFFIX)] if names else ""
        for name in names:
            event = last_consumed_event(wdir / name)
            if event is not None:
                return int(event["n"]), newest
        return 0, newest

    def _check_segment(self, state: WriterState) -> tuple[bool, str]:
        """Whether the current segment is exactly as this writer left it, and the name
        of the writer's newest segment (a new one must sort after it).

        When it is not, settle ``writer`` and ``n`` from the working tree and leave
        ``segment`` empty so that a new one is started.
        """
        if not state.writer:
            state.writer = new_writer_id()
            state.segment = ""
            return False, ""
        if state.segment:
            try:
                st = os.stat(self.layout.segment_file(state.writer, state.segment))
            except FileNotFoundError:
                st = None
            if st is not None and st.st_size == state.size:
                # Every segment is named in the state before it is written (see
                # _append_locked), so when the current one is intact it is also the newest.
                self._segment_id = (st.st_dev, st.st_ino)
                return True, state.segment
        in_tree, newest = self._last_n_of(state.writer)
        if in_tree < state.n:
            # The working tree lost events this writer wrote (checkout of an older commit,
            # reset, stash): continue as a new writer so ``n`` stays gapless on every
            # branch, and remember what the old one wrote (see :mod:`.missing`).
            with contextlib.suppress(OSError), open(self.layout.writer_missing, "ab") as f:
                f.write(dumps({"writer": state.writer, "n": state.n}, indent=False) + b"\n")
            state.writer, in_tree, newest = new_writer_id(), 0, ""
        state.n = in_tree
        state.segment = ""
        state.fingerprint = ""  # rescan clocks: the tree changed under us
        return False, newest

    def exclusive(self) -> FileMutex:
        """The writer lock as a context manager (reentrant within a thread).

        Hold it around "read state, decide, append" so that no other process appends in
        between: that is what makes a claim or a reservation atomic across processes.
        """
        return self._lock

    # -- append --------------------------------------------------------------------------
    def append(self, pending: Sequence[PendingEvent]) -> list[Event]:
        """Append ``pending`` as one all-or-nothing unit; returns the stored events."""
        if not pending:
            return []
        try:
            with self._lock:
                return self._append_locked(pending)
        except OSError as e:
            raise storage_error(e, self.layout.events) from e

    def _append_locked(self, pending: Sequence[PendingEvent]) -> list[Event]:
        state = self._read_state()
        writer_saved = state.writer
        intact, newest = self._check_segment(state)
        fp = self._fingerprint()
        if fp != state.fingerprint:
            state.clock = max(state.clock, self._max_clock_in_tree())
        n_before, clock_before = state.n, state.clock
        k = len(pending)
        now, writer = utc_now(), state.writer
        ids = new_ulids(k) if k > 1 else [new_ulid()]
        events: list[Event] = []
        records: list[dict[str, Any]] = []
        add_event, add_record = events.append, records.append
        make = tuple.__new__  # Event(...) without its Python-level __new__: same tuple
        for i, p in enumerate(pending):
            kind, stream, data, actor, version, causation, correlation = p
            n, clock = n_before + i + 1, clock_before + i + 1
            record: dict[str, Any] = {
                "id": ids[i], "type": kind, "stream": stream, "clock": clock,
                "writer": writer, "n": n, "time": now, "actor": actor,
                "causation_id": causation, "correlation_id": correlation,
                "schema_version": version, "data": data,
            }
            if k > 1:
                record["batch"] = [i, k]
            add_record(record)
            add_event(make(Event, (ids[i], kind, stream, clock, writer, n, now, actor,
                                   causation, correlation, version, data, None)))
        state.n, state.clock = n_before + k, clock_before + k
        payload = _lines(records)
        new_file = not intact or (
            state.size > 0 and state.size + len(payload) > self.segment_max_bytes)
        if new_file:
            state.segment, state.size = new_segment_name(after=newest), 0
            # Name the new segment in the state before writing into it. Saved only after
            # the write, a kill in between left a state that still trusted the old segment
            # (intact, same size), so the next append handed out this append's ``n`` again.
            # Now such a kill leaves the new segment longer than its recorded size 0, and
            # the next append settles ``n`` from the tree. It is synced (durability fsync)
            # so that a power loss cannot bring back the old state with the new segment on
            # disk either: one pwrite and one fdatasync per rotation, none per append.
            named = WriterState(state.writer, state.segment, 0, n_before, clock_before)
            try:
                self._write_state(named, new_writer=state.writer != writer_saved,
                                  sync=self.durability == "fsync")
            except OSError as e:
                raise storage_error(e, self.layout.writer_state) from e
            writer_saved = state.writer
        path = self.layout.segment_file(state.writer, state.segment)
        try:
            if new_file:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = self._open_segment(path, None if new_file else self._segment_id)
        except OSError as e:
            raise storage_error(e, path) from e
        try:
            self._write_durably(fd, payload, state.size, path, new_file)
        except BaseException:
            self._drop_segment_fd()
            raise
        state.size += len(payload)
        state.fingerprint = self._fingerprint() if new_file else fp
        # The events are durable: the append has succeeded. The state is a cache; if it
        # cannot be saved, the next append finds the segment longer than recorded and
        # settles ``n`` from the tree.
        with contextlib.suppress(OSError):
            self._write_state(state, new_writer=state.writer != writer_saved)
        return events

    def _open_segment(self, path: str, file_id: tuple[int, int] | None) -> int:
        """A descriptor appending to ``path``: the one kept from the last append when it is
        still that file (same path, device and inode, as stat-ed under the lock just
        before, and the same process), else a new one (the old one is closed). A file git
        replaced is a new inode (the kept descriptor holds the old one, so its number
        cannot be reused meanwhile): no write ever goes to a file no longer in the tree."""
        kept = self._segment_fd
        if kept is not None:
            if kept[0] == path and kept[2] == file_id and kept[3] == os.getpid():
                return kept[1]
            self._drop_segment_fd()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        st = os.fstat(fd)
        self._segment_fd = (path, fd, (st.st_dev, st.st_ino), os.getpid())
        return fd

    def _drop_segment_fd(self) -> None:
        kept, self._segment_fd = self._segment_fd, None
        if kept is not None and kept[3] == os.getpid():
            with contextlib.suppress(OSError):
                os.close(kept[1])

    def _write_durably(self, fd: int, payload: bytes, size: int, path: str,
                       new_file: bool) -> None:
        """Write ``payload`` at the end of the segment (``size`` bytes long) and sync it.

        On failure (a full disk, an I/O error) the segment is cut back to ``size``: no
        partial line is left for the next append to glue onto, the state (which names
        this segment at ``size``) stays true, and the error is raised as StorageError.
        """
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.durability == "fsync":
                os.fdatasync(fd)
                if new_file:
                    writer_dir = os.path.dirname(path)
                    fsync_dir(writer_dir, best_effort=False)
                    fsync_dir(os.path.dirname(writer_dir), best_effort=False)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                if self.durability == "fsync":
                    os.fdatasync(fd)
            raise storage_error(e, path) from e


def _lines(records: list[dict[str, Any]]) -> bytes:
    """The log lines of ``records``, each ending in a newline.

    One event's line is written by the standard library's C encoder (:mod:`.jsondump`);
    from :data:`BATCH_ORJSON` events on, orjson's import (~10 ms) pays for itself: it
    writes the whole list in one call, a tenth of the time of one call per record, and the
    list's separators become the line breaks. Every record starts with its ``"id"`` key, so
    each boundary between two records reads ``},{"id":``; that text is found nowhere else
    unless some ``data`` nests an object with an ``id`` in a list, and then there are more
    of them than boundaries and each record is written on its own. Same bytes either way.
    """
    if len(records) < BATCH_ORJSON:
        return b"".join([dumps(r, indent=False) + b"\n" for r in records])
    dump = _orjson_dumps()
    whole: bytes = dump(records)
    if whole.count(_BOUNDARY) == len(records) - 1:
        return whole[1:-1].replace(_BOUNDARY, b'}\n{"id":') + b"\n"
    return b"".join([dump(r) + b"\n" for r in records])


#: Where one record ends and the next begins in orjson's text of a list of them.
_BOUNDARY = b'},{"id":'


def _orjson_dumps() -> Any:
    import orjson

    return orjson.dumps
