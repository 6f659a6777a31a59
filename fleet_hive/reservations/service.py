"""``hive.reservations``: the reservation use cases (acquire, release, renew, expire, check).

Reads query the index's projection tables (:mod:`.projection`) and never fold the log.
Every write is one :meth:`~fleet_hive.index.unit_of_work.UnitOfWork.run`: under the
clone's writer lock, with the index caught up, the leases that matter are loaded,
:mod:`.decide` (pure) turns them and the request into events, and they are appended; so
two processes can never both be granted conflicting reservations (``storage.md`` 12). The
lock manifest is rewritten by an after-write policy (:class:`.manifest.Manifest`).

A request that has to ``wait`` records a ``reservation_waiting`` event (bounded by its own
``until``) and looks again with a backoff of 20 to 200 ms, one unit of work per look and
no lock held while it sleeps. Waiters and holders form a wait-for graph; the wait that
would close a cycle (A waits for B while B waits for A) is refused at once with the cycle
named, so two agents never wait for each other until they time out. A wait record names
its process (pid, host, start time): one whose process is gone from this host is no edge
of the graph, and the look that finds it ends it (``reservation_wait_ended``, ``died``);
records from other hosts count until their ``until``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence

from ..index.unit_of_work import built
from ..kernel import clock, globs, liveness
from ..kernel.errors import ConflictError, InvalidInputError, TimeoutExpiredError
from ..kernel.typenames import TypeVar
from . import projection as q
from .model import (
    BACKOFF_FACTOR,
    BACKOFF_MAX,
    BACKOFF_START,
    DEFAULT_TTL,
    EXCLUSIVE,
    MAX_HOLDER,
    MAX_TTL,
    SHARED,
    CheckResult,
    Contest,
    Reservation,
    ReservationConflictError,
    Wait,
    find_conflicts,
    unescape,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # decide is imported by each write method: reads never load it
    from ..events.envelope import Event
    from ..index.projection import ReadView
    from ..index.unit_of_work import NewEvent, UnitOfWork
    from . import decide as d

T = TypeVar("T")


class Reservations:
    """The reservation use cases of one repository, over the unit of work (writes), the
    index (reads) and the repository root (to make absolute paths relative).

    ``uow`` may also be a function returning the unit of work, called on the first write:
    building the write path (event store, policies) costs more than a whole ``lock check``
    answer, which never needs it. ``now`` (epoch seconds) and ``sleep`` are injectable so
    tests of expiry need not wait.
    """

    def __init__(self, uow: UnitOfWork | Callable[[], UnitOfWork], reads: ReadView, *,
                 root: str | os.PathLike[str], now: clock.Clock = clock.now,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._write_path = uow
        self._built: UnitOfWork | None = None
        self._reads = reads
        self.root = os.fspath(root)  # the working tree (absolute paths are made relative)
        self.now = now
        self.sleep = sleep

    # -- input ---------------------------------------------------------------------------
    def normalize(self, path: str | os.PathLike[str], *, literal: bool = False) -> str:
        """A repository-relative, validated path or glob (absolute paths inside the repo ok).

        With ``literal``, ``path`` names one file: ``*``, ``?``, ``[`` and ``\\`` in it are
        ordinary characters (``pages/[id].tsx``), and the result is the escaped pattern.
        """
        raw = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(raw, str):
            raise InvalidInputError(f"a path must be a string, not {type(raw).__name__}")
        if not raw.strip():
            raise InvalidInputError("empty path", hint="give a repository-relative path or glob")
        rel = raw
        if raw.startswith("/"):
            root = self.root
            candidates = [raw, os.path.normpath(raw)]
            if not any(c in raw for c in "*?["):  # a glob names no file to resolve
                candidates.append(os.path.realpath(raw))
            for c in candidates:
                if c == root:
                    raise InvalidInputError(
                        f"{raw!r} is the repository root, not a file",
                        hint="reserve everything with '**', or a directory with 'dir/**'")
                if c.startswith(root + "/"):
                    rel = c[len(root) + 1:]
                    break
            else:
                raise InvalidInputError(
                    f"{raw!r} is outside the repository {root}",
                    hint="give a path inside the repository, preferably repository-relative")
        try:
            return globs.escape(rel) if literal else globs.normalize(rel)
        except globs.GlobError as e:
            raise InvalidInputError(str(e), hint="see docs/globs.md for the glob dialect") from e

    def _paths(self, paths: Iterable[str | os.PathLike[str]] | str, *, literal: bool = False,
               ) -> list[str]:
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        out = list(dict.fromkeys(self.normalize(p, literal=literal) for p in paths))
        if not out:
            raise InvalidInputError("no path given", hint="give at least one path or glob")
        return out

    @staticmethod
    def _holder(holder: str | None) -> str:
        if not isinstance(holder, str) or not holder.strip():
            raise InvalidInputError("empty holder name",
                                    hint="name the agent or person, e.g. --holder agent-1")
        if len(holder) > MAX_HOLDER or any(ord(c) < 32 or ord(c) == 127 for c in holder):
            raise InvalidInputError(
                f"invalid holder name {holder[:40]!r}",
                hint=f"at most {MAX_HOLDER} characters, no control characters")
        return holder

    @staticmethod
    def _seconds(value: float | None, what: str, *, default: float, zero_ok: bool) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{what} must be a number of seconds")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            bound = "zero or more" if zero_ok else "more than zero"
            raise InvalidInputError(f"{what} must be {bound} seconds, got {value:g}")
        if value > MAX_TTL:
            raise InvalidInputError(f"{what} of {value:g} s is too long (at most {MAX_TTL:g} s)")
        return float(value)

    # -- reads ---------------------------------------------------------------------------
    def active(self) -> list[Reservation]:
        """Every live reservation, by path then holder (read only: records nothing)."""
        return sorted(q.live(self._reads, self.now()), key=lambda r: (r.path, r.holder))

    def contests(self) -> list[Contest]:
        """Live leases of different holders that could not both have been granted (acquired
        concurrently on two clones): who keeps each (the earlier in total order) and who
        should release (read only)."""
        from .model import contests

        return contests(q.live(self._reads, self.now()))

    def waits(self) -> list[Wait]:
        """Open waits (used for deadlock detection), oldest first."""
        return q.waits(self._reads, self.now())

    def check(self, paths: Iterable[str] | str, holder: str | None = None, *,
              shared: bool = False, patterns: bool = False) -> CheckResult:
        """May ``holder`` (or, without one, anybody) touch these files? Read only, fast.

        ``paths`` are file paths (a ``[`` or ``*`` in a name is just a character, as in
        ``pages/[id].tsx``), or globs with ``patterns``. One is in conflict when it overlaps
        a live reservation of someone else that the asked-for mode (exclusive by default:
        "may I edit") cannot coexist with.
        """
        wanted = self._paths(paths, literal=not patterns)
        labels = wanted if patterns else [unescape(p) for p in wanted]
        if holder is not None:
            holder = self._holder(holder)
        mode = SHARED if shared else EXCLUSIVE
        now = self.now()
        live = [r for r in q.candidates(self._reads, wanted, now) if r.expires > now]
        return CheckResult(labels, holder, mode,
                           find_conflicts(wanted, mode, holder, live, labels=labels))

    # -- writes --------------------------------------------------------------------------
    @property
    def _uow(self) -> UnitOfWork:
        if self._built is None:
            self._built = built(self._write_path)
        return self._built

    def _write(self, decision: Callable[[ReadView, float], tuple[Sequence[NewEvent], T]],
               ) -> tuple[T, list[Event]]:
        """One unit of work: ``decision(view, now)`` loads what it needs through the view
        (caught up, under the writer lock) and returns the events and its result."""
        result: list[T] = []

        def run(view: ReadView) -> Sequence[NewEvent]:
            events, value = decision(view, self.now())
            result.append(value)
            return events

        stored = self._uow.run(run)
        return result[0], stored

    def sweep(self) -> list[Reservation]:
        """Record ``reservation_expired`` for every lapsed lease; returns them."""
        from . import decide as d

        return self._write(lambda view, now: d.sweep(q.lapsed(view, now, catch_up=False),
                                                     now))[0]

    def acquire(self, paths: Iterable[str] | str, *, holder: str, ttl: float | None = None,
                wait: float | None = None, shared: bool = False, reason: str | None = None,
                ) -> list[Reservation]:
        """Reserve every path or glob of ``paths`` for ``holder``, all or nothing.

        Re-acquiring what ``holder`` already holds extends it (and upgrades shared to
        exclusive if asked). A conflict raises :class:`ReservationConflictError` (exit 3)
        at once, or after up to ``wait`` seconds of waiting :class:`ReservationTimeoutError`
        (exit 4); a wait that would close a cycle of waiters is refused at once (exit 3).
        The ``wait`` seconds count from the first look, so a request that meets a conflict
        always records its wait before it can time out. Returns the requested reservations
        as they now are.
        """
        from ..kernel.ids import new_ulid
        from . import decide as d

        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError("reason must be a string")
        wait_s = self._seconds(wait, "wait", default=0.0, zero_ok=True)
        req = d.Request(new_ulid(), self._holder(holder), tuple(self._paths(paths)),
                        SHARED if shared else EXCLUSIVE,
                        self._seconds(ttl, "ttl", default=DEFAULT_TTL, zero_ok=False),
                        reason or None, _me() if wait_s > 0 else None)
        deadline: float | None = None  # time.monotonic() when the wait runs out
        delay = BACKOFF_START
        waiting = False  # our reservation_waiting event is recorded and not yet ended
        looked: list[d.Outcome] = []

        def look(view: ReadView) -> Sequence[NewEvent]:
            nonlocal deadline
            now = self.now()
            if deadline is None:
                deadline = time.monotonic() + wait_s
            rows = q.candidates(view, req.paths, now, catch_up=False)
            others = None
            died: list[NewEvent] = []
            if wait_s > 0 and d.blocked(req, rows, now):
                others, died = self._other_waits(view, req, now, waiting)
            outcome = d.acquire(req, rows, now, wait=wait_s,
                                remaining=deadline - time.monotonic(), waiting=waiting,
                                others=others, new_id=new_ulid)
            looked.append(outcome)
            return [*died, *outcome.events]

        try:
            while True:
                stored = self._uow.run(look)
                outcome = looked[-1]
                waiting = outcome.waiting
                if outcome.error is not None:
                    raise outcome.error
                if outcome.granted is not None:
                    ids = {e.stream: e.id for e in stored if e.type == "reservation_acquired"}
                    return [r.replace(event_id=ids[r.stream]) if r.stream in ids else r
                            for r in outcome.granted]
                assert deadline is not None
                self.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                delay = min(delay * BACKOFF_FACTOR, BACKOFF_MAX)
        except BaseException as e:
            if waiting and not isinstance(e, ConflictError | TimeoutExpiredError):
                ended = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
                # best effort: the wait record also lapses on its own
                with contextlib.suppress(Exception):
                    self._uow.run(lambda _view: [d.wait_ended(req, ended, self.now())])
            raise

    def _other_waits(self, view: ReadView, req: d.Request, now: float, waiting: bool,
                     ) -> tuple[d.OtherWaits, list[NewEvent]]:
        """The wait graph's inputs, loaded only when a waiting request is blocked, and the
        ``reservation_wait_ended`` events of the waits whose process died on this host."""
        from . import decide as d

        waits = [w for w in q.waits(view, now, catch_up=False) if w.request_id != req.id]
        died = [w for w in waits if not self._waiter_runs(w, req.process)]
        if died:
            waits = [w for w in waits if w not in died]
        ended = [d.wait_ended(w, "died", now) for w in died]
        if not waits:
            return d.OtherWaits(), ended
        return d.OtherWaits(
            [(w, q.candidates(view, w.paths, now, catch_up=False)) for w in waits],
            q.wait_order(view, req.id, catch_up=False) if waiting else None), ended

    @staticmethod
    def _waiter_runs(w: Wait, me: tuple[int, str, int | None] | None) -> bool:
        """False only when ``w``'s process is known to be gone: it ran on this host (the
        host name and boot id ``me`` has) and is no longer running. A record without a
        process, or from another host, counts until its ``until``."""
        if w.pid is None or w.host is None or me is None:
            return True
        proc = liveness.ProcessId(w.pid, w.host, w.pid_start)
        return liveness.is_running(proc, me[1]) is not False

    def release(self, paths: Iterable[str] | str, *, holder: str) -> list[Reservation]:
        """Give up ``holder``'s reservations of exactly these paths or globs, all or nothing.

        A path reserved only by another holder raises :class:`ReservationConflictError`
        (exit 3) and nothing is released; a path nobody holds is skipped (releasing is
        idempotent). Returns the reservations released.
        """
        from . import decide as d

        wanted = self._paths(paths)
        holder = self._holder(holder)
        return self._write(lambda view, now: d.release(
            q.of_paths(view, wanted, catch_up=False), wanted, holder, now))[0]

    def release_all(self, holder: str) -> list[Reservation]:
        """Give up every reservation of ``holder`` (none is fine); returns them."""
        from . import decide as d

        holder = self._holder(holder)
        return self._write(lambda view, now: d.release_all(
            q.of_holder(view, holder, catch_up=False), now))[0]

    def renew(self, holder: str, *, ttl: float | None = None,
              paths: Iterable[str] | None = None) -> list[Reservation]:
        """Extend ``holder``'s live reservations (all, or those of ``paths``) to now + ttl.

        ``ttl`` defaults to each reservation's own; an expiry is never moved earlier. A
        lapsed reservation cannot be renewed (acquire it again): NotFoundError when there
        is nothing live to renew, or when one of ``paths`` is not held live.
        """
        from . import decide as d

        holder = self._holder(holder)
        ttl_s = None if ttl is None else self._seconds(ttl, "ttl", default=DEFAULT_TTL,
                                                        zero_ok=False)
        wanted = None if paths is None else self._paths(paths)
        return self._write(lambda view, now: d.renew(
            q.of_holder(view, holder, catch_up=False), holder, now, ttl=ttl_s,
            paths=wanted))[0]

    # -- decisions for another capability's unit of work --------------------------------
    # ``sortie claim`` reserves the sortie's files in the same atomic decision as the
    # claim: the missions service receives this service as its ``leases`` port and calls
    # these inside its own ``uow.run`` (under the writer lock, the index caught up). They
    # return events and write nothing themselves.
    def reserve_events(self, view: ReadView, holder: str, patterns: Sequence[str], *,
                       reason: str | None = None) -> list[NewEvent]:
        """The events that reserve ``patterns`` exclusively for ``holder`` (default ttl),
        or :class:`ReservationConflictError` naming the holder in the way."""
        from ..kernel.ids import new_ulid
        from . import decide as d

        req = d.Request(new_ulid(), self._holder(holder), tuple(self._paths(patterns)),
                        EXCLUSIVE, DEFAULT_TTL, reason or None)
        now = self.now()
        outcome = d.acquire(req, q.candidates(view, req.paths, now, catch_up=False), now,
                            new_id=new_ulid)
        error = outcome.error
        if error is not None:  # no waiting here: a hint without --wait
            first = error.conflicts[0]
            raise ReservationConflictError(
                error.message, code=error.code, conflicts=error.conflicts,
                hint=f"ask {first.reservation.holder} to release it, or wait until "
                     f"{first.reservation.expires_at}; `fleet-hive lock list --path "
                     f"'{first.requested}'` shows every holder")
        return outcome.events

    def release_events(self, view: ReadView, holder: str, patterns: Sequence[str],
                       ) -> list[NewEvent]:
        """The events that release ``holder``'s reservations of exactly ``patterns``
        (none held is fine: nothing to release)."""
        from . import decide as d

        wanted = self._paths(patterns)
        mine = [r for r in q.of_paths(view, wanted, catch_up=False) if r.holder == holder]
        return d.released_events(mine, self.now())

    # -- listing: a read that records the expiries it finds ------------------------------
    def list(self, holder: str | None = None, path: str | None = None, *,
             sweep: bool = True) -> list[Reservation]:
        """Live reservations, optionally only ``holder``'s and/or those overlapping ``path``.

        With ``sweep`` (the default), leases seen lapsed get their ``reservation_expired``
        event recorded first (this takes the writer lock only when there are any).
        """
        if holder is not None:
            holder = self._holder(holder)
        pattern = self.normalize(path) if path is not None else None
        if sweep and q.any_lapsed(self._reads, self.now()):
            self.sweep()
        rows = q.live(self._reads, self.now(), holder)
        if pattern is not None:
            rows = [r for r in rows if globs.overlaps(r.path, pattern)]
        return sorted(rows, key=lambda r: (r.path, r.holder))


def _me() -> tuple[int, str, int | None]:
    me = liveness.current()
    return me.pid, me.host, me.start
