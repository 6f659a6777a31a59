"""The glob dialect of file reservations, and an exact overlap test for two patterns.

Agents reserve files by path or by glob. This module says what a pattern means
(:func:`matches`) and decides whether two reservations can collide, that is whether
some path is matched by both patterns (:func:`overlaps`).

Paths
-----
A path is repository-relative, with POSIX separators: ``src/fleet_hive/globs.py``. It
has no leading ``/``, no ``.`` or ``..`` segment, no empty segment (``a//b``, ``a/``) and
no NUL byte. A single leading ``./`` is stripped. Paths are case-sensitive and a
backslash in a path is an ordinary character.

Patterns
--------
A pattern obeys the same rules as a path, segment by segment, and may also use:

========== ================================================================
``*``      any run of characters inside one segment, possibly empty; never
           ``/``. ``src/*.py`` matches ``src/a.py``, not ``src/a/b.py``.
``?``      exactly one character, never ``/``.
``[abc]``  one character of the set. Ranges: ``[a-z0-9]``. Negation:
           ``[!abc]`` (``[^abc]`` is the same); a negated class still never
           matches ``/``. A ``]`` right after ``[`` or ``[!`` is a member
           (``[]x]``), a ``-`` first or last is a member (``[-x]``), and a
           backslash escapes the next character (``[\\]]``). A class cannot
           contain ``/``. No POSIX ``[:alpha:]`` classes.
``**``     only as a *whole* segment: zero or more whole segments.
           ``**/x.py`` matches ``x.py`` and ``a/b/x.py``;
           ``a/**/b`` matches ``a/b``, ``a/x/b`` and ``a/x/y/b``.
           A *trailing* ``/**`` means "everything below": ``src/**`` matches
           ``src/a`` and ``src/a/b`` but not ``src`` itself. ``**`` alone
           matches every path. Inside a segment with other characters
           (``a**b``, ``***``) it is just ``*``.
``\\c``     the character ``c`` itself: ``\\*`` is a literal star,
           ``\\[`` a literal bracket. ``/`` cannot be escaped.
========== ================================================================

``*``, ``?`` and ``**`` match names that start with a dot (``*`` matches ``.env``).
A pattern without unescaped metacharacters (``*``, ``?``, ``[``) is a *literal* and
matches exactly the one path it spells. Patterns are validated like paths: ``""``,
``/abs``, ``a/../b``, ``./`` followed by nothing, ``a//b``, ``src/`` (use ``src/**``),
an unterminated ``[``, a trailing backslash or a NUL byte raise :class:`GlobError`.
A segment whose only possible match is ``.`` or ``..`` (such as ``[.]``) is allowed
but matches nothing, since no path has such a segment.

Overlap
-------
:func:`overlaps` is exact: it is True iff some valid path is matched by both patterns.
Each pattern is compiled to a small NFA over characters whose transition labels are
character sets (a literal, a class, or "any character but ``/``", kept as sorted
code-point intervals; ``/`` is an ordinary symbol only separator edges accept). A
depth-first search over triples (state of A, state of B, state of a four-state
automaton that accepts exactly the valid paths) looks for a reachable accepting
triple; an edge pair is followed only if some character lies in both labels.

API: :class:`GlobError`, :func:`normalize`, :func:`is_glob`, :func:`escape`,
:func:`matches`, :func:`overlaps`. Compiled patterns and overlap answers are cached.
"""

from __future__ import annotations

from functools import lru_cache

from .plain import Frozen, setfield

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Final

__all__ = ["GlobError", "escape", "is_glob", "matches", "normalize", "overlaps"]


