"""``specialist register|list|heartbeat``: thin commands over hive.specialists
(``docs/specialists.md``). Declared with :mod:`.spec` (agents heartbeat often)."""

from __future__ import annotations

from . import Ctx, spec
from .output import clean, echo, table, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..specialists import Specialist


@spec.group("specialist")
def specialist() -> None:
    """Specialists: named agents with capabilities; silent once no heartbeat came for
    specialist_silent_after (default 5m)."""


def _line(s: Specialist) -> str:
    return clean(f"{s.name}: {s.status}, capabilities {', '.join(s.capabilities) or '-'}, "
                 f"load {s.load}, last seen {s.last_seen}")


@specialist.command("register")
@spec.argument("name", metavar="NAME")
@spec.option("--capability", "capabilities", multiple=True,
             help="What it can do, matched against a sortie's --specialist (repeatable).")
@spec.json_option
def register_cmd(ctx: Ctx, name: str, capabilities: tuple[str, ...]) -> None:
    """Register a specialist (idempotent; its capabilities are replaced by these)."""
    s = ctx.hive().specialists.register(name, list(capabilities))
    if ctx.json:
        write_json(s.to_dict())
    else:
        echo(_line(s))


@specialist.command("list")
@spec.json_option
def list_cmd(ctx: Ctx) -> None:
    """List specialists: capabilities, active or silent, last seen, sorties held (load)."""
    found = ctx.hive().specialists.list()
    if ctx.json:
        write_json([s.to_dict() for s in found])
    elif not found:
        echo("no specialists")
    else:
        echo(table([(s.name, s.status, ", ".join(s.capabilities), s.load,
                     s.last_seen[:19].replace("T", " "), ", ".join(s.sorties))
                    for s in found],
                   ("name", "status", "capabilities", "load", "last seen", "sorties")))


@specialist.command("heartbeat")
@spec.argument("name", metavar="NAME")
@spec.json_option
def heartbeat_cmd(ctx: Ctx, name: str) -> None:
    """Record a sign of life (one within 15 s of the last recorded one writes nothing)."""
    s = ctx.hive().specialists.heartbeat(name)
    if ctx.json:
        write_json(s.to_dict())
    else:
        echo(_line(s))
