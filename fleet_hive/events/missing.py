"""Events this clone wrote that the working tree no longer holds (``docs/git.md``).

A ``git stash``, a ``reset --hard`` or a checkout can take away event lines this clone
appended and did not commit: a claim silently undone. The writer knows what it wrote (its
state in ``.fleet/local/writer.state``); a writer that finds its events gone continues as a
new writer id (:mod:`.log`) and leaves a note in ``.fleet/local/writer.missing``, so what
the old one wrote is still known after later writes. Read without the writer lock and
without importing the write path: ``status`` calls it on every run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence

from ..kernel.errors import FleetHiveError
from ..kernel.jsonload import loads
from ..kernel.layout import SEGMENT_SUFFIX
from ..kernel.plain import Frozen, setfield
from ..kernel.typenames import Protocol
from .segments import last_consumed_event

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..kernel.layout import Layout


class MissingEvents(Frozen):
    """Events ``first..last`` of ``writer`` (one of this clone's) that the working tree lacks."""

    __slots__ = _fields = ("writer", "first", "last")
    writer: str
    first: int
    last: int

    def __init__(self, writer: str, first: int, last: int) -> None:
        setfield(self, "writer", writer)
        setfield(self, "first", first)
        setfield(self, "last", last)

    def to_json(self) -> dict[str, Any]:
        return {"writer": self.writer, "first": self.first, "last": self.last}


def missing_own_events(layout: Layout) -> list[MissingEvents]:
    """What this clone's writers wrote that the working tree no longer holds: a ``git
    stash``, a ``reset --hard`` or a checkout took it away (``git stash pop`` brings
    stashed events back). From the writer state and the notes a writer leaves when it
    forks (:attr:`Layout.writer_missing`), against the last ``n`` of each writer in the
    working tree; read without the writer lock (a racing append only makes it late).
    Events on another branch are not told apart from lost ones here: the caller asks git.
    """
    expected: dict[str, int] = {}
    forgotten: dict[str, int] = {}
    with contextlib.suppress(OSError):
        with open(layout.writer_missing_file, "rb") as f:
            notes = f.read().splitlines()
        for line in notes:
            with contextlib.suppress(KeyError, TypeError, ValueError):  # JSONDecodeError too
                note = loads(line)
                into = forgotten if note.get("forgotten") else expected
                into[note["writer"]] = max(into.get(note["writer"], 0), int(note["n"]))
    with contextlib.suppress(OSError, TypeError, ValueError, AttributeError):
        with open(layout.writer_state_file, "rb") as f:
            state = loads(f.read().rstrip(b" \n\x00"))
        writer, n = state.get("writer"), int(state.get("n") or 0)
        if writer and n:
            expected[writer] = max(expected.get(writer, 0), n)
    out = []
    for writer, n in sorted(expected.items()):
        if forgotten.get(writer, 0) >= n:
            continue
        have = _last_n_in_tree(layout, writer)
        if have < n:
            out.append(MissingEvents(writer, have + 1, n))
    return out


def forget_missing_events(layout: Layout, missing: Sequence[MissingEvents]) -> None:
    """Stop reporting ``missing`` (``verify --repair``: they are not coming back)."""
    import orjson

    with open(layout.writer_missing_file, "ab") as f:
        for m in missing:
            f.write(orjson.dumps({"writer": m.writer, "n": m.last, "forgotten": True}) + b"\n")


def _last_n_in_tree(layout: Layout, writer: str) -> int:
    best = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(os.path.join(layout.events_dir, writer)):
            if entry.name.endswith(SEGMENT_SUFFIX):
                event = last_consumed_event(entry.path)
                if event is not None:
                    best = max(best, int(event["n"]))
    return best


class _BranchTips(Protocol):
    """What :func:`own_events_missing` asks git (``hive.git``)."""

    def last_n_on_branches(self, writer: str) -> int: ...


def own_events_missing(layout: Layout, git: Callable[[], _BranchTips],
                       ) -> list[MissingEvents]:
    """Events this clone wrote that are neither in the working tree nor committed on any
    local branch: a ``git stash`` (or ``reset --hard``) took them away, and until they are
    back another clone's view (and this one's) misses them. Cheap when nothing is missing:
    ``git()`` (``hive.git``, which loads dulwich) is called only for a writer the working
    tree is short of."""
    out = []
    for gap in missing_own_events(layout):
        committed = 0
        with contextlib.suppress(FleetHiveError, OSError):  # no repository: none committed
            committed = git().last_n_on_branches(gap.writer)
        if committed < gap.last:
            out.append(gap if committed < gap.first else
                       type(gap)(gap.writer, committed + 1, gap.last))
    return out


def missing_text(m: MissingEvents) -> str:
    span = f"n={m.first}" if m.first == m.last else f"n={m.first}..{m.last}"
    count = m.last - m.first + 1
    return (f"{count} event{'s' if count != 1 else ''} this clone wrote (writer {m.writer}, "
            f"{span}) {'are' if count != 1 else 'is'} missing from the working tree and "
            "from every branch: `git stash pop` brings stashed events back "
            "(`fleet-hive verify --repair` forgets them)")
