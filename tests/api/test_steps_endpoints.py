"""Seed 002's step endpoints over HTTP: `GET /api/progress/{id}` and `POST /api/progress/{id}/update` with the
seed's shapes, its start / complete actions, and the task endpoints' access rules."""

from __future__ import annotations

from typing import Any

import redis
from fastapi.testclient import TestClient

from api.auth import Authenticator
from progress import ProgressStore, StepDefinition
from tests.api.conftest import bearer

# Seed 002's documented shapes (§4): every key the seed shows must be present.
SEED_PROGRESS = {"session_id", "current_step", "total_steps", "status", "steps", "percentage",
                 "estimated_remaining_ms"}
SEED_STEP = {"step", "name", "status", "started_at", "completed_at", "elapsed_ms", "timeout_ms", "message", "error"}


def _task(store: ProgressStore, owner: str | None = None, steps: int = 3) -> str:
    """A created task with `steps` defined steps (the first with a timeout and an estimate)."""
    tid = store.create_task("fetch_data", metadata={"user_id": owner} if owner else {}).task_id
    defs = [StepDefinition(name="generate", timeout_ms=300_000, estimated_ms=60_000)]
    defs += [StepDefinition(name=f"s{i}", estimated_ms=30_000) for i in range(2, steps + 1)]
    store.define_steps(tid, defs)
    return tid


def _post(client: TestClient, headers: dict[str, str], tid: str, **body: Any) -> Any:
    return client.post(f"/api/progress/{tid}/update", headers=headers, json=body)


def test_a_task_driven_through_the_seed_endpoints_shows_its_steps_percentage_and_ends_with_its_last_step(
    client: TestClient, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    store = ProgressStore(progress_redis)
    tid = _task(store)

    got = client.get(f"/api/progress/{tid}", headers=service)
    assert got.status_code == 200
    body = got.json()
    assert set(body) >= SEED_PROGRESS and all(set(s) >= SEED_STEP for s in body["steps"])
    assert (body["session_id"], body["status"], body["current_step"], body["total_steps"], body["percentage"]) == \
        (tid, "pending", 0, 3, 0)
    assert [s["status"] for s in body["steps"]] == ["pending"] * 3

    started = _post(client, service, tid, action="start", step=1)
    assert started.status_code == 200 and started.json() == {"success": True, "session_id": tid}
    body = client.get(f"/api/progress/{tid}", headers=service).json()
    assert (body["status"], body["current_step"]) == ("running", 1)
    first = body["steps"][0]
    assert first["status"] == "running" and first["started_at"] is not None
    assert first["timeout_ms"] == 300_000  # started without a timeout: the defined one stays
    assert body["estimated_remaining_ms"] is not None and body["estimated_remaining_ms"] > 60_000

    assert _post(client, service, tid, action="complete", step=1, message="draft ready").status_code == 200
    assert _post(client, service, tid, action="start", step=2, timeout_ms=5_000).status_code == 200
    assert _post(client, service, tid, action="complete", step=2, success=False, error="menu API down").json() == \
        {"success": True, "session_id": tid}
    body = client.get(f"/api/progress/{tid}", headers=service).json()
    assert body["percentage"] == 66  # two of three steps ended (seed 002 counts success and error; floored)
    assert body["steps"][0]["status"] == "success" and body["steps"][0]["message"] == "draft ready"
    assert body["steps"][1]["status"] == "error" and body["steps"][1]["error"] == "menu API down"
    assert body["steps"][1]["timeout_ms"] == 5_000
    assert body["status"] == "running"  # a failed step does not end the task (as in the seed)

    # A task whose steps all succeed ends `completed` with its last one (seed 002).
    done = _task(store, steps=2)
    for n in (1, 2):
        assert _post(client, service, done, action="start", step=n).status_code == 200
        assert _post(client, service, done, action="complete", step=n).status_code == 200
    body = client.get(f"/api/progress/{done}", headers=service).json()
    assert (body["status"], body["percentage"], body["estimated_remaining_ms"]) == ("completed", 100, 0)
    assert store.require(done).status.value == "completed"


def test_a_step_after_the_defined_ones_is_started_by_its_number_with_the_seeds_default_name(
    client: TestClient, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    store = ProgressStore(progress_redis)
    tid = _task(store, steps=1)

    assert _post(client, service, tid, action="start", step=2).status_code == 200
    assert _post(client, service, tid, action="start", step=3, name="publish").status_code == 200

    steps = client.get(f"/api/progress/{tid}", headers=service).json()["steps"]
    assert [(s["step"], s["name"], s["status"]) for s in steps] == \
        [(1, "generate", "pending"), (2, "STEP2", "running"), (3, "publish", "running")]


def test_bad_step_updates_get_4xx_naming_the_field_and_change_nothing(
    client: TestClient, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    store = ProgressStore(progress_redis)
    tid = _task(store)
    before = store.require(tid)

    bad_action = _post(client, service, tid, action="finish", step=1)
    assert bad_action.status_code == 422 and bad_action.json()["errors"][0]["field"] == "action"
    zero = _post(client, service, tid, action="start", step=0)
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "step"
    far = _post(client, service, tid, action="start", step=9)
    assert far.status_code == 422 and far.json()["errors"][0]["field"] == "step"
    assert "not defined" in far.json()["errors"][0]["error"]
    never_started = _post(client, service, tid, action="complete", step=2)
    assert never_started.status_code == 409 and "has not started" in never_started.json()["detail"]
    unknown = _post(client, service, "no-such-task", action="start", step=1)
    assert unknown.status_code == 404
    assert store.require(tid).steps == before.steps

    store.cancel_task(tid)
    ended = _post(client, service, tid, action="start", step=1)
    assert ended.status_code == 409 and ended.json()["current_status"] == "cancelled"

    missing = client.get("/api/progress/no-such-task", headers=service)
    assert missing.status_code == 404
    assert (missing.json()["session_id"], missing.json()["status"], missing.json()["steps"]) == \
        ("no-such-task", "not_found", [])


def test_a_user_reads_and_moves_only_their_own_tasks_steps(
    client: TestClient, service: dict[str, str], tokens: Authenticator, progress_redis: redis.Redis
) -> None:
    store = ProgressStore(progress_redis)
    alices, bobs = _task(store, owner="alice"), _task(store, owner="bob")
    alice = bearer(tokens.issue("alice"))

    assert client.get(f"/api/progress/{alices}", headers=alice).status_code == 200
    assert _post(client, alice, alices, action="start", step=1).status_code == 200

    assert client.get(f"/api/progress/{bobs}", headers=alice).status_code == 403
    assert _post(client, alice, bobs, action="start", step=1).status_code == 403
    assert store.require(bobs).steps[0].status == "pending"
    assert client.get(f"/api/progress/{alices}").status_code == 401
    assert _post(client, {}, alices, action="complete", step=1).status_code == 401
