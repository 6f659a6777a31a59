"""The fast path (``cli/fast.py``) says exactly what click says: every invocation below runs
as a real process twice, once as usual and once with ``FLEET_HIVE_NO_FAST=1`` (all through
click), on two copies of the same repository; exit code, stdout and stderr must be equal
(after the ids and times that differ between two runs of a write are normalised)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support import git, run_cli

_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_NEW_ID = re.compile(r"\b[a-z]+-[0-9a-z]{12}\b|\b[0-9A-HJKMNP-TV-Z]{26}\b")
_SECONDS_LEFT = re.compile(r"\b\d+ ?s\b")


def _normal(text: str, repo: Path, known: set[str]) -> str:
    text = text.replace(str(repo), "<repo>")
    text = _TIME.sub("<time>", text)
    text = _NEW_ID.sub(lambda m: m.group() if m.group() in known else "<id>", text)
    text = re.sub(r"fleet-hive-crash-[^ )\"]+", "<crash-log>", text)
    text = re.sub(r'"(expires_in|seconds)": [0-9.]+', r'"\1": <n>', text)
    return _SECONDS_LEFT.sub("<n>s", text)


def _invocations(m: str, s1: str, s2: str, s3: str, s4: str, a_file: str,
                 ) -> list[tuple[list[str], dict[str, str]]]:
    """(argv, extra env), in order: the writes change what later reads see, alike in both."""
    bob = {"FLEET_ACTOR": "bob"}
    plain: list[list[str]] = [
        # reads, every declared command, options in different orders and spellings
        ["ready"], ["ready", "--json"], ["--json", "ready"], ["ready", "--mission", m,
                                                              "--limit", "1"],
        ["ready", "--limit=2", "--mission=" + m, "--json"], ["status"], ["status", "--json"],
        ["--json", "status", "--json"], ["lock", "check", "src/a.py"],
        ["lock", "check", "src/a.py", "docs/x.md", "--holder", "cy", "--json"],
        ["lock", "check", "--glob", "src/*", "--shared"], ["lock", "list"],
        ["lock", "list", "--json", "--holder=cy"],
        ["events", "list", "--limit", "5"], ["events", "list", "--json", "--limit=3",
                                             "--offset", "1"],
        ["events", "list", "--type", "sortie_added", "--stream", f"mission:{m}", "--json"],
        ["--json", "events", "list", "--after", "2", "--limit", "2", "--limit", "1"],
        ["events", "list", "--correlation", m, "--limit", "2"],
        ["sortie", "list"], ["sortie", "list", "--status", "pending", "--status=assigned"],
        ["sortie", "list", "--ready", "--json", "--mission", m, "--offset", "1"],
        ["sortie", "show", s2], ["sortie", "show", "--json", s2[:6]],
        ["context", m], ["context", m, "--max-bytes", "600", "--format=json"],
        ["--json", "context", m[:6], "--specialist", "bob"], ["context", m, "--max-bytes", "7"],
        ["context", m, "--format", "xml"], ["recover"], ["recover", "--json", "--mission", m],
        ["recover", "--stale-after", "soon"],
        ["mission", "show", m], ["mission", "show", m, "--json"],
        ["mission", "list"], ["mission", "list", "--label", "x", "--json"],
        ["mission", "list", "--status", "pending", "--status", "in_progress", "--limit", "5"],
        # writes
        ["--actor", "ada", "sortie", "claim", s1, "--json"],
        ["--actor=ada", "sortie", "start", s1],
        ["--actor", "ada", "sortie", "progress", s1, "--percent=40", "--note", "half"],
        ["--actor", "ada", "sortie", "progress", "--percent", "50", s1, "--json"],
        ["--actor", "bob", "sortie", "progress", s1, "--percent", "60"],  # not the claimant
        ["--actor", "ada", "sortie", "complete", s1, "--reason", "done"],
        ["lock", "release"], ["lock", "release", "docs/x.md", "--all", "--json"],
        ["sortie", "claim", "--next", s3],  # usage errors raised by the body
        ["sortie", "claim"], ["sortie", "claim", "--mission", m, s3],
        ["--json", "sortie", "claim", "--mission", m, s3],
        ["lock", "acquire", "docs/a.md", "docs/b.md", "--holder", "cy", "--ttl", "60",
         "--json"],
        ["--actor", "cy", "lock", "acquire", "--shared", "lib/**", "--reason", "reading"],
        ["lock", "acquire", "docs/a.md"],  # held by cy: exit 3
        ["lock", "check", "docs/a.md"], ["lock", "check", "docs/a.md", "--json"],
        ["events", "append", "note_added", "--stream", f"mission:{m}", "--data",
         '{"text": "hi"}'],
        ["events", "append", "--custom", "x_custom", "--stream", "mission:zz", "--json"],
        ["events", "append", "note_added", "--stream", "mission:zz", "--data", "{bad"],
        ["mission", "create", "new one", "--label", "a", "--label", "b", "--priority", "1",
         "--json"],
        ["mission", "start", m, "--json"], ["mission", "update", m, "--clear-labels"],
        ["sortie", "add", m, "another", "--file", "x.py", "--after", s2, "--json"],
        ["sortie", "cancel", s4, "--reason", "not needed"], ["sortie", "show", s4],
        ["sortie", "update", s3, "--title", "renamed", "--clear-files"],
        ["status"], ["events", "list", "--limit", "3"],
        # -- and unusual arguments
        ["sortie", "show", "--", "--weird"], ["lock", "check", "--", "-x", "--json"],
        ["sortie", "show", "-"],
        # what the fast path leaves to click
        ["ready", "--limit", "-1"], ["ready", "--limit=-1"], ["ready", "--limit", "x"],
        ["ready", "--limit"], ["ready", "--bogus"], ["ready", "extra"], ["ready", "--json=1"],
        ["sortie", "list", "--status", "nope"], ["sortie", "show"], ["sortie", "show", "a", "b"],
        ["events", "append", "note_added"], ["sortie", "progress", s2],
        ["--json", "sortie", "show"], ["mission", "list", "--offset"],
        ["sortie", "start", s2, "--actor", "ada"], ["--actor"], ["-C"], ["-C", a_file, "ready"],
        ["-C", "/nonexistent/dir", "ready"], ["--version"], ["-h"], [], ["sortie"], ["nope"],
        ["sortie", "nope"], ["sortie", "--json", "list"], ["events", "follow", "--limit", "0"],
        ["--", "ready"], ["-Cx", "ready"], ["ready", "-h"], ["mission", "-h"],
    ]
    helps = [["ready"], ["status"], ["lock"], ["lock", "acquire"], ["lock", "check"],
             ["lock", "list"], ["lock", "release"], ["lock", "renew"], ["events"],
             ["events", "list"], ["events", "append"], ["events", "follow"], ["sortie"],
             *[["sortie", c] for c in ("add", "list", "show", "update", "claim", "start",
                                       "complete", "fail", "block", "unblock", "cancel",
                                       "retry", "delete", "resolve", "progress")],
             ["mission"],
             *[["mission", c] for c in ("create", "list", "show", "update", "start",
                                        "complete", "cancel", "reopen", "delete", "resolve")]]
    table = [(argv, {}) for argv in plain]
    table += [([*h, "--help"], {}) for h in helps]
    table += [(["sortie", "claim", "--next", "--json"], bob), (["lock", "check", "docs/a.md"], bob),
              (["ready", "--json"], {"FLEET_ACTOR": ""})]
    return table


@pytest.fixture
def twin_repos(hive, repo: Path, tmp_path: Path):
    git(repo, "config", "user.name", "tester")
    m = hive.missions.create("alpha", labels=["x"], description="the first")
    s1 = hive.sorties.add(m.id, "one", files=["src/a.py"]).id
    s2 = hive.sorties.add(m.id, "two", after=[s1]).id
    s3 = hive.sorties.add(m.id, "three", files=["lib/c.py"], priority=0).id
    s4 = hive.sorties.add(m.id, "four \x1b[31mred\x1b[0m").id
    hive.reservations.acquire(["src/**"], holder="cy", reason="refactor")
    hive.index.catch_up()
    hive.close()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    twins = []
    for name in ("fast", "slow"):
        shutil.copytree(repo, tmp_path / name, symlinks=True)
        twins.append(tmp_path / name)
    return twins, (m.id, s1, s2, s3, s4, str(a_file))


def test_the_fast_path_prints_exactly_what_click_prints(twin_repos):
    (fast, slow), ids = twin_repos
    known = set(ids[:5])
    compared, differ = 0, []
    for argv, env in _invocations(*ids):
        outcomes = []
        for repo, switch in ((fast, {}), (slow, {"FLEET_HIVE_NO_FAST": "1"})):
            args = ["-C", str(repo), *argv] if argv[:1] not in (["-C"], ["--"], ["-Cx"]) \
                else argv
            result = run_cli(*args, cwd=repo, env={**env, **switch})
            outcomes.append((result.returncode, _normal(result.stdout, repo, known),
                             _normal(result.stderr, repo, known)))
        if outcomes[0] != outcomes[1]:
            differ.append((argv, *outcomes))
        compared += 1
    assert differ == [], "\n".join(map(repr, differ))
    assert compared > 100
