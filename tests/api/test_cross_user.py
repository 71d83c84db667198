"""One user against another through the enqueue path, and the auth edges around it: every task or user an argument
names is checked against the caller (the service token may name any), internal tasks are never enqueued over HTTP,
a report counts only its caller's tasks, a stream ends when its token expires, and repeated auth failures from one
client get 429 on every API process."""

from __future__ import annotations

import functools
import subprocess
from typing import Any

import pytest
import redis
from celery import Celery
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from api.auth import Authenticator
from progress import ProgressStore
from tests.api.conftest import bearer, settings
from tests.helpers import wait_until, written_keys
from tracking.ownership import owned_fields
from worker import load_tasks

FETCH = "tasks.market_data.fetch_data"
BATCH = "tasks.notifications.send_batch_notifications"
SUMMARY = "tasks.notifications.daily_summary_report"
FINISH = "tasks.market_data.finish_batch"
NOTE = {"title": "t", "message": "m", "batch_id": "b-1"}


@functools.cache
def _memory_celery() -> Celery:
    """The real tasks on an in-memory broker: Celery gives every app the tasks declared with `@app.task`, so this
    app has the same names, argument models and internal marks, and an accepted call reaches no worker."""
    load_tasks()
    return Celery("cross-user", broker="memory://")


@pytest.fixture
def sandbox(make_client: Any) -> TestClient:
    """The API with the real tasks, publishing to memory."""
    client: TestClient = make_client(settings(), celery_app=_memory_celery())
    return client


def _task_of(client: TestClient, service: dict[str, str], user: str) -> str:
    """A task recorded as enqueued by `user` (the owner in its metadata, as the enqueue path records it)."""
    res = client.post("/internal/create-task", headers=service,
                      json={"task_type": "tasks.market_data.update_all_stock_prices", "metadata": {"user_id": user}})
    assert res.status_code == 201
    task_id: str = res.json()["task_id"]
    return task_id


def _refused(res: Any, field: str) -> None:
    assert res.status_code == 403, res.text
    assert field in res.json()["detail"], res.json()


# --- each task or user an argument names ------------------------------------------------------------------------


def test_a_user_cannot_complete_another_users_batch_through_finish_batch(
    client: TestClient, tokens: Authenticator, service: dict[str, str]
) -> None:
    # Given alice's batch, and bob's token
    batch = _task_of(client, service, "alice")
    bob = bearer(tokens.issue("bob"))
    # When bob enqueues the chord callback with made-up results for it
    res = client.post(f"/api/tasks/{FINISH}", headers=bob, json={
        "results": [{"success": True, "records_saved": 999}], "parent_task_id": batch, "symbols": ["7203.T"]})
    # Then it is refused, and her batch is untouched
    _refused(res, "internal")
    record = client.get(f"/internal/task/{batch}/status", headers=bearer(tokens.issue("alice"))).json()
    assert (record["status"], record["results"]) == ("created", {})


