"""File reservations through the library (``hive.reservations``), in one process.

A fake clock drives expiry so nothing sleeps long; the real-process races, kills and
waits are in ``test_reservations_processes.py``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleet_hive
from fleet_hive.kernel import globs
from fleet_hive.kernel.clock import epoch
from fleet_hive.kernel.errors import ConflictError, InvalidInputError, NotFoundError
from fleet_hive.reservations import ReservationConflictError, Reservations, ReservationTimeoutError
from fleet_hive.reservations.projection import literal_prefix
from tests.support import segment_lines

T0 = 1_800_000_000.0


class Clock:
    """A settable clock for ``Reservations(now=...)``."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def res(hive, clock: Clock) -> Reservations:
    return on_clock(hive, clock)


def on_clock(hive, clock: Clock) -> Reservations:
    """The use cases over ``hive``'s ports, with a fake clock."""
    return Reservations(hive.uow, hive.index, root=hive.root, now=clock)


def types_of(hive, prefix: str = "reservation") -> list[str]:
    return [e.type for e in hive.events.query() if e.type.startswith(prefix)]


def test_acquire_shape_and_list(hive, res: Reservations, clock: Clock):
    (r,) = res.acquire("src/a.py", holder="h1", ttl=60, reason="refactor")
    d = r.to_json()
    assert {k: d[k] for k in ("path", "holder", "mode", "reason")} == {
        "path": "src/a.py", "holder": "h1", "mode": "exclusive", "reason": "refactor"}
    assert d["acquired_at"] == "2027-01-15T08:00:00.000000Z"
    assert d["expires_at"] == "2027-01-15T08:01:00.000000Z"
    assert [x.id for x in res.list()] == [r.id]
    assert [x.id for x in res.active()] == [r.id]
    assert res.list(holder="h2") == []
    assert [x.path for x in res.list(path="src/**")] == ["src/a.py"]
    assert res.list(path="docs/**") == []
    (ev,) = hive.events.by_type("reservation_acquired")
    assert ev.stream == f"reservation:{r.id}" and ev.data["holder"] == "h1"
    assert r.event_id == ev.id


# Pattern pairs and whether some path matches both (globs.overlaps decides).
OVERLAP_TABLE = [
    ("src/a.py", "src/a.py", True),
    ("src/a.py", "src/b.py", False),
    ("src/*.py", "src/a.py", True),
    ("src/*.py", "src/sub/a.py", False),
    ("src/**", "src/sub/deep/a.py", True),
    ("src/**", "docs/**", False),
    ("src/**/test_*.py", "src/*.py", True),
    ("src/**/*.md", "src/**/*.py", False),
    ("**", "README", True),
    ("src/[ab].py", "src/c.py", False),
    ("src/[ab].py", "src/?.py", True),
    ("docs/*.md", "docs/**/index.md", True),
]
MODES = [(False, False), (False, True), (True, False), (True, True)]  # (first shared, second)


@pytest.mark.parametrize(("a", "b", "overlap"), OVERLAP_TABLE)
def test_overlap_table_with_modes_both_directions(hive, res: Reservations, a: str, b: str,
                                                  overlap: bool):
    for first, second in ((a, b), (b, a)):
        for first_shared, second_shared in MODES:
            res.acquire(first, holder="h1", shared=first_shared, ttl=60)
            conflict = overlap and not (first_shared and second_shared)
            if conflict:
                with pytest.raises(ReservationConflictError) as info:
                    res.acquire(second, holder="h2", shared=second_shared, ttl=60)
                assert info.value.exit_code == 3
                assert info.value.conflicts[0].reservation.holder == "h1"
                assert "h1" in info.value.message
                assert res.list(holder="h2") == []
            else:
                (got,) = res.acquire(second, holder="h2", shared=second_shared, ttl=60)
                assert got.mode == ("shared" if second_shared else "exclusive")
            # check() gives the same answer without writing anything
            before = len(segment_lines(hive.root))
            result = res.check([second], holder="h2", shared=second_shared, patterns=True)
            assert result.ok == (not conflict)
            assert len(segment_lines(hive.root)) == before
            res.release_all("h1")
            res.release_all("h2")
            assert res.active() == []


