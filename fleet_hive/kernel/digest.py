"""BLAKE2b without OpenSSL: the one place fleet-hive's own fingerprints come from.

``import hashlib`` loads OpenSSL's libcrypto (~3-4 ms a process) for algorithms a write
never uses; BLAKE2b lives in ``_blake2``, the C module hashlib wraps, which loads nothing
else. (SHA-256, for checkpoints, still comes from hashlib.)
"""

from __future__ import annotations

from .typenames import Protocol, cast

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - every CPython build has it
    from hashlib import blake2b as _blake2b

__all__ = ["blake2b"]


def blake2b(data: bytes = b"", *, digest_size: int = 64) -> _Hash:
    """A ``hashlib.blake2b`` object (same digests)."""
    return cast("_Hash", _blake2b(data, digest_size=digest_size))


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...
