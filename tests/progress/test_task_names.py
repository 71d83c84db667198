"""Records carry a short task type and the full task name; both filter, and records of older releases (whose type
is the full name) still match either form (issue 16, item 1)."""

from __future__ import annotations

import time

import pytest
import redis

from progress import ProgressStore

FULL = "tasks.market_data.fetch_data"


def test_a_record_carries_its_short_type_and_its_full_name(store: ProgressStore) -> None:
    created = store.create_task("fetch_data", 5, "7203.T", task_name=FULL)
    record = store.require(created.task_id)
    assert (created.task_type, created.task_name) == ("fetch_data", FULL)
    assert (record.task_type, record.task_name) == ("fetch_data", FULL)


def test_lists_filter_by_short_type_and_by_full_name(store: ProgressStore) -> None:
    fetch = store.create_task("fetch_data", task_name=FULL).task_id
    store.create_task("strategy_backtest", task_name="tasks.backtest.strategy_backtest")

    assert [t.task_id for t in store.get_tasks_list(task_type="fetch_data").tasks] == [fetch]
    assert [t.task_id for t in store.get_tasks_list(task_name=FULL).tasks] == [fetch]
    assert [t.task_id for t in store.get_tasks_list("created", task_name=FULL).tasks] == [fetch]
    assert store.get_tasks_list(task_name="tasks.backtest.monte_carlo_simulation").tasks == []


def test_records_whose_type_is_the_full_name_match_a_filter_by_either_form(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    old = store.create_task(FULL, 3, "7203.T").task_id  # as releases before task names wrote them
    # Another millisecond: within one, newest-first across buckets goes by id (README, "Sharding").
    time.sleep(0.002)
    new = store.create_task("fetch_data", 3, "7203.T", task_name=FULL).task_id

    by_type = store.get_tasks_list(task_type="fetch_data")
    by_type_and_symbol = store.get_tasks_list("created", "fetch_data", "7203.T")
    by_name = store.get_tasks_list(task_name=FULL)
    by_old_type = store.get_tasks_list(task_type=FULL)

    for page in (by_type, by_type_and_symbol, by_name, by_old_type):
        assert [t.task_id for t in page.tasks] == [new, old]
        assert page.pagination.total == 2
    assert store.require(old).task_type == FULL  # still readable as it was written


def test_a_name_cannot_be_combined_with_a_symbol_filter(store: ProgressStore) -> None:
    with pytest.raises(ValueError, match="task_name filters alone"):
        store.get_tasks_list(symbol="7203.T", task_name=FULL)
