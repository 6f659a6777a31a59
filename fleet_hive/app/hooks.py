"""git hooks: what each hook runs, behind the shims of :mod:`fleet_hive.git.shims`.

The shims (one template, ``hooks/hook-tmpl``) exec ``python -m fleet_hive hooks run NAME``.
:func:`run` first runs the hook that was there before ours (``NAME.fleet-hive-chained``),
with the same arguments and stdin: its failure stops a pre-commit with its exit status;
for the post-* hooks it is reported and never blocks. ``core.hooksPath`` is respected.

- **pre-commit** (:func:`pre_commit`): the staged ``.fleet/`` files are valid (event lines
  are JSON objects with a valid envelope, YAML parses), event segments are append-only
  (HEAD's content is a prefix of the staged content; deleting a segment is refused), no
  snapshot is staged, derived files the commit holds match the log
  (:func:`fleet_hive.app.verify.commit_problems`, which ``fleet-hive commit`` runs too);
  and the **reservation guard**: a staged path outside ``.fleet/`` that another holder
  reserved exclusively blocks the commit, naming the holder. "Another holder" is anyone
  but the holder named by ``FLEET_HOLDER``, which defaults to the actor (``FLEET_ACTOR``,
  else the git user name, else the OS user), so an agent's own reservations never block
  its own commit; ``FLEET_SKIP_RESERVATIONS=1`` skips the guard.
- **post-merge, post-checkout, post-rewrite** (:func:`.verify.repair_derived`): the index
  cache catches up and derived snapshots are regenerated from the (merged) log. They never
  block: errors are reported and the hook still succeeds.
- **merge-snapshot**: the merge driver older versions named for committed snapshots; kept
  runnable (it keeps ours) for a repository whose config still names it. Snapshots are no
  longer committed, so nothing in a merge needs it (``docs/git.md``).

``fleet-hive commit`` builds commits by hand and runs no hooks, so the Hive hands it
:func:`fleet_hive.app.verify.commit_problems`, the very checks pre-commit runs, to run
before writing anything.

No dulwich here: git access goes through ``hive.git`` (:mod:`fleet_hive.git`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..git import shims
from ..git.shims import CHAINED_SUFFIX, HOOKS, InstallResult
from ..kernel.errors import ConflictError, InvalidInputError
from .verify import commit_problems, repair_derived

if TYPE_CHECKING:
    from .hive import Hive

RUNNABLE = (*HOOKS, "merge-snapshot")

#: ``check(paths, holder)`` -> the reservation conflicts (``hive.reservations.check``).
ReservationCheck = Callable[[list[str], str | None], Any]


# -- what the hooks run --------------------------------------------------------------------
@dataclass
class HookOutcome:
    """What a hook run decided: its exit code and the lines to show on stderr."""

    hook: str
    exit_code: int = 0
    messages: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"hook": self.hook, "exit_code": self.exit_code, "messages": self.messages}


def run(hive: Hive, name: str, args: Sequence[str], environ: Mapping[str, str], *,
        reservation_check: ReservationCheck | None = None,
        hook_dir: Path | None = None) -> HookOutcome:
    """Run hook ``name`` (one of :data:`RUNNABLE`) with git's arguments and environment.

    ``hook_dir`` is where the shim lives (its chained hook beside it); by default the
    repository's hooks directory. On a branch without ``.fleet/`` the post-* hooks only run
    the chained hook.
    """
    if name not in RUNNABLE:
        raise InvalidInputError(f"unknown hook {name!r}", hint=f"one of: {', '.join(RUNNABLE)}")
    if name == "merge-snapshot":
        return HookOutcome(name)  # keep ours (%A is already ours); post-merge regenerates
    if name == "pre-commit":
        status = shims.run_chained(hook_dir or hive.git.hooks_dir(), name, args)
        if status:
            return HookOutcome(name, status)  # it said why; git shows no more than that
        return pre_commit(hive, environ, reservation_check=reservation_check)
    outcome = HookOutcome(name)  # a post-* hook: it never blocks
    try:
        status = shims.run_chained(hook_dir or hive.git.hooks_dir(), name, args)
    except Exception as e:
        outcome.messages.append(f"fleet-hive {name}: {type(e).__name__}: {e} (ignored)")
    else:
        if status:
            outcome.messages.append(f"fleet-hive {name}: {name}{CHAINED_SUFFIX} failed with "
                                    f"exit status {status} (ignored)")
    if not hive.layout.fleet.is_dir():
        return outcome  # nothing to refresh on a branch without .fleet/
    try:
        report = repair_derived(hive)
    except Exception as e:
        outcome.messages.append(f"fleet-hive {name}: {type(e).__name__}: {e} (ignored)")
        return outcome
    for p in report.problems:
        if p.severity == "repaired":
            outcome.messages.append(f"fleet-hive: regenerated {p.path or p.message}")
        elif p.severity == "error":
            outcome.messages.append(f"fleet-hive: {p.where()}{p.message} [{p.kind}]")
    return outcome


def pre_commit(hive: Hive, environ: Mapping[str, str], *,
               reservation_check: ReservationCheck | None = None) -> HookOutcome:
    """The pre-commit checks; ``exit_code`` 1 on invalid ``.fleet/`` content, 3 when a
    reservation of another holder blocks the commit."""
    outcome = HookOutcome("pre-commit")
    index_file = environ.get("GIT_INDEX_FILE")
    fleet, other = hive.git.staged_changes(Path(index_file) if index_file else None)
    problems = commit_problems(hive, fleet)  # the very checks `fleet-hive commit` runs
    initialized = hive.layout.fleet.is_dir()  # False on a commit that removes .fleet/
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        outcome.messages.append(f"fleet-hive pre-commit: {p.severity}: {p.where()}{p.message} "
                                f"[{p.kind}]")
    if errors:
        outcome.exit_code = 1
        outcome.messages.append("fleet-hive pre-commit: commit refused (event lines are "
                                "append-only; `fleet-hive verify --repair` regenerates "
                                "snapshots)")
        return outcome
    if other and initialized and not _truthy(environ.get("FLEET_SKIP_RESERVATIONS", "")):
        holder = environ.get("FLEET_HOLDER") or hive.actor  # one identity
        check = reservation_check or hive.reservations.check
        blocked = reserved_by_others(check, other, holder)
        if blocked:
            outcome.exit_code = ConflictError.exit_code
            for path, who in blocked:
                outcome.messages.append(f"fleet-hive pre-commit: {path} is reserved "
                                        f"exclusively by {who}")
            outcome.messages.append(
                f"fleet-hive pre-commit: commit refused for {holder}; set FLEET_ACTOR (or "
                "FLEET_HOLDER) to your holder name if the reservation is yours, or "
                "FLEET_SKIP_RESERVATIONS=1 to override")
    return outcome


def reserved_by_others(check: ReservationCheck, paths: list[str],
                       holder: str | None) -> list[tuple[str, str]]:
    """(path, holder) for each path another holder has reserved exclusively."""
    result = check(paths, holder)
    conflicts = getattr(result, "conflicts", result) or []
    out: list[tuple[str, str]] = []
    for c in conflicts:
        reservation = getattr(c, "reservation", c)
        who = _field(reservation, "holder")
        mode = _field(reservation, "mode") or "exclusive"
        path = _field(c, "requested") or _field(reservation, "path")
        if mode == "exclusive" and who and who != holder:
            out.append((str(path), str(who)))
    return sorted(set(out))


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


# -- install / uninstall -------------------------------------------------------------------
def install(hive: Hive, python: str) -> InstallResult:
    """Install the shims (chaining existing hooks); remove the old snapshot merge driver."""
    return hive.git.install_hooks(python)


def uninstall(hive: Hive) -> InstallResult:
    """Remove the shims, restore chained hooks, remove the merge driver's config."""
    return hive.git.uninstall_hooks()
