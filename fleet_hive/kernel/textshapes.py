"""The string shapes fleet-hive's own schemas ask for, checked without ``re``.

Every write checks its event's type name, its stream name and the patterns of its data's
schema (ids, times, names). Importing ``re`` (with ``enum``, which it needs) costs a
process ~4 ms, more than the checks; the patterns are few and fixed (``schemas/``), so each
one a schema uses has its predicate here, which answers exactly as ``re.search(pattern,
text)`` does for a text without a line break (the only texts a pattern is asked about:
JSON Schema's ``$`` is the end of the text, Python's also matches before a final newline,
so a newline is refused before any pattern is tried; :meth:`.patterns.LazyPattern.matches`
keeps ``re``'s reading for the models' own checks). A pattern not listed here goes to
``re``; ``tests/kernel/test_textshapes.py`` holds every listed predicate to its pattern and
checks that every pattern in the shipped schemas is listed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_LOWER_DIGITS = _LOWER | frozenset("0123456789")
_ALNUM = _LOWER_DIGITS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789abcdef")
_KIND = _LOWER_DIGITS | {"_"}  # a stream's kind after its first letter
_IDENT = _ALNUM | {"_", ".", "-"}  # a stream's id after its first character


def _all_in(text: str, chars: frozenset[str]) -> bool:
    return chars.issuperset(text)  # every character of text is one of chars


def type_name(text: str) -> bool:
    """``^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$``: past-tense snake_case, two words or more."""
    parts = text.split("_")  # ("" in a set of letters is False: an empty first part fails)
    return len(parts) >= 2 and parts[0][:1] in _LOWER \
        and all(p and _all_in(p, _LOWER_DIGITS) for p in parts)


def stream_name(text: str) -> bool:
    """``^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9_.\\-]*$``: ``kind:id``."""
    kind, colon, ident = text.partition(":")
    return bool(colon) and kind[:1] in _LOWER and _all_in(kind, _KIND) \
        and ident[:1] in _ALNUM and _all_in(ident, _IDENT)


def log_time(text: str) -> bool:
    """``^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$``: a time as the log writes
    them (``\\d`` is any decimal digit, as in ``re``)."""
    if len(text) < 20 or text[-1] != "Z" or text[4] != "-" or text[7] != "-" \
            or text[10] != "T" or text[13] != ":" or text[16] != ":":
        return False
    if not (text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16]
            + text[17:19]).isdecimal():
        return False
    return len(text) == 20 or (text[19] == "." and text[20:-1].isdecimal())


def _prefixed(prefix: str) -> Callable[[str], bool]:
    """``^<prefix>[0-9a-z]{4,32}$``: an id (``m-``, ``s-``, ``c-``, ``msg-``)."""
    def check(text: str) -> bool:
        rest = text[len(prefix):]
        return text.startswith(prefix) and 4 <= len(rest) <= 32 and _all_in(rest, _LOWER_DIGITS)
    return check


def _label(most: int, punctuation: str = "_.:/+-") -> Callable[[str], bool]:
    """``^[A-Za-z0-9][A-Za-z0-9<punctuation>]{0,<most>}$``: a name or a label."""
    tail = _ALNUM | frozenset(punctuation)

    def check(text: str) -> bool:
        return 1 <= len(text) <= most + 1 and text[0] in _ALNUM and _all_in(text[1:], tail)
    return check


def _hex(least: int, most: int) -> Callable[[str], bool]:
    """``^[0-9a-f]{<least>,<most>}$``: a digest or a commit id."""
    return lambda text: least <= len(text) <= most and _all_in(text, _HEX)


#: pattern (as the schemas spell it) -> its predicate
KNOWN: dict[str, Callable[[str], bool]] = {
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$": log_time,
    r"^m-[0-9a-z]{4,32}$": _prefixed("m-"),
    r"^s-[0-9a-z]{4,32}$": _prefixed("s-"),
    r"^c-[0-9a-z]{4,32}$": _prefixed("c-"),
    r"^msg-[0-9a-z]{4,32}$": _prefixed("msg-"),
    r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$": _label(63),
    r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,127}$": _label(127),
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": _label(63, "_.-"),  # a specialist's plain name
    # a line with something on it; one line, no tabs
    r"^[^\r\n]*\S[^\r\n]*$": lambda text: "\r" not in text and "\n" not in text
    and text != "" and not text.isspace(),
    r"^[^\r\n\t]+$": lambda text: text != "" and not any(c in "\r\n\t" for c in text),
    r"^[0-9a-f]{64}$": _hex(64, 64),
    r"^[0-9a-f]{40,64}$": _hex(40, 64),
    r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$": type_name,
    r"^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9_.\-]*$": stream_name,
}
