"""Pure: the events of one ``outcome:<id>`` stream, in total order -> its outcome.

The latest ``outcome_recorded`` is the outcome (a retried sortie or a reopened mission
ends again); each later ``outcome_amended`` sets what it names. Events this version cannot
read are skipped, not fatal: other clones may run newer versions.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import MAX_ERRORS, Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events.envelope import Event


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return [v for v in value if isinstance(v, str)]


def fold_outcome(events: Iterable[Event]) -> Outcome | None:
    out: Outcome | None = None
    for e in events:
        d = e.data
        try:
            if e.type == "outcome_recorded":
                changed = d.get("changed_files")
                out = Outcome(
                    subject_id=e.stream.partition(":")[2], subject=str(d["subject"]),
                    mission_id=str(d["mission_id"]), sortie_id=d.get("sortie_id"),
                    status=str(d["status"]), success=bool(d["success"]),
                    tries=max(int(d.get("tries", 1)), 1),
                    duration_s=_seconds(d.get("duration_s")),
                    total_s=_seconds(d.get("total_s")),
                    finished_at=str(d.get("finished_at") or e.time),
                    strategy=str(d.get("strategy") or "unplanned"),
                    planner=d.get("planner"), features=sorted(set(_strings(
                        d.get("features", [])))),
                    planned_files=_strings(d.get("planned_files", [])),
                    changed_files=None if changed is None else _strings(changed),
                    verified=d.get("verified"), merged=d.get("merged"),
                    specialist=d.get("specialist"), agent=d.get("agent"),
                    errors=_strings(d.get("errors", [])), cause=e.causation_id,
                    order=e.order_key)
            elif e.type == "outcome_amended" and out is not None:
                for key in ("verified", "merged"):
                    if isinstance(d.get(key), bool):
                        setattr(out, key, d[key])
                if d.get("changed_files") is not None:
                    out.changed_files = _strings(d["changed_files"])
                out.errors = (out.errors + _strings(d.get("errors", [])))[-MAX_ERRORS:]
                out.amendments += 1
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
