"""Enqueue over HTTP: validated arguments, the task id and where to watch it; a broker outage is a clear 503."""

from __future__ import annotations

import functools
import subprocess
from typing import Any

import pytest
from celery import Celery
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Authenticator
from progress import ProgressStore
from taskrunner.redis_server import free_port
from tests.api.conftest import bearer, settings
from tests.helpers import written_keys
from tracking.task import ProgressTask


def test_the_enqueueable_tasks_are_listed_with_their_argument_schemas(
    client: TestClient, service: dict[str, str]
) -> None:
    listed = {t["name"]: t for t in client.get("/api/tasks", headers=service).json()}
    count = listed["tasks.diagnostics.count"]
    assert count["queue"] == "ai_analysis"  # tasks.diagnostics.* has no family queue: the default one
    assert set(count["arguments"]["properties"]) == {"n", "delay", "fail_at", "symbol"}
    assert "tasks.diagnostics.noop" not in listed  # untracked tasks are not exposed
    assert all(name.startswith("tasks.") for name in listed)


def test_bad_arguments_are_422_naming_each_field_and_unknown_or_untracked_tasks_are_404(
    client: TestClient, service: dict[str, str], progress_redis: Any
) -> None:
    res = client.post("/api/tasks/tasks.diagnostics.count", headers=service, json={"n": -1, "bogus": 1})
    assert res.status_code == 422
    errors = {e["field"]: e["error"] for e in res.json()["errors"]}
    assert set(errors) == {"n", "bogus"}
    assert "greater than or equal to 0" in errors["n"]
    # Nothing was recorded for a refused call
    assert written_keys(progress_redis) == set()
    assert client.post("/api/tasks/tasks.nope.missing", headers=service, json={}).status_code == 404
    assert client.post("/api/tasks/tasks.diagnostics.noop", headers=service, json={}).status_code == 404
    assert client.post("/api/tasks/celery.backend_cleanup", headers=service, json={}).status_code == 422  # not tasks.*


@pytest.mark.integration
def test_an_enqueued_task_runs_and_its_owner_watches_it_to_the_end(
    client: TestClient, tokens: Authenticator, celery_worker: subprocess.Popen[bytes], worker_store: ProgressStore
) -> None:
    alice = tokens.issue("alice")
    res = client.post("/api/tasks/tasks.diagnostics.count", headers=bearer(alice), json={"n": 5, "symbol": "7203.T"})
    assert res.status_code == 202
    body = res.json()
    tid = body["task_id"]
    assert body["status_url"].endswith(f"/internal/task/{tid}/status")
    assert body["ws_url"].startswith("ws") and body["ws_url"].endswith(f"/internal/ws/task/{tid}")
    assert body["sse_url"].endswith(f"/internal/sse/task/{tid}")

    with client.websocket_connect(f"/internal/ws/task/{tid}?token={alice}") as ws:
        messages = [ws.receive_json()]
        while messages[-1]["status"] not in ("completed", "error", "cancelled"):
            messages.append(ws.receive_json())
    assert messages[-1]["status"] == "completed" and messages[-1]["progress"]["current"] == 5
    record = client.get(f"/internal/task/{tid}/status", headers=bearer(alice)).json()
    assert record["metadata"]["user_id"] == "alice" and record["symbol"] == "7203.T"
    assert record["results"] == {"counted": 5, "symbol": "7203.T"}
    assert client.get(f"/internal/task/{tid}/status", headers=bearer(tokens.issue("bob"))).status_code == 403


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=0)
    user_id: str | None = None


@functools.cache  # one app: Celery warns when a task name is registered twice in a process
def _dead_broker_app() -> Celery:
    """A Celery app whose broker port has nothing listening, publishing without retries."""
    dead = Celery("dead", broker=f"redis://127.0.0.1:{free_port()}/0")
    dead.conf.task_publish_retry_policy = {"max_retries": 0}
    dead.conf.broker_connection_retry = False

    @dead.task(base=ProgressTask, bind=True, name="tasks.diagnostics.unreachable", args_model=_Args)
    def unreachable(self: ProgressTask, n: int, user_id: str | None = None) -> None:
        return None

    return dead


def test_a_broker_outage_is_503_with_the_reason_and_the_record_says_it_was_not_queued(
    make_client: Any, service: dict[str, str]
) -> None:
    client = make_client(settings(), celery_app=_dead_broker_app())
    res = client.post("/api/tasks/tasks.diagnostics.unreachable", headers=service, json={"n": 1})
    assert res.status_code == 503
    assert res.json()["detail"].startswith("message broker unavailable, task not queued")
    # Never a silent drop: the record exists and says what happened
    listed = client.get("/internal/tasks", headers=service, params={"status": "error"}).json()["tasks"]
    assert len(listed) == 1
    assert (listed[0]["task_type"], listed[0]["task_name"]) == ("unreachable", "tasks.diagnostics.unreachable")
    assert "broker unavailable" in listed[0]["error_message"]


def test_a_user_cannot_enqueue_work_for_another_user_and_defaults_to_themselves(
    make_client: Any, tokens: Authenticator, progress_redis: Any
) -> None:
    client = make_client(settings(), celery_app=_dead_broker_app())
    alice = bearer(tokens.issue("alice"))
    res = client.post("/api/tasks/tasks.diagnostics.unreachable", headers=alice, json={"n": 1, "user_id": "bob"})
    assert res.status_code == 403 and written_keys(progress_redis) == set()
    # Without a user_id the caller's own is used (here the publish then fails, which shows it got that far)
    res = client.post("/api/tasks/tasks.diagnostics.unreachable", headers=alice, json={"n": 1})
    assert res.status_code == 503