def test_a_user_cannot_add_a_child_to_another_users_task_through_fetch_data(
    sandbox: TestClient, tokens: Authenticator, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    # Given alice's batch
    theirs = _task_of(sandbox, service, "alice")
    mine = _task_of(sandbox, service, "bob")
    bob = bearer(tokens.issue("bob"))
    keys_before = progress_redis.dbsize()
    # When bob names it (or a task that does not exist) as the parent of his fetch, Then 403 naming the field
    for parent in (theirs, "no-such-task"):
        res = sandbox.post(f"/api/tasks/{FETCH}", headers=bob, json={"symbol": "7203.T", "parent_task_id": parent})
        _refused(res, "parent_task_id")
    # And nothing was recorded or published for the refused calls
    assert progress_redis.dbsize() == keys_before
    # While his own task is a parent he may name
    res = sandbox.post(f"/api/tasks/{FETCH}", headers=bob, json={"symbol": "7203.T", "parent_task_id": mine})
    assert res.status_code == 202, res.text


def test_a_user_cannot_notify_other_users_through_send_batch_notifications(
    sandbox: TestClient, tokens: Authenticator, progress_redis: redis.Redis
) -> None:
    bob = bearer(tokens.issue("bob"))
    # When bob's batch names alice among its recipients, Then it is refused naming the list item
    res = sandbox.post(f"/api/tasks/{BATCH}", headers=bob, json={"user_ids": ["bob", "alice"], **NOTE})
    _refused(res, "user_ids.1")
    assert written_keys(progress_redis) == set()
    # A batch to himself only is accepted
    assert sandbox.post(f"/api/tasks/{BATCH}", headers=bob, json={"user_ids": ["bob"], **NOTE}).status_code == 202


def test_a_user_cannot_ask_for_a_report_on_another_user(sandbox: TestClient, tokens: Authenticator) -> None:
    bob = bearer(tokens.issue("bob"))
    _refused(sandbox.post(f"/api/tasks/{SUMMARY}", headers=bob, json={"scope_user_id": "alice"}), "scope_user_id")
    _refused(sandbox.post(f"/api/tasks/{SUMMARY}", headers=bob, json={"user_id": "alice"}), "user_id")


def test_the_service_token_may_name_any_task_and_any_user(
    sandbox: TestClient, service: dict[str, str]
) -> None:
    theirs = _task_of(sandbox, service, "alice")
    for name, arguments in [
        (FETCH, {"symbol": "7203.T", "parent_task_id": theirs}),
        (BATCH, {"user_ids": ["alice", "bob"], **NOTE}),
        (SUMMARY, {"user_id": "ops", "scope_user_id": "alice"}),
        (SUMMARY, {"user_id": "ops"}),  # every user's counts
    ]:
        res = sandbox.post(f"/api/tasks/{name}", headers=service, json=arguments)
        assert res.status_code == 202, (name, res.text)


@pytest.mark.integration
def test_a_users_daily_summary_counts_only_their_own_tasks_and_the_service_tokens_counts_everyones(
    client: TestClient, tokens: Authenticator, service: dict[str, str], celery_worker: subprocess.Popen[bytes],
    worker_store: ProgressStore,
) -> None:
    # Given two tasks of alice's and three of bob's, created today
    for user in ("alice", "alice", "bob", "bob", "bob"):
        _task_of(client, service, user)
    alice = bearer(tokens.issue("alice"))

    def report(headers: dict[str, str], arguments: dict[str, Any]) -> dict[str, Any]:
        res = client.post(f"/api/tasks/{SUMMARY}", headers=headers, json=arguments)
        assert res.status_code == 202, res.text
        tid = res.json()["task_id"]
        def ended() -> dict[str, Any] | None:
            record: dict[str, Any] = client.get(f"/internal/task/{tid}/status", headers=headers).json()
            return record if record["status"] in ("completed", "error") else None

        record = wait_until(ended, timeout=60, what="the report")
        assert record is not None and record["status"] == "completed", record
        summary: dict[str, Any] = record["results"]["summary"]
        return summary

    # When alice asks for her daily summary, Then it counts her two tasks only (its own record excluded)
    mine = report(alice, {})
    assert mine["total"] == 2 and mine["by_status"]["created"] == 2
    [note] = client.get("/notifications/alice", headers=alice).json()
    assert note["data"]["total"] == 2
    # And the service token's report counts every user's: the five, and alice's finished report
    everyone = report(service, {"user_id": "ops"})
    assert everyone["total"] == 6 and everyone["by_status"]["completed"] == 1


def test_every_task_or_user_id_argument_of_a_task_is_declared_owned() -> None:
    # A new task whose model takes a parent id or a list of users without the marker would be an unchecked hole.
    load_tasks()
    from worker import app

    for task in app.tasks.values():
        model = getattr(task, "args_model", None)
        if model is None:
            continue
        declared = owned_fields(model)
        for name in model.model_fields:
            if name.endswith(("task_id", "user_id", "user_ids")):
                assert name in declared, f"{task.name}: {name} names an owned resource but is not declared so"


# --- internal tasks -----------------------------------------------------------------------------------------------


INTERNAL = [FINISH, "tasks.market_data.batch_failed", "tasks.analysis.run_model", "tasks.analysis.finish_consensus",
            "tasks.analysis.cleanup_expired_analysis", "tasks.maintenance.sweep_stale_tasks",
            "tasks.maintenance.cleanup_expired_progress", "tasks.maintenance.collect_system_metrics"]


def test_internal_tasks_are_refused_over_http_and_flagged_in_the_task_list(
    client: TestClient, tokens: Authenticator, service: dict[str, str], progress_redis: redis.Redis
) -> None:
    listed = {t["name"]: t for t in client.get("/api/tasks", headers=service).json()}
    for name in INTERNAL:
        # Listed as not enqueueable, with the reason
        assert listed[name]["enqueueable"] is False and listed[name]["internal"], name
        # And refused to a user and to the service token alike, saying why
        for headers in (bearer(tokens.issue("alice")), service):
            res = client.post(f"/api/tasks/{name}", headers=headers, json={})
            assert res.status_code == 403 and "internal" in res.json()["detail"], (name, res.text)
    assert written_keys(progress_redis) == set()
    # While the user-facing tasks stay enqueueable, their owned fields marked in the schema
    assert listed[FETCH]["enqueueable"] is True and listed[FETCH]["internal"] is None
    owned = listed[BATCH]["arguments"]["properties"]["user_ids"]["items"]
    assert owned["x-owned"] == "user"


# --- tokens that expire while a stream is open ------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_task_socket_and_a_notification_socket_close_with_4401_when_the_token_expires(
    client: TestClient, tokens: Authenticator, service: dict[str, str]
) -> None:
    tid = _task_of(client, service, "alice")
    for path in (f"/internal/ws/task/{tid}", "/ws/notifications/alice"):
        short = tokens.issue("alice", ttl_s=2)
        with client.websocket_connect(f"{path}?token={short}") as ws:
            if "task" in path:
                assert ws.receive_json()["task_id"] == tid  # the current state: the socket was open
            # When the token expires, Then the server closes the socket saying so
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:
                    ws.receive_json()
        assert (closed.value.code, closed.value.reason) == (4401, "token expired"), path


