"""``hive.planning``: decompose a task, validate plans and missions, create missions from
plans, and the plan record learning reads (:meth:`Planning.plan_of`).

Ports: the unit of work (through ``missions.create``, which writes the mission, its
sorties and the ``mission_planned`` record in one unit of work), the index (``plans``
table), the missions service, and learning's two ports: ``features`` (task -> feature
tags) and ``advice`` (tags -> learned scores and patterns; None: no advice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..kernel.errors import InvalidInputError, NotFoundError, storage_error
from . import projection as q
from .model import (
    STRATEGY_CHOICES,
    AdvicePort,
    FeaturesPort,
    Plan,
    advice_of,
    default_features,
)
from .planners import DEFAULT_TIMEOUT, PlanRefusedError, PlanRequest, make_planner
from .repository import Repository

if TYPE_CHECKING:
    from ..index.projection import ReadView
    from ..index.unit_of_work import NewEvent
    from ..missions.model import Mission


class Missions(Protocol):
    """What planning uses of ``hive.missions``."""

    def create(self, title: str, *, description: str | None = "",
               sorties: Sequence[Mapping[str, Any]] = (),
               also: Callable[[str, list[str]], list[NewEvent]] | None = None) -> Mission: ...

    def get(self, ref: str) -> Mission: ...

#: sortie statuses whose files no longer matter for conflicts
_DONE = frozenset({"completed", "cancelled"})


class Planning:
    def __init__(self, reads: ReadView, *, root: Path, missions: Callable[[], Missions],
                 advice: AdvicePort | None = None,
                 features: FeaturesPort = default_features,
                 timeout: float = DEFAULT_TIMEOUT, git_dir: Path | None = None) -> None:
        self._reads = reads
        self._root = Path(root)
        self._git_dir = git_dir
        self._missions = missions
        self._advice = advice
        self._features = features
        self._timeout = timeout

    # -- decompose -----------------------------------------------------------------------
    def decompose(self, task: str, *, strategy: str = "auto", planner: str = "heuristic",
                  files: Sequence[str] = (), create: bool = False,
                  timeout: float | None = None,
                  repository: Repository | None = None) -> dict[str, Any]:
        """Plan ``task``; with ``create``, make the mission and its sorties (all or
        nothing). A refused or invalid plan creates nothing (PlanRefusedError, exit 1)."""
        from ..missions.model import check_files
        from .strategies import relevant, select
        from .validate import topological, validate_plan

        if not isinstance(task, str) or not task.strip():
            raise InvalidInputError("the task must not be empty",
                                    hint='fleet-hive decompose "what to do"')
        if strategy not in STRATEGY_CHOICES:
            raise InvalidInputError(f"unknown strategy {strategy!r}",
                                    hint="one of: " + ", ".join(STRATEGY_CHOICES))
        globs = check_files(list(files))
        the_planner = make_planner(planner, cwd=str(self._root),
                                   timeout=self._timeout if timeout is None else timeout)
        repo = repository or Repository(self._root, git_dir=self._git_dir)
        scope = repo.scoped(globs) if globs else (relevant(task, repo.files) or repo.files)
        if globs and not scope:
            raise InvalidInputError("no tracked file matches " + ", ".join(globs),
                                    hint="--file takes repository-relative globs, e.g. src/**")
        features = list(self._features(task))
        advice = advice_of(self._advice, features)
        if strategy == "auto":
            chosen, reasons, scores = select(task, features, advice, scope)
        else:
            chosen, reasons, scores = strategy, [f"{strategy}, as asked"], None
        result = the_planner.plan(PlanRequest(task, chosen, reasons, scope, repo, advice,
                                              features))
        plan = topological(result.plan)
        validation = validate_plan(plan)
        if not validation["ok"]:  # planners check the graph; this is the last guard
            raise PlanRefusedError("invalid plan: " + "; ".join(
                e["message"] for e in validation["errors"][:5]))
        if plan["strategy"] != chosen:
            reasons.append(f"the planner answered with the {plan['strategy']} strategy")
        out: dict[str, Any] = {
            "task": task, "title": plan["title"],
            "strategy": {"requested": strategy, "chosen": chosen, "used": plan["strategy"],
                         "reasons": reasons, "scores": scores},
            "planner": the_planner.name, "attempts": result.attempts,
            "planner_reasons": result.reasons, "features": features,
            "advice": {"scores": advice.scores, "patterns": advice.patterns,
                       "anti_patterns": advice.anti_patterns},
            "scope": {"files": len(scope), "globs": globs, "tracked": len(repo.files)},
            "plan": plan, "validation": validation, "mission": None, "sortie_ids": None,
        }
        if create:
            mission = self.create(plan, task=task, requested=strategy,
                                  planner=the_planner.name, features=features,
                                  reasons=reasons + result.reasons)
            self._created(out, mission)
        return out

    def _created(self, out: dict[str, Any], mission: Mission) -> None:
        out["mission"] = mission.to_json()
        out["sortie_ids"] = [s.id for s in mission.sorties or ()]

    def create(self, plan: Plan, *, task: str, requested: str = "auto",
               planner: str = "heuristic", features: Sequence[str] = (),
               reasons: Sequence[str] = ()) -> Mission:
        """The mission and sorties of a valid ``plan`` (sorties in dependency order) and
        its ``mission_planned`` record, in one write."""
        from .decide import planned

        sorties = [{"title": s["title"], "description": s.get("description", ""),
                    "files": list(s.get("files", [])), "after": list(s.get("depends_on", [])),
                    "specialist": s.get("specialist"), "priority": s.get("priority", 2)}
                   for s in plan["sorties"]]
        return self._missions().create(
            plan["title"], description=task, sorties=sorties,
            also=lambda mission_id, sortie_ids: planned(
                mission_id, sortie_ids, plan, task=task, requested=requested,
                planner=planner, features=features, reasons=reasons))

    # -- plan apply ----------------------------------------------------------------------
    def apply(self, path: str | Path) -> dict[str, Any]:
        """Create a mission from a plan file (JSON or YAML: a plan, or ``decompose
        --json`` output holding one). Validated first; an invalid plan creates nothing."""
        from .planners import problems_of
        from .validate import topological, validate_plan

        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no plan file {file}") from None
        except (OSError, UnicodeDecodeError) as e:
            if isinstance(e, OSError):
                raise storage_error(e, file) from e
            raise InvalidInputError(f"{file} is not UTF-8 text") from e
        obj = _load_plan_text(text, file)
        if isinstance(obj, dict) and isinstance(obj.get("plan"), dict):
            obj = obj["plan"]
        plan, problems = problems_of(obj)
        if plan is None or problems:
            raise PlanRefusedError(f"invalid plan in {file}: " + "; ".join(problems[:5]),
                                   hint="nothing was created; see "
                                        "schemas/decomposition.schema.json")
        plan = topological(plan)
        validation = validate_plan(plan)
        task = plan.get("task") or plan["title"]
        planner = f"file:{file.name}"
        mission = self.create(plan, task=task, requested=plan["strategy"], planner=planner,
                              features=list(self._features(task)),
                              reasons=[f"applied from {file.name}"])
        out: dict[str, Any] = {"task": task, "title": plan["title"], "planner": planner,
                               "plan": plan, "validation": validation}
        self._created(out, mission)
        return out

    # -- validation ----------------------------------------------------------------------
    def validate(self, plan: Plan) -> dict[str, Any]:
        from .validate import validate_plan

        return validate_plan(plan)

    def validate_mission(self, ref: str) -> dict[str, Any]:
        """The validation of a mission's live sorties (keyed by sortie id). Conflicts
        count only between sorties still open (a completed one's files are done with)."""
        from .validate import Node, check

        mission = self._missions().get(ref)
        sorties = list(mission.sorties or ())
        live = {s.id for s in sorties}
        result = check([Node(s.id, s.title, s.description, s.files,
                             [d for d in s.depends_on if d in live]) for s in sorties])
        if not sorties:  # a mission may have none yet: nothing to run, nothing wrong
            result["warnings"] += [dict(e, message="the mission has no sorties")
                                   for e in result["errors"]]
            result["errors"], result["ok"] = [], True
        status = {s.id: s.status for s in sorties}
        result["conflicts"] = [c for c in result["conflicts"]
                               if not _DONE & {status[c["sorties"][0]], status[c["sorties"][1]]}]
        for c in result["conflicts"]:
            a, b = c["sorties"]
            c["hint"] = (f"serialize: fleet-hive sortie update {b} --add-after {a}; or merge "
                         "the two sorties")
        return {"mission_id": mission.id, "title": mission.title, **result,
                "ok": result["ok"] and not result["conflicts"]}

    # -- the record learning reads -------------------------------------------------------
    def plan_of(self, mission_id: str) -> dict[str, Any] | None:
        """How a mission was planned (see :func:`.projection.plan_of`); None if it was
        not made from a plan."""
        return q.plan_of(self._reads, mission_id)


def _load_plan_text(text: str, file: Path) -> Any:
    if file.suffix.lower() in (".yaml", ".yml") or not text.lstrip().startswith(("{", "[")):
        from ..formats.yaml import YAMLProblem, load

        try:
            return load(text)
        except YAMLProblem as e:
            where = f" (line {e.line})" if e.line else ""
            raise InvalidInputError(f"{file} is not valid YAML{where}: {e.message}",
                                    hint="nothing was created") from e
    import json

    try:
        return json.loads(text)
    except ValueError as e:
        raise InvalidInputError(f"{file} is not valid JSON: {e}",
                                hint="nothing was created") from e
