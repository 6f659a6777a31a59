"""Learning ("tech orders") as plain data: task features, outcomes, patterns and advice.

Stdlib only, cheap to import: planning imports :func:`task_features` and reads
:class:`Advice`; the projection builds :class:`Outcome` and :class:`Pattern` from rows.

**What is learned.** Every finished sortie and mission records one outcome (an
``outcome_recorded`` event; a later one of the same subject, after a retry or a reopen,
supersedes it, and ``outcome_amended`` adds what dispatch found: verified, merged, the
files changed). An outcome is an observation of its *strategy* on each of its task
*features* and on the strategy as a whole (feature ``*``): a success counts one success
and ``tries - 1`` failures (each failed try was one), a failure counts ``tries`` failures.
A success that failed verification or did not merge is a failure.

**Decay.** Observations lose weight with age: half every 90 days
(:data:`HALF_LIFE_DAYS`), ages counted in whole UTC days at query time from an injectable
clock, so an outcome of today weighs exactly 1 and one 90 days old exactly 0.5. Counts are
kept as integers per day in the index, so the learned state is exactly the same after
``index rebuild`` (sums are ``math.fsum``: independent of row order).

**Maturity.** A pattern's *evidence* is its decayed successes plus failures: below 3 it is
a *candidate*, from 3 *established*, from 10 with at least 80 % of one outcome *proven*.
An established pattern with more failures than successes is an **anti-pattern** (its
score is negative): the planner prompt tells the model to avoid it.

**Score.** ``(successes - failures) / (successes + failures + 1)`` in (-1, 1); 0 means
nothing is known. :meth:`Advice.scores` gives each strategy the mean score of its
patterns on the task's features that have evidence, else half its overall score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import cache

from ..kernel.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any

STRATEGIES = ("file", "feature", "risk", "hybrid")
#: The strategy of work no plan describes (sorties added by hand): recorded, never advised.
UNPLANNED = "unplanned"
#: The feature key of a strategy's patterns over all its outcomes.
ANY = "*"

STREAM = "outcome"
SUBJECTS = ("sortie", "mission")

HALF_LIFE_DAYS = 90
DAY = 86_400
ESTABLISHED = 3.0
PROVEN = 10.0
PROVEN_SHARE = 0.8
PRIOR = 1.0
#: Outside the task's own features, a strategy's overall record counts half.
OVERALL_WEIGHT = 0.5

MAX_ERRORS = 20
MAX_ERROR_CHARS = 500
MAX_FILES = 1000
MAX_FEATURES = 32


def stream_of(subject_id: str) -> str:
    return f"{STREAM}:{subject_id}"


def day_of(epoch: float) -> int:
    """The UTC day (days since 1970-01-01) of an epoch time."""
    return math.floor(epoch / DAY)


def decay(age_days: int) -> float:
    """The weight of an observation ``age_days`` whole days old (1 today, 0.5 at 90)."""
    return float(2.0 ** (-max(age_days, 0) / HALF_LIFE_DAYS))


def maturity(evidence: float, share: float) -> str:
    """``share``: the fraction of the evidence that is the pattern's dominant outcome."""
    if evidence >= PROVEN and share >= PROVEN_SHARE:
        return "proven"
    return "established" if evidence >= ESTABLISHED else "candidate"


def score(successes: float, failures: float) -> float:
    return (successes - failures) / (successes + failures + PRIOR)


def counts(success: bool, tries: int) -> tuple[int, int]:
    """(successes, failures) one outcome counts."""
    tries = max(int(tries), 1)
    return (1, tries - 1) if success else (0, tries)


