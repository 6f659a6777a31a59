"""Schemas stay in step with the models; resources ship inside a built wheel; upcasting."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fleet_hive.app import schemas
from fleet_hive.events.envelope import Event
from fleet_hive.events.upcasting import UPCASTERS, upcaster
from fleet_hive.kernel.resources import read_text, source_dir
from tests.support import PROJECT


def test_exported_schemas_match_the_models():
    stale = schemas.drift(source_dir("schemas"))
    assert stale == [], f"run `python -m fleet_hive.app.schemas`; stale: {stale}"


def test_drift_is_detected(tmp_path: Path):
    schemas.write(tmp_path)
    assert schemas.drift(tmp_path) == []
    target = tmp_path / "events" / "note_added.schema.json"
    target.write_text(target.read_text().replace('"text"', '"txt"'))
    (tmp_path / "events" / "gone_away.schema.json").write_text("{}")
    assert sorted(schemas.drift(tmp_path)) == ["events/gone_away.schema.json",
                                               "events/note_added.schema.json"]


def test_resources_load_from_a_built_wheel(tmp_path: Path):
    out = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(PROJECT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("fleet_hive-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for kind in ("schemas", "templates", "hooks"):
        assert any(n.startswith(f"fleet_hive/_resources/{kind}/") for n in names), kind
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import fleet_hive, fleet_hive.kernel.resources as r, json;"
        f"assert fleet_hive.__file__.startswith({str(site)!r}), fleet_hive.__file__;"
        "d = r.resource_dir('schemas');"
        f"assert str(d).startswith({str(site)!r}), str(d);"
        "print(json.loads(r.read_text('schemas', 'envelope.schema.json'))['title'])"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fleet-hive event envelope"


def test_resources_load_from_the_source_tree():
    assert "envelope" in read_text("schemas", "envelope.schema.json")
    with pytest.raises(ValueError):
        read_text("nonsense", "x")


def test_old_versions_are_upcast_on_read():
    @upcaster("note_added", 0)
    def v0_to_v1(data):
        return {"text": data.pop("body")}

    try:
        old = {"id": "01X", "type": "note_added", "stream": "s:1", "clock": 1, "writer": "w",
               "n": 1, "time": "2026-01-01T00:00:00.000000Z", "actor": "a",
               "schema_version": 0, "data": {"body": "old shape"}}
        event = Event.from_dict(old)
        assert event.data == {"text": "old shape"} and event.schema_version == 1
        assert old["data"] == {"body": "old shape"}, "the stored dict is not modified"
    finally:
        del UPCASTERS[("note_added", 0)]
