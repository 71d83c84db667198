"""AsyncResult answers a running task's state from its progress record (tracking/result_backend.py), on real Redis.

No worker is needed: the record is written through the store as a worker would, and Celery's stored end through
the backend as a worker stores it; what is checked is what a client's AsyncResult reads in between and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.app.task import Context
from celery.backends.redis import RedisBackend
from celery.exceptions import TaskRevokedError

from base.settings import Settings
from progress import ProgressStore
from tests.helpers import commands_on
from tracking import TrackedCelery, install
from tracking.result_backend import ENDED_HERE, RecordReadingBackend, RecordReadingSentinelBackend, reads_record
from worker import app
from worker.config import celery_config
from worker.store import progress_store


@pytest.fixture
def store(progress_redis: redis.Redis) -> ProgressStore:
    """The project app's progress store, on a clean progress database."""
    return progress_store()


@pytest.fixture
def task_id() -> Iterator[str]:
    """A fresh task id whose Celery result is forgotten afterwards."""
    tid = str(uuid.uuid4())
    yield tid
    app.backend.forget(tid)


def _running(store: ProgressStore, tid: str, current: int, total: int) -> None:
    store.create_task("count", task_id=tid)
    store.apply(tid, {"status": "running", "message": "running"})
    store.update_progress(tid, current_items=current, total_items=total, message=f"item {current}")


def test_a_task_is_pending_until_its_record_runs_then_reads_progress_with_the_records_numbers(
    store: ProgressStore, task_id: str
) -> None:
    assert app.AsyncResult(task_id).state == "PENDING"  # no record
    store.create_task("count", task_id=task_id)
    assert app.AsyncResult(task_id).state == "PENDING"  # queued
    store.apply(task_id, {"status": "running", "message": "running"})
    store.update_progress(task_id, current_items=3, total_items=12, message="item 3")
    result = app.AsyncResult(task_id)

    assert str(result.state) == "PROGRESS" and not result.ready()
    assert result.info == {"current": 3, "total": 12, "percentage": 25.0, "status": "running",
                           "message": "item 3"}
    backend: Any = app.backend
    assert backend.client.get(backend.get_key_for_task(task_id)) is None


def test_a_paused_task_reads_progress_saying_paused(store: ProgressStore, task_id: str) -> None:
    _running(store, task_id, 5, 10)
    store.pause_task(task_id)
    info = app.AsyncResult(task_id).info
    assert info["status"] == "paused" and info["current"] == 5


def test_celerys_started_state_gives_way_to_the_records_progress(store: ProgressStore, task_id: str) -> None:
    app.backend.store_result(task_id, {"pid": 1}, "STARTED")
    _running(store, task_id, 7, 10)
    assert str(app.AsyncResult(task_id).state) == "PROGRESS" and app.AsyncResult(task_id).info["current"] == 7


def test_a_cancelled_record_reads_revoked_at_once_and_get_raises_task_revoked(
    store: ProgressStore, task_id: str
) -> None:
    _running(store, task_id, 2, 10)
    store.cancel_task(task_id)

    result = app.AsyncResult(task_id)
    assert str(result.state) == "REVOKED" and result.ready()
    with pytest.raises(TaskRevokedError):
        app.AsyncResult(task_id).get(timeout=5)


def test_a_stored_success_is_returned_as_celery_stored_it_whatever_the_record_says(
    store: ProgressStore, task_id: str
) -> None:
    _running(store, task_id, 9, 10)
    assert str(app.AsyncResult(task_id).state) == "PROGRESS"
    app.backend.mark_as_done(task_id, {"counted": 10})
    result = app.AsyncResult(task_id)
    assert result.state == "SUCCESS" and result.get(timeout=5) == {"counted": 10}


def test_a_stored_failure_is_returned_with_its_error(store: ProgressStore, task_id: str) -> None:
    _running(store, task_id, 4, 10)
    assert str(app.AsyncResult(task_id).state) == "PROGRESS"
    app.backend.mark_as_failure(task_id, RuntimeError("failed at item 4"))
    with pytest.raises(RuntimeError, match="failed at item 4"):
        app.AsyncResult(task_id).get(timeout=5)


def test_the_setting_chooses_the_record_reading_backend_or_the_mirror(redis_base: str) -> None:
    for choice, reads in (("record", True), ("mirror", False)):
        other = TrackedCelery(f"choice-{choice}", set_as_current=False)
        other.config_from_object(celery_config(Settings(REDIS_URL=f"{redis_base}/1", celery_progress=choice)))
        assert isinstance(other.backend, RecordReadingBackend) is reads, choice
        other.close()


def test_a_sentinel_result_location_gets_the_record_reading_sentinel_backend() -> None:
    other = TrackedCelery("sentinel-choice", set_as_current=False)
    other.config_from_object(celery_config(Settings(REDIS_URL="sentinel://127.0.0.1:1/1;sentinel://127.0.0.1:2/1",
                                                    sentinel_master="primary")))
    assert isinstance(other.backend, RecordReadingSentinelBackend)  # built without connecting
    other.close()


def test_a_foreign_app_installing_tracking_keeps_its_plain_backend(redis_base: str) -> None:
    foreign = Celery("foreign", broker=f"{redis_base}/3", backend=f"{redis_base}/3", set_as_current=False)
    install(foreign)
    assert isinstance(foreign.backend, RedisBackend) and not reads_record(foreign.backend)
    assert reads_record(app.backend)  # the project's app, by default
    foreign.close()


def test_a_store_marked_as_this_attempts_own_end_writes_without_reading_first(task_id: str) -> None:
    backend: Any = app.backend
    request = Context(id=task_id, **{ENDED_HERE: "SUCCESS"})
    with commands_on(backend.url, backend.get_key_for_task(task_id)) as seen:
        backend.store_result(task_id, {"counted": 3}, "SUCCESS", request=request)
    assert "GET" not in seen and any(c.startswith("SET") for c in seen), seen
    assert app.AsyncResult(task_id).get(timeout=5) == {"counted": 3}


def test_an_unmarked_store_reads_first_and_never_overwrites_a_stored_success(task_id: str) -> None:
    backend: Any = app.backend
    backend.mark_as_done(task_id, {"counted": 3})
    # Marked for another state than the one stored (a late failure of a lost copy): Celery's read stays.
    request = Context(id=task_id, **{ENDED_HERE: "SUCCESS"})
    with commands_on(backend.url, backend.get_key_for_task(task_id)) as seen:
        backend.mark_as_failure(task_id, RuntimeError("late copy"), request=request)
    assert seen[0] == "GET" and not any(c.startswith("SET") for c in seen), seen
    assert app.AsyncResult(task_id).get(timeout=5) == {"counted": 3}
