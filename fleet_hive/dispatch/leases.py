"""Local leases: one file per running sortie, ``.fleet/local/dispatch/leases/<id>.json``.

A running sortie's claim and file reservations are in the log, shared by every clone; the
lease says, on this machine, which dispatcher process runs it and in which process group,
until when unless renewed. The dispatcher renews its leases (and the claimant's
reservations) while the agent lives. A lease has *lapsed* when its dispatcher is gone
from this host (seen at once: a SIGKILLed dispatcher) or when it expired unrenewed; the
next ``dispatch`` and ``recover`` then stop what is left of the agent's process group and
re-queue the sortie after checking it is still open and still claimed by the same
claimant, so completed work is never redone.

Creating a lease is exclusive (``O_EXCL``): two dispatchers on one machine never run the
same sortie, even under one identity.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ..kernel import clock, liveness
from ..kernel.fsio import write_atomic
from .decide import lapse
from .model import Lease


class LeaseBook:
    """The lease files in ``directory``; ``now`` is the clock (epoch seconds)."""

    def __init__(self, directory: Path, *, now: clock.Clock = clock.now) -> None:
        self.directory = directory
        self.now = now
        self._host: str | None = None

    @property
    def host(self) -> str:
        if self._host is None:
            self._host = liveness.this_host()
        return self._host

    def _path(self, sortie_id: str) -> Path:
        return self.directory / f"{sortie_id}.json"

    def take(self, sortie_id: str, mission_id: str, claimant: str, ttl: float,
             ) -> Lease | None:
        """A new lease of ``sortie_id`` for this process, or None when a lease of it
        exists already (another dispatcher runs it, or a lapsed one waits for recovery)."""
        me = liveness.current()
        lease = Lease(sortie_id, mission_id, claimant, me.pid, me.host, me.start,
                      self.now() + ttl)
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._path(sortie_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(lease.to_json(), f)
        return lease

    def write(self, lease: Lease) -> None:
        """Replace the lease file (a renewal, the agent's process group recorded)."""
        write_atomic(self._path(lease.sortie_id), json.dumps(lease.to_json()), durable=False)

    def drop(self, sortie_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(sortie_id).unlink()

    def get(self, sortie_id: str) -> Lease | None:
        try:
            return Lease.from_json(json.loads(self._path(sortie_id).read_text("utf-8")))
        except (OSError, ValueError):
            return None

    def all(self) -> list[Lease]:
        try:
            names = sorted(p.name for p in self.directory.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            lease = self.get(name[:-len(".json")])
            if lease is not None:
                out.append(lease)
        return out

    def why_lapsed(self, lease: Lease) -> str | None:
        proc = liveness.ProcessId(lease.pid, lease.host, lease.start)
        return lapse(lease, now=self.now(), running=liveness.is_running(proc, self.host))

    def lapsed(self, mission_id: str | None = None) -> list[tuple[Lease, str]]:
        """The lapsed leases (of ``mission_id``), each with why."""
        out = []
        for lease in self.all():
            if mission_id is not None and lease.mission_id != mission_id:
                continue
            why = self.why_lapsed(lease)
            if why is not None:
                out.append((lease, why))
        return out

    def holds(self, sortie_id: str) -> bool:
        """Whether a live lease (a dispatcher alive, renewing) covers ``sortie_id``."""
        lease = self.get(sortie_id)
        return lease is not None and self.why_lapsed(lease) is None

    def end(self, lease: Lease, *, grace: float = 2.0) -> None:
        """Stop what is left of a lapsed lease's agent (its process group, on this host)
        and remove the lease."""
        from ..kernel.processes import stop_groups

        if lease.pgid is not None and lease.host == self.host:
            stop_groups([lease.pgid], grace=grace)
        if lease.worktree is not None and lease.host == self.host:
            from ..kernel.errors import FleetHiveError
            from .isolation import remove_leftover

            with contextlib.suppress(FleetHiveError, OSError):  # recover again later
                remove_leftover(lease.root, lease.worktree, lease.branch)
        self.drop(lease.sortie_id)

    # -- the port ``recover`` uses (checkpoints.recovery.LapsedLeases) -------------------
    def lapsed_sorties(self) -> dict[str, tuple[str, str]]:
        """sortie id -> (claimant, why) for every lapsed lease."""
        return {lease.sortie_id: (lease.claimant, why) for lease, why in self.lapsed()}

    def release(self, sortie_id: str) -> None:
        """End the lapsed lease of ``sortie_id`` (stop its agent's group, remove it)."""
        lease = self.get(sortie_id)
        if lease is None:
            return
        if self.why_lapsed(lease) is None:
            return  # renewed meanwhile: not ours to end
        self.end(lease)
