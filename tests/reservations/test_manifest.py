"""The lock manifest, ``.fleet/local/reservations.json``: equal to the live state after
every reservation change, deterministic, safe to delete, never read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.reservations import Reservations
from fleet_hive.reservations import projection as q
from fleet_hive.reservations.checks import folded
from fleet_hive.reservations.manifest import Manifest, render
from tests.support import git

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def res(hive, clock: Clock) -> Reservations:
    return Reservations(hive.uow, hive.index, root=hive.root, now=clock)


def manifest(hive) -> dict:
    return json.loads(hive.layout.reservation_manifest.read_text())


def listed(hive) -> list[tuple[str, str, str, str]]:
    return [(e["path"], e["holder"], e["mode"], e["expires_at"])
            for e in manifest(hive)["reservations"]]


def assert_current(hive) -> None:
    """The file's bytes are those of the table, and the table is a fold of the log."""
    hive.index.catch_up()
    leases, _ = folded(hive.index)
    assert hive.layout.reservation_manifest.read_bytes() == render(leases.values())
    assert sorted(leases) == sorted(r.id for r in q.rows(hive.index))


def test_the_manifest_follows_every_change(hive, res: Reservations, clock: Clock):
    path = hive.layout.reservation_manifest
    assert not path.exists()  # nothing reserved yet, nothing written
    res.acquire(["src/**", "README"], holder="ada", ttl=60, reason="refactor")
    res.acquire("docs/a.md", holder="bob", ttl=600, shared=True)
    assert_current(hive)
    doc = manifest(hive)
    assert list(doc) == ["note", "format", "reservations"] and doc["format"] == 1
    assert "never reads it back" in doc["note"] and "expires_at" in doc["note"]
    assert doc["reservations"][0] == {
        "path": "README", "glob": False, "holder": "ada", "mode": "exclusive",
        "expires_at": "2027-01-15T08:01:00.000000Z", "reason": "refactor",
        "id": doc["reservations"][0]["id"]}
    assert [e["path"] for e in doc["reservations"]] == ["README", "docs/a.md", "src/**"]
    clock.t += 30
    res.renew("ada", ttl=120)
    assert_current(hive)
    assert listed(hive)[0][3] == "2027-01-15T08:02:30.000000Z"
    res.release("README", holder="ada")
    assert_current(hive)
    assert [p for p, *_ in listed(hive)] == ["docs/a.md", "src/**"]
    # a lapsed lease lingers until a write records its expiry; readers compare expires_at
    clock.t += 200
    assert res.check("src/x.py").ok
    assert [p for p, *_ in listed(hive)] == ["docs/a.md", "src/**"]
    assert [r.path for r in res.list()] == ["docs/a.md"]  # the sweep records the expiry
    assert_current(hive)
    assert [p for p, *_ in listed(hive)] == ["docs/a.md"]
    res.release_all("bob")
    assert_current(hive)
    assert manifest(hive)["reservations"] == []


def test_sorted_by_path_holder_and_id(hive, res: Reservations):
    for holder in ("zed", "amy", "kim"):
        res.acquire(["b.txt", "a.txt"], holder=holder, shared=True)
    keys = [(e["path"], e["holder"], e["id"]) for e in manifest(hive)["reservations"]]
    assert keys == sorted(keys) and len(keys) == 6


def test_deleting_it_is_safe(hive, res: Reservations):
    res.acquire("src/a.py", holder="ada")
    hive.layout.reservation_manifest.unlink()
    assert not res.check("src/a.py").ok  # fleet-hive never needed it
    assert [r.path for r in res.list()] == ["src/a.py"]
    res.acquire("src/b.py", holder="bob")
    assert_current(hive)
    assert [p for p, *_ in listed(hive)] == ["src/a.py", "src/b.py"]