# -- task features ---------------------------------------------------------------------------
#: kind -> words (lowercase; a trailing ``*`` matches any ending)
KINDS: dict[str, tuple[str, ...]] = {
    "bugfix": ("fix*", "bug*", "crash*", "broken", "regression*", "error*", "wrong",
               "fail*", "hotfix"),
    "feature": ("add", "adds", "adding", "implement*", "new", "support*", "introduce*",
                "feature*", "create", "allow*", "enable*"),
    "refactor": ("refactor*", "rename*", "restructur*", "cleanup", "clean", "extract*",
                 "split*", "simplif*", "reorganiz*", "decouple*", "move"),
    "test": ("test", "tests", "testing", "coverage", "pytest", "e2e", "flaky"),
    "docs": ("doc", "docs", "documentation", "document", "readme", "docstring*",
             "tutorial", "changelog"),
    "perf": ("perf", "performance", "faster", "speed*", "slow*", "optimi*", "latency",
             "memory", "cache", "caching", "throughput"),
    "security": ("security", "secure", "vulnerab*", "cve*", "xss", "csrf", "injection",
                 "sanitiz*", "permission*", "secret*", "encrypt*"),
    "migration": ("migrat*", "upgrade*", "bump", "deprecat*", "port", "porting"),
}
#: area -> words naming it
AREAS: dict[str, tuple[str, ...]] = {
    "api": ("api", "apis", "endpoint*", "rest", "graphql", "http", "route*"),
    "auth": ("auth", "authentication", "authorization", "login", "logout", "oauth",
             "session*", "password*", "token*", "jwt", "sso"),
    "cli": ("cli", "command*", "flag*", "argv", "subcommand*"),
    "database": ("db", "database*", "sql", "sqlite", "postgres*", "mysql", "schema*",
                 "query", "queries", "orm", "index"),
    "ui": ("ui", "frontend", "css", "html", "page*", "button*", "component*", "view*",
           "form*", "react", "layout"),
    "config": ("config*", "settings", "setting", "yaml", "toml", "env", "environment"),
    "build": ("build*", "packaging", "package*", "dependency", "dependencies", "wheel",
              "docker*", "makefile"),
    "ci": ("ci", "pipeline*", "workflow*", "actions", "github"),
    "storage": ("storage", "file*", "disk", "upload*", "s3", "bucket*"),
    "network": ("network*", "socket*", "websocket*", "grpc", "client", "server",
                "timeout*", "retry", "retries"),
    "logging": ("log", "logs", "logging", "logger", "metrics", "tracing", "telemetry"),
    "git": ("git", "commit*", "branch*", "merge*", "rebase"),
}
_Matchers = dict[str, tuple[frozenset[str], tuple[str, ...]]]


def _matcher(words: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    exact = frozenset(w for w in words if not w.endswith("*"))
    prefixes = tuple(w[:-1] for w in words if w.endswith("*"))
    return exact, prefixes


@cache
def _compiled() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], _Matchers,
                         _Matchers]:
    """The tagger's regular expressions and word tables, built on first use (a write that
    records an outcome imports this module and never tags a task, nor imports ``re``)."""
    import re

    return (re.compile(r"[a-z0-9][a-z0-9_\-]*"),
            re.compile(r"(?<![\w/.-])((?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.*-]*)"),
            re.compile(r"(?m)^\s*(?:[-*+]|\d+[.)])\s+"),
            {k: _matcher(v) for k, v in KINDS.items()},
            {k: _matcher(v) for k, v in AREAS.items()})


def _named(words: Sequence[str], table: dict[str, tuple[frozenset[str], tuple[str, ...]]],
           ) -> list[str]:
    found = []
    for name, (exact, prefixes) in table.items():
        if any(w in exact or (prefixes and w.startswith(prefixes)) for w in words):
            found.append(name)
    return found


def task_features(text: str) -> list[str]:
    """The sorted feature tags of a task: ``kind:…`` (what sort of change: bugfix,
    feature, refactor, test, docs, perf, security, migration; ``kind:other`` if none),
    ``area:…`` (areas it names, and the top directory of each path it mentions) and
    ``size:small|medium|large`` (from its length and the number of things it lists).
    Deterministic, no network: the key that outcomes are learned under."""
    word_re, path_re, item_re, kinds, areas = _compiled()
    text = text if isinstance(text, str) else ""
    lowered = text.lower()
    words = word_re.findall(lowered)
    tags = {f"kind:{k}" for k in _named(words, kinds)} or {"kind:other"}
    tags.update(f"area:{a}" for a in _named(words, areas))
    for path in path_re.findall(text):
        top = path.strip("/").split("/")[0].lower()
        if top in ("src", "lib", "app", "pkg", "packages") and path.count("/") > 1:
            top = path.strip("/").split("/")[1].lower()
        if top and top not in (".", "..") and len(top) <= 40 and "*" not in top:
            tags.add(f"area:{top}")
    items = len(item_re.findall(text))
    items += lowered.count(" and ") + lowered.count(";") + text.count(",")
    size = "small" if len(words) <= 15 and items <= 1 else \
        "medium" if len(words) <= 80 and items <= 6 else "large"
    tags.add(f"size:{size}")
    return sorted(tags)[:MAX_FEATURES]


