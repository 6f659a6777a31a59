"""``mail send|inbox|read|ack|thread``: thin commands over hive.mail (``docs/mail.md``).

Declared with :mod:`.spec`, so agents' calls parse without click."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..kernel.errors import InvalidInputError
from . import Ctx, spec
from .output import clean, echo, short, table, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..mail import Message

IMPORTANCE = ("low", "normal", "high")


@spec.group("mail")
def mail() -> None:
    """Mail between agents and people: messages with threads, importance and a mission,
    stored as events. The sender is the actor (--actor / FLEET_ACTOR). Message ids accept
    any unique prefix."""


def _print_one(m: Message) -> None:
    lines = [f"{m.id}  {m.subject}", f"from       {m.sender}", f"to         {', '.join(m.to)}",
             f"time       {m.time}", f"importance {m.importance}", f"thread     {m.thread_id}"]
    if m.mission_id:
        lines.append(f"mission    {m.mission_id}")
    if m.sortie_id:
        lines.append(f"sortie     {m.sortie_id}")
    if m.read_by:
        lines.append(f"read by    {', '.join(m.read_by)}")
    if m.acked_by:
        lines.append(f"acked by   {', '.join(m.acked_by)}")
    echo("\n".join(clean(line) for line in lines))
    if m.body:
        echo("")
        echo(clean(m.body, multiline=True))


def _rows(messages: Sequence[Message], name: str) -> str:
    return table([("*" if not m.is_read_by(name) else "", m.id, m.importance, m.sender,
                   m.time[:19].replace("T", " "), short(m.subject, 50))
                  for m in messages], ("new", "id", "importance", "from", "time", "subject"))


@mail.command("send")
@spec.option("--to", "to", multiple=True, required=True,
             help="A recipient (repeatable): an agent's FLEET_ACTOR, a specialist, "
                  "coordinator.")
@spec.option("--subject", required=True, help="One line.")
@spec.option("--body", default=None, help="The text of the message.")
@spec.option("--body-file", default=None, metavar="FILE",
             help="Read the body from FILE ('-': standard input).")
@spec.option("--thread", default=None,
             help="Reply in this thread: a message id (or prefix) or a thread id.")
@spec.option("--mission", "mission_id", default=None, help="The mission it is about.")
@spec.option("--importance", type=spec.Choice(IMPORTANCE), default="normal",
             show_default=True, help="low, normal or high.")
@spec.json_option
def send_cmd(ctx: Ctx, to: tuple[str, ...], subject: str, body: str | None,
             body_file: str | None, thread: str | None, mission_id: str | None,
             importance: str) -> None:
    """Send a message from the actor."""
    if body is not None and body_file is not None:
        raise spec.UsageError("give --body or --body-file, not both")
    if body_file is not None:
        try:
            if body_file == "-":
                body = sys.stdin.read()
            else:
                with open(body_file, encoding="utf-8") as f:
                    body = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInputError(f"cannot read --body-file {body_file}: "
                                    f"{getattr(e, 'strerror', None) or e}") from e
    m = ctx.hive().mail.send(list(to), subject, body or "", thread=thread,
                             mission=mission_id, importance=importance)
    if ctx.json:
        write_json(m.to_json())
    else:
        echo(clean(f"Sent {m.id} to {', '.join(m.to)} (thread {m.thread_id})"))


@mail.command("inbox")
@spec.argument("name", metavar="NAME")
@spec.option("--unread", is_flag=True, help="Only messages NAME has not read.")
@spec.option("--limit", type=spec.IntRange(min=0), default=50, show_default=True,
             help="At most this many, newest first.")
@spec.option("--wait", type=spec.FloatRange(min=0), default=None, metavar="SECONDS",
             help="If NAME has no unread message, wait up to SECONDS for one (woken as "
                  "soon as one arrives); exit 4 if none came.")
@spec.json_option
def inbox_cmd(ctx: Ctx, name: str, unread: bool, limit: int, wait: float | None) -> None:
    """List NAME's messages, newest first (* marks unread ones)."""
    found = ctx.hive().mail.inbox(name, unread=unread, limit=limit, wait=wait)
    if ctx.json:
        write_json([m.to_json() for m in found])
    elif not found:
        echo("no unread messages" if unread else "no messages")
    else:
        echo(_rows(found, name))


@mail.command("read")
@spec.argument("message_id", metavar="MESSAGE")
@spec.option("--as", "as_", default=None, metavar="NAME",
             help="Who reads it (default: the actor).")
@spec.json_option
def read_cmd(ctx: Ctx, message_id: str, as_: str | None) -> None:
    """Show a message and mark it read by the actor."""
    m = ctx.hive().mail.read(message_id, by=as_)
    if ctx.json:
        write_json(m.to_json())
    else:
        _print_one(m)


@mail.command("ack")
@spec.argument("message_id", metavar="MESSAGE")
@spec.option("--as", "as_", required=True, metavar="NAME", help="Who acknowledges it.")
@spec.json_option
def ack_cmd(ctx: Ctx, message_id: str, as_: str) -> None:
    """Acknowledge a message as NAME (it counts as read by NAME too)."""
    m = ctx.hive().mail.ack(message_id, by=as_)
    if ctx.json:
        write_json(m.to_json())
    else:
        echo(clean(f"Acknowledged {m.id} as {as_}"))


@mail.command("thread")
@spec.argument("thread_id", metavar="THREAD")
@spec.json_option
def thread_cmd(ctx: Ctx, thread_id: str) -> None:
    """Show a thread's messages, oldest first (THREAD: a thread id or a message of it)."""
    found = ctx.hive().mail.thread(thread_id)
    if ctx.json:
        write_json([m.to_json() for m in found])
    elif not found:
        echo("no messages")
    else:
        echo(table([(m.id, m.sender, ", ".join(m.to), m.time[:19].replace("T", " "),
                     short(m.subject, 50)) for m in found],
                   ("id", "from", "to", "time", "subject")))
