"""The heuristic strategies: a task and the repository's structure -> a plan, with the
reasons for its shape; and ``auto``, which picks one from the task and what was learned.

* **file**: group the files in scope by directory (as deep as it takes to split them),
  one sortie per group; a group that imports another (Python imports) waits for it.
* **feature**: one sortie per user-facing feature the task names (its clauses), with the
  files whose paths mention the feature; files two features share go to a groundwork
  sortie both wait for; with several features, an integration sortie comes last.
* **risk**: score each file by churn (commits touching it), size and fan-in (files
  importing it); the riskiest files get a sortie each, first (priority 0-1) and alone;
  the rest is grouped as in *file*, and a group importing a risky file waits for it.
* **hybrid**: the risky files isolated first as in *risk*, then the features (several
  named) or the directory groups.

Every strategy yields a plan whose sorties' files do not overlap unless a dependency
orders them (the validator checks that anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .model import Advice, Plan, words
from .repository import Repository

MAX_GROUPS = 8
MAX_LISTED = 12  # files listed one by one before a group is named by a glob
MAX_PATTERNS = 40  # patterns per sortie before they are widened to whole directories
MAX_RISKY = 5
#: Python files read for fan-in at most: above it, only importers in scope count
FAN_IN_FILES = 20_000
STOP = frozenset((
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "from", "into",
    "by", "at", "as", "is", "are", "be", "it", "its", "this", "that", "these", "those", "all",
    "any", "each", "every", "some", "new", "add", "adds", "adding", "implement", "implements",
    "support", "supports", "make", "makes", "update", "updates", "change", "changes", "fix",
    "fixes", "improve", "improves", "use", "using", "so", "we", "our", "their", "then",
    "also", "when", "where", "which", "while", "without", "within", "should", "must", "can",
    "refactor", "rework", "rewrite", "split", "extract", "rename", "move", "create", "build",
    "enable", "allow", "introduce", "remove", "delete", "replace", "migrate", "upgrade",
    "task", "code", "file", "files", "module", "modules"
))
_SPECIALISTS = {".py": "python", ".pyi": "python", ".js": "javascript", ".jsx": "javascript",
                ".ts": "typescript", ".tsx": "typescript", ".go": "go", ".rs": "rust",
                ".java": "java", ".kt": "kotlin", ".rb": "ruby", ".c": "c", ".h": "c",
                ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".md": "docs", ".rst": "docs",
                ".txt": "docs", ".css": "frontend", ".html": "frontend", ".scss": "frontend",
                ".sql": "data", ".yaml": "config", ".yml": "config", ".toml": "config",
                ".json": "config", ".sh": "shell"}
_TEST_DIRS = ("tests", "test", "spec", "__tests__")


class Draft:
    """A strategy's plan and its reasons."""

    __slots__ = ("plan", "reasons")

    def __init__(self, plan: Plan, reasons: list[str]) -> None:
        self.plan = plan
        self.reasons = reasons


