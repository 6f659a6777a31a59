"""Rendering dispatch's progress records (the only module that imports ``rich``).

The engine emits plain records (``{"event": "sortie_started", ...}``) to a callback; this
turns them into output of one of three kinds:

* ``--json``: one JSON object per line on stdout, as they come (a documented exception
  to "one JSON document": a stream);
* a terminal: a live display (each sortie's state, an overall bar, elapsed time,
  failures), drawn with ``rich`` on stderr, and a summary line at the end;
* anything else (a pipe, a CI log): one plain line per record on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

from .output import clean, echo, short, write_json_line

Record = dict[str, Any]


def _elapsed(record: Record) -> str:
    return f"{record.get('elapsed_ms', 0) / 1000:7.1f}s"


def plain_line(r: Record) -> str | None:
    """One line for a record (None: not worth a line)."""
    kind = r["event"]
    sid = r.get("sortie_id", "")
    if kind == "dispatch_started":
        return (f"{_elapsed(r)} dispatch mission {r['mission_id']} '{short(r['title'], 60)}': "
                f"{len(r['sorties'])} sorties, workers {', '.join(r['workers'])}")
    if kind == "sortie_started":
        return (f"{_elapsed(r)} started   {sid} '{short(r['title'], 50)}' by {r['worker']} "
                f"(try {r['attempt']}/{r['tries']})")
    if kind == "sortie_progressed":
        note = f": {short(r['note'], 50)}" if r.get("note") else ""
        return f"{_elapsed(r)} progress  {sid} {r['percent']}%{note}"
    if kind == "sortie_blocked":
        return f"{_elapsed(r)} blocked   {sid}: {short(r.get('reason', ''), 70)}"
    if kind == "sortie_unblocked":
        return f"{_elapsed(r)} unblocked {sid}"
    if kind == "sortie_completed":
        return f"{_elapsed(r)} completed {sid} '{short(r['title'], 50)}' ({r['duration_ms']} ms)"
    if kind == "sortie_failed":
        what = "FAILED   " if r.get("final") else "failed   "
        tail = r.get("stderr_tail") or ""
        line = f"{_elapsed(r)} {what} {sid}: {clean(r.get('reason', ''))}"
        if tail:
            last = [clean(x) for x in tail.splitlines()[-5:]]
            line += "\n" + "\n".join(f"            | {x}" for x in last)
        if r.get("final"):
            line += f"\n            log: {r.get('log', '')}"
        return line
    if kind == "sortie_retried":
        return f"{_elapsed(r)} retry     {sid} (try {r['attempt']} in {r['delay_ms']} ms)"
    if kind == "sortie_requeued":
        return f"{_elapsed(r)} requeued  {sid}: {clean(r.get('reason', ''))}"
    if kind == "verify_started":
        when = " after merge" if r.get("after_merge") else ""
        return f"{_elapsed(r)} verify    {sid}{when}: {short(r.get('command', ''), 60)}"
    if kind in ("verify_passed", "verify_failed"):
        word = "passed" if kind == "verify_passed" else "FAILED"
        line = f"{_elapsed(r)} verify    {sid} {word} (exit {r.get('exit_code')})"
        if r.get("tail"):
            last = [clean(x) for x in r["tail"].splitlines()[-5:]]
            line += "\n" + "\n".join(f"            | {x}" for x in last)
        return line
    if kind == "merge_queued":
        return f"{_elapsed(r)} queued    {sid} for merge (position {r.get('position')})"
    if kind == "merged":
        return f"{_elapsed(r)} merged    {sid} into {r.get('base')} as {r.get('commit')}"
    if kind == "merge_conflict":
        why = ", ".join(r.get("files") or []) or clean(r.get("reason", ""))
        return f"{_elapsed(r)} conflict  {sid}: {short(why, 70)} (branch {r.get('branch')})"
    if kind == "worktree_budget":
        return (f"{_elapsed(r)} worktrees use {r.get('used')} bytes, over the budget of "
                f"{r.get('budget')}: no new worktrees until running tries end")
    if kind == "mission_completed":
        return f"{_elapsed(r)} mission {r['mission_id']} completed"
    if kind == "dispatch_finished":
        return summary_line(r)
    return None


def summary_line(r: Record) -> str:
    parts = [f"{len(r['completed'])} completed"]
    if r["failed"]:
        parts.append(f"{len(r['failed'])} failed ({', '.join(r['failed'][:5])})")
    if r["waiting"]:
        parts.append(f"{len(r['waiting'])} not run (waiting on failed work)")
    if r["requeued"]:
        parts.append(f"{len(r['requeued'])} re-queued from a lapsed lease")
    if r["interrupted"]:
        parts.append("interrupted")
    return (f"dispatch {'ok' if r['ok'] else 'incomplete'}: " + ", ".join(parts)
            + f"; {r['tries']} tries, {r['retries']} retries, "
            f"{r['elapsed_ms'] / 1000:.1f} s; mission {r['mission_status']}")


class Renderer:
    """A callable taking records (this one shows none); ``close()`` when the run is over."""

    def __call__(self, record: Record) -> None:
        return None

    def close(self) -> None:
        return None


class JsonLines(Renderer):
    def __call__(self, record: Record) -> None:
        write_json_line(record)


class PlainLines(Renderer):
    def __call__(self, record: Record) -> None:
        line = plain_line(record)
        if line is not None:
            echo(line, err=True)


class Live(Renderer):
    """A live table on the terminal: one row per sortie, an overall bar, failures."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live as RichLive

        self.console = Console(stderr=True)
        self.rows: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        self.title = ""
        self.elapsed = 0.0
        self.done = 0
        self.final: Record | None = None
        self.live = RichLive(self._render(), console=self.console, refresh_per_second=8,
                             transient=False)
        self.live.start()

    def __call__(self, r: Record) -> None:
        kind = r["event"]
        self.elapsed = r.get("elapsed_ms", 0) / 1000
        sid = r.get("sortie_id")
        if kind == "dispatch_started":
            self.title = r["title"]
            for s in r["sorties"]:
                self.rows[s["id"]] = {"title": s["title"], "state": s["status"],
                                      "worker": "", "percent": 100 if s["status"] ==
                                      "completed" else 0, "try": ""}
        elif sid is not None:
            row = self.rows.setdefault(sid, {"title": r.get("title", ""), "state": "",
                                             "worker": "", "percent": 0, "try": ""})
            if kind == "sortie_started":
                row.update(state="running", worker=r["worker"], percent=0,
                           **{"try": f"{r['attempt']}/{r['tries']}"})
            elif kind == "sortie_progressed":
                row["percent"] = r["percent"]
            elif kind == "sortie_blocked":
                row["state"] = "blocked"
            elif kind == "sortie_unblocked":
                row["state"] = "running"
            elif kind == "sortie_completed":
                row.update(state="completed", percent=100)
            elif kind == "sortie_failed":
                row["state"] = "FAILED" if r.get("final") else "failed"
                self.failures.append(f"{sid}: {r.get('reason', '')}")
            elif kind == "sortie_retried":
                row["state"] = "retry"
            elif kind == "sortie_requeued":
                row["state"] = "pending"
            elif kind == "verify_started":
                row["state"] = "re-verifying" if r.get("after_merge") else "verifying"
            elif kind == "verify_failed":
                row["state"] = "verify failed"
            elif kind == "merge_queued":
                row["state"] = "merge queued"
            elif kind == "merged":
                row["state"] = "merged"
            elif kind == "merge_conflict":
                row["state"] = "conflict"
        if kind == "dispatch_finished":
            self.final = r
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        done = sum(1 for row in self.rows.values() if row["state"] in ("completed",
                                                                      "cancelled"))
        total = max(1, len(self.rows))
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("sortie", "state", "worker", "try", "done", "title"):
            table.add_column(column)
        styles = {"running": "cyan", "completed": "green", "FAILED": "bold red",
                  "failed": "red", "blocked": "yellow", "retry": "yellow"}
        shown = sorted(self.rows.items(), key=lambda kv: (
            {"running": 0, "blocked": 0, "retry": 1, "failed": 1, "FAILED": 2}.get(
                kv[1]["state"], 3)))[:30]
        for sid, row in shown:
            table.add_row(Text(sid), Text(row["state"], style=styles.get(row["state"], "")),
                          Text(clean(row["worker"])), Text(row["try"]),
                          Text(f"{row['percent']}%"), Text(short(row["title"], 50)))
        head = Text(f"{clean(self.title)}  {done}/{len(self.rows)} sorties, "
                    f"{self.elapsed:.1f}s", style="bold")
        parts: list[Any] = [head, ProgressBar(total=total, completed=done, width=60), table]
        if len(self.rows) > len(shown):
            parts.append(Text(f"... and {len(self.rows) - len(shown)} more"))
        for failure in self.failures[-5:]:
            parts.append(Text(clean(failure), style="red"))
        return Group(*parts)

    def close(self) -> None:
        self.live.stop()
        if self.final is not None:
            self.console.print(clean(summary_line(self.final)), highlight=False, markup=False)


def renderer(as_json: bool) -> Renderer:
    """The renderer for this output: JSON lines, a live display, or plain lines."""
    if as_json:
        return JsonLines()
    if sys.stderr.isatty():
        return Live()
    return PlainLines()
