"""Live progress over WebSocket and SSE: current state first, then every change; a client that reconnects with its
last event id misses nothing and gets nothing twice; the all-tasks stream feeds dashboards."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any, cast

import httpx
import redis
import websockets
from fastapi.testclient import TestClient

from progress import ProgressStore
from progress.store import stream_id
from tests.api.conftest import SERVICE_TOKEN, bearer, settings
from tests.helpers import wait_until

SEED_PROGRESS_UPDATE = {"type", "task_id", "status", "progress", "message", "timestamp"}


def _store() -> ProgressStore:
    return ProgressStore.from_url(os.environ["TASKRUNNER_PROGRESS_URL"])


def _ws(base: str, path: str) -> str:
    return "ws" + base[4:] + path


def test_a_task_socket_sends_the_current_state_then_each_change_in_the_seeds_shape(
    client: TestClient, service: dict[str, str]
) -> None:
    tid = client.post("/internal/create-task", headers=service,
                      json={"task_type": "fetch_data", "symbol": "7203.T", "total_items": 252}).json()["task_id"]
    client.put(f"/internal/task/{tid}/update", headers=service, json={"status": "running", "current_items": 100})
    with client.websocket_connect(f"/internal/ws/task/{tid}", headers=service) as ws:
        first = ws.receive_json()
        # The current state, not the history
        assert set(first) >= SEED_PROGRESS_UPDATE and first["type"] == "progress_update"
        assert (first["status"], first["progress"]["current"]) == ("running", 100)
        client.put(f"/internal/task/{tid}/update", headers=service, json={"current_items": 150, "message": "150"})
        second = ws.receive_json()
        assert second["progress"] == {"current": 150, "total": 252, "percentage": round(150 * 100 / 252, 2)}
        assert second["message"] == "150" and stream_id(second["event_id"]) > stream_id(first["event_id"])
        client.put(f"/internal/task/{tid}/update", headers=service, json={"status": "completed", "current_items": 252})
        assert ws.receive_json()["status"] == "completed"
        # The socket closes once the task has ended
        assert ws.receive()["type"] == "websocket.close"


def test_a_socket_that_reconnects_with_its_last_event_id_gets_every_remaining_update_once_in_order(
    api_server: str, progress_redis: redis.Redis
) -> None:
    store = _store()
    tid = store.create_task("fetch_data", 60, symbol="7203.T").task_id
    store.update_progress(tid, "running", 0)
    url = _ws(api_server, f"/internal/ws/task/{tid}")

    async def scenario() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        # Given a client that sees the first 10 updates and then drops mid-task
        async with websockets.connect(url, additional_headers=bearer(SERVICE_TOKEN)) as ws:
            received.append(json.loads(await ws.recv()))  # the snapshot
            for i in range(1, 21):
                store.update_progress(tid, current_items=i, message=f"{i}")
            while received[-1]["progress"]["current"] < 10:
                received.append(json.loads(await ws.recv()))
        # While it is away the task goes on
        for i in range(21, 41):
            store.update_progress(tid, current_items=i, message=f"{i}")
        # When it reconnects with the last event id it saw, while the task keeps going
        last = received[-1]["event_id"]

        def finish() -> None:
            for i in range(41, 61):
                store.update_progress(tid, current_items=i, message=f"{i}")
            store.update_progress(tid, "completed", 60)

        producer = threading.Thread(target=finish)
        async with websockets.connect(f"{url}?after={last}", additional_headers=bearer(SERVICE_TOKEN)) as ws:
            producer.start()
            async for raw in ws:
                received.append(json.loads(raw))
        producer.join()
        return received

    received = asyncio.run(scenario())
    # Then every update after the snapshot arrives exactly once, in order, ending with the completion
    after_snapshot = received[1:]
    assert [m["progress"]["current"] for m in after_snapshot[:-1]] == list(range(1, 61))
    assert after_snapshot[-1]["status"] == "completed"
    ids = [m["event_id"] for m in after_snapshot]
    assert ids == sorted(ids, key=stream_id) and len(set(ids)) == len(ids)
    # And they are exactly the events the task's stream holds after the snapshot (computed from Redis itself)
    entries = cast(list[tuple[str, dict[str, str]]], progress_redis.xrange(store.keys.events(tid), "-", "+"))
    truth = [entry_id for entry_id, _ in entries]
    assert ids == [i for i in truth if stream_id(i) > stream_id(received[0]["event_id"])]


def test_sse_resumes_from_last_event_id_without_gaps_and_ends_with_an_end_event(
    api_server: str, progress_redis: redis.Redis
) -> None:
    store = _store()
    tid = store.create_task("bulk_import", 10).task_id
    store.update_progress(tid, "running", 0)

    def read(last_event_id: str | None, stop_after: int | None) -> list[tuple[str, str, dict[str, Any]]]:
        headers = {**bearer(SERVICE_TOKEN), **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        events: list[tuple[str, str, dict[str, Any]]] = []
        with httpx.stream("GET", f"{api_server}/internal/sse/task/{tid}", headers=headers, timeout=30) as res:
            assert res.status_code == 200 and res.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            for line in res.iter_lines():
                if line == "" and "data" in fields:
                    events.append((fields.get("id", ""), fields["event"], json.loads(fields["data"])))
                    fields = {}
                    if events[-1][1] == "end" or (stop_after is not None and len(events) >= stop_after):
                        return events
                elif line and not line.startswith(":") and ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
        return events

    first = read(None, stop_after=1)  # the current state
    for i in range(1, 6):
        store.update_progress(tid, current_items=i)
    store.update_progress(tid, "completed", 10)
    rest = read(first[0][0], stop_after=None)

    assert first[0][1] == "progress_update" and first[0][2]["status"] == "running"
    assert [e[2]["progress"]["current"] for e in rest if e[1] == "progress_update"] == [1, 2, 3, 4, 5, 10]
    assert [e[0] for e in rest if e[1] == "progress_update"] == [e[2]["event_id"] for e in rest
                                                                  if e[1] == "progress_update"]
    assert rest[-1][1] == "end"
    # Reconnecting after the end gets just the end: nothing is sent twice
    assert [e[1] for e in read(rest[-2][0], stop_after=None)] == ["end"]


def test_updates_published_while_the_hub_reconnects_still_reach_the_socket(
    make_client: Any, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    # No periodic re-read within the test: only the hub's resubscription can bring back what Pub/Sub lost.
    client = make_client(settings(resync_interval_s=600, sse_keepalive_s=600))
    tid = client.post("/internal/create-task", headers=service, json={"task_type": "t", "total_items": 5}).json()[
        "task_id"]
    with client.websocket_connect(f"/internal/ws/task/{tid}", headers=service) as ws:
        assert ws.receive_json()["status"] == "created"
        # Given the API's Pub/Sub connection is cut (Redis drops slow subscribers the same way)
        killed = progress_redis.client_kill_filter(_type="pubsub")
        assert killed >= 1
        # When updates are published before it has resubscribed
        for i in range(1, 6):
            client.put(f"/internal/task/{tid}/update", headers=service, json={"current_items": i})
        client.put(f"/internal/task/{tid}/update", headers=service, json={"status": "completed"})
        # Then the socket still gets every one of them, once, from the task's stream
        got: list[dict[str, Any]] = []
        while not got or got[-1]["status"] != "completed":
            got.append(ws.receive_json())
    assert [m["progress"]["current"] for m in got] == [1, 2, 3, 4, 5, 5]


def test_the_all_tasks_stream_sends_a_snapshot_then_matching_updates_with_the_full_record(
    client: TestClient, service: dict[str, str]
) -> None:
    old = client.post("/internal/create-task", headers=service, json={"task_type": "fetch_data"}).json()["task_id"]
    with client.websocket_connect("/internal/ws/tasks?task_type=fetch_data", headers=service) as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "tasks_snapshot" and [t["task_id"] for t in snapshot["tasks"]] == [old]
        assert set(snapshot) >= {"tasks", "pagination", "summary"}
        other = client.post("/internal/create-task", headers=service, json={"task_type": "bulk_import"}).json()
        mine = client.post("/internal/create-task", headers=service,
                           json={"task_type": "fetch_data", "total_items": 4}).json()["task_id"]
        client.put(f"/internal/task/{other['task_id']}/update", headers=service, json={"status": "running"})
        client.put(f"/internal/task/{mine}/update", headers=service, json={"status": "running", "current_items": 2})
        created = ws.receive_json()
        running = ws.receive_json()
    # Only fetch_data tasks came through, each with its record (rate, ETA and steps live there)
    assert (created["task_id"], created["status"]) == (mine, "created")
    assert (running["task_id"], running["status"], running["progress"]["current"]) == (mine, "running", 2)
    assert running["task"]["task_type"] == "fetch_data" and "eta_seconds" in running["task"]
    assert set(running) >= SEED_PROGRESS_UPDATE


def test_health_counts_open_sockets_per_endpoint(client: TestClient, service: dict[str, str]) -> None:
    tid = client.post("/internal/create-task", headers=service, json={"task_type": "t"}).json()["task_id"]
    with client.websocket_connect(f"/internal/ws/task/{tid}", headers=service) as ws1, \
            client.websocket_connect(f"/internal/ws/task/{tid}", headers=service) as ws2:
        ws1.receive_json()
        ws2.receive_json()
        health = client.get("/internal/health").json()
        assert health["websockets"]["endpoints"] == {"task": 2}
        assert health["hub"]["connected"] is True
    wait_until(lambda: client.get("/internal/health").json()["websockets"]["connections"] == 0,
               what="the sockets to be counted out")
