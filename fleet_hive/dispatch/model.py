"""Dispatch as plain data: the options of a run, a try's outcome, the progress records the
engine emits, the local lease file. No storage, no processes here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..kernel.errors import InvalidInputError

#: The default agent when ``--agent`` is not given: ``$FLEET_AGENT`` is read by the CLI;
#: without either, dispatch refuses to guess.
AGENT_ENV = "FLEET_AGENT"
#: Bytes of an agent's output kept per sortie log (the head; the tail is kept too).
LOG_MAX_BYTES = 1 << 20
#: Bytes of an agent's stderr tail put in a failed try's reason and shown.
TAIL_BYTES = 2000
#: Seconds between looks at the running sorties' state (progress, blockers).
WATCH_INTERVAL = 0.25
#: A running sortie's local lease lasts this long unless renewed (renewed at a third).
LEASE_TTL = 60.0
#: Seconds a stopped agent's process group gets between SIGTERM and SIGKILL.
GRACE = 2.0

#: Kinds of the progress records (``--json`` prints one per line).
RECORD_KINDS = ("dispatch_started", "sortie_started", "sortie_progressed", "sortie_blocked",
                "sortie_unblocked", "sortie_completed", "sortie_failed", "sortie_retried",
                "sortie_requeued", "mission_completed", "dispatch_finished",
                # worktree isolation (issue 15)
                "verify_started", "verify_passed", "verify_failed", "merge_queued",
                "merged", "merge_conflict", "worktree_budget")
#: Where sortie worktrees go by default (relative to the repository root).
WORKTREE_DIR = ".fleet/local/worktrees"
#: Isolations: ``shared`` (the repository itself) or ``worktree`` (one per try).
ISOLATIONS = ("shared", "worktree")


@dataclass(frozen=True)
class Options:
    """How a mission is dispatched (``fleet-hive dispatch``)."""

    agent: str
    workers: int = 4
    timeout: float | None = None  # seconds per try; None: no limit
    retries: int = 1  # tries after the first
    backoff: float = 1.0  # seconds before the first retry, doubled each time (max 60)
    grace: float = GRACE
    log_max_bytes: int = LOG_MAX_BYTES
    lease_ttl: float = LEASE_TTL
    isolation: str = "shared"
    verify: str | None = None  # worktree isolation: the command that must pass to merge
    base: str | None = None  # the branch merged into; None: the one checked out at the root
    verify_after_merge: bool = True
    worktree_dir: str = WORKTREE_DIR
    disk_budget: int | None = None  # bytes of worktrees per mission; None: no limit
    keep_failed_branches: int = 20  # per mission: older kept branches are deleted

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise InvalidInputError(f"--isolation must be one of {', '.join(ISOLATIONS)}, "
                                    f"got {self.isolation!r}")
        if self.verify is not None and not self.verify.strip():
            raise InvalidInputError("--verify needs a command", hint="e.g. --verify "
                                    "'python -m pytest -q'")
        if self.isolation != "worktree" and (self.verify or self.base):
            raise InvalidInputError("--verify and --base need --isolation worktree")
        self._check_numbers()

    def _check_numbers(self) -> None:
        if not isinstance(self.agent, str) or not self.agent.strip():
            raise InvalidInputError("no agent command to run",
                                    hint="give --agent COMMAND (or set FLEET_AGENT), e.g. "
                                         "--agent 'claude -p'")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or \
                not 1 <= self.workers <= 256:
            raise InvalidInputError(f"--workers must be 1 to 256, got {self.workers!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or \
                not 0 <= self.retries <= 100:
            raise InvalidInputError(f"--retries must be 0 to 100, got {self.retries!r}")
        for name in ("timeout", "backoff", "grace", "lease_ttl"):
            value = getattr(self, name)
            if value is None and name == "timeout":
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or \
                    not math.isfinite(value) or value < 0 or (name != "backoff" and value == 0):
                raise InvalidInputError(f"--{name} must be a positive number of seconds, "
                                        f"got {value!r}")

    @property
    def tries(self) -> int:
        return self.retries + 1


def backoff_delay(base: float, failed_tries: int) -> float:
    """Seconds to wait before the next try after ``failed_tries`` failures: ``base``
    doubled each time, at most 60 s."""
    if failed_tries <= 0 or base <= 0:
        return 0.0
    return float(min(60.0, base * 2.0 ** (failed_tries - 1)))


@dataclass
class TryResult:
    """How one try of one sortie ended."""

    sortie_id: str
    attempt: int  # 1-based
    worker: str
    exit_code: int | None  # as a shell reports it (128 + N: killed by signal N); None: never ran
    duration: float
    timed_out: bool = False
    interrupted: bool = False
    error: str = ""  # why it could not start, or what went wrong recording it
    stderr_tail: str = ""
    log: str = ""
    # worktree isolation: what became of the agent's change
    refused: str = ""  # why the change is not merged (verify failed, a conflict, ...)
    refusal: str = ""  # its kind: verify_failed, conflict, outside_reservations, refused
    branch: str | None = None
    changed: list[str] | None = None  # the files the try changed since its fork
    verified: bool | None = None  # None: no verify ran
    merged: bool | None = None  # None: nothing to merge (shared isolation)
    merge_commit: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.interrupted \
            and not self.refused

    def describe(self) -> str:
        """One line for people: ``try N, worker W: what happened``."""
        return f"try {self.attempt}, worker {self.worker}: {self._what()}"

    def _what(self) -> str:
        if self.error and self.exit_code is None:
            what = f"agent could not start: {self.error}"
        elif self.interrupted:
            what = "dispatch was interrupted"
        elif self.timed_out:
            what = f"timed out after {self.duration:.1f} s (process group stopped)"
        else:
            what = f"agent exited {self.exit_code} after {self.duration:.1f} s"
        if self.refused:
            what += f"; not merged: {self.refused}"
        elif self.merge_commit:
            what += f"; merged as {self.merge_commit}"
            if self.verified:
                what += " (verified)"
        return what

    def reason(self, tries: int) -> str:
        """The sortie_completed / sortie_failed reason: what happened, then the stderr
        tail of a failure (``learning`` reads the facts from the try event instead)."""
        text = f"dispatch try {self.attempt} of {tries}, worker {self.worker}: {self._what()}"
        if not self.ok and self.stderr_tail.strip() and not self.refused:
            text += "\nstderr tail:\n" + self.stderr_tail.strip()
        return text[:100_000]

    def facts(self, *, mission_id: str, agent: str, tries: int, specialist: str | None,
              files: list[str], outcome: str) -> dict[str, Any]:
        """The data of the ``sortie_try_ended`` event (outcomes for learning)."""
        return {"sortie_id": self.sortie_id, "mission_id": mission_id,
                "attempt": self.attempt, "tries": tries, "worker": self.worker,
                "specialist": specialist, "agent": agent[:2000],
                "exit_code": self.exit_code, "timed_out": self.timed_out,
                "interrupted": self.interrupted, "duration_ms": int(self.duration * 1000),
                "outcome": outcome, "error": self.error[:2000],
                "stderr_tail": self.stderr_tail[-TAIL_BYTES:], "files": list(files),
                "branch": self.branch, "changed_files": self.changed,
                "verified": self.verified, "merged": self.merged,
                "merge_commit": self.merge_commit, "refused": self.refused[:2000],
                "refusal": self.refusal}


@dataclass
class Summary:
    """What a dispatch run did."""

    mission_id: str
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)  # lapsed leases found and re-queued
    waiting: list[str] = field(default_factory=list)  # open sorties left (a dependency failed)
    tries: int = 0
    retries: int = 0
    elapsed: float = 0.0
    mission_status: str = ""
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.waiting and not self.interrupted

    def to_json(self) -> dict[str, Any]:
        return {"mission_id": self.mission_id, "ok": self.ok,
                "mission_status": self.mission_status, "completed": list(self.completed),
                "failed": list(self.failed), "waiting": list(self.waiting),
                "requeued": list(self.requeued), "tries": self.tries,
                "retries": self.retries, "elapsed_ms": int(self.elapsed * 1000),
                "interrupted": self.interrupted}


@dataclass
class Lease:
    """A running sortie's local lease (``.fleet/local/dispatch/leases/<sortie>.json``):
    which dispatcher (pid, host, start ticks) runs it, as whom, in which process group,
    until when unless renewed."""

    sortie_id: str
    mission_id: str
    claimant: str
    pid: int
    host: str
    start: int | None
    expires: float  # epoch seconds
    pgid: int | None = None  # the agent's process group, once it runs
    worktree: str | None = None  # worktree isolation: the try's worktree and branch
    branch: str | None = None
    root: str | None = None  # the repository they belong to

    def to_json(self) -> dict[str, Any]:
        return {"sortie_id": self.sortie_id, "mission_id": self.mission_id,
                "claimant": self.claimant, "pid": self.pid, "host": self.host,
                "start": self.start, "expires": self.expires, "pgid": self.pgid,
                "worktree": self.worktree, "branch": self.branch, "root": self.root}

    @classmethod
    def from_json(cls, data: Any) -> Lease | None:
        """The lease in ``data``, or None when it is not one (a damaged file)."""
        try:
            return cls(str(data["sortie_id"]), str(data["mission_id"]),
                       str(data["claimant"]), int(data["pid"]), str(data["host"]),
                       None if data.get("start") is None else int(data["start"]),
                       float(data["expires"]),
                       None if data.get("pgid") is None else int(data["pgid"]),
                       _opt(data.get("worktree")), _opt(data.get("branch")),
                       _opt(data.get("root")))
        except (KeyError, TypeError, ValueError):
            return None


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40}


def parse_size(value: object, what: str = "worktree_disk_budget") -> int | None:
    """Bytes in a size such as ``2GB``, ``500m`` or ``1048576`` (None, ``""``, ``0``,
    ``none``: no limit)."""
    import re

    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    text = str(value).strip().lower().replace(" ", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt]?b?)", text)
    if m is None or isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a size such as 2GB or 500MB, got {value!r}")
    size = int(float(m.group(1)) * _UNITS[m.group(2)])
    return size or None
