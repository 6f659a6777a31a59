"""Checkpoint files: line-per-value YAML that any YAML reader loads, hashed; tampered,
truncated and replaced files are caught; schema 1 still loads (upcast on read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_hive.checkpoints import files
from fleet_hive.formats.yaml import dump_lines, load, load_lines
from fleet_hive.index.unit_of_work import NewEvent
from fleet_hive.kernel.errors import IntegrityError
from tests.support.checkpoints import started_mission

FIXTURES = Path(__file__).parent / "fixtures"

TRICKY = ["", "plain", "a: b", "# not a comment", "- not a list", "multi\nline\n", "tab\there",
          "quote \" and \\ backslash", "yes", "no", "null", "~", "1e3", "0x10", "012",
          "é 漢字 🚀", "\x1b[31mred\x1b[0m", "\x85 next line", "\u2028 line sep", "\ufeff bom",
          "trailing space ", " leading", "{not: flow}", "[1, 2]", "&anchor *alias", "!tag"]


@pytest.mark.parametrize("text", TRICKY)
def test_line_yaml_reads_back_the_same_with_orjson_and_with_a_yaml_parser(text):
    value = {"s": text, "n": None, "i": -3, "f": 2.5, "b": False, "d": {"k": [text, 1]},
             "items": [{"t": text}, [text], text]}
    rendered = dump_lines(value)
    assert load_lines(rendered) == value
    assert load(rendered) == value  # ruamel.yaml reads the same


def test_any_other_yaml_goes_to_the_yaml_parser():
    block = "a:\n  b: 1\nc:\n  - x\n  - y\n"
    assert load_lines(block) == {"a": {"b": 1}, "c": ["x", "y"]}


def _mission_checkpoint(hive):
    mission_id, sorties = started_mission(hive, 3)
    c = hive.checkpoints.create(mission_id, note="before the edit")
    return mission_id, sorties, c, hive.root / c.path


def test_the_file_holds_the_sha256_the_event_carries(hive):
    _, _, c, path = _mission_checkpoint(hive)
    declared, body = files.split(path.read_bytes())
    (event,) = hive.events.by_type("checkpoint_created")
    assert declared == files.sha256_hex(body) == event.data["sha256"] == c.sha256
    assert load(path.read_text())["id"] == c.id  # a plain YAML reader loads the whole file


@pytest.mark.parametrize("damage", ["tamper", "truncate", "replace", "garbage"])
def test_a_damaged_checkpoint_is_refused_naming_the_newest_good_one(hive, damage):
    mission_id, _sorties, good, _ = _mission_checkpoint(hive)
    bad = hive.checkpoints.create(mission_id, note="to be damaged")
    path = hive.root / bad.path
    data = path.read_bytes()
    if damage == "tamper":  # one byte of the body, same length
        path.write_bytes(data.replace(b'"in_progress"', b'"in_progresS"', 1))
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "replace":  # consistent with itself, not with its event
        body = files.split(data)[1].replace(b"to be damaged", b"something else")
        path.write_bytes(files.HEADER + files.HASH_KEY + files.sha256_hex(body).encode()
                         + b'"\n' + body)
    else:
        path.write_bytes(b"\x00\xff not yaml {{{")
    assert not hive.checkpoints.inspect(bad).ok
    assert hive.checkpoints.newest_good(mission_id).id == good.id
    with pytest.raises(IntegrityError) as caught:
        hive.checkpoints.resume(bad.id)
    assert caught.value.exit_code == 1 and good.id in caught.value.hint
    assert hive.events.by_type("checkpoint_resumed") == []  # refused: nothing recorded


def test_a_file_with_a_valid_hash_that_does_not_parse_is_corrupt(hive):
    mission_id, _, c, path = _mission_checkpoint(hive)
    body = b"schema_version: 2\nmission: {unclosed\n"
    found = files.parse_body(body, files.sha256_hex(body))
    assert found.state == "unparseable"
    path.unlink()
    assert hive.checkpoints.inspect(c).state == "missing"
    assert hive.checkpoints.newest_good(mission_id) is None


def test_a_schema_1_checkpoint_still_loads_and_resumes(hive):
    mission = hive.missions.create("an old mission")
    sortie = hive.sorties.add(mission.id, "an old sortie", files=["src/old.py"])
    hive.missions.start(mission.id)
    checkpoint_id = "c-old0000schema1"
    text = (FIXTURES / "schema-1.yaml").read_text().format(
        checkpoint=checkpoint_id, mission=mission.id, sortie=sortie.id)
    body = text.encode()
    digest = files.sha256_hex(body)
    path = files.path_of(hive.layout, mission.id, checkpoint_id)
    files.write(path, files.HEADER + files.HASH_KEY + digest.encode() + b'"\n' + body)
    rel = path.relative_to(hive.root).as_posix()
    hive.uow.run(lambda _view: [NewEvent("checkpoint_created", f"checkpoints:{mission.id}", {
        "checkpoint_id": checkpoint_id, "mission_id": mission.id, "trigger": "manual",
        "progress": 0, "sha256": digest, "path": rel, "schema_version": 1,
        "created_at": "2026-01-02T03:04:05.000000Z"}, correlation_id=mission.id)])

    info, loaded = hive.checkpoints.show(checkpoint_id)
    assert info.schema_version == 1 and loaded["schema_version"] == 2
    assert loaded["mail"] == [] and loaded["blockers"] == []
    assert loaded["last_error"]["message"] == "the build broke"
    assert loaded["log_position"]["seq"] == 7
    report = hive.checkpoints.resume(checkpoint_id)
    assert [r["sortie_id"] for r in report.restored] == [sortie.id]
    s = hive.sorties.get(sortie.id)
    assert (s.status, s.claimed_by, s.progress) == ("in_progress", "ada", 30)


def test_a_path_in_the_log_never_names_the_file(hive):
    """The file is where the ids put it: an event from elsewhere naming another path (a
    newer or hostile writer) cannot make ``delete`` remove, or ``show`` read, that path."""
    mission = hive.missions.create("paths")
    victim = hive.root / "precious.txt"
    victim.write_text("keep me\n")
    hive.uow.run(lambda _view: [NewEvent("checkpoint_created", f"checkpoints:{mission.id}", {
        "checkpoint_id": "c-hostile00000", "mission_id": mission.id, "trigger": "manual",
        "progress": 0, "sha256": "0" * 64, "path": "precious.txt", "schema_version": 2,
        "created_at": "2026-01-02T03:04:05.000000Z"}, correlation_id=mission.id)])
    info = hive.checkpoints.get("c-hostile00000")
    assert info.path == f".fleet/checkpoints/{mission.id}/c-hostile00000.yaml"
    assert hive.checkpoints.inspect(info).state == "missing"
    hive.checkpoints.delete(info.id)
    assert victim.read_text() == "keep me\n"


def test_every_body_written_is_valid_for_the_checkpoint_model(hive):
    """Creation writes what it builds without validating it again (the write path stays
    cheap); this pins that what it builds is what ``schemas/checkpoint.schema.json`` and
    its pydantic model accept, in every state a sortie can be in."""
    import glob

    from fleet_hive.checkpoints.body import CheckpointBody

    m = hive.missions.create("every state", description="goal")
    ids = [s.id for s in hive.sorties.add_many(m.id, [
        {"title": f"s{k}", "files": [f"src/{k}/**", f"docs/{k}.md"], "specialist": "python",
         "after": [0] if k == 5 else []} for k in range(6)])]
    hive.missions.start(m.id)
    for k, sid in enumerate(ids[:5]):
        hive.sorties.claim(sid, specialist=f"agent-{k}")
    hive.sorties.start(ids[1], force=True)
    hive.sorties.progress(ids[1], 40, note="halfway, 漢字 and a\nnewline", force=True)
    hive.sorties.start(ids[2], force=True)
    hive.sorties.block(ids[2], reason="waiting on review", force=True)
    hive.sorties.start(ids[3], force=True)
    hive.sorties.fail(ids[3], reason="exit 1: Traceback ...", force=True)  # error checkpoint
    hive.reservations.acquire(["extra/file.txt"], holder="agent-0", ttl=600, reason="why")
    hive.checkpoints.create(m.id, note="manual")
    hive.checkpoints.on_exception(RuntimeError("boom"))
    paths = glob.glob(str(hive.layout.checkpoints / m.id / "*.yaml"))
    triggers = set()
    for path in paths:
        body = files.inspect(Path(path)).body
        CheckpointBody.model_validate(body)  # raises on anything the schema refuses
        triggers.add(body["trigger"])
    assert triggers == {"error", "manual"} and len(paths) >= 3
