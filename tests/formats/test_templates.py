"""Rendering templates: compiled templates are cached between processes, safely."""

from __future__ import annotations

import pytest

from fleet_hive.formats import templates


@pytest.fixture
def fresh_environment():
    templates._environment.cache_clear()
    yield
    templates._environment.cache_clear()


def brief_data(hive) -> dict:
    m = hive.missions.create("cached", sorties=[{"title": "a"}, {"title": "b", "after": [0]}])
    return hive.recovery.brief(m.id)


def render(data) -> str:
    from fleet_hive.checkpoints.brief import render_brief

    return render_brief(data)


def test_a_compiled_template_is_kept_for_the_next_process(hive, tmp_path, monkeypatch,
                                                          fresh_environment):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FLEET_HIVE_TEMPLATE_CACHE", str(cache))
    cache.mkdir()
    data = brief_data(hive)
    first = render(data)
    kept = list(cache.iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("fleet-hive-")
    stamp = kept[0].stat().st_mtime_ns
    templates._environment.cache_clear()  # as a new process would start
    assert render(data) == first and "cached" in first
    assert kept[0].stat().st_mtime_ns == stamp  # loaded, not compiled and written again


def test_the_cache_can_be_turned_off(hive, tmp_path, monkeypatch, fresh_environment):
    monkeypatch.setenv("FLEET_HIVE_TEMPLATE_CACHE", "off")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert templates._environment().bytecode_cache is None
    monkeypatch.setattr("tempfile.tempdir", None)
    assert "cached" in render(brief_data(hive))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("_jinja2-cache")]
