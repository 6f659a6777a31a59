"""Export the JSON Schemas of the event envelope, every event type, the checkpoint body and
the decomposition (a planner's answer) into ``schemas/``.

``python -m fleet_hive.app.schemas`` rewrites them; ``python -m fleet_hive.app.schemas --check``
exits 1 when the files differ from the models (``tests/test_schemas.py`` runs the same check).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rendered() -> dict[str, str]:
    from ..events.registry import json_schemas, use_modules
    from .capabilities import event_type_modules

    use_modules(event_type_modules())
    from ..checkpoints.body import json_schema as checkpoint_schema
    from ..planning.plan import json_schema as decomposition_schema

    schemas = {**json_schemas(), "checkpoint.schema.json": checkpoint_schema(),
               "decomposition.schema.json": decomposition_schema()}
    return {path: json.dumps(schema, indent=2, sort_keys=True) + "\n"
            for path, schema in schemas.items()}


def drift(directory: Path) -> list[str]:
    """Relative paths whose file is missing, different, or no longer generated."""
    want = rendered()
    problems = []
    for rel, text in want.items():
        path = directory / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(rel)
    for path in sorted((directory / "events").glob("*.schema.json")):
        rel = f"events/{path.name}"
        if rel not in want:
            problems.append(rel)
    return problems


def write(directory: Path) -> None:
    want = rendered()
    (directory / "events").mkdir(parents=True, exist_ok=True)
    for path in (directory / "events").glob("*.schema.json"):
        if f"events/{path.name}" not in want:
            path.unlink()
    for rel, text in want.items():
        (directory / rel).write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    from ..kernel.resources import source_dir

    directory = source_dir("schemas")
    if "--check" in argv:
        stale = drift(directory)
        for rel in stale:
            print(f"schemas/{rel} is out of date; run: python -m fleet_hive.app.schemas",
                  file=sys.stderr)
        return 1 if stale else 0
    write(directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
