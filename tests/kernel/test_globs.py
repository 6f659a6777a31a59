"""Tests for fleet_hive.kernel.globs: the reservation glob dialect and the exact overlap test."""

from __future__ import annotations

import re
from functools import cache
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_hive.kernel.globs import GlobError, escape, is_glob, matches, normalize, overlaps

# --------------------------------------------------------------------------- matches

MATCH_ROWS: list[tuple[str, str, bool]] = [
    # literal paths
    ("src/a.py", "src/a.py", True),
    ("src/a.py", "src/b.py", False),
    ("src/a.py", "src/a.py/x", False),
    ("src", "src/a", False),
    ("src/A.py", "src/a.py", False),  # case-sensitive
    ("./src/a.py", "src/a.py", True),
    ("src/a.py", "./src/a.py", True),
    ("a[bc]", "a[bc]", False),  # metacharacters in a path are literal...
    ("a\\[bc]", "a[bc]", True),  # ...so only an escaped pattern spells them
    ("*/b", "a*/b", True),
    ("é/ü.txt", "é/ü.txt", True),
    # *
    ("*", "README.md", True),
    ("*", "src/a", False),
    ("*", ".env", True),  # dot files are not special
    ("*", "a\nb", True),
    ("*.py", "a.py", True),
    ("*.py", ".py", True),  # * may match nothing
    ("*.py", "a.pyc", False),
    ("src/*.py", "src/a/b.py", False),
    ("src/*/x.py", "src/a/x.py", True),
    ("src/*/x.py", "src/x.py", False),
    ("a*b*c", "abc", True),
    ("a*b*c", "axxbyyc", True),
    ("a*b*c", "acb", False),
    ("a**b", "axyb", True),  # ** inside a segment is just *
    ("a**b", "ax/yb", False),
    ("x/***", "x/a", True),
    ("x/***", "x/a/b", False),
    # ?
    ("?", "a", True),
    ("?", "ab", False),
    ("??", "a", False),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    # classes
    ("[ab].py", "a.py", True),
    ("[ab].py", "c.py", False),
    ("[a-c]x", "bx", True),
    ("[a-c]x", "dx", False),
    ("[a-cx-z]", "y", True),
    ("[!a]x", "bx", True),
    ("[!a]x", "ax", False),
    ("[^a]x", "bx", True),
    ("a[!b]c", "a/c", False),  # a negated class never matches "/"
    ("[]]", "]", True),
    ("[!]]", "]", False),
    ("[!]]", "x", True),
    ("[-a]", "-", True),
    ("[a-]", "-", True),
    ("[\\]]x", "]x", True),
    ("[.]x", ".x", True),
    # ** as a whole segment
    ("**", "a", True),
    ("**", "a/b/c", True),
    ("**/**", "a", True),
    ("**/x.py", "x.py", True),
    ("**/x.py", "a/b/x.py", True),
    ("**/x.py", "a/bx.py", False),
    ("src/**", "src/a", True),
    ("src/**", "src/a/b", True),
    ("src/**", "src", False),  # trailing /** means "below src", not src itself
    ("src/**", "srcx/a", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/xb", False),
    ("a/**/b", "ab", False),
    ("a/**/b", "a/b/c", False),
    ("**/a/**", "x/a/b", True),
    ("**/a/**", "x/a", False),
    ("src/**/test_*.py", "src/test_a.py", True),
    ("src/**/test_*.py", "src/x/y/test_a.py", True),
    ("src/**/test_*.py", "src/x/a_test.py", False),
    ("src/**/*.py", "src/.hidden/a.py", True),
    # escapes
    ("\\*", "*", True),
    ("\\*", "a", False),
    ("a\\?", "a?", True),
    ("a\\?", "ab", False),
    ("\\[ab]", "[ab]", True),
    ("\\[ab]", "a", False),
    ("a\\b", "ab", True),
    ("a\\\\b", "a\\b", True),
    ("\\*\\*/x", "**/x", True),
    ("\\*\\*/x", "a/x", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCH_ROWS)
def test_matches(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


# --------------------------------------------------------------------------- overlaps

OVERLAP_ROWS: list[tuple[str, str, bool]] = [
    # the required facts
    ("src/**", "src/a.py", True),
    ("src/*.py", "src/**/test_*.py", True),
    ("**/*.py", "src/**", True),
    ("src/**/test_*.py", "src/foo/*.py", True),
    ("src/*/x.py", "src/a/*", True),
    ("**", "src/a/b.py", True),
    ("**", "*", True),
    ("**", "a/**/b", True),
    ("**", "[!a]", True),
    ("**", "**", True),
    ("a/**/b", "a/b", True),
    ("src/*.py", "src/a/b.py", False),
    ("src/*.py", "lib/*.py", False),
    ("*.md", "*.py", False),
    ("src/[ab].py", "src/c.py", False),
    ("src/[!a].py", "src/a.py", False),
    ("docs/**", "src/**", False),
    ("a/*", "a/b/c", False),
    # literals
    ("a/b", "a/b", True),
    ("a/b", "./a/b", True),
    ("a/b", "a/c", False),
    ("a/b", "a/*", True),
    ("\\*", "*", True),
    ("\\*", "a", False),
    ("a\\b", "ab", True),
    # * and ?
    ("*.py", "a*", True),
    ("a*", "*b", True),
    ("a*b", "*", True),
    ("a*", "[a]", True),  # the state after "a" accepts through the star's epsilon edge
    ("a/**/*", "a/[b]", True),
    ("a/**/b*", "a/[b]", True),
    ("a*", "b*", False),
    ("*a", "*b", False),
    ("a?", "?b", True),
    ("?", "??", False),
    ("*/*", "*", False),
    ("*/*", "*/*/*", False),
    ("?/?", "??/*", False),
    ("*a*", "*b*", True),
    ("a/*/c", "*/b/*", True),
    # classes
    ("?", "[ab]", True),
    ("[a-m]x", "[k-z]x", True),
    ("[a-c]x", "[d-z]x", False),
    ("[!a]", "[!b]", True),
    ("[!a]", "[ab]", True),
    ("[!a]", "a", False),
    ("[ab]", "[cd]", False),
    ("[!a-z]", "[a-z]", False),
    ("[!\x01-\U0010ffff]", "*", False),  # an empty class matches nothing
    # ** everywhere
    ("**/x", "x", True),
    ("**/x/**", "a/x/b", True),
    ("a/**", "**/b", True),
    ("a/**/b", "a/**/c/**", True),
    ("a/**/b", "a/**/c", False),
    ("*/*/*", "a/**", True),
    ("src/**", "src/**/*.py", True),
    ("a/**/b/**", "**/b/c", True),
    ("**/a", "a/**/a", True),
    ("src/**", "src", False),
    ("src/**", "lib/**/*.py", False),
    ("a/**/b", "a", False),
    ("**/b", "a", False),
    ("a/**", "a", False),
    ("**/x.py", "**/y.py", False),
    ("**/*.py", "**/*.md", False),
    # "." and ".." are never path segments
    ("src/[.]", "src/*", False),
    ("[.][.]/x", "*/x", False),
    ("[.]?", "*", True),
    ("[.][.]?", "*", True),
    ("[.][.][.]", "*", True),  # "..." is an ordinary name
    ("[.][.][.]", "**/*", True),
    ("**/[.]", "**", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), OVERLAP_ROWS)
def test_overlaps_both_directions(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


def test_overlap_rows_agree_with_witnesses() -> None:
    # Every True row in MATCH_ROWS is a witness: a pattern overlaps the literal path.
    for pattern, path, expected in MATCH_ROWS:
        assert overlaps(pattern, escape(path)) is expected, (pattern, path)
        assert overlaps(pattern, _through_nfa(path)) is expected, (pattern, path)


# --------------------------------------------------------------------------- normalize & co

BAD_PATTERNS: list[tuple[str, str]] = [
    ("", "empty pattern"),
    ("./", "empty pattern"),
    ("/src/a.py", "absolute path"),
    ("/", "absolute path"),
    ("a/../b", "'..' segment"),
    ("..", "'..' segment"),
    ("a/.", "'.' segment"),
    ("./.", "'.' segment"),
    ("././a", "'.' segment"),  # only one leading "./" is stripped
    ("a/\\./b", "'.' segment"),
    ("a//b", "empty segment ('//')"),
    (".//a", "empty segment"),
    ("src/", "trailing '/'"),
    ("src/[ab", "unterminated '['"),
    ("[a/b]", "unterminated '['"),
    ("[]", "unterminated '['"),
    ("[!]", "unterminated '['"),
    ("[a\\", "unterminated '['"),
    ("a\\", "trailing backslash"),
    ("a\x00b", "NUL byte"),
    ("[z-a]", "empty range 'z-a'"),
    ("a\\/b", "'/' cannot be escaped"),
]


@pytest.mark.parametrize(("bad", "fragment"), BAD_PATTERNS)
def test_normalize_rejects(bad: str, fragment: str) -> None:
    with pytest.raises(GlobError) as info:
        normalize(bad)
    message = str(info.value)
    assert fragment in message
    assert repr(bad) in message  # names the offending pattern
    assert "\n" not in message
    assert info.value.pattern == bad
    assert isinstance(info.value, ValueError)
    # every entry point validates
    for call in (lambda: is_glob(bad), lambda: matches(bad, "a"), lambda: overlaps(bad, "**")):
        with pytest.raises(GlobError):
            call()


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "empty path"),
        ("/etc/passwd", "absolute path"),
        ("a//b", "empty segment"),
        ("a/", "trailing '/'"),
        ("a/../b", "'..' segment"),
        ("./.", "'.' or '..' segment"),
        ("a\x00", "NUL byte"),
    ],
)
def test_matches_rejects_invalid_paths(bad: str, fragment: str) -> None:
    with pytest.raises(GlobError, match=re.escape(fragment)):
        matches("**", bad)
    with pytest.raises(GlobError, match="invalid path"):
        escape(bad)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("./src/a.py", "src/a.py"),
        ("src/a.py", "src/a.py"),
        ("src/**/*.py", "src/**/*.py"),
        ("a\\*", "a\\*"),  # escapes are kept as written
        ("**/**", "**/**"),  # nothing is collapsed
        (".hidden/..x/.../a", ".hidden/..x/.../a"),
        ("[.]", "[.]"),
    ],
)
def test_normalize_accepts(pattern: str, expected: str) -> None:
    assert normalize(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("src/a.py", False),
        ("src/*.py", True),
        ("a?", True),
        ("[ab]", True),
        ("**", True),
        ("src/**", True),
        ("a\\*", False),
        ("\\[x]", False),
        ("a]b", False),
        ("a!b-c", False),
    ],
)
def test_is_glob(pattern: str, expected: bool) -> None:
    assert is_glob(pattern) is expected