@pytest.mark.timeout(30)
def test_an_sse_stream_ends_with_a_token_expired_event_when_the_token_expires(
    client: TestClient, tokens: Authenticator, service: dict[str, str]
) -> None:
    tid = _task_of(client, service, "alice")
    short = tokens.issue("alice", ttl_s=2)
    with client.stream("GET", f"/internal/sse/task/{tid}", params={"token": short}) as res:
        assert res.status_code == 200
        lines = list(res.iter_lines())  # the task never ends: only the expiry ends this stream
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert events == ["progress_update", "token_expired"], lines
    assert lines[lines.index("event: token_expired") + 1] == 'data: {"detail":"token expired"}'


# --- repeated auth failures ---------------------------------------------------------------------------------------


def test_repeated_auth_failures_get_429_with_retry_after_shared_by_two_api_instances(
    make_client: Any, tokens: Authenticator
) -> None:
    # Given two API instances on the same Redis, with the default limit
    first, second = make_client(settings()), make_client(settings())
    limit = settings().auth_failures_max
    bad = bearer("not-a-token")
    # When one client fails to authenticate `limit` times, half on each instance
    for i in range(limit):
        res = (first if i % 2 else second).get("/notifications/alice", headers=bad)
        assert res.status_code == 401, (i, res.text)
    # Then its next attempt gets 429 with Retry-After on either instance, even with a good token
    for api, headers in ((first, bad), (second, bearer(tokens.issue("alice")))):
        res = api.get("/notifications/alice", headers=headers)
        assert res.status_code == 429, res.text
        assert 1 <= int(res.headers["retry-after"]) <= settings().auth_failures_window_s
        assert "too many failed authentications" in res.json()["detail"]
    # And its sockets are refused the same way
    with pytest.raises(WebSocketDenialResponse) as denied, \
            second.websocket_connect(f"/ws/notifications/alice?token={tokens.issue('alice')}"):
        pass
    assert denied.value.status_code == 429 and int(denied.value.headers["retry-after"]) >= 1