def test_multi_path_acquire_is_all_or_nothing(hive, res: Reservations):
    res.acquire("src/b.py", holder="h1")
    with pytest.raises(ReservationConflictError) as info:
        res.acquire(["src/a.py", "src/b.py", "docs/x.md"], holder="h2")
    assert [c.requested for c in info.value.conflicts] == ["src/b.py"]
    assert res.list(holder="h2") == []
    assert types_of(hive).count("reservation_acquired") == 1
    (refused,) = hive.events.by_type("reservation_refused")
    assert refused.data["why"] == "conflict"
    assert refused.data["paths"] == ["src/a.py", "src/b.py", "docs/x.md"]
    got = res.acquire(["src/a.py", "docs/x.md", "./src/a.py"], holder="h2")
    assert [r.path for r in got] == ["src/a.py", "docs/x.md"]  # normalized, deduplicated


def test_reacquire_is_idempotent_and_extends(hive, res: Reservations, clock: Clock):
    (first,) = res.acquire("src/a.py", holder="h1", ttl=10)
    clock.advance(5)
    (again,) = res.acquire("src/a.py", holder="h1", ttl=10)
    assert again.id == first.id and again.expires == first.expires + 5
    assert len(res.active()) == 1
    assert types_of(hive) == ["reservation_acquired", "reservation_renewed"]
    # asking for less (shared) keeps the exclusive reservation; it still blocks others
    (kept,) = res.acquire("src/a.py", holder="h1", ttl=10, shared=True)
    assert kept.mode == "exclusive"
    with pytest.raises(ConflictError):
        res.acquire("src/a.py", holder="h2", shared=True)
    # an overlapping glob of one's own is no conflict either
    res.acquire("src/**", holder="h1")
    assert {r.path for r in res.list(holder="h1")} == {"src/a.py", "src/**"}


def test_shared_upgrade_to_exclusive(res: Reservations):
    res.acquire("lib/x.py", holder="h1", shared=True)
    res.acquire("lib/x.py", holder="h2", shared=True)
    with pytest.raises(ReservationConflictError):
        res.acquire("lib/x.py", holder="h1")  # h2 still reads it
    assert res.list(holder="h1")[0].mode == "shared"
    res.release("lib/x.py", holder="h2")
    (up,) = res.acquire("lib/x.py", holder="h1")
    assert up.mode == "exclusive" and len(res.active()) == 1


def test_expiry_is_lazy_exact_and_recorded_once(hive, res: Reservations, clock: Clock):
    (r,) = res.acquire("src/a.py", holder="h1", ttl=10)
    clock.advance(9.999)
    with pytest.raises(ConflictError):  # nothing is freed before its TTL
        res.acquire("src/a.py", holder="h2")
    assert not res.check("src/a.py").ok
    clock.advance(0.001)
    assert res.check("src/a.py").ok  # lapsed: no longer counts, nothing written yet
    assert "reservation_expired" not in types_of(hive)
    (r2,) = res.acquire("src/a.py", holder="h2", ttl=10)
    (expired,) = hive.events.by_type("reservation_expired")
    assert expired.data["reservation_id"] == r.id and expired.stream == r.stream
    assert expired.causation_id == r.event_id
    res.list()
    res.acquire("src/b.py", holder="h3")
    assert types_of(hive).count("reservation_expired") == 1
    assert [x.id for x in res.list(path="src/a.py")] == [r2.id]


def test_list_records_lapsed_leases(hive, res: Reservations, clock: Clock):
    res.acquire(["a.txt", "b.txt"], holder="h1", ttl=5)
    res.acquire("c.txt", holder="h2", ttl=50)
    clock.advance(6)
    assert [r.path for r in res.list()] == ["c.txt"]
    assert types_of(hive).count("reservation_expired") == 2
    res.list()
    assert types_of(hive).count("reservation_expired") == 2


def test_renew(hive, res: Reservations, clock: Clock):
    res.acquire(["a.txt", "b.txt"], holder="h1", ttl=10)
    clock.advance(8)
    out = res.renew("h1")
    assert [r.path for r in out] == ["a.txt", "b.txt"]
    assert all(r.expires == T0 + 18 for r in out)
    (only,) = res.renew("h1", ttl=100, paths=["b.txt"])
    assert only.expires == T0 + 108
    assert res.renew("h1", ttl=1, paths=["b.txt"])[0].expires == T0 + 108  # never earlier
    clock.advance(11)  # a.txt lapsed at T0 + 18
    before = len(segment_lines(hive.root))
    with pytest.raises(NotFoundError):
        res.renew("h1", paths=["a.txt"])
    with pytest.raises(NotFoundError):
        res.renew("nobody")
    assert len(segment_lines(hive.root)) == before
    assert [r.path for r in res.renew("h1")] == ["b.txt"]


