"""``python -m fleet_hive.app.demo_agent``: the built-in demonstration agent of ``demo``.

A real agent process, run by ``dispatch`` like any other: it reads its prompt on stdin,
works under its own identity (``FLEET_ACTOR``), reports progress, edits the files of its
sortie (each a small, real change to the demo's codebase, from :data:`EDITS`), and exits 0.
The sortie titled "Tests ..." fails its first try (a flaky fixture) and succeeds on the
retry. With ``DEMO_MAIL=1`` (when the ``mail`` command exists) the documentation agent
sends the coordinator one message.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

#: file -> text the agent appends (or writes, for a new file)
EDITS = {
    "shop/discounts.py": (
        '"""Discount rules: a percentage off above a threshold."""\n\n\n'
        "def discount(total: float, *, threshold: float = 100.0, percent: float = 10.0,\n"
        "             ) -> float:\n"
        "    return round(total * percent / 100, 2) if total >= threshold else 0.0\n"),
    "shop/cart.py": (
        "\n\ndef total_with_discount(items: list[tuple[str, float]]) -> float:\n"
        "    from .discounts import discount\n\n"
        "    gross = total(items)\n"
        "    return round(gross - discount(gross), 2)\n"),
    "shop/prices.py": (
        "\n\ndef euros(amount: float) -> str:\n"
        "    return f\"{amount:,.2f} EUR\"\n"),
    "tests/test_discounts.py": (
        "from shop.cart import total_with_discount\n\n\n"
        "def test_discount_above_threshold():\n"
        "    assert total_with_discount([(\"book\", 60.0), (\"lamp\", 60.0)]) == 108.0\n"),
    "docs/discounts.md": (
        "# Discounts\n\nOrders of 100 EUR or more get 10 % off "
        "(`shop.discounts.discount`).\n"),
    "CHANGELOG.md": "\n## Unreleased\n- Discounts: 10 % off orders of 100 EUR or more.\n",
}


def main() -> int:
    import fleet_hive

    prompt = sys.stdin.read()
    sortie_id = os.environ["FLEET_SORTIE_ID"]
    repo = Path(os.environ["FLEET_REPO"])
    attempt = int(os.environ.get("FLEET_ATTEMPT", "1"))
    pause = float(os.environ.get("DEMO_PAUSE", "0.3"))
    with fleet_hive.open(repo, actor=os.environ["FLEET_ACTOR"]) as hive:
        sortie = hive.sorties.get(sortie_id)
        print(f"{os.environ['FLEET_ACTOR']}: {sortie.title} (try {attempt}); prompt of "
              f"{len(prompt)} characters")
        hive.sorties.progress(sortie_id, 30, note="read the code")
        time.sleep(pause)
        if sortie.title.startswith("Tests") and attempt == 1:
            print("flaky: the test fixture was not ready", file=sys.stderr)
            return 1
        for rel in sortie.files:
            text = EDITS.get(rel)
            if text is None:
                continue
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
            print(f"edited {rel}")
        hive.sorties.progress(sortie_id, 80, note=f"edited {', '.join(sortie.files)}")
        time.sleep(pause)
    if os.environ.get("DEMO_MAIL") == "1" and sortie.title.startswith("Document"):
        from ..kernel.processes import run

        run([sys.executable, "-m", "fleet_hive", "mail", "send", "--to", "coordinator",
             "--subject", "Discount docs are ready", "--body",
             f"See docs/discounts.md ({sortie_id}).", "--mission",
             os.environ["FLEET_MISSION_ID"]], capture=True, timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
