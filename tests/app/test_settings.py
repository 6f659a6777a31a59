"""``.fleet/config.yaml`` through the remembered settings (:mod:`fleet_hive.app.settings`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from fleet_hive.app.config import load_config
from fleet_hive.app.settings import Settings, load
from fleet_hive.kernel.errors import InvalidInputError


def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "config.yaml", tmp_path / "cache" / "config.json"


def test_the_remembered_settings_equal_the_validated_ones(tmp_path: Path) -> None:
    config, cache = paths(tmp_path)
    config.write_text("durability: none\nsegment_max_bytes: 8192\nauto_commit: true\n")
    first = load(config, cache)  # the slow way, then remembered
    assert cache.exists()
    second = load(config, cache)
    assert isinstance(second, Settings)
    assert second == load_config(config) == first
    assert (second.durability, second.segment_max_bytes, second.auto_commit) == \
        ("none", 8192, True)


def test_an_edit_is_seen_at_once(tmp_path: Path) -> None:
    config, cache = paths(tmp_path)
    config.write_text("durability: none\n")
    assert load(config, cache).durability == "none"
    config.write_text("durability: fsync\n")
    assert load(config, cache).durability == "fsync"
    config.unlink()
    assert load(config, cache).durability == "fsync"  # the default


def test_a_malformed_config_fails_every_time_with_the_same_message(tmp_path: Path) -> None:
    config, cache = paths(tmp_path)
    config.write_text("durability: sometimes\n")
    messages = set()
    for _ in range(2):
        with pytest.raises(InvalidInputError) as e:
            load(config, cache)
        messages.add(e.value.message)
    assert len(messages) == 1 and "durability" in messages.pop()
    assert not cache.exists()


@pytest.mark.parametrize("junk", [b"", b"{", b"[]", b'{"key": 1, "values": {}}',
                                  b'{"key": [1, [0, 0], "x"], "values": []}'])
def test_a_damaged_or_foreign_cache_is_never_trusted(tmp_path: Path, junk: bytes) -> None:
    config, cache = paths(tmp_path)
    config.write_text("durability: none\n")
    cache.parent.mkdir()
    cache.write_bytes(junk)
    assert load(config, cache).durability == "none"
    assert orjson.loads(cache.read_bytes())["values"]["durability"] == "none"


def test_a_cache_made_for_other_text_is_not_used(tmp_path: Path) -> None:
    config, cache = paths(tmp_path)
    config.write_text("durability: none\n")
    load(config, cache)
    record = orjson.loads(cache.read_bytes())
    record["values"]["durability"] = "fsync"  # what the cache says, for this very text
    cache.write_bytes(orjson.dumps(record))
    assert load(config, cache).durability == "fsync"  # trusted: same text, same model
    config.write_text("durability: none\n# edited\n")
    assert load(config, cache).durability == "none"


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    config, _ = paths(tmp_path)
    config.write_text("durability: none\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert load(config, blocker / "config.json").durability == "none"


def test_settings_are_read_only(tmp_path: Path) -> None:
    settings = Settings({"durability": "none", "nested": {"a": 1}})
    assert settings.nested.a == 1
    with pytest.raises(AttributeError):
        settings.durability = "fsync"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        _ = settings.missing


def test_a_write_with_remembered_settings_imports_neither_pydantic_nor_ruamel(
        hive, repo: Path) -> None:
    """The whole write path of an ordinary claim: settings, validation, append."""
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s", files=["src/a.py"])
    hive.missions.start(m.id)
    hive.close()
    config = repo / ".fleet" / "config.yaml"  # and no snapshot rendering (YAML)
    config.write_text(config.read_text().replace("every_write", "deferred"))
    prime = f"import fleet_hive; print(fleet_hive.open({str(repo)!r}).config.snapshots)"
    primed = subprocess.run([sys.executable, "-c", prime], capture_output=True, text=True)
    assert primed.stdout.strip() == "deferred"  # validated once, remembered
    code = (
        "import sys, fleet_hive\n"
        f"h = fleet_hive.open({str(repo)!r}, actor='ada')\n"
        f"h.sorties.claim({s.id!r})\n"
        "h.close()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'ruamel'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
