"""``events list|append|follow``: the raw event log."""

from __future__ import annotations

import time

from ..kernel.errors import InvalidInputError
from . import Ctx, spec
from .output import clean, echo, short, table, write_json, write_json_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@spec.group("events")
def events() -> None:
    """The event log: list, append and follow raw events."""


def _summary(data: dict[str, Any], width: int = 60) -> str:
    from ..kernel.jsondump import dumps

    return short(dumps(data, indent=False).decode(), width)


@events.command("list")
@spec.option("--stream", help="Only events of this stream (TYPE:ID; a mission or sortie id "
              "may be a unique prefix).")
@spec.option("--type", "type_", help="Only events of this type.")
@spec.option("--after", type=spec.IntRange(min=0), help="Only events with seq above this.")
@spec.option("--limit", type=spec.IntRange(min=0), help="At most this many events.")
@spec.option("--offset", type=spec.IntRange(min=0), default=0, help="Skip this many first.")
@spec.option("--causation", help="Only events caused by this event id.")
@spec.option("--correlation", help="Only events with this correlation id (a mission id "
              "may be a unique prefix).")
@spec.json_option
def list_cmd(ctx: Ctx, stream: str | None, type_: str | None, after: int | None,
             limit: int | None, offset: int, causation: str | None,
             correlation: str | None) -> None:
    """List events in local sequence order."""
    hive = ctx.hive()
    if stream is not None:
        stream = hive.resolve_stream(stream)
    if correlation is not None:
        correlation = hive.resolve_correlation(correlation)
    evs = hive.events.query(stream=stream, type=type_, after=after, limit=limit,
                                  offset=offset, causation_id=causation,
                                  correlation_id=correlation)
    if ctx.json:
        write_json([e.to_json() for e in evs])
        return
    if not evs:
        echo("no events")
        return
    echo(table([(e.seq, e.time[:19].replace("T", " "), e.type, e.stream, e.actor,
                       _summary(e.data)) for e in evs],
                     ("seq", "time", "type", "stream", "actor", "data")))


@events.command("append")
@spec.argument("type_", metavar="TYPE")
@spec.option("--stream", required=True, help="The stream, TYPE:ID (e.g. mission:01HX...).")
@spec.option("--data", "data", default="{}", show_default=True, help="The data, a JSON object.")
@spec.option("--causation", help="Id of the event that caused this one.")
@spec.option("--correlation", help="Correlation id shared by related events.")
@spec.option("--custom", is_flag=True, help="Allow a type fleet-hive does not define.")
@spec.json_option
def append_cmd(ctx: Ctx, type_: str, stream: str, data: str, causation: str | None,
               correlation: str | None, custom: bool) -> None:
    """Append one event (validated against its type's schema) and print it."""
    from ..kernel import jsonload

    try:  # as strict as the log itself: what is accepted here, every reader accepts
        parsed = jsonload.loads_line(data.encode("utf-8", "surrogatepass"))
    except jsonload.JSONDecodeError as e:  # looked up (json imported) only on an error
        hint = "quote it for the shell, e.g. --data '{\"text\": \"hi\"}'"
        raise InvalidInputError(f"--data is not valid JSON: {e}", hint=hint) from e
    event = ctx.hive().events.append(type_, stream=stream, data=parsed, causation_id=causation,
                                     correlation_id=correlation, custom=custom, indexed=True)
    if ctx.json:
        write_json(event.to_json())
    else:
        echo(clean(f"appended {event.type} {event.id} to {event.stream} (seq {event.seq})"))


@events.command("follow")
@spec.option("--after", type=spec.IntRange(min=0), default=None,
              help="Start after this seq (default: only events appended from now on).")
@spec.option("--type", "types", multiple=True,
              help="Only events of this type (repeatable: any of them).")
@spec.option("--limit", type=spec.IntRange(min=1), help="Stop after this many events.")
@spec.option("--timeout", type=spec.FloatRange(min=0), help="Stop after this many seconds.")
@spec.option("--interval", type=spec.FloatRange(min=0.01), default=5.0, show_default=True,
              help="At most this many seconds between looks at the log (an append wakes "
                   "it at once).")
@spec.json_option
def follow_cmd(ctx: Ctx, after: int | None, types: tuple[str, ...], limit: int | None,
               timeout: float | None, interval: float) -> None:
    """Print new events as JSON lines (one per line) until interrupted. It sleeps until
    the log changes (inotify on Linux, stat polling elsewhere), not in a polling loop."""
    from ..kernel.watch import Watcher

    hive = ctx.hive()
    wanted = set(types)
    printed = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    with Watcher([hive.layout.events]) as watcher:  # armed before the first look
        last = hive.events.latest_sequence() if after is None else after
        while True:
            batch = hive.events.after_sequence(
                last, limit=None if limit is None or wanted else limit - printed)
            for event in batch:
                last = event.seq or last
                if wanted and event.type not in wanted:
                    continue
                write_json_line(event.to_json())
                printed += 1
                if limit is not None and printed >= limit:
                    return
            if limit is not None and printed >= limit:
                return
            left = interval if deadline is None else min(interval,
                                                         deadline - time.monotonic())
            if left <= 0:
                return
            watcher.wait(left)
