"""Planners: one interface, two kinds.

* :class:`HeuristicPlanner` (``heuristic``, the default): the chosen strategy run over the
  repository (:mod:`.strategies`); deterministic, no network.
* :class:`CommandPlanner` (``cmd:COMMAND``): any LLM command-line client. COMMAND runs
  through the shell in the repository root with the prompt (``templates/planning/
  decompose.md.j2``: the strategy's guidelines, repository context within a byte budget,
  learned patterns and anti-patterns) on stdin, and must print one JSON object (the
  decomposition). An answer that is not JSON, breaks the schema or has a broken graph
  (dangling dependency, cycle) is retried once with the problems appended to the prompt,
  then refused. A timeout, a non-zero exit and an empty answer each say so.

Both return a plan that fits :mod:`.plan`'s model and whose graph is valid; file
conflicts are left to :mod:`.validate` to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..kernel.errors import FleetHiveError, InvalidInputError, TimeoutExpiredError
from ..kernel.plain import Plain
from .model import Advice, Plan
from .repository import Repository

#: bytes of repository context a prompt holds at most
CONTEXT_BUDGET = 6000
#: seconds a planner command may take
DEFAULT_TIMEOUT = 300.0
TEMPLATE = "planning/decompose.md.j2"


class PlanRequest(Plain):
    """What a planner is asked: the task, the strategy chosen (and why), the files in
    scope, the repository, and learned advice."""

    __slots__ = _fields = ("task", "strategy", "reasons", "scope", "repo", "advice",
                           "features")
    task: str
    strategy: str
    reasons: list[str]
    scope: list[str]
    repo: Repository
    advice: Advice
    features: list[str]

    def __init__(self, task: str, strategy: str, reasons: Sequence[str],
                 scope: Sequence[str], repo: Repository, advice: Advice,
                 features: Sequence[str] = ()) -> None:
        self.task = task
        self.strategy = strategy
        self.reasons = list(reasons)
        self.scope = list(scope)
        self.repo = repo
        self.advice = advice
        self.features = list(features)


class PlannerResult(Plain):
    """A plan, the planner's reasons for its shape, and how many calls it took."""

    __slots__ = _fields = ("plan", "reasons", "attempts")
    plan: Plan
    reasons: list[str]
    attempts: int

    def __init__(self, plan: Plan, reasons: Sequence[str] = (), attempts: int = 1) -> None:
        self.plan = plan
        self.reasons = list(reasons)
        self.attempts = attempts


class Planner(Protocol):
    """Turns a request into a valid plan, or raises a FleetHiveError saying why not."""

    name: str

    def plan(self, request: PlanRequest) -> PlannerResult: ...


class PlanRefusedError(InvalidInputError):
    code = "plan_refused"


def problems_of(answer: str | dict[str, Any]) -> tuple[Plan | None, list[str]]:
    """The plan in ``answer`` and what is wrong with it: the schema (:func:`.plan.parse`),
    then the graph (dangling dependencies, cycles, empty sorties)."""
    from .plan import parse
    from .validate import validate_plan

    plan, problems = parse(answer)
    if plan is None:
        return None, problems
    found = validate_plan(plan)
    return plan, [e["message"] for e in found["errors"]]


class HeuristicPlanner:
    name = "heuristic"

    def plan(self, request: PlanRequest) -> PlannerResult:
        from .strategies import STRATEGY_FUNCTIONS

        draft = STRATEGY_FUNCTIONS[request.strategy](request.task, request.repo,
                                                     request.scope)
        plan, problems = problems_of(draft.plan)
        if plan is None or problems:  # a bug in a strategy, not bad input
            raise FleetHiveError(f"the {request.strategy} strategy made an invalid plan: "
                                 + "; ".join(problems))
        return PlannerResult(plan, draft.reasons)