@pytest.mark.parametrize("path", ["a", "src/x.py", "a*b/[c]?/d\\e", ".env/..x", "é/ü"])
def test_escape_is_a_literal_for_the_path(path: str) -> None:
    pattern = escape(path)
    assert not is_glob(pattern)
    assert matches(pattern, path)
    assert normalize(pattern) == pattern


# --------------------------------------------------------------------------- properties


def _through_nfa(path: str) -> str:
    """A pattern matching exactly ``path`` that is not a literal (its first character is a
    one-member class), so that :func:`overlaps` takes the automaton route, not the shortcut
    for literals."""
    p = path[2:] if path.startswith("./") else path
    return "[\\" + p[0] + "]" + re.sub(r"([\\*?\[])", r"\\\1", p[1:])


def _instantiate(draw: st.DrawFn, pattern: str) -> str:
    """Draw a path over {a, b, c} that ``pattern`` (tiny dialect, no escapes) matches."""
    segments = pattern.split("/")
    out: list[str] = []
    for k, seg in enumerate(segments):
        if seg == "**":
            low = 1 if k == len(segments) - 1 else 0
            count = draw(st.integers(low, 2))
            out += [draw(st.text("abc", min_size=1, max_size=2)) for _ in range(count)]
            continue
        chars: list[str] = []
        for tok in re.findall(r"\[!?[^]]*\]|.", seg):
            if tok == "*":
                chars.append(draw(st.text("abc", max_size=2)))
            elif tok == "?":
                chars.append(draw(st.sampled_from("abc")))
            elif tok.startswith("["):
                neg = tok[1] == "!"
                members = tok[2:-1] if neg else tok[1:-1]
                chars.append(draw(st.sampled_from([c for c in "abc" if (c in members) != neg])))
            else:
                chars.append(tok)
        out.append("".join(chars) or "a")  # an all-star segment still needs a character
    return "/".join(out)


