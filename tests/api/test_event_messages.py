"""Events store an unchanged message once; the task socket and the dashboard stream still send seed 001's full
progress_update, with the last message filled in."""

from __future__ import annotations

import os
from typing import cast

import redis
from fastapi.testclient import TestClient

from progress import Keys


def test_a_progress_only_update_reaches_sockets_with_the_last_message_though_the_event_omits_it(
    client: TestClient, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    tid = client.post("/internal/create-task", headers=service,
                      json={"task_type": "fetch_data", "total_items": 10}).json()["task_id"]
    client.put(f"/internal/task/{tid}/update", headers=service,
               json={"status": "running", "current_items": 1, "message": "downloading"})
    with client.websocket_connect(f"/internal/ws/task/{tid}", headers=service) as ws, \
            client.websocket_connect("/internal/ws/tasks", headers=service) as dash:
        assert ws.receive_json()["message"] == "downloading"
        assert dash.receive_json()["type"] == "tasks_snapshot"
        client.put(f"/internal/task/{tid}/update", headers=service, json={"current_items": 2})
        live = ws.receive_json()
        board = dash.receive_json()

    assert (live["progress"]["current"], live["message"]) == (2, "downloading")
    assert (board["progress"]["current"], board["message"]) == (2, "downloading")
    raw = redis.Redis.from_url(os.environ["TASKRUNNER_PROGRESS_URL"], decode_responses=True)
    entries = cast(list[tuple[str, dict[str, str]]], raw.xrange(Keys().events(tid)))
    raw.close()
    assert ["m" in fields for _, fields in entries] == [True, True, False]
