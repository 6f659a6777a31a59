"""One exclusive reservation granted twice: two clones of one bare remote each acquire
``src/core.py`` offline, then sync. The earlier in total order keeps it; both are marked
in ``lock list``, and the conflict is in ``status`` and ``verify`` until one is released."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.app.verify import verify
from fleet_hive.reservations.model import EXCLUSIVE, SHARED, Reservation, contests
from tests.support import bare_remote, git, run_cli


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    bare = bare_remote(tmp_path)
    out = []
    for name in ("a", "b"):
        path = tmp_path / name
        git(tmp_path, "clone", "-q", str(bare), str(path))
        fleet_hive.init(path, actor=name).close()
        out.append(path)
    return out[0], out[1]


def cli(repo: Path, *args: str) -> dict | list:
    done = run_cli("-C", str(repo), *args, "--json")
    return json.loads(done.stdout or done.stderr)


def test_two_holders_of_one_exclusive_reservation_are_surfaced(clones: tuple[Path, Path]):
    a, b = clones
    for repo, holder in ((a, "ada"), (b, "bob")):
        done = run_cli("-C", str(repo), "lock", "acquire", "src/core.py", "--holder", holder)
        assert done.returncode == 0, done.stderr
    for repo in (a, b, a):
        done = run_cli("-C", str(repo), "sync")
        assert done.returncode == 0, done.stdout + done.stderr
    keepers = set()
    for repo in (a, b):
        listed = cli(repo, "lock", "list")
        assert len(listed) == 2
        marks = {r["holder"]: r["conflict"]["status"] for r in listed}
        assert sorted(marks.values()) == ["conflicting", "keeps"]
        keeper = next(h for h, s in marks.items() if s == "keeps")
        keepers.add(keeper)
        human = run_cli("-C", str(repo), "lock", "list").stdout
        assert "exclusive !" in human and f"{keeper} keeps it" in human
        status = cli(repo, "status")
        (c,) = [c for c in status["conflicts"] if c["kind"] == "reservation"]
        assert {f["actor"] for f in c["facts"]} == {"ada", "bob"}
        human = run_cli("-C", str(repo), "status").stdout
        section = human.split("Conflicts\n", 1)[1].split("\n\n", 1)[0]
        assert "src/core.py" in section and "reservation" in section, human
        with fleet_hive.open(repo) as hive:
            problems = [p for p in verify(hive).problems if p.kind == "reservation_conflict"]
        assert len(problems) == 1 and problems[0].severity == "warning"
    (keeper,) = keepers  # both clones agree on who keeps it
    loser = ({"ada", "bob"} - keepers).pop()
    repo = a
    # the keeper may go on editing; the other is kept out and should release
    ok = run_cli("-C", str(repo), "lock", "check", "src/core.py", "--holder", keeper)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = run_cli("-C", str(repo), "lock", "check", "src/core.py", "--holder", loser)
    assert refused.returncode == 3
    third = run_cli("-C", str(repo), "lock", "acquire", "src/core.py", "--holder", "cy")
    assert third.returncode == 3
    done = run_cli("-C", str(repo), "lock", "release", "src/core.py", "--holder", loser)
    assert done.returncode == 0, done.stderr
    listed = cli(repo, "lock", "list")
    assert [(r["holder"], "conflict" in r) for r in listed] == [(keeper, False)]
    assert not [c for c in cli(repo, "status")["conflicts"] if c["kind"] == "reservation"]


def lease(rid: str, path: str, holder: str, clock: int, mode: str = EXCLUSIVE) -> Reservation:
    return Reservation(rid, path, holder, mode, "t", "t", None, 60.0, "q", f"e{rid}", 1e12,
                       clock, "w", clock)


def test_contests_are_every_pair_that_could_not_coexist():
    leases = [lease("1", "src/**", "ada", 3), lease("2", "src/a.py", "bob", 1),
              lease("3", "docs/x.md", "cy", 2), lease("4", "src/b.py", "ada", 4),
              lease("5", "docs/x.md", "dee", 5, SHARED), lease("6", "docs/x.md", "eve", 6,
                                                                SHARED)]
    found = [(c.kept.id, c.lost.id) for c in contests(leases)]
    assert found == [("2", "1"), ("3", "5"), ("3", "6")]
    assert contests([lease("1", "*.py", "ada", 1), lease("2", "a/b.py", "bob", 2)]) == []
    (c,) = contests([lease("1", "**/*.py", "ada", 2), lease("2", "a/b.py", "bob", 1)])
    assert (c.kept.id, c.lost.id) == ("2", "1")