# -- outcomes ----------------------------------------------------------------------------------
class Outcome(Plain):
    """What actually happened to one sortie or mission (its latest outcome, amended)."""

    __slots__ = _fields = (
        "subject_id", "subject", "mission_id", "sortie_id", "status", "success", "tries",
        "duration_s", "total_s", "finished_at", "strategy", "planner", "features",
        "planned_files", "changed_files", "verified", "merged", "specialist", "agent",
        "errors", "cause", "amendments", "order")
    subject_id: str
    subject: str
    mission_id: str
    sortie_id: str | None
    status: str
    success: bool  # as recorded when it ended
    tries: int
    duration_s: float | None  # of its last try: from the claim (or start) to the end
    total_s: float | None  # from the first claim to the end
    finished_at: str
    strategy: str
    planner: str | None
    features: list[str]
    planned_files: list[str]
    changed_files: list[str] | None  # None: unknown
    verified: bool | None  # None until dispatch verifies
    merged: bool | None  # None until dispatch merges
    specialist: str | None
    agent: str | None
    errors: list[str]
    cause: str | None  # the id of the event that ended it
    amendments: int
    order: tuple[int, str, int]

    def __init__(self, subject_id: str, subject: str = "sortie", mission_id: str = "",
                 sortie_id: str | None = None, status: str = "", success: bool = False,
                 tries: int = 1, duration_s: float | None = None,
                 total_s: float | None = None, finished_at: str = "",
                 strategy: str = UNPLANNED, planner: str | None = None,
                 features: list[str] | None = None, planned_files: list[str] | None = None,
                 changed_files: list[str] | None = None, verified: bool | None = None,
                 merged: bool | None = None, specialist: str | None = None,
                 agent: str | None = None, errors: list[str] | None = None,
                 cause: str | None = None, amendments: int = 0,
                 order: tuple[int, str, int] = (0, "", 0)) -> None:
        self.subject_id = subject_id
        self.subject = subject
        self.mission_id = mission_id
        self.sortie_id = sortie_id
        self.status = status
        self.success = success
        self.tries = tries
        self.duration_s = duration_s
        self.total_s = total_s
        self.finished_at = finished_at
        self.strategy = strategy
        self.planner = planner
        self.features = [] if features is None else features
        self.planned_files = [] if planned_files is None else planned_files
        self.changed_files = changed_files
        self.verified = verified
        self.merged = merged
        self.specialist = specialist
        self.agent = agent
        self.errors = [] if errors is None else errors
        self.cause = cause
        self.amendments = amendments
        self.order = order

    @property
    def succeeded(self) -> bool:
        """Success as learning counts it: ended well, and not refuted by verification
        or a failed merge."""
        return self.success and self.verified is not False and self.merged is not False

    @property
    def drifted(self) -> bool | None:
        """Whether it changed files its plan did not name (None: changes unknown)."""
        if self.changed_files is None:
            return None
        from ..kernel import globs

        return any(not any(globs.matches(p, f) for p in self.planned_files)
                   for f in self.changed_files)

    def pattern_keys(self) -> list[tuple[str, str]]:
        """The (strategy, feature) patterns this outcome is an observation of."""
        return [(self.strategy, ANY)] + [(self.strategy, f) for f in self.features]

    def to_json(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id, "subject": self.subject,
            "mission_id": self.mission_id, "sortie_id": self.sortie_id,
            "status": self.status, "success": self.success, "succeeded": self.succeeded,
            "tries": self.tries, "duration_s": self.duration_s, "total_s": self.total_s,
            "finished_at": self.finished_at, "strategy": self.strategy,
            "planner": self.planner, "features": list(self.features),
            "planned_files": list(self.planned_files),
            "changed_files": None if self.changed_files is None else list(self.changed_files),
            "verified": self.verified, "merged": self.merged,
            "specialist": self.specialist, "agent": self.agent,
            "errors": list(self.errors), "amendments": self.amendments,
        }


