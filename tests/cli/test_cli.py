"""The command-line contract of ``spec/cli.md`` for the log commands: JSON, errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from fleet_hive.cli import cli, main
from tests.support import PROJECT, run_cli, segment_lines


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real entry point in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture
def initialized(repo: Path, capsys) -> Path:
    code, _, _ = invoke(capsys, "-C", str(repo), "init")
    assert code == 0
    return repo


def test_init_is_idempotent_and_reports_json(repo: Path, capsys):
    code, out, _ = invoke(capsys, "-C", str(repo), "init", "--json")
    first = json.loads(out)
    assert code == 0 and first["created"] is True and first["root"] == str(repo)
    config = (repo / ".fleet" / "config.yaml").read_text()
    code, out, _ = invoke(capsys, "--json", "-C", str(repo), "init")
    second = json.loads(out)
    assert code == 0 and second["created"] is False and second["writer"] == first["writer"]
    assert (repo / ".fleet" / "config.yaml").read_text() == config
    for name in ("events", "missions", "checkpoints", "local", ".cache"):
        assert (repo / ".fleet" / name).is_dir()
    assert "local/" in (repo / ".fleet" / ".gitignore").read_text()


def test_init_outside_a_git_repository(tmp_path: Path, capsys):
    bare = tmp_path / "plain"
    bare.mkdir()
    code, out, err = invoke(capsys, "-C", str(bare), "--json", "init")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "not_a_repository"
    assert "git init" in json.loads(out)["error"]["hint"]
    assert not (bare / ".fleet").exists()
    assert err.count("\n") == 1, "one line on stderr"


@pytest.mark.parametrize("position", ["before", "after"])
def test_append_and_list_json_either_position(initialized: Path, capsys, position: str):
    args = ["events", "append", "note_added", "--stream", "mission:m1",
            "--data", '{"text": "hello"}']
    args = ["--json", *args] if position == "before" else [*args, "--json"]
    code, out, _ = invoke(capsys, "-C", str(initialized), *args)
    assert code == 0
    event = json.loads(out)
    for key in ("id", "seq", "type", "stream", "clock", "writer", "n", "time", "actor",
                "causation_id", "correlation_id", "data"):
        assert key in event
    assert event["seq"] == 1 and event["data"] == {"text": "hello"}
    code, out, _ = invoke(capsys, "-C", str(initialized), "events", "list", "--json",
                          "--stream", "mission:m1")
    listed = json.loads(out)
    assert isinstance(listed, list) and [e["id"] for e in listed] == [event["id"]]


def test_list_filters_and_pagination(initialized: Path, capsys):
    root = None
    for i in range(5):
        extra = ["--causation", root] if root else []
        code, out, _ = invoke(capsys, "-C", str(initialized), "--json", "events", "append",
                              "note_added", "--stream", f"s:{i % 2}", "--data",
                              json.dumps({"text": str(i)}), "--correlation", "corr", *extra)
        root = root or json.loads(out)["id"]
    def listed(*args):
        code, out, _ = invoke(capsys, "-C", str(initialized), "--json", "events", "list", *args)
        assert code == 0
        return [e["data"]["text"] for e in json.loads(out)]
    assert listed() == ["0", "1", "2", "3", "4"]
    assert listed("--stream", "s:1") == ["1", "3"]
    assert listed("--after", "3") == ["3", "4"]
    assert listed("--limit", "2", "--offset", "1") == ["1", "2"]
    assert listed("--causation", root) == ["1", "2", "3", "4"]
    assert listed("--correlation", "corr", "--type", "note_added", "--limit", "1") == ["0"]
    code, out, _ = invoke(capsys, "-C", str(initialized), "events", "list")
    assert code == 0 and "SEQ" in out and "note_added" in out


@pytest.mark.parametrize("args, code_name, exit_code", [
    (["events", "append", "note_added", "--stream", "s:1", "--data", "{oops"],
     "invalid_input", 1),
    (["events", "append", "note_added", "--stream", "no colon", "--data", '{"text": "x"}'],
     "invalid_input", 1),
    (["events", "append", "note_added", "--stream", "s:1", "--data", '{"text": 5}'],
     "invalid_input", 1),
    (["events", "append", "Bad-Type", "--stream", "s:1", "--data", "{}"], "invalid_input", 1),
    (["events", "append", "undefined_thing", "--stream", "s:1", "--data", "{}"],
     "invalid_input", 1),
    (["events", "append", "note_added", "--data", "{}"], "usage", 2),
    (["events", "list", "--limit", "-1"], "usage", 2),
    (["events", "nonsense"], "usage", 2),
])
def test_bad_input_one_line_error_nothing_written(initialized: Path, capsys, args, code_name,
                                                  exit_code):
    before = segment_lines(initialized)
    code, out, err = invoke(capsys, "-C", str(initialized), "--json", *args)
    assert code == exit_code
    assert json.loads(out)["error"]["code"] == code_name
    assert set(json.loads(out)["error"]) == {"code", "message", "hint"}
    if exit_code == 1:
        assert err.count("\n") == 1 and err.startswith("error: ")
    assert segment_lines(initialized) == before


def test_missing_fleet_directory(repo: Path, capsys):
    code, out, _err = invoke(capsys, "-C", str(repo), "--json", "events", "list")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "not_initialized" and "fleet-hive init" in error["hint"]
    assert not (repo / ".fleet").exists()


def test_dash_c_to_missing_directory(tmp_path: Path, capsys):
    code, out, _ = invoke(capsys, "-C", str(tmp_path / "nope"), "--json", "events", "list")
    assert code in (1, 2)
    assert "error" in json.loads(out)


def test_works_from_a_subdirectory(initialized: Path, capsys):
    sub = initialized / "deep" / "er"
    sub.mkdir(parents=True)
    code, out, _ = invoke(capsys, "-C", str(sub), "--json", "index", "status")
    assert code == 0 and json.loads(out)["path"].startswith(str(initialized))


def test_index_status_rebuild_and_verify(initialized: Path, capsys):
    invoke(capsys, "-C", str(initialized), "events", "append", "note_added", "--stream",
           "s:1", "--data", '{"text": "x"}')
    code, out, _ = invoke(capsys, "-C", str(initialized), "--json", "index", "rebuild")
    assert code == 0 and json.loads(out)["events"] == 1
    code, out, _ = invoke(capsys, "-C", str(initialized), "--json", "index", "status")
    status = json.loads(out)
    assert code == 0 and status["events"] == 1 and status["fresh"] is True
    code, out, _ = invoke(capsys, "-C", str(initialized), "--json", "verify")
    assert code == 0 and json.loads(out)["ok"] is True
    (seg,) = (initialized / ".fleet" / "events").glob("*/*.jsonl")
    with open(seg, "ab") as f:
        f.write(b"{broken}\n")
    code, out, _err = invoke(capsys, "-C", str(initialized), "verify")
    assert code == 1 and "invalid_json" in out and "FAILED" in out


def test_internal_error_exit_70_with_traceback_log(initialized: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch):
    def boom(self):
        raise RuntimeError("kaboom")

    monkeypatch.setattr("fleet_hive.index.db.Index.status", boom)
    code, out, _err = invoke(capsys, "-C", str(initialized), "--json", "index", "status")
    assert code == 70
    error = json.loads(out)["error"]
    assert error["code"] == "internal" and "kaboom" in error["message"]
    log = Path(error["hint"].removeprefix("traceback in "))
    assert "RuntimeError: kaboom" in log.read_text()
    log.unlink()


def test_actor_from_flag_and_environment(initialized: Path, capsys,
                                         monkeypatch: pytest.MonkeyPatch):
    invoke(capsys, "-C", str(initialized), "--actor", "alice", "events", "append",
           "note_added", "--stream", "s:1", "--data", '{"text": "a"}')
    monkeypatch.setenv("FLEET_ACTOR", "bob")
    invoke(capsys, "-C", str(initialized), "events", "append", "note_added", "--stream", "s:1",
           "--data", '{"text": "b"}')
    _code, out, _ = invoke(capsys, "-C", str(initialized), "--json", "events", "list")
    assert [e["actor"] for e in json.loads(out)] == ["alice", "bob"]


def test_follow_prints_new_events_as_json_lines(initialized: Path):
    follower = subprocess.Popen(
        [sys.executable, "-m", "fleet_hive", "-C", str(initialized), "events", "follow",
         "--after", "0", "--limit", "3", "--interval", "0.05", "--timeout", "60"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    for i in range(3):
        result = run_cli("-C", str(initialized), "events", "append", "note_added", "--stream",
                         "s:1", "--data", json.dumps({"text": str(i)}))
        assert result.returncode == 0, result.stderr
    out, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["data"]["text"] for e in lines] == ["0", "1", "2"]
    assert [e["seq"] for e in lines] == [1, 2, 3]


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))


def test_every_command_has_help_json_and_is_documented():
    readme = (PROJECT / "README.md").read_text()
    for path, cmd in _all_commands(cli):
        assert cmd.help and cmd.help.strip(), f"{' '.join(path)} has no help text"
        if not isinstance(cmd, click.Group):
            names = {p.name for p in cmd.params}
            assert "json_" in names or any("--json" in p.opts for p in cmd.params), path
        assert f"fleet-hive {' '.join(path)}" in readme, f"README lacks `{' '.join(path)}`"


def test_module_entry_point_and_version():
    result = run_cli("--version")
    assert result.returncode == 0 and "fleet-hive" in result.stdout
    result = run_cli("--help")
    assert result.returncode == 0 and "events" in result.stdout
