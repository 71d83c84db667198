"""The operators' HTTP endpoints: /metrics against the summary, liveness and readiness, a user's own task list,
retry under the ownership rules, bulk actions with a dry run first, the detail and the log."""

from __future__ import annotations

from collections.abc import Callable

import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.auth import Authenticator
from api.settings import ApiSettings
from base.settings import Settings
from progress import ProgressStore
from progress.tasklog import TaskLog
from taskrunner.redis_server import free_port
from tests.api.conftest import SERVICE_TOKEN, bearer

SERVICE = bearer(SERVICE_TOKEN)


def _store(progress_redis: redis.Redis) -> ProgressStore:
    return ProgressStore(progress_redis)


def _owned(store: ProgressStore, user: str) -> str:
    """A queued count task of `user`, recorded as the enqueue path records it (owner and arguments in metadata).
    No message is sent: the session's worker, when running, must not move it along under the test."""
    metadata = {"queue": "ai_analysis", "requested_via": "api", "args": {"n": 3}, "user_id": user}
    return store.create_task("count", task_name="tasks.diagnostics.count", metadata=metadata).task_id


def test_metrics_parse_as_prometheus_text_and_their_task_counts_equal_the_summary(
    client: TestClient, progress_redis: redis.Redis,
) -> None:
    store = _store(progress_redis)
    for i in range(7):
        tid = store.create_task("fetch_data" if i % 2 else "backtest", 10).task_id
        if i < 3:
            store.update_progress(tid, "running")
            store.update_progress(tid, "completed" if i else "error")
    store.update_progress(tid, "running", 5)

    assert client.get("/metrics").status_code == 401
    res = client.get("/metrics", headers=SERVICE)

    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(res.text)}
    summary = client.get("/internal/tasks", headers=SERVICE).json()["summary"]
    by_status = {s.labels["status"]: s.value for s in families["taskrunner_tasks"].samples}
    assert by_status == summary and sum(summary.values()) == 7
    per_type: dict[str, float] = {}
    for s in families["taskrunner_tasks_by_type"].samples:
        per_type[s.labels["status"]] = per_type.get(s.labels["status"], 0) + s.value
    assert per_type == summary
    durations = [s for s in families["taskrunner_task_duration_seconds"].samples
                 if s.name.endswith("_count") and s.labels["status"] == "completed"]
    assert sum(s.value for s in durations) == summary["completed"] == 2
    assert [s.value for s in families["taskrunner_redis_up"].samples] == [1]
    written = families["taskrunner_updates_written"].samples[0].value
    assert written == 7  # 3 starts, 3 ends, then one start with progress
    assert {s.labels["queue"] for s in families["taskrunner_queue_depth"].samples} == {
        "notifications", "market_data", "ai_analysis", "backtest"}
    assert families["taskrunner_redis_memory_used_bytes"].samples[0].value > 0


def test_liveness_stays_up_while_redis_is_down_and_readiness_says_not_ready(
    make_client: Callable[..., TestClient], api_settings: ApiSettings, client: TestClient,
) -> None:
    down = make_client(api_settings, core=Settings(progress_url=f"redis://127.0.0.1:{free_port()}/0"))

    assert down.get("/livez").status_code == 200
    ready = down.get("/readyz")
    assert ready.status_code == 503 and "redis" in ready.json()["reason"]
    assert client.get("/readyz").json() == {"status": "ready"}


def test_a_user_token_lists_only_that_users_tasks(
    client: TestClient, tokens: Authenticator, progress_redis: redis.Redis,
) -> None:
    store = _store(progress_redis)
    alice, bob = bearer(tokens.issue("alice")), bearer(tokens.issue("bob"))
    mine = {_owned(store, "alice") for _ in range(3)}
    _owned(store, "bob")
    store.create_task("count")  # nobody's

    listed = client.get("/internal/tasks/search", headers=alice).json()

    assert {t["task_id"] for t in listed["tasks"]} == mine and listed["counts"]["created"] == 3
    assert client.get("/internal/tasks/search?user=bob", headers=alice).status_code == 403
    assert client.get("/internal/tasks/search", headers=bob).json()["pagination"]["total"] == 1
    everyone = client.get("/internal/tasks/search", headers=SERVICE).json()
    assert everyone["pagination"]["total"] == 5
    assert client.get("/internal/tasks/search?user=bob", headers=SERVICE).json()["pagination"]["total"] == 1
    bad = client.get("/internal/tasks/search?created_from=2026-01-02T00:00:00Z&created_to=2026-01-01T00:00:00Z",
                     headers=SERVICE)
    assert bad.status_code == 422 and "created_from" in bad.json()["detail"]


