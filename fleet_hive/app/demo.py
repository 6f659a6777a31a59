"""``fleet-hive demo``: one whole mission, end to end, in a scratch git repository.

A small Python codebase (a shop: cart, prices) gets a mission of six sorties with
dependencies; ``dispatch`` runs them through the built-in demonstration agents (real
processes, :mod:`.demo_agent`, three at a time) that edit the code and report progress; one
fails its first try and succeeds on the retry. ``.fleet/`` is committed through dulwich,
``verify`` checks the log, and the mission's history is rendered as it would appear in a
pull request. Everything goes through the public API, as an agent's would.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..kernel.errors import InvalidInputError

Say = Callable[[str], None]

PROJECT_FILES = {
    "README.md": "# shop\n\nA tiny shop: carts and prices.\n",
    "CHANGELOG.md": "# Changelog\n",
    "shop/__init__.py": "",
    "shop/cart.py": ("def total(items: list[tuple[str, float]]) -> float:\n"
                     "    return round(sum(price for _name, price in items), 2)\n"),
    "shop/prices.py": "VAT = 0.2\n",
    "tests/test_cart.py": ("from shop.cart import total\n\n\n"
                           "def test_total():\n"
                           "    assert total([(\"book\", 12.5), (\"pen\", 1.5)]) == 14.0\n"),
}

PLAN: list[dict[str, Any]] = [
    {"title": "Discount rules", "files": ["shop/discounts.py"], "specialist": "python",
     "description": "A percentage off orders above a threshold."},
    {"title": "Apply discounts in the cart", "files": ["shop/cart.py"], "after": [0],
     "specialist": "python"},
    {"title": "Format prices in euros", "files": ["shop/prices.py"], "specialist": "python"},
    {"title": "Tests for discounts", "files": ["tests/test_discounts.py"], "after": [1],
     "specialist": "python"},
    {"title": "Document discounts", "files": ["docs/discounts.md"], "after": [0],
     "specialist": "writer"},
    {"title": "Changelog entry", "files": ["CHANGELOG.md"], "after": [2, 3, 4],
     "specialist": "writer"},
]
AGENT = f"{sys.executable} -m fleet_hive.app.demo_agent"


def run_demo(directory: Path | None = None, *, say: Say = lambda _line: None,
             on_progress: Callable[[dict[str, Any]], None] = lambda _record: None,
             mail: bool = False, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the demo in ``directory`` (new or empty; default: a new temporary directory).
    ``on_progress`` gets dispatch's progress records; ``mail``: the agents may send mail
    (the ``mail`` command exists); ``environ``: the agents' base environment."""
    from ..dispatch.model import Options
    from ..git.repo import init_repository
    from .history import history, render_markdown
    from .hive import init as init_hive
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
        "Add discounts to the shop", priority=1, labels=["shop", "demo"],
        description="Orders of 100 EUR or more get 10 % off; show prices in euros.",
        sorties=PLAN)
    say(f"coordinator: mission {mission.id} '{mission.title}' with {len(PLAN)} sorties")
    env = dict(os.environ if environ is None else environ)
    env["DEMO_MAIL"] = "1" if mail else "0"
    # the agents import this fleet_hive (a checkout run without installing included)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    summary = coordinator.dispatch.run(
        mission.id, Options(agent=AGENT, workers=3, retries=1, backoff=0.2, timeout=120),
        environ=env, on_progress=on_progress)
    finished = coordinator.missions.get(mission.id)
    say(f"coordinator: mission {finished.status} ({finished.progress}%)")
    final = coordinator.git.commit("fleet-hive: discounts mission complete")
    report = verify(coordinator)
    say(f"verify: {'ok' if report.ok else 'FAILED'} ({report.events} events)")
    pr = history(coordinator, since=base.commit)
    markdown = render_markdown(pr)
    coordinator.close()
    return {
        "directory": str(repo),
        "mission": finished.to_json(),
        "dispatch": summary.to_json(),
        "edited": sorted(rel for rel in {f for s in PLAN for f in s["files"]}
                         if (repo / rel).exists()),
        "commits": [base.commit, final.commit],
        "verify": report.to_json(),
        "history": pr.to_json(),
        "history_markdown": markdown,
    }


def _scratch(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="fleet-hive-demo-"))
    directory = directory.resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidInputError(f"{directory} is not an empty directory",
                                hint="give a new or empty directory, or none for a temporary one")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
