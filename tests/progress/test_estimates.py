"""`estimated_completion` at creation from the durations of recent completed tasks of the type (issue 16, item 9)."""

from __future__ import annotations

from datetime import timedelta

import redis

from progress import ProgressStore, TaskStatus


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _run(store: ProgressStore, clock: Clock, task_type: str, seconds: float) -> None:
    tid = store.create_task(task_type).task_id
    clock.now += seconds
    store.update_progress(tid, TaskStatus.COMPLETED)


def test_without_history_the_estimate_is_null(redis_client: redis.Redis) -> None:
    store = ProgressStore(redis_client, clock=Clock(1_700_000_000.0))
    created = store.create_task("fetch_data")
    assert created.estimated_completion is None
    assert store.require(created.task_id).estimated_completion is None


def test_the_estimate_is_creation_plus_the_median_duration_of_recent_completed_tasks_of_the_type(
    redis_client: redis.Redis,
) -> None:
    clock = Clock(1_700_000_000.0)
    store = ProgressStore(redis_client, clock=clock)
    for seconds in (2.0, 30.0, 4.0):
        _run(store, clock, "fetch_data", seconds)
    _run(store, clock, "strategy_backtest", 600.0)  # another type: not part of fetch_data's sample
    failed = store.create_task("fetch_data").task_id
    clock.now += 900
    store.update_progress(failed, TaskStatus.ERROR, error_message="boom")  # only completions are sampled

    created = store.create_task("fetch_data")
    record = store.require(created.task_id)

    assert created.estimated_completion == created.created_at + timedelta(seconds=4)
    assert record.estimated_completion == created.estimated_completion


def test_the_sample_keeps_only_recent_durations(redis_client: redis.Redis) -> None:
    clock = Clock(1_700_000_000.0)
    store = ProgressStore(redis_client, clock=clock)
    for _ in range(25):
        _run(store, clock, "fetch_data", 100.0)
    for _ in range(20):
        _run(store, clock, "fetch_data", 1.0)

    created = store.create_task("fetch_data")

    assert created.estimated_completion == created.created_at + timedelta(seconds=1)
