"""LazyPattern: compiled on first use, and then the same as ``re.compile``."""

from __future__ import annotations

import re

from fleet_hive.kernel.patterns import LazyPattern


def test_compiled_on_first_use_only() -> None:
    lazy = LazyPattern(r"(\d+)([smh])", re.IGNORECASE)
    assert lazy._compiled is None
    assert lazy.pattern == r"(\d+)([smh])"
    assert lazy.fullmatch("30M") is not None
    first = lazy.compiled()
    assert lazy.compiled() is first


def test_behaves_as_the_compiled_pattern() -> None:
    source, flags = r"^(\w+)=(\d*)$", re.MULTILINE
    lazy, real = LazyPattern(source, flags), re.compile(source, flags)
    for text in ("a=1", "a=1\nb=22\n", "", "=3", "x=y"):
        assert bool(lazy.match(text)) == bool(real.match(text))
        assert bool(lazy.fullmatch(text)) == bool(real.fullmatch(text))
        assert bool(lazy.search(text)) == bool(real.search(text))
        assert lazy.findall(text) == real.findall(text)
        assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
        assert lazy.sub("<\\1>", text) == real.sub("<\\1>", text)
        assert lazy.sub(lambda m: m.group(1).upper(), text, 1) == \
            real.sub(lambda m: m.group(1).upper(), text, 1)
