"""The reservations package keeps the shape of a capability: pydantic only in its event
types, no import of a higher layer, the public names exported lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fleet_hive.reservations as package

PACKAGE = Path(package.__file__).parent
FORBIDDEN = ("fleet_hive.app", "fleet_hive.cli", "fleet_hive.git", "fleet_hive.missions")


def imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (type-checking imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["fleet_hive", "reservations"][: 3 - node.level]
                names.add(".".join([*base, node.module] if node.module else base))
            else:
                names.add(node.module or "")
    return names


def test_only_event_types_imports_pydantic_and_nothing_imports_a_higher_layer():
    for path in sorted(PACKAGE.glob("*.py")):
        found = imports(path)
        if path.name != "event_types.py":
            assert not any(n.split(".")[0] == "pydantic" for n in found), path.name
        assert not [n for n in found if n.startswith(FORBIDDEN)], path.name


def test_the_read_side_loads_without_pydantic():
    probe = ("import sys, fleet_hive.reservations.model, fleet_hive.reservations.fold, "
             "fleet_hive.reservations.projection, fleet_hive.reservations.service, "
             "fleet_hive.reservations.manifest\n"
             "print('pydantic' in sys.modules)")
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert got.stdout.strip() == "False", got.stderr


def test_public_names():
    from fleet_hive.reservations import Manifest, Reservation, Reservations
    from fleet_hive.reservations.manifest import Manifest as M
    from fleet_hive.reservations.service import Reservations as R

    assert (Reservations, Manifest) == (R, M) and Reservation.__module__.endswith(".model")
    assert set(package.__all__) >= {"Reservations", "Reservation", "Conflict", "CheckResult"}


def test_reads_never_build_the_write_path(hive):
    """``lock check``, ``lock list`` and ``status`` answer without the event store or the
    after-write policies (building them costs more than the answer)."""
    res = hive.reservations
    assert res.check("src/a.py").ok and res.list() == [] and res.active() == []
    assert "uow" not in vars(hive) and "events" not in vars(hive)
    res.acquire("src/a.py", holder="ada")
    assert "uow" in vars(hive)