def test_a_foreign_edit_is_overwritten_and_never_read(hive, res: Reservations):
    from fleet_hive.reservations import ReservationConflictError

    res.acquire("src/a.py", holder="ada")
    forged = {"reservations": [{"path": "src/b.py", "holder": "mallory", "mode": "exclusive",
                                "expires_at": "2999-01-01T00:00:00.000000Z"}]}
    hive.layout.reservation_manifest.write_text(json.dumps(forged))
    assert res.check("src/b.py").ok  # the forged entry counts for nothing
    with pytest.raises(ReservationConflictError):
        res.acquire("src/a.py", holder="bob")  # nor does the missing real one
    assert manifest(hive) == forged  # a refusal changed no lease: the file is left alone
    res.acquire("src/b.py", holder="bob")
    assert_current(hive)
    assert [(p, h) for p, h, *_ in listed(hive)] == [("src/a.py", "ada"), ("src/b.py", "bob")]


def test_skipped_when_unchanged(hive, res: Reservations):
    res.acquire("src/a.py", holder="ada")
    path = hive.layout.reservation_manifest
    before = path.stat()
    policy = Manifest(hive.layout, hive.index)  # a fresh process: nothing in memory
    assert policy.update() is False  # the file is already right: not rewritten
    assert policy.update(["anything"]) is False  # nor when the table has not changed
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_other_writers_changes_are_picked_up(hive, res: Reservations, repo: Path,
                                            clock: Clock):
    """Another writer (a second Hive, as another process would be) changes the table
    behind this one's cached copy."""
    res.acquire("a.txt", holder="ada")
    with fleet_hive.open(repo) as other:
        theirs = Reservations(other.uow, other.index, root=other.root, now=clock)
        theirs.acquire("b.txt", holder="bob")
        theirs.release("a.txt", holder="ada")
    res.acquire("c.txt", holder="cyd")
    assert_current(hive)
    assert [p for p, *_ in listed(hive)] == ["b.txt", "c.txt"]


def test_merged_reservations_appear_at_the_next_write(hive, res: Reservations, repo: Path):
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "fleet")
    other = repo.parent / "other"
    git(repo.parent, "clone", "-q", str(repo), str(other))
    with fleet_hive.open(other) as theirs:
        theirs.reservations.acquire("src/**", holder="remote", ttl=3600)
        theirs_bytes = theirs.layout.reservation_manifest.read_bytes()
    git(other, "add", ".fleet")
    git(other, "commit", "-q", "-m", "reserve src")
    res.acquire("docs/a.md", holder="local")
    git(repo, "pull", "-q", "--no-rebase", str(other), "main")
    assert [h for _, h, *_ in listed(hive)] == ["local"]  # derived: behind until a write
    res.release("docs/a.md", holder="local")
    assert_current(hive)
    # deterministic: the same live leases give the same bytes in both clones
    assert hive.layout.reservation_manifest.read_bytes() == theirs_bytes


def test_the_digest_identifies_the_table(hive, res: Reservations):
    res.acquire(["a", "b/**"], holder="h1", ttl=100)
    res.acquire("c", holder="h2", shared=True)
    res.release("a", holder="h1")
    hive.index.catch_up()
    live = q.rows(hive.index)
    assert q.digest(hive.index) == q.digest_of(live) != 0
    hive.index.rebuild()
    assert q.digest(hive.index) == q.digest_of(live)
    res.release_all("h1")
    res.release_all("h2")
    assert q.digest(hive.index) == 0


def test_a_write_rereads_only_the_leases_it_touched(hive, res: Reservations):
    """Among many live leases a write costs one digest query and the touched rows, not a
    scan of the table (that is what keeps the manifest cheap on the write path)."""
    seen: list[str] = []

    class Counting:
        def read(self, sql, args=(), *, catch_up=True):
            seen.append(sql)
            return hive.index.read(sql, args, catch_up=catch_up)

        def catch_up(self) -> int:
            return hive.index.catch_up()

    hive.uow.add_policy(Manifest(hive.layout, Counting()))
    res.acquire([f"src/f{i}.py" for i in range(50)], holder="ada")  # its first write: a scan
    assert any("FROM reservations" in sql and "WHERE" not in sql for sql in seen)
    seen.clear()
    res.acquire("docs/a.md", holder="bob")
    res.release("docs/a.md", holder="bob")
    assert seen and not any("FROM reservations" in sql and "WHERE" not in sql for sql in seen)
    assert_current(hive)
