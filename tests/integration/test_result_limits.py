"""A task whose result cannot be stored (over the size limit, nested 100k deep, not JSON) ends its record `error`
with the reason, never stuck `running`, and Celery shows the failure. Runs the task body in this process with
Celery's eager `apply()`, which goes through ProgressTask.__call__ with a request id like a worker does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import BaseModel, ConfigDict

from progress import InvalidValue, TaskStatus
from progress.models import MAX_RESULTS_BYTES
from tracking.task import ProgressTask
from worker import app
from worker.store import progress_store

NAME = "tests.limits.hostile_result"


class ShapeArgs(BaseModel):
    """Arguments of the test task: which hostile result to return."""

    model_config = ConfigDict(extra="forbid")
    shape: str


def _hostile(shape: str) -> Any:
    if shape == "deep":
        value: Any = {}
        for _ in range(100_000):
            value = {"x": value}
        return value
    if shape == "big":
        return {"blob": "r" * MAX_RESULTS_BYTES}
    return {"when": {1, 2}}  # a set: not JSON


def _body(self: ProgressTask, shape: str) -> Any:
    """Reports some progress, then returns a result the store must refuse."""
    self.progress.update(3, total=3)
    return _hostile(shape)


@pytest.fixture
def hostile_result() -> Iterator[Any]:
    """The task, registered for this test only (other tests enumerate the app's tasks)."""
    task = app.task(base=ProgressTask, bind=True, name=NAME, args_model=ShapeArgs)(_body)
    yield task
    app.tasks.unregister(NAME)


@pytest.mark.parametrize("shape", ["deep", "big", "not-json"])
def test_a_result_the_store_refuses_ends_the_record_error_with_the_reason_and_celery_shows_failure(
    progress_redis: redis.Redis, hostile_result: Any, shape: str
) -> None:
    task_id = f"hostile-{uuid.uuid4()}"
    progress_store().create_task(NAME, task_id=task_id)

    outcome = hostile_result.apply(kwargs={"shape": shape}, task_id=task_id)

    assert outcome.failed() and isinstance(outcome.result, InvalidValue) and outcome.result.field == "results"
    rec = progress_store().require(task_id)
    assert rec.status is TaskStatus.ERROR and rec.results == {}
    assert rec.error_message is not None and rec.error_message.startswith(
        "the end could not be recorded as completed: results: ")