def test_release_verifies_ownership(hive, res: Reservations):
    res.acquire(["src/a.py", "src/b.py"], holder="h1")
    before = segment_lines(hive.root)
    with pytest.raises(ReservationConflictError) as info:
        res.release(["src/b.py", "src/a.py"], holder="h2")
    assert info.value.exit_code == 3 and info.value.code == "not_owner"
    assert "h1" in info.value.message
    assert segment_lines(hive.root) == before  # nothing written
    assert len(res.active()) == 2
    assert res.release("src/zzz.py", holder="h2") == []  # nothing held: nothing to do
    (gone,) = res.release("src/a.py", holder="h1")
    assert gone.path == "src/a.py"
    assert [r.path for r in res.release_all("h1")] == ["src/b.py"]
    assert res.release_all("h1") == []
    assert res.active() == []


def test_check_for_a_holder(res: Reservations):
    res.acquire("src/**", holder="h1")
    res.acquire("docs/a.md", holder="h2", shared=True)
    assert res.check(["src/x.py"], holder="h1").ok
    result = res.check(["src/x.py", "docs/a.md", "README"])
    assert not result.ok
    assert [(c.requested, c.reservation.holder) for c in result.conflicts] == [
        ("src/x.py", "h1"), ("docs/a.md", "h2")]
    assert res.check(["docs/a.md"], shared=True).ok
    assert res.check(["README"]).ok
    j = result.to_json()
    assert [p["free"] for p in j["paths"]] == [False, False, True]
    with pytest.raises(ReservationConflictError):
        result.raise_if_held()


def test_absolute_path_inside_repo_is_made_relative(hive, res: Reservations):
    (r,) = res.acquire(str(hive.root / "src" / "a.py"), holder="h1")
    assert r.path == "src/a.py"
    assert res.normalize(hive.root / "src" / "*.py") == "src/*.py"


BAD_INPUT = [
    ({"paths": [""]}, "empty path"),
    ({"paths": ["   "]}, "empty path"),
    ({"paths": []}, "no path"),
    ({"paths": ["/etc/passwd"]}, "outside the repository"),
    ({"paths": ["src/../../etc/passwd"]}, ".."),
    ({"paths": ["../x.py"]}, ".."),
    ({"paths": ["src/[ab"]}, "unterminated"),
    ({"paths": ["src//a.py"]}, "empty segment"),
    ({"paths": ["src/"]}, "trailing"),
    ({"paths": ["ok.py", "bad/../x"]}, ".."),
    ({"ttl": 0}, "ttl must be more than zero"),
    ({"ttl": -5}, "ttl must be more than zero"),
    ({"ttl": float("nan")}, "ttl"),
    ({"ttl": float("inf")}, "ttl"),
    ({"wait": -1}, "wait must be zero or more"),
    ({"holder": ""}, "empty holder"),
    ({"holder": "   "}, "empty holder"),
    ({"holder": "a\nb"}, "invalid holder"),
]


