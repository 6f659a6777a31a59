"""The git index file (``.git/index``): read it, change a few entries, write it back.

:mod:`fleet_hive.git.commit` commits ``.fleet/`` by hand and then has to bring the index's
``.fleet/`` entries in line with the new commit, leaving every other entry (the user's
staged work) exactly as it was. dulwich's ``Index`` is not used for that because

- it writes the cache-tree extension (``TREE``) back unchanged after entries changed, so
  git's next ``commit`` would reuse the stale tree id of ``.fleet/`` and silently revert
  the fleet commit;
- it does not smudge racily-clean entries (git's "racy git" rule), so a file modified in
  the same second the old index was written could look clean afterwards;
- parsing every entry into objects and back costs ~40 ms per 10,000 entries each way.

Here unchanged entries stay raw bytes, the cache-tree is invalidated along the changed
paths, racily-clean entries are smudged (size 0, so git compares content), and the file is
replaced through ``index.lock`` exactly as git does it: the lock is taken *before* the
index is read, so no concurrent git command can slip a write in between.

Supported: index versions 2, 3 and 4, extensions ``TREE`` (invalidated), ``REUC`` (kept);
optional extensions whose data depends on entry positions or directory stats (``UNTR``,
``FSMN``, ``EOIE``, ``IEOT``, unknown uppercase ones) are dropped, which git tolerates.
Split and sparse indexes (``link``, ``sdir``) are refused.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kernel.errors import FleetHiveError, StorageError, storage_error
from ..kernel.liveness import pid_gone

SIGNATURE = b"DIRC"
_FIXED = struct.Struct(">10I20sH")  # ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size
FLAG_EXTENDED = 0x4000
FLAG_STAGE_SHIFT = 12
NAME_MASK = 0xFFF
S_IFGITLINK = 0o160000
_KEEP_EXTENSIONS = {b"REUC"}
_REFUSE_EXTENSIONS = {b"link": "a split index (core.splitIndex)",
                      b"sdir": "a sparse index (index.sparse)"}


class IndexLockedError(FleetHiveError):
    """Another git process holds ``index.lock``."""

    code = "index_locked"


@dataclass(frozen=True, slots=True)
class Entry:
    """One index entry (stage 0 unless a merge left a conflict)."""

    name: bytes
    sha: bytes  # 20 raw bytes
    mode: int
    size: int = 0
    mtime: tuple[int, int] = (0, 0)
    ctime: tuple[int, int] = (0, 0)
    dev: int = 0
    ino: int = 0
    uid: int = 0
    gid: int = 0
    stage: int = 0

    @property
    def hexsha(self) -> bytes:
        return self.sha.hex().encode("ascii")

    @classmethod
    def from_stat(cls, name: bytes, sha: bytes, mode: int, st: os.stat_result | None,
                  ) -> Entry:
        """An entry for a file just written or read; ``st=None`` forces git to re-check it."""
        if st is None:
            return cls(name, sha, mode)
        return cls(name, sha, mode, st.st_size & 0xFFFFFFFF,
                   divmod(st.st_mtime_ns, 1_000_000_000), divmod(st.st_ctime_ns, 1_000_000_000),
                   st.st_dev & 0xFFFFFFFF, st.st_ino & 0xFFFFFFFF, st.st_uid & 0xFFFFFFFF,
                   st.st_gid & 0xFFFFFFFF)

    def matches_stat(self, st: os.stat_result) -> bool:
        """Whether ``st`` is the stat this entry recorded (git's "clean" test)."""
        return (self.size == st.st_size & 0xFFFFFFFF and self.size != 0
                and self.mtime == divmod(st.st_mtime_ns, 1_000_000_000)
                and self.ctime == divmod(st.st_ctime_ns, 1_000_000_000)
                and self.ino == st.st_ino & 0xFFFFFFFF)

    def fixed(self) -> bytes:
        flags = min(len(self.name), NAME_MASK) | (self.stage << FLAG_STAGE_SHIFT)
        return _FIXED.pack(self.ctime[0] & 0xFFFFFFFF, self.ctime[1], self.mtime[0] & 0xFFFFFFFF,
                           self.mtime[1], self.dev, self.ino, self.mode, self.uid, self.gid,
                           self.size, self.sha, flags)


def _unpack(name: bytes, fixed: bytes) -> Entry:
    (cs, cns, ms, mns, dev, ino, mode, uid, gid, size, sha, flags) = _FIXED.unpack_from(fixed)
    return Entry(name, sha, mode, size, (ms, mns), (cs, cns), dev, ino, uid, gid,
                 (flags >> FLAG_STAGE_SHIFT) & 3)


class IndexFile:
    """An index held as raw entries; only the entries that change are re-encoded."""

    def __init__(self, version: int = 2) -> None:
        self.version = version
        self.names: list[bytes] = []
        self.raws: list[bytes] = []  # v2/v3: the whole on-disk entry; v4: the fixed part
        self.extensions: list[tuple[bytes, bytes]] = []
        self.mtime_ns = 0  # of the file it was read from (for racy-git smudging)

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def read(cls, path: Path) -> IndexFile:
        try:
            data = path.read_bytes()
            mtime_ns = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise StorageError(f"cannot read the git index {path}: {e.strerror or e}") from e
        index = cls.parse(data, str(path))
        index.mtime_ns = mtime_ns
        return index

    @classmethod
    def parse(cls, data: bytes, where: str = "index") -> IndexFile:
        if len(data) < 32 or data[:4] != SIGNATURE:
            raise StorageError(f"{where} is not a git index file",
                               hint="run `git status` to let git repair it")
        trailer = data[-20:]
        if trailer != b"\0" * 20 and hashlib.sha1(data[:-20]).digest() != trailer:
            raise StorageError(f"{where} is corrupt (bad checksum)",
                               hint="run `git status` or `git reset` to rebuild it")
        version, count = struct.unpack_from(">LL", data, 4)
        if version not in (2, 3, 4):
            raise StorageError(f"{where}: unsupported index version {version}")
        index = cls(version)
        names, raws = index.names, index.raws
        pos, end = 12, len(data) - 20
        try:
            if version < 4:
                for _ in range(count):
                    flags = (data[pos + 60] << 8) | data[pos + 61]
                    start = pos + (64 if flags & FLAG_EXTENDED else 62)
                    length = flags & NAME_MASK
                    if length == NAME_MASK:
                        length = data.index(b"\0", start) - start
                    size = (start - pos + length + 8) & ~7
                    names.append(data[start:start + length])
                    raws.append(data[pos:pos + size])
                    pos += size
            else:
                previous = b""
                for _ in range(count):
                    flags = (data[pos + 60] << 8) | data[pos + 61]
                    start = pos + (64 if flags & FLAG_EXTENDED else 62)
                    strip, after = _decode_varint(data, start)
                    nul = data.index(b"\0", after)
                    name = previous[:len(previous) - strip] + data[after:nul]
                    names.append(name)
                    raws.append(data[pos:start])
                    previous = name
                    pos = nul + 1
            while pos + 8 <= end:
                sig = data[pos:pos + 4]
                (size,) = struct.unpack_from(">L", data, pos + 4)
                index.extensions.append((sig, data[pos + 8:pos + 8 + size]))
                pos += 8 + size
        except (IndexError, ValueError, struct.error) as e:
            raise StorageError(f"{where} is truncated or malformed",
                               hint="run `git status` or `git reset` to rebuild it") from e
        for sig, _ in index.extensions:
            if sig in _REFUSE_EXTENSIONS:
                raise StorageError(
                    f"{where} is {_REFUSE_EXTENSIONS[sig]}, which fleet-hive cannot update",
                    hint="commit .fleet/ with `git add .fleet && git commit` instead")
        return index

    def __len__(self) -> int:
        return len(self.names)

    def _fixed(self, i: int) -> bytes:
        return self.raws[i] if self.version >= 4 else self.raws[i][:64]

    def entry(self, i: int) -> Entry:
        return _unpack(self.names[i], self._fixed(i))

    def _range(self, prefix: bytes) -> range:
        """Positions of the entries whose name starts with ``prefix`` (names are sorted)."""
        from bisect import bisect_left

        lo = bisect_left(self.names, prefix)
        hi = lo
        while hi < len(self.names) and self.names[hi].startswith(prefix):
            hi += 1
        return range(lo, hi)

    def entries(self, prefix: bytes = b"") -> Iterator[Entry]:
        """Every entry (all stages) whose name starts with ``prefix``."""
        for i in (self._range(prefix) if prefix else range(len(self.names))):
            yield self.entry(i)

    def get(self, name: bytes) -> Entry | None:
        """The stage-0 entry of ``name``; None if absent or in conflict."""
        from bisect import bisect_left

        i = bisect_left(self.names, name)
        if i < len(self.names) and self.names[i] == name:
            entry = self.entry(i)
            return entry if entry.stage == 0 else None
        return None

    # -- changing ------------------------------------------------------------------------
    def update(self, changes: Mapping[bytes, Entry | None]) -> None:
        """Set (or, with None, remove) the entries of these paths, all stages replaced.

        Racily-clean entries kept from the file read are smudged; the cache-tree is
        invalidated along every changed path; position-dependent extensions are dropped.
        """
        if not changes:
            return
        from bisect import bisect_left, bisect_right

        names, raws = self.names, self.raws
        if self.mtime_ns:
            racy_s = self.mtime_ns // 1_000_000_000
            for i, raw in enumerate(raws):
                if racy_s <= struct.unpack_from(">L", raw, 8)[0]:
                    raws[i] = _smudge(raw)
        v4 = self.version >= 4
        for name in sorted(changes):  # few changes: splice each into the sorted lists
            lo = bisect_left(names, name)
            hi = bisect_right(names, name, lo)  # every stage of ``name``
            entry = changes[name]
            new = [] if entry is None else [entry.fixed() if v4 else _pad(entry.fixed() + name)]
            names[lo:hi] = [name] * len(new)
            raws[lo:hi] = new
        extensions = []
        for sig, payload in self.extensions:
            if sig == b"TREE":
                tree = _invalidate_cache_tree(payload, list(changes))
                if tree is not None:
                    extensions.append((sig, tree))
            elif sig in _KEEP_EXTENSIONS:
                extensions.append((sig, payload))
        self.extensions = extensions
        self.mtime_ns = 0  # smudged once; the rewritten file is a new baseline

    # -- writing -------------------------------------------------------------------------
    def serialize(self) -> bytes:
        version = self.version
        if version == 2 and any(_extended(r) for r in self.raws):
            version = 3
        parts = [SIGNATURE, struct.pack(">LL", version, len(self.names))]
        if version < 4:
            parts.extend(self.raws)
        else:
            previous = b""
            for name, fixed in zip(self.names, self.raws, strict=True):
                common = _common_prefix(previous, name)
                parts.append(fixed + _encode_varint(len(previous) - common) + name[common:]
                             + b"\0")
                previous = name
        for sig, payload in self.extensions:
            parts.append(sig + struct.pack(">L", len(payload)) + payload)
        body = b"".join(parts)
        return body + hashlib.sha1(body).digest()


def _stage_of(raw: bytes) -> int:
    return (raw[60] >> 4) & 3


def _extended(raw: bytes) -> bool:
    return bool(raw[60] & 0x40)


def _smudge(raw: bytes) -> bytes:
    """Zero the size field so git compares the file's content (git's racy-git smudge)."""
    mode = struct.unpack_from(">L", raw, 24)[0]
    if mode & 0o170000 == S_IFGITLINK or raw[36:40] == b"\0\0\0\0":
        return raw
    return raw[:36] + b"\0\0\0\0" + raw[40:]


def _pad(entry: bytes) -> bytes:
    """A v2/v3 entry: NUL-terminated name padded to a multiple of 8 bytes."""
    return entry + b"\0" * (8 - len(entry) % 8)


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset varint (index v4 path compression)."""
    c = data[pos]
    pos += 1
    value = c & 0x7F
    while c & 0x80:
        c = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (c & 0x7F)
    return value, pos


def _encode_varint(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        value -= 1
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


# -- the cache-tree extension --------------------------------------------------------------
#: A directory of ``TREE``, mutable in place: [name, entry count (-1: invalid), subtree
#: count as read, 20-byte tree id or None, child nodes].
_TreeNode = list[Any]


def _invalidate_cache_tree(payload: bytes, paths: list[bytes]) -> bytes | None:
    """``TREE`` with every directory on the way to ``paths`` marked invalid (count -1).

    Returns None when the payload cannot be parsed (the extension is then dropped, which
    is always safe: git rebuilds it).
    """
    try:
        root, end = _read_tree_node(payload, 0)
        if end != len(payload):
            return None
    except (ValueError, IndexError):
        return None
    for path in paths:
        node = root
        node[1] = -1
        for part in path.split(b"/")[:-1]:
            child = next((c for c in node[4] if c[0] == part), None)
            if child is None:
                break
            child[1] = -1
            node = child
    out: list[bytes] = []
    _write_tree_node(root, out)
    return b"".join(out)


def _read_tree_node(data: bytes, pos: int) -> tuple[_TreeNode, int]:
    nul = data.index(b"\0", pos)
    name = data[pos:nul]
    lf = data.index(b"\n", nul)
    count_s, subtrees_s = data[nul + 1:lf].split(b" ")
    count, subtrees = int(count_s), int(subtrees_s)
    pos = lf + 1
    sha = None
    if count >= 0:
        sha = data[pos:pos + 20]
        if len(sha) != 20:
            raise ValueError("short cache-tree entry")
        pos += 20
    children = []
    for _ in range(subtrees):
        child, pos = _read_tree_node(data, pos)
        children.append(child)
    return [name, count, subtrees, sha, children], pos


def _write_tree_node(node: _TreeNode, out: list[bytes]) -> None:
    name, count, _subtrees, sha, children = node
    out.append(name + b"\0" + str(count).encode() + b" " + str(len(children)).encode() + b"\n")
    if count >= 0 and sha is not None:
        out.append(sha)
    for child in children:
        _write_tree_node(child, out)


# -- index.lock ----------------------------------------------------------------------------
class IndexLock:
    """``index.lock`` held: read the index, then :meth:`commit` a new one or release.

    :meth:`write` puts the new index into the lock file without replacing the index yet,
    so a caller can do the part that may fail for lack of space before it changes anything.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._fd: int | None = fd
        self._written = False

    def read(self) -> IndexFile:
        return IndexFile.read(self.path)

    def write(self, index: IndexFile) -> None:
        """Write ``index`` into the lock file (once); :meth:`commit` puts it in place."""
        assert self._fd is not None and not self._written, "lock released or written"
        data = index.serialize()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as e:
            self.release()
            raise storage_error(e, self.path) from e
        self._written = True

    def commit(self, index: IndexFile | None = None) -> None:
        """Rename the lock file over the index (git's way), after writing ``index`` into
        it unless :meth:`write` already did."""
        if index is not None:
            self.write(index)
        assert self._fd is not None and self._written, "nothing written to commit"
        fd, self._fd = self._fd, None
        try:
            os.close(fd)
            os.replace(self.lock_path, self.path)
        except OSError as e:
            self._unlink()
            raise storage_error(e, self.path) from e

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._unlink()

    def _unlink(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self.lock_path)


@contextmanager
def locked_index(path: Path, *, timeout: float = 5.0, owner: Path | None = None,
                 ) -> Iterator[IndexLock]:
    """Hold ``<index>.lock`` (waiting up to ``timeout`` s for another git command).

    ``owner`` (a file in ``.fleet/local/``, written only under fleet-hive's own git lock)
    records which process holds the lock and which file it is, while it is held. A lock
    whose recorded holder is dead is one a killed fleet-hive left behind: it is removed
    instead of blocking every later commit. A lock of any other git process is waited for.
    """
    lock_path = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            if owner is not None and _remove_if_orphaned(lock_path, owner):
                continue
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"{lock_path} exists: another git process is changing the index",
                    hint="wait for it to finish; if none is running, delete the stale lock "
                         "file") from None
            time.sleep(0.02)
        except OSError as e:
            raise storage_error(e, lock_path) from e
    lock = IndexLock(path, fd)
    try:
        if owner is not None:
            with suppress(OSError):  # best effort: without it a kill leaves a stale lock
                owner.write_text(f"{os.getpid()} {os.fstat(fd).st_ino}\n", encoding="ascii")
        yield lock
    finally:
        lock.release()
        if owner is not None:
            with suppress(OSError):
                owner.unlink()


def _remove_if_orphaned(lock_path: Path, owner: Path) -> bool:
    """Remove ``lock_path`` if ``owner`` says a fleet-hive process that is gone holds it."""
    try:
        pid_s, ino_s = owner.read_text(encoding="ascii").split()
        pid, ino = int(pid_s), int(ino_s)
        if os.stat(lock_path).st_ino != ino or pid == os.getpid() or not pid_gone(pid):
            return False  # another file, or its holder still runs
    except (OSError, ValueError):
        return False
    with suppress(FileNotFoundError):
        os.unlink(lock_path)
    with suppress(OSError):
        owner.unlink()
    return True