# -- shared parts --------------------------------------------------------------------------
def short_task(task: str, width: int = 80) -> str:
    line = " ".join(task.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def title_of(task: str, width: int = 80) -> str:
    """A title for ``task``: its first line when it goes on with a list (the lines after
    it are its features), else all of it, shortened to ``width``."""
    lines = [ln.strip() for ln in task.splitlines() if ln.strip()]
    if len(lines) > 1 and any(ln[:1] in "-*•" or ln[:1].isdigit() for ln in lines[1:]):
        return short_task(lines[0].rstrip(":").strip(), width)
    return short_task(task, width)


def keywords(text: str) -> list[str]:
    out: list[str] = []
    for w in words(text):
        if len(w) >= 3 and w not in STOP and w not in out:
            out.append(w)
    return out


def _path_words(path: str) -> set[str]:
    found = set(words(path.replace("_", " ").replace("-", " ")))
    return found | {w.rstrip("s") for w in found}


def relevant(task: str, files: Sequence[str]) -> list[str]:
    """Files whose path mentions a keyword of the task (as a word of a segment)."""
    keys = {k for k in keywords(task)} | {k.rstrip("s") for k in keywords(task)}
    if not keys:
        return []
    return [f for f in files if keys & _path_words(f)]


def specialist_of(files: Sequence[str]) -> str | None:
    counts: dict[str, int] = {}
    for f in files:
        if f.split("/")[0] in _TEST_DIRS or f.rsplit("/", 1)[-1].startswith("test_"):
            kind = "tests"
        else:
            dot = f.rfind(".")
            kind = _SPECIALISTS.get(f[dot:].lower(), "") if dot > f.rfind("/") else ""
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return None
    return max(sorted(counts), key=lambda k: counts[k])


def globs_for(files: Sequence[str], universe: set[str] | None = None) -> list[str]:
    """Patterns covering exactly ``files`` where that is short: the files themselves
    (few), else ``dir/**`` for each directory whose tracked files are all in the set
    (``universe``: every tracked file), else ``dir/*`` per directory of direct files."""
    files = sorted(set(files))
    if len(files) <= MAX_LISTED:
        return files
    out: list[str] = []
    left = set(files)
    if universe is not None:
        dirs = sorted({f.rsplit("/", 1)[0] for f in files if "/" in f}, key=len)
        for d in dirs:
            if any(d.startswith(o[:-2] + "/") or d == o[:-3] for o in out):
                continue
            under = {u for u in universe if u.startswith(d + "/")}
            if under and under <= set(files):
                out.append(f"{d}/**")
                left -= under
    by_dir: dict[str, list[str]] = {}
    for f in sorted(left):
        by_dir.setdefault(f.rsplit("/", 1)[0] if "/" in f else "", []).append(f)
    for d, fs in sorted(by_dir.items()):
        if len(fs) > 3 and universe is not None and d and \
                {u for u in universe if u.rsplit("/", 1)[0] == d} <= set(fs):
            out.append(f"{d}/*")
        else:
            out.extend(_escaped(f) for f in fs)
    return _widened(out)


def _widened(patterns: list[str]) -> list[str]:
    """At most :data:`MAX_PATTERNS` patterns: too many are widened to ``dir/*`` (the
    files directly in a directory), then to ``top/**``. A wider pattern may cover files
    of another sortie: the strategies order such sorties (or the validator reports it)."""
    if len(patterns) <= MAX_PATTERNS:
        return patterns
    for level in ("dir", "top"):
        out: list[str] = []
        for p in patterns:
            if level == "dir":
                wide = p.rsplit("/", 1)[0] + "/*" if "/" in p and not p.endswith("/**") \
                    else p
            else:
                wide = p.split("/", 1)[0] + "/**" if "/" in p else p
            if wide not in out:
                out.append(wide)
        patterns = out
        if len(patterns) <= MAX_PATTERNS:
            break
    return patterns if len(patterns) <= MAX_PATTERNS else ["**"]


def _escaped(path: str) -> str:
    from ..kernel.globs import escape

    return escape(path)


def group_by_directory(files: Sequence[str], max_groups: int = MAX_GROUPS,
                       ) -> list[tuple[str, list[str]]]:
    """(label, files) groups: by top-level directory, going one level deeper while a
    single directory holds everything; small groups beyond ``max_groups`` are pooled."""
    files = sorted(files)
    depth = 1
    while True:
        groups: dict[str, list[str]] = {}
        for f in files:
            parts = f.split("/")
            key = "/".join(parts[:depth]) if len(parts) > depth else \
                ("/".join(parts[:-1]) or ".")
            groups.setdefault(key, []).append(f)
        if len(groups) != 1 or depth >= 4 or len(files) < 2:
            break
        (only,) = groups
        if not any(f.count("/") > depth for f in files) or only == ".":
            break
        depth += 1
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    if len(ordered) > max_groups:
        kept, rest = ordered[: max_groups - 1], ordered[max_groups - 1:]
        pooled = [f for _, fs in rest for f in fs]
        ordered = [*kept, (", ".join(k for k, _ in rest[:3]) + (" …" if len(rest) > 3
                                                                 else ""), pooled)]
    return sorted(ordered, key=lambda kv: kv[0])


def _acyclic_edges(n: int, weighted: dict[tuple[int, int], int]) -> list[list[int]]:
    """deps[i] from edges (i depends on j), heaviest first, skipping any that would close
    a cycle."""
    deps: list[list[int]] = [[] for _ in range(n)]

    def reaches(a: int, b: int) -> bool:
        stack, seen = [a], set()
        while stack:
            x = stack.pop()
            if x == b:
                return True
            if x not in seen:
                seen.add(x)
                stack.extend(deps[x])
        return False

    for (i, j), _w in sorted(weighted.items(), key=lambda kv: (-kv[1], kv[0])):
        if i != j and not reaches(j, i) and j not in deps[i]:
            deps[i].append(j)
    return [sorted(d) for d in deps]


def _import_edges(repo: Repository, groups: Sequence[Sequence[str]],
                  ) -> dict[tuple[int, int], int]:
    """(i, j) -> how many imports files of group i make of files of group j."""
    owner = {f: g for g, fs in enumerate(groups) for f in fs}
    edges: dict[tuple[int, int], int] = {}
    for path, targets in repo.imports(owner).items():
        for t in targets:
            j = owner.get(t)
            if j is not None and j != owner[path]:
                edges[(owner[path], j)] = edges.get((owner[path], j), 0) + 1
    # a mutual pair keeps only its heavier direction
    for (i, j), w in list(edges.items()):
        back = edges.get((j, i), 0)
        if back > w or (back == w and i < j):
            edges.pop((i, j), None)
    return edges


def _sortie(title: str, description: str, files: Sequence[str], depends_on: Sequence[int],
            specialist: str | None, priority: int = 2) -> dict[str, Any]:
    return {"title": title, "description": description, "files": list(files),
            "depends_on": sorted(set(depends_on)), "specialist": specialist,
            "priority": priority}


def _plan(task: str, strategy: str, sorties: list[dict[str, Any]]) -> Plan:
    return {"title": title_of(task, 120) or "plan", "strategy": strategy, "task": task,
            "sorties": sorties}


def _directory_sorties(task: str, repo: Repository, files: Sequence[str], *,
                       offset: int = 0, priority: int = 2,
                       ) -> tuple[list[dict[str, Any]], list[str]]:
    universe = set(repo.files)
    groups = group_by_directory(files)
    deps = _acyclic_edges(len(groups), _import_edges(repo, [fs for _, fs in groups]))
    sorties = []
    for (label, fs), ds in zip(groups, deps, strict=True):
        sorties.append(_sortie(
            f"{label}: {title_of(task, 60)}",
            f"Part of: {task.strip()}\n\nThe {len(fs)} file(s) in scope under {label}.",
            globs_for(fs, universe), [d + offset for d in ds], specialist_of(fs), priority))
    reasons = [f"{len(groups)} group(s) by directory: " + ", ".join(
        f"{label} ({len(fs)})" for label, fs in groups)]
    edges = sum(len(d) for d in deps)
    if edges:
        reasons.append(f"{edges} dependency(ies) from Python imports between the groups")
    return sorties, reasons


# -- the strategies ------------------------------------------------------------------------
def file_based(task: str, repo: Repository, scope: Sequence[str]) -> Draft:
    if not scope:
        return Draft(_plan(task, "file", [_sortie(short_task(task, 100), task, [], [],
                                                  None)]),
                     ["no files in scope: one sortie for the whole task"])
    sorties, reasons = _directory_sorties(task, repo, scope)
    return Draft(_plan(task, "file", sorties), reasons)


def features_of(task: str) -> list[str]:
    """The features a task names: its list items, else its clauses (split at ``;``,
    ``,``, `` and ``, `` then ``), the first clause's verb carried to the ones without."""
    lines = [ln.strip() for ln in task.splitlines() if ln.strip()]
    items = [ln.lstrip("-*•0123456789.) ").strip() for ln in lines
             if ln[:1] in "-*•" or (ln[:1].isdigit() and ln[1:3].strip()[:1] in ".)")]
    if len(items) >= 2:
        return items
    import re

    text = " ".join(task.split())
    parts = [p.strip(" .") for p in re.split(r";|,|\band\b|\bthen\b|\balso\b", text)]
    parts = [p for p in parts if p and keywords(p)]
    if len(parts) < 2:
        return [text] if text else []
    verb = parts[0].split()[0]
    return [p if p.split()[0].lower() in _VERBS or p is parts[0] else f"{verb} {p}"
            for p in parts]


_VERBS = frozenset((
    "add", "implement", "support", "fix", "refactor", "update", "remove", "delete", "replace",
    "make", "create", "build", "write", "document", "test", "migrate", "rename", "move",
    "split", "extract", "improve", "optimize", "introduce", "enable", "allow", "rework",
    "rewrite", "clean", "expose", "change", "convert", "upgrade", "deprecate", "drop",
    "speed", "cache", "validate", "log", "handle", "check", "wire", "port", "serve",
    "show", "hide", "merge", "unify", "generate", "parse", "render", "store", "load",
    "export", "import", "translate", "secure", "harden", "profile", "benchmark", "measure",
))


_NAMED_PATH = None


def named_paths(text: str) -> list[str]:
    """The file paths ``text`` names outright (``shop/cart.py``, ``CHANGELOG.md``), in
    order, without repeats; they need not exist yet (a feature may create them)."""
    global _NAMED_PATH
    if _NAMED_PATH is None:
        import re

        _NAMED_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z][A-Za-z0-9]{0,4})"
                                 r"(?![\w/-]|\.\w)")
    out: list[str] = []
    for m in _NAMED_PATH.finditer(text):
        path = m.group(1).strip("./") if m.group(1).startswith("./") else m.group(1)
        if path not in out and not path.lower().startswith(("e.g", "i.e")):
            out.append(path)
    return out


