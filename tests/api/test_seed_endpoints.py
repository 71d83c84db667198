"""Seed 001's endpoints over HTTP: every one driven, its JSON compared with the shapes the seed documents."""

from __future__ import annotations

import math
from typing import Any

from fastapi.testclient import TestClient

# The seed's documented examples (001 §2), reduced to their shapes: every key the seed shows must be present.
SEED_CREATE = {"task_id", "status", "task_type", "symbol", "total_items", "created_at", "estimated_completion"}
SEED_UPDATE = {"task_id", "status", "progress", "updated_at"}
SEED_PROGRESS = {"current", "total", "percentage"}
SEED_STATUS_RUNNING = {"task_id", "status", "task_type", "symbol", "progress", "current_status", "start_time",
                       "updated_at", "estimated_completion", "processing_details"}
SEED_STATUS_COMPLETED = {"task_id", "status", "task_type", "symbol", "progress", "current_status", "start_time",
                         "end_time", "processing_time_ms", "results"}
SEED_LIST = {"tasks", "pagination", "summary"}
SEED_LIST_ITEM = {"task_id", "status", "task_type", "symbol", "progress", "start_time"}
SEED_PAGINATION = {"page", "limit", "total", "pages"}
SEED_HEALTH = {"status", "version", "active_tasks", "total_tasks_today", "memory_usage", "dependencies"}
SEED_MEMORY = {"tasks_in_memory", "memory_usage_mb"}
SEED_REDIS = {"status", "response_time_ms"}


def _has(body: dict[str, Any], keys: set[str]) -> None:
    missing = keys - set(body)
    assert not missing, f"missing seed keys {missing} in {body}"


def test_every_seed_endpoint_answers_with_the_seed_json_shape(client: TestClient, service: dict[str, str]) -> None:
    # Given the seed's create request
    created = client.post("/internal/create-task", headers=service, json={
        "task_type": "fetch_data", "symbol": "7203.T", "total_items": 252,
        "metadata": {"period": "1y", "requester": "api_gateway"}})
    assert created.status_code == 201
    body = created.json()
    _has(body, SEED_CREATE)
    assert (body["status"], body["task_type"], body["symbol"], body["total_items"]) == \
        ("created", "fetch_data", "7203.T", 252)
    tid = body["task_id"]
    assert body["created_at"].endswith("+09:00")  # the seed shows JST

    # When the seed's update request is sent
    upd = client.put(f"/internal/task/{tid}/update", headers=service, json={
        "status": "running", "current_items": 150, "message": "データを処理しています... (150/252)",
        "details": {"processing_rate": "10 items/sec", "estimated_remaining": "10 seconds"}})
    assert upd.status_code == 200
    body = upd.json()
    _has(body, SEED_UPDATE)
    _has(body["progress"], SEED_PROGRESS)
    assert body["progress"] == {"current": 150, "total": 252, "percentage": round(150 * 100 / 252, 2)}

    # Then the status is the seed's "running" response
    running = client.get(f"/internal/task/{tid}/status", headers=service).json()
    _has(running, SEED_STATUS_RUNNING)
    assert running["status"] == "running"
    assert running["current_status"] == "データを処理しています... (150/252)"
    assert running["processing_details"] == {"processing_rate": "10 items/sec", "estimated_remaining": "10 seconds"}
    assert running["metadata"] == {"period": "1y", "requester": "api_gateway"}

    # And the list shows it with pagination and summary
    listed = client.get("/internal/tasks", headers=service,
                        params={"status": "running", "task_type": "fetch_data", "page": 1, "limit": 20}).json()
    _has(listed, SEED_LIST)
    assert set(listed["pagination"]) == SEED_PAGINATION
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 1, "pages": 1}
    _has(listed["tasks"][0], SEED_LIST_ITEM)
    assert listed["tasks"][0]["task_id"] == tid
    assert listed["summary"]["running"] == 1 and listed["summary"]["completed"] == 0

    # When it completes with results, the status is the seed's "completed" response
    client.put(f"/internal/task/{tid}/update", headers=service, json={
        "status": "completed", "current_items": 252, "message": "データ取得が完了しました",
        "results": {"records_saved": 252, "records_skipped": 0, "success_rate": 100}})
    done = client.get(f"/internal/task/{tid}/status", headers=service).json()
    _has(done, SEED_STATUS_COMPLETED)
    assert done["progress"] == {"current": 252, "total": 252, "percentage": 100.0}
    assert done["results"] == {"records_saved": 252, "records_skipped": 0, "success_rate": 100}
    assert isinstance(done["processing_time_ms"], int) and done["end_time"] is not None

    # And health is the seed's document (no token needed)
    health = client.get("/internal/health")
    assert health.status_code == 200
    body = health.json()
    _has(body, SEED_HEALTH)
    assert set(body["memory_usage"]) >= SEED_MEMORY and set(body["dependencies"]["redis"]) >= SEED_REDIS
    assert body["status"] == "healthy" and body["dependencies"]["redis"]["status"] == "connected"
    assert body["total_tasks_today"] == 1 and body["active_tasks"] == 0


