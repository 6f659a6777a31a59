"""Dispatch's decisions, pure: which ready sortie goes to which worker now, what a try's
end leads to, whether a lease has lapsed. The engine (:mod:`.service`) does what they say.

The claim itself stays one atomic decision of the missions service (claim and file
reservations in one unit of work); what is decided here only avoids claims that are sure
to be refused (files overlapping a running sortie's) and keeps the work balanced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..kernel.globs import overlaps
from ..missions.model import Sortie
from .model import Lease, Options, TryResult, backoff_delay


def overlapping(files: Sequence[str], held: Sequence[str]) -> bool:
    """Whether any of ``files`` overlaps any of ``held`` (both ways, globs included)."""
    return any(overlaps(a, b) for a in files for b in held)


def assign(ready: Sequence[Sortie], *, running_files: Sequence[str], free: Sequence[str],
           slots: int, capable: Callable[[str | None], Sequence[str]] | None,
           not_before: Mapping[str, float], now: float, skip: frozenset[str] = frozenset(),
           ) -> list[tuple[Sortie, str]]:
    """Pairs (sortie, worker) to start now, most urgent sortie first (``ready`` is in
    that order). A sortie waiting out its backoff, in ``skip``, or whose files overlap a
    running sortie's (or one chosen before it here) waits; at most ``slots`` start.
    ``free`` are the idle workers
    in the order to use them; ``capable(kind)``, when given, names who may take a sortie
    of that kind, least loaded first (the free ones among them are used)."""
    out: list[tuple[Sortie, str]] = []
    idle = list(free)
    held = list(running_files)
    for s in ready:
        if not idle or len(out) >= slots:
            break
        if s.id in skip or not_before.get(s.id, 0.0) > now:
            continue
        if s.files and overlapping(s.files, held):
            continue
        if capable is None:
            worker = idle[0]
        else:
            names = [n for n in capable(s.specialist) if n in idle]
            if not names:
                continue
            worker = names[0]
        idle.remove(worker)
        held.extend(s.files)
        out.append((s, worker))
    return out


def after_try(result: TryResult, options: Options) -> tuple[str, float]:
    """What a try's end leads to: ``("complete", 0)``, ``("retry", delay)`` (the sortie
    is failed, re-queued and waits ``delay`` seconds) or ``("fail", 0)`` (tries used up,
    or dispatch was interrupted: the sortie is re-queued by ``interrupted`` instead)."""
    if result.ok:
        return "complete", 0.0
    if result.interrupted:
        return "requeue", 0.0
    if result.attempt < options.tries:
        return "retry", backoff_delay(options.backoff, result.attempt)
    return "fail", 0.0


def lapse(lease: Lease, *, now: float, running: bool | None) -> str | None:
    """Why ``lease`` has lapsed, or None while it holds. ``running``: whether its
    dispatcher still runs (None: it ran on another host, only the expiry tells)."""
    if running is False:
        return f"its dispatcher (pid {lease.pid}) is gone"
    if lease.expires < now:
        return "its lease expired without renewal"
    return None