@pytest.mark.parametrize(("kwargs", "fragment"), BAD_INPUT)
def test_bad_input_is_refused_and_writes_nothing(hive, res: Reservations, kwargs, fragment):
    args = {"paths": ["src/a.py"], "holder": "h1", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        res.acquire(args.pop("paths"), **args)
    assert fragment in info.value.message
    assert info.value.exit_code == 1 and "\n" not in info.value.message
    assert segment_lines(hive.root) == []


def test_wait_timeout_records_wait_and_refusal(hive, res: Reservations):
    res.acquire("src/a.py", holder="h1")
    with pytest.raises(ReservationTimeoutError) as info:
        res.acquire("src/a.py", holder="h2", wait=0.2)
    assert info.value.exit_code == 4
    assert types_of(hive) == ["reservation_acquired", "reservation_waiting",
                                  "reservation_wait_ended", "reservation_refused"]
    ended, refused = hive.events.by_type("reservation_wait_ended") + \
        hive.events.by_type("reservation_refused")
    assert ended.data["outcome"] == "timeout" and refused.data["why"] == "timeout"
    assert res.waits() == []


def test_a_slow_first_look_still_records_its_wait(hive):
    """``--wait`` counts from the first look: a process that takes longer than the whole
    wait to get there (a loaded machine, a busy writer lock) still records its wait before
    it times out (the cause of a once-flaky ``test_wait_times_out_with_exit_4``)."""
    from fleet_hive.index.unit_of_work import UnitOfWork

    hive.reservations.acquire("src/a.py", holder="h1")
    looks: list[float] = []

    @contextlib.contextmanager
    def slow_lock():
        if not looks:
            time.sleep(0.3)  # the first look comes later than the whole wait below
        looks.append(time.monotonic())
        with hive.exclusive():
            yield

    uow = UnitOfWork(lock=slow_lock, index=hive.index, store=hive.events)
    with pytest.raises(ReservationTimeoutError):
        Reservations(uow, hive.index, root=hive.root).acquire("src/a.py", holder="h2",
                                                              wait=0.1)
    assert types_of(hive) == ["reservation_acquired", "reservation_waiting",
                              "reservation_wait_ended", "reservation_refused"]
    (waiting,) = hive.events.by_type("reservation_waiting")
    assert 0.09 < epoch(waiting.data["until"]) - epoch(waiting.data["started_at"]) <= 0.1001


def test_wait_succeeds_when_released_in_between(repo: Path, hive):
    res = hive.reservations  # real time: the waiter is another thread with its own Hive
    res.acquire("src/a.py", holder="h1")
    got: list = []

    def waiter() -> None:
        with fleet_hive.open(repo) as h:
            got.append(h.reservations.acquire("src/a.py", holder="h2", wait=30))

    t = threading.Thread(target=waiter)
    t.start()
    _until(lambda: res.waits())
    assert res.waits()[0].waits_for == ("h1",)
    res.release("src/a.py", holder="h1")
    t.join(30)
    assert got and got[0][0].holder == "h2"
    assert hive.events.by_type("reservation_wait_ended")[0].data["outcome"] == "acquired"


def test_wait_cycle_is_refused_at_once(repo: Path, hive):
    res = hive.reservations
    res.acquire("src/x.py", holder="A")
    res.acquire("src/y.py", holder="B")
    outcome: list = []

    def a_waits_for_y() -> None:
        with fleet_hive.open(repo) as h:
            outcome.append(h.reservations.acquire("src/y.py", holder="A", wait=30))

    t = threading.Thread(target=a_waits_for_y)
    t.start()
    _until(lambda: res.waits())
    with pytest.raises(ReservationConflictError) as info:  # refused at once, not timed out
        res.acquire("src/**", holder="B", wait=30)  # B would wait for A's src/x.py
    err = info.value
    assert err.code == "deadlock" and err.exit_code == 3
    assert err.cycle == ["B", "A", "B"]
    assert "B waits for A (src/x.py), A waits for B (src/y.py)" in err.message
    (refused,) = hive.events.by_type("reservation_refused")
    assert refused.data["why"] == "deadlock" and refused.data["cycle"] == ["B", "A", "B"]
    res.release_all("B")  # B gives up: A's wait ends with the reservation
    t.join(30)
    assert outcome and outcome[0][0].holder == "A"


def test_dead_waiters_do_not_cause_false_cycles(hive, res: Reservations, clock: Clock):
    res.acquire("src/x.py", holder="A", ttl=600)
    res.acquire("src/y.py", holder="B", ttl=600)
    # A recorded a wait for B's file and then died: its record counts only until `until`.
    hive.events.append_pending([hive.events.prepare(
        "reservation_waiting", stream="reservation_request:dead1", data={
            "request_id": "dead1", "holder": "A", "paths": ["src/y.py"], "mode": "exclusive",
            "waits_for": ["B"], "started_at": "2027-01-15T08:00:00.000000Z",
            "until": "2027-01-15T08:00:05.000000Z"})])
    with pytest.raises(ReservationConflictError) as info:
        res.acquire("src/x.py", holder="B", wait=5)
    assert info.value.code == "deadlock"
    clock.advance(6)
    with pytest.raises(ReservationTimeoutError):
        res.acquire("src/x.py", holder="B", wait=0.1)


def test_state_is_a_fold_of_the_log(hive, res: Reservations, clock: Clock):
    res.acquire(["a", "b/**"], holder="h1", ttl=100)
    res.acquire("c", holder="h2", shared=True, ttl=100)
    res.renew("h1", ttl=200)
    res.release("a", holder="h1")
    before = [r.to_json() for r in res.active()]
    hive.index.rebuild()
    assert [r.to_json() for r in res.active()] == before
    hive.index.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{hive.layout.index}{suffix}").unlink(missing_ok=True)
    with fleet_hive.open(hive.root) as fresh:
        assert [r.to_json() for r in on_clock(fresh, clock).active()] == before


def test_hive_reservations_facade(hive):
    (r,) = hive.reservations.acquire(["x.txt"], holder="h1", ttl=30)
    assert [a.to_json()["path"] for a in hive.reservations.active()] == ["x.txt"]
    assert set(r.to_json()) >= {"path", "holder", "mode", "acquired_at", "expires_at", "reason"}


def _until(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


SEGMENTS = ["a", "b", "ab", "*", "**", "?", "[ab]", "a*", "\\a", "a\\*", "x[!a]y", ".env"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4),
       st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4))
