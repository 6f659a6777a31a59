"""The one place that turns results and errors into output and exit codes (``cli.md``)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from ..kernel.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, FleetHiveError
from ..kernel.jsondump import dumps
from ..kernel.patterns import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any

__all__ = ["dumps", "write_json", "write_json_line"]


def write_json(obj: Any) -> None:
    sys.stdout.buffer.write(dumps(obj) + b"\n")
    sys.stdout.flush()


def write_json_line(obj: Any) -> None:
    sys.stdout.buffer.write(dumps(obj, indent=False) + b"\n")
    sys.stdout.flush()


def echo(message: Any = "", err: bool = False) -> None:
    """``click.echo``: one line on stdout (or stderr), flushed; ANSI styles are stripped
    when the stream is not a terminal."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    text = message if isinstance(message, str) else str(message)
    if "\x1b" in text and not stream.isatty():
        text = _ANSI.sub("", text)
    stream.write(text + "\n")
    stream.flush()


_ANSI = LazyPattern(r"\033\[[;?0-9]*[a-zA-Z]")
_STYLES = {"red": "\x1b[31m", "yellow": "\x1b[33m"}


def style(text: str, fg: str | None = None, bold: bool = False) -> str:
    """``click.style`` for the few styles used here."""
    return (_STYLES[fg] if fg else "") + ("\x1b[1m" if bold else "") + text + "\x1b[0m"


def info(message: str) -> None:
    """A human message: always on stderr, so stdout stays one JSON document."""
    echo(message, err=True)


# Characters that move the cursor, change the terminal or reorder text: C0 and C1 controls (ESC,
# CSI, BEL, backspace, ...), DEL, the Unicode line/paragraph separators and the bidi overrides.
_UNSAFE = LazyPattern("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_LINES = LazyPattern("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                                  "\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: Any, multiline: bool = False) -> str:
    """``text`` safe to print to a terminal: every control character shown as an escape
    (``\\x1b``), so a title cannot clear the screen or set the window title. ``multiline``
    keeps newlines and tabs (descriptions). Human output only: JSON stays exact."""
    shown = "" if text is None else str(text)
    if (shown.replace("\n", "").replace("\t", "") if multiline else shown).isprintable():
        return shown  # every character _UNSAFE names is unprintable: nothing to escape
    pattern = _UNSAFE_BUT_LINES if multiline else _UNSAFE
    return pattern.sub(_escape, shown)


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and fullwidth characters take two,
    combining marks and zero-width format characters none."""
    if text.isascii():
        return len(text)  # no wide, combining or format character in ASCII
    import unicodedata

    total = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def short(text: str, width: int = 50) -> str:
    """``text`` on one line, cut to at most ``width`` columns (an ellipsis marks the cut)."""
    text = clean(" ".join(text.split()))
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Aligned columns for people; the last column is not padded. Cells are :func:`clean`ed
    and aligned by display width (a CJK character takes two columns)."""
    cells = [[str(h).upper() for h in headers]] + [[clean(c) for c in r] for r in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = [c + " " * (widths[i] - display_width(c)) for i, c in enumerate(r[:-1])]
        parts.append(r[-1])
        lines.append("  ".join(parts).rstrip())
    if sys.stdout.isatty():
        lines[0] = style(lines[0], bold=True)
    return "\n".join(lines)


def warn(err: FleetHiveError) -> None:
    """A problem that did not stop the command (the write stood): one line on stderr."""
    label = style("warning:", fg="yellow", bold=True) if sys.stderr.isatty() else "warning:"
    hint = f" ({err.hint})" if err.hint else ""
    echo(f"{label} {clean(err.message)}{clean(hint)}", err=True)


def error_exit(err: FleetHiveError, as_json: bool) -> int:
    if as_json:
        # a command that streams JSON lines (dispatch) ends its stream with one more line
        (write_json_line if getattr(err, "json_lines", False) else write_json)(err.to_json())
    message = style("error:", fg="red", bold=True) if sys.stderr.isatty() else "error:"
    hint = f" ({err.hint})" if err.hint else ""
    echo(f"{message} {clean(err.message)}{clean(hint)}", err=True)
    return err.exit_code


def run(fn: Callable[[], Any], argv: Sequence[str],
        on_crash: Callable[[BaseException, str], Any] | None = None) -> int:
    """Run the command ``fn``; map every outcome to an exit code. Never raises (but the
    ``SystemExit`` click raises for a closed stdout). click's own errors are mapped where
    click runs (:func:`fleet_hive.cli.clickapp.invoke`).

    ``on_crash(error, traceback)`` is told of an unexpected error (after the traceback is
    logged): it takes error checkpoints of the missions in progress. What it does is
    best effort and never changes the outcome."""
    as_json = "--json" in argv
    try:
        rv = fn()
        return rv if isinstance(rv, int) else 0
    except FleetHiveError as e:
        return error_exit(e, as_json)
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # an unexpected error: say so and keep the traceback
        path = _crash_log()
        message = f"internal error: {type(e).__name__}: {e}"
        if on_crash is not None:
            import traceback  # a crash only

            with contextlib.suppress(Exception):
                on_crash(e, traceback.format_exc())
        if as_json:
            write_json({"error": {"code": "internal", "message": message,
                                  "hint": f"traceback in {path}"}})
        echo(f"error: {message} (traceback in {path})", err=True)
        return EXIT_INTERNAL


def _crash_log() -> str:
    import tempfile
    import time
    import traceback

    fd, path = tempfile.mkstemp(prefix=f"fleet-hive-crash-{time.strftime('%Y%m%d-%H%M%S')}-",
                                suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(traceback.format_exc())
    return path
