"""Argument defaults come from each task's one argument model, the same whether a task is called from Python or
enqueued over HTTP (issue 16, item 3): for every task with an args model, both paths publish the same arguments,
defaults filled in, and the task's function accepts them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from celery.result import AsyncResult

from tests.api.conftest import settings
from tests.security.test_task_args_fuzz import VALID
from tracking.ownership import internal_reason
from tracking.task import ProgressTask
from worker import app, load_tasks

load_tasks()
# Internal tasks (chord callbacks, Beat jobs) are refused over HTTP (tests/api/test_cross_user.py), so only the
# enqueueable ones have an HTTP path to compare with Python's.
TASKS = sorted((t for t in app.tasks.values() if isinstance(t, ProgressTask) and t.args_model is not None
                and t.name.startswith("tasks.") and internal_reason(t) is None), key=lambda t: t.name)


class Published:
    """Stands in for the broker: records what each publish would send."""

    def __init__(self) -> None:
        self.kwargs: list[dict[str, Any]] = []

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult:
        assert not args, f"{name} published positional arguments {args!r}"
        self.kwargs.append(dict(kwargs or {}))
        return AsyncResult(options.get("task_id") or "published", app=app)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    """Every publish of the Celery app captured (after Celery's own checks of the call), nothing sent."""
    rec = Published()
    monkeypatch.setattr(app, "send_task", rec.send_task)
    return rec


def test_the_realtime_notification_of_the_readme_works_from_python_with_its_default_type(published: Published) -> None:
    from tasks.notifications.tasks import send_realtime_notification

    send_realtime_notification.delay(user_id="alice", title="Hello", message="from Python")

    assert published.kwargs[0]["type"] == "info"


@pytest.mark.parametrize("task", TASKS, ids=[t.name for t in TASKS])
def test_python_and_http_publish_the_same_arguments_with_the_models_defaults(
    task: ProgressTask, published: Published, make_client: Callable[..., Any], service: dict[str, str]
) -> None:
    given = VALID.get(task.name, {})  # a task with required arguments must have known-good ones there
    assert task.args_model is not None
    expected = task.args_model.model_validate(given).model_dump(mode="json")

    task.delay(**given)
    res = make_client(settings()).post(f"/api/tasks/{task.name}", headers=service, json=given)

    assert res.status_code == 202, res.text
    python, http = published.kwargs
    assert python == http == expected
    inspect.signature(task.run).bind(**python)  # the function takes every argument its model has
