"""The HTTP seed endpoints under the store's limits and with a damaged record: over-limit input is a 422 naming the
field; a record written raw with HSET never makes a list, a status, an SSE stream or health fail."""

from __future__ import annotations

import json
import os

import redis
from fastapi.testclient import TestClient

from progress import Keys
from progress.models import MAX_DETAILS_BYTES


def test_details_over_the_per_write_limit_are_a_422_naming_details_and_nothing_is_written(
    client: TestClient, service: dict[str, str]
) -> None:
    tid = client.post("/internal/create-task", headers=service, json={"task_type": "t"}).json()["task_id"]

    res = client.put(f"/internal/task/{tid}/update", headers=service,
                     json={"current_items": 1, "details": {"blob": "d" * MAX_DETAILS_BYTES}})

    assert res.status_code == 422
    assert [e["field"] for e in res.json()["errors"]] == ["details"]
    assert str(MAX_DETAILS_BYTES) in res.json()["errors"][0]["error"]
    status = client.get(f"/internal/task/{tid}/status", headers=service).json()
    assert status["progress"]["current"] == 0 and status["processing_details"] == {}


def test_a_record_written_raw_with_bad_bytes_breaks_no_list_status_sse_or_health(
    client: TestClient, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    for tid in ("good", "bad-bytes", "bad-status"):
        client.post("/internal/create-task", headers=service, json={"task_type": "fetch_data", "task_id": tid})
    raw = redis.Redis.from_url(os.environ["TASKRUNNER_PROGRESS_URL"])
    raw.hset(Keys().record("bad-bytes"), mapping={"msg": b"\xff\xfe", "d:rows": b"{oops"})
    raw.hset(Keys().record("bad-status"), "status", b"sleeping")
    raw.close()

    listing = client.get("/internal/tasks", headers=service, params={"limit": 50})
    assert listing.status_code == 200 and [t["task_id"] for t in listing.json()["tasks"]] == ["good"]
    status = client.get("/internal/task/bad-bytes/status", headers=service)
    assert status.status_code == 200 and status.json()["task_id"] == "bad-bytes"
    health = client.get("/internal/health")
    assert health.status_code == 200 and health.json()["unreadable_records"] == 2

    with client.stream("GET", "/internal/sse/task/bad-status", headers=service) as res:
        assert res.status_code == 200
        events = [json.loads(line[5:]) for line in res.iter_lines() if line.startswith("data:")]
    assert events[0]["task_id"] == "bad-status" and events[0]["status"] == "error"
    assert events[-1] == {"task_id": "bad-status"}  # the `end` event