class GlobError(ValueError):
    """An invalid pattern or path. ``str(err)`` is one line naming the problem."""

    def __init__(self, message: str, *, pattern: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.pattern = pattern
        self.problem = problem or message


def _fail(problem: str, text: str, pos: int | None = None, what: str = "pattern") -> GlobError:
    where = f" at position {pos}" if pos is not None else ""
    return GlobError(f"invalid {what} {text!r}{where}: {problem}", pattern=text, problem=problem)


# --------------------------------------------------------------------------- charsets
# A character set is a sorted tuple of disjoint, non-adjacent inclusive code-point
# intervals. NUL and "/" never belong to a segment character set.

Charset = tuple[tuple[int, int], ...]

_MAX_CP: Final = 0x10FFFF
_DOT: Final = ord(".")
_SLASH: Final = ord("/")
_ANY: Final[Charset] = ((1, _SLASH - 1), (_SLASH + 1, _MAX_CP))  # any char but NUL and "/"
_SEP: Final[Charset] = ((_SLASH, _SLASH),)
_DOT_SLASH: Final[Charset] = ((_DOT, _SLASH),)  # "." and "/" are adjacent code points


def _char(c: str) -> Charset:
    cp = ord(c)
    return ((cp, cp),)


def _merge(ranges: list[tuple[int, int]]) -> Charset:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _subtract(a: Charset, b: Charset) -> Charset:
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        for blo, bhi in b:
            if bhi < lo or blo > hi:
                continue
            if blo > lo:
                out.append((lo, blo - 1))
            lo = bhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def _intersects(a: Charset, b: Charset) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        alo, ahi = a[i]
        blo, bhi = b[j]
        if ahi < blo:
            i += 1
        elif bhi < alo:
            j += 1
        else:
            return True
    return False


def _contains(cs: Charset, cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in cs)


# --------------------------------------------------------------------------- parsing
# A parsed pattern is a tuple of segments. A segment is _GLOBSTAR (a whole "**" segment)
# or a tuple of tokens; a token is _STAR ("*") or a Charset matching one character.



class _Sym:
    """The two non-charset parse symbols: ``isinstance(x, _Sym)`` tells them from a charset
    (or a segment's tokens), and where each can stand tells them apart. Not an enum: a
    literal path is checked without importing ``enum`` or ``re``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"_Sym({self.text!r})"


_STAR: Final = _Sym("*")  # a token
_GLOBSTAR: Final = _Sym("**")  # a whole segment
if TYPE_CHECKING:  # for annotations only
    Token = Charset | _Sym
    Segment = tuple[Token, ...] | _Sym


def _parse_class(body: str, i: int, pattern: str, offset: int) -> tuple[Charset, int]:
    """Parse the class opening at ``body[i] == "["``; return its charset and the next index."""
    start, n = i, len(body)
    unterminated = "unterminated '[' (a class needs a closing ']' and cannot contain '/')"

    def member(k: int) -> tuple[str, int]:
        if k >= n or body[k] == "/":
            raise _fail(unterminated, pattern, offset + start)
        if body[k] == "\\":
            if k + 1 >= n or body[k + 1] == "/":
                raise _fail(unterminated, pattern, offset + start)
            return body[k + 1], k + 2
        return body[k], k + 1

    i += 1
    negate = i < n and body[i] in "!^"
    if negate:
        i += 1
    ranges: list[tuple[int, int]] = []
    first = True
    while True:
        if i < n and body[i] == "]" and not first:
            i += 1
            break
        first = False
        lo, i = member(i)
        if i + 1 < n and body[i] == "-" and body[i + 1] != "]":
            hi, i = member(i + 1)
            if ord(hi) < ord(lo):
                raise _fail(f"empty range '{lo}-{hi}' in character class", pattern, offset + start)
            ranges.append((ord(lo), ord(hi)))
        else:
            ranges.append((ord(lo), ord(lo)))
    members = _merge(ranges)
    return (_subtract(_ANY, members) if negate else members), i


class _Compiled(Frozen):
    _fields = ("pattern", "segments", "is_glob", "literal")
    __slots__ = (*_fields, "_regex")
    pattern: str  # the normalized pattern
    segments: tuple[Segment, ...]
    is_glob: bool
    literal: str | None  # the one path a literal pattern matches, else None
    _regex: re.Pattern[str] | None  # compiled on first use

    def __init__(self, pattern: str, segments: tuple[Segment, ...], is_glob: bool,
                 literal: str | None) -> None:
        setfield(self, "pattern", pattern)
        setfield(self, "segments", segments)
        setfield(self, "is_glob", is_glob)
        setfield(self, "literal", literal)
        setfield(self, "_regex", None)

    @property
    def regex(self) -> re.Pattern[str]:
        """The pattern as a regex for ``fullmatch`` against a valid path, compiled on first
        use (literal paths compare as strings: they never need one)."""
        compiled = self._regex
        if compiled is None:
            import re

            compiled = re.compile(_to_regex(self.segments), re.DOTALL)
            setfield(self, "_regex", compiled)
        return compiled


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> _Compiled:
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be str, not {type(pattern).__name__}")
    if pattern == "":
        raise _fail("empty pattern", pattern)
    if "\x00" in pattern:
        raise _fail("NUL byte", pattern, pattern.index("\x00"))
    if pattern.startswith("/"):
        raise _fail("absolute path; patterns are repository-relative", pattern, 0)
    body = pattern[2:] if pattern.startswith("./") else pattern
    offset = len(pattern) - len(body)
    if body == "":
        raise _fail("empty pattern after stripping './'", pattern)

    segments: list[Segment] = []
    tokens: list[Token] = []
    lit: list[str] = []  # the segment's characters, meaningful while it is plain
    texts: list[str] = []  # each non-"**" segment's `lit`, joined (the literal's segments)
    plain = True  # the current segment has no unescaped metacharacter
    glob = False
    seg_start = i = 0
    n = len(body)
    while True:
        if i == n or body[i] == "/":
            raw = body[seg_start:i]
            if not raw:
                if i == n:
                    problem = "trailing '/' (empty segment); use 'dir/**' for a directory"
                elif i == 0:
                    problem = "empty segment (absolute path after './')"
                else:
                    problem = "empty segment ('//')"
                raise _fail(problem, pattern, offset + i)
            if raw == "**":
                segments.append(_GLOBSTAR)
            else:
                text = "".join(lit)
                if plain and text in (".", ".."):
                    problem = f"'{text}' segment not allowed"
                    raise _fail(problem, pattern, offset + seg_start)
                segments.append(tuple(tokens))
                texts.append(text)
            if i == n:
                break
            i += 1
            seg_start, tokens, lit, plain = i, [], [], True
            continue
        c = body[i]
        if c == "\\":
            if i + 1 == n:
                raise _fail("trailing backslash", pattern, offset + i)
            if body[i + 1] == "/":
                raise _fail("'/' cannot be escaped", pattern, offset + i)
            tokens.append(_char(body[i + 1]))
            lit.append(body[i + 1])
            i += 2
        elif c == "*":
            if not tokens or tokens[-1] is not _STAR:
                tokens.append(_STAR)
            plain, glob = False, True
            i += 1
        elif c == "?":
            tokens.append(_ANY)
            plain, glob = False, True
            i += 1
        elif c == "[":
            cs, i = _parse_class(body, i, pattern, offset)
            tokens.append(cs)
            plain, glob = False, True
        else:
            tokens.append(_char(c))
            lit.append(c)
            i += 1

    segs = tuple(segments)
    literal = None
    if not glob:
        # A "**" segment makes `glob` true, so every segment here is plain: its `lit` chars.
        literal = "/".join(texts)
    return _Compiled(body, segs, glob, literal)


def _render(cs: Charset) -> str:
    if cs == _ANY:
        return "[^/\\x00]"
    if not cs:
        return "(?!)"
    if len(cs) == 1 and cs[0][0] == cs[0][1]:
        import re  # (only while a regex is built)

        return re.escape(chr(cs[0][0]))
    parts = (f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in cs)
    return "[" + "".join(parts) + "]"


def _to_regex(segments: tuple[Segment, ...]) -> str:
    """A regex for ``fullmatch`` against a *valid* path (compiled with DOTALL)."""
    parts: list[str] = []
    last = len(segments) - 1
    for k, seg in enumerate(segments):
        if isinstance(seg, _Sym):  # _GLOBSTAR
            if k == last:
                parts.append(".*")  # one or more segments: a valid path ends in a non-"/"
                continue
            parts.append("(?:[^/]+/)*")  # zero or more segments, each with its "/"
            continue
        parts.extend("[^/]*" if isinstance(tok, _Sym) else _render(tok) for tok in seg)
        if k != last:
            parts.append("/")
    return "".join(parts)


# --------------------------------------------------------------------------- paths


def _check_path(path: str) -> str:
    """Validate a concrete path and strip one leading ``./``; metacharacters are literal."""
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    p = path[2:] if path.startswith("./") else path
    if (
        p
        and p[0] != "/"
        and p[-1] != "/"
        and "//" not in p
        and "\x00" not in p
        and ("." not in p or not any(s in (".", "..") for s in p.split("/")))
    ):
        return p
    if p == "":
        raise _fail("empty path", path, what="path")
    if "\x00" in p:
        raise _fail("NUL byte", path, path.index("\x00"), what="path")
    if p[0] == "/":
        raise _fail("absolute path; paths are repository-relative", path, 0, what="path")
    if p[-1] == "/":
        raise _fail("trailing '/' (empty segment)", path, what="path")
    if "//" in p:
        raise _fail("empty segment ('//')", path, what="path")
    raise _fail("'.' or '..' segment not allowed", path, what="path")


# --------------------------------------------------------------------------- public API


def normalize(pattern: str) -> str:
    """Validate ``pattern`` and return its canonical form.

    The only rewrite is stripping one leading ``./``; everything else is returned
    unchanged or rejected with :class:`GlobError`.

    >>> normalize("./src/**/*.py")
    'src/**/*.py'
    """
    return _compile(pattern).pattern


def is_glob(pattern: str) -> bool:
    """True if ``pattern`` has an unescaped ``*``, ``?`` or ``[`` (raises on invalid patterns).

    >>> is_glob("src/*.py"), is_glob("src/a.py"), is_glob("src/\\\\*.py")
    (True, False, False)
    """
    return _compile(pattern).is_glob


def escape(path: str) -> str:
    """The literal pattern that matches exactly ``path`` (validated like any path).

    >>> escape("notes/[draft]*.md")
    'notes/\\\\[draft]\\\\*.md'
    """
    p = _check_path(path)
    return "".join("\\" + c if c in "\\*?[" else c for c in p)


def matches(pattern: str, path: str) -> bool:
    """Does ``pattern`` match the concrete ``path``? Both are validated (:class:`GlobError`).

    >>> matches("src/**/test_*.py", "src/test_a.py"), matches("src/*.py", "src/a/b.py")
    (True, False)
    """
    compiled = _compile(pattern)
    p = _check_path(path)
    if compiled.literal is not None:
        return compiled.literal == p
    return compiled.regex.fullmatch(p) is not None


def overlaps(a: str, b: str) -> bool:
    """True iff some path is matched by both patterns. Exact and symmetric.

    >>> overlaps("src/*.py", "src/**/test_*.py"), overlaps("docs/**", "src/**")
    (True, False)
    """
    ca, cb = _compile(a), _compile(b)
    if ca.literal is not None:
        if cb.literal is not None:
            return ca.literal == cb.literal
        return cb.regex.fullmatch(ca.literal) is not None
    if cb.literal is not None:
        return ca.regex.fullmatch(cb.literal) is not None
    x, y = sorted((ca.pattern, cb.pattern))
    return _glob_overlap(x, y)


# --------------------------------------------------------------------------- automata


class _Label(Frozen):
    """An edge label: which characters it accepts, split the way path validity needs."""

    __slots__ = _fields = ("slash", "dot", "other")
    slash: bool  # accepts "/"
    dot: bool  # accepts "."
    other: Charset  # the accepted characters other than "." and "/"

    def __init__(self, slash: bool, dot: bool, other: Charset) -> None:
        setfield(self, "slash", slash)
        setfield(self, "dot", dot)
        setfield(self, "other", other)


class _Nfa(Frozen):
    """An epsilon-free NFA; state 0 is the start state."""

    __slots__ = _fields = ("edges", "accept")
    edges: tuple[tuple[tuple[_Label, int], ...], ...]
    accept: tuple[bool, ...]

    def __init__(self, edges: tuple[tuple[tuple[_Label, int], ...], ...],
                 accept: tuple[bool, ...]) -> None:
        setfield(self, "edges", edges)
        setfield(self, "accept", accept)


@lru_cache(maxsize=4096)
def _label(cs: Charset) -> _Label:
    return _Label(_contains(cs, _SLASH), _contains(cs, _DOT), _subtract(cs, _DOT_SLASH))


@lru_cache(maxsize=4096)
def _nfa(pattern: str) -> _Nfa:
    segments = _compile(pattern).segments
    edges: list[list[tuple[Charset, int]]] = [[]]
    eps: list[list[int]] = [[]]

    def new() -> int:
        edges.append([])
        eps.append([])
        return len(edges) - 1

    cur = 0
    last = len(segments) - 1
    for k, seg in enumerate(segments):
        if isinstance(seg, _Sym):  # _GLOBSTAR
            if k == last:
                # "**" at the end (or alone): one or more segments. Any string over every
                # character; the validity automaton rejects empty and dot segments.
                loop = new()
                eps[cur].append(loop)
                edges[loop] += [(_ANY, loop), (_SEP, loop)]
                cur = loop
            else:
                # "**/" elsewhere: (segment "/")*, and the "/" after it is part of the loop.
                head, mid = new(), new()
                eps[cur].append(head)
                edges[head].append((_ANY, mid))
                edges[mid] += [(_ANY, mid), (_SEP, head)]
                cur = head
            continue
        for tok in seg:
            nxt = new()
            if isinstance(tok, _Sym):  # _STAR
                eps[cur].append(nxt)
                edges[nxt].append((_ANY, nxt))
            else:
                edges[cur].append((tok, nxt))
            cur = nxt
        if k != last:
            nxt = new()
            edges[cur].append((_SEP, nxt))
            cur = nxt
    final = cur

    # Remove epsilon edges: a state gets the edges and the acceptance of its closure.
    def closure(q: int) -> set[int]:
        seen, stack = {q}, [q]
        while stack:
            for r in eps[stack.pop()]:
                if r not in seen:
                    seen.add(r)
                    stack.append(r)
        return seen

    number: dict[int, int] = {0: 0}
    order = [0]
    out_edges: list[tuple[tuple[_Label, int], ...]] = []
    out_accept: list[bool] = []
    for q in order:  # `order` grows while we walk it: only reachable states are kept
        close = closure(q)
        out_accept.append(final in close)
        row: list[tuple[_Label, int]] = []
        for p in sorted(close):
            for cs, t in edges[p]:
                if not cs:
                    continue  # an empty class matches nothing
                if t not in number:
                    number[t] = len(order)
                    order.append(t)
                row.append((_label(cs), number[t]))
        out_edges.append(tuple(dict.fromkeys(row)))
    return _Nfa(tuple(out_edges), tuple(out_accept))


# A four-state DFA accepting exactly the valid paths: non-empty, no empty segment, no "."
# or ".." segment. Rows: state; columns: on "/", on ".", on any other character.
_V_START, _V_DOT, _V_DOTDOT, _V_IN, _V_DEAD = 0, 1, 2, 3, -1
_V_NEXT: Final = (
    (_V_DEAD, _V_DOT, _V_IN),  # at the start of a segment
    (_V_DEAD, _V_DOTDOT, _V_IN),  # segment so far is "."
    (_V_DEAD, _V_IN, _V_IN),  # segment so far is ".."
    (_V_START, _V_IN, _V_IN),  # inside a valid segment (the only accepting state)
)


@lru_cache(maxsize=65536)
def _glob_overlap(a: str, b: str) -> bool:
    na, nb = _nfa(a), _nfa(b)
    a_edges, b_edges, a_acc, b_acc = na.edges, nb.edges, na.accept, nb.accept
    start = (0, 0, _V_START)
    seen = {start}
    stack = [start]
    while stack:
        qa, qb, v = stack.pop()
        if v == _V_IN and a_acc[qa] and b_acc[qb]:
            return True
        on_slash, on_dot, on_other = _V_NEXT[v]
        for la, ta in a_edges[qa]:
            for lb, tb in b_edges[qb]:
                succ = []
                if on_slash != _V_DEAD and la.slash and lb.slash:
                    succ.append((ta, tb, on_slash))
                if la.dot and lb.dot:
                    succ.append((ta, tb, on_dot))
                if _intersects(la.other, lb.other):
                    succ.append((ta, tb, on_other))
                for s in succ:
                    if s not in seen:
                        seen.add(s)
                        stack.append(s)
    return False