def test_prefix_pruning_never_hides_an_overlap(a: list[str], b: list[str]):
    """The SQL pre-filter on literal prefixes keeps every pair that ``overlaps`` accepts."""
    pa, pb = "/".join(a), "/".join(b)
    if globs.overlaps(pa, pb):
        la, lb = literal_prefix(pa), literal_prefix(pb)
        assert la.startswith(lb) or lb.startswith(la)


def test_check_finds_exactly_the_overlapping_reservations(res: Reservations):
    """The prefix pre-filter in SQL plus exact overlap equals a brute-force scan."""
    patterns = ["**", "*.md", "src/**", "src/a.py", "src/a.py/**", "src/*/x.py", "src/b/**",
                "src/b/c.py", "docs/**/index.md", "docs/a.md", "lib/\\*.py", "lib/[ab].py",
                "lib/**/*.py", "tests/test_a.py", "srcx/a.py"]
    for i, p in enumerate(patterns):
        res.acquire(p, holder=f"h{i}", shared=True)
    live = res.active()
    probes = ["src/a.py", "src/b/c.py", "src/q/x.py", "srcx/a.py", "README.md", "lib/a.py",
              "lib/*.py", "lib/x/y.py", "docs/a/index.md", "tests/**", "src/**/*.txt", "*",
              "other/deep/file"]
    for probe in probes:
        got = sorted(c.reservation.id for c in res.check(probe, patterns=True).conflicts)
        want = sorted(r.id for r in live if globs.overlaps(r.path, probe))
        assert got == want, probe
        # by default a probe is a file name: its metacharacters are plain characters
        got = sorted(c.reservation.id for c in res.check(probe).conflicts)
        want = sorted(r.id for r in live if globs.matches(r.path, probe))
        assert got == want, probe


def test_check_takes_file_names_literally(res: Reservations):
    res.acquire(globs.escape("pages/[id].tsx"), holder="exact")  # the file itself
    res.acquire("pages/[ab].tsx", holder="klass")  # a class: pages/a.tsx, pages/b.tsx
    result = res.check(["pages/[id].tsx", "pages/a.tsx", "pages/x.tsx"])
    assert [(c.requested, c.reservation.holder) for c in result.conflicts] == [
        ("pages/[id].tsx", "exact"), ("pages/a.tsx", "klass")]
    assert [p["path"] for p in result.to_json()["paths"]] == [
        "pages/[id].tsx", "pages/a.tsx", "pages/x.tsx"]
    # as a glob, pages/[id].tsx means pages/i.tsx or pages/d.tsx: neither is reserved
    assert res.check("pages/[id].tsx", patterns=True).ok
    assert {c.reservation.holder for c in res.check("pages/*.tsx", patterns=True).conflicts
            } == {"exact", "klass"}


def test_interrupted_wait_is_ended(hive, clock: Clock):
    hive.reservations.acquire("src/a.py", holder="h1")

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Reservations(hive.uow, hive.index, root=hive.root, sleep=interrupt).acquire(
            "src/a.py", holder="h2", wait=30)
    (ended,) = hive.events.by_type("reservation_wait_ended")
    assert ended.data["outcome"] == "interrupted"
    assert hive.reservations.waits() == []


def test_reservations_from_another_clone_are_honored_once_merged(repo: Path, hive):
    from tests.support import git

    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "fleet")
    other = repo.parent / "other"
    git(repo.parent, "clone", "-q", str(repo), str(other))
    with fleet_hive.open(other) as theirs:
        theirs.reservations.acquire("src/**", holder="remote-agent", ttl=3600)
    git(other, "add", ".fleet")
    git(other, "commit", "-q", "-m", "reserve src")
    assert hive.reservations.check("src/a.py").ok  # not merged yet
    git(repo, "pull", "-q", str(other), "main")
    result = hive.reservations.check("src/a.py")
    assert [c.reservation.holder for c in result.conflicts] == ["remote-agent"]
    with pytest.raises(ReservationConflictError):
        hive.reservations.acquire("src/a.py", holder="local-agent")
