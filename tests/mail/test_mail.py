"""Mail through the library: send, inbox, read, ack, threads, missions, prefixes, refusals;
the projection agrees with a fold of the log (verify), and survives a rebuild."""

from __future__ import annotations

import pytest

from fleet_hive.kernel.errors import InvalidInputError, NotFoundError


def test_send_inbox_read_ack(hive):
    m = hive.mail.send(["bob", "carol"], "hello", "the body", importance="high")
    assert m.sender == "tester" and m.thread_id == m.id and m.importance == "high"
    for name in ("bob", "carol"):
        (got,) = hive.mail.inbox(name, unread=True)
        assert got.to_json() == m.to_json()
    assert hive.mail.inbox("tester") == []  # the sender is not a recipient
    read = hive.mail.read(m.id[:8], by="bob")
    assert read.read_by == ["bob"]
    assert hive.mail.inbox("bob", unread=True) == [] and len(hive.mail.inbox("bob")) == 1
    acked = hive.mail.ack(m.id, by="carol")
    assert acked.acked_by == ["carol"] and acked.read_by == ["bob", "carol"]
    assert hive.mail.inbox("carol", unread=True) == []
    # reading or acking again records nothing
    before = len(hive.events.query(stream=f"mail:{m.id}"))
    hive.mail.read(m.id, by="bob")
    hive.mail.ack(m.id, by="carol")
    assert len(hive.events.query(stream=f"mail:{m.id}")) == before == 3


def test_json_shape_has_the_cli_keys(hive):
    m = hive.mail.send(["bob"], "s")
    assert set(m.to_json()) >= {"id", "from", "to", "subject", "body", "thread_id",
                                "mission_id", "importance", "time", "read_by", "acked_by"}


def test_threads_and_replies(hive):
    first = hive.mail.send(["bob"], "question")
    reply = hive.mail.send(["tester"], "answer", thread=first.id[:9])
    named = hive.mail.send(["bob"], "other", thread="design-review")
    again = hive.mail.send(["bob"], "more", thread="design-review")
    assert reply.thread_id == first.id
    assert [x.id for x in hive.mail.thread(first.id)] == [first.id, reply.id]
    assert [x.id for x in hive.mail.thread(reply.id)] == [first.id, reply.id]
    assert named.thread_id == again.thread_id == "design-review"
    assert [x.id for x in hive.mail.thread("design-review")] == [named.id, again.id]


def test_mission_by_prefix_and_newest_first(hive):
    mission = hive.missions.create("m")
    a = hive.mail.send(["bob"], "one", mission=mission.id[:6])
    b = hive.mail.send(["bob"], "two", mission=mission.id)
    assert a.mission_id == mission.id
    assert [x.id for x in hive.mail.of_mission(mission.id)] == [b.id, a.id]
    assert [x.id for x in hive.mail.inbox("bob", limit=1)] == [b.id]
    # correlated with the mission: its history shows its mail
    assert {e.type for e in hive.events.query(correlation_id=mission.id)} >= {"message_sent"}


@pytest.mark.parametrize("call, error", [
    (lambda h: h.mail.send([], "s"), InvalidInputError),
    (lambda h: h.mail.send([" "], "s"), InvalidInputError),
    (lambda h: h.mail.send(["bob"], "  "), InvalidInputError),
    (lambda h: h.mail.send(["bob"], "s", importance="urgent"), InvalidInputError),
    (lambda h: h.mail.send(["bob"], "s", thread="has space"), InvalidInputError),
    (lambda h: h.mail.send(["bob"], "s", mission="m-nosuch"), NotFoundError),
    (lambda h: h.mail.send(["bob"], "x" * 501), InvalidInputError),
    (lambda h: h.mail.read("msg-nosuch"), NotFoundError),
    (lambda h: h.mail.ack("", by="bob"), InvalidInputError),
])
def test_bad_input_is_refused_and_nothing_is_written(hive, call, error):
    before = len(hive.events.query())
    with pytest.raises(error):
        call(hive)
    assert len(hive.events.query()) == before


def test_an_ambiguous_prefix_lists_the_matches(hive):
    ids = [hive.mail.send(["bob"], f"m{i}").id for i in range(40)]
    firsts: dict[str, list[str]] = {}
    for i in ids:
        firsts.setdefault(i[:5], []).append(i)
    prefix, matches = max(firsts.items(), key=lambda kv: len(kv[1]))
    assert len(matches) > 1  # 40 ids over 32 first characters
    with pytest.raises(InvalidInputError) as info:
        hive.mail.read(prefix)
    assert info.value.code == "ambiguous_id" and matches[0] in info.value.message


def test_duplicate_recipients_are_one(hive):
    m = hive.mail.send(["bob", "bob", " bob "], "s")
    assert m.to == ["bob"]


def test_the_projection_is_the_fold_of_the_log(hive):
    from fleet_hive.app.verify import verify

    m = hive.mail.send(["bob", "carol"], "s", "b")
    hive.mail.read(m.id, by="bob")
    hive.mail.ack(m.id, by="carol")
    report = verify(hive)
    assert [p for p in report.problems if p.kind == "projection_mismatch"] == []
    before = hive.mail.get(m.id)
    hive.index.rebuild()
    assert hive.mail.get(m.id) == before
    # damage the table: verify sees it, --repair rebuilds
    hive.index.db.execute("UPDATE mail_recipients SET read = 0")
    hive.index.db.commit()
    bad = verify(hive)
    assert any(p.kind == "projection_mismatch" and "mail" in p.message for p in bad.problems)
    verify(hive, repair=True)
    assert hive.mail.inbox("bob", unread=True) == []


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "stat-polling"])
def test_inbox_wait_is_woken_by_another_process_in_both_watch_modes(hive, repo, poll):
    import sys
    import threading

    from fleet_hive.kernel.watch import Watcher
    from fleet_hive.mail import Mail
    from tests.support import run_cli

    if not poll and not sys.platform.startswith("linux"):
        pytest.skip("inotify is Linux's")
    mail = Mail(lambda: hive.uow, hive.index, actor="w",
                watch=lambda: Watcher([hive.layout.events], poll=poll))
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(mail.inbox("w", wait=20)))
    t.start()
    r = run_cli("-C", str(repo), "--actor", "lead", "mail", "send", "--to", "w",
                "--subject", "wake")
    assert r.returncode == 0, r.stderr
    t.join(30)
    assert not t.is_alive()
    (messages,) = got
    assert [m.subject for m in messages] == ["wake"]  # type: ignore[attr-defined]


def test_inbox_wait_times_out(hive):
    from fleet_hive.kernel.errors import TimeoutExpiredError

    with pytest.raises(TimeoutExpiredError) as info:
        hive.mail.inbox("nobody", wait=0.2)
    assert info.value.exit_code == 4
