"""``hive.dispatch``: run a mission's sorties through real agent processes.

One dispatcher process, one thread, one loop. It starts ready sorties up to ``workers`` at
once, each as one *try*: take the sortie's local lease (:mod:`.leases`), claim it for a
worker, which reserves its files in the same atomic decision (``hive.sorties.claim``), start
it, render its prompt, and run the agent command through the shell in a process group of
its own (:mod:`fleet_hive.kernel.processes`). The loop then waits on the agents' exits
(pidfds) and output pipes at once, so a finished sortie is recorded and its dependents
start without polling delays; there is no barrier between waves.

:meth:`Dispatcher._run_try` is the seam where one try happens. With ``--isolation shared``
the agent works in the repository itself and exit 0 completes the sortie. With
``--isolation worktree`` (:mod:`.isolation`, docs/dispatch.md) a try has phases, all
watched by the same loop: the agent in its own worktree, then (exit 0: its change
committed and checked against the reservations) the verify command as a process like the
agent, then the merge queue (one merge at a time; the merge re-verified in the worktree
when the base moved since the fork); the sortie completes only once merged.

Every write goes through the services given as ports (missions, sorties, reservations,
the unit of work for the try events); reactions such as error checkpoints are the
after-write policies those writes trigger (a ``sortie_failed`` takes one).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..index.unit_of_work import NewEvent, built
from ..kernel import processes
from ..kernel.errors import ConflictError, FleetHiveError, TransitionError
from . import decide
from .leases import LeaseBook
from .logs import CappedLog
from .model import WATCH_INTERVAL, Lease, Options, Summary, TryResult

if TYPE_CHECKING:
    from ..index.unit_of_work import UnitOfWork
    from ..missions.model import Mission, Sortie
    from .isolation import Isolation, TryTree

#: A progress record: ``{"event": kind, ...}`` (see :data:`.model.RECORD_KINDS`).
Record = dict[str, Any]
OnProgress = Callable[[Record], None]

#: Characters of a failed verify's output put in the try's reason.
TAIL_CHARS = 1500
#: Claimed states whose agent is still at work (blocked included: it waits for help).
_RUNNING_STATES = ("assigned", "in_progress", "blocked")
#: The reservations a claim takes last an hour (``reservations.model.DEFAULT_TTL``):
#: renewed with the lease, at most this often, while the agent runs.
_RESERVATION_RENEW = 1200.0


# -- ports ---------------------------------------------------------------------------------
class SortiesPort(Protocol):
    def ready(self, mission: str | None = None, limit: int | None = None) -> list[Sortie]: ...

    def get(self, ref: str) -> Sortie: ...

    def list(self, *, mission: str | None = None, status: str | Sequence[str] | None = None,
             ready: bool = False, limit: int | None = None, offset: int | None = None,
             ) -> list[Sortie]: ...

    def claim(self, ref: str, *, specialist: str | None = None) -> Sortie: ...

    def start(self, ref: str, *, reason: str | None = "", force: bool = False) -> Sortie: ...

    def complete(self, ref: str, *, reason: str | None = "", force: bool = False,
                 ) -> Sortie: ...

    def fail(self, ref: str, *, reason: str | None = "", force: bool = False) -> Sortie: ...

    def unblock(self, ref: str, *, reason: str | None = "", force: bool = False,
                ) -> Sortie: ...

    def retry(self, ref: str, *, reason: str | None = "") -> Sortie: ...


class MissionsPort(Protocol):
    def resolve_id(self, ref: str) -> str: ...

    def get(self, ref: str, *, sorties: bool = True) -> Mission: ...

    def start(self, ref: str, *, reason: str | None = "") -> Mission: ...

    def complete(self, ref: str, *, reason: str | None = "", force: bool = False,
                 ) -> Mission: ...


class RenewPort(Protocol):
    def renew(self, holder: str, *, ttl: float | None = None,
              paths: Any = None) -> Sequence[Any]: ...


class Specialist(Protocol):
    name: str
    load: int


class SpecialistsPort(Protocol):
    """What the specialists capability offers dispatch."""

    def register(self, name: str, capabilities: Sequence[str]) -> Any: ...

    def heartbeat(self, name: str) -> Any: ...

    def capable(self, kind: str | None) -> Sequence[Any]: ...


@dataclass
class Paths:
    """Where dispatch works: the repository root and its own local directories."""

    root: Path
    leases: Path
    logs: Path
    prompts: Path


@dataclass
class _Running:
    """A try in flight."""

    sortie: Sortie
    worker: str
    attempt: int
    proc: processes.Process
    exit_fd: int | None
    lease: Lease
    log: CappedLog
    started: float  # monotonic
    deadline: float | None
    renewed: float  # monotonic: the lease's last renewal
    reserved: float  # monotonic: the reservations' last renewal
    progress: int = 0
    status: str = "in_progress"
    blocked_since: float | None = None
    stop_at: float | None = None  # SIGTERM sent; SIGKILL due at this time
    timed_out: bool = False
    pipes: dict[int, bool] = field(default_factory=dict)  # fd -> is stderr
    # worktree isolation: agent -> verify -> queued -> (reverify) -> merged
    phase: str = "agent"
    tree: TryTree | None = None
    result: TryResult | None = None  # the agent's, carried through verify and merge
    merge: tuple[str, str] | None = None  # (merge commit, base tip) awaiting re-verify


class Dispatcher:
    """The dispatch engine of one repository, over its ports.

    ``brief(mission_id, None)`` returns the mission's context brief (rendered,
    byte-capped; rendered once per change of the mission's state and shared by the tries
    started then: the prompt itself says what the worker holds); ``batch()`` is a context
    the whole run happens in (the hive defers mission snapshots in it); ``specialists``
    (optional, a function returning the specialists service) matches sorties'
    ``specialist`` kind to registered specialists;
    without it the workers are named ``<actor>/w1`` ... ``<actor>/wN``.
    """

    def __init__(self, *, uow: UnitOfWork | Callable[[], UnitOfWork],
                 sorties: Callable[[], SortiesPort], missions: Callable[[], MissionsPort],
                 reservations: Callable[[], RenewPort],
                 brief: Callable[[str, str | None], str], paths: Paths, actor: str,
                 specialists: Callable[[], SpecialistsPort | None] | None = None,
                 batch: Callable[[], AbstractContextManager[Any]] | None = None,
                 now: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._write_path = uow
        self._sorties_port = sorties
        self._missions_port = missions
        self._reservations_port = reservations
        self._brief = brief
        self._specialists_port = specialists
        self.batch = batch or contextlib.nullcontext
        self.paths = paths
        self.actor = actor
        self.now = now
        self.monotonic = monotonic
        self.leases = LeaseBook(paths.leases, now=now)

    # -- public --------------------------------------------------------------------------
    def run(self, mission: str, options: Options, *, environ: Mapping[str, str],
            on_progress: OnProgress = lambda _record: None) -> Summary:
        """Dispatch ``mission`` until every sortie that can run has run (see the module).
        ``environ`` is the agents' base environment (the CLI passes its own)."""
        return _Run(self, mission, options, environ, on_progress).run()

    def recover_lapsed(self, mission_id: str | None = None) -> list[str]:
        """Re-queue the sorties whose lease has lapsed (of ``mission_id``, or all), after
        stopping what is left of their agents; returns their ids. A sortie that is no
        longer open, or is claimed by someone else now, is left alone (its lease goes)."""
        sorties = self._sorties_port()
        out = []
        for lease, why in self.leases.lapsed(mission_id):
            self.leases.end(lease)
            try:
                s = sorties.get(lease.sortie_id)
            except FleetHiveError:
                continue
            if s.status not in _RUNNING_STATES or s.claimed_by != lease.claimant:
                continue
            # "stale:" is how recover marks what it re-queues (checkpoints.recovery.MARK):
            # a crash between the two writes is finished by the next recover
            with contextlib.suppress(TransitionError):
                if s.status == "blocked":
                    sorties.unblock(s.id, reason="lease lapsed", force=True)
            sorties.fail(s.id, reason=f"stale: the lease of {lease.claimant} lapsed: {why}; "
                         "re-queued by fleet-hive dispatch", force=True)
            sorties.retry(s.id, reason="re-queued by fleet-hive dispatch: lease lapsed")
            out.append(s.id)
        return out

    def cleanup(self, mission: str, *, worktree_dir: str, base: str | None = None,
                ) -> dict[str, Any]:
        """``dispatch MISSION --cleanup``: the mission's kept branches and leftover
        worktrees removed (those of tries a live dispatcher runs stay), then pruned."""
        from .isolation import Isolation

        mission_id = self.missions.resolve_id(mission)
        iso = Isolation(self.paths.root, mission_id, worktree_dir=worktree_dir, base=base)
        live = [lease.branch for lease in self.leases.all()
                if lease.mission_id == mission_id and lease.branch
                and self.leases.why_lapsed(lease) is None]
        for lease, _why in self.leases.lapsed(mission_id):
            self.leases.end(lease)  # its worktree goes with it (re-queued by recover)
        return {"mission_id": mission_id, "removed": iso.cleanup(live)}

    # -- parts used by a run -------------------------------------------------------------
    @property
    def sorties(self) -> SortiesPort:
        return self._sorties_port()

    @property
    def missions(self) -> MissionsPort:
        return self._missions_port()

    def specialists(self) -> SpecialistsPort | None:
        return None if self._specialists_port is None else self._specialists_port()

    def record_tries(self, facts: Sequence[dict[str, Any]]) -> None:
        """The ``sortie_try_ended`` events of ``facts``, in one write."""
        if facts:
            built(self._write_path).run(lambda _view: [NewEvent(
                "sortie_try_ended", f"dispatch:{f['mission_id']}", f,
                correlation_id=f["mission_id"]) for f in facts])

    def writes(self) -> AbstractContextManager[None]:
        """Several writes under one hold of the writer lock, after-write policies once."""
        return built(self._write_path).batch()

    def renew_reservations(self, holder: str) -> None:
        with contextlib.suppress(FleetHiveError):  # none live (a sortie without files)
            self._reservations_port().renew(holder)

    def brief(self, mission_id: str) -> str:
        return self._brief(mission_id, None)


