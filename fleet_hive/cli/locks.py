"""``lock acquire|release|renew|list|check``: file reservations (``hive.reservations``).

``lock check`` and ``lock list`` are read paths: they answer from the index and never
import pydantic or filelock (``lock list`` takes the writer lock only to record the expiry
of leases it finds lapsed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from . import Ctx, spec
from .output import echo, info, table, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..reservations.model import Contest, Reservation

_HOLDER_HELP = ("Who holds the reservation: an agent, specialist or person name "
                "(default: the actor, --actor / FLEET_ACTOR).")


def _holder(ctx: Ctx, holder: str | None) -> str:
    """One identity: without --holder, the actor holds."""
    return holder if holder is not None else ctx.hive().actor


@spec.group("lock")
def lock() -> None:
    """File reservations: lease paths or globs so agents never edit the same file.

    A reservation is exclusive (the default: conflicts with any overlapping reservation
    of another holder) or --shared (conflicts only with exclusive ones). It lasts --ttl
    seconds unless renewed. Conflicts exit 3; a --wait that runs out exits 4.
    Paths are repository-relative; globs follow docs/globs.md (`src/**`, `*.py`).
    """


def _render(rows: Sequence[Reservation], empty: str,
            marks: dict[str, dict[str, Any]] | None = None) -> None:
    if not rows:
        info(empty)
        return
    now = time.time()
    marks = marks or {}
    echo(table([(r.path, r.holder, r.mode + (" !" if r.id in marks else ""), r.expires_at,
                       f"{max(0, r.expires - now):.0f}s", r.reason or "") for r in rows],
                     ("path", "holder", "mode", "expires_at", "left", "reason")))
    for r in rows:
        if r.id in marks:
            m = marks[r.id]
            echo(f"! {r.path} ({r.holder}): {m['status']}: {m['message']}")


def _json(rows: Sequence[Reservation], marks: dict[str, dict[str, Any]] | None = None) -> None:
    now = time.time()
    marks = marks or {}
    write_json([{**r.to_json(now), **({"conflict": marks[r.id]} if r.id in marks else {})}
                for r in rows])


def _marks(contests: Sequence[Contest]) -> dict[str, dict[str, Any]]:
    """Each contested lease's ``conflict``: whether it ``keeps`` the reservation or is
    ``conflicting`` (lost it, to be released), and with which leases."""
    out: dict[str, dict[str, Any]] = {}
    for c in contests:
        for r, status, other in ((c.kept, "keeps", c.lost), (c.lost, "conflicting", c.kept)):
            mark = out.setdefault(r.id, {"status": status, "with": [], "message": c.message})
            if status == "conflicting":
                mark["status"], mark["message"] = status, c.message
            mark["with"].append({"id": other.id, "holder": other.holder, "path": other.path,
                                 "mode": other.mode})
    return out


@lock.command("acquire", short_help="Reserve paths or globs, all or nothing.")
@spec.argument("paths", nargs=-1, required=True, metavar="PATH_OR_GLOB...")
@spec.option("--holder", default=None, help=_HOLDER_HELP)
@spec.option("--ttl", type=float, default=None,
              help="Seconds until the reservation lapses unless renewed (default 3600).")
@spec.option("--wait", type=float, default=0.0, show_default=True,
              help="Wait up to this many seconds for conflicting reservations to go; "
                   "exit 4 if they do not.")
@spec.option("--shared", is_flag=True, help="A shared (reader) reservation.")
@spec.option("--reason", default=None, help="Why, for the others (shown by `lock list`).")
@spec.json_option
def acquire_cmd(ctx: Ctx, paths: tuple[str, ...], holder: str | None, ttl: float | None,
                wait: float, shared: bool, reason: str | None) -> None:
    """Reserve paths or globs, all or nothing (exit 3 on a conflict, 4 on a --wait timeout).

    Re-acquiring what HOLDER already holds extends it. A wait that would close a cycle
    of waiting holders (a deadlock) is refused at once with exit 3.
    """
    rows = ctx.hive().reservations.acquire(list(paths), holder=_holder(ctx, holder), ttl=ttl,
                                           wait=wait, shared=shared, reason=reason)
    if ctx.json:
        _json(rows)
        return
    for r in rows:
        info(f"reserved {r.path} for {r.holder} ({r.mode}) until {r.expires_at}")


@lock.command("release", short_help="Give reservations up (exact paths, or --all).")
@spec.argument("paths", nargs=-1, metavar="[PATH_OR_GLOB]...")
@spec.option("--holder", default=None, help=_HOLDER_HELP)
@spec.option("--all", "all_", is_flag=True, help="Release every reservation of HOLDER.")
@spec.json_option
def release_cmd(ctx: Ctx, paths: tuple[str, ...], holder: str | None, all_: bool) -> None:
    """Release HOLDER's reservations of exactly these paths or globs (or --all of them).

    Releasing a path reserved by someone else exits 3 and releases nothing; a path
    nobody holds is skipped.
    """
    if all_ == bool(paths):
        raise spec.UsageError("give the paths to release, or --all (not both)")
    holder = _holder(ctx, holder)
    res = ctx.hive().reservations
    rows = res.release_all(holder) if all_ else res.release(list(paths), holder=holder)
    if ctx.json:
        _json(rows)
        return
    for r in rows:
        info(f"released {r.path} ({r.holder})")
    if not rows:
        info(f"{holder} held nothing to release")


@lock.command("renew", short_help="Extend a holder's live reservations.")
@spec.argument("paths", nargs=-1, metavar="[PATH_OR_GLOB]...")
@spec.option("--holder", default=None, help=_HOLDER_HELP)
@spec.option("--ttl", type=float, default=None,
              help="New lifetime in seconds from now (default: each reservation's own).")
@spec.json_option
def renew_cmd(ctx: Ctx, paths: tuple[str, ...], holder: str | None, ttl: float | None,
              ) -> None:
    """Extend HOLDER's live reservations (all, or only these paths); exit 1 if none is live."""
    rows = ctx.hive().reservations.renew(_holder(ctx, holder), ttl=ttl, paths=list(paths) or None)
    if ctx.json:
        _json(rows)
        return
    for r in rows:
        info(f"renewed {r.path} ({r.holder}) until {r.expires_at}")