# -- patterns and advice -------------------------------------------------------------------
class Pattern(Plain):
    """A (strategy, feature) pattern, scored with decay at one moment (``today``)."""

    __slots__ = _fields = ("strategy", "feature", "successes", "failures", "outcomes",
                           "last_day", "drifted", "known_changes", "errors")
    strategy: str
    feature: str  # a task feature tag, or ``*`` (all of the strategy's outcomes)
    successes: float  # decayed
    failures: float  # decayed
    outcomes: int  # outcomes observed, not decayed
    last_day: int  # the UTC day of the newest observation
    drifted: int  # outcomes that changed files outside their plan
    known_changes: int  # outcomes whose changed files are known
    errors: list[str]  # the most frequent failure reasons (filled for anti-patterns)

    def __init__(self, strategy: str, feature: str, successes: float = 0.0,
                 failures: float = 0.0, outcomes: int = 0, last_day: int = 0,
                 drifted: int = 0, known_changes: int = 0,
                 errors: list[str] | None = None) -> None:
        self.strategy = strategy
        self.feature = feature
        self.successes = successes
        self.failures = failures
        self.outcomes = outcomes
        self.last_day = last_day
        self.drifted = drifted
        self.known_changes = known_changes
        self.errors = [] if errors is None else errors

    @property
    def weight(self) -> float:
        """The decayed evidence: successes plus failures."""
        return self.successes + self.failures

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.weight if self.weight > 0 else None

    @property
    def score(self) -> float:
        return score(self.successes, self.failures)

    @property
    def anti_pattern(self) -> bool:
        """Established, and mostly failing."""
        return self.weight >= ESTABLISHED and self.failures > self.successes

    @property
    def maturity(self) -> str:
        weight = self.weight
        share = max(self.successes, self.failures) / weight if weight > 0 else 0.0
        return maturity(weight, share)

    @property
    def subject(self) -> str:
        return "any task" if self.feature == ANY else f"{self.feature} tasks"

    def sentence(self) -> str:
        """The pattern for a person or a planner prompt."""
        seen = (f"{_num(self.successes)} of {_num(self.weight)} recent tries succeeded "
                f"over {self.outcomes} outcome(s), {self.maturity}")
        drift = ""
        if self.known_changes and self.drifted * 2 > self.known_changes:
            drift = (f"; sorties changed files outside their plan in {self.drifted} of "
                     f"{self.known_changes}, so name their files more broadly")
        if self.anti_pattern:
            errors = f"; failures: {'; '.join(self.errors[:3])}" if self.errors else ""
            return (f"avoid the {self.strategy} strategy for {self.subject}: only "
                    f"{seen}{errors}{drift}")
        return f"the {self.strategy} strategy works for {self.subject}: {seen}{drift}"

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "feature": self.feature,
            "weight": round(self.weight, 6), "successes": round(self.successes, 6),
            "failures": round(self.failures, 6), "outcomes": self.outcomes,
            "success_rate": None if self.success_rate is None else round(self.success_rate, 6),
            "score": round(self.score, 6), "maturity": self.maturity,
            "anti_pattern": self.anti_pattern, "last_seen": _date(self.last_day),
            "drifted": self.drifted, "known_changes": self.known_changes,
            "errors": list(self.errors), "sentence": self.sentence(),
        }


