"""Blocker escalation: a stored ``sortie_blocked`` mails the coordinator (importance high,
one thread per sortie, the reason and the mission in it); other writes do nothing."""

from __future__ import annotations

from fleet_hive.events.envelope import Event
from fleet_hive.mail.escalation import BlockerEscalation


def _blocked(hive, reason: str = "need the API key"):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "wire the client", files=["src/client.py"])
    hive.sorties.claim(s.id, specialist="agent-1")
    hive.sorties.start(s.id, force=True)
    hive.sorties.block(s.id, reason=reason, force=True)
    return m, s


def test_a_blocked_sortie_mails_the_coordinator(hive):
    m, s = _blocked(hive)
    (msg,) = hive.mail.inbox("coordinator", unread=True)
    assert msg.importance == "high" and msg.mission_id == m.id and msg.sortie_id == s.id
    assert msg.thread_id == f"blocker-{s.id}"
    assert "wire the client" in msg.subject and s.id in msg.subject
    assert "need the API key" in msg.body and m.id in msg.body
    blocked = hive.events.query(stream=f"sortie:{s.id}", type="sortie_blocked")[0]
    sent = hive.events.query(stream=f"mail:{msg.id}")[0]
    assert sent.causation_id == blocked.id and sent.actor == blocked.actor


def test_a_second_block_of_the_sortie_goes_to_the_same_thread(hive):
    _m, s = _blocked(hive, "first")
    hive.sorties.unblock(s.id, force=True)
    hive.sorties.block(s.id, reason="second", force=True)
    thread = hive.mail.thread(f"blocker-{s.id}")
    assert [("first" in t.body, "second" in t.body) for t in thread] == [
        (True, False), (False, True)]


def test_the_coordinator_is_configurable(hive):
    text = hive.layout.config.read_text()
    assert "\ncoordinator: coordinator\n" in text  # the default file names the key
    hive.layout.config.write_text(text.replace("\ncoordinator: coordinator\n",
                                               "\ncoordinator: lead-agent\n"))
    hive.__dict__.pop("config", None)
    _blocked(hive)
    assert hive.mail.inbox("coordinator") == []
    assert len(hive.mail.inbox("lead-agent")) == 1


def test_the_brief_and_a_checkpoint_carry_the_mail_and_the_blocker(hive):
    m, s = _blocked(hive)
    hive.mail.send(["agent-1"], "try the staging key", "it is in the vault",
                   mission=m.id)
    brief = hive.recovery.brief(m.id)
    assert next(x["subject"] for x in brief["mail"]) == "try the staging key"
    info = hive.checkpoints.create(m.id)
    _, body = hive.checkpoints.show(info.id)
    assert next(x["subject"] for x in body["mail"]) == "try the staging key"
    assert [b["sortie_id"] for b in body["blockers"]] == [s.id]


def test_other_writes_never_build_the_mail_service():
    def boom():
        raise AssertionError("built the mail service for a write without a blocker")

    policy = BlockerEscalation(boom, boom)
    events = [Event(f"e{i}", t, "sortie:s-abcd", i, "w", i, "t", "a", None, None, 1, {})
              for i, t in enumerate(["sortie_claimed", "sortie_started", "message_sent"])]
    policy(events)  # nothing raised: only a type comparison per event


def test_a_failed_escalation_is_a_warning_and_the_block_stands(hive):
    def broken():
        raise RuntimeError("mail is down")

    hive.uow.policies[hive.uow.policy_index(hive._blocker_escalation)] = \
        BlockerEscalation(broken, lambda: "coordinator")
    _m, s = _blocked(hive)
    assert hive.sorties.get(s.id).status == "blocked"
    assert any("telling the coordinator failed" in w.message for w in hive.uow.warnings)
