"""The one place that turns results and errors into output and exit codes (``cli.md``)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import click
import orjson

from ..kernel.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, FleetHiveError


def write_json(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def write_json_line(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """A human message: always on stderr, so stdout stays one JSON document."""
    click.echo(message, err=True)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Aligned columns for people; the last column is not padded."""
    cells = [[str(h).upper() for h in headers]] + [
        ["" if c is None else str(c) for c in r] for r in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = [c.ljust(widths[i]) for i, c in enumerate(r[:-1])] + [r[-1]]
        lines.append("  ".join(parts).rstrip())
    if sys.stdout.isatty():
        lines[0] = click.style(lines[0], bold=True)
    return "\n".join(lines)


def warn(err: FleetHiveError) -> None:
    """A problem that did not stop the command (the write stood): one line on stderr."""
    label = click.style("warning:", fg="yellow", bold=True) if sys.stderr.isatty() else \
        "warning:"
    hint = f" ({err.hint})" if err.hint else ""
    click.echo(f"{label} {err.message}{hint}", err=True)


def error_exit(err: FleetHiveError, as_json: bool) -> int:
    if as_json:
        write_json(err.to_json())
    message = click.style("error:", fg="red", bold=True) if sys.stderr.isatty() else "error:"
    hint = f" ({err.hint})" if err.hint else ""
    click.echo(f"{message} {err.message}{hint}", err=True)
    return err.exit_code


def run(fn: Callable[[], Any], argv: Sequence[str]) -> int:
    """Run the click app ``fn``; map every outcome to an exit code. Never raises."""
    as_json = "--json" in argv
    try:
        rv = fn()
        return rv if isinstance(rv, int) else 0
    except FleetHiveError as e:
        return error_exit(e, as_json)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        if as_json:
            write_json({"error": {"code": "usage", "message": e.format_message(),
                                  "hint": "see --help"}})
        e.show()
        return e.exit_code if e.exit_code != 1 else EXIT_USAGE
    except click.Abort:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # an unexpected error: say so and keep the traceback
        path = _crash_log()
        message = f"internal error: {type(e).__name__}: {e}"
        if as_json:
            write_json({"error": {"code": "internal", "message": message,
                                  "hint": f"traceback in {path}"}})
        click.echo(f"error: {message} (traceback in {path})", err=True)
        return EXIT_INTERNAL


def _crash_log() -> str:
    fd, path = tempfile.mkstemp(prefix=f"fleet-hive-crash-{time.strftime('%Y%m%d-%H%M%S')}-",
                                suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(traceback.format_exc())
    return path
