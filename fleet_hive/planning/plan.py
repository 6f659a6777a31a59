"""The decomposition as a pydantic model: what a planner must answer, and what ``plan
apply`` reads. Exported as ``schemas/decomposition.schema.json`` (``python -m
fleet_hive.app.schemas``; ``--check`` catches drift). Imported only when a plan is
checked (``decompose``, ``plan apply``); reads never load it.

:func:`parse` turns a planner's raw answer into a plan, or into the list of problems
(one line each) that the retry appends to the prompt.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..kernel.globs import GlobError, normalize
from .model import Plan

Title = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\r\n]*\S[^\r\n]*$")]


class PlannedSortie(BaseModel):
    """One sortie of a plan: what to do, which files it touches, what it waits for."""

    model_config = ConfigDict(extra="ignore")

    title: Title
    description: str = Field(default="", max_length=100_000)
    files: list[str] = Field(default_factory=list, max_length=200, description=(
        "repository-relative paths or globs it touches (the reservation dialect: * ? [] **)"))
    depends_on: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list, max_length=200,
        description="indices into the plan's sorties that must complete first")
    specialist: str | None = Field(default=None, max_length=200, pattern=r"^[^\r\n\t]+$",
                                   description="the kind of specialist it needs")
    priority: int = Field(default=2, ge=0, le=4, description="0 most urgent, 4 least")

    @field_validator("files")
    @classmethod
    def _globs(cls, files: list[str]) -> list[str]:
        out: list[str] = []
        for pattern in files:
            try:
                clean = normalize(pattern.strip())
            except GlobError as e:
                raise ValueError(f"invalid file pattern {pattern!r}: {e}") from e
            if clean not in out:
                out.append(clean)
        return out


class Decomposition(BaseModel):
    """A task decomposed into sorties (``depends_on`` holds indices into ``sorties``)."""

    model_config = ConfigDict(extra="ignore", title="fleet-hive decomposition")

    title: Title
    strategy: Literal["file", "feature", "risk", "hybrid"]
    task: str | None = Field(default=None, max_length=100_000,
                             description="the task the plan decomposes (optional)")
    sorties: list[PlannedSortie] = Field(min_length=1, max_length=1000)


def parse(answer: str | dict[str, Any]) -> tuple[Plan | None, list[str]]:
    """A planner's answer (text holding one JSON object, or an object) -> (the plan, [])
    or (None, the problems)."""
    if isinstance(answer, str):
        text = _unfenced(answer.strip())
        if not text:
            return None, ["the answer was empty: answer with one JSON object"]
        try:
            obj: Any = json.loads(text)
        except ValueError as e:
            return None, [f"the answer is not valid JSON: {e}"]
    else:
        obj = answer
    if not isinstance(obj, dict):
        return None, [f"the answer must be one JSON object, not {type(obj).__name__}"]
    try:
        model = Decomposition.model_validate(obj)
    except ValidationError as e:
        return None, [_problem(err) for err in e.errors()[:20]]
    plan = model.model_dump()
    if plan["task"] is None:
        del plan["task"]
    return plan, []


def _problem(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{where}: {err['msg']}"


def _unfenced(text: str) -> str:
    """The body of one Markdown code fence around the whole answer (LLM clients add one);
    other text as it is."""
    if text.startswith("```") and text.endswith("```") and text.count("```") == 2:
        body = text[3:-3]
        first, _, rest = body.partition("\n")
        return (rest if first.strip().isalpha() or not first.strip() else body).strip()
    return text


def json_schema() -> dict[str, Any]:
    return Decomposition.model_json_schema()
