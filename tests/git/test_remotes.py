"""``fleet-hive sync`` between clones of a bare repository served on loopback by real
servers: ``git daemon`` (git://), ``git http-backend`` (smart HTTP) and ``sshd`` (ssh)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.kernel.errors import StorageError
from tests.support import bare_remote, git, run_cli
from tests.support.servers import (
    Served,
    free_port,
    git_daemon,
    serving,
    smart_http,
    ssh_server,
)


def clone(served: Served, bare: Path, path: Path, actor: str, *, url: str | None = None):
    """A clone whose origin is ``bare`` as ``served`` serves it (cloned from the path, then
    pointed at the server, with the server's git config for the clone)."""
    git(path.parent, "clone", "-q", str(bare), str(path))
    git(path, "remote", "set-url", "origin", url or served.url(bare))
    for key, value in served.git_config.items():
        git(path, "config", key, value)
    return fleet_hive.init(path, actor=actor)


@pytest.fixture(params=["git", "http", "ssh"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "served"
    root.mkdir()
    servers = {"git": lambda: git_daemon(root), "http": lambda: smart_http(root),
               "ssh": lambda: ssh_server(root, tmp_path / "ssh")}
    with serving(servers[request.param]()) as served:
        yield served


def events_and_state(hive) -> tuple[list[str], list[dict], list[dict]]:
    return (sorted(e.id for e in hive.events.iter_all()),
            [hive.missions.get(m.id).to_json() for m in hive.missions.list()],
            [s.to_json() for s in hive.sorties.list()])


def test_sync_converges_through_the_server(served: Served, tmp_path: Path):
    bare = bare_remote(served.root)
    a = clone(served, bare, tmp_path / "a", "a")
    b = clone(served, bare, tmp_path / "b", "b")
    shared = a.missions.create("shared")
    sortie = a.sorties.add(shared.id, "first sortie")
    first = a.git.sync()
    assert first.pushed and first.merge == "ahead"
    assert git(bare, "rev-parse", "main").stdout == git(a.root, "rev-parse", "HEAD").stdout

    b.missions.create("from b")
    second = b.git.sync()  # fetch through the server, merge, push through it
    assert second.merge == "merge" and second.pushed and second.fetched_events >= 2
    b.sorties.claim(sortie.id, specialist="b")
    assert b.git.sync().merge == "ahead"
    a.missions.create("from a again")
    # once through the command line, as an agent runs it
    done = run_cli("-C", str(a.root), "--json", "sync")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["merge"] == "merge"
    assert b.git.sync().merge == "fast_forward"

    assert events_and_state(a) == events_and_state(b)
    assert {m.title for m in a.missions.list()} == {"shared", "from b", "from a again"}
    assert a.sorties.get(sortie.id).to_json()["claimed_by"] == "b"
    for h in (a, b):
        assert git(h.root, "status", "--porcelain").stdout == ""
        assert git(h.root, "rev-parse", "HEAD").stdout == git(bare, "rev-parse", "main").stdout
    assert git(bare, "fsck", "--no-dangling").returncode == 0
    assert a.git.sync().merge == "up_to_date"


def test_sync_of_a_new_branch_through_the_server(served: Served, tmp_path: Path):
    bare = bare_remote(served.root)
    a = clone(served, bare, tmp_path / "a", "a")
    git(a.root, "switch", "-q", "-c", "feature")
    a.missions.create("on a branch")
    result = a.git.sync()
    assert result.merge == "new_branch" and result.pushed
    assert git(bare, "rev-parse", "feature").stdout == git(a.root, "rev-parse", "HEAD").stdout


def test_http_credentials_from_the_remote_url(tmp_path: Path):
    """A server that wants HTTP basic auth: the user and password of the remote's URL (as
    git keeps them in the clone's config) are sent; without them the sync says so."""
    root = tmp_path / "served"
    with serving(smart_http(root, credentials=("ada", "s3cret"))) as served:
        bare = bare_remote(root)
        host = served.base_url.removeprefix("http://")
        a = clone(served, bare, tmp_path / "a", "a",
                  url=f"http://ada:s3cret@{host}/remote.git")
        a.missions.create("authenticated")
        assert a.git.sync().pushed
        git(a.root, "remote", "add", "wrong", f"http://ada:s3cret@{host}/missing.git")
        with pytest.raises(StorageError) as missing:  # names the remote, never its password
            a.git.sync("wrong")
        assert "ada:***@" in str(missing.value) and "s3cret" not in str(missing.value)
        b = clone(served, bare, tmp_path / "b", "b")  # no credentials
        with pytest.raises(StorageError) as refused:
            b.git.sync()
        assert "cannot fetch from" in str(refused.value)
        assert "s3cret" not in str(refused.value)
        done = run_cli("-C", str(b.root), "sync")
        assert done.returncode == 1, done.stderr

        # git's `store` credential helper: the password in ~/.git-credentials
        git(b.root, "config", "credential.helper", "store")
        (Path.home() / ".git-credentials").write_text(f"http://ada:s3cret@{host.split(':')[0]}\n")
        a.missions.create("for b to fetch")
        assert a.git.sync().pushed
        b.close()
        assert fleet_hive.open(b.root, actor="b").git.sync().merge == "fast_forward"


@pytest.mark.parametrize("scheme", ["git", "http", "ssh"])
def test_an_unreachable_server_is_a_plain_error(scheme: str, tmp_path: Path):
    port = free_port()  # nothing listens there
    url = {"git": f"git://127.0.0.1:{port}/remote.git",
           "http": f"http://127.0.0.1:{port}/remote.git",
           "ssh": f"ssh://nobody@127.0.0.1:{port}/remote.git"}[scheme]
    repo = tmp_path / "a"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "remote", "add", "origin", url)
    git(repo, "config", "core.sshCommand", "ssh -o BatchMode=yes -o ConnectTimeout=5")
    fleet_hive.init(repo, actor="a").close()
    done = run_cli("-C", str(repo), "--json", "sync")
    assert done.returncode == 1, (done.stdout, done.stderr)
    error = json.loads(done.stdout)["error"]
    assert "cannot fetch from" in error["message"]


def test_ssh_command_from_git_ssh_command(tmp_path: Path):
    """``GIT_SSH_COMMAND`` (git's variable) names the ssh command when the clone's config has
    no ``core.sshCommand``."""
    root = tmp_path / "served"
    root.mkdir()
    with serving(ssh_server(root, tmp_path / "ssh")) as served:
        bare = bare_remote(root)
        a = clone(served, bare, tmp_path / "a", "a")
        command = served.git_config["core.sshCommand"]
        git(a.root, "config", "--unset", "core.sshCommand")
        a.missions.create("through GIT_SSH_COMMAND")
        a.close()
        done = run_cli("-C", str(a.root), "--json", "sync",
                       env={"GIT_SSH_COMMAND": command})
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["pushed"]
        assert git(bare, "rev-parse", "main").stdout == git(a.root, "rev-parse", "HEAD").stdout


CLONES, EVENTS = 10, 1000


def sync_all(clones: list) -> list[tuple[int, dict]]:
    """``fleet-hive sync`` in every clone at once, as processes: (exit code, JSON output)."""
    procs = [subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(h.root), "--json",
                               "sync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for h in clones]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode in (0, 3), out + err
        results.append((p.returncode, json.loads(out)))
    return results


@pytest.mark.slow
def test_ten_clones_of_a_thousand_events_converge_through_smart_http(tmp_path: Path):
    """Ten clones each write 1,000 events, then all sync at once through smart HTTP (real
    processes racing for the remote branch), then in turn until every clone is up to date:
    all hold the same events, the same state and the remote's commit."""
    root = tmp_path / "served"
    with serving(smart_http(root)) as served:
        bare = bare_remote(root)
        clones = [clone(served, bare, tmp_path / f"c{i}", f"c{i}") for i in range(CLONES)]
        for h in clones:
            mission = h.missions.create(f"mission of {h.actor}")
            sortie = h.sorties.add(mission.id, "its sortie")
            h.sorties.claim(sortie.id, specialist=h.actor)
            h.sorties.start(sortie.id)
            h.sorties.complete(sortie.id)
            notes = EVENTS - sum(1 for _ in h.events.iter_all())
            for start in range(0, notes, 100):
                h.events.append_batch([
                    {"type": "note_added", "stream": f"note:{h.actor}-{(start + k) % 13}",
                     "data": {"text": f"event {start + k} of {h.actor}"}}
                    for k in range(min(100, notes - start))])
            h.close()
        # all at once: 0, or 3 for a clone that lost the race for the remote branch 6 times
        assert {code for code, _ in sync_all(clones)} <= {0, 3}
        for h in clones:  # in turn: the last one then has everything
            done = run_cli("-C", str(h.root), "--json", "sync", timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        # the others fast-forward to it, all at once (nothing left to push: no race)
        for code, out in sync_all(clones[:-1]):
            assert code == 0 and out["merge"] in ("fast_forward", "up_to_date")
            assert not out["pushed"]
        reference = events_and_state(clones[0])
        assert len(reference[0]) == CLONES * EVENTS
        assert len(reference[1]) == CLONES
        assert all(s["status"] == "completed" for s in reference[2])
        head = git(bare, "rev-parse", "main").stdout
        for h in clones:
            assert events_and_state(h) == reference
            assert git(h.root, "rev-parse", "HEAD").stdout == head
            assert git(h.root, "status", "--porcelain").stdout == ""
        assert git(bare, "fsck", "--no-dangling").returncode == 0


def test_ssh_scp_like_url(tmp_path: Path):
    """``user@host:path``, the form git clone prints for ssh (the port in the ssh command)."""
    root = tmp_path / "served"
    root.mkdir()
    with serving(ssh_server(root, tmp_path / "ssh")) as served:
        bare = bare_remote(root)
        user_host, port = served.base_url.removeprefix("ssh://").split("/")[0].rsplit(":", 1)
        a = clone(served, bare, tmp_path / "a", "a", url=f"{user_host}:{bare}")
        command = served.git_config["core.sshCommand"]
        git(a.root, "config", "core.sshCommand", f"{command} -p {port}")
        a.missions.create("over scp-like ssh")
        assert a.git.sync().pushed
        assert git(bare, "rev-parse", "main").stdout == git(a.root, "rev-parse", "HEAD").stdout
