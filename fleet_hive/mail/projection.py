"""The mail tables of the index, and the queries on them.

``messages`` holds one row per message (lists as JSON text); ``mail_recipients`` one row
per (recipient, message) with whether that recipient has read or acknowledged it, which
is what an inbox asks: by recipient, unread first-class, newest first. Each
``mail:<message id>`` stream that changed is re-folded whole (a message has a handful of
events).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..kernel.jsondump import compact_text
from ..kernel.jsonload import loads
from .fold import fold_message
from .model import STREAM, Message

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ProjectionTables, ReadView

COLUMNS = ("id, sender, recipients, subject, body, thread_id, mission_id, importance, "
           "time, read_by, acked_by, sortie_id, ord_clock, ord_writer, ord_n")
_M_COLUMNS = ", ".join(f"m.{c.strip()}" for c in COLUMNS.split(","))
_NEWEST = "ord_clock DESC, ord_writer DESC, ord_n DESC, id DESC"
_M_NEWEST = "m.ord_clock DESC, m.ord_writer DESC, m.ord_n DESC, m.id DESC"


class MailProjection:
    # name, version and streams are declared in the capability list (app/capabilities.py)
    tables = ("messages", "mail_recipients")
    ddl = """
    CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY,
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        mission_id TEXT,
        importance TEXT NOT NULL,
        time TEXT NOT NULL,
        read_by TEXT NOT NULL,
        acked_by TEXT NOT NULL,
        sortie_id TEXT,
        ord_clock INTEGER NOT NULL,
        ord_writer TEXT NOT NULL,
        ord_n INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS messages_thread ON messages(thread_id, ord_clock);
    CREATE INDEX IF NOT EXISTS messages_mission ON messages(mission_id, ord_clock);
    CREATE TABLE IF NOT EXISTS mail_recipients (
        name TEXT NOT NULL,
        message_id TEXT NOT NULL,
        read INTEGER NOT NULL,
        acked INTEGER NOT NULL,
        PRIMARY KEY (name, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS mail_recipients_message ON mail_recipients(message_id)
    """

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        for stream in streams:
            kind, _, message_id = stream.partition(":")
            if kind != STREAM:
                continue
            message = fold_message(view.events(stream))
            view.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            view.execute("DELETE FROM mail_recipients WHERE message_id = ?", (message_id,))
            if message is None or message.id != message_id:
                continue
            view.execute(f"INSERT INTO messages ({COLUMNS}) VALUES ({','.join('?' * 15)})",
                         row(message))
            view.executemany("INSERT OR REPLACE INTO mail_recipients VALUES (?, ?, ?, ?)",
                             [(n, message.id, int(message.is_read_by(n)),
                               int(n in message.acked_by)) for n in message.to])


PROJECTION = MailProjection()


def _dump(items: Sequence[str]) -> str:
    return compact_text(list(items))


def row(m: Message) -> tuple[Any, ...]:
    return (m.id, m.sender, _dump(m.to), m.subject, m.body, m.thread_id, m.mission_id,
            m.importance, m.time, _dump(m.read_by), _dump(m.acked_by), m.sortie_id, *m.order)


def _message(r: Sequence[Any]) -> Message:
    return Message(id=r[0], sender=r[1], to=loads(r[2]), subject=r[3], body=r[4],
                   thread_id=r[5], mission_id=r[6], importance=r[7], time=r[8],
                   read_by=loads(r[9]), acked_by=loads(r[10]), sortie_id=r[11],
                   order=(r[12], r[13], r[14]))


def _decode(rows: list[Any]) -> list[Message]:
    return [_message(r) for r in rows]


# -- queries -------------------------------------------------------------------------------
def inbox(reads: ReadView, name: str, *, unread: bool = False, limit: int | None = None,
          catch_up: bool = True) -> list[Message]:
    """``name``'s messages, newest first (only those it has not read, with ``unread``)."""
    where = " AND r.read = 0" if unread else ""
    cap = "" if limit is None else f" LIMIT {int(limit)}"
    out: list[Message] = reads.read(
        f"SELECT {_M_COLUMNS} FROM mail_recipients r JOIN messages m ON m.id = r.message_id "
        f"WHERE r.name = ?{where} ORDER BY {_M_NEWEST}{cap}", (name,), catch_up=catch_up,
        decode=_decode)
    return out


def unread_count(reads: ReadView, name: str, *, catch_up: bool = True) -> int:
    rows = reads.read("SELECT count(*) FROM mail_recipients WHERE name = ? AND read = 0",
                      (name,), catch_up=catch_up)
    return int(rows[0][0])


def get(reads: ReadView, message_id: str, *, catch_up: bool = True) -> Message | None:
    found: list[Message] = reads.read(f"SELECT {COLUMNS} FROM messages WHERE id = ?",
                                      (message_id,), catch_up=catch_up, decode=_decode)
    return found[0] if found else None


def by_prefix(reads: ReadView, prefix: str, *, catch_up: bool = True) -> list[str]:
    return [r[0] for r in reads.read(
        "SELECT id FROM messages WHERE id >= ? AND id < ? ORDER BY id LIMIT 11",
        (prefix, prefix + "~"), catch_up=catch_up)]


def thread(reads: ReadView, thread_id: str, *, catch_up: bool = True) -> list[Message]:
    """A thread's messages, oldest first."""
    out: list[Message] = reads.read(
        f"SELECT {COLUMNS} FROM messages WHERE thread_id = ? "
        "ORDER BY ord_clock, ord_writer, ord_n, id", (thread_id,), catch_up=catch_up,
        decode=_decode)
    return out


def of_mission(reads: ReadView, mission_id: str, *, limit: int | None = None,
               catch_up: bool = True) -> list[Message]:
    """A mission's messages, newest first."""
    cap = "" if limit is None else f" LIMIT {int(limit)}"
    out: list[Message] = reads.read(
        f"SELECT {COLUMNS} FROM messages WHERE mission_id = ? ORDER BY {_NEWEST}{cap}",
        (mission_id,), catch_up=catch_up, decode=_decode)
    return out


def every(reads: ReadView, *, catch_up: bool = True) -> list[Message]:
    out: list[Message] = reads.read(f"SELECT {COLUMNS} FROM messages ORDER BY id",
                                    catch_up=catch_up, decode=_decode)
    return out
