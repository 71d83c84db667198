"""The stored layout is checked at start, and `migrate-keys` moves layout-1 records into bucket hash tags."""

from __future__ import annotations

from typing import Any

import pytest

from progress import ProgressStore, StoreConfig, TaskStatus
from progress.layout import LayoutMismatch
from progress.migrate import migrate_v1
from tests.progress.conftest import Backend


def _as_layout_1(client: Any, store: ProgressStore) -> None:
    """Rewrites what `store` (one bucket) wrote into layout 1's names, as the previous release stored them."""
    tag = store.keys.tag(0)
    for key in list(client.scan_iter(match="{tr:*")):
        if key == store.keys.layout():
            client.delete(key)
            continue
        old = "tr" + key[len(tag):]
        client.rename(key, old)
        if old.startswith("tr:task:"):
            tid = old[len("tr:task:"):]
            sidx = client.hget(old, "sidx").replace(tag, "tr")
            client.hset(old, mapping={"sidx": sidx, "evk": f"tr:events:{tid}"})


def _listing(store: ProgressStore) -> list[dict[str, Any]]:
    # Without what a read derives from the clock (a running task's processing time, rate, ETA).
    clocked = {"processing_time_ms", "rate_per_second", "eta_seconds", "estimated_completion"}
    return [t.model_dump(exclude=clocked) for t in store.get_tasks_list(limit=10).tasks]


@pytest.fixture
def single(backend: Backend) -> None:
    if backend.cluster:
        pytest.skip("layout 1 was only ever written to one server (its keys span slots)")


def test_a_fresh_store_records_its_layout_and_another_bucket_count_is_refused(
    store: ProgressStore, redis_client: Any, backend: Backend
) -> None:
    store.check_layout()
    assert redis_client.get(store.keys.layout()) == f"2 {backend.buckets}"
    other = ProgressStore(redis_client, config=StoreConfig(buckets=backend.buckets + 1))
    with pytest.raises(LayoutMismatch, match="TASKRUNNER_PROGRESS_BUCKETS"):
        other.check_layout()


def test_layout_1_records_are_refused_at_start_then_migrated_with_their_history(
    single: None, redis_client: Any
) -> None:
    old = ProgressStore(redis_client)
    old.create_task("fetch_data", 4, symbol="7203.T", task_id="done", task_name="tasks.market_data.fetch_data")
    old.update_progress("done", "running", 2)
    old.update_progress("done", "completed", 4, message="finished")
    old.create_task("backtest", 10, task_id="busy")
    old.update_progress("busy", "running", 3)
    old.create_task("fetch_data", 1, symbol="6758.T", task_id="queued")
    before = _listing(old)
    history = [e.id for e in old.watch("done", after="0-0")]
    _as_layout_1(redis_client, old)

    new = ProgressStore(redis_client, config=StoreConfig(buckets=4))
    with pytest.raises(LayoutMismatch, match="migrate-keys"):
        new.check_layout()
    report = migrate_v1(new)

    assert report.records == 3 and report.events == 6
    new.check_layout()
    assert not list(redis_client.scan_iter(match="tr:*"))  # nothing of layout 1 is left
    assert _listing(new) == before
    assert new.summary()["running"] == 1 and new.summary()["completed"] == 1 and new.summary()["created"] == 1
    assert [e.id for e in new.watch("done", after="0-0")] == history  # resumable by the same ids
    assert [t.task_id for t in new.get_tasks_list(symbol="7203.T").tasks] == ["done"]
    assert new.update_progress("busy", "completed").status is TaskStatus.COMPLETED  # its indexes moved
    assert new.get_tasks_list(status="running").tasks == []
    assert new.delete_task("queued") and new.summary()["created"] == 0