@st.composite
def _instance_of(draw: st.DrawFn, pattern: str) -> str:
    return _instantiate(draw, pattern)


def _patterns(tokens: list[str], max_tokens: int, max_segments: int) -> st.SearchStrategy[str]:
    segment = st.one_of(
        st.just("**"),
        st.lists(st.sampled_from(tokens), min_size=1, max_size=max_tokens).map("".join),
    )
    return st.lists(segment, min_size=1, max_size=max_segments).map("/".join)


PLAIN_TOKENS = ["a", "b", "*", "?"]
CLASS_TOKENS = [*PLAIN_TOKENS, "[ab]", "[!a]", "[!b]"]


@cache
def _valid_paths(alphabet: str, max_len: int) -> tuple[str, ...]:
    """Every valid path over ``alphabet`` plus "/" of length 1..max_len."""
    found: list[str] = []
    for length in range(1, max_len + 1):
        for chars in product(alphabet + "/", repeat=length):
            s = "".join(chars)
            if s[0] != "/" and s[-1] != "/" and "//" not in s:
                found.append(s)
    return tuple(found)


def _brute_force_overlap(a: str, b: str, alphabet: str, max_len: int) -> bool:
    return any(matches(b, p) for p in _valid_paths(alphabet, max_len) if matches(a, p))


