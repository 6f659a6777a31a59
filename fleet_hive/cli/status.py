"""``status``: what is going on in this repository, at a glance."""

from __future__ import annotations

from . import Ctx, spec
from .output import clean, echo, short, style, table, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@spec.command("status")
@spec.json_option
def status_cmd(ctx: Ctx) -> None:
    """Open missions and their progress, active and blocked sorties (with what blocks
    them), conflicts between clones, reservations, and the index's freshness."""
    from ..app.status import status_report

    report = status_report(ctx.hive())
    if ctx.json:
        write_json(report)
        return
    _human(report)
    stale_hint(report["stale"])
    specialists_hint(report.get("specialists") or {})


def specialists_hint(specialists: dict[str, Any]) -> None:
    """On stderr: silent specialists (and the sorties they hold), like stale work."""
    from .output import info

    if specialists.get("hint"):
        info(specialists["hint"] + " (" + ", ".join(
            s["name"] for s in specialists["silent"]) + ")")
    elif specialists.get("error"):
        info(f"warning: specialists not checked: {clean(specialists['error'])}")


def stale_hint(stale: dict[str, Any]) -> None:
    """On stderr: how many sorties are stale and the command that recovers them."""
    from .output import info

    if stale.get("hint"):
        info(f"{stale['hint']} (idle for more than {stale['stale_after']})")
    elif stale.get("error"):
        info(f"warning: stale work not checked: {clean(stale['error'])}")


def _section(title: str, rows: list[Any], headers: tuple[str, ...], empty: str) -> None:
    echo(style(title, bold=True) if _tty() else title)
    echo(table(rows, headers) if rows else f"  {empty}")
    echo("")


def _tty() -> bool:
    import sys

    return sys.stdout.isatty()


def _human(r: dict[str, Any]) -> None:
    counts = r["mission_counts"]
    _section(
        "Missions (" + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ")"
        if any(counts.values()) else "Missions",
        [(m["id"], m["status"], m["priority"], f"{m['progress']}%",
          sum(m["sortie_counts"].values()), short(m["title"])) for m in r["missions"]],
        ("id", "status", "pri", "done", "sorties", "title"), "no open missions")
    _section("Active sorties",
             [(s["id"], s["status"], s["claimed_by"] or "", f"{s['progress']}%",
               s["mission_id"], short(s["title"])) for s in r["active_sorties"]],
             ("id", "status", "claimed by", "done", "mission", "title"), "none")
    _section("Blocked sorties",
             [(s["id"], s["status"], ", ".join(s["blocked_by"]) if s["status"] == "pending"
               else (s["reason"] or "(no reason given)"), s["mission_id"], short(s["title"]))
              for s in r["blocked"]],
             ("id", "status", "blocked by", "mission", "title"), "none")
    _section("Conflicts",
             [(c["sortie_id"] or c["mission_id"] or c.get("path", ""), c["kind"],
               " vs ".join(f"{f['type']} by {f['actor']}@{f['writer']}" for f in c["facts"]),
               short(c["message"], 60)) for c in r["conflicts"]],
             ("id", "kind", "facts", "message"), "none")
    _section("Reservations",
             [(x.get("path"), x.get("holder"), x.get("mode"), x.get("expires_at") or "",
               short(x.get("reason") or "", 40)) for x in r["reservations"]],
             ("path", "holder", "mode", "expires", "reason"), "none")
    specialists = (r.get("specialists") or {}).get("list") or []
    if specialists:
        _section("Specialists",
                 [(x["name"], x["status"], ", ".join(x["capabilities"]), x["load"],
                   x["last_seen"][:19].replace("T", " ")) for x in specialists],
                 ("name", "status", "capabilities", "load", "last seen"), "none")
    idx = r["index"]
    state = "fresh" if idx["fresh"] else "was stale, caught up now"
    echo(f"Index: {idx['events']} events in {idx['segments']} segments, {state}"
               + (f" (in memory: {idx['in_memory']})" if idx.get("in_memory") else ""))
    integrity = r["integrity"]
    for text in integrity.get("missing_own_events", []):
        echo(f"Missing: {text}")
    if integrity["problem_count"]:
        echo(f"Integrity: {integrity['problem_count']} problem(s) in the event log; "
                   f"{integrity['fix']}")
        for p in integrity["problems"]:
            where = f"{p['path']} line {p['line']}" if p.get("line") else p["path"]
            echo(clean(f"  {where}: {p['message']} [{p['code']}]"))