@lock.command("list", short_help="List live reservations.")
@spec.option("--holder", default=None, help="Only this holder's reservations.")
@spec.option("--path", default=None, help="Only reservations overlapping this path or glob.")
@spec.json_option
def list_cmd(ctx: Ctx, holder: str | None, path: str | None) -> None:
    """List live reservations (lapsed ones are recorded as expired and not shown)."""
    reservations = ctx.hive().reservations
    rows = reservations.list(holder=holder, path=path)
    marks = _marks(reservations.contests())
    if ctx.json:
        _json(rows, marks)
        return
    _render(rows, "no reservations", marks)


@lock.command("check", short_help="Exit 3 if a path is reserved by someone else.")
@spec.argument("paths", nargs=-1, required=True, metavar="PATH...")
@spec.option("--holder", default=None,
              help="Ask for this holder: its own reservations do not count as conflicts "
                   "(default: the actor, --actor / FLEET_ACTOR).")
@spec.option("--shared", is_flag=True,
              help="Ask whether a shared reservation would fit (default: may I edit).")
@spec.option("--glob", "patterns", is_flag=True,
              help="Treat each PATH as a glob (default: a file name, in which *, ? and [ "
                   "are ordinary characters).")
@spec.json_option
def check_cmd(ctx: Ctx, paths: tuple[str, ...], holder: str | None, shared: bool,
              patterns: bool) -> None:
    """Exit 3 if any path is reserved by someone else (read only, fast: for hooks)."""
    holder = _holder(ctx, holder)
    result = ctx.hive().reservations.check(list(paths), holder=holder, shared=shared,
                                           patterns=patterns)
    result.raise_if_held()
    if ctx.json:
        write_json(result.to_json())
        return
    who = f" for {holder}" if holder else ""
    info(f"free{who}: {', '.join(result.paths)}")