def _effective_len(pattern: str) -> int:
    """Pattern length with each class counted as one character."""
    return len(re.sub(r"\[[^]]*\]", "c", pattern))


# Why the brute-force bound is a real oracle. Take a common witness path and align it with
# both patterns: each path segment is matched by one ordinary segment of A or lies inside
# a "**" run of A, and likewise for B. Shrink it:
#   * a path segment inside "**" runs of both patterns can be deleted (with one "/"), except
#     that when both patterns end in "**" the last path segment is kept as "a" (trailing
#     "**" needs one segment, and the path must not become empty);
#   * a segment matched by an ordinary segment s of one pattern only becomes a shortest
#     string of s: one character per "?", class or literal, "a" if s is all stars;
#   * a segment matched by ordinary segments s and t of both patterns keeps only characters
#     consumed by a non-star token in s or in t (any other character is consumed by "*" in
#     both and can be deleted), so at most ns(s) + ns(t) characters, or 1 if that is 0.
# Every ordinary segment s satisfies max(1, ns(s)) <= len(s), so with C = total length of
# the ordinary segments, k = their number and d = the number of "**" segments, the witness
# has at most C_A + C_B + 1 characters and k_A + k_B + 1 segments. As
# len(p) = C + k + 3d - 1, its length is at most len(a) + len(b) + 3 - 3(d_A + d_B), and
# when d_A = d_B = 0 the two "+1" terms vanish (no "**" run to keep a segment for), leaving
# len(a) + len(b) + 1. So L = len(a) + len(b) + 2 always suffices.
#   Characters: a literal needs itself, "?" any character; so for class-free patterns over
# {a, b} the alphabet {a, b} is enough. With the classes [ab], [!a], [!b], any non-empty
# intersection of two single-character sets contains a, b or c, so {a, b, c} is enough, and
# counting a class as one character (it consumes one) keeps the length bound.


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    pair=st.tuples(_patterns(PLAIN_TOKENS, 2, 3), _patterns(PLAIN_TOKENS, 2, 3)).filter(
        lambda ab: len(ab[0]) + len(ab[1]) <= 7
    )
)
def test_overlaps_equals_brute_force(pair: tuple[str, str]) -> None:
    a, b = pair
    bound = len(a) + len(b) + 2  # see the comment above
    expected = _brute_force_overlap(a, b, "ab", bound)
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    pair=st.tuples(_patterns(CLASS_TOKENS, 2, 2), _patterns(CLASS_TOKENS, 2, 2)).filter(
        lambda ab: _effective_len(ab[0]) + _effective_len(ab[1]) <= 5
    )
)
def test_overlaps_with_classes_equals_brute_force(pair: tuple[str, str]) -> None:
    a, b = pair
    bound = _effective_len(a) + _effective_len(b) + 2
    expected = _brute_force_overlap(a, b, "abc", bound)
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


@settings(max_examples=300, deadline=None)
@given(
    a=_patterns(CLASS_TOKENS, 3, 4),
    b=_patterns(CLASS_TOKENS, 3, 4),
    data=st.data(),
)
def test_common_match_implies_overlap(a: str, b: str, data: st.DataObject) -> None:
    for pattern, other in ((a, b), (b, a)):
        path = data.draw(_instance_of(pattern))
        assert matches(pattern, path), (pattern, path)
        # The automaton, forced through a non-literal pattern, agrees with the regex.
        assert overlaps(other, _through_nfa(path)) is matches(other, path)
        if matches(other, path):
            assert overlaps(a, b)
            assert overlaps(b, a)
