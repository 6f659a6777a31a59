"""Regular expressions compiled when first used, not when their module is imported.

``re.compile`` takes 0.05-0.3 ms a pattern; the modules a command imports declare about
twenty, most of which that command never matches (an id check, a duration, a label), so
compiling them at import cost every process ~1.5 ms. A :class:`LazyPattern` is declared
like a compiled pattern and used like one (``ID_RE.match(text)``); it is compiled on the
first call and kept. ``re`` itself (with ``enum`` and ``functools``, ~4 ms) is imported
then too: a read that matches nothing never loads it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterator
    from typing import Any


class LazyPattern:
    """``re.compile(pattern, flags)`` for a text pattern, done on first use."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            import re

            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    @property
    def pattern(self) -> str:
        return self._source

    def match(self, text: str) -> re.Match[str] | None:
        return self.compiled().match(text)

    def matches(self, text: str) -> bool:
        """``self.match(text) is not None``, answered without ``re`` for an anchored
        pattern :mod:`.textshapes` knows (an id, a label, a name): ``re``'s ``$`` also
        matches before a final newline, and so does this."""
        from .textshapes import KNOWN

        known = KNOWN.get(self._source) if self._flags == 0 else None
        if known is None or not isinstance(text, str) \
                or not (self._source.startswith("^") and self._source.endswith("$")):
            return self.match(text) is not None  # (a text of another type: re's TypeError)
        return known(text) or (text.endswith("\n") and known(text[:-1]))

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.compiled().fullmatch(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled().search(text)

    def findall(self, text: str) -> list[Any]:
        return self.compiled().findall(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled().finditer(text)

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str,
            count: int = 0) -> str:
        return self.compiled().sub(repl, text, count)

    def __repr__(self) -> str:
        return f"LazyPattern({self._source!r}, {self._flags!r})"


__all__ = ["LazyPattern"]