class CommandPlanner:
    """``cmd:COMMAND``: COMMAND through ``/bin/sh -c`` in ``cwd``, prompt on stdin."""

    def __init__(self, command: str, *, cwd: str, timeout: float = DEFAULT_TIMEOUT,
                 budget: int = CONTEXT_BUDGET) -> None:
        if not command.strip():
            raise InvalidInputError("cmd: needs a command", hint="--planner 'cmd:llm -m ...'")
        self.command = command
        self.name = f"cmd:{command}"
        self.cwd = cwd
        self.timeout = timeout
        self.budget = budget

    def plan(self, request: PlanRequest) -> PlannerResult:
        prompt = render_prompt(request, budget=self.budget)
        problems: list[str] = []
        for attempt in (1, 2):
            text = prompt if attempt == 1 else render_prompt(request, budget=self.budget,
                                                             problems=problems)
            answer = self._ask(text)
            plan, problems = problems_of(answer)
            if plan is not None and not problems:
                return PlannerResult(plan, [f"planned by `{self.command}`"
                                            + (" (after one retry)" if attempt == 2 else "")],
                                     attempt)
        listed = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        raise PlanRefusedError(f"the planner's answer was refused twice: {listed}",
                               hint="nothing was created; try again, another planner, or "
                                    "--planner heuristic")

    def _ask(self, prompt: str) -> str:
        from ..kernel.processes import run

        try:
            done = run(["/bin/sh", "-c", self.command], input=prompt.encode("utf-8"),
                       timeout=self.timeout, cwd=self.cwd, capture=True)
        except OSError as e:
            raise FleetHiveError(f"cannot run the planner command: {e.strerror or e}",
                                 code="planner_failed") from e
        err = (done.stderr or b"").decode("utf-8", "replace").strip()
        tail = (" (stderr: " + err[-500:] + ")") if err else ""
        if done.timed_out:
            raise TimeoutExpiredError(
                f"the planner command timed out after {self.timeout:g} s and was stopped",
                code="planner_timeout", hint="nothing was created; raise --timeout, or "
                "check the command answers on its own")
        if done.returncode != 0:
            raise FleetHiveError(f"the planner command failed with exit status "
                                 f"{done.status}{tail}", code="planner_failed",
                                 hint="nothing was created; run the command by hand to see")
        return (done.stdout or b"").decode("utf-8", "replace")


def make_planner(spec: str, *, cwd: str, timeout: float = DEFAULT_TIMEOUT) -> Planner:
    """``heuristic`` or ``cmd:COMMAND``."""
    if spec == "heuristic":
        return HeuristicPlanner()
    if spec.startswith("cmd:"):
        return CommandPlanner(spec[4:], cwd=cwd, timeout=timeout)
    raise InvalidInputError(f"unknown planner {spec!r}",
                            hint="heuristic, or cmd:COMMAND (any LLM command-line client)")


# -- the prompt ----------------------------------------------------------------------------
def repository_context(repo: Repository, scope: Sequence[str], budget: int) -> str:
    """What the prompt says of the repository, cut to ``budget`` bytes: counts, the
    directories in scope, the riskiest files, then the files in scope."""
    from .strategies import group_by_directory, risk_scores

    lines = [f"{len(repo.files)} tracked files; {len(scope)} in scope for this task."]
    if scope:
        lines.append("Directories in scope: " + ", ".join(
            f"{label} ({len(fs)})" for label, fs in group_by_directory(scope, 20)))
        if len(scope) <= 2000:
            scores = risk_scores(repo, scope)
            ranked = sorted(scores, key=lambda f: (-scores[f]["risk"], f))[:10]
            lines.append("Riskiest files (commits, bytes, importers): " + "; ".join(
                f"{f} ({scores[f]['churn']}, {scores[f]['size']}, {scores[f]['fan_in']})"
                for f in ranked))
        lines.append("Files in scope:")
    out: list[str] = []
    used = 0
    for k, line in enumerate([*lines, *(f"- {f}" for f in scope)]):
        size = len(line.encode("utf-8")) + 1
        if used + size > budget - 40:
            out.append(f"... ({len(lines) + len(scope) - k} more lines cut to fit "
                       f"{budget} bytes)")
            break
        out.append(line)
        used += size
    return "\n".join(out)


def render_prompt(request: PlanRequest, *, budget: int = CONTEXT_BUDGET,
                  problems: Sequence[str] = ()) -> str:
    from ..formats.templates import render

    return render(TEMPLATE, task=request.task, strategy=request.strategy,
                  reasons=request.reasons, features=request.features,
                  context=repository_context(request.repo, request.scope, budget),
                  patterns=request.advice.patterns, anti_patterns=request.advice.anti_patterns,
                  problems=list(problems))
