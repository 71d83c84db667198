"""Notifications (seed 003): create, list unread, mark read over REST and the socket; unread on connect, then live
ones to every device of the user, across several API processes."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import websockets
from fastapi.testclient import TestClient

from api.auth import Authenticator
from notify import NotificationStore
from tests.api.conftest import bearer, start_api, stop_api

SEED_NOTIFICATION = {"id", "user_id", "type", "title", "message", "read", "created_at"}


def test_rest_creates_lists_unread_and_marks_read(client: TestClient, tokens: Authenticator) -> None:
    alice = bearer(tokens.issue("alice"))
    made = [client.post("/notifications", headers=alice,
                        json={"user_id": "alice", "type": kind, "title": f"t{i}", "message": f"m{i}"})
            for i, kind in enumerate(["info", "warning", "success"])]
    assert all(r.status_code == 201 for r in made)
    first = made[0].json()
    assert set(first) >= SEED_NOTIFICATION and first["read"] is False and first["type"] == "info"

    unread = client.get("/notifications/alice", headers=alice).json()
    assert [n["title"] for n in unread] == ["t2", "t1", "t0"]  # newest first
    assert client.get("/notifications/alice/unread-count", headers=alice).json() == {"user_id": "alice", "unread": 3}

    res = client.post(f"/notifications/alice/{first['id']}/read", headers=alice)
    assert res.json() == {"user_id": "alice", "marked": 1, "unread": 2}
    assert [n["title"] for n in client.get("/notifications/alice", headers=alice).json()] == ["t2", "t1"]
    everything = client.get("/notifications/alice", headers=alice, params={"unread_only": False}).json()
    assert [n["read"] for n in everything] == [False, False, True]

    assert client.post("/notifications/alice/read", headers=alice, json={"all": True}).json()["unread"] == 0
    assert client.post(f"/notifications/alice/{'f' * 32}/read", headers=alice).status_code == 404
    bad = client.post("/notifications", headers=alice, json={"user_id": "alice", "type": "shout", "title": ""})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"type", "title", "message"}


def test_a_socket_gets_unread_on_connect_then_live_ones_and_marks_read(
    client: TestClient, tokens: Authenticator
) -> None:
    token = tokens.issue("alice")
    alice = bearer(token)
    old = [client.post("/notifications", headers=alice, json={"user_id": "alice", "title": f"old{i}",
                                                               "message": "m"}).json() for i in range(2)]
    with client.websocket_connect(f"/ws/notifications/alice?token={token}") as phone, \
            client.websocket_connect(f"/ws/notifications/alice?token={token}") as laptop:
        # Unread ones first, oldest first, on each device
        for device in (phone, laptop):
            assert [device.receive_json()["id"] for _ in range(2)] == [n["id"] for n in old]
        # A live one reaches every device of the user
        live = client.post("/notifications", headers=alice,
                           json={"user_id": "alice", "type": "error", "title": "live", "message": "m"}).json()
        assert phone.receive_json()["id"] == live["id"]
        assert laptop.receive_json()["id"] == live["id"]
        # Mark read from the socket (seed 003's action)
        phone.send_json({"action": "mark_read", "notification_id": old[0]["id"]})
        ack = phone.receive_json()
        assert ack == {"event": "marked_read", "ids": [old[0]["id"]], "user_id": "alice", "marked": 1, "unread": 2}
    assert client.get("/notifications/alice/unread-count", headers=alice).json()["unread"] == 2


def test_live_notifications_reach_devices_connected_to_different_api_processes(
    api_server: str, tokens: Authenticator, progress_redis: Any
) -> None:
    # Given a second API process beside the session's, and a device of alice connected to each
    second, second_base = start_api()
    try:
        token = tokens.issue("alice")
        created: list[dict[str, Any]] = []

        async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            urls = [f"ws{base[4:]}/ws/notifications/alice?token={token}" for base in (api_server, second_base)]
            async with websockets.connect(urls[0]) as one, websockets.connect(urls[1]) as two:
                # When one notification is created through process one and one by a task (the store directly)
                async with httpx.AsyncClient() as http:
                    res = await http.post(f"{api_server}/notifications", headers=bearer(token),
                                          json={"user_id": "alice", "title": "via api", "message": "m"})
                created.append(res.json())
                store = NotificationStore.from_url(os.environ["TASKRUNNER_PROGRESS_URL"])
                created.append(store.create("alice", "success", "via task", "done").model_dump(mode="json"))
                got_one = [json.loads(await one.recv()) for _ in range(2)]
                got_two = [json.loads(await two.recv()) for _ in range(2)]
                return got_one, got_two

        got_one, got_two = asyncio.run(scenario())
    finally:
        stop_api(second)
    # Then both devices get both, once each, in order
    expected = [n["id"] for n in created]
    assert [n["id"] for n in got_one] == expected
    assert [n["id"] for n in got_two] == expected
