"""Pure: is a plan (or a mission's sorties) executable, and how parallel is it?

* **errors** (the plan is refused, nothing is created): a dependency cycle, a dangling
  dependency (an index or id that names no sortie), an empty sortie (no title and no
  description), no sorties at all.
* **conflicts** (reported; ``plan validate`` exits 3): two sorties that could run at the
  same time (neither is ordered before the other by a path of dependencies) whose files
  overlap: some path is matched by a glob of each, decided by the reservations' matcher
  (:func:`fleet_hive.kernel.globs.overlaps`, exact and two-way). Each comes with a fix:
  serialize them (the later one depends on the earlier) or merge them.
* **warnings**: a sortie that names no files (nothing can be checked for it).
* the **waves** (sorties that can run together, in order), the **critical path** (the
  longest chain by estimated effort) and an **estimate**.

Nodes are keyed by plan index (a plan) or by sortie id (a mission); the result names them
the same way. Candidate pairs for the overlap test come from the patterns' literal leading
segments (``src/auth/*.py`` can only meet patterns under ``src/auth`` or ones whose
literal part is a prefix of it), so 500 sorties cost far fewer than 125,000 pair tests.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from ..kernel.globs import overlaps
from .model import Plan

#: rough effort of a sortie, in minutes: a base plus a share per file pattern (a glob
#: counts more than a single file). An estimate to compare plans, not a promise.
BASE_MINUTES = 30
FILE_MINUTES = 10
GLOB_MINUTES = 20
_META = frozenset("*?[\\")


class Node:
    __slots__ = ("deps", "description", "files", "key", "title")

    def __init__(self, key: Hashable, title: str, description: str, files: Sequence[str],
                 deps: Sequence[Hashable]) -> None:
        self.key = key
        self.title = title
        self.description = description
        self.files = list(files)
        self.deps = list(deps)


def validate_plan(plan: Plan) -> dict[str, Any]:
    """The validation of a plan; sorties are named by index."""
    return check([Node(i, s.get("title", ""), s.get("description", ""), s.get("files", []),
                       s.get("depends_on", [])) for i, s in enumerate(plan["sorties"])])


def estimate_minutes(files: Sequence[str]) -> int:
    return BASE_MINUTES + sum(GLOB_MINUTES if _META & set(f) else FILE_MINUTES
                              for f in files)


def check(nodes: Sequence[Node]) -> dict[str, Any]:
    keys = [n.key for n in nodes]
    position = {k: i for i, k in enumerate(keys)}
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    if not nodes:
        errors.append({"code": "no_sorties", "message": "the plan has no sorties"})
    deps: list[list[int]] = []
    for n in nodes:
        mine: list[int] = []
        for d in n.deps:
            j = position.get(d) if not isinstance(d, bool) else None
            if j is None:
                errors.append({"code": "dangling_dependency", "sortie": n.key, "depends_on": d,
                               "message": f"sortie {n.key} ({n.title!r}) depends on {d!r}, "
                                          "which is no sortie of the plan"})
            elif j not in mine:
                mine.append(j)
        deps.append(mine)
        if not n.title.strip() and not n.description.strip():
            errors.append({"code": "empty_sortie", "sortie": n.key,
                           "message": f"sortie {n.key} has no title and no description"})
        if not n.files:
            warnings.append({"code": "no_files", "sortie": n.key,
                             "message": f"sortie {n.key} ({n.title!r}) names no files: no "
                                        "conflict can be checked for it"})
    order, cycles = _topological(deps)
    for cycle in cycles:
        names = " -> ".join(str(keys[i]) for i in [*cycle, cycle[0]])
        errors.append({"code": "dependency_cycle", "sorties": [keys[i] for i in cycle],
                       "message": f"dependency cycle: {names}"})
    before = _ancestors(deps, order)
    conflicts = _conflicts(nodes, before)
    minutes = [estimate_minutes(n.files) for n in nodes]
    waves, critical, length = _schedule(deps, order, minutes)
    total = sum(minutes)
    return {
        "ok": not errors,
        "errors": errors,
        "conflicts": conflicts,
        "warnings": warnings,
        "waves": [[keys[i] for i in wave] for wave in waves],
        "critical_path": [keys[i] for i in critical],
        "estimate": {"sorties": len(nodes), "waves": len(waves), "total_minutes": total,
                     "critical_path_minutes": length,
                     "parallelism": round(total / length, 2) if length else 0.0},
    }


def _topological(deps: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """(an order of the nodes that are on no cycle, stable by index; the cycles found)."""
    n = len(deps)
    dependents: list[list[int]] = [[] for _ in range(n)]
    waiting = [len(d) for d in deps]
    for i, ds in enumerate(deps):
        for j in ds:
            dependents[j].append(i)
    import heapq

    ready = [i for i in range(n) if not waiting[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for k in dependents[i]:
            waiting[k] -= 1
            if not waiting[k]:
                heapq.heappush(ready, k)
    if len(order) == n:
        return order, []
    return order, _find_cycles(deps, set(range(n)) - set(order))


def _find_cycles(deps: list[list[int]], left: set[int]) -> list[list[int]]:
    """One cycle per strongly connected group of the nodes left over (iterative DFS)."""
    cycles: list[list[int]] = []
    done: set[int] = set()
    for start in sorted(left):
        if start in done:
            continue
        path: list[int] = []
        on_path: dict[int, int] = {}
        node = start
        while node not in on_path and node not in done:
            on_path[node] = len(path)
            path.append(node)
            nxt = [j for j in deps[node] if j in left]
            if not nxt:
                break
            node = nxt[0]
        if node in on_path:
            cycle = path[on_path[node]:]
            if not done.intersection(cycle):
                cycles.append(cycle)
        done.update(path)
    return cycles


def _ancestors(deps: list[list[int]], order: list[int]) -> list[int]:
    """For each node, a bitset of the nodes that must finish before it (transitively);
    nodes on a cycle get their direct dependencies only."""
    before = [0] * len(deps)
    for i in order:
        bits = 0
        for j in deps[i]:
            bits |= before[j] | (1 << j)
        before[i] = bits
    placed = set(order)
    for i in range(len(deps)):
        if i not in placed:
            for j in deps[i]:
                before[i] |= 1 << j
    return before


def _literal_prefix(pattern: str) -> tuple[str, ...]:
    out = []
    for segment in pattern.split("/"):
        if _META & set(segment):
            break
        out.append(segment)
    return tuple(out)


def _conflicts(nodes: Sequence[Node], before: list[int]) -> list[dict[str, Any]]:
    at: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    under: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    entries: list[tuple[int, str, tuple[str, ...]]] = []
    for i, n in enumerate(nodes):
        for pattern in n.files:
            prefix = _literal_prefix(pattern)
            entries.append((i, pattern, prefix))
            at.setdefault(prefix, []).append((i, pattern))
            for k in range(len(prefix) + 1):
                under.setdefault(prefix[:k], []).append((i, pattern))
    found: dict[tuple[int, int], list[list[str]]] = {}
    for i, pattern, prefix in entries:
        candidates = list(under.get(prefix, ()))
        for k in range(len(prefix)):
            candidates += at.get(prefix[:k], ())
        for j, other in candidates:
            if j <= i or (before[i] >> j) & 1 or (before[j] >> i) & 1:
                continue
            if not overlaps(pattern, other):
                continue
            hits = found.setdefault((i, j), [])
            if [pattern, other] not in hits:
                hits.append([pattern, other])
    out = []
    for (i, j), files in sorted(found.items()):
        a, b = nodes[i], nodes[j]
        out.append({
            "sorties": [a.key, b.key], "files": files,
            "message": f"sorties {a.key} ({a.title!r}) and {b.key} ({b.title!r}) can run "
                       f"at the same time and both touch {files[0][0]}"
                       + ("" if files[0][0] == files[0][1] else f" / {files[0][1]}"),
            "fix": {"serialize": {"sortie": b.key, "add_depends_on": a.key},
                    "merge": [a.key, b.key]},
            "hint": f"serialize: make {b.key} depend on {a.key}; or merge the two sorties",
        })
    return out


def _schedule(deps: list[list[int]], order: list[int], minutes: list[int],
              ) -> tuple[list[list[int]], list[int], int]:
    """(waves: nodes by the earliest round they can run in; the critical path; its
    minutes). Nodes on a cycle are left out of both."""
    level: dict[int, int] = {}
    finish: dict[int, int] = {}
    via: dict[int, int | None] = {}
    for i in order:
        level[i] = max((level[j] + 1 for j in deps[i]), default=0)
        prev = max(deps[i], key=lambda j: (finish[j], -j), default=None)
        via[i] = prev
        finish[i] = minutes[i] + (finish[prev] if prev is not None else 0)
    waves: list[list[int]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for i in sorted(level):
        waves[level[i]].append(i)
    if not finish:
        return waves, [], 0
    last = max(finish, key=lambda i: (finish[i], -i))
    length = finish[last]
    path: list[int] = []
    end: int | None = last
    while end is not None:
        path.append(end)
        end = via[end]
    return waves, path[::-1], length


def topological(plan: Plan) -> Plan:
    """The plan with its sorties in dependency order (stable: a sortie moves only to
    come after what it depends on) and ``depends_on`` renumbered, so every dependency
    points backwards, as creating sorties in one batch needs. A plan with a cycle is
    returned as it is (validation refuses it)."""
    sorties = plan["sorties"]
    deps = [[d for d in s.get("depends_on", []) if isinstance(d, int)
             and 0 <= d < len(sorties)] for s in sorties]
    order, cycles = _topological(deps)
    if cycles or order == list(range(len(sorties))):
        return plan
    new_index = {old: new for new, old in enumerate(order)}
    moved = []
    for old in order:
        s = dict(sorties[old])
        s["depends_on"] = sorted(new_index[d] for d in deps[old])
        moved.append(s)
    return {**plan, "sorties": moved}
