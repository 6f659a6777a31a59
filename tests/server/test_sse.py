"""``/api/v1/events/stream``: server-sent events, delivered soon after any process appends,
resumed from ``Last-Event-ID`` (or ``?after``) without loss or duplicates."""

from __future__ import annotations

import time

import httpx

from ..support import run_cli
from ..support.api import ApiServer, SseReader


def test_an_event_appended_by_the_cli_arrives_within_a_second(server: ApiServer):
    reader = SseReader(f"{server.api}/events/stream", server.headers())
    try:
        assert reader.status == 200
        m = run_cli("-C", str(server.root), "--actor", "cli", "mission", "create", "streamed",
                    "--json")
        assert m.returncode == 0, m.stderr
        appended = time.monotonic()
        got = reader.next(timeout=5)
        took = time.monotonic() - appended
        assert got is not None, "no event arrived"
        seq, kind, data = got
        assert kind == "mission_created" and data["seq"] == seq
        assert data["data"]["title"] == "streamed" and data["actor"] == "cli"
        assert took < 1.0, f"delivered after {took:.2f} s"
    finally:
        reader.close()


def test_resuming_from_last_event_id_loses_and_repeats_nothing(server: ApiServer):
    with server.client("writer") as c:
        mid = c.post("/missions", json={"title": "resume"}).json()["id"]
        start = c.get("/events", params={"stream": f"mission:{mid}"}).json()[-1]["seq"]
        reader = SseReader(f"{server.api}/events/stream?after={start}", server.headers())
        seen: list[int] = []
        try:
            for i in range(5):
                c.post("/events", json={"type": "note_added", "stream": f"mission:{mid}",
                                        "data": {"text": f"first {i}"}})
            while len(seen) < 5:
                got = reader.next(timeout=5)
                assert got is not None, seen
                seen.append(got[0])
        finally:
            reader.close()
        # written while nobody listens
        for i in range(5):
            c.post("/events", json={"type": "note_added", "stream": f"mission:{mid}",
                                    "data": {"text": f"second {i}"}})
        headers = {**server.headers(), "Last-Event-ID": str(seen[-1])}
        # Last-Event-ID wins over ?after (it is where the client really was)
        reader = SseReader(f"{server.api}/events/stream?after=0", headers)
        try:
            for _ in range(5):
                got = reader.next(timeout=5)
                assert got is not None, seen
                seen.append(got[0])
            assert reader.next(timeout=0.5) is None  # nothing more, nothing repeated
        finally:
            reader.close()
    expected = [e["seq"] for e in httpx.get(
        f"{server.api}/events", params={"after": start}, headers=server.headers()).json()]
    assert seen == expected and len(set(seen)) == 10


def test_a_bounded_stream_ends_and_a_stream_without_a_token_is_refused(server: ApiServer):
    with server.client() as c:
        r = c.get("/events/stream", params={"after": 0, "limit": 3})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        ids = [line for line in r.text.splitlines() if line.startswith("id: ")]
        assert len(ids) == 3
        assert httpx.get(f"{server.api}/events/stream").status_code == 401
        assert c.get("/events/stream", params={"after": -1}).status_code == 422