def feature_based(task: str, repo: Repository, scope: Sequence[str]) -> Draft:
    features = features_of(task) or [task]
    universe = set(repo.files)
    # a feature that names its files owns them (existing or to be made); the others are
    # matched by the words of their paths, among the files no feature named
    named = [named_paths(f) for f in features]
    claimed = {p for ps in named for p in ps}
    open_scope = [f for f in scope if f not in claimed]
    matched = [ps or relevant(f, open_scope) for f, ps in zip(features, named, strict=True)]
    owners: dict[str, list[int]] = {}
    for i, fs in enumerate(matched):
        for f in fs:
            owners.setdefault(f, []).append(i)
    shared = sorted(f for f, who in owners.items() if len(who) > 1)
    sorties: list[dict[str, Any]] = []
    reasons = [f"{len(features)} feature(s) named in the task: "
               + "; ".join(short_task(f, 40) for f in features)]
    base = 0
    if shared:
        sharing = len({i for f in shared for i in owners[f]})
        sorties.append(_sortie(f"Groundwork shared by {sharing} features",
                               f"Part of: {task.strip()}\n\nFiles more than one "
                               "feature touches, changed once, first.",
                               globs_for(shared), [], specialist_of(shared), 1))
        base = 1
        reasons.append(f"{len(shared)} file(s) shared by several features go to a "
                       "groundwork sortie the features wait for")
    for i, feature in enumerate(features):
        own = [f for f in matched[i] if f not in shared]
        needs_groundwork = base and any(i in owners[f] for f in shared)
        sorties.append(_sortie(short_task(feature, 100),
                               f"Part of: {task.strip()}\n\nFeature: {feature}",
                               globs_for(own, universe), [0] if needs_groundwork else [],
                               specialist_of(own or matched[i])))
    unmatched = [short_task(f, 30) for f, fs in zip(features, matched, strict=True) if not fs]
    if unmatched:
        reasons.append("no existing file mentions " + "; ".join(unmatched)
                       + " (new code: its files are left to the sortie)")
    if any(named):
        reasons.append("files named in the task go to the feature that names them")
    if len(features) > 1:
        tests = [f for f in scope if f.split("/")[0] in _TEST_DIRS and f not in owners]
        sorties.append(_sortie(
            f"Integrate and test: {title_of(task, 60)}",
            f"Part of: {task.strip()}\n\nCheck the features work together; end-to-end "
            "tests.", globs_for(tests, universe) if tests else [],
            list(range(base, base + len(features))), "tests" if tests else None, 3))
        reasons.append("an integration sortie waits for every feature")
    return Draft(_plan(task, "feature", sorties), reasons)


