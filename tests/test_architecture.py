"""The architecture stays visible: one owner per outside dependency; read paths start light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fleet_hive"

#: outside dependency -> the only modules (relative to fleet_hive/) allowed to import it
OWNERS = {
    "sqlite3": {"index/db.py"},
    "click": {"cli/"},
    "dulwich": {"git/repo.py"},
    "jinja2": {"formats/templates.py"},
    "fastapi": {"server/"},
    "uvicorn": {"server/"},
    "subprocess": {"kernel/processes.py"},
    "signal": {"kernel/processes.py"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_each_outside_dependency_has_one_owner():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for dep in imported_modules(path) & set(OWNERS):
            if not any(rel == o or (o.endswith("/") and rel.startswith(o)) for o in OWNERS[dep]):
                offenders.append(f"{rel} imports {dep}")
    assert offenders == []


def fleet_imports(path: Path) -> set[str]:
    """The fleet_hive modules ``path`` imports (type-checking imports included)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("fleet_hive."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module and node.module.startswith("fleet_hive."):
                names.add(node.module)
    return names


def test_git_imports_only_the_kernel():
    offenders = []
    for path in (PACKAGE / "git").rglob("*.py"):
        for name in fleet_imports(path):
            if not name.startswith(("fleet_hive.kernel", "fleet_hive.git")):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


HEAVY = ["pydantic", "dulwich", "jinja2", "filelock", "ruamel", "fastapi", "uvicorn"]


@pytest.mark.parametrize("argv", [
    ["events", "list", "--json", "--limit", "1"],
    ["index", "status", "--json"],
])
def test_read_commands_do_not_import_heavy_modules(hive, repo: Path, argv):
    hive.events.append("note_added", stream="s:1", data={"text": "x"})
    probe = (
        "import sys, runpy, json\n"
        f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}] + {argv!r}\n"
        "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    assert json.loads(result.stdout) is not None
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
