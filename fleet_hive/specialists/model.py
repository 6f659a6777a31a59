"""Specialists as plain data, and their rules.

A *specialist* is a named agent identity (its ``FLEET_ACTOR``) with capabilities
(``python``, ``docs``, ...: the ``specialist`` kind a sortie asks for). It is *active*
while it shows signs of life, *silent* once nothing was heard from it for
``specialist_silent_after`` (default 5 minutes): its registration or its last heartbeat.
Its *load* is the number of sorties it holds (claimed: assigned, in progress or blocked),
read from the missions' claims, not stored here.

Names are agents' identities (a ``FLEET_ACTOR``, a dispatcher's ``lead/w1``): one line of at
most 200 characters. Storage: one stream per specialist, ``specialist:<key>``
(``specialist_registered``, ``specialist_heartbeat``), the key being the name itself when it
is a plain stream id (letters, digits, ``_.-``), else a slug of it and a hash of the whole
name (:func:`stream_key`). Heartbeats are **coalesced**: one less than
:data:`HEARTBEAT_COALESCE` seconds after the last recorded sign of life writes nothing (it
could not change active into silent), so an agent may heartbeat every second and the log
gains at most one event per specialist per 15 s.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..kernel.errors import InvalidInputError
from ..kernel.patterns import LazyPattern
from ..kernel.plain import Plain, setfield

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STREAM = "specialist"
ACTIVE = "active"
SILENT = "silent"
#: seconds: a heartbeat this soon after the last recorded sign of life records nothing
HEARTBEAT_COALESCE = 15.0
#: the default of ``specialist_silent_after`` (seconds)
DEFAULT_SILENT_AFTER = 300.0
DEFAULT_SILENT_AFTER_TEXT = "5m"
PLAIN_NAME_RE = LazyPattern(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_NAME = 200
CAPABILITY_RE = LazyPattern(r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$")
MAX_CAPABILITIES = 100
#: sortie statuses that hold a claim (the specialist's load)
HOLDING = ("assigned", "in_progress", "blocked")


class Specialist(Plain):
    """One specialist as ``specialist list`` shows it."""

    __slots__ = _fields = ("name", "capabilities", "status", "last_seen", "load", "sorties",
                           "registered_at", "registered_by")
    name: str
    capabilities: list[str]
    status: str  # active | silent
    last_seen: str  # ISO time of the last sign of life recorded
    load: int  # sorties it holds now
    sorties: list[str]  # their ids
    registered_at: str
    registered_by: str

    def __init__(self, name: str, capabilities: Sequence[str], status: str, last_seen: str,
                 load: int = 0, sorties: Sequence[str] = (), registered_at: str = "",
                 registered_by: str = "") -> None:
        for field, value in zip(self._fields, (name, list(capabilities), status, last_seen,
                                               load, list(sorties), registered_at,
                                               registered_by), strict=True):
            setfield(self, field, value)

    def can(self, kind: str | None) -> bool:
        """Has capability ``kind`` (None or "": any specialist can)."""
        return not kind or kind in self.capabilities

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "capabilities": list(self.capabilities),
                "status": self.status, "last_seen": self.last_seen, "load": self.load,
                "sorties": list(self.sorties), "registered_at": self.registered_at,
                "registered_by": self.registered_by}

    to_json = to_dict


def check_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME or any(ord(c) < 32 or c == "\x7f" for c in text):
        raise InvalidInputError(
            f"invalid specialist name {name!r}",
            hint=f"one line of at most {MAX_NAME} characters; use the agent's FLEET_ACTOR")
    return text


def stream_key(name: str) -> str:
    """The id of ``name``'s stream: the name when it is a plain stream id, else a slug of
    it and 10 hex digits of its hash (two names never share a stream)."""
    if PLAIN_NAME_RE.matches(name):
        return name
    import hashlib
    import re

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-._")[:40] or "s"
    if not slug[0].isalnum():
        slug = "s" + slug
    return f"{slug}-{hashlib.blake2s(name.encode('utf-8')).hexdigest()[:10]}"


def check_capabilities(capabilities: Sequence[str]) -> list[str]:
    if isinstance(capabilities, str):
        capabilities = [capabilities]
    out: list[str] = []
    for c in capabilities:
        if not isinstance(c, str) or not CAPABILITY_RE.matches(c.strip()):
            raise InvalidInputError(f"invalid capability {c!r}",
                                    hint="letters, digits and _.:/+- (up to 64), e.g. python")
        if c.strip() not in out:
            out.append(c.strip())
    if len(out) > MAX_CAPABILITIES:
        raise InvalidInputError(f"at most {MAX_CAPABILITIES} capabilities")
    return sorted(out)


def status_of(last_seen_epoch: float, now: float, threshold: float) -> str:
    return SILENT if now - last_seen_epoch > threshold else ACTIVE


def rank(specialists: Sequence[Specialist]) -> list[Specialist]:
    """Least loaded first, ties by name."""
    return sorted(specialists, key=lambda s: (s.load, s.name))