def test_retry_over_http_keeps_to_the_ownership_rules_and_links_both_records(
    client: TestClient, tokens: Authenticator, progress_redis: redis.Redis,
) -> None:
    store = _store(progress_redis)
    alice, bob = bearer(tokens.issue("alice")), bearer(tokens.issue("bob"))
    failed = _owned(store, "alice")
    store.update_progress(failed, "error", error_message="boom")

    assert client.post(f"/internal/task/{failed}/retry", headers=bob).status_code == 403
    res = client.post(f"/internal/task/{failed}/retry", headers=alice)

    assert res.status_code == 202, res.text
    retry = res.json()["task_id"]
    detail = client.get(f"/internal/task/{retry}/detail", headers=alice).json()
    assert detail["retry_of"] == failed and detail["owner"] == "alice" and detail["arguments"]["n"] == 3
    assert client.get(f"/internal/task/{failed}/detail", headers=alice).json()["retried_as"] == retry
    # A running task, a task whose arguments were never recorded, and an internal one are refused with the reason
    running = _owned(store, "alice")
    store.update_progress(running, "running")
    assert client.post(f"/internal/task/{running}/retry", headers=alice).status_code == 409
    bare = store.create_task("count", task_name="tasks.diagnostics.count", metadata={"user_id": "alice"}).task_id
    store.update_progress(bare, "cancelled")
    refused = client.post(f"/internal/task/{bare}/retry", headers=alice)
    assert refused.status_code == 409 and "arguments are not available" in refused.json()["detail"]
    internal = store.create_task("finish_batch", task_name="tasks.market_data.finish_batch",
                                 metadata={"args": {"parent_task_id": "p", "symbols": []}}).task_id
    store.update_progress(internal, "error")
    assert client.post(f"/internal/task/{internal}/retry", headers=SERVICE).status_code == 403


def test_a_bulk_cancel_counts_first_then_cancels_only_the_matching_tasks(
    client: TestClient, tokens: Authenticator, progress_redis: redis.Redis,
) -> None:
    store = _store(progress_redis)
    targets = [store.create_task("backtest", symbol="7203.T").task_id for _ in range(4)]
    others = [store.create_task("backtest", symbol="6758.T").task_id, store.create_task("fetch_data").task_id]
    body = {"action": "cancel", "filter": {"task_type": "backtest", "symbol": "7203.T"}}

    dry = client.post("/internal/tasks/bulk", json=body, headers=SERVICE).json()
    assert dry["dry_run"] and dry["matched"] == 4 and dry["done"] == 0
    assert all(store.require(t).status.value == "created" for t in targets)

    done = client.post("/internal/tasks/bulk", json={**body, "dry_run": False}, headers=SERVICE).json()

    assert done["done"] == 4 and sorted(done["task_ids"]) == sorted(targets) and not done["failed"]
    assert [store.require(t).status.value for t in targets] == ["cancelled"] * 4
    assert [store.require(t).status.value for t in others] == ["created"] * 2
    deleted = client.post("/internal/tasks/bulk", json={"action": "delete", "filter": {"status": "cancelled"},
                                                        "dry_run": False}, headers=SERVICE).json()
    assert deleted["done"] == 4 and all(store.get_task_status(t) is None for t in targets)
    # A user's bulk action reaches only that user's tasks
    alice = bearer(tokens.issue("alice"))
    assert client.post("/internal/tasks/bulk", json={"action": "cancel"}, headers=alice).json()["matched"] == 0
    bad = client.post("/internal/tasks/bulk", json={"action": "explode"}, headers=SERVICE)
    assert bad.status_code == 422


def test_the_detail_and_log_of_a_task_reach_its_owner_only(
    client: TestClient, tokens: Authenticator, progress_redis: redis.Redis,
) -> None:
    store = _store(progress_redis)
    alice, bob = bearer(tokens.issue("alice")), bearer(tokens.issue("bob"))
    tid = _owned(store, "alice")
    log = TaskLog(store.redis, store.keys)
    first = log.append(tid, "INFO", "one")
    log.append(tid, "WARNING", "two token=abc")
    store.update_progress(tid, "completed")

    assert client.get(f"/internal/task/{tid}/detail", headers=bob).status_code == 403
    assert client.get(f"/internal/task/{tid}/logs", headers=bob).status_code == 403
    lines = client.get(f"/internal/task/{tid}/logs?after={first}", headers=alice).json()["lines"]
    assert [(x["level"], x["message"]) for x in lines] == [("WARNING", "two token=***")]
    with client.stream("GET", f"/internal/sse/task/{tid}/logs", headers=alice) as sse:
        text = "".join(sse.iter_text())
    assert text.count("event: log") == 2 and text.rstrip().endswith('data: {"task_id":"' + tid + '"}')
