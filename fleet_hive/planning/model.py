"""Plain data of planning: strategies, the learning port's shapes, task features.

A *plan* (a decomposition) is plain JSON data everywhere below the CLI::

    {"title": str, "strategy": str, "sorties": [
        {"title": str, "description": str, "files": [glob, ...], "depends_on": [int, ...],
         "specialist": str | None, "priority": int}]}

``depends_on`` holds indices into ``sorties``. :mod:`.plan` is its pydantic model (and the
JSON Schema ``schemas/decomposition.schema.json``); :mod:`.validate` checks its graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..kernel.patterns import LazyPattern
from ..kernel.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Strategies a plan may name; ``auto`` chooses one of them (:func:`.strategies.select`).
STRATEGIES = ("file", "feature", "risk", "hybrid")
STRATEGY_CHOICES = ("auto", *STRATEGIES)
#: The stream of a mission's plan record: ``plan:<mission-id>``.
STREAM = "plan"

Plan = dict[str, "Any"]


def stream_of(mission_id: str) -> str:
    return f"{STREAM}:{mission_id}"


class Advice(Plain):
    """What learning says for a task's features (the learning port returns this shape):
    ``scores`` maps a strategy to its learned score in [-1, 1] (0 or absent: unknown);
    ``patterns`` and ``anti_patterns`` are sentences for the planner prompt."""

    __slots__ = _fields = ("scores", "patterns", "anti_patterns")
    scores: dict[str, float]
    patterns: list[str]
    anti_patterns: list[str]

    def __init__(self, scores: dict[str, float] | None = None,
                 patterns: Sequence[str] = (), anti_patterns: Sequence[str] = ()) -> None:
        self.scores = dict(scores or {})
        self.patterns = list(patterns)
        self.anti_patterns = list(anti_patterns)


#: The learning port: feature tags -> advice. None (no learning service): no advice.
AdvicePort = Callable[[list[str]], "Any"]
#: Task text -> sorted feature tags (learning's ``task_features`` once it is wired).
FeaturesPort = Callable[[str], list[str]]

NO_ADVICE = Advice()

#: feature tag -> words of a task that show it (a stand-in for learning's task_features)
FEATURE_WORDS: dict[str, tuple[str, ...]] = {
    "refactor": ("refactor", "restructure", "rename", "extract", "split", "reorganize",
                 "rework", "rewrite", "cleanup", "clean", "simplify", "decouple"),
    "feature": ("add", "implement", "support", "new", "introduce", "create", "build",
                "enable", "allow"),
    "bugfix": ("fix", "bug", "crash", "broken", "regression", "error", "wrong", "issue"),
    "docs": ("doc", "docs", "documentation", "readme", "guide", "tutorial"),
    "tests": ("test", "tests", "testing", "coverage", "pytest"),
    "performance": ("performance", "faster", "speed", "slow", "latency", "optimize",
                    "cache", "caching"),
    "security": ("security", "auth", "authentication", "permission", "token", "secret",
                 "vulnerability", "sanitize"),
    "migration": ("migrate", "migration", "upgrade", "port", "deprecate", "replace"),
    "api": ("api", "endpoint", "http", "rest", "route", "graphql"),
    "ui": ("ui", "frontend", "page", "button", "screen", "view", "css"),
    "data": ("database", "schema", "sql", "model", "table", "storage"),
    "build": ("ci", "build", "packaging", "lint", "format", "dependency", "dependencies"),
}
_WORD = LazyPattern(r"[a-z][a-z0-9]*")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def default_features(task: str) -> list[str]:
    """Sorted feature tags of a task, from keywords (used until learning's
    ``task_features`` is wired in as the port)."""
    seen = set(words(task))
    stems = {w.rstrip("s") for w in seen} | {w[:-3] for w in seen if w.endswith("ing")} \
        | {w[:-2] for w in seen if w.endswith("ed")}
    tags = {tag for tag, ws in FEATURE_WORDS.items() if any(w in seen or w in stems
                                                             for w in ws)}
    return sorted(tags)


def advice_of(port: AdvicePort | None, features: list[str]) -> Advice:
    """The port's answer as :class:`Advice` (any object with the three attributes fits)."""
    if port is None:
        return NO_ADVICE
    found = port(features)
    scores = {str(k): max(-1.0, min(1.0, float(v)))
              for k, v in dict(getattr(found, "scores", {}) or {}).items()}
    return Advice(scores, [str(p) for p in getattr(found, "patterns", ()) or ()],
                  [str(p) for p in getattr(found, "anti_patterns", ()) or ()])
