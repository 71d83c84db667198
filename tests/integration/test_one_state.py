"""One state through a real worker: AsyncResult reads a running task from its record, and Celery's result backend
is written once, at the end: never per progress write, and not at the start (the record says running).

Every write of Celery's Redis result backend also publishes the meta on the task's channel (the one `.get()`
listens on), so a subscriber opened before the publish sees each state Celery stored for the task.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery import chord
from celery.exceptions import TaskRevokedError
from celery.result import AsyncResult

from progress import ProgressStore, TaskStatus
from tests.helpers import commands_on, wait_until
from worker import app, load_tasks

load_tasks()
from tasks.maintenance.diagnostics import count, noop  # noqa: E402

pytestmark = pytest.mark.integration


@contextmanager
def stored_states(*task_ids: str) -> Iterator[dict[str, list[str]]]:
    """Collects, per task, every state Celery's result backend stores for it while the block runs (and until each
    stored a final state)."""
    backend: Any = app.backend
    pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(*(backend.get_key_for_task(t) for t in task_ids))
    seen: dict[str, list[str]] = {t: [] for t in task_ids}
    try:
        yield seen
        deadline = time.monotonic() + 30
        while not all(s and s[-1] in ("SUCCESS", "FAILURE", "REVOKED") for s in seen.values()):
            assert time.monotonic() < deadline, f"no final state stored within 30 s: {seen}"
            message = pubsub.get_message(timeout=1)  # None also for the (ignored) subscribe confirmations
            if message is not None:
                meta = json.loads(message["data"])
                seen[meta["task_id"]].append(meta["status"])
    finally:
        pubsub.close()


def test_a_running_task_reads_progress_from_its_record_and_celery_stores_only_its_start_and_end(
    worker_store: ProgressStore,
) -> None:
    tid = str(uuid.uuid4())
    with stored_states(tid) as seen:
        res = count.apply_async(kwargs={"n": 60, "delay": 0.05}, task_id=tid)
        wait_until(lambda: (r := worker_store.get_task_status(tid)) is not None and r.progress.current > 5,
                   what="progress written")
        worker_store.pause_task(tid)  # the task waits at its next progress call: the record stands still
        wait_until(lambda: AsyncResult(tid, app=app).info.get("status") == "paused", what="PROGRESS saying paused")
        record = worker_store.require(tid)
        result: AsyncResult[Any] = AsyncResult(tid, app=app)
        assert str(result.state) == "PROGRESS" and not result.ready()
        assert result.info == {"current": record.progress.current, "total": 60,
                               "percentage": record.progress.percentage, "status": "paused",
                               "message": record.current_status}
        worker_store.resume_task(tid)
        assert res.get(timeout=30) == {"counted": 60, "symbol": None}

    assert seen[tid] == ["SUCCESS"]
    assert AsyncResult(tid, app=app).state == "SUCCESS"


def test_get_raises_the_tasks_error_and_celery_stored_no_progress_on_the_way(worker_store: ProgressStore) -> None:
    tid = str(uuid.uuid4())
    with stored_states(tid) as seen:
        res = count.apply_async(kwargs={"n": 40, "delay": 0.05, "fail_at": 30}, task_id=tid)
        with pytest.raises(RuntimeError, match="failed at item 30"):
            res.get(timeout=30)
    assert seen[tid] == ["FAILURE"]
    assert worker_store.require(tid).status is TaskStatus.ERROR


def test_a_cancel_reads_revoked_at_once_and_celery_stores_revoked_when_the_worker_stops(
    worker_store: ProgressStore,
) -> None:
    tid = str(uuid.uuid4())
    with stored_states(tid) as seen:
        count.apply_async(kwargs={"n": 400, "delay": 0.05}, task_id=tid)
        wait_until(lambda: str(AsyncResult(tid, app=app).state) == "PROGRESS", what="PROGRESS")
        worker_store.pause_task(tid)  # held at its next progress call, so only the record can say REVOKED now
        wait_until(lambda: worker_store.require(tid).status is TaskStatus.PAUSED, what="paused")
        worker_store.cancel_task(tid)

        assert str(AsyncResult(tid, app=app).state) == "REVOKED"
        with pytest.raises(TaskRevokedError):
            AsyncResult(tid, app=app).get(timeout=30)
    assert seen[tid] == ["REVOKED"]
    assert worker_store.require(tid).status is TaskStatus.CANCELLED


def test_a_chord_of_tracked_tasks_completes_with_no_progress_stored_for_its_children(
    worker_store: ProgressStore,
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(2)]
    with stored_states(*ids) as seen:
        header = [count.s(n=20, delay=0.05).set(task_id=i) for i in ids]
        result = chord(header)(noop.si())
        assert result.get(timeout=60) is None
        assert [AsyncResult(i, app=app).get(timeout=5) for i in ids] == [{"counted": 20, "symbol": None}] * 2
    assert seen == {i: ["SUCCESS"] for i in ids}


def test_a_tracked_task_stores_its_end_without_reading_celerys_state_first(worker_store: ProgressStore) -> None:
    backend: Any = app.backend
    tid = str(uuid.uuid4())
    with commands_on(backend.url, backend.get_key_for_task(tid)) as sent, stored_states(tid) as seen:
        count.apply_async(kwargs={"n": 3}, task_id=tid)
    assert seen[tid] == ["SUCCESS"]
    # Celery reads before it stores (so a lost copy never overwrites a SUCCESS); the record's end already fences that.
    assert "GET" not in sent and any(c.startswith("SET") for c in sent), sent


def test_a_bare_celery_task_still_reads_before_it_stores_its_end(celery_worker: Any) -> None:
    backend: Any = app.backend
    tid = str(uuid.uuid4())
    with commands_on(backend.url, backend.get_key_for_task(tid)) as sent, stored_states(tid) as seen:
        noop.apply_async(task_id=tid)
    assert seen[tid] == ["SUCCESS"]
    assert sent.index("GET") < min(i for i, c in enumerate(sent) if c.startswith("SET")), sent
