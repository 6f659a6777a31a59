"""The error tree. Every failure a user can cause is a :class:`FleetHiveError`.

Each error carries the CLI exit code of ``spec/cli.md`` and a hint telling the user what
to do next. Foreign errors (OSError, sqlite3, YAML, pydantic, dulwich) are translated
where they enter the library, with ``raise ... from e``; one place in the CLI
(:mod:`fleet_hive.cli.output`) turns these errors into messages, JSON objects and exit codes.
"""

from __future__ import annotations

import errno
import os

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFLICT = 3
EXIT_TIMEOUT = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class FleetHiveError(Exception):
    """Root of every error fleet-hive raises on purpose."""

    exit_code: int = EXIT_ERROR
    code: str = "error"

    def __init__(self, message: str, *, hint: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


class NotFoundError(FleetHiveError):
    code = "not_found"


class InvalidInputError(FleetHiveError):
    code = "invalid_input"


class NotInitializedError(FleetHiveError):
    code = "not_initialized"


class NotARepositoryError(FleetHiveError):
    code = "not_a_repository"


class IntegrityError(FleetHiveError):
    """The log, a snapshot or the cache is not what it must be."""

    code = "integrity"


class ConflictError(FleetHiveError):
    exit_code = EXIT_CONFLICT
    code = "conflict"


class TransitionError(ConflictError):
    code = "transition_not_allowed"


class TimeoutExpiredError(FleetHiveError):
    exit_code = EXIT_TIMEOUT
    code = "timeout"


class StorageError(FleetHiveError):
    """An OSError or sqlite error while reading or writing ``.fleet/``."""

    code = "storage"


def storage_error(e: OSError, path: str | os.PathLike[str], *, hint: str = "") -> StorageError:
    """The :class:`StorageError` for ``e`` met at ``path``: its strerror and the path, e.g.
    ``no space left on device (.fleet/events/w/s.jsonl)``, with a hint fitting the errno."""
    where = e.filename if isinstance(e.filename, str) and e.filename else os.fspath(path)
    reason = e.strerror or str(e) or type(e).__name__
    reason = reason[:1].lower() + reason[1:]
    if not hint:
        hint = ("free some space on that filesystem and retry" if e.errno == errno.ENOSPC
                else "check the permissions and the disk holding it, then retry")
    return StorageError(f"{reason} ({where})", hint=hint)
