"""The checkpoint file: ``.fleet/checkpoints/<mission-id>/<id>.yaml``, immutable, committed.

```
# fleet-hive checkpoint (immutable). sha256: of every byte after its own line.
sha256: "<64 hex digits>"
schema_version: 2
id: "c-..."
...
```

The body (every byte after the ``sha256`` line) is line-per-value YAML
(:func:`fleet_hive.formats.yaml.dump_lines`: JSON values, one sortie per line), so any YAML
reader loads it and fleet-hive reads it back in well under a millisecond. Checking a file
needs no parsing: its bytes are hashed and compared with the ``sha256`` line and with the
``checkpoint_created`` event. A file that does not parse, lacks keys or whose hash differs
is *corrupt*: ``verify`` reports it and ``resume`` refuses it.

**Schema versions.** ``schema_version`` 1 (the first layout) had no ``mail`` and
``blockers`` sections, the last error as plain text (``error``) and the log position as a
bare ``seq``; :data:`UPCASTERS` lifts it to 2 on read. Files are never rewritten.

Body keys (schema 2): ``schema_version, id, mission_id, trigger`` (progress, error,
manual), ``threshold`` (the crossed one, progress only), ``progress, created_at,
created_by, note, log_position`` (``seq``: this clone's index position; ``clock``,
``writer``, ``n``, ``event_id``: the last event in total order), ``last_error`` (``type,
message, traceback, sortie_id``, or null), ``mission`` (its fields), ``sorties`` (each
with status, claimant, progress, files, dependencies), ``reservations`` (live leases of
the mission's claimants on its sorties' files), ``mail`` and ``blockers`` (empty lists
until the mail capability exists: then recent messages and reported blockers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ..formats.yaml import YAMLProblem, dump_lines, load_lines
from ..kernel.fsio import write_atomic
from ..kernel.layout import Layout
from ..kernel.plain import Plain
from .model import SCHEMA_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

HEADER = b"# fleet-hive checkpoint (immutable). sha256: of every byte after its own line.\n"
HASH_KEY = b'sha256: "'
REQUIRED = ("schema_version", "id", "mission_id", "trigger", "progress", "created_at",
            "mission", "sorties", "reservations")
BLOCK_LISTS = frozenset({"sorties", "reservations", "mail", "blockers"})

Upcaster = Callable[[dict[str, "Any"]], dict[str, "Any"]]


def _v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    error = body.pop("error", None)
    body["last_error"] = None if not error else {
        "type": "error", "message": str(error), "traceback": None, "sortie_id": None}
    seq = body.pop("seq", None)
    body.setdefault("log_position", {"seq": seq, "clock": None, "writer": None, "n": None,
                                     "event_id": None})
    body.setdefault("mail", [])
    body.setdefault("blockers", [])
    body["schema_version"] = 2
    return body


#: from_version -> the step to from_version + 1
UPCASTERS: dict[int, Upcaster] = {1: _v1_to_v2}


def path_of(layout: Layout, mission_id: str, checkpoint_id: str) -> Path:
    return layout.checkpoints / mission_id / f"{checkpoint_id}.yaml"


_sha: Any = None


def sha256_hex(data: bytes) -> str:
    global _sha
    if _sha is None:
        try:  # the C module hashlib wraps: hashlib itself loads OpenSSL (~3 ms per process)
            from _sha256 import sha256  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - other builds
            from hashlib import sha256
        _sha = sha256
    return str(_sha(data).hexdigest())


def render(body: dict[str, Any]) -> tuple[bytes, str]:
    """The file's bytes and the sha256 of its body."""
    data = dump_lines(body, block_lists=BLOCK_LISTS).encode("utf-8")
    digest = sha256_hex(data)
    return HEADER + HASH_KEY + digest.encode() + b'"\n' + data, digest


def write(path: Path, data: bytes) -> None:
    """Atomically (a reader sees the whole file or none), not fsync'ed: the event that
    records it is. After a power loss the newest checkpoint's file may be missing or
    empty; ``verify`` reports it and ``newest_good`` skips it (the previous one, or the
    log, serves). Sparing two syncs keeps the write that triggered it fast."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, durable=False)


def remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError):  # the mission's directory, once empty
        path.parent.rmdir()
    return True


class Inspection(Plain):
    """What a checkpoint file holds: ``state`` is ``ok`` or why it is not."""

    __slots__ = _fields = ("state", "message", "body", "sha256", "schema_version")
    state: str  # ok | missing | unreadable | hash_mismatch | not_logged_hash | unparseable
    message: str
    body: dict[str, Any] | None
    sha256: str | None  # of the body as found
    schema_version: int | None  # as stored (before upcasting)

    def __init__(self, state: str, message: str, body: dict[str, Any] | None = None,
                 sha256: str | None = None, schema_version: int | None = None) -> None:
        self.state = state
        self.message = message
        self.body = body
        self.sha256 = sha256
        self.schema_version = schema_version

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def split(data: bytes) -> tuple[str | None, bytes]:
    """``(declared sha256, body)``: the body is every byte after the ``sha256`` line."""
    if data.startswith(HASH_KEY):
        start = 0
    else:
        at = data.find(b"\n" + HASH_KEY)
        if at < 0:
            return None, data
        start = at + 1
    end = data.find(b"\n", start)
    if end < 0:
        return None, b""
    line = data[start:end]
    digest = line[len(HASH_KEY):-1] if line.endswith(b'"') else b""
    return (digest.decode("ascii", "replace") or None), data[end + 1:]


def inspect(path: Path, expected_sha: str | None = None, *,
            parse: bool = True) -> Inspection:
    """Check one file: present, hash as declared (and as the event says), parses, has the
    required keys, a known ``schema_version`` (then upcast to the current one)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Inspection("missing", "the file is missing")
    except OSError as e:
        return Inspection("unreadable", f"cannot read it: {e.strerror or e}")
    declared, body_bytes = split(data)
    actual = sha256_hex(body_bytes)
    if declared is None:
        return Inspection("hash_mismatch", "it has no sha256 line (truncated or edited)",
                          sha256=actual)
    if declared != actual:
        return Inspection("hash_mismatch", "its body does not match its sha256 (truncated "
                          "or edited)", sha256=actual)
    if expected_sha is not None and actual != expected_sha:
        return Inspection("not_logged_hash", "its sha256 differs from the one its "
                          "checkpoint_created event recorded (the file was replaced)",
                          sha256=actual)
    if not parse:
        return Inspection("ok", "", sha256=actual)
    return parse_body(body_bytes, actual)


def parse_body(body_bytes: bytes, digest: str | None = None) -> Inspection:
    try:
        body = load_lines(body_bytes)
    except (YAMLProblem, UnicodeDecodeError) as e:
        return Inspection("unparseable", f"it is not valid YAML: {e}", sha256=digest)
    if not isinstance(body, dict):
        return Inspection("unparseable", "it does not hold a mapping", sha256=digest)
    missing = [k for k in REQUIRED if k not in body]
    if missing:
        return Inspection("unparseable", "it lacks " + ", ".join(missing), sha256=digest)
    version = body.get("schema_version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        return Inspection("unparseable", f"unknown schema_version {version!r}",
                          sha256=digest)
    stored = version
    while version < SCHEMA_VERSION:
        body = UPCASTERS[version](dict(body))
        version += 1
    return Inspection("ok", "", body, digest, stored)