def _num(x: float) -> str:
    return str(int(x)) if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def _date(day: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


class Advice(Plain):
    """What learning says about a task with these features: each strategy's learned score
    (in [-1, 1], 0 = nothing known), the strategies best first, and the patterns and
    anti-patterns as sentences for a planner prompt."""

    __slots__ = _fields = ("features", "scores", "ranking", "reasons", "patterns",
                           "anti_patterns", "evidence")
    features: list[str]
    scores: dict[str, float]
    ranking: list[str]
    reasons: dict[str, list[str]]
    patterns: list[str]
    anti_patterns: list[str]
    evidence: dict[str, float]  # strategy -> decayed evidence behind its score

    def __init__(self, features: list[str], scores: dict[str, float],
                 ranking: list[str] | None = None, reasons: dict[str, list[str]] | None = None,
                 patterns: list[str] | None = None, anti_patterns: list[str] | None = None,
                 evidence: dict[str, float] | None = None) -> None:
        self.features = features
        self.scores = scores
        self.ranking = rank(scores) if ranking is None else ranking
        self.reasons = {} if reasons is None else reasons
        self.patterns = [] if patterns is None else patterns
        self.anti_patterns = [] if anti_patterns is None else anti_patterns
        self.evidence = {} if evidence is None else evidence

    @property
    def known(self) -> bool:
        return any(self.evidence.values())

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features),
                "scores": {k: round(v, 6) for k, v in self.scores.items()},
                "ranking": list(self.ranking), "reasons": dict(self.reasons),
                "evidence": {k: round(v, 6) for k, v in self.evidence.items()},
                "patterns": list(self.patterns), "anti_patterns": list(self.anti_patterns)}


def rank(scores: dict[str, float]) -> list[str]:
    """Strategies by score, best first (ties in :data:`STRATEGIES` order)."""
    order = {s: k for k, s in enumerate(STRATEGIES)}
    return sorted(scores, key=lambda s: (-round(scores[s], 9), order.get(s, len(order)), s))


MAX_SENTENCES = 8


def advise(features: Sequence[str], patterns: dict[tuple[str, str], Pattern]) -> Advice:
    """Pure: the advice for a task with ``features`` from the scored patterns."""
    wanted = sorted(set(features))
    scores: dict[str, float] = {}
    evidence: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for strategy in STRATEGIES:
        matched = [p for f in wanted if (p := patterns.get((strategy, f))) is not None
                   and p.weight > 0]
        overall = patterns.get((strategy, ANY))
        if matched:
            scores[strategy] = math.fsum(p.score for p in matched) / len(matched)
            evidence[strategy] = math.fsum(p.weight for p in matched)
            reasons[strategy] = [f"{p.feature}: score {p.score:+.2f} over "
                                 f"{_num(p.weight)} recent tries ({p.maturity})"
                                 for p in matched]
        elif overall is not None and overall.weight > 0:
            scores[strategy] = OVERALL_WEIGHT * overall.score
            evidence[strategy] = overall.weight
            reasons[strategy] = [f"no outcome on these features; overall score "
                                 f"{overall.score:+.2f} over {_num(overall.weight)} recent "
                                 "tries, counted half"]
        else:
            scores[strategy] = 0.0
            evidence[strategy] = 0.0
            reasons[strategy] = ["nothing learned yet"]
    relevant = [p for (s, f), p in sorted(patterns.items())
                if s in STRATEGIES and (f in wanted or f == ANY) and p.weight > 0]
    good = sorted((p for p in relevant if p.weight >= ESTABLISHED and not p.anti_pattern
                   and p.score > 0), key=lambda p: (-p.score * p.weight, p.strategy, p.feature))
    bad = sorted((p for p in relevant if p.anti_pattern),
                 key=lambda p: (p.score * p.weight, p.strategy, p.feature))
    return Advice(wanted, scores, reasons=reasons, evidence=evidence,
                  patterns=[p.sentence() for p in good[:MAX_SENTENCES]],
                  anti_patterns=[p.sentence() for p in bad[:MAX_SENTENCES]])


def check_strategy(strategy: Any) -> str:
    from ..kernel.errors import InvalidInputError

    if strategy not in (*STRATEGIES, UNPLANNED):
        raise InvalidInputError(f"unknown strategy {strategy!r}",
                                hint=f"one of: {', '.join((*STRATEGIES, UNPLANNED))}")
    return str(strategy)


def clip_errors(errors: Iterable[str]) -> list[str]:
    """Non-empty failure reasons, each cut to :data:`MAX_ERROR_CHARS`, the newest
    :data:`MAX_ERRORS`."""
    out = [e.strip()[:MAX_ERROR_CHARS] for e in errors if isinstance(e, str) and e.strip()]
    return out[-MAX_ERRORS:]
