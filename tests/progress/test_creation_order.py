"""Listing order is creation order, even for tasks created within one millisecond (issue 16, item 10)."""

from __future__ import annotations

import redis

from progress import ProgressStore, TaskStatus


def test_tasks_created_in_one_millisecond_list_newest_first_in_creation_order(redis_client: redis.Redis) -> None:
    # Every create sees the same clock reading: only the score's tie-breaker can order them, never the id.
    store = ProgressStore(redis_client, clock=lambda: 1_700_000_000.123)
    created = [store.create_task("fetch_data", 1, "7203.T").task_id for _ in range(60)]

    listed = [t.task_id for t in store.get_tasks_list(limit=100).tasks]
    filtered = [t.task_id for t in store.get_tasks_list("created", "fetch_data", "7203.T", limit=100).tasks]

    assert listed == created[::-1]
    assert filtered == created[::-1]


def test_creation_order_survives_status_changes_and_the_record_keeps_its_creation_ms(
    redis_client: redis.Redis,
) -> None:
    store = ProgressStore(redis_client, clock=lambda: 1_700_000_000.123)
    created = [store.create_task("backtest", 2).task_id for _ in range(10)]
    for tid in created[::2]:
        store.update_progress(tid, TaskStatus.RUNNING, 1)

    listed = [t.task_id for t in store.get_tasks_list(limit=20).tasks]
    running = [t.task_id for t in store.get_tasks_list(TaskStatus.RUNNING, limit=20).tasks]

    assert listed == created[::-1]
    assert running == created[::2][::-1]
    assert {int(store.require(t).created_at.timestamp() * 1000) for t in created} == {1_700_000_000_123}
