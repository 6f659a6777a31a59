"""``fleet-hive demo``: one whole mission, end to end, in a scratch git repository.

A small Python codebase (a shop: cart, prices) gets a task that the heuristic planner
decomposes into a mission (six features, each owning the files it names, and an
integration sortie that waits for them); ``dispatch`` runs them through the built-in
demonstration agents (real processes, :mod:`.demo_agent`, three at a time) that edit the
code and report progress; one fails its first try and succeeds on the retry. ``.fleet/``
is committed through dulwich, ``verify`` checks the log, and the mission's history is
rendered as it would appear in a pull request. Everything goes through the public API, as
an agent's would.
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

#: What the coordinator is asked; the heuristic planner turns it into sorties (each line a
#: feature owning the files it names, then an integration sortie waiting for them all).
TASK = """Add discounts to the shop: orders of 100 EUR or more get 10 % off.
- Discount rules in shop/discounts.py
- Apply discounts to the cart total in shop/cart.py
- Format prices in euros in shop/prices.py
- Tests for discounts in tests/test_discounts.py
- Document discounts in docs/discounts.md
- A changelog entry in CHANGELOG.md
"""
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
    planned = coordinator.planning.decompose(TASK, create=True)
    mission = coordinator.missions.get(planned["mission"]["id"])
    sorties = mission.sorties or []
    say(f"coordinator: planned with the {planned['strategy']['used']} strategy "
        f"({planned['strategy']['reasons'][0]}); mission {mission.id} "
        f"'{mission.title}' with {len(sorties)} sorties in "
        f"{len(planned['validation']['waves'])} waves")
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
        "plan": {"strategy": planned["strategy"], "waves": planned["validation"]["waves"]},
        "edited": sorted(rel for rel in {f for s in sorties for f in s.files}
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
