"""``recover`` and ``context``: stale work and what to do about it, and a mission's brief."""

from __future__ import annotations

import os
import sys

from . import Ctx, spec
from .output import clean, echo, short, table, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..checkpoints.recovery import RecoveryReport

STALE_HELP = ("Idle longer than this is stale: 90s, 30m, 2h, 1d (default: stale_after in "
              ".fleet/config.yaml, else 30m).")


@spec.command("recover")
@spec.option("--stale-after", "stale_after", metavar="DURATION", help=STALE_HELP)
@spec.option("--mission", "mission_id", help="Only this mission's sorties.")
@spec.option("--apply", "apply_", is_flag=True,
              help="Perform the proposed actions (recorded as events).")
@spec.json_option
def recover_cmd(ctx: Ctx, stale_after: str | None, mission_id: str | None,
                apply_: bool) -> None:
    """Stale work: claimed sorties whose claimant has shown no activity for a while.

    Lists the missions with stale sorties and a proposed action for each: resume the
    mission from its newest good checkpoint, or release the sortie's reservations and
    re-queue it (it is ready again, unclaimed). With --apply the actions are performed,
    each sortie checked first to be still open, still claimed and still idle: work that
    was completed or picked up again meanwhile is left alone.
    """
    report = ctx.hive().recovery.recover(stale_after, mission=mission_id, apply=apply_)
    if ctx.json:
        write_json(report.to_json())
        return
    _human(report)


def _human(report: RecoveryReport) -> None:
    after = report.to_json()["stale_after"]
    actions = report.actions
    for s in report.silent:
        held = ", ".join(s.get("sorties", ())) or "no sorties"
        echo(clean(f"specialist {s['name']} is silent (last seen {s['last_seen']}): {held}"))
    if not actions:
        echo(f"no stale work (nothing claimed has been idle for {after})")
        return
    n = len(actions)
    echo(f"{n} sortie{'' if n == 1 else 's'} stale (idle for more than {after}):")
    for m in report.missions:
        echo(f"\nmission {m.id}: {clean(m.title)} [{m.status}]")
        rows = []
        for a in m.actions:
            j = a.to_json()
            did = "" if not report.applied else f"{a.outcome}: {a.detail}"
            rows.append((a.sortie_id, j["status"], f"{j['progress']}%", a.claimant or "",
                         j["idle"] or "", a.describe() if not did else short(did, 70),
                         short(a.title, 40)))
        echo(table(rows, ("sortie", "status", "done", "claimed by", "idle",
                                "done now" if report.applied else "proposed", "title")))
    if not report.applied:
        echo("\nRun `fleet-hive recover --apply` to do it"
                   " (add --mission ID for one mission).")
    else:
        j = report.to_json()
        echo(f"\n{j['done']} done, {j['skipped']} skipped, {j['failed']} failed")


@spec.command("context")
@spec.argument("mission_id", metavar="MISSION")
@spec.option("--specialist", help="Add what this specialist holds and should do next.")
@spec.option("--max-bytes", "max_bytes", type=spec.IntRange(min=0), default=8192,
              show_default=True, help="Hard cap on the output in UTF-8 bytes (0: no cap).")
@spec.option("--format", "fmt", type=spec.Choice(("md", "json")), default="md",
              show_default=True, help="Markdown for a prompt, or one JSON document.")
@spec.json_option
def context_cmd(ctx: Ctx, mission_id: str, specialist: str | None, max_bytes: int,
                fmt: str) -> None:
    """An LLM-ready brief of a mission: its goal, what is in flight and by whom, what is
    next, the last error, blockers, reservations and mail.

    At most --max-bytes bytes (default 8 KB): sections are ranked and cut by whole lines,
    each cut ending with a pointer to the full form (--max-bytes 0). --json is
    --format json.
    """
    from ..checkpoints.brief import check_max_bytes, render_brief_memo

    check_max_bytes(max_bytes)  # refuse bad input before reading anything
    hive = ctx.hive()
    data = hive.recovery.brief(mission_id, specialist=specialist)
    text = render_brief_memo(data, max_bytes, "json" if ctx.json else fmt,
                             os.path.join(hive.layout.cache_dir, "briefs"))
    out = text if text.endswith("\n") else text + "\n"
    if max_bytes and len(out.encode("utf-8")) > max_bytes:
        out = text  # a JSON document that fills the cap exactly: no newline after it
    sys.stdout.write(out)
    sys.stdout.flush()
