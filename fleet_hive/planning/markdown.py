"""The Markdown of a decomposition (``decompose`` without ``--json``), for people to read
and refine before ``--create`` or ``plan apply``."""

from __future__ import annotations

from typing import Any


def render_plan(result: dict[str, Any]) -> str:
    from ..formats.templates import render

    return render("planning/plan.md.j2", result=result)
