"""``fleet-hive demo``: one whole mission, end to end, in a scratch git repository.

A coordinator plans a mission of four sorties with dependencies; three specialists take
ready sorties in dependency order, each reserving the files it will touch (one of them is
refused a file another holds), report progress and finish; ``.fleet/`` is committed through
dulwich, ``verify`` checks the log, and the mission's history is rendered as it would
appear in a pull request. Everything goes through the public API, as an agent's would.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..kernel.errors import ConflictError, InvalidInputError

Say = Callable[[str], None]

PROJECT_FILES = {
    "README.md": "# demo service\n",
    "src/api/app.py": "def handle(request):\n    return 'ok'\n",
    "src/api/limits.py": "LIMITS = {}\n",
    "tests/test_app.py": "def test_handle():\n    pass\n",
    "docs/limits.md": "# Rate limits\n",
}

PLAN = [
    # key, title, files, after, specialist kind
    ("design", "Design the rate limits", ["docs/limits.md"], [], "architect"),
    ("middleware", "Rate-limiting middleware", ["src/api/**"], ["design"], "python"),
    ("docs", "Document the limits for API users", ["docs/**"], ["design"], "writer"),
    ("tests", "Tests for the middleware", ["tests/**"], ["middleware"], "python"),
]
SPECIALISTS = {"architect": "ada", "python": "grace", "writer": "linus"}


def run_demo(directory: Path | None = None, *, say: Say = lambda _line: None) -> dict[str, Any]:
    """Run the demo in ``directory`` (new or empty; default: a new temporary directory)."""
    from ..git.repo import init_repository
    from .history import history, render_markdown
    from .hive import init as init_hive
    from .hive import open as open_hive
    from .verify import verify

    repo = _scratch(directory)
    init_repository(repo)
    for rel, text in PROJECT_FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    say(f"scratch repository: {repo}")

    coordinator = init_hive(repo, actor="coordinator")
    base = coordinator.git.commit("fleet-hive: start tracking missions")
    mission = coordinator.missions.create(
        "Add rate limiting to the public API", priority=1, labels=["api", "demo"],
        description="Requests above the per-client limit get 429 with Retry-After.")
    say(f"coordinator: mission {mission.id} '{mission.title}'")
    ids: dict[str, str] = {}
    for key, title, files, after, kind in PLAN:
        sortie = coordinator.sorties.add(mission.id, title, files=files,
                                         after=[ids[a] for a in after], specialist=kind)
        ids[key] = sortie.id
        deps = f" after {', '.join(after)}" if after else ""
        say(f"coordinator: sortie {sortie.id} '{title}' [{', '.join(files)}]{deps}")
    coordinator.missions.start(mission.id)

    hives = {name: open_hive(repo, actor=name) for name in SPECIALISTS.values()}
    refusals: list[str] = []
    wave = 0
    while ready := coordinator.ready(mission=mission.id):
        wave += 1
        say(f"wave {wave}: ready {', '.join(s.title for s in ready)}")
        working = []
        for sortie in ready:  # every ready sortie starts at once: specialists in parallel
            name = SPECIALISTS[sortie.specialist or "python"]
            hive = hives[name]
            hive.sorties.claim(sortie.id)  # as its actor; the claim reserves its files
            hive.sorties.start(sortie.id)
            say(f"  {name}: claimed '{sortie.title}', reserved {', '.join(sortie.files)}")
            working.append((name, sortie))
        refusals.extend(_try_to_trespass(hives, working, say))
        for name, sortie in working:
            hive = hives[name]
            hive.sorties.progress(sortie.id, 50, note="halfway")
            hive.sorties.complete(sortie.id, reason="done")  # releases its files
            say(f"  {name}: completed '{sortie.title}', released its files")
    finished = coordinator.missions.complete(mission.id, reason="all sorties done")
    say(f"coordinator: mission {finished.status} ({finished.progress}%)")
    final = coordinator.git.commit("fleet-hive: rate limiting mission complete")
    report = verify(coordinator)
    say(f"verify: {'ok' if report.ok else 'FAILED'} ({report.events} events)")
    pr = history(coordinator, since=base.commit)
    markdown = render_markdown(pr)
    for hive in (coordinator, *hives.values()):
        hive.close()
    return {
        "directory": str(repo),
        "mission": finished.to_json(),
        "waves": wave,
        "refused": refusals,
        "commits": [base.commit, final.commit],
        "verify": report.to_json(),
        "history": pr.to_json(),
        "history_markdown": markdown,
    }


def _try_to_trespass(hives: dict[str, Any], working: list[tuple[str, Any]], say: Say,
                     ) -> list[str]:
    """While specialists hold files, one tries to take a file another holds: refused."""
    holders = {name for name, _ in working}
    refusals: list[str] = []
    for name, sortie in working:
        others = [n for n in hives if n != name and n not in holders]
        if not others or not sortie.files:
            continue
        target = sortie.files[0].replace("**", "app.py")
        intruder = others[0]
        try:
            hives[intruder].reservations.acquire([target], holder=intruder, ttl=60)
        except ConflictError as e:
            refusals.append(e.message)
            say(f"  {intruder}: wanted {target}: refused ({e.message})")
        else:  # cannot happen while the holder's reservation stands
            hives[intruder].reservations.release([target], holder=intruder)
            raise AssertionError(f"{intruder} was granted {target} held by {name}")
        break
    return refusals


def _scratch(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="fleet-hive-demo-"))
    directory = directory.resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidInputError(f"{directory} is not an empty directory",
                                hint="give a new or empty directory, or none for a temporary one")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