def test_the_task_list_filters_by_status_type_and_symbol_and_pages(client: TestClient, service: dict[str, str]) -> None:
    specs = [("fetch_data", "7203.T"), ("fetch_data", "6758.T"), ("bulk_import", "7203.T")] * 3
    ids = [client.post("/internal/create-task", headers=service,
                       json={"task_type": t, "symbol": s, "total_items": 10}).json()["task_id"] for t, s in specs]
    client.put(f"/internal/task/{ids[0]}/update", headers=service, json={"status": "running"})

    by_type = client.get("/internal/tasks", headers=service, params={"task_type": "fetch_data", "limit": 4}).json()
    expected_total = sum(1 for t, _ in specs if t == "fetch_data")
    assert by_type["pagination"] == {"page": 1, "limit": 4, "total": expected_total,
                                     "pages": math.ceil(expected_total / 4)}
    assert all(t["task_type"] == "fetch_data" for t in by_type["tasks"]) and len(by_type["tasks"]) == 4

    page2 = client.get("/internal/tasks", headers=service, params={"task_type": "fetch_data", "limit": 4, "page": 2})
    seen = {t["task_id"] for t in by_type["tasks"]} | {t["task_id"] for t in page2.json()["tasks"]}
    assert len(seen) == expected_total  # both pages together, no task twice

    by_symbol = client.get("/internal/tasks", headers=service, params={"symbol": "6758.T"}).json()
    assert {t["task_id"] for t in by_symbol["tasks"]} == {i for i, (_, s) in zip(ids, specs, strict=True)
                                                          if s == "6758.T"}
    running = client.get("/internal/tasks", headers=service, params={"status": "running"}).json()
    assert [t["task_id"] for t in running["tasks"]] == [ids[0]]
    assert running["summary"]["running"] == 1 and running["summary"]["created"] == len(specs) - 1
    # Newest first, as in the seed.
    everything = client.get("/internal/tasks", headers=service, params={"limit": 100}).json()["tasks"]
    assert [t["task_id"] for t in everything] == list(reversed(ids))


def test_cancel_pause_and_resume_change_the_status_and_an_ended_task_refuses(
    client: TestClient, service: dict[str, str]
) -> None:
    tid = client.post("/internal/create-task", headers=service, json={"task_type": "t", "total_items": 5}).json()[
        "task_id"]
    client.put(f"/internal/task/{tid}/update", headers=service, json={"status": "running", "current_items": 1})

    assert client.post(f"/internal/task/{tid}/resume", headers=service).status_code == 409  # not paused
    paused = client.post(f"/internal/task/{tid}/pause", headers=service)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    resumed = client.post(f"/internal/task/{tid}/resume", headers=service)
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    cancelled = client.post(f"/internal/task/{tid}/cancel", headers=service)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    again = client.post(f"/internal/task/{tid}/cancel", headers=service)
    assert again.status_code == 409 and again.json()["current_status"] == "cancelled"
    assert client.post(f"/internal/task/{tid}/pause", headers=service).status_code == 409
    late = client.put(f"/internal/task/{tid}/update", headers=service, json={"current_items": 5})
    assert late.status_code == 200 and late.json()["applied"] is False
    status = client.get(f"/internal/task/{tid}/status", headers=service).json()
    assert status["status"] == "cancelled" and status["progress"]["current"] == 1 and status["end_time"]


def test_an_unknown_task_is_404_on_every_task_endpoint(client: TestClient, service: dict[str, str]) -> None:
    calls = [("GET", "/internal/task/nope/status", None), ("PUT", "/internal/task/nope/update", {"current_items": 1}),
             ("POST", "/internal/task/nope/cancel", None), ("POST", "/internal/task/nope/pause", None),
             ("POST", "/internal/task/nope/resume", None), ("GET", "/internal/sse/task/nope", None)]
    for method, path, body in calls:
        res = client.request(method, path, headers=service, json=body)
        assert res.status_code == 404, (method, path, res.text)
        assert res.json()["detail"] == "task nope not found"


def test_creating_with_an_existing_task_id_keeps_the_first_record(client: TestClient, service: dict[str, str]) -> None:
    first = client.post("/internal/create-task", headers=service, json={"task_type": "a", "task_id": "fixed-1"})
    second = client.post("/internal/create-task", headers=service, json={"task_type": "b", "task_id": "fixed-1"})
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (second.status_code, second.json()["created"]) == (200, False)
    assert client.get("/internal/task/fixed-1/status", headers=service).json()["task_type"] == "a"