def risk_scores(repo: Repository, scope: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per file of ``scope``: churn, size, fan-in (importers among every tracked Python
    file, or among the scope's past :data:`FAN_IN_FILES`) and a risk in [0, 1] (each
    measure relative to the largest in scope)."""
    churn = repo.churn
    python = [f for f in repo.files if f.endswith(".py")]
    if len(python) > FAN_IN_FILES:
        python = [f for f in scope if f.endswith(".py")]
    fan_in = repo.fan_in(python) if any(f.endswith(".py") for f in scope) else {}
    raw = {f: (churn.get(f, 0), repo.size(f), fan_in.get(f, 0)) for f in scope}
    top = [max((v[k] for v in raw.values()), default=0) or 1 for k in range(3)]
    out = {}
    for f, (c, s, n) in raw.items():
        risk = 0.45 * c / top[0] + 0.25 * s / top[1] + 0.30 * n / top[2]
        out[f] = {"churn": c, "size": s, "fan_in": n, "risk": round(risk, 3)}
    return out


def _risky(scores: dict[str, dict[str, Any]]) -> list[str]:
    ranked = sorted(scores, key=lambda f: (-scores[f]["risk"], f))
    cap = min(MAX_RISKY, max(1, len(ranked) // 3)) if len(ranked) > 1 else 0
    return [f for f in ranked[:cap] if scores[f]["risk"] >= 0.5]


def _isolate(task: str, repo: Repository, scope: Sequence[str],
             ) -> tuple[list[dict[str, Any]], list[str], list[str], list[str]]:
    """(sorties for the risky files, those files, the rest of the scope, reasons)."""
    scores = risk_scores(repo, scope)
    risky = _risky(scores)
    sorties = []
    for k, f in enumerate(risky):
        s = scores[f]
        sorties.append(_sortie(
            f"High-risk: {f}", f"Part of: {task.strip()}\n\nChange {f} on its own, first, "
            f"with care: {s['churn']} recent commit(s), {s['size']} bytes, imported by "
            f"{s['fan_in']} file(s) (risk {s['risk']}).", [_escaped(f)], [],
            specialist_of([f]), 0 if k == 0 else 1))
    reasons = []
    if risky:
        reasons.append("riskiest first and isolated: " + ", ".join(
            f"{f} (risk {scores[f]['risk']}: churn {scores[f]['churn']}, fan-in "
            f"{scores[f]['fan_in']}, {scores[f]['size']} B)" for f in risky))
    else:
        reasons.append("no file stands out by churn, size and fan-in")
    if not repo.churn:
        reasons.append("no git history to measure churn: size and fan-in only")
    rest = [f for f in scope if f not in set(risky)]
    return sorties, risky, rest, reasons


def _wait_for_risky(repo: Repository, sorties: list[dict[str, Any]], risky: list[str],
                    groups: list[list[str]], offset: int) -> int:
    """Make each later sortie wait for the risky sorties whose file it imports."""
    added = 0
    imports = repo.imports([f for fs in groups for f in fs])
    for k, fs in enumerate(groups):
        target = sorties[offset + k]
        wanted = {i for i, r in enumerate(risky)
                  if any(r in imports.get(f, ()) for f in fs)
                  or any(_covers(g, r) for g in target["files"])}
        before = set(target["depends_on"])
        target["depends_on"] = sorted(before | wanted)
        added += len(wanted - before)
    return added


def risk_based(task: str, repo: Repository, scope: Sequence[str]) -> Draft:
    if not scope:
        return file_based(task, repo, scope)
    sorties, risky, rest, reasons = _isolate(task, repo, scope)
    groups = [fs for _, fs in group_by_directory(rest)] if rest else []
    more, more_reasons = _directory_sorties(task, repo, rest, offset=len(sorties),
                                            priority=2) if rest else ([], [])
    sorties += more
    reasons += more_reasons
    added = _wait_for_risky(repo, sorties, risky, groups, len(risky))
    if added:
        reasons.append(f"{added} dependency(ies) on risky files the other groups import")
    return Draft(_plan(task, "risk", sorties), reasons)


def hybrid(task: str, repo: Repository, scope: Sequence[str]) -> Draft:
    features = features_of(task)
    sorties, risky, rest, reasons = _isolate(task, repo, scope) if scope else \
        ([], [], [], [])
    if len(features) >= 2:
        draft = feature_based(task, repo, rest)
        reasons.append("then by feature: " + "; ".join(draft.reasons))
        offset = len(sorties)
        for s in draft.plan["sorties"]:
            s["depends_on"] = [d + offset for d in s["depends_on"]]
        groups = []
        for s in draft.plan["sorties"]:
            groups.append([f for f in rest if any(_covers(g, f) for g in s["files"])])
        sorties += draft.plan["sorties"]
    else:
        groups = [fs for _, fs in group_by_directory(rest)] if rest else []
        more, more_reasons = _directory_sorties(task, repo, rest, offset=len(sorties)) \
            if rest else ([], [])
        reasons += ["then by directory: " + "; ".join(more_reasons)] if more else []
        offset = len(sorties)
        sorties += more
    if not sorties:
        return file_based(task, repo, scope)
    _wait_for_risky(repo, sorties, risky, groups, offset)
    return Draft(_plan(task, "hybrid", sorties), reasons)


def _covers(pattern: str, path: str) -> bool:
    from ..kernel.globs import GlobError, matches

    try:
        return matches(pattern, path)
    except GlobError:
        return False


STRATEGY_FUNCTIONS = {"file": file_based, "feature": feature_based, "risk": risk_based,
                      "hybrid": hybrid}

# -- auto ----------------------------------------------------------------------------------
#: how much a learned score (in [-1, 1]) moves a strategy's score
LEARNED_WEIGHT = 0.6


def select(task: str, features: Sequence[str], advice: Advice, scope: Sequence[str],
           ) -> tuple[str, list[str], dict[str, float]]:
    """(the strategy for ``task``, the reasons, every strategy's score). The task's
    characteristics give each strategy a score; learned scores move it."""
    tags = set(features)
    clauses = len(features_of(task))
    top_dirs = len({f.split("/")[0] for f in scope if "/" in f})
    score = {"file": 0.30, "feature": 0.20, "risk": 0.20, "hybrid": 0.10}
    why: list[str] = []

    def bump(strategy: str, amount: float, reason: str) -> None:
        score[strategy] += amount
        why.append(f"{strategy} {amount:+.2f}: {reason}")

    if "feature" in tags:
        bump("feature", 0.40, "the task adds or implements something")
    if clauses >= 2:
        bump("feature", 0.20, f"it names {clauses} features")
    if tags & {"refactor", "migration"}:
        bump("risk", 0.40, "it changes existing code (" + ", ".join(
            sorted(tags & {"refactor", "migration"})) + ")")
    if tags & {"performance", "security"}:
        bump("risk", 0.15, "a " + "/".join(sorted(tags & {"performance", "security"}))
             + " change: impact matters")
    if tags & {"docs", "build", "tests"} and not tags & {"feature", "refactor"}:
        bump("file", 0.35, "organisational work (" + ", ".join(
            sorted(tags & {"docs", "build", "tests"})) + ") follows the file layout")
    if top_dirs >= 3 and not tags:
        bump("file", 0.10, f"the scope spans {top_dirs} top-level directories")
    if ("feature" in tags or clauses >= 2) and tags & {"refactor", "migration"}:
        bump("hybrid", 0.75, "features and a refactoring together")
    if len(scope) > 200 and clauses >= 2:
        bump("hybrid", 0.10, f"a large scope ({len(scope)} files) with several features")
    for strategy, learned in sorted(advice.scores.items()):
        if strategy in score and learned:
            bump(strategy, LEARNED_WEIGHT * learned,
                 f"learned from past outcomes for {', '.join(features) or 'tasks like it'} "
                 f"(score {learned:+.2f})")
    order = list(score)
    chosen = max(order, key=lambda s: (round(score[s], 6), -order.index(s)))
    reasons = [f"chose {chosen} (score {score[chosen]:.2f}; "
               + ", ".join(f"{s} {v:.2f}" for s, v in score.items() if s != chosen) + ")"]
    return chosen, reasons + why, {s: round(v, 3) for s, v in score.items()}
