"""The API's task feed resumes with the progress core's one stream-resume reader (progress.resume): the same
event-id pattern, and "0-0" replays a task's whole history as the stores' watch does."""

from __future__ import annotations

from fastapi.testclient import TestClient

import api.feeds
from progress.resume import EVENT_ID


def test_the_api_feed_uses_the_one_event_id_pattern_and_replays_from_the_first_event(
    client: TestClient, service: dict[str, str]
) -> None:
    tid = client.post("/internal/create-task", headers=service,
                      json={"task_type": "fetch_data", "total_items": 2, "message": "queued"}).json()["task_id"]
    client.put(f"/internal/task/{tid}/update", headers=service, json={"status": "running", "current_items": 1})
    client.put(f"/internal/task/{tid}/update", headers=service, json={"status": "completed", "current_items": 2})

    with client.websocket_connect(f"/internal/ws/task/{tid}?after=0-0", headers=service) as ws:
        kinds = [ws.receive_json() for _ in range(3)]

    assert api.feeds.EVENT_ID is EVENT_ID
    assert [(m["status"], m["progress"]["current"], m["message"]) for m in kinds] == [
        ("created", 0, "queued"), ("running", 1, "queued"), ("completed", 2, "queued")]