class _Run:
    """One ``dispatch`` of one mission (state of the loop)."""

    def __init__(self, d: Dispatcher, mission: str, options: Options,
                 environ: Mapping[str, str], emit: OnProgress) -> None:
        self.d = d
        self.options = options
        self.environ = dict(environ)
        self.emit_to = emit
        self.mission_id = d.missions.resolve_id(mission)
        self.summary = Summary(self.mission_id)
        self.running: dict[str, _Running] = {}
        self.attempts: dict[str, int] = {}  # sortie id -> tries made by this run
        self.previous: dict[str, str] = {}  # sortie id -> the last failed try's reason
        self.not_before: dict[str, float] = {}  # sortie id -> monotonic time (backoff)
        self.skip: set[str] = set()  # refused claims: not again until something changes
        self.lingering: dict[int, float] = {}  # agent groups left behind -> SIGKILL time
        #: try facts not recorded yet: written together, once per turn of the loop
        self.tries_ended: list[dict[str, Any]] = []
        self.changed = True
        self.brief_text: str | None = None
        self.next_look = 0.0
        self.next_watch = 0.0
        self.started_at = d.monotonic()
        self.mission: dict[str, Any] = {}
        self.workers: Sequence[str] = []
        self.capable: Callable[[str | None], Sequence[str]] | None = None
        self.iso: Isolation | None = None  # worktree isolation
        self.merge_queue: list[str] = []  # sortie ids, verified, waiting to merge
        self.merging: str | None = None  # the one being re-verified after its merge
        self.over_budget = False

    def emit(self, kind: str, **data: Any) -> None:
        record = {"event": kind, "mission_id": self.mission_id,
                  "elapsed_ms": int((self.d.monotonic() - self.started_at) * 1000), **data}
        self.emit_to(record)

    # -- the run -------------------------------------------------------------------------
    def run(self) -> Summary:
        d = self.d
        if self.options.isolation == "worktree":
            from .isolation import Isolation

            self.iso = Isolation(d.paths.root, self.mission_id,
                                 worktree_dir=self.options.worktree_dir, base=self.options.base)
            self.iso.check_user_tree()
        m = d.missions.get(self.mission_id, sorties=False)
        if m.status == "pending":
            m = d.missions.start(self.mission_id, reason="dispatch")
        self.mission = {"id": m.id, "title": m.title, "status": m.status}
        if m.status != "in_progress":
            self.summary.mission_status = m.status
            raise TransitionError(f"mission {m.id} is {m.status}: nothing to dispatch",
                                  hint=f"fleet-hive mission reopen {m.id} to run it again")
        self.summary.requeued = d.recover_lapsed(self.mission_id)
        for sid in self.summary.requeued:
            self.emit("sortie_requeued", sortie_id=sid, reason="its lease had lapsed")
        self._choose_workers()
        sorties = d.sorties.list(mission=self.mission_id)
        self.emit("dispatch_started", title=m.title, workers=self.workers,
                  sorties=[{"id": s.id, "title": s.title, "status": s.status,
                            "depends_on": list(s.depends_on)} for s in sorties],
                  agent=self.options.agent, tries=self.options.tries)
        try:
            with processes.stop_signals_raise(), d.batch():
                self._loop()
        except (KeyboardInterrupt, processes.Terminated):
            self.summary.interrupted = True
        finally:
            try:
                self._stop_all()
            finally:
                if self.iso is not None:  # the pool's worktrees: removed when the run ends
                    self.iso.close()
        self._finish()
        return self.summary

    def _choose_workers(self) -> None:
        port = self.d.specialists()
        if port is None:
            self.workers = [f"{self.d.actor}/w{k}" for k in range(1, self.options.workers + 1)]
            return
        if not port.capable(None):
            kinds = sorted({s.specialist for s in self.d.sorties.list(mission=self.mission_id)
                            if s.specialist})
            for k in range(1, self.options.workers + 1):
                port.register(f"{self.d.actor}/w{k}", kinds)

        def capable(kind: str | None) -> list[str]:
            return [sp.name for sp in port.capable(kind)]

        self.capable = capable
        self.workers = capable(None)

    def _loop(self) -> None:
        while True:
            now = self.d.monotonic()
            self._reap(now)
            self._enforce_deadlines(now)
            if now >= self.next_watch:
                self._watch(now)
                self.next_watch = now + WATCH_INTERVAL
            self._renew(now)
            if self.merge_queue and self.merging is None:
                with self.d.writes():
                    self._pump_merges()
            started = self._fill(now) if len(self.running) < self.options.workers else 0
            self._record_tries()
            if not self.running and not started:
                waits = [t for sid, t in self.not_before.items() if t > now]
                if not waits:
                    return
                time.sleep(min(waits) - now)
                self.changed = True
                continue
            self._wait(now)

    # -- starting tries ------------------------------------------------------------------
    def _free_workers(self) -> list[str]:
        busy = {r.worker for r in self.running.values()}
        if self.capable is not None:
            self.workers = self.capable(None)
        return [w for w in self.workers if w not in busy]

    def _fill(self, now: float) -> int:
        due = [sid for sid, t in self.not_before.items() if t <= now]
        for sid in due:  # a backoff is over: that sortie may start again
            del self.not_before[sid]
            self.changed = True
        if not self.changed and now < self.next_look:
            return 0
        self.changed = False
        self.next_look = now + 1.0  # others' changes (a sortie added) seen within a second
        slots = self.options.workers - len(self.running)
        if self._over_budget():
            return 0
        # the most urgent ready sorties, enough to fill the free slots past those that must
        # wait (backoff, refused, overlapping): all of them only when that is not enough
        limit = 4 * slots + len(self.skip) + len(self.not_before) + 16
        while True:
            ready = self.d.sorties.ready(mission=self.mission_id, limit=limit)
            held = [f for r in self.running.values() for f in r.sortie.files]
            pairs = decide.assign(ready, running_files=held, free=self._free_workers(),
                                  slots=slots, capable=self.capable,
                                  not_before=self.not_before, now=now,
                                  skip=frozenset(self.skip))
            if len(pairs) == slots or len(ready) < limit:
                break
            limit *= 4
        started = 0
        for sortie, worker in pairs:
            if started and self._over_budget():
                break
            if self._run_try(sortie, worker):
                started += 1
        return started

    def _over_budget(self) -> bool:
        """Whether the mission's worktrees use more than the disk budget now (running
        tries finish; no new worktree is made until they are back under it)."""
        if self.iso is None or self.options.disk_budget is None:
            return False
        used = self.iso.usage()
        if used > self.options.disk_budget and self.iso.shrink():  # idle worktrees first
            used = self.iso.usage()
        if used <= self.options.disk_budget:
            self.over_budget = False
            return False
        if not self.over_budget:
            self.emit("worktree_budget", used=used, budget=self.options.disk_budget)
        self.over_budget = True
        return True

    def _run_try(self, sortie: Sortie, worker: str) -> bool:
        """Start one try of ``sortie`` by ``worker``: lease, claim (with its files), start,
        prompt, agent. The seam for other isolations: a worktree would be made here and
        the agent run in it; its end (:meth:`_ended`) would verify and queue the merge."""
        d = self.d
        lease = d.leases.take(sortie.id, self.mission_id, worker, self.options.lease_ttl)
        if lease is None:  # another dispatcher on this machine runs it (or a lapsed one)
            self.skip.add(sortie.id)
            return False
        attempt = self.attempts.get(sortie.id, 0) + 1
        try:
            with d.writes():  # one hold of the lock: claim (and reserve), then start
                d.sorties.claim(sortie.id, specialist=worker)
                fresh = d.sorties.start(sortie.id, reason=f"dispatch try {attempt}")
        except (ConflictError, TransitionError):
            d.leases.drop(sortie.id)  # taken by someone else, or its files are held
            self.skip.add(sortie.id)
            if d.sorties.get(sortie.id).status == "assigned":  # claimed, not started
                self._could_not_start(sortie, worker, attempt, lease, "start refused")
            return False
        except BaseException:
            d.leases.drop(sortie.id)
            raise
        self.attempts[sortie.id] = attempt
        self.summary.tries += 1
        tree = None
        try:
            if self.iso is not None:
                tree = self.iso.make(sortie.id, attempt)
                lease.worktree, lease.branch = str(tree.path), tree.branch
                lease.root = str(d.paths.root)
                d.leases.write(lease)  # before the agent: a crash leaves nothing unknown
            prompt = self._prompt(fresh, worker, attempt)
            proc, exit_fd, log = self._spawn(fresh, worker, attempt, prompt, tree)
        except FleetHiveError as e:
            if tree is not None and self.iso is not None:
                self.iso.finish(tree, keep_branch=False, keep=0)
            self._could_not_start(sortie, worker, attempt, lease, e.message)
            return False
        except OSError as e:
            self._could_not_start(sortie, worker, attempt, lease, os.strerror(e.errno or 0)
                                  if e.errno else str(e))
            return False
        lease.pgid = proc.pid
        d.leases.write(lease)
        now = d.monotonic()
        deadline = None if self.options.timeout is None else now + self.options.timeout
        run = _Running(fresh, worker, attempt, proc, exit_fd, lease, log, now, deadline,
                       now, now, tree=tree)
        for pipe, is_err in ((proc.stdout, False), (proc.stderr, True)):
            if pipe is not None:
                run.pipes[pipe.fileno()] = is_err
        self.running[sortie.id] = run
        self.skip.discard(sortie.id)
        self.emit("sortie_started", sortie_id=sortie.id, title=sortie.title, worker=worker,
                  attempt=attempt, tries=self.options.tries, files=list(sortie.files),
                  pid=proc.pid, log=str(log.path),
                  **({} if tree is None else {"worktree": str(tree.path),
                                              "branch": tree.branch}))
        return True

    def _brief(self) -> str:
        """The mission's brief, rendered again only after its state changed here."""
        if self.brief_text is None:
            self.brief_text = self.d.brief(self.mission_id)
        return self.brief_text

    def _prompt(self, s: Sortie, worker: str, attempt: int) -> str:
        from .prompt import render_prompt

        return render_prompt(s, mission=self.mission, worker=worker, attempt=attempt,
                             tries=self.options.tries, previous=self.previous.get(s.id, ""),
                             brief=self._brief(),
                             repo=str(self.d.paths.root))

    def _spawn(self, s: Sortie, worker: str, attempt: int, prompt: str,
               tree: TryTree | None = None,
               ) -> tuple[processes.Process, int | None, CappedLog]:
        paths = self.d.paths
        paths.prompts.mkdir(parents=True, exist_ok=True)
        prompt_file = paths.prompts / f"{s.id}.md"
        prompt_file.write_text(prompt, encoding="utf-8")
        env = {**self.environ, "FLEET_MISSION_ID": self.mission_id, "FLEET_SORTIE_ID": s.id,
               "FLEET_SPECIALIST": worker, "FLEET_ACTOR": worker,
               "FLEET_SPECIALIST_KIND": s.specialist or "", "FLEET_REPO": str(paths.root),
               "FLEET_ATTEMPT": str(attempt)}
        if tree is not None:
            env["FLEET_WORKTREE"] = str(tree.path)
        log = CappedLog(paths.logs / f"{s.id}.log",
                        f"try {attempt} of {self.options.tries}, worker {worker}",
                        max_bytes=self.options.log_max_bytes)
        try:
            proc = processes.start_group(self.options.agent, env=env,
                                         cwd=paths.root if tree is None else tree.path,
                                         stdin_path=prompt_file)
        except OSError:
            log.close("could not start")
            raise
        return proc, processes.exit_handle(proc), log

    def _could_not_start(self, sortie: Sortie, worker: str, attempt: int, lease: Lease,
                         why: str) -> None:
        result = TryResult(sortie.id, attempt, worker, None, 0.0, error=why)
        self._ended(sortie, result, lease)

    # -- watching tries ------------------------------------------------------------------
    def _wait(self, now: float) -> None:
        times = [self.next_watch, self.next_look if not self.changed else now]
        every = self.options.lease_ttl / 3
        for r in self.running.values():
            times.append(r.renewed + every)  # the lease is renewed on time, not when idle
            if r.phase == "queued":
                continue
            if r.stop_at is not None:
                times.append(r.stop_at)
            elif r.deadline is not None and r.blocked_since is None:
                times.append(r.deadline)
            if r.exit_fd is None:
                times.append(now + 0.01)  # no pidfd here: poll
        times += [t for t in self.not_before.values() if t > now]
        times += list(self.lingering.values())
        timeout = max(0.0, min(times) - now)
        fds = [fd for r in self.running.values() for fd in r.pipes]
        fds += [r.exit_fd for r in self.running.values() if r.exit_fd is not None
                and r.phase != "queued"]
        for fd in processes.wait_readable(fds, timeout):
            for r in self.running.values():
                if fd in r.pipes:
                    self._drain(r, fd)
                    break

    def _drain(self, r: _Running, fd: int) -> bool:
        """Read what ``fd`` has; False at its end (the pipe is closed then)."""
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                r.pipes.pop(fd, None)
                return False
            r.log.feed(data, stderr=r.pipes[fd])

    def _reap(self, now: float) -> None:
        ended = [sid for sid, r in self.running.items()
                 if r.phase != "queued" and r.proc.poll() is not None]
        if ended:
            with self.d.writes():  # the ends of tries together: one hold of the lock
                self._end(ended)
        for pgid, kill_at in list(self.lingering.items()):
            if not processes.group_alive(pgid):
                del self.lingering[pgid]
            elif now >= kill_at:
                processes.signal_group(pgid, "KILL")
                del self.lingering[pgid]

    def _end(self, ended: list[str]) -> None:
        for sid in ended:
            r = self.running[sid]
            if r.proc.poll() is None:
                continue
            for fd in list(r.pipes):
                self._drain(r, fd)
            self._close(r)
            code = r.proc.returncode
            code = 128 - code if code < 0 else code
            if r.phase in ("verify", "reverify"):
                self._verify_ended(r, code)
                continue
            result = TryResult(sid, r.attempt, r.worker, code,
                               self.d.monotonic() - r.started, timed_out=r.timed_out,
                               stderr_tail=r.log.stderr_tail(), log=str(r.log.path))
            if r.tree is not None and result.ok and self._after_agent(r, result):
                continue  # verify runs, or the merge is queued
            self._try_over(r, result)

    def _try_over(self, r: _Running, result: TryResult) -> None:
        """The try is over (its worktree goes): record its end."""
        self.running.pop(r.sortie.id, None)
        if self.merging == r.sortie.id:
            self.merging = None
        with contextlib.suppress(ValueError):
            self.merge_queue.remove(r.sortie.id)
        self.changed = True
        self.brief_text = None
        self.skip.clear()  # files were released: refused claims may pass now
        r.log.close(f"ended: {result.describe()}")
        if r.tree is not None and self.iso is not None:
            result.branch = r.tree.branch
            keep = bool(result.refused) and result.changed is not None
            try:
                self.iso.finish(r.tree, keep_branch=keep,
                                keep=self.options.keep_failed_branches,
                                live=[x.tree.branch for x in self.running.values()
                                      if x.tree is not None])
            except FleetHiveError as e:
                result.error = result.error or f"cleaning up its worktree: {e.message}"
        self._ended(r.sortie, result, r.lease)

    # -- worktree isolation: commit, check, verify, merge --------------------------------
    def _after_agent(self, r: _Running, result: TryResult) -> bool:
        """The agent exited 0 in its worktree: commit what it left, check the files it
        changed, then verify or queue the merge. False: the try is over (refused, or
        nothing changed)."""
        from ..git import worktrees as wt
        from .isolation import outside

        assert r.tree is not None
        r.result = result
        try:
            wt.commit_all(r.tree.path, f"{r.sortie.title}\n\nfleet-hive sortie {r.sortie.id}, "
                          f"try {r.attempt}", wt.Identity(r.worker))
            tip = wt.rev_parse(r.tree.path, "HEAD") or r.tree.fork
            result.changed = wt.changed_files(self.d.paths.root, r.tree.fork, tip)
        except FleetHiveError as e:
            result.refused, result.refusal = f"committing its change: {e.message}", "error"
            return False
        wrong = outside(result.changed, r.sortie.files)
        if wrong:
            shown = ", ".join(wrong[:20]) + (" ..." if len(wrong) > 20 else "")
            result.refused = f"it changed files outside its reservations: {shown}"
            result.refusal = "outside_reservations"
            return False
        if not result.changed:
            result.merged = False  # nothing to merge: the sortie completes as it is
            return False
        if self.options.verify:
            return self._start_verify(r, "verify")
        self._queue(r)
        return True

    def _start_verify(self, r: _Running, phase: str) -> bool:
        assert r.tree is not None and self.options.verify is not None
        r.log.close(f"{phase}: {self.options.verify}")
        r.log = CappedLog(Path(r.log.path), f"{phase} in {r.tree.path}: {self.options.verify}",
                          max_bytes=self.options.log_max_bytes)
        env = {**self.environ, "FLEET_MISSION_ID": self.mission_id,
               "FLEET_SORTIE_ID": r.sortie.id, "FLEET_REPO": str(self.d.paths.root),
               "FLEET_WORKTREE": str(r.tree.path)}
        try:
            proc = processes.start_group(self.options.verify, env=env, cwd=r.tree.path,
                                         stdin_path=os.devnull)
        except OSError as e:
            assert r.result is not None
            r.result.verified = False
            r.result.refused = f"the verify command could not start: {e}"
            r.result.refusal = "verify_failed"
            return False
        now = self.d.monotonic()
        r.proc, r.exit_fd, r.phase = proc, processes.exit_handle(proc), phase
        r.pipes = {}
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:  # both count for the tail: test runners report on stdout
                r.pipes[pipe.fileno()] = True
        r.deadline = None if self.options.timeout is None else now + self.options.timeout
        r.timed_out, r.stop_at = False, None
        r.lease.pgid = proc.pid
        self.d.leases.write(r.lease)
        self.emit("verify_started", sortie_id=r.sortie.id, command=self.options.verify,
                  after_merge=phase == "reverify", pid=proc.pid)
        return True

    def _verify_ended(self, r: _Running, code: int) -> None:
        result = r.result
        assert result is not None
        passed = code == 0 and not r.timed_out
        tail = r.log.stderr_tail()
        self.emit("verify_passed" if passed else "verify_failed", sortie_id=r.sortie.id,
                  exit_code=code, timed_out=r.timed_out, after_merge=r.phase == "reverify",
                  **({} if passed else {"tail": tail.strip()[-TAIL_CHARS:]}))
        result.verified = passed
        if not passed:
            what = "timed out" if r.timed_out else f"exited {code}"
            when = " after merging the newest base" if r.phase == "reverify" else ""
            result.refused = (f"verify `{self.options.verify}`{when} {what}"
                              + (f":\n{tail.strip()[-TAIL_CHARS:]}" if tail.strip() else ""))
            result.refusal = "verify_failed"
            self._try_over(r, result)
            return
        if r.phase == "verify":
            self._queue(r)
            return
        # re-verified after the merge: move the base branch (unless it moved again)
        assert r.merge is not None and self.iso is not None
        from ..git import worktrees as wt

        commit, tip = r.merge
        r.merge = None
        self.merging = None
        try:
            moved = wt.move_branch(self.d.paths.root, self.iso.base, tip, commit)
        except FleetHiveError as e:
            result.refused, result.refusal = f"merging: {e.message}", "error"
            self._try_over(r, result)
            return
        self._merge_done(r, moved)

    def _queue(self, r: _Running) -> None:
        r.phase = "queued"
        r.exit_fd = None
        self.merge_queue.append(r.sortie.id)
        self.emit("merge_queued", sortie_id=r.sortie.id, position=len(self.merge_queue))

    def _pump_merges(self) -> None:
        """Merge the queue's head, one at a time: the base branch's newest tip with the
        sortie's branch; re-verified first when the tip moved since the fork."""
        from ..git import worktrees as wt

        assert self.iso is not None
        while self.merge_queue and self.merging is None:
            sid = self.merge_queue[0]
            r = self.running[sid]
            result = r.result
            assert r.tree is not None and result is not None
            root = self.d.paths.root
            try:
                made = wt.make_merge(root, self.iso.base, r.tree.branch,
                                     message=f"Merge {r.sortie.title} ({sid})\n\n"
                                     f"fleet-hive dispatch of mission {self.mission_id}, "
                                     f"branch {r.tree.branch}",
                                     identity=wt.Identity(r.worker))
            except FleetHiveError as e:
                self.merge_queue.pop(0)
                result.refused, result.refusal = f"merging: {e.message}", "error"
                self._try_over(r, result)
                continue
            if made.status == "made" and made.base_before != r.tree.fork and \
                    self.options.verify and self.options.verify_after_merge:
                assert made.commit is not None and made.base_before is not None
                self.merge_queue.pop(0)
                try:
                    wt.checkout(r.tree.path, made.commit)
                except FleetHiveError as e:
                    result.refused, result.refusal = f"merging: {e.message}", "error"
                    self._try_over(r, result)
                    continue
                r.merge = (made.commit, made.base_before)
                self.merging = sid
                if not self._start_verify(r, "reverify"):
                    self.merging = None
                    self._try_over(r, result)
                return
            if made.status == "made":
                assert made.commit is not None and made.base_before is not None
                try:
                    made = wt.move_branch(root, self.iso.base, made.base_before, made.commit)
                except FleetHiveError as e:
                    made = wt.MergeOutcome("refused", message=e.message)
            self.merge_queue.pop(0)
            self._merge_done(r, made)

    def _merge_done(self, r: _Running, outcome: Any) -> None:
        """What a merge attempt came to: merged (the try is over, completed), moved (queued
        again, at the head), or refused / a conflict (the try failed, its branch kept)."""
        result = r.result
        assert result is not None
        sid = r.sortie.id
        if outcome.status == "moved":  # someone moved the base branch meanwhile: again
            r.phase = "queued"
            self.merge_queue.insert(0, sid)
            return
        if outcome.status in ("merged", "up_to_date"):
            result.merged = True
            result.merge_commit = outcome.commit
            self.emit("merged", sortie_id=sid, commit=outcome.commit, base=self.iso.base
                      if self.iso else None, branch=r.tree.branch if r.tree else None)
        else:
            result.merged = False
            if outcome.status == "conflict":
                result.refusal = "conflict"
                result.refused = f"merge conflict: {outcome.message}"
                self.emit("merge_conflict", sortie_id=sid, files=outcome.conflicts,
                          branch=r.tree.branch if r.tree else None)
            else:
                result.refusal = "refused"
                result.refused = f"the merge was refused: {outcome.message}"
                self.emit("merge_conflict", sortie_id=sid, files=[], reason=outcome.message,
                          branch=r.tree.branch if r.tree else None)
        self._try_over(r, result)

    def _close(self, r: _Running) -> None:
        """The agent has exited: what it left in its group is stopped, the pipes closed."""
        if processes.signal_group(r.proc.pid, "TERM"):
            self.lingering[r.proc.pid] = self.d.monotonic() + self.options.grace
        for pipe in (r.proc.stdout, r.proc.stderr):
            if pipe is not None:
                pipe.close()
        if r.exit_fd is not None:
            os.close(r.exit_fd)
            r.exit_fd = None

    def _enforce_deadlines(self, now: float) -> None:
        for r in self.running.values():
            if r.phase == "queued":
                continue
            if r.stop_at is not None:
                if now >= r.stop_at:
                    processes.signal_group(r.proc.pid, "KILL")
                    r.stop_at = now + 3600  # killed: wait for the exit
                continue
            if r.deadline is None or r.blocked_since is not None or now < r.deadline:
                continue
            r.timed_out = True
            processes.signal_group(r.proc.pid, "TERM")
            r.stop_at = now + self.options.grace

    def _watch(self, now: float) -> None:
        """Progress and blockers the agents reported (their own writes to the log)."""
        if not self.running:
            return
        states = {s.id: s for s in self.d.sorties.list(
            mission=self.mission_id, status=["in_progress", "blocked"])}
        for sid, r in self.running.items():
            s = states.get(sid)
            if s is None:
                continue
            if s.progress != r.progress:
                r.progress = s.progress
                self.emit("sortie_progressed", sortie_id=sid, worker=r.worker,
                          percent=s.progress, note=s.progress_note)
            if s.status != r.status:
                r.status = s.status
                if s.status == "blocked":  # waiting for help: the clock stops
                    r.blocked_since = now
                    self.emit("sortie_blocked", sortie_id=sid, worker=r.worker,
                              reason=s.reason)
                elif r.blocked_since is not None:
                    if r.deadline is not None:
                        r.deadline += now - r.blocked_since
                    r.blocked_since = None
                    self.emit("sortie_unblocked", sortie_id=sid, worker=r.worker)

    def _renew(self, now: float) -> None:
        every = self.options.lease_ttl / 3
        for r in self.running.values():
            if now - r.renewed >= every:
                r.renewed = now
                r.lease.expires = self.d.now() + self.options.lease_ttl
                self.d.leases.write(r.lease)
                port = self.d.specialists()
                if port is not None:
                    with contextlib.suppress(FleetHiveError):
                        port.heartbeat(r.worker)
            if now - r.reserved >= min(_RESERVATION_RENEW, self.options.lease_ttl):
                r.reserved = now
                if r.sortie.files:
                    self.d.renew_reservations(r.worker)

    # -- ending tries --------------------------------------------------------------------
    def _ended(self, sortie: Sortie, result: TryResult, lease: Lease) -> None:
        """Record a try's end: complete, fail and retry later, or fail for good."""
        step, delay = decide.after_try(result, self.options)
        sorties = self.d.sorties
        reason = result.reason(self.options.tries)
        outcome = {"complete": "completed", "retry": "retried", "fail": "failed",
                   "requeue": "requeued"}[step]
        try:
            if step == "complete":
                outcome = self._complete(sortie.id, reason, result)
            else:
                self._fail(sortie.id, reason)
                if step in ("retry", "requeue"):
                    sorties.retry(sortie.id, reason=f"dispatch: try {result.attempt + 1} "
                                  + (f"in {delay:.1f} s" if delay else "when dispatched"))
        finally:
            self.d.leases.drop(sortie.id)
        self.tries_ended.append(result.facts(
            mission_id=self.mission_id, agent=self.options.agent, tries=self.options.tries,
            specialist=sortie.specialist, files=list(sortie.files), outcome=outcome))
        common = {"sortie_id": sortie.id, "title": sortie.title, "worker": result.worker,
                  "attempt": result.attempt, "tries": self.options.tries,
                  "exit_code": result.exit_code, "timed_out": result.timed_out,
                  "duration_ms": int(result.duration * 1000), "log": result.log}
        if result.merge_commit:
            common["merge_commit"] = result.merge_commit
        if outcome == "completed":
            with contextlib.suppress(FileNotFoundError):  # kept only while it may be asked
                (self.d.paths.prompts / f"{sortie.id}.md").unlink()
            self.summary.completed.append(sortie.id)
            self.not_before.pop(sortie.id, None)
            self.emit("sortie_completed", **common)
            return
        self.previous[sortie.id] = reason
        tail = result.stderr_tail.strip()
        if outcome == "retried":
            self.summary.retries += 1
            self.not_before[sortie.id] = self.d.monotonic() + delay
            self.emit("sortie_failed", **common, final=False, reason=result.describe(),
                      stderr_tail=tail)
            self.emit("sortie_retried", sortie_id=sortie.id, attempt=result.attempt + 1,
                      delay_ms=int(delay * 1000))
        elif outcome == "requeued":
            self.emit("sortie_requeued", sortie_id=sortie.id, reason=result.describe())
        else:
            self.summary.failed.append(sortie.id)
            self.emit("sortie_failed", **common, final=True, reason=result.describe(),
                      stderr_tail=tail)

    def _record_tries(self) -> None:
        facts, self.tries_ended = self.tries_ended, []
        with contextlib.suppress(FleetHiveError):  # the sorties' own events stand
            self.d.record_tries(facts)

    def _complete(self, sortie_id: str, reason: str, result: TryResult) -> str:
        """Exit 0: complete the sortie (the agent may have done so itself, or be
        blocked still)."""
        sorties = self.d.sorties
        try:
            sorties.complete(sortie_id, reason=reason)
            return "completed"
        except TransitionError:
            s = sorties.get(sortie_id)
        if s.status == "blocked":  # it finished anyway
            sorties.unblock(sortie_id, reason="the agent exited 0")
            s = sorties.get(sortie_id)
        if s.status == "in_progress":
            sorties.complete(sortie_id, reason=reason)
            return "completed"
        if s.status == "completed":
            return "completed"
        if s.status == "failed":  # the agent failed it itself, then exited 0
            result.error = s.reason
            return "failed"
        return "failed"

    def _fail(self, sortie_id: str, reason: str) -> None:
        sorties = self.d.sorties
        s = sorties.get(sortie_id)
        if s.status == "blocked":
            sorties.unblock(sortie_id, reason="its try ended")
            s = sorties.get(sortie_id)
        if s.status in ("assigned", "in_progress"):
            sorties.fail(sortie_id, reason=reason)

    def _stop_all(self) -> None:
        """Every agent still running is stopped (its whole group), its sortie re-queued
        (dispatch exits: Ctrl-C, SIGTERM, an error); lingering groups are ended too."""
        running = list(self.running.values())
        queued = [r for r in running if r.phase == "queued"]
        running = [r for r in running if r.phase != "queued"]
        groups = [r.proc.pid for r in running] + list(self.lingering)
        if groups:
            processes.stop_groups(groups, grace=self.options.grace,
                                  reap=[r.proc for r in running])
        self.lingering.clear()
        now = self.d.monotonic()
        for r in running + queued:
            if r.phase != "queued":
                for fd in list(r.pipes):
                    self._drain(r, fd)
                self._close(r)
            self.lingering.clear()
            del self.running[r.sortie.id]
            if r.tree is not None and self.iso is not None:  # tried afresh: nothing kept
                with contextlib.suppress(FleetHiveError, OSError):
                    self.iso.finish(r.tree, keep_branch=False, keep=0)
            result = TryResult(r.sortie.id, r.attempt, r.worker, None, now - r.started,
                               interrupted=True, stderr_tail=r.log.stderr_tail(),
                               log=str(r.log.path))
            r.log.close(f"ended: {result.describe()}")
            try:
                self._ended(r.sortie, result, r.lease)
            except FleetHiveError:
                self.d.leases.drop(r.sortie.id)  # recover finds the claim stale later

    def _finish(self) -> None:
        d = self.d
        self._record_tries()
        s = self.summary
        s.elapsed = d.monotonic() - self.started_at
        m = d.missions.get(self.mission_id, sorties=True)
        open_ = [x for x in (m.sorties or []) if x.status not in ("completed", "cancelled")]
        s.waiting = [x.id for x in open_ if x.id not in s.failed and x.status != "failed"]
        s.failed = sorted({*s.failed, *(x.id for x in open_ if x.status == "failed")},
                          key=[x.id for x in (m.sorties or [])].index)
        if not open_ and m.status == "in_progress" and not s.interrupted:
            m = d.missions.complete(self.mission_id, reason="dispatch: every sortie completed")
            self.emit("mission_completed", title=m.title)
        s.mission_status = m.status
        self.emit("dispatch_finished", **s.to_json())
