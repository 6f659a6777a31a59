"""The HTTP API's bearer token: one secret per clone in ``.fleet/local/token`` (mode 0600).

Created by ``init`` (and by the first ``serve`` of a repository made before tokens existed);
read by the server and by clients on the same machine. Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from .errors import StorageError, storage_error

#: Bytes of randomness in a new token (43 URL-safe characters).
TOKEN_BYTES = 32


def read_token(path: Path) -> str | None:
    """The token stored at ``path``, or None when there is none (or it is empty)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        if isinstance(e, OSError):
            raise storage_error(e, path) from e
        raise StorageError(f"{path} is not a token (not ASCII)",
                           hint="delete it; the next `fleet-hive init` makes a new one") from e
    return text or None


def ensure_token(path: Path) -> str:
    """The token at ``path``, created (0600, never replaced) when missing; a token file
    others can read is narrowed to 0600."""
    existing = read_token(path)
    if existing is not None:
        _narrow(path)
        return existing
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # an empty file left by a crash
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it between our look and our create
        return read_token(path) or token
    except OSError as e:
        raise storage_error(e, path) from e
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
        f.flush()
        os.fsync(f.fileno())
    return token


def _narrow(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(0o600)
    except OSError as e:
        raise storage_error(e, path) from e
