"""The one rendering of ``templates/dispatch/prompt.md.j2``: what an agent reads on stdin."""

from __future__ import annotations

from typing import Any

from ..missions.model import Sortie


def render_prompt(sortie: Sortie, *, mission: dict[str, Any], worker: str, attempt: int,
                  tries: int, previous: str, brief: str, repo: str) -> str:
    from ..formats.templates import render

    return render("dispatch/prompt.md.j2", s=sortie.to_json(), mission=mission,
                  worker=worker, attempt=attempt, tries=tries, previous=previous,
                  brief=brief, repo=repo)
