"""The lock manifest: ``.fleet/local/reservations.json``, the live reservations for editors,
other tools and hooks that want them without running fleet-hive.

Derived and deterministic: its bytes are a function of the reservation table alone (no
write time), the entries sorted by path, holder and id, one per line. It lists every lease
whose stream has not ended, so a lease that lapsed stays in it until a write records its
expiry: readers compare ``expires_at`` with the time. fleet-hive never reads it back as
truth; ``verify`` compares it with the log and ``verify --repair`` rewrites it.

:class:`Manifest` is the after-write policy that rewrites it (atomically, not fsync'ed:
derived data) after every write that touched a lease. Rewriting it from a full scan
would cost a millisecond or two among 1,000 live leases, as much as the write itself, so
the policy keeps the entries it last wrote and re-reads only the leases the write touched;
``reservation_digest`` (one row) tells it whether that copy still equals the table or
someone else (another process, a merge, a checkout) changed more, and whether anything
changed at all (when nothing did, the file is left alone).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from ..kernel import globs
from ..kernel.errors import StorageError
from ..kernel.fsio import publish
from ..kernel.jsondump import dumps
from . import projection
from .model import RESERVATION_STREAM, Reservation

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events.envelope import Event
    from ..index.projection import ReadView
    from ..kernel.layout import Layout

FORMAT = 1
NOTE = ("Derived by fleet-hive from the reservation events in .fleet/events/ and rewritten "
        "after every reservation change; fleet-hive never reads it back. An entry may have "
        "lapsed: compare expires_at (UTC) with the current time. "
        "Paths are patterns: docs/globs.md.")
_HEAD = (b'{\n  "note": ' + dumps(NOTE, indent=False) + b',\n  "format": ' + str(FORMAT).encode()
         + b',\n  "reservations": [')
_LEASE = f"{RESERVATION_STREAM}:"


def entry(r: Reservation) -> bytes:
    """One lease as the manifest shows it: one line of JSON."""
    return dumps({"path": r.path, "glob": globs.is_glob(r.path), "holder": r.holder,
                  "mode": r.mode, "expires_at": r.expires_at, "reason": r.reason, "id": r.id},
                 indent=False)


def _key(r: Reservation) -> tuple[str, str, str]:
    return (r.path, r.holder, r.id)


def _assemble(lines: Sequence[bytes]) -> bytes:
    if not lines:
        return _HEAD + b"]\n}\n"
    return _HEAD + b"\n    " + b",\n    ".join(lines) + b"\n  ]\n}\n"


def render(leases: Iterable[Reservation]) -> bytes:
    """The manifest's bytes for the leases of the reservation table, from scratch."""
    return _assemble([entry(r) for r in sorted(leases, key=_key)])


class Manifest:
    """The after-write policy that keeps ``.fleet/local/reservations.json`` equal to the
    reservation table. Called by the unit of work (under the writer lock, index caught up)
    with the events just stored; does nothing unless they touch a lease."""

    def __init__(self, layout: Layout, reads: ReadView) -> None:
        self.path = layout.reservation_manifest_file
        self.reads = reads
        # The entries last written (or found already there), kept in file order so that a
        # write re-sorts nothing: sort keys and lines side by side, and by lease id its key
        # and fingerprint. Valid while _digest is the table's digest they stand for.
        self._keys: list[tuple[str, str, str]] = []
        self._lines: list[bytes] = []
        self._ids: dict[str, tuple[tuple[str, str, str], int]] = {}
        self._digest: int | None = None
        self._data: bytes | None = None

    def __call__(self, events: Sequence[Event]) -> None:
        touched = {e.stream[len(_LEASE):] for e in events if e.stream.startswith(_LEASE)}
        if touched:
            self.update(touched)

    def update(self, touched: Iterable[str] = ()) -> bool:
        """Bring the file up to date with the table; ``touched``: the lease ids that changed
        since the last call, if this process alone wrote since. Returns whether it wrote."""
        try:
            digest = projection.digest(self.reads, catch_up=False)
            if digest == self._digest:
                return False  # the live state is what the file already shows
            if self._digest is None or not self._patch(touched, digest):
                self._load()
            data = _assemble(self._lines)
            wrote = data != self._data and publish(
                self.path, data, skip_unchanged=self._data is None)
        except OSError as e:
            self._digest = None  # unknown: the next call starts afresh
            raise StorageError(
                "the reservations were recorded, but writing "
                f"{os.path.basename(self.path)} failed: {e.strerror or e}",
                hint="fix the problem, then run `fleet-hive verify --repair`") from e
        except BaseException:
            self._digest = None
            raise
        self._digest, self._data = digest, data
        return wrote

    def _patch(self, touched: Iterable[str], digest: int) -> bool:
        """Re-read the touched leases into the entries; False when the result is not the
        table (someone else changed more): the caller then loads the table afresh."""
        assert self._digest is not None
        d = self._digest
        ids = set(touched)
        for rid in ids:
            old = self._ids.pop(rid, None)
            if old is not None:
                i = bisect_left(self._keys, old[0])
                del self._keys[i], self._lines[i]
                d ^= old[1]
        for r in projection.by_ids(self.reads, ids, catch_up=False):
            key, h = _key(r), projection.fingerprint(r)
            i = bisect_left(self._keys, key)
            self._keys.insert(i, key)
            self._lines.insert(i, entry(r))
            self._ids[r.id] = (key, h)
            d ^= h
        return d == digest

    def _load(self) -> None:
        leases = sorted(projection.rows(self.reads, catch_up=False), key=_key)
        self._keys = [_key(r) for r in leases]
        self._lines = [entry(r) for r in leases]
        self._ids = {r.id: (k, projection.fingerprint(r)) for r, k in zip(leases, self._keys,
                                                                          strict=True)}
