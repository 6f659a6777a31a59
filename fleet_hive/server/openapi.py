"""The HTTP API's OpenAPI document, committed as ``schemas/openapi.json``.

``python -m fleet_hive.server.openapi`` rewrites it; ``--check`` exits 1 when the committed
file differs from what the routes declare (CI runs it, next to ``fleet_hive.app.schemas``,
which cannot import this optional layer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FILE = "openapi.json"


def document() -> dict[str, Any]:
    """The document the server serves at ``/api/v1/openapi.json``."""
    from .app import create_app

    guarded = create_app(Path("/nonexistent-fleet-hive-repository"), token="-")
    try:
        doc: dict[str, Any] = guarded.app.openapi()
    finally:
        guarded.app.state.library.close()
    return doc


def rendered() -> str:
    return json.dumps(document(), indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    from ..kernel.resources import source_dir

    path = source_dir("schemas") / FILE
    text = rendered()
    if "--check" in argv:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"schemas/{FILE} is out of date; run: python -m fleet_hive.server.openapi",
                  file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
